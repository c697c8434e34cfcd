// smmflow console: forms drawn from field specs (a task's form, a client's
// profile), checked here with the server's own rules and messages (so an
// error shows before a round trip), and the server's userErrors shown at
// the field their path names. Paths are arrays (["kpis", 0, "target"]);
// each field's element carries data-path="kpis.0.target" and id
// "f-kpis-0-target", its message goes to "<id>-error".
"use strict";

const TEXTUAL = ["string", "text", "url", "email", "user"];
const fieldId = (path) => `f-${path.join("-")}`;
const humanize = (name) => String(name).replace(/_/g, " ");

// Field specs in the order of their file (the server numbers them: `order`).
const ordered = (fields) => Object.entries(fields || {}).sort(([, a], [, b]) => (a.order ?? 0) - (b.order ?? 0));

// ---- times in a client's timezone ----

// A zone this browser knows (the server's IANA names; an unknown one, as
// an older browser may lack a new name, falls back to UTC, said on the field).
function knownZone(zone) {
  try { new Intl.DateTimeFormat("en-US", { timeZone: zone }); return zone; } catch { return "UTC"; }
}

// How far `zone` is ahead of UTC at instant `ms`, in milliseconds.
function zoneOffset(ms, zone) {
  const f = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - Math.floor(ms / 1000) * 1000;
}

// "2027-03-16T09:00" on the wall clock of `zone` -> "2027-03-16T09:00:00+03:00".
// The offset is the zone's a day before or after that fits the wall time;
// a time the clocks skip (a DST gap) takes the offset before the change
// (so it moves forward), a time they repeat its first occurrence.
function wallToRfc3339(wall, zone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(wall);
  if (!m) return wall;
  const guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  const before = zoneOffset(guess - 86400000, zone);
  const after = zoneOffset(guess + 86400000, zone);
  const fits = [before, after].filter((c) => zoneOffset(guess - c, zone) === c);
  const off = fits.length ? Math.max(...fits) : before;
  const mins = Math.round(off / 60000);
  const sign = mins < 0 ? "-" : "+";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:00${sign}${pad(mins / 60)}:${pad(mins % 60)}`;
}

// An RFC 3339 instant as the wall clock of `zone` ("2027-03-16T09:00").
function instantToWall(iso, zone) {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return "";
  return new Date(ms + zoneOffset(ms, zone)).toISOString().slice(0, 16);
}

// ---- drawing ----

// One field (and what it holds) at `path`; ctx = {zone}.
function fieldNode(path, spec, value, ctx) {
  const id = fieldId(path);
  const type = spec.type || "string";
  const name = path[path.length - 1];
  const label = spec.label || (typeof name === "number" ? `${name + 1}.` : humanize(name));
  const initial = value !== undefined && value !== null ? value : spec.default;
  const help = spec.help ? h("p", { class: "help", id: `${id}-help` }, spec.help) : null;
  const error = h("p", { class: "field-error", id: `${id}-error` });
  const required = spec.required ? [h("span", { "aria-hidden": "true" }, " *"), h("span", { class: "visually-hidden" }, " (required)")] : null;
  if (type === "object") {
    return h("fieldset", { class: "field group", "data-path": path.join("."), id, "aria-describedby": `${id}-error` },
      h("legend", {}, label, required), help, error,
      fieldsNodes(path, spec.fields, initial, ctx));
  }
  if (type === "list" && spec.items && spec.items.type === "enum") {
    const chosen = new Set(Array.isArray(initial) ? initial : []);
    return h("fieldset", { class: "field choices", "data-path": path.join("."), id, "aria-describedby": `${id}-error` },
      h("legend", {}, label, required), help,
      (spec.items.values || []).map((v) => h("label", { class: "choice" },
        h("input", { type: "checkbox", value: v, "data-choice": path.join("."), checked: chosen.has(v) }), ` ${humanize(v)}`)),
      error);
  }
  if (type === "list" && spec.items) return listNode(path, spec, Array.isArray(initial) ? initial : [], ctx, label, help, error, required);
  const common = { id, name: path.join("."), "data-path": path.join("."), "aria-describedby": `${help ? `${id}-help ` : ""}${id}-error` };
  let input;
  if (type === "text") input = h("textarea", common);
  else if (type === "boolean") input = h("input", { ...common, type: "checkbox" });
  else if (type === "enum") input = h("select", common, h("option", { value: "" }, "—"), (spec.values || []).map((v) => h("option", { value: v }, v)));
  else if (type === "integer" || type === "number") input = h("input", { ...common, type: "number", step: type === "integer" ? "1" : "any", inputmode: type === "integer" ? "numeric" : "decimal" });
  else if (type === "date") input = h("input", { ...common, type: "date" });
  else if (type === "datetime") input = h("input", { ...common, type: "datetime-local", "data-zone": ctx.zone });
  else if (type === "url" || type === "email") input = h("input", { ...common, type, autocomplete: "off" });
  else if (type === "list" || type === "object") input = h("textarea", { ...common, "data-json": "1" });
  else input = h("input", { ...common, type: "text" });
  if (initial !== undefined && initial !== null) {
    if (type === "boolean") input.checked = !!initial;
    else if (input.dataset.json) input.value = JSON.stringify(initial, null, 2);
    else if (type === "datetime") input.value = instantToWall(initial, ctx.zone);
    else input.value = initial;
  }
  if (spec.required && type !== "boolean") input.setAttribute("aria-required", "true");
  const zoneNote = type === "datetime" ? h("span", { class: "meta" }, ` (${ctx.zone} time)`) : null;
  return h("div", { class: "field" }, h("label", { for: id }, label, required, zoneNote), help, input, error);
}

// A list of objects or values: a row per item, Add and Remove buttons.
function listNode(path, spec, items, ctx, label, help, error, required) {
  const id = fieldId(path);
  const add = spec.items.type === "object" ? "Add one" : "Add a value";
  let box = null;
  // Redrawn with `next`; the focus goes to row `row`'s first control, or
  // to the Add button (a keyboard user stays where they were).
  const redraw = (next, row) => {
    const fresh = listNode(path, spec, next, ctx, label, help, error, required);
    box.replaceWith(fresh);
    const item = row === null ? null : fresh.querySelectorAll(":scope > .item")[row];
    const target = (item && item.querySelector("input, select, textarea")) || fresh.querySelector(`#${CSS.escape(id)}-add`);
    if (target) target.focus();
  };
  const current = () => readAt(box, path, spec) || [];
  box = h("fieldset", { class: "field list", "data-path": path.join("."), "data-count": items.length, id, "aria-describedby": `${id}-error` },
    h("legend", {}, label, required), help, error,
    items.map((item, i) => h("div", { class: "item" },
      fieldNode([...path, i], spec.items, item, ctx),
      h("button", { type: "button", class: "secondary small", "aria-label": `Remove ${label} ${i + 1}`,
        onclick: () => { const all = current(); all.splice(i, 1); redraw(all, null); } }, "Remove"))),
    h("button", { type: "button", class: "secondary small", id: `${id}-add`, "aria-label": `${add} to ${label}`,
      onclick: () => { const all = current(); redraw([...all, spec.items.type === "object" ? {} : null], all.length); } }, add));
  return box;
}

