// smmflow console: a client of the public GraphQL API (POST /graphql, and
// graphql-transport-ws on /graphql/ws for live updates), signed in by the
// session cookie; every request carries the x-smmflow-csrf header the server
// asks of cookie requests. Plain JavaScript, no build step, no network but
// this server. Pages: sign-in, "My work" (#/), a task (#/task/<id>), the
// content calendar (#/calendar?view=week|month&start=YYYY-MM-DD&ws=&channel=),
// an instance with its diagram and log (#/instance/<id>), the load board and
// the period's figures (#/board?days=7|30|90&ws=).
"use strict";

const view = () => document.getElementById("view");
const CSRF = { "x-smmflow-csrf": "1" };

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function say(text) {
  document.getElementById("status").textContent = text;
}

class GqlError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

async function gql(query, variables) {
  const r = await fetch("/graphql", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", ...CSRF },
    body: JSON.stringify({ query, variables: variables || {} }),
  });
  const body = await r.json().catch(() => ({ errors: [{ message: `HTTP ${r.status}` }] }));
  if (body.errors && body.errors.length) {
    const e = body.errors[0];
    throw new GqlError(e.message, e.extensions && e.extensions.code);
  }
  return body.data;
}

// Live updates: one graphql-transport-ws subscription, reconnecting.
let live = null;
function subscribe(query, onEvent) {
  if (live) live.stop();
  let stopped = false;
  let socket = null;
  const open = () => {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql/ws";
    socket = new WebSocket(url, "graphql-transport-ws");
    socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: {} }));
    socket.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === "connection_ack") socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query } }));
      else if (msg.type === "next") onEvent(msg.payload);
      else if (msg.type === "ping") socket.send(JSON.stringify({ type: "pong" }));
    };
    socket.onclose = () => { if (!stopped) setTimeout(open, 3000); };
  };
  open();
  live = { stop() { stopped = true; if (socket) socket.close(); } };
}

