// smmflow console: sign-in, "My work" (#/) and one task (#/task/<id>).
"use strict";

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

const INBOX = `query($after: String) { viewer { login name }
  tasks(filter: {mine: true, status: [OPEN, CLAIMED]}, first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes {
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

// How many pages of 100 My work shows ("Show more" adds one).
let inboxPages = 1;

// The first `inboxPages` pages of the viewer's open work, as one answer.
async function loadInbox() {
  let d = null;
  let after = null;
  for (let page = 0; page < inboxPages; page++) {
    const r = await gql(INBOX, { after });
    if (d) d.tasks.nodes.push(...r.tasks.nodes);
    else d = r;
    d.tasks.pageInfo = r.tasks.pageInfo;
    if (!r.tasks.pageInfo.hasNextPage) break;
    after = r.tasks.pageInfo.endCursor;
  }
  return d;
}

function inboxNodes(d) {
  const groups = group(d.tasks.nodes);
  const shown = d.tasks.nodes.length;
  return [
    h("h1", {}, "My work"),
    h("p", { class: "meta" }, `${d.tasks.totalCount} open task${d.tasks.totalCount === 1 ? "" : "s"} for you`,
      shown < d.tasks.totalCount ? ` (the first ${shown} shown)` : ""),
    groups.length ? groups.map(([name, list]) => [h("h2", {}, `${name} (${list.length})`), h("ul", { class: "tasks" }, list.map(taskItem))])
      : h("p", { class: "notice" }, "Nothing waits for you."),
    d.tasks.pageInfo.hasNextPage ? h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", id: "more",
      onclick: () => { inboxPages++; refreshInbox(); } }, "Show 100 more")) : null,
  ];
}

async function inboxPage() {
  inboxPages = 1;
  const d = await loadInbox();
  showViewer(d.viewer);
  render(inboxNodes(d));
  // For whoever measures (crates/bench `console`): the inbox's data arrived
  // and, a frame later, its first paint.
  if (!performance.getEntriesByName("smmflow:inbox-painted").length) {
    performance.mark("smmflow:inbox-rendered");
    requestAnimationFrame(() => setTimeout(() => performance.mark("smmflow:inbox-painted"), 0));
  }
  let pending = null;
  subscribe("subscription { taskEvents { kind task { id } } }", () => {
    clearTimeout(pending);
    pending = setTimeout(() => { if (route().page === "inbox") refreshInbox(); }, 300);
  });
}

async function refreshInbox() {
  try {
    const d = await loadInbox();
    if (route().page !== "inbox") return; // the person moved on meanwhile
    // Keep a keyboard user's place: the focused task link or button.
    const active = document.activeElement;
    const task = active && active.closest && active.closest("[data-task]");
    const keep = task ? `[data-task="${CSS.escape(task.dataset.task)}"] a` : active && active.id ? `#${CSS.escape(active.id)}` : null;
    put(inboxNodes(d));
    const again = keep && view().querySelector(keep);
    if (again) again.focus();
    say("My work was updated");
  } catch (e) {
    if (!(e instanceof Stale)) say(e.message);
  }
}

// ---- one task ----

const TASK = `query($id: ID!) { viewer { login name } task(id: $id) {
  id title instructions status isApproval round dueAt overdue form output prefill rejectionReasons
  assignee { login } comments { body author { login } createdAt }
  rounds { round output completedBy { login } completedAt decision comment reasons decidedBy { login } decidedAt }
  instance { id workspace { key name timezone } workflow { key name } } } }`;

async function act(mutation, variables, form, done) {
  try {
    const d = await gql(mutation, variables);
    const payload = Object.values(d)[0];
    if (payload.userErrors && payload.userErrors.length) return showErrors(form, payload.userErrors);
    say(done);
    location.hash = "#/";
  } catch (e) {
    if (!(e instanceof Stale)) showErrors(form, [{ field: [], message: e.message }]);
  }
}

// A word-level diff of two texts: [["same"|"added"|"removed", text]...]
// (longest common subsequence of words; a whole replacement past 4 million
// comparisons, so a long text never stalls the page).
function wordDiff(before, after) {
  const a = String(before).split(/(\s+)/).filter((x) => x);
  const b = String(after).split(/(\s+)/).filter((x) => x);
  if (a.length * b.length > 4e6) return [["removed", before], ["added", after]];
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out = [];
  const push = (kind, text) => (out.length && out[out.length - 1][0] === kind ? (out[out.length - 1][1] += text) : out.push([kind, text]));
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { push("same", a[i]); i++; j++; } else if (lcs[i + 1][j] >= lcs[i][j + 1]) push("removed", a[i++]); else push("added", b[j++]);
  }
  while (i < n) push("removed", a[i++]);
  while (j < m) push("added", b[j++]);
  return out;
}

function diffNode(before, after) {
  return h("p", { class: "diff" }, wordDiff(before, after).map(([kind, text]) =>
    kind === "same" ? text : h(kind === "added" ? "ins" : "del", {}, h("span", { class: "visually-hidden" }, kind === "added" ? "[added: " : "[removed: "), text, h("span", { class: "visually-hidden" }, "]"))));
}

