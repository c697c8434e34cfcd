// The console's form checks and clock conversions (crates/api/assets/console
// core.js + forms.js), run in Node as the browser runs them, so the Rust
// side can hold them against the server's own answers.
// Environment: CONSOLE_DIR, FORM (a task's `form` JSON), CASES (a JSON list
// of outputs), WALLS (a JSON list of [wall time, zone]).
// Prints one JSON line per case ({errors}) and per wall ({wall, zone, rfc3339, back}).
"use strict";
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const dir = process.env.CONSOLE_DIR;
const code = ["core.js", "forms.js"].map((f) => fs.readFileSync(path.join(dir, f), "utf8")).join("\n");
const ctx = vm.createContext({ Intl, Date, URL, console, CSS: { escape: (s) => s } });
vm.runInContext(`${code}\nthis.api = { checkFields, wallToRfc3339, instantToWall, compact };`, ctx);
const { api } = ctx;

const form = JSON.parse(process.env.FORM);
for (const output of JSON.parse(process.env.CASES)) {
  const errors = api.checkFields(form, output, [], []).map((e) => ({ field: e.field.map(String), message: e.message }));
  console.log(JSON.stringify({ errors }));
}
for (const [wall, zone] of JSON.parse(process.env.WALLS)) {
  const rfc3339 = api.wallToRfc3339(wall, zone);
  console.log(JSON.stringify({ wall, zone, rfc3339, back: api.instantToWall(rfc3339, zone) }));
}
console.log("forms checks passed");
