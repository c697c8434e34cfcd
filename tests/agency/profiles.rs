//! A workspace is a client: settings, a typed profile checked against the
//! deployed `kind: profile` document with every version kept, `workspace`
//! in workflows (pinned per instance), and `update_profile` steps.

use serde_json::{Value, json};

use crate::support::{Server, databases};
use crate::{create_client, deploy, join};

const SETTINGS: &str = "workspace { key name timezone calendar profile profileVersion postingLimits { channel maxPerDay minGap } profileHistory { version changedBy { login } profile } }";

async fn update(s: &Server, token: &str, input: Value) -> Value {
    let q = format!(
        "mutation($in: UpdateWorkspaceInput!) {{ updateWorkspace(input: $in) {{ {SETTINGS} userErrors {{ field message code }} }} }}"
    );
    let r = s.gql(token, &q, json!({"in": input})).await;
    r.get("data").and_then(|d| d.get("updateWorkspace")).cloned().filter(|v| !v.is_null()).unwrap_or(r)
}

async fn settings(s: &Server, token: &str, key: &str) -> Value {
    let q = "query($k: String!) { workspace(key: $k) { key timezone profile profileVersion } }";
    s.ok(token, q, json!({"k": key})).await["workspace"].clone()
}

#[tokio::test]
async fn a_client_has_settings_and_a_profile_checked_on_every_write() {
    for db in databases() {
        let s = Server::start(db);
        let profile = json!({"platforms": ["instagram", "telegram"], "services": ["weekly_content"],
            "kpis": [{"name": "reach", "target": 150000, "unit": "people", "by": "2027-06-30"}]});
        let r = create_client(&s, "bloom", "Asia/Vladivostok", profile).await;
        assert_eq!(r["userErrors"], json!([]), "{db}: {r}");
        let w = &r["workspace"];
        assert_eq!(w["timezone"], "Asia/Vladivostok", "{db}");
        assert_eq!(w["profileVersion"], 1, "{db}");
        // Defaults of the library's profile are filled in; new clients get its posting limits.
        assert_eq!(w["profile"]["rubrics"].as_array().map(Vec::len), Some(5), "{db}: {w}");
        assert_eq!(w["postingLimits"], json!([{"channel": "*", "maxPerDay": 2, "minGap": "3h"}]), "{db}");

        let t = join(&s, "bloom", &[("lena", "lead"), ("max", "copywriter")]).await;
        // A profile that breaks its schema is refused with the field path, and nothing changes.
        let bad = json!({"kpis": [{"name": "reach", "target": "a lot"}], "platforms": ["myspace"]});
        let r = update(&s, &t["lena"], json!({"workspace": "bloom", "profile": bad})).await;
        let fields: Vec<Value> = r["userErrors"].as_array().unwrap().iter().map(|e| e["field"].clone()).collect();
        assert!(fields.contains(&json!(["profile", "kpis", "0", "target"])), "{db}: {r}");
        assert!(fields.contains(&json!(["profile", "platforms", "0"])), "{db}: {r}");
        assert!(r["workspace"].is_null(), "{db}: {r}");
        let now = settings(&s, &t["lena"], "bloom").await;
        assert_eq!(now["profileVersion"], 1, "{db}: {now}");
        assert_eq!(now["profile"]["platforms"], json!(["instagram", "telegram"]), "{db}");
        // Unknown timezone and calendar, and hostile limits, are refused at their fields.
        let r = update(
            &s,
            &t["lena"],
            json!({"workspace": "bloom", "timezone": "Mars/Olympus", "calendar": "nope",
            "postingLimits": [{"channel": "*", "maxPerDay": 0}]}),
        )
        .await;
        let fields: Vec<Value> = r["userErrors"].as_array().unwrap().iter().map(|e| e["field"].clone()).collect();
        assert!(fields.contains(&json!(["timezone"])) && fields.contains(&json!(["calendar"])), "{db}: {r}");
        assert!(fields.contains(&json!(["postingLimits", "0"])), "{db}: {r}");
        // A lead's valid change is the next version, kept with who made it.
        let good = json!({"platforms": ["instagram"], "services": ["weekly_content", "monthly_report"], "notes": "Prefers reels"});
        let r = update(&s, &t["lena"], json!({"workspace": "bloom", "profile": good, "timezone": "Europe/Moscow",
            "calendar": "agency-hours", "postingLimits": [{"channel": "instagram", "maxPerDay": 1}, {"channel": "*", "maxPerDay": 3, "minGap": "2h"}]}))
        .await;
        assert_eq!(r["userErrors"], json!([]), "{db}: {r}");
        let w = &r["workspace"];
        assert_eq!(
            (w["profileVersion"].clone(), w["timezone"].clone(), w["calendar"].clone()),
            (json!(2), json!("Europe/Moscow"), json!("agency-hours")),
            "{db}: {w}"
        );
        assert_eq!(w["profile"]["notes"], "Prefers reels", "{db}");
        let history = w["profileHistory"].as_array().unwrap();
        assert_eq!(history.len(), 2, "{db}: {w}");
        assert_eq!(
            (history[0]["version"].clone(), history[0]["changedBy"]["login"].clone()),
            (json!(2), json!("lena")),
            "{db}"
        );
        assert_eq!(history[1]["profile"]["platforms"], json!(["instagram", "telegram"]), "{db}");
        assert_eq!(w["postingLimits"][0], json!({"channel": "instagram", "maxPerDay": 1, "minGap": null}), "{db}");

        // A member who is not a lead may read but not change; an outsider sees nothing.
        let r = s
            .gql(
                &t["max"],
                "mutation { updateWorkspace(input: {workspace: \"bloom\", name: \"Mine\"}) { workspace { key } } }",
                json!({}),
            )
            .await;
        assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{db}: {r}");
        assert_eq!(settings(&s, &t["max"], "bloom").await["profile"]["notes"], "Prefers reels", "{db}");
        create_client(&s, "rival", "UTC", json!({})).await;
        let o = join(&s, "rival", &[("olga", "lead")]).await;
        let r = s.gql(&o["olga"], "{ workspace(key: \"bloom\") { profile } }", json!({})).await;
        assert_eq!(r["data"]["workspace"], Value::Null, "{db}: {r}");
        let r = s
            .gql(
                &o["olga"],
                "mutation { updateWorkspace(input: {workspace: \"bloom\", profile: {}}) { workspace { key } } }",
                json!({}),
            )
            .await;
        assert_eq!(r["errors"][0]["extensions"]["code"], "NOT_FOUND", "{db}: {r}");
        assert_eq!(settings(&s, &s.admin, "bloom").await["profileVersion"], 2, "{db}");
    }
}