// The reviewed work of each round, newest first; text fields of the latest
// round as a word diff against the round before.
function roundsNodes(rounds) {
  if (!rounds || !rounds.length) return null;
  const sorted = rounds.slice().sort((x, y) => y.round - x.round);
  return [h("h2", {}, rounds.length > 1 ? `The work, round by round (${rounds.length})` : "The work to review"),
    sorted.map((r, k) => {
      const prev = sorted[k + 1];
      const fields = Object.entries(r.output || {});
      return h("section", { class: "round", "data-round": r.round, "aria-label": `Round ${r.round}` },
        h("h3", {}, `Round ${r.round}`),
        h("p", { class: "meta" }, r.completedBy ? `by ${r.completedBy.login}` : "", r.completedAt ? ` · ${when(r.completedAt)}` : ""),
        h("dl", {}, fields.map(([name, v]) => [h("dt", {}, humanize(name)),
          h("dd", {}, k === 0 && prev && typeof v === "string" && typeof (prev.output || {})[name] === "string" && prev.output[name] !== v
            ? diffNode(prev.output[name], v) : typeof v === "string" ? v : JSON.stringify(v))])),
        r.decision ? h("p", { class: `decision ${r.decision}` },
          `${{ rejected: "Sent back", approved: "Approved", expired: "Expired undecided" }[r.decision] || r.decision}${r.decidedBy ? ` by ${r.decidedBy.login}` : ""}`,
          r.reasons && r.reasons.length ? ` (${r.reasons.map(humanize).join(", ")})` : "",
          r.comment ? `: “${r.comment}”` : "") : null);
    })];
}

async function taskPage(id) {
  const d = await gql(TASK, { id });
  showViewer(d.viewer);
  const t = d.task;
  if (!t) return render(h("h1", {}, "Not found"), h("p", {}, "This task does not exist, or it is not yours to see."), h("a", { href: "#/" }, "Back to my work"));
  const waiting = t.status === "OPEN" || t.status === "CLAIMED";
  const mine = t.assignee && t.assignee.login === d.viewer.login;
  const ctx = { zone: knownZone(t.instance.workspace.timezone || "UTC") };
  const form = h("form", { novalidate: true, onsubmit: (e) => e.preventDefault() }, h("div", { class: "form-note", role: "alert" }));
  if (waiting && t.isApproval) {
    const reasons = t.rejectionReasons || [];
    form.append(fieldNode(["comment"], { type: "text", label: "Comment (needed to send it back)" }, undefined, ctx));
    const reasonsSpec = { type: "list", label: "Why it goes back (one at least)", items: { type: "enum", values: reasons } };
    if (reasons.length) form.append(fieldNode(["reasons"], reasonsSpec, [], ctx));
    const comment = () => form.querySelector("#f-comment").value;
    const picked = () => (reasons.length ? readAt(form, ["reasons"], reasonsSpec) : null);
    form.append(h("div", { class: "actions" },
      h("button", { type: "button", id: "approve", onclick: () => act("mutation($t: ID!, $c: String) { approveTask(input: {taskId: $t, comment: $c}) { userErrors { field message } } }", { t: t.id, c: comment() || null }, form, "Approved") }, "Approve"),
      h("button", { type: "button", id: "reject", class: "danger", onclick: () => act("mutation($t: ID!, $c: String!, $r: [String!]) { rejectTask(input: {taskId: $t, comment: $c, reasons: $r}) { userErrors { field message } } }", { t: t.id, c: comment(), r: picked() }, form, "Sent back") }, "Send back")));
  } else if (waiting) {
    form.append(...fieldsNodes([], t.form, t.prefill || undefined, ctx));
    const submit = () => {
      const output = readFields(form, [], t.form);
      const errors = checkFields(t.form, output, [], []);
      if (errors.length) return showErrors(form, errors);
      return act("mutation($t: ID!, $o: JSON) { completeTask(input: {taskId: $t, output: $o}) { userErrors { field message } } }", { t: t.id, o: compact(output) }, form, "Completed");
    };
    form.append(h("div", { class: "actions" }, h("button", { type: "submit", id: "complete", onclick: submit }, "Complete")));
  }
  const take = !waiting ? null : mine
      ? h("button", { type: "button", class: "secondary", id: "release", onclick: () => act("mutation($t: ID!) { releaseTask(input: {taskId: $t}) { userErrors { field message } } }", { t: t.id }, form, "Released") }, "Release")
      : t.status === "OPEN" ? h("button", { type: "button", class: "secondary", id: "claim", onclick: () => act("mutation($t: ID!) { claimTask(input: {taskId: $t}) { userErrors { field message } } }", { t: t.id }, form, "Claimed") }, "Take it") : null;
  if (take) form.querySelector(".actions").append(take);
  render(
    h("p", {}, h("a", { href: "#/" }, "← My work")),
    h("h1", {}, t.title),
    h("p", { class: "meta" }, h("a", { href: `#/instance/${encodeURIComponent(t.instance.id)}`, id: "to-instance" }, `${t.instance.workspace.name} · ${t.instance.workflow.name}`), ` · ${t.status.toLowerCase()}`,
      t.round > 1 ? ` · round ${t.round}` : "",
      t.dueAt ? h("span", { class: t.overdue ? "overdue" : null }, ` · due ${when(t.dueAt)}`) : ""),
    t.instructions ? h("div", { class: "instructions" }, markdown(t.instructions)) : null,
    t.isApproval ? roundsNodes(t.rounds) : null,
    t.comments.length ? [h("h2", {}, "Comments"), t.comments.map((c) => h("div", { class: "comment" }, h("div", { class: "meta" }, `${c.author ? c.author.login : "someone"} · ${when(c.createdAt)}`), markdown(c.body)))] : null,
    waiting ? [h("h2", {}, t.isApproval ? "Your decision" : "Your work"), form] : h("p", { class: "notice" }, `This task is ${t.status.toLowerCase()}.`));
}