// The fields of a mapping as form rows.
function fieldsNodes(prefix, fields, values, ctx) {
  return ordered(fields).map(([n, s]) => fieldNode([...prefix, n], s, values ? values[n] : undefined, ctx));
}

// ---- reading ----

// The value at `path` under `root` (undefined when left empty).
function readAt(root, path, spec) {
  const key = path.join(".");
  const type = spec.type || "string";
  if (type === "object") {
    const out = {};
    for (const [n, s] of Object.entries(spec.fields || {})) {
      const v = readAt(root, [...path, n], s);
      if (v !== undefined) out[n] = v;
    }
    return Object.keys(out).length ? out : undefined;
  }
  if (type === "list" && spec.items && spec.items.type === "enum") {
    return [...root.querySelectorAll(`input[data-choice="${CSS.escape(key)}"]`)].filter((c) => c.checked).map((c) => c.value);
  }
  if (type === "list" && spec.items) {
    const box = root.matches(`fieldset[data-path="${CSS.escape(key)}"]`) ? root : root.querySelector(`fieldset[data-path="${CSS.escape(key)}"]`);
    if (!box) return undefined;
    const out = [];
    for (let i = 0; i < Number(box.dataset.count); i++) {
      // An empty row stays in place (null), so row numbers match errors
      // and Remove; `compact` drops such rows before sending.
      const v = readAt(box, [...path, i], spec.items);
      out.push(v === undefined ? null : v);
    }
    return out;
  }
  const el = root.querySelector(`[data-path="${CSS.escape(key)}"]`);
  if (!el) return undefined;
  if (type === "boolean") return el.checked;
  if (el.value.trim() === "") return undefined;
  if (type === "integer" || type === "number") return Number(el.value);
  if (type === "datetime") return wallToRfc3339(el.value, el.dataset.zone || "UTC");
  if (el.dataset.json) {
    try { return JSON.parse(el.value); } catch { return el.value; }
  }
  return el.value;
}

// What is sent: the rows left empty dropped from every list.
function compact(value) {
  if (Array.isArray(value)) return value.filter((v) => v !== null && v !== undefined).map(compact);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, compact(v)]));
  return value;
}

// A mapping of fields read from the form ({} when all are empty).
function readFields(root, prefix, fields) {
  return readAt(root, prefix, { type: "object", fields }) || {};
}

// ---- checking, as the server does (crates/spec/src/field.rs) ----

function jsonType(v) {
  if (v === null || v === undefined) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "number") return Number.isInteger(v) ? "an integer" : "a number";
  if (typeof v === "boolean") return "a boolean";
  return "a string";
}

// As the server: an absolute http(s) URL with a host (the browser's URL
// parser, as the server's); one @, a local part, a dotted domain, no spaces.
function isUrl(s) {
  try { const u = new URL(s); return (u.protocol === "http:" || u.protocol === "https:") && !!u.hostname; } catch { return false; }
}
function isEmail(s) {
  const at = s.indexOf("@");
  if (at < 1) return false;
  const domain = s.slice(at + 1);
  return s.length <= 254 && !domain.includes("@") && domain.includes(".") && !domain.startsWith(".") && !domain.endsWith(".") && !/[\s\u0000-\u001f\u007f]/.test(s);
}

