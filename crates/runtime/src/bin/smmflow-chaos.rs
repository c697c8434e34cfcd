//! A command stream for crash-safety tests: it keeps starting instances of
//! a small workflow, doing their tasks and firing their timers, and prints
//! `ACK <instance> <seq>` after every committed command. Tests SIGKILL it at
//! random moments, restart it, and check the database afterwards.
//!
//! Usage: `smmflow-chaos DATABASE_URL [MAX_RUNNING]`

use std::io::Write;
use std::sync::Arc;

use serde_json::json;
use smmflow_engine::Command;
use smmflow_runtime::{Options, Runtime, StartRequest, SystemClock};
use smmflow_store::{TaskFilter, User};

/// The workflow the stream runs: work, a 1-second wait (timers that come due
/// while the process is down), a review with rework, and a reminder timer.
pub const CHAOS_FLOW: &str = r#"
workflow: chaos-flow
name: Chaos flow
roles: {writer: Writes, editor: Edits}
steps:
  draft:
    role: writer
    due: 2s
    form:
      text: {type: text, required: true}
  settle:
    type: wait
    after: [draft]
    duration: 1s
  review:
    type: approval
    role: editor
    after: [settle]
    on_reject: {goto: draft, max_rounds: 2}
"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: smmflow-chaos DATABASE_URL [MAX_RUNNING]")?;
    let max_running: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(4);
    let store = smmflow_store::Store::connect(&url).await?;
    let (rt, _) = Runtime::open(Options {
        database_url: url,
        workflows: None,
        clock: Arc::new(SystemClock),
        node: format!("chaos-{}", std::process::id()),
    })
    .await?;
    rt.system().deploy(CHAOS_FLOW, smmflow_runtime::Deployer::System).await?;
    let now = rt.now();
    if !store.workspace_exists("chaos").await? {
        store.create_workspace("chaos", "Chaos", now).await?;
        for (login, role) in [("wanda", "writer"), ("eddie", "editor")] {
            let user = User {
                login: login.into(),
                email: format!("{login}@example.com"),
                name: None,
                is_admin: false,
                notification_mode: "immediate".into(),
                can_deploy_workflows: false,
            };
            store.create_user(&user, now).await?;
            store.add_member("chaos", login, role, now).await?;
        }
    }
    let out = std::io::stdout();
    let mut n: u64 = 0;
    loop {
        n += 1;
        rt.fire_due_timers().await?;
        let active =
            store.tasks(&TaskFilter { statuses: vec!["open".into(), "claimed".into()], ..Default::default() }).await?;
        let running = store.instance_ids().await?.len();
        let result = if active.is_empty() || (running < 1000 && active.len() < max_running && n.is_multiple_of(3)) {
            let req = StartRequest {
                workflow: "chaos-flow".into(),
                workspace: "chaos".into(),
                inputs: json!({}),
                actor: "wanda".into(),
                idempotency_key: None,
            };
            rt.system().start(req).await
        } else {
            let t = &active[(n as usize) % active.len()];
            let cmd = match (t.kind.as_str(), n % 4) {
                ("approval", 0) => Command::Reject { task: t.no, comment: "again".into(), reasons: vec![] },
                ("approval", _) => Command::Approve { task: t.no, comment: None },
                _ => Command::Complete { task: t.no, output: json!({"text": format!("draft {n}")}) },
            };
            let user = if t.kind == "approval" { "eddie" } else { "wanda" };
            rt.system().command(t.instance_id, user, cmd).await
        };
        match result {
            Ok(inst) => {
                let mut o = out.lock();
                writeln!(o, "ACK {} {}", inst.id, inst.seq)?;
                o.flush()?;
            }
            Err(e) => eprintln!("refused: {e}"),
        }
        if active.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
