//! The `smmflow` binary as team leads use it: validate, graph, schema.

#![allow(clippy::unwrap_used)] // test helpers may panic on broken fixtures

use std::path::Path;
use std::process::Command;

fn smmflow(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_smmflow"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the smmflow binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("smmflow-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn validate_defaults_to_the_workflows_folder_and_passes_the_library() {
    let (code, out, err) = smmflow(&["validate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 error(s), 0 warning(s)"), "{out}");
}

#[test]
fn validate_json_lists_diagnostics_and_exits_1_on_errors() {
    let bad = temp_file(
        "bad.yaml",
        "workflow: bad-one\nname: Bad\nroles: {writer: Writes}\nsteps:\n  draft: {role: writer, afer: [x], due: 1d}\n",
    );
    let (code, out, _) = smmflow(&["validate", bad.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("validate --format json prints JSON");
    assert_eq!(json["valid"], false);
    let d = &json["diagnostics"][0];
    assert_eq!(d["code"], "E002");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["line"], 5);
    assert_eq!(d["column"], 25);
    assert!(d["file"].as_str().unwrap().ends_with("bad.yaml"));
    assert!(d["message"].as_str().unwrap().contains("afer"));
    assert_eq!(d["hint"], "did you mean `after`?");
}

#[test]
fn validate_text_shows_the_line_and_a_caret() {
    let bad = temp_file(
        "caret.yaml",
        "workflow: caret-one\nname: Bad\nroles: {writer: Writes}\nsteps:\n  draft: {role: writr, due: 1d}\n",
    );
    let (code, out, _) = smmflow(&["validate", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("error[E013]: role `writr` is not declared under `roles`"), "{out}");
    assert!(out.contains("5 |   draft: {role: writr, due: 1d}\n  |                 ^"), "{out}");
    assert!(out.contains("hint: did you mean `writer`?"), "{out}");
}

#[test]
fn validate_reports_a_missing_path_clearly() {
    let (code, _, err) = smmflow(&["validate", "no/such/folder"]);
    assert_eq!(code, 2);
    assert!(err.contains("no/such/folder"), "{err}");
}

#[test]
fn graph_prints_a_mermaid_flowchart_with_lanes_and_rework() {
    let (code, out, err) = smmflow(&["graph", "workflows/client-onboarding.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("flowchart TB\n"), "{out}");
    assert!(out.contains("subgraph lane_client"), "{out}");
    assert!(out.contains("-. \"rework"), "{out}");
}

#[test]
fn graph_refuses_an_invalid_file_with_diagnostics() {
    let bad = temp_file("graph-bad.yaml", "workflow: x\n");
    let (code, out, err) = smmflow(&["graph", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("E004") || err.contains("E007"), "{err}");
}

#[test]
fn schema_prints_the_committed_json_schema() {
    let (code, out, _) = smmflow(&["schema"]);
    assert_eq!(code, 0);
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/workflow.schema.json")).unwrap();
    assert_eq!(
        out, committed,
        "docs/workflow.schema.json is stale: run `cargo run -- schema > docs/workflow.schema.json`"
    );
}

#[test]
fn export_schema_prints_the_committed_graphql_schema() {
    let (code, out, _) = smmflow(&["export-schema"]);
    assert_eq!(code, 0);
    let committed = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema.graphql")).unwrap();
    assert_eq!(out, committed, "docs/schema.graphql is stale: run `cargo run -- export-schema > docs/schema.graphql`");
    for name in ["viewer", "startInstance", "completeTask", "taskEvents", "instanceEvents", "totalCount", "userErrors"]
    {
        assert!(out.contains(name), "{name} missing from the schema");
    }
}

#[test]
fn the_demo_runs_three_clients_from_their_profiles_alone() {
    let (code, out, err) = smmflow(&["demo"]);
    assert_eq!(code, 0, "{out}\n{err}");
    // Schedules come from the profiles' services, one per client and workflow.
    assert!(out.contains("6 schedules appeared from the profiles' services"), "{out}");
    assert!(out.contains("the client rejects a post"), "one client rejection: {out}");
    // Every client's posts went out, in its own timezone's slots.
    let calendar: Vec<&str> = out.lines().filter(|l| l.contains("(local time")).collect();
    for (client, local) in [("acme", "10:00)"), ("bloom", "12:00)"), ("sakura", "11:00)")] {
        assert!(
            calendar.iter().any(|l| l.contains(client) && l.contains("PUBLISHED") && l.ends_with(local)),
            "{client}: {out}"
        );
    }
    assert!(out.contains("publications went through the calendar"), "{out}");
}

/// SQLite's durability setting: `full` by default, `normal` on request, and
/// anything else refused before the database is touched.
#[test]
fn the_sqlite_sync_setting_is_full_normal_or_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let run = |sync: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_smmflow"));
        cmd.args(["migrate", "--data-dir", data]).env_remove("SMMFLOW_DATABASE_URL");
        match sync {
            Some(s) => cmd.env("SMMFLOW_SQLITE_SYNC", s),
            None => cmd.env_remove("SMMFLOW_SQLITE_SYNC"),
        };
        let out = cmd.output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert_eq!(run(None).0, 0, "full by default");
    assert_eq!(run(Some("normal")).0, 0);
    let (code, err) = run(Some("sometimes"));
    assert_ne!(code, 0);
    assert!(err.contains("SMMFLOW_SQLITE_SYNC") && err.contains("`full`"), "{err}");
}

/// A log that is not a terminal (a file, a collector) has no colour codes.
#[test]
fn the_server_log_off_a_terminal_is_plain_text() {
    use std::io::{BufRead, BufReader};
    let dir = std::env::temp_dir().join(format!("smmflow-cli-log-{}", std::process::id()));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smmflow"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--workflows", "workflows", "--data-dir"])
        .arg(&dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    // The start-up logs say where mail goes (no SMTP server here).
    while let Some(Ok(line)) = lines.next() {
        let mail = line.contains("mail is written to");
        seen.push(line);
        if mail {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(seen.iter().any(|l| l.contains("mail is written to") && l.contains("INFO")), "{seen:?}");
    assert!(seen.iter().all(|l| !l.contains('\u{1b}')), "colour codes in a log file: {seen:?}");
}

/// `smmflow graph` of a workflow whose steps and roles use Mermaid's own
/// words, `start` and `done`, and a title with braces, quotes and markup,
/// rendered by mermaid-cli in Chromium: a broken diagram fails here.
#[test]
fn graph_of_steps_named_like_mermaid_keywords_renders_in_mermaid() {
    let Ok(mmdc) = std::env::var("SMMFLOW_TEST_MMDC") else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "SMMFLOW_TEST_MMDC is not set, and CI=true");
        eprintln!("SKIPPED: SMMFLOW_TEST_MMDC is not set (scripts/test installs mermaid-cli and sets it)");
        return;
    };
    let flow = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/spec/tests/fixtures/mermaid-keywords.yaml"
    ))
    .unwrap();
    let wf = temp_file("keywords.yaml", &flow);
    let (code, diagram, err) = smmflow(&["graph", wf.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let dir = wf.parent().unwrap();
    let input = dir.join("keywords.mmd");
    std::fs::write(&input, &diagram).unwrap();
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("Chromium (scripts/test installs it)");
    let config = dir.join("puppeteer.json");
    std::fs::write(&config, format!(r#"{{"executablePath": "{chromium}", "args": ["--no-sandbox"]}}"#)).unwrap();
    let output = dir.join("keywords.svg");
    let out = Command::new(&mmdc).arg("-p").arg(&config).arg("-i").arg(&input).arg("-o").arg(&output).output().unwrap();
    assert!(
        out.status.success(),
        "mermaid-cli refused the diagram:\n{diagram}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&output).unwrap();
    for text in ["subgraph", "flowchart", "href", "Brief {client}", "quoted", "start", "end"] {
        assert!(svg.contains(text), "`{text}` is not in the rendered diagram");
    }
}
