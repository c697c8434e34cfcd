// smmflow console: the frame: who is signed in, the routes, sign-out.
"use strict";


function route() {
  const m = location.hash.match(/^#\/task\/(.+)$/);
  if (m) return { page: "task", id: decodeURIComponent(m[1]) };
  const inst = location.hash.match(/^#\/instance\/(.+)$/);
  if (inst) return { page: "instance", id: decodeURIComponent(inst[1]) };
  const wf = location.hash.match(/^#\/workflow\/([^?]+)(?:\?(.*))?$/);
  if (wf) return { page: "workflow", id: decodeURIComponent(wf[1]), params: new URLSearchParams(wf[2] || "") };
  if (location.hash === "#/workflows") return { page: "workflows" };
  const cl = location.hash.match(/^#\/client\/(.+)$/);
  if (cl) return { page: "client", id: decodeURIComponent(cl[1]) };
  if (location.hash === "#/clients") return { page: "clients" };
  const b = location.hash.match(/^#\/board(?:\?(.*))?$/);
  if (b) return { page: "board", params: new URLSearchParams(b[1] || "") };
  const c = location.hash.match(/^#\/calendar(?:\?(.*))?$/);
  if (c) return { page: "calendar", params: new URLSearchParams(c[1] || "") };
  return { page: "inbox" };
}

async function show() {
  const r = route();
  navigation++; // answers to the previous page's requests are dropped now
  if (r.page !== "inbox" && live) { live.stop(); live = null; }
  try {
    if (r.page === "task") await taskPage(r.id);
    else if (r.page === "calendar") await calendarPage(r.params);
    else if (r.page === "instance") await instancePage(r.id);
    else if (r.page === "board") await boardPage(r.params);
    else if (r.page === "workflows") await workflowsPage();
    else if (r.page === "workflow") await workflowPage(r.id, r.params);
    else if (r.page === "clients") await clientsPage();
    else if (r.page === "client") await clientPage(r.id);
    else await inboxPage();
  } catch (e) {
    if (e instanceof Stale) return;
    if (e.code === "UNAUTHENTICATED") signInPage();
    else if (e.code === "NOT_FOUND" || e.code === "FORBIDDEN") {
      render(h("h1", {}, "Not found"), h("p", {}, "This does not exist, or it is not yours to see."), h("a", { href: "#/" }, "Back to my work"));
    } else render(h("h1", {}, "Something went wrong"), h("p", { class: "notice error" }, e.message));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("sign-out").addEventListener("click", async () => {
    if (live) { live.stop(); live = null; }
    const r = await fetch("/app/sign-out", { method: "POST", credentials: "same-origin", headers: CSRF }).catch(() => null);
    if (!r || !r.ok) {
      say("Signing out failed; try again.");
      render(h("h1", {}, "Not signed out"), h("p", { class: "notice error" }, `The server did not end the session (${r ? `HTTP ${r.status}` : "no answer"}). Try again.`));
      return;
    }
    signInPage("You are signed out.");
  });
  window.addEventListener("hashchange", show);
  show();
});
