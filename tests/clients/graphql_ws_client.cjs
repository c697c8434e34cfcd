// The graphql-transport-ws protocol as the reference client (graphql-ws, on
// the `ws` package) meets it: a subscription sees an event that happens
// while it runs, a query over the socket answers and completes, a document
// that does not validate reaches the client's `error` callback (not `next`),
// and a bad token closes the socket with 4403.
//
// Environment: WS_URL, BASE_URL, TOKEN, TRIGGER (a GraphQL request body
// POSTed with the token while the subscription runs), EXPECT (a text the
// event shows), NODE_PATH (the installed packages).
"use strict";
const { createClient } = require("graphql-ws");
const WebSocket = require("ws");

const { WS_URL, BASE_URL, TOKEN, TRIGGER, EXPECT } = process.env;

function fail(what) {
  console.error(`FAILED: ${what}`);
  process.exit(1);
}

// What an error callback got: GraphQL errors, an Error, or a CloseEvent.
function describe(e) {
  if (!e) return "no error";
  if (Array.isArray(e)) return JSON.stringify(e);
  return `${e.constructor && e.constructor.name}: code=${e.code} reason=${e.reason} message=${e.message}`;
}

function client(token) {
  return createClient({
    url: WS_URL,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
  });
}

// Runs one operation; resolves with what the sink saw once it errors or
// completes, or once `until` says the answers so far are enough.
function run(c, payload, until = () => false, ms = 15000) {
  return new Promise((resolve) => {
    const seen = { next: [], error: null, complete: false };
    const timer = setTimeout(() => { stop(); resolve({ ...seen, timedOut: true }); }, ms);
    const stop = c.subscribe(payload, {
      next: (v) => {
        seen.next.push(v);
        if (until(seen)) { clearTimeout(timer); stop(); resolve(seen); }
      },
      error: (e) => { clearTimeout(timer); seen.error = e; resolve(seen); },
      complete: () => { clearTimeout(timer); seen.complete = true; resolve(seen); },
    });
  });
}

async function main() {
  const c = client(TOKEN);

  const viewer = await run(c, { query: "{ viewer { login } }" });
  if (!viewer.complete || viewer.next.length !== 1 || !viewer.next[0].data.viewer.login) {
    fail(`a query over the socket: ${describe(viewer.error)} ${JSON.stringify(viewer.next)}`);
  }

  const events = run(
    c,
    { query: "subscription { taskEvents { kind task { title } } }" },
    (s) => JSON.stringify(s.next).includes(EXPECT),
    30000,
  );
  // The client has no "subscribed" message to wait for: start work until an
  // event arrives (on a busy machine the subscription may take a moment).
  let seen = null;
  events.then((s) => { seen = s; });
  for (let i = 0; i < 10 && seen === null; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    if (seen !== null) break;
    const answer = await (await fetch(`${BASE_URL}/graphql`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` },
      body: TRIGGER,
    })).json();
    if (answer.errors) fail(`the trigger: ${JSON.stringify(answer)}`);
  }
  seen = await events;
  if (seen.timedOut || seen.error) fail(`the subscription never showed ${EXPECT}: ${describe(seen.error)} ${JSON.stringify(seen.next)}`);

  const invalid = await run(c, { query: "subscription { taskEvents { noSuchField } }" });
  if (!Array.isArray(invalid.error) || invalid.next.length !== 0) {
    fail(`a document that does not validate reaches error(): ${JSON.stringify(invalid)}`);
  }
  if (!JSON.stringify(invalid.error).includes("noSuchField")) fail(`the error names the field: ${JSON.stringify(invalid.error)}`);
  await c.dispose();

  const outsider = client("smf_not-a-token");
  const refused = await run(outsider, { query: "subscription { taskEvents { kind } }" });
  if (!refused.error || refused.error.code !== 4403) {
    fail(`a bad token closes with 4403: ${describe(refused.error)}`);
  }
  await outsider.dispose();
  console.log("graphql-ws checks passed");
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