const PROFILED: &str = r#"workflow: profiled
name: Reads and writes the profile
roles: {smm_manager: Runs the client}
steps:
  intake:
    title: "Intake for {{ workspace.name }} on {{ workspace.profile.platforms | join(', ') }}"
    role: smm_manager
    form:
      notes: {type: text, required: true}
      rubrics: {type: list, items: {type: string}}
  record:
    type: update_profile
    after: [intake]
    set:
      notes: "{{ steps.intake.output.notes }}"
      rubrics: "{{ steps.intake.output.rubrics }}"
  check:
    title: "Check {{ workspace.profile.notes }}"
    role: smm_manager
    after: [record]
"#;

async fn start(s: &Server, token: &str, ws: &str) -> Value {
    let r = s
        .ok(
            token,
            "mutation($ws: String!) { startInstance(input: {workflow: \"profiled\", workspace: $ws}) { instance { id tasks { id title status } } userErrors { message } } }",
            json!({"ws": ws}),
        )
        .await;
    r["startInstance"]["instance"].clone()
}

async fn instance(s: &Server, token: &str, id: &Value) -> Value {
    s.ok(
        token,
        "query($id: ID!) { instance(id: $id) { status steps { id status incident } tasks { id title status } } }",
        json!({"id": id}),
    )
    .await["instance"]
        .clone()
}

