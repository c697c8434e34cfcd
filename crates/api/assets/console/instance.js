// smmflow console: an instance with its diagram and log (#/instance/<id>).
"use strict";


let mermaidLoaded = null;
function loadMermaid() {
  if (!mermaidLoaded) {
    mermaidLoaded = new Promise((resolve, reject) => {
      const s = h("script", { src: "/app/assets/mermaid-11.17.2.min.js" });
      s.onload = () => {
        window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
        resolve(window.mermaid);
      };
      s.onerror = () => { mermaidLoaded = null; reject(new Error("the diagram library did not load")); };
      document.head.append(s);
    });
  }
  return mermaidLoaded;
}

let diagrams = 0;
async function diagram(text, label) {
  const box = h("figure", { class: "diagram", "aria-label": label }, h("p", { class: "meta" }, "Drawing the diagram…"));
  loadMermaid()
    .then((m) => m.render(`diagram-${++diagrams}`, text))
    .then(({ svg }) => {
      // Mermaid's own output (strict mode sanitises labels), from the server's text.
      box.innerHTML = svg;
      box.setAttribute("data-rendered", "1");
    })
    .catch((e) => box.replaceChildren(h("p", { class: "notice error" }, `The diagram could not be drawn: ${e.message}`), h("pre", {}, text)));
  return box;
}

const INSTANCE = `query($id: ID!) { viewer { login name } instance(id: $id) {
  id status startedAt completedAt startedBy { login } mermaid
  workflow { key name version } workspace { key name }
  steps { id type status }
  tasks { id title status assignee { login } step { id } }
  events { seq kind at actor { login } } } }`;

async function instancePage(id) {
  const d = await gql(INSTANCE, { id });
  showViewer(d.viewer);
  const i = d.instance;
  if (!i) return render(h("h1", {}, "Not found"), h("p", {}, "This instance does not exist, or it is not yours to see."), h("a", { href: "#/" }, "Back to my work"));
  render(
    h("p", {}, h("a", { href: "#/" }, "← My work")),
    h("h1", {}, `${i.workflow.name} · ${i.workspace.name}`),
    h("p", { class: "meta" }, `${i.status.toLowerCase()} · started ${when(i.startedAt)}`, i.startedBy ? ` by ${i.startedBy.login}` : "",
      i.completedAt ? ` · ended ${when(i.completedAt)}` : "", ` · version ${i.workflow.version}`),
    await diagram(i.mermaid, `The steps of ${i.workflow.name}, coloured by status`),
    h("p", { class: "meta legend" }, "Green: done · blue: ready · grey: skipped · red: failed"),
    h("h2", {}, "Steps"),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Step"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Status"))),
      h("tbody", {}, i.steps.map((s) => h("tr", { "data-step": s.id }, h("td", {}, s.id), h("td", {}, s.type.toLowerCase()), h("td", {}, s.status.toLowerCase()))))),
    h("h2", {}, "Tasks"),
    h("ul", { class: "tasks" }, i.tasks.map((t) => h("li", {}, h("a", { href: `#/task/${encodeURIComponent(t.id)}` }, t.title),
      h("div", { class: "meta" }, `${t.step.id} · ${t.status.toLowerCase()}`, t.assignee ? ` · ${t.assignee.login}` : "")))),
    h("h2", {}, "What happened"),
    h("ol", { class: "log" }, i.events.map((e) => h("li", { "data-kind": e.kind },
      h("span", { class: "meta" }, when(e.at)), " ", e.kind, e.actor ? ` · ${e.actor.login}` : ""))));
}


// ---- the deployed workflows (#/workflows) and one of them (#/workflow/<key>?v=N) ----

async function workflowsPage() {
  const d = await gql("{ viewer { login name } workflows { key name version description roles { name } steps { id } } }");
  showViewer(d.viewer);
  render(
    h("h1", {}, "Workflows"),
    d.workflows.length ? table(["Workflow", "Version", "Roles", "Steps", "What it is for"],
      d.workflows.map((w) => [h("a", { href: `#/workflow/${encodeURIComponent(w.key)}` }, w.name), String(w.version),
        w.roles.map((r) => r.name).join(", "), String(w.steps.length), w.description || ""]))
      : h("p", { class: "notice" }, "No workflow is deployed yet (smmflow deploy workflows/)."));
}

const WORKFLOW = `query($k: String!, $v: Int) { viewer { login name } workflow(key: $k, version: $v) {
  key name version description mermaid inputs
  roles { name description party } steps { id type title role after } } }`;

async function workflowPage(key, params) {
  const version = /^\d+$/.test(params.get("v") || "") ? Number(params.get("v")) : null;
  const d = await gql(WORKFLOW, { k: key, v: version });
  showViewer(d.viewer);
  const w = d.workflow;
  if (!w) return render(h("h1", {}, "Not found"), h("p", {}, "No such workflow or version."), h("a", { href: "#/workflows" }, "Back to workflows"));
  const versions = [];
  for (let v = w.version - 1; v >= 1 && versions.length < 10; v--) versions.push(h("a", { href: `#/workflow/${encodeURIComponent(w.key)}?v=${v}` }, `version ${v}`), " ");
  render(
    h("p", {}, h("a", { href: "#/workflows" }, "← Workflows")),
    h("h1", {}, w.name),
    h("p", { class: "meta" }, `${w.key} · version ${w.version}`, versions.length ? [" · earlier: ", versions] : ""),
    w.description ? h("p", {}, w.description) : null,
    await diagram(w.mermaid, `The steps of ${w.name}`),
    h("h2", {}, "Roles"),
    table(["Role", "Side", "Does"], w.roles.map((r) => [r.name, r.party, r.description])),
    h("h2", {}, "Steps"),
    table(["Step", "Type", "Title", "Role", "After"], w.steps.map((s) => [s.id, s.type.toLowerCase().replace("_", " "), s.title, s.role || "—", s.after.join(", ") || "—"])),
    Object.keys(w.inputs || {}).length ? [h("h2", {}, "What it starts with"),
      table(["Input", "Type", "Required"], Object.entries(w.inputs).map(([n, s]) => [s.label || humanize(n), s.type, s.required ? "yes" : "no"]))] : null);
}
