//! The console in a real browser (tests/clients/console_browser.py): what a
//! specialist does in it, and what the API shows afterwards.

use serde_json::json;

use crate::support::smtp::SmtpSink;
use crate::{ask, server, wait_links};

/// The tests' Python (scripts/test sets SMMFLOW_TEST_PYTHON), or None after
/// saying that `what` was skipped without it.
fn python(what: &str) -> Option<String> {
    let python = std::env::var("SMMFLOW_TEST_PYTHON").ok();
    if python.is_none() {
        crate::support::skipped(&format!("SKIPPED: {what} needs SMMFLOW_TEST_PYTHON (scripts/test sets it)"));
    }
    python
}

/// Runs a browser check of tests/clients/ (screenshots into
/// target/tmp/console): it must print `expect` and its pages' audit.
async fn in_browser(python: &str, script: &str, env: &[(&str, String)], expect: &str) {
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console");
    std::fs::create_dir_all(&shots).unwrap();
    let mut env = env.to_vec();
    env.push(("SMMFLOW_SHOTS", shots.display().to_string()));
    let out = crate::support::run_client(python, script, &env, expect, script).await;
    assert!(out.contains("no violations"), "{script}: the pages were not audited: {out}");
    println!("{out}");
}

const FLOW: &str = r#"workflow: console-post
name: Console post
roles: {writer: Writes, editor: Reviews, lead: Leads}
inputs:
  topic: {type: string, required: true}
steps:
  draft:
    role: writer
    title: "Draft: {{ inputs.topic }}"
    due: 2h
    instructions: |
      Write **one** short post about {{ inputs.topic }}.

      - friendly
      - no prices
    form:
      text: {type: text, required: true, max_length: 280}
      words: {type: integer, required: true, min: 1}
      posts:
        type: list
        label: When it goes out
        publications: {at: publish_at, channel: channel}
        items:
          type: object
          fields:
            publish_at: {type: datetime, required: true}
            channel: {type: enum, values: [vk, telegram], required: true}
  review:
    type: approval
    role: editor
    after: draft
    title: "Review: {{ inputs.topic }}"
    reasons: [off_brief, too_long, typos]
    on_reject: {goto: draft, max_rounds: 3}
"#;

const LIMITS: &str = "mutation { updateWorkspace(input: {workspace: \"acme\", timezone: \"Europe/Moscow\", postingLimits: [{channel: \"*\", maxPerDay: 2, minGap: \"3h\"}]}) { userErrors { message } } }";

const START: &str = "mutation($w: String!, $t: String!) { startInstance(input: {workflow: \"console-post\", workspace: $w, inputs: {topic: $t}}) { instance { id tasks { id } } userErrors { message } } }";

