// smmflow console: the content calendar (#/calendar?view=week|month&start=YYYY-MM-DD&ws=&channel=).
"use strict";


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
  const select = h("select", { id: "cal-ws", "aria-label": "Client" },
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
      // Chosen, then shown with the button (or Enter): arrowing through a
      // select does not reload the calendar at every step.
      h("form", { class: "inline", id: "cal-filter", onsubmit: (e) => {
        e.preventDefault();
        location.hash = link({ ws: select.value, channel: e.target.querySelector("#cal-channel").value.trim() });
      } },
      select,
      h("input", { id: "cal-channel", "aria-label": "Channel", placeholder: "Channel (vk, telegram…)", value: channel }),
      h("button", { type: "submit", class: "secondary small" }, "Show"))),
    h("p", { class: "meta" }, `${pubs.length} publication${pubs.length === 1 ? "" : "s"}; each on its client's own day and time.`),
    h("ol", { class: `calendar ${view}` }, cells));
}

