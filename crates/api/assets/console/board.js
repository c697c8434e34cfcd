// smmflow console: the load board and the period's figures (#/board?days=7|30|90&ws=).
"use strict";


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
      h("form", { class: "inline", id: "board-filter", onsubmit: (e) => {
        e.preventDefault();
        location.hash = link({ ws: e.target.querySelector("#board-ws").value });
      } },
      h("select", { id: "board-ws", "aria-label": "Client" },
        h("option", { value: "" }, "All my clients"),
        d.workspaces.map((w) => h("option", { value: w.key, selected: w.key === ws }, w.name))),
      h("button", { type: "submit", class: "secondary small" }, "Show"))),
    h("h2", {}, "Open work by role"),
    load.length ? table(["Client", "Role", "Open", "", "Overdue", "Due this week", `Done in ${days} days`],
      load.map((l) => [l.workspace.name, l.role, String(l.open), bar(l.open, maxOpen, `${l.role} open`),
        l.overdue ? h("strong", { class: "overdue" }, String(l.overdue)) : "0", String(l.dueThisWeek), String(l.completed)]))
      : h("p", { class: "notice" }, "No work in this period."),
    h("h2", {}, "Open work by person"),
    people.length ? table(["Person", "Open", "", "Overdue", `Done in ${days} days`],
      people.map((p) => [p.user ? p.user.name || p.user.login : "(a removed user)", String(p.open), bar(p.open, maxOpen, `${p.user ? p.user.login : "removed user"} open`),
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
      table(["Reason", "Times"], a.rejections.map((r) => [humanize(r.reason), String(r.count)]))] : null);
}