// Markdown, safely: text is escaped by building DOM nodes; only paragraphs,
// lists, **bold**, *emphasis*, `code` and http(s) links are made.
function markdown(src) {
  const out = document.createDocumentFragment();
  const inline = (text) => {
    const frag = document.createDocumentFragment();
    const re = /\*\*([^*]+)\*\*|\*([^*]+)\*|`([^`]+)`|\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g;
    let last = 0;
    let m;
    while ((m = re.exec(text))) {
      frag.append(text.slice(last, m.index));
      if (m[1]) frag.append(h("strong", {}, m[1]));
      else if (m[2]) frag.append(h("em", {}, m[2]));
      else if (m[3]) frag.append(h("code", {}, m[3]));
      else frag.append(h("a", { href: m[5], rel: "noopener noreferrer", target: "_blank" }, m[4]));
      last = re.lastIndex;
    }
    frag.append(text.slice(last));
    return frag;
  };
  for (const block of String(src || "").split(/\n\s*\n/)) {
    const lines = block.split("\n").filter((l) => l.trim());
    if (!lines.length) continue;
    if (lines.every((l) => /^\s*[-*] /.test(l))) {
      out.append(h("ul", {}, lines.map((l) => h("li", {}, inline(l.replace(/^\s*[-*] /, ""))))));
    } else {
      out.append(h("p", {}, inline(lines.join(" "))));
    }
  }
  return out;
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

// Replaces the page's content (nested lists flattened, empty parts left out).
function render(...nodes) {
  put(nodes);
  view().focus();
}

function put(nodes) {
  view().replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false && n !== ""));
}

// ---- sign-in ----

function signInPage(message) {
  document.getElementById("nav").hidden = true;
  const email = h("input", { type: "email", id: "email", name: "email", autocomplete: "email", required: true });
  const note = h("div", { role: "alert" });
  const form = h("form", {
    onsubmit: async (e) => {
      e.preventDefault();
      note.replaceChildren();
      try {
        const d = await gql("mutation($e: String!) { requestSignInLink(input: {email: $e}) { sent userErrors { message } } }", { e: email.value });
        const p = d.requestSignInLink;
        if (p.userErrors.length) note.replaceChildren(h("p", { class: "notice error" }, p.userErrors[0].message));
        else note.replaceChildren(h("p", { class: "notice ok" }, `If ${email.value} has an account, a sign-in link is on its way. It works once, for 15 minutes.`));
      } catch (err) {
        note.replaceChildren(h("p", { class: "notice error" }, err.message));
      }
    },
  },
  h("label", { for: "email" }, "Your work e-mail"),
  email,
  h("div", { class: "actions" }, h("button", { type: "submit" }, "Send me a sign-in link")));
  render(h("h1", {}, "Sign in"), message ? h("p", { class: "notice" }, message) : null, form, note);
}

// ---- my work ----

const INBOX = `query { viewer { login name }
  tasks(filter: {mine: true, status: [OPEN, CLAIMED]}, first: 100) { totalCount nodes {
    id title status dueAt overdue isApproval priority round assignee { login }
    instance { workspace { key name } workflow { key name } } } } }`;

function group(tasks) {
  const now = new Date();
  const endOfDay = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  const groups = [["Overdue", []], ["Due today", []], ["Due later", []], ["No due time", []]];
  for (const t of tasks) {
    if (t.overdue) groups[0][1].push(t);
    else if (!t.dueAt) groups[3][1].push(t);
    else if (new Date(t.dueAt) < endOfDay) groups[1][1].push(t);
    else groups[2][1].push(t);
  }
  for (const [, list] of groups) list.sort((a, b) => (a.dueAt || "~").localeCompare(b.dueAt || "~"));
  return groups.filter(([, list]) => list.length);
}

function taskItem(t) {
  return h("li", { "data-task": t.id },
    h("a", { href: `#/task/${encodeURIComponent(t.id)}` }, t.title),
    t.isApproval ? h("span", { class: "badge" }, "approval") : null,
    t.priority !== "NORMAL" ? h("span", { class: "badge" }, t.priority.toLowerCase()) : null,
    h("div", { class: "meta" },
      `${t.instance.workspace.name} · ${t.instance.workflow.name}`,
      t.dueAt ? h("span", { class: t.overdue ? "overdue" : null }, ` · due ${when(t.dueAt)}`) : null,
      t.status === "CLAIMED" ? ` · taken by ${t.assignee ? t.assignee.login : "someone"}` : " · open"));
}

function inboxNodes(d) {
  const groups = group(d.tasks.nodes);
  return [
    h("h1", {}, "My work"),
    h("p", { class: "meta" }, `${d.tasks.totalCount} open task${d.tasks.totalCount === 1 ? "" : "s"} for you`),
    groups.length ? groups.map(([name, list]) => [h("h2", {}, `${name} (${list.length})`), h("ul", { class: "tasks" }, list.map(taskItem))])
      : h("p", { class: "notice" }, "Nothing waits for you."),
  ];
}

async function inboxPage() {
  const d = await gql(INBOX);
  showViewer(d.viewer);
  render(inboxNodes(d));
  let pending = null;
  subscribe("subscription { taskEvents { kind task { id } } }", () => {
    clearTimeout(pending);
    pending = setTimeout(() => { if (route().page === "inbox") refreshInbox(); }, 300);
  });
}

async function refreshInbox() {
  try {
    const d = await gql(INBOX);
    put(inboxNodes(d));
    say("My work was updated");
  } catch (e) {
    say(e.message);
  }
}

// ---- one task ----

const TASK = `query($id: ID!) { viewer { login name } task(id: $id) {
  id title instructions status isApproval round dueAt overdue form output
  assignee { login } comments { body author { login } createdAt }
  instance { id workspace { key name } workflow { key name } } } }`;