function checkValue(spec, value, path, errors) {
  const fail = (message) => errors.push({ field: path, message });
  const type = spec.type || "string";
  if (value === undefined || value === null) {
    if (spec.required) fail("is required");
    return;
  }
  if (spec.required && typeof value === "string" && !value.trim()) return fail("is required");
  if (TEXTUAL.includes(type)) {
    if (typeof value !== "string") return fail(`expected ${type === "user" ? "a user login" : `a ${type}`}, found ${jsonType(value)}`);
    const len = [...value].length;
    if (spec.min_length !== undefined && len < spec.min_length) fail(`must be at least ${spec.min_length} characters long`);
    else if (spec.max_length !== undefined && len > spec.max_length) fail(`must be at most ${spec.max_length} characters long`);
    else if (type === "url" && !isUrl(value)) fail(`\`${value}\` is not an http(s) URL`);
    else if (type === "email" && !isEmail(value)) fail(`\`${value}\` is not an e-mail address`);
  } else if (type === "integer" || type === "number") {
    if (typeof value !== "number" || Number.isNaN(value) || (type === "integer" && !Number.isInteger(value))) {
      return fail(`expected ${type === "integer" ? "a whole number" : "a number"}, found ${jsonType(value)}`);
    }
    if (typeof spec.min === "number" && value < spec.min) fail(`must be at least ${spec.min}`);
    else if (typeof spec.max === "number" && value > spec.max) fail(`must be at most ${spec.max}`);
  } else if (type === "date" || type === "datetime") {
    const day = typeof value === "string" ? value.slice(0, 10) : "";
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return fail(`expected ${type === "date" ? "a date (YYYY-MM-DD)" : "a date-time (RFC 3339)"}, found ${jsonType(value)}`);
    const bound = (b) => (typeof b === "string" ? b.slice(0, 10) : null);
    if (bound(spec.min) && day < bound(spec.min)) fail(`must be on or after ${bound(spec.min)}`);
    else if (bound(spec.max) && day > bound(spec.max)) fail(`must be on or before ${bound(spec.max)}`);
  } else if (type === "enum") {
    if (!(spec.values || []).includes(value)) fail(`\`${value}\` is not one of: ${(spec.values || []).join(", ")}`);
  } else if (type === "list") {
    if (!Array.isArray(value)) return fail(`expected a list, found ${jsonType(value)}`);
    if (spec.min_items !== undefined && value.length < spec.min_items) fail(`needs at least ${spec.min_items} items, found ${value.length}`);
    if (spec.max_items !== undefined && value.length > spec.max_items) fail(`takes at most ${spec.max_items} items, found ${value.length}`);
    if (spec.items) value.forEach((item, i) => checkValue(spec.items, item === null ? spec.items.default : item, [...path, i], errors));
  } else if (type === "object") {
    if (typeof value !== "object" || Array.isArray(value)) return fail(`expected a mapping, found ${jsonType(value)}`);
    checkFields(spec.fields, value, path, errors);
  }
}

// Every field of a mapping (absent ones take their default first).
function checkFields(fields, map, prefix, errors) {
  for (const [n, s] of Object.entries(fields || {})) {
    const v = map[n] !== undefined && map[n] !== null ? map[n] : s.default;
    checkValue(s, v, [...prefix, n], errors);
  }
  return errors;
}

// ---- errors at their fields ----

// Shows userErrors (field paths as the server gives them) at their fields;
// `strip` lists leading path parts the form does not draw ("input", "output").
function showErrors(form, errors, strip = ["input", "output"]) {
  form.querySelectorAll(".field-error").forEach((p) => { p.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  const general = [];
  let first = null;
  for (const e of errors) {
    let path = (e.field || []).map(String);
    while (path.length && strip.includes(path[0]) && !form.querySelector(`[data-path="${CSS.escape(path.join("."))}"]`)) path = path.slice(1);
    // The nearest drawn field: the path itself, else its parents.
    let at = path.length;
    let el = null;
    while (at > 0 && !(el = form.querySelector(`[data-path="${CSS.escape(path.slice(0, at).join("."))}"]`))) at--;
    if (!el) { general.push(e.message); continue; }
    el.setAttribute("aria-invalid", "true");
    const p = form.querySelector(`#${CSS.escape(el.id)}-error`);
    const rest = path.slice(at).join(".");
    p.textContent = (p.textContent ? `${p.textContent} ` : "") + (rest ? `${rest}: ` : "") + e.message;
    first = first || el;
  }
  const note = form.querySelector(".form-note");
  if (note) note.replaceChildren(...general.map((m) => h("p", { class: "notice error" }, m)));
  if (first) (first.matches("fieldset") ? first.querySelector("input, select, textarea, button") || first : first).focus();
  say(`${errors.length} problem${errors.length === 1 ? "" : "s"} to fix`);
}
