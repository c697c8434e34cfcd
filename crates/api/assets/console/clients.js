// smmflow console: the clients (workspaces) the viewer is in (#/clients),
// and one client's settings, posting limits and profile (#/client/<key>):
// the profile form is drawn from the deployed `kind: profile` document
// (Workspace.profileForm); leads of the client and admins save it with
// updateWorkspace, everybody else reads it.
"use strict";

const CLIENTS = `query { viewer { login name isAdmin memberships { role workspace { key } } }
  workspaces { key name timezone profileVersion postingLimits { channel maxPerDay minGap } } }`;

async function clientsPage() {
  const d = await gql(CLIENTS);
  showViewer(d.viewer);
  render(
    h("h1", {}, "Clients"),
    d.workspaces.length ? table(["Client", "Timezone", "Posting limits", "Profile version"],
      d.workspaces.map((w) => [h("a", { href: `#/client/${encodeURIComponent(w.key)}` }, w.name), w.timezone,
        limitsText(w.postingLimits), String(w.profileVersion)]))
      : h("p", { class: "notice" }, "You are in no client's team yet."));
}

function limitsText(limits) {
  if (!limits.length) return "none";
  return limits.map((l) => `${l.channel === "*" ? "every channel" : l.channel}: ${l.maxPerDay ? `${l.maxPerDay} a day` : "any number"}${l.minGap ? `, ${l.minGap} apart` : ""}`).join("; ");
}

const CLIENT = `query($k: String!) { viewer { login name isAdmin memberships { role workspace { key } } }
  workspace(key: $k) { key name timezone calendar profile profileForm profileVersion
    postingLimits { channel maxPerDay minGap }
    profileHistory { version changedAt changedBy { login } } } }`;

// What a posting limit is, as a field spec (the server checks it again).
const LIMIT = {
  type: "object",
  fields: {
    channel: { type: "string", required: true, label: "Channel (* for every channel)", max_length: 64 },
    maxPerDay: { type: "integer", min: 1, label: "At most per day" },
    minGap: { type: "string", label: "At least apart (such as 3h)", max_length: 16 },
  },
};

const SETTINGS = {
  name: { type: "string", required: true, label: "Name", max_length: 200 },
  timezone: { type: "string", required: true, label: "Timezone (IANA, such as Europe/Moscow)", max_length: 64 },
  calendar: { type: "string", label: "Business calendar (a deployed calendar's key)", max_length: 64 },
};

async function clientPage(key) {
  const d = await gql(CLIENT, { k: key });
  showViewer(d.viewer);
  const w = d.workspace;
  if (!w) return render(h("h1", {}, "Not found"), h("p", {}, "This client does not exist, or you are not in its team."), h("a", { href: "#/clients" }, "Back to clients"));
  const canEdit = d.viewer.isAdmin || d.viewer.memberships.some((m) => m.workspace.key === key && m.role === "lead");
  const ctx = { zone: knownZone(w.timezone) };
  const limitsSpec = { type: "list", label: "Posting limits", items: LIMIT,
    help: "Days count in the client's timezone; a limit on * holds for every channel without its own." };
  const form = h("form", { novalidate: true, onsubmit: (e) => e.preventDefault() },
    h("div", { class: "form-note", role: "alert" }),
    h("fieldset", { disabled: !canEdit, class: "plain" },
      h("h2", {}, "Settings"),
      fieldsNodes([], SETTINGS, w, ctx),
      h("h2", {}, "Posting limits"),
      fieldNode(["postingLimits"], limitsSpec, w.postingLimits.map((l) => Object.fromEntries(Object.entries(l).filter(([, v]) => v !== null))), ctx),
      h("h2", {}, "Profile"),
      Object.keys(w.profileForm || {}).length ? fieldsNodes(["profile"], w.profileForm, w.profile, ctx)
        : h("p", { class: "meta" }, "No profile document is deployed (workflows/profile.yaml).")),
    canEdit ? h("div", { class: "actions" }, h("button", { type: "submit", id: "save", onclick: () => saveClient(form, w) }, "Save")) : null);
  render(
    h("p", {}, h("a", { href: "#/clients" }, "← Clients")),
    h("h1", {}, w.name),
    h("p", { class: "meta" }, `${w.key} · ${w.timezone} · profile version ${w.profileVersion}`,
      canEdit ? "" : " · only the client's leads and admins change it"),
    form,
    h("h2", {}, "Profile history"),
    w.profileHistory.length ? h("ol", { class: "log", id: "history" }, w.profileHistory.map((v) => h("li", {},
      `version ${v.version} · ${when(v.changedAt)}`, v.changedBy ? ` · ${v.changedBy.login}` : ""))) : h("p", { class: "meta" }, "Never changed."));
}

async function saveClient(form, w) {
  const settings = readFields(form, [], SETTINGS);
  const limits = readAt(form, ["postingLimits"], { type: "list", items: LIMIT }) || [];
  const profile = readFields(form, ["profile"], w.profileForm);
  const errors = checkFields(SETTINGS, settings, [], []);
  checkValue({ type: "list", items: LIMIT }, limits, ["postingLimits"], errors);
  checkFields(w.profileForm, profile, ["profile"], errors);
  if (errors.length) return showErrors(form, errors, []);
  const input = { workspace: w.key, name: settings.name, timezone: settings.timezone, calendar: settings.calendar || "", profile: compact(profile), postingLimits: compact(limits) };
  try {
    const r = await gql("mutation($i: UpdateWorkspaceInput!) { updateWorkspace(input: $i) { workspace { profileVersion } userErrors { field message } } }", { i: input });
    const p = r.updateWorkspace;
    if (p.userErrors.length) return showErrors(form, p.userErrors, ["input"]);
    await clientPage(w.key);
    say(`Saved: profile version ${p.workspace.profileVersion}`);
    view().prepend(h("p", { class: "notice ok", role: "status" }, `Saved. Profile version ${p.workspace.profileVersion}.`));
  } catch (e) {
    if (!(e instanceof Stale)) showErrors(form, [{ field: [], message: e.message }], []);
  }
}