function inputFor(name, spec, value) {
  const id = `f-${name}`;
  const common = { id, name, "data-path": name, "aria-describedby": `${id}-help ${id}-error` };
  const type = spec.type || "string";
  let input;
  if (type === "text") input = h("textarea", common);
  else if (type === "boolean") input = h("input", { ...common, type: "checkbox" });
  else if (type === "enum") input = h("select", common, h("option", { value: "" }, "—"), (spec.values || []).map((v) => h("option", { value: v }, v)));
  else if (type === "integer" || type === "number") input = h("input", { ...common, type: "number", step: type === "integer" ? "1" : "any", min: spec.min, max: spec.max });
  else if (type === "date") input = h("input", { ...common, type: "date" });
  else if (type === "url" || type === "email") input = h("input", { ...common, type });
  else if (type === "list" || type === "object") input = h("textarea", { ...common, "data-json": "1", placeholder: type === "list" ? "[ ... ] (JSON)" : "{ ... } (JSON)" });
  else input = h("input", { ...common, type: "text", maxlength: spec.max_length });
  const initial = value !== undefined ? value : spec.default;
  if (initial !== undefined && initial !== null) {
    if (type === "boolean") input.checked = !!initial;
    else if (input.dataset.json) input.value = JSON.stringify(initial, null, 2);
    else input.value = initial;
  }
  if (spec.required && type !== "boolean") input.required = true;
  return h("div", { class: "field" },
    h("label", { for: id }, spec.label || name.replace(/_/g, " "), spec.required ? " *" : ""),
    spec.help ? h("p", { class: "help", id: `${id}-help` }, spec.help) : null,
    input,
    h("p", { class: "field-error", id: `${id}-error` }));
}

function readForm(form, spec) {
  const out = {};
  for (const [name, f] of Object.entries(spec || {})) {
    const el = form.querySelector(`[data-path="${CSS.escape(name)}"]`);
    if (!el) continue;
    const type = f.type || "string";
    if (type === "boolean") out[name] = el.checked;
    else if (el.value === "") continue;
    else if (type === "integer") out[name] = Number.parseInt(el.value, 10);
    else if (type === "number") out[name] = Number(el.value);
    else if (el.dataset.json) {
      try { out[name] = JSON.parse(el.value); } catch { out[name] = el.value; }
    } else out[name] = el.value;
  }
  return out;
}