#[tokio::test]
async fn a_specialist_works_through_the_console() {
    let Some(python) = python("the console's browser check") else { return };
    let Some(sink) = SmtpSink::start() else { return };
    let s = server(&sink);
    s.deploy(FLOW).await;
    let t = s.team("acme", &[("lena", "lead"), ("wanda", "writer"), ("eddie", "editor")]).await;
    let b = s.team("beta", &[("bob", "lead"), ("bert", "writer")]).await;
    let r = s.ok(&t["lena"], LIMITS, json!({})).await;
    assert_eq!(r["updateWorkspace"]["userErrors"], json!([]), "{r}");
    for topic in ["spring menu", "opening hours"] {
        s.ok(&t["lena"], START, json!({"w": "acme", "t": topic})).await;
    }
    let other = s.ok(&b["bob"], START, json!({"w": "beta", "t": "beta secret"})).await;
    let other_task = other["startInstance"]["instance"]["tasks"][0]["id"].as_str().unwrap().to_string();
    ask(&s, "wanda@agency.example").await;
    ask(&s, "eddie@agency.example").await;
    let writer = wait_links(&sink, &s, "wanda", 1).await.remove(0);
    let reviewer = wait_links(&sink, &s, "eddie", 1).await.remove(0);

    let start = json!({"query": START, "variables": {"w": "acme", "t": "live news"}});
    let env = [
        ("BASE_URL", s.url.clone()),
        ("WRITER_LINK", writer),
        ("REVIEWER_LINK", reviewer),
        ("LEAD_TOKEN", t["lena"].clone()),
        ("START", start.to_string()),
        ("OTHER_TASK", other_task),
    ];
    in_browser(&python, "console_browser.py", &env, "console checks passed").await;

    // What the browser did is what the API shows.
    let q = r#"{ instances(filter: {workspace: "acme"}, first: 10) { nodes { status inputs events { kind actor { login } } } } }"#;
    let r = s.ok(&t["lena"], q, json!({})).await;
    let spring =
        r["instances"]["nodes"].as_array().unwrap().iter().find(|i| i["inputs"]["topic"] == "spring menu").unwrap();
    assert_eq!(spring["status"], "COMPLETED", "{spring}");
    let kinds: Vec<(&str, &str)> = spring["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"].as_str().is_some_and(|k| k == "task.rejected" || k == "task.approved"))
        .map(|e| (e["kind"].as_str().unwrap(), e["actor"]["login"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(kinds, [("task.rejected", "eddie"), ("task.approved", "eddie")]);
    // The posts were entered on Moscow's wall clock and kept as instants.
    let q = r#"{ tasks(filter: {workspace: "acme", status: [COMPLETED, REJECTED]}, first: 20) { nodes { step { id } round output } } }"#;
    let done = s.ok(&t["lena"], q, json!({})).await;
    let nodes = done["tasks"]["nodes"].as_array().unwrap();
    let draft = nodes.iter().find(|n| n["step"]["id"] == "draft" && n["round"] == 2).expect("the second round's draft");
    let times: Vec<&str> =
        draft["output"]["posts"].as_array().unwrap().iter().map(|p| p["publish_at"].as_str().unwrap()).collect();
    assert_eq!(times, ["2030-06-10T10:00:00+03:00", "2030-06-10T15:00:00+03:00"], "{draft}");
    let rejected = nodes.iter().find(|n| n["output"]["decision"] == "rejected").expect("the rejection");
    assert_eq!(rejected["output"]["reasons"], json!(["too_long"]), "{rejected}");
    assert_eq!(r["instances"]["nodes"].as_array().unwrap().len(), 3, "the live one was started");
}

const PUBLISHING: &str = r#"workflow: console-publication
name: A publication
roles: {writer: Writes, lead: Leads}
inputs:
  publish_at: {type: datetime, required: true}
  topic: {type: string, required: true}
publication:
  at: "{{ inputs.publish_at }}"
  channel: telegram
  title: "{{ inputs.topic }}"
steps:
  copy: {role: writer, due: 1d}
"#;

/// Three clients in three timezones: each publication on its client's own
/// day, in the lead's week and month, one client alone, no other client.
#[tokio::test]
async fn the_calendar_puts_each_client_s_posts_on_their_own_days() {
    let Some(python) = python("the calendar's browser check") else { return };
    let Some(sink) = SmtpSink::start() else { return };
    let s = server(&sink);
    s.deploy(PUBLISHING).await;
    let create = "mutation($k: String!, $tz: String!) { createWorkspace(input: {key: $k, name: $k, timezone: $tz}) { userErrors { message } } }";
    // (workspace, timezone, publish at, its local day and time)
    let posts = [
        ("moscow", "Europe/Moscow", "2027-03-16T00:30:00+03:00", "2027-03-16", "00:30"),
        ("newyork", "America/New_York", "2027-03-17T22:00:00-04:00", "2027-03-17", "22:00"),
        ("tokyo", "Asia/Tokyo", "2027-03-19T08:00:00+09:00", "2027-03-19", "08:00"),
        ("elsewhere", "UTC", "2027-03-16T12:00:00Z", "2027-03-16", "12:00"),
    ];
    for (ws, tz, at, _, _) in posts {
        s.ok(&s.admin, create, json!({"k": ws, "tz": tz})).await;
        let people: &[(&str, &str)] = if ws == "elsewhere" { &[("olaf", "lead")] } else { &[("lena", "lead")] };
        let t = s.team(ws, people).await;
        let token = t.values().next().unwrap().clone();
        let start = "mutation($w: String!, $at: String!, $t: String!) { startInstance(input: {workflow: \"console-publication\", workspace: $w, inputs: {publish_at: $at, topic: $t}}) { userErrors { message } } }";
        let r = s.ok(&token, start, json!({"w": ws, "at": at, "t": format!("{ws} post")})).await;
        assert_eq!(r["startInstance"]["userErrors"], json!([]), "{ws}: {r}");
    }
    ask(&s, "lena@agency.example").await;
    let link = wait_links(&sink, &s, "lena", 1).await.remove(0);
    let expect: Vec<[String; 4]> = posts
        .iter()
        .filter(|p| p.0 != "elsewhere")
        .map(|(ws, _, _, day, time)| [ws.to_string(), day.to_string(), time.to_string(), format!("{ws} post")])
        .collect();
    let env = [
        ("BASE_URL", s.url.clone()),
        ("SIGN_IN_LINK", link),
        ("EXPECT", json!(expect).to_string()),
        ("HIDDEN", "elsewhere post".to_string()),
    ];
    in_browser(&python, "calendar_browser.py", &env, "calendar checks passed").await;
}

/// A lead keeps a client's profile and posting limits in the console (the
/// form drawn from the library's profile document); a writer reads them;
/// the workflows and their diagrams.
#[tokio::test]
async fn a_lead_keeps_a_client_s_profile_in_the_console() {
    let Some(python) = python("the clients page's browser check") else { return };
    let Some(sink) = SmtpSink::start() else { return };
    let s = server(&sink);
    let profile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/workflows/profile.yaml")).unwrap();
    s.deploy(&profile).await;
    s.deploy(FLOW).await;
    let create = "mutation($k: String!, $n: String!) { createWorkspace(input: {key: $k, name: $n, timezone: \"Europe/Moscow\"}) { userErrors { message } } }";
    s.ok(&s.admin, create, json!({"k": "acme", "n": "Acme Coffee"})).await;
    let t = s.team("acme", &[("lena", "lead"), ("wanda", "writer")]).await;
    s.team("hidden", &[("hugo", "lead")]).await;
    ask(&s, "lena@agency.example").await;
    ask(&s, "wanda@agency.example").await;
    let lead = wait_links(&sink, &s, "lena", 1).await.remove(0);
    let writer = wait_links(&sink, &s, "wanda", 1).await.remove(0);
    let env =
        [("BASE_URL", s.url.clone()), ("LEAD_LINK", lead), ("WRITER_LINK", writer), ("OTHER", "hidden".to_string())];
    in_browser(&python, "clients_browser.py", &env, "clients checks passed").await;

    // What the lead saved is what the API shows: one new version, by lena.
    let q = r#"{ workspace(key: "acme") { profile profileVersion postingLimits { channel maxPerDay minGap } profileHistory { version changedBy { login } } } }"#;
    let r = s.ok(&t["wanda"], q, json!({})).await;
    let w = &r["workspace"];
    assert_eq!(w["profile"]["kpis"], json!([{"name": "reach", "target": 50000}]), "{w}");
    assert_eq!(w["profile"]["platforms"], json!(["vk", "telegram", "instagram"]), "{w}");
    assert_eq!(w["postingLimits"], json!([{"channel": "*", "maxPerDay": 2, "minGap": "3h"}]), "{w}");
    assert_eq!(w["profileVersion"], 2, "{w}");
    assert_eq!(w["profileHistory"][0]["changedBy"]["login"], "lena", "{w}");
}

/// More open work than one page: the first 100 and the total, then the
/// rest on demand, each task once.
#[tokio::test]
async fn my_work_shows_more_than_one_page_on_demand() {
    let Some(python) = python("My work's paging check") else { return };
    let Some(sink) = SmtpSink::start() else { return };
    let s = server(&sink);
    s.deploy(FLOW).await;
    let t = s.team("acme", &[("lena", "lead"), ("wanda", "writer")]).await;
    let total = 130;
    for n in 0..total {
        let r = s.ok(&t["lena"], START, json!({"w": "acme", "t": format!("post {n}")})).await;
        assert_eq!(r["startInstance"]["userErrors"], json!([]), "{r}");
    }
    ask(&s, "wanda@agency.example").await;
    let link = wait_links(&sink, &s, "wanda", 1).await.remove(0);
    let env = [("BASE_URL", s.url.clone()), ("SIGN_IN_LINK", link), ("TOTAL", total.to_string())];
    in_browser(&python, "my_work_pages.py", &env, "my work pages checks passed").await;
}
