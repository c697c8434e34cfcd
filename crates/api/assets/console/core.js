// smmflow console: a client of the public GraphQL API (POST /graphql, and
// graphql-transport-ws on /graphql/ws for live updates), signed in by the
// session cookie; every request carries the x-smmflow-csrf header the server
// asks of cookie requests. Plain JavaScript, no build step, no network but
// this server. The files share one scope, loaded in order by index.html:
// core.js (requests, live updates, Markdown, helpers), forms.js (forms from
// field specs), work.js (sign-in, My work, a task), calendar.js, instance.js
// (an instance, the workflows), board.js (load and figures), clients.js
// (clients, their settings and profiles), app.js (routes).
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
  for (const c of children.flat(Infinity)) {
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

// Moved on by every navigation (app.js): the answer to a request made
// before the person moved on is dropped (Stale), so a slow answer never
// draws over the page they went to.
let navigation = 0;
class Stale extends Error {}

async function gql(query, variables) {
  const asked = navigation;
  const r = await fetch("/graphql", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", ...CSRF },
    body: JSON.stringify({ query, variables: variables || {} }),
  });
  const body = await r.json().catch(() => ({ errors: [{ message: `HTTP ${r.status}` }] }));
  if (asked !== navigation) throw new Stale("the page changed meanwhile");
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
    socket.onclose = () => { if (!stopped) setTimeout(() => { if (!stopped) open(); }, 3000); };
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


function showViewer(v) {
  document.getElementById("nav").hidden = false;
  document.getElementById("who").textContent = v.name || v.login;
}

function table(head, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}