function showErrors(form, errors) {
  form.querySelectorAll(".field-error").forEach((p) => { p.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  const general = [];
  let first = null;
  for (const e of errors) {
    const path = (e.field || []).filter((p) => p !== "input" && p !== "output");
    const el = path.length ? form.querySelector(`[data-path="${CSS.escape(path[0])}"]`) : null;
    if (el) {
      el.setAttribute("aria-invalid", "true");
      const p = form.querySelector(`#${CSS.escape(el.id)}-error`);
      p.textContent = (p.textContent ? p.textContent + " " : "") + (path.length > 1 ? `${path.slice(1).join(".")}: ` : "") + e.message;
      first = first || el;
    } else general.push(e.message);
  }
  const note = form.querySelector(".form-note");
  note.replaceChildren(...general.map((m) => h("p", { class: "notice error" }, m)));
  if (first) first.focus();
  say(`${errors.length} problem${errors.length === 1 ? "" : "s"} to fix`);
}

async function act(mutation, variables, form, done) {
  try {
    const d = await gql(mutation, variables);
    const payload = Object.values(d)[0];
    if (payload.userErrors && payload.userErrors.length) return showErrors(form, payload.userErrors);
    say(done);
    location.hash = "#/";
  } catch (e) {
    showErrors(form, [{ field: [], message: e.message }]);
  }
}

async function taskPage(id) {
  const d = await gql(TASK, { id });
  showViewer(d.viewer);
  const t = d.task;
  if (!t) return render(h("h1", {}, "Not found"), h("p", {}, "This task does not exist, or it is not yours to see."), h("a", { href: "#/" }, "Back to my work"));
  const waiting = t.status === "OPEN" || t.status === "CLAIMED";
  const mine = t.assignee && t.assignee.login === d.viewer.login;
  const form = h("form", { novalidate: true, onsubmit: (e) => e.preventDefault() }, h("div", { class: "form-note", role: "alert" }));
  if (waiting && t.isApproval) {
    form.append(inputFor("comment", { type: "text", label: "Comment (needed to reject)" }));
    form.append(h("div", { class: "actions" },
      h("button", { type: "button", id: "approve", onclick: () => act("mutation($t: ID!, $c: String) { approveTask(input: {taskId: $t, comment: $c}) { userErrors { field message } } }", { t: t.id, c: form.querySelector("#f-comment").value || null }, form, "Approved") }, "Approve"),
      h("button", { type: "button", id: "reject", class: "danger", onclick: () => act("mutation($t: ID!, $c: String!) { rejectTask(input: {taskId: $t, comment: $c}) { userErrors { field message } } }", { t: t.id, c: form.querySelector("#f-comment").value }, form, "Rejected") }, "Reject")));
  } else if (waiting) {
    for (const [name, spec] of Object.entries(t.form || {})) form.append(inputFor(name, spec, undefined));
    form.append(h("div", { class: "actions" },
      h("button", { type: "submit", id: "complete", onclick: () => act("mutation($t: ID!, $o: JSON) { completeTask(input: {taskId: $t, output: $o}) { userErrors { field message } } }", { t: t.id, o: readForm(form, t.form) }, form, "Completed") }, "Complete")));
  }
  if (waiting) {
    form.querySelector(".actions").append(mine
      ? h("button", { type: "button", class: "secondary", id: "release", onclick: () => act("mutation($t: ID!) { releaseTask(input: {taskId: $t}) { userErrors { field message } } }", { t: t.id }, form, "Released") }, "Release")
      : t.status === "OPEN" ? h("button", { type: "button", class: "secondary", id: "claim", onclick: () => act("mutation($t: ID!) { claimTask(input: {taskId: $t}) { userErrors { field message } } }", { t: t.id }, form, "Claimed") }, "Take it") : null);
  }
  render(
    h("p", {}, h("a", { href: "#/" }, "← My work")),
    h("h1", {}, t.title),
    h("p", { class: "meta" }, h("a", { href: `#/instance/${encodeURIComponent(t.instance.id)}`, id: "to-instance" }, `${t.instance.workspace.name} · ${t.instance.workflow.name}`), ` · ${t.status.toLowerCase()}`,
      t.round > 1 ? ` · round ${t.round}` : "",
      t.dueAt ? h("span", { class: t.overdue ? "overdue" : null }, ` · due ${when(t.dueAt)}`) : ""),
    t.instructions ? h("div", { class: "instructions" }, markdown(t.instructions)) : null,
    t.comments.length ? [h("h2", {}, "Comments"), t.comments.map((c) => h("div", { class: "comment" }, h("div", { class: "meta" }, `${c.author ? c.author.login : "someone"} · ${when(c.createdAt)}`), markdown(c.body)))] : null,
    waiting ? [h("h2", {}, t.isApproval ? "Your decision" : "Your work"), form] : h("p", { class: "notice" }, `This task is ${t.status.toLowerCase()}.`));
}

// ---- the content calendar ----

const PUBS = `query($f: PublicationFilter!, $after: String) { publications(filter: $f, first: 100, after: $after) {
  pageInfo { hasNextPage endCursor }
  nodes { id at channel title status forecast { atRisk expectedReadyAt } workspace { key name timezone } instance { id } } } }`;

// A date (YYYY-MM-DD) moved by `days`.
function addDays(iso, days) {
  const d = new Date(`${iso}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

// The day and time of an instant in a timezone: ["2027-03-16", "08:00"].
function localParts(iso, zone) {
  const f = new Intl.DateTimeFormat("en-CA", { timeZone: zone || "UTC", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const p = Object.fromEntries(f.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
  return [`${p.year}-${p.month}-${p.day}`, `${p.hour}:${p.minute}`];
}

function calendarRange(view, start) {
  if (view === "month") {
    const first = `${start.slice(0, 7)}-01`;
    const weekday = (new Date(`${first}T12:00:00Z`).getUTCDay() + 6) % 7; // Monday first
    const from = addDays(first, -weekday);
    return { from, days: 42, title: new Date(`${first}T12:00:00Z`).toLocaleDateString(undefined, { month: "long", year: "numeric", timeZone: "UTC" }) };
  }
  const weekday = (new Date(`${start}T12:00:00Z`).getUTCDay() + 6) % 7;
  const from = addDays(start, -weekday);
  return { from, days: 7, title: `Week of ${from}` };
}

async function calendarPage(params) {
  const view = params.get("view") === "month" ? "month" : "week";
  const today = new Date().toISOString().slice(0, 10);
  const start = /^\d{4}-\d{2}-\d{2}$/.test(params.get("start") || "") ? params.get("start") : today;
  const ws = params.get("ws") || "";
  const channel = params.get("channel") || "";
  const { from, days, title } = calendarRange(view, start);
  const to = addDays(from, days);
  const d = await gql("{ viewer { login name } workspaces { key name timezone } }");
  showViewer(d.viewer);
  // Every client's day is its own: ask a day more on each side, then place
  // each publication on the day it falls on in its workspace's timezone.
  const filter = { from: `${addDays(from, -1)}T00:00:00Z`, to: `${addDays(to, 1)}T00:00:00Z` };
  if (ws) filter.workspace = ws;
  if (channel) filter.channel = channel;
  const pubs = [];
  let after = null;
  for (let page = 0; page < 50; page++) {
    const r = await gql(PUBS, { f: filter, after });
    pubs.push(...r.publications.nodes);
    if (!r.publications.pageInfo.hasNextPage) break;
    after = r.publications.pageInfo.endCursor;
  }
  const byDay = new Map();
  for (const p of pubs) {
    const [day, time] = localParts(p.at, p.workspace.timezone);
    if (!byDay.has(day)) byDay.set(day, []);
    byDay.get(day).push({ ...p, time });
  }
  const link = (changes) => {
    const q = new URLSearchParams({ view, start, ws, channel, ...changes });
    for (const [k, v] of [...q.entries()]) if (!v) q.delete(k);
    return `#/calendar?${q}`;
  };
  const step = view === "month" ? 31 : 7;
  const prevStart = view === "month" ? addDays(`${start.slice(0, 7)}-01`, -1) : addDays(from, -7);
  const nextStart = view === "month" ? addDays(`${start.slice(0, 7)}-01`, step) : addDays(from, 7);
  const select = h("select", { id: "cal-ws", "aria-label": "Client", onchange: (e) => { location.hash = link({ ws: e.target.value }); } },
    h("option", { value: "" }, "All my clients"),
    d.workspaces.map((w) => h("option", { value: w.key, selected: w.key === ws }, w.name)));
  const cells = [];
  for (let i = 0; i < days; i++) {
    const day = addDays(from, i);
    const items = (byDay.get(day) || []).sort((a, b) => a.time.localeCompare(b.time));
    cells.push(h("li", { class: "day", "data-day": day },
      h("div", { class: "day-head" }, new Date(`${day}T12:00:00Z`).toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" })),
      items.map((p) => h("div", { class: `pub ${p.status.toLowerCase()}${p.forecast && p.forecast.atRisk ? " at-risk" : ""}`, "data-pub": p.id, "data-workspace": p.workspace.key },
        h("span", { class: "time" }, p.time), " ",
        h("span", { class: "channel" }, p.channel), " ",
        p.instance ? h("a", { class: "title", href: `#/instance/${encodeURIComponent(p.instance.id)}` }, p.title || "(untitled)")
          : h("span", { class: "title" }, p.title || "(untitled)"),
        h("div", { class: "meta" }, `${p.workspace.name} · ${p.status.toLowerCase().replace("_", " ")}`,
          p.forecast && p.forecast.atRisk ? h("strong", { class: "risk" }, " · at risk") : null)))));
  }
  render(
    h("h1", {}, `Calendar: ${title}`),
    h("div", { class: "actions", role: "group", "aria-label": "Calendar view" },
      h("a", { href: link({ start: prevStart }), class: "button" }, "← Earlier"),
      h("a", { href: link({ start: nextStart }), class: "button" }, "Later →"),
      h("a", { href: link({ view: "week" }), "aria-current": view === "week" ? "page" : null }, "Week"),
      h("a", { href: link({ view: "month" }), "aria-current": view === "month" ? "page" : null }, "Month"),
      select,
      h("input", { id: "cal-channel", "aria-label": "Channel", placeholder: "Channel (vk, telegram…)", value: channel,
        onchange: (e) => { location.hash = link({ channel: e.target.value.trim() }); } })),
    h("p", { class: "meta" }, `${pubs.length} publication${pubs.length === 1 ? "" : "s"}; each on its client's own day and time.`),
    h("ol", { class: `calendar ${view}` }, cells));
}

// ---- an instance: its diagram, steps, tasks and log ----

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

// ---- the load board and the period's figures ----

const FIGURES = `query($f: AnalyticsFilter!) { viewer { login name } workspaces { key name }
  analytics(filter: $f) {
    load { workspace { key name } role open overdue dueThisWeek completed }
    people { user { login name } open overdue completed }
    steps { workflow step role count cycleTime { p50 p90 } onTimeRate reworkRate }
    parties { party waitingSeconds share }
    rejections { reason count }
    sla { due met rate } } }`;

function hours(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  return seconds >= 86400 ? `${(seconds / 86400).toFixed(1)} d` : `${(seconds / 3600).toFixed(1)} h`;
}

function percent(x) {
  return x === null || x === undefined ? "—" : `${Math.round(x * 100)}%`;
}

// A labelled bar: the number is always written out, the bar only shows it.
function bar(value, max, label) {
  const fill = h("span", { class: "meter-fill" });
  fill.style.width = `${max > 0 ? Math.round((100 * value) / max) : 0}%`;
  return h("span", { class: "meter", role: "img", "aria-label": `${label}: ${value}` }, fill);
}

function table(head, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}

async function boardPage(params) {
  const days = [7, 30, 90].includes(Number(params.get("days"))) ? Number(params.get("days")) : 30;
  const ws = params.get("ws") || "";
  // The server's time, not this device's (a demo server may run on its own
  // clock); the period ends a second after it, so work done this very
  // moment counts (the filter's end is exclusive).
  const to = new Date(new Date((await gql("{ serverTime }")).serverTime).getTime() + 1000);
  const from = new Date(to.getTime() - days * 86400000);
  const filter = { from: from.toISOString(), to: to.toISOString() };
  if (ws) filter.workspace = ws;
  const d = await gql(FIGURES, { f: filter });
  showViewer(d.viewer);
  const a = d.analytics;
  const link = (changes) => `#/board?${new URLSearchParams({ days, ws, ...changes })}`;
  const maxOpen = Math.max(1, ...a.load.map((l) => l.open), ...a.people.map((p) => p.open));
  const load = a.load.slice().sort((x, y) => y.overdue - x.overdue || y.open - x.open);
  const people = a.people.slice().sort((x, y) => y.overdue - x.overdue || y.open - x.open);
  render(
    h("h1", {}, "Load and figures"),
    h("div", { class: "actions", role: "group", "aria-label": "Period and client" },
      [7, 30, 90].map((n) => h("a", { href: link({ days: n }), "aria-current": n === days ? "page" : null }, `Last ${n} days`)),
      h("select", { id: "board-ws", "aria-label": "Client", onchange: (e) => { location.hash = link({ ws: e.target.value }); } },
        h("option", { value: "" }, "All my clients"),
        d.workspaces.map((w) => h("option", { value: w.key, selected: w.key === ws }, w.name)))),
    h("h2", {}, "Open work by role"),
    load.length ? table(["Client", "Role", "Open", "", "Overdue", "Due this week", `Done in ${days} days`],
      load.map((l) => [l.workspace.name, l.role, String(l.open), bar(l.open, maxOpen, `${l.role} open`),
        l.overdue ? h("strong", { class: "overdue" }, String(l.overdue)) : "0", String(l.dueThisWeek), String(l.completed)]))
      : h("p", { class: "notice" }, "No work in this period."),
    h("h2", {}, "Open work by person"),
    people.length ? table(["Person", "Open", "", "Overdue", `Done in ${days} days`],
      people.map((p) => [p.user.name || p.user.login, String(p.open), bar(p.open, maxOpen, `${p.user.login} open`),
        p.overdue ? h("strong", { class: "overdue" }, String(p.overdue)) : "0", String(p.completed)]))
      : h("p", { class: "meta" }, "Nobody holds work."),
    h("h2", {}, "Due times kept"),
    h("p", {}, a.sla.due ? `${a.sla.met} of ${a.sla.due} due times met (${percent(a.sla.rate)})` : "No due time fell in this period."),
    h("h2", {}, "Who holds work up"),
    a.parties.length ? table(["Side", "Waiting", "", "Share"],
      a.parties.map((p) => [p.party, hours(p.waitingSeconds), bar(Math.round(p.share * 100), 100, `${p.party} share`), percent(p.share)]))
      : h("p", { class: "meta" }, "Nothing was done in this period."),
    h("h2", {}, "Steps"),
    a.steps.length ? table(["Workflow", "Step", "Role", "Done", "Cycle p50", "Cycle p90", "On time", "Reworked"],
      a.steps.map((s) => [s.workflow, s.step, s.role || "—", String(s.count), hours(s.cycleTime.p50), hours(s.cycleTime.p90), percent(s.onTimeRate), percent(s.reworkRate)]))
      : h("p", { class: "meta" }, "No step was done in this period."),
    a.rejections.length ? [h("h2", {}, "Why work was sent back"),
      table(["Reason", "Times"], a.rejections.map((r) => [r.reason.replace(/_/g, " "), String(r.count)]))] : null);
}

// ---- frame ----

function showViewer(v) {
  document.getElementById("nav").hidden = false;
  document.getElementById("who").textContent = v.name || v.login;
}

function route() {
  const m = location.hash.match(/^#\/task\/(.+)$/);
  if (m) return { page: "task", id: decodeURIComponent(m[1]) };
  const inst = location.hash.match(/^#\/instance\/(.+)$/);
  if (inst) return { page: "instance", id: decodeURIComponent(inst[1]) };
  const b = location.hash.match(/^#\/board(?:\?(.*))?$/);
  if (b) return { page: "board", params: new URLSearchParams(b[1] || "") };
  const c = location.hash.match(/^#\/calendar(?:\?(.*))?$/);
  if (c) return { page: "calendar", params: new URLSearchParams(c[1] || "") };
  return { page: "inbox" };
}

async function show() {
  const r = route();
  if (r.page !== "inbox" && live) { live.stop(); live = null; }
  try {
    if (r.page === "task") await taskPage(r.id);
    else if (r.page === "calendar") await calendarPage(r.params);
    else if (r.page === "instance") await instancePage(r.id);
    else if (r.page === "board") await boardPage(r.params);
    else await inboxPage();
  } catch (e) {
    if (e.code === "UNAUTHENTICATED") signInPage();
    else if (e.code === "NOT_FOUND" || e.code === "FORBIDDEN") {
      render(h("h1", {}, "Not found"), h("p", {}, "This does not exist, or it is not yours to see."), h("a", { href: "#/" }, "Back to my work"));
    } else render(h("h1", {}, "Something went wrong"), h("p", { class: "notice error" }, e.message));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("sign-out").addEventListener("click", async () => {
    if (live) { live.stop(); live = null; }
    await fetch("/app/sign-out", { method: "POST", credentials: "same-origin", headers: CSRF });
    signInPage("You are signed out.");
  });
  window.addEventListener("hashchange", show);
  show();
});
