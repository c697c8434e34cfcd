//! What an external client reads: an overdue approval's mail speaks to the
//! client, carries a fresh approval link that decides, and prints the due
//! time in the client's timezone as people write it; the approval page and
//! the task's title do the same.

use serde_json::json;

use crate::support::Server;

const FLOW: &str = r#"workflow: client-post
name: A post the client approves
roles: {writer: Writes, client: Approves}
inputs:
  publish_at: {type: datetime, required: true}
steps:
  draft:
    role: writer
    form:
      text: {type: text, required: true}
  review:
    type: approval
    role: client
    external: true
    after: [draft]
    due: 2h
    title: "vk post for {{ inputs.publish_at | local_time(workspace.timezone) }}"
"#;

#[tokio::test]
async fn an_overdue_approval_mail_gives_the_client_a_link_and_local_times() {
    let Some(sink) = crate::support::smtp::SmtpSink::start() else { return };
    for db in crate::support::databases() {
        let args = ["--smtp-url".to_string(), sink.url(), "--mail-from".into(), "SMM <smm@agency.example>".into()];
        let s = Server::start_with(db, &args.iter().map(String::as_str).collect::<Vec<_>>());
        s.deploy(FLOW).await;
        let ws = format!("msk-{db}");
        let create = "mutation($k: String!) { createWorkspace(input: {key: $k, name: \"Moscow Coffee\", timezone: \"Europe/Moscow\"}) { userErrors { message } } }";
        s.ok(&s.admin, create, json!({"k": ws})).await;
        let t = s.team(&ws, &[("lena", "lead"), ("wanda", "writer"), ("olga", "client")]).await;
        let start = "mutation($w: String!) { startInstance(input: {workflow: \"client-post\", workspace: $w, inputs: {publish_at: \"2030-03-15T06:00:00Z\"}}) { instance { id tasks { id } } userErrors { message } } }";
        let r = s.ok(&t["lena"], start, json!({"w": ws})).await;
        let draft = r["startInstance"]["instance"]["tasks"][0]["id"].clone();
        let complete = "mutation($t: ID!) { completeTask(input: {taskId: $t, output: {text: \"Spring menu\"}}) { userErrors { message } } }";
        s.ok(&t["wanda"], complete, json!({"t": draft})).await;
        let first = crate::reasons::link_for(&sink, &s.url, "olga", 1).await;

        // Three hours on: the approval is overdue, and the client is told so.
        let now = s.ok(&s.admin, "{ serverTime }", json!({})).await["serverTime"].as_str().unwrap().to_string();
        let later = (chrono::DateTime::parse_from_rfc3339(&now).unwrap() + chrono::Duration::hours(3)).to_rfc3339();
        s.ok(&s.admin, "mutation($to: DateTime!) { advanceClock(input: {to: $to}) { fired } }", json!({"to": later}))
            .await;
        let fresh = crate::reasons::link_for(&sink, &s.url, "olga", 2).await;
        assert_ne!(fresh, first, "{db}: the overdue mail carries a link of its own");
        let mails = sink.messages();
        let overdue = mails
            .iter()
            .find(|m| m["text"].as_str().unwrap_or("").contains(&fresh))
            .unwrap_or_else(|| panic!("{db}: no overdue mail for the client: {mails:?}"));
        let (subject, text) = (overdue["subject"].as_str().unwrap_or(""), overdue["text"].as_str().unwrap_or(""));
        assert!(
            subject.starts_with("Waiting for your decision: vk post for Fri 15 Mar 2030, 09:00 Moscow time"),
            "{db}: {subject}"
        );
        assert!(text.contains("still waiting") && text.contains("Moscow time"), "{db}: {text}");
        // The link's signed token is random base64 (it may hold "T0"): the
        // words around it are what the client reads.
        let words = text.replace(fresh.as_str(), "");
        for agency_talk in ["tell your lead", "Task id", "+00:00", "T0"] {
            assert!(!words.contains(agency_talk), "{db}: `{agency_talk}` in a client's mail: {text}");
        }
        // The page it opens shows the title and the due time the same way, and decides.
        let http = reqwest::Client::new();
        let page = http.get(&fresh).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("vk post for Fri 15 Mar 2030, 09:00 Moscow time"), "{db}: {page}");
        let token = fresh.rsplit('/').next().unwrap_or_default();
        assert!(!page.replace(token, "").contains("UTC"), "{db}: times on the page are the client's: {page}");
        let r = http.post(&fresh).form(&[("decision", "approve"), ("comment", "")]).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{db}");
        let q = "query($w: String!) { tasks(filter: {workspace: $w, status: [APPROVED]}) { totalCount } }";
        assert_eq!(s.ok(&t["lena"], q, json!({"w": ws})).await["tasks"]["totalCount"], 1, "{db}");
    }
}