#[tokio::test]
async fn workflows_read_the_profile_as_it_was_and_update_profile_writes_it() {
    for db in databases() {
        let s = Server::start(db);
        assert_eq!(deploy(&s, &s.admin, PROFILED).await["userErrors"], json!([]), "{db}");
        create_client(&s, "bloom", "UTC", json!({"platforms": ["vk", "telegram"], "notes": "first"})).await;
        let t = join(&s, "bloom", &[("sam", "smm_manager"), ("lena", "lead")]).await;
        let a = start(&s, &t["lena"], "bloom").await;
        assert_eq!(a["tasks"][0]["title"], "Intake for bloom on vk, telegram", "{db}: {a}");
        // The step writes the profile; a new version, by the person whose work it records.
        let done = s
            .ok(&t["sam"], "mutation($id: ID!) { completeTask(input: {taskId: $id, output: {notes: \"Loves cats\", rubrics: [\"cats\", \"offers\"]}}) { userErrors { message } } }", json!({"id": a["tasks"][0]["id"]}))
            .await;
        assert_eq!(done["completeTask"]["userErrors"], json!([]), "{db}");
        let w = s
            .ok(
                &t["lena"],
                "{ workspace(key: \"bloom\") { profile profileVersion profileHistory { changedBy { login } } } }",
                json!({}),
            )
            .await;
        assert_eq!(w["workspace"]["profile"]["notes"], "Loves cats", "{db}: {w}");
        assert_eq!(w["workspace"]["profile"]["rubrics"], json!(["cats", "offers"]), "{db}");
        assert_eq!(w["workspace"]["profileHistory"][0]["changedBy"]["login"], "sam", "{db}: {w}");
        // The instance reads the workspace as it was when it started (pinned).
        let a = instance(&s, &t["lena"], &a["id"]).await;
        assert_eq!(a["tasks"][1]["title"], "Check first", "{db}: {a}");
        // Data the form takes but the profile does not (a rubric over 80
        // characters) is an incident on the step, never a half-written profile.
        let b = start(&s, &t["lena"], "bloom").await;
        let long = "r".repeat(81);
        let r = s
            .ok(&t["sam"], "mutation($id: ID!, $r: String!) { completeTask(input: {taskId: $id, output: {notes: \"changed\", rubrics: [$r]}}) { userErrors { message } } }", json!({"id": b["tasks"][0]["id"], "r": long}))
            .await;
        assert_eq!(r["completeTask"]["userErrors"], json!([]), "{db}: {r}");
        let b = instance(&s, &t["lena"], &b["id"]).await;
        let record = b["steps"].as_array().unwrap().iter().find(|st| st["id"] == "record").unwrap().clone();
        assert!(record["incident"].as_str().unwrap_or("").contains("rubrics.0"), "{db}: {b}");
        let w = s.ok(&t["lena"], "{ workspace(key: \"bloom\") { profile profileVersion } }", json!({})).await;
        assert_eq!(
            (w["workspace"]["profileVersion"].clone(), w["workspace"]["profile"]["notes"].clone()),
            (json!(2), json!("Loves cats")),
            "{db}: {w}"
        );
    }
}

#[tokio::test]
async fn the_validator_checks_profile_documents_and_update_profile_steps() {
    for db in databases().into_iter().take(1) {
        let s = Server::start(db);
        let wrong = PROFILED.replace(
            "      notes: \"{{ steps.intake.output.notes }}\"",
            "      notez: \"{{ steps.intake.output.notes }}\"",
        );
        let r = deploy(&s, &s.admin, &wrong).await;
        assert_eq!(r["userErrors"][0]["code"], "E052", "{db}: {r}");
        assert!(r["userErrors"][0]["message"].as_str().unwrap().contains("notez"), "{db}: {r}");
        let profile = "kind: profile\nfields:\n  tier: {type: enum, values: [gold, silver], required: true}\n";
        let r = deploy(&s, &s.admin, profile).await;
        assert_eq!(r["userErrors"][0]["code"], "E051", "{db}: {r}");
        // The profile shapes every client: a deployer who is not an admin may not change it.
        create_client(&s, "alpha", "UTC", json!({})).await;
        let t = join(&s, "alpha", &[("lena", "lead")]).await;
        s.ok(
            &s.admin,
            "mutation { updateUser(input: {user: \"lena\", canDeployWorkflows: true}) { userErrors { message } } }",
            json!({}),
        )
        .await;
        let fine = "kind: profile\nfields:\n  tier: {type: enum, values: [gold, silver], default: silver}\n";
        let r = deploy(&s, &t["lena"], fine).await;
        assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{db}: {r}");
        assert_eq!(deploy(&s, &s.admin, fine).await["created"], true, "{db}");
    }
}
