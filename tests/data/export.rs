//! `smmflow data export --workspace KEY --output FILE`: one client's data,
//! and nothing of another's.

use serde_json::{Value, json};

use crate::copy::{FLOW, smmflow, url_of};
use crate::support::Server;

const START: &str = "mutation($w: String!) { startInstance(input: {workflow: \"moving-post\", workspace: $w}) { instance { id tasks { id } } } }";
const COMPLETE: &str = "mutation($t: ID!, $x: String!) { completeTask(input: {taskId: $t, output: {text: $x}}) { userErrors { message } } }";

/// The database id inside a GraphQL global ID (`Instance:<uuid>`, base64).
fn database_id(global: &str) -> String {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.decode(global).unwrap();
    String::from_utf8(raw).unwrap().split_once(':').unwrap().1.to_string()
}

/// A client with its own writer and client, and `lena` as lead (she leads both).
async fn client(s: &Server, ws: &str) -> Vec<String> {
    let writer = format!("{ws}-writer");
    let approver = format!("{ws}-client");
    let t = s.team(ws, &[("lena", "lead"), (writer.as_str(), "writer"), (approver.as_str(), "client")]).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let i = s.ok(&t["lena"], START, json!({"w": ws})).await["startInstance"]["instance"].clone();
        ids.push(database_id(i["id"].as_str().unwrap()));
        let text = format!("{ws} secret post {n}");
        s.ok(&t[&writer], COMPLETE, json!({"t": i["tasks"][0]["id"], "x": text})).await;
    }
    ids
}

#[tokio::test]
async fn an_export_holds_one_workspace_and_nothing_of_another() {
    for db in crate::support::databases() {
        let s = Server::start(db);
        s.deploy(FLOW).await;
        let alpha = client(&s, "alpha").await;
        let beta = client(&s, "beta").await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("alpha.jsonl");
        let (ok, out, err) = smmflow(
            &[
                "data",
                "export",
                "--workspace",
                "alpha",
                "--output",
                file.to_str().unwrap(),
                "--database-url",
                &url_of(&s),
            ],
            &[],
        );
        assert!(ok, "{db}: {out}\n{err}");
        let text = std::fs::read_to_string(&file).unwrap();
        let records: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let of = |kind: &str| records.iter().filter(|r| r["type"] == kind).cloned().collect::<Vec<_>>();
        assert_eq!(records[0]["format"], "smmflow-export/1", "{db}");
        assert_eq!(of("workspace")[0]["key"], "alpha", "{db}");
        // Its instances, each with its tasks (outputs) and event log.
        let mut got: Vec<String> = of("instance").iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
        got.sort();
        let mut want = alpha.clone();
        want.sort();
        assert_eq!(got, want, "{db}");
        let outputs: Vec<String> =
            of("task").iter().filter_map(|t| t["output"]["text"].as_str().map(str::to_string)).collect();
        assert_eq!(outputs.len(), 3, "{db}: {outputs:?}");
        assert!(outputs.iter().all(|o| o.starts_with("alpha secret post")), "{db}");
        assert!(of("event").iter().all(|e| alpha.contains(&e["instance"].as_str().unwrap().to_string())), "{db}");
        assert!(of("event").len() >= 3 * 5, "{db}: every log");
        // Members: their e-mails and their roles here only.
        let members = of("member");
        let lena = members.iter().find(|m| m["login"] == "lena").unwrap();
        assert_eq!(lena["roles"], json!(["lead"]), "{db}");
        assert_eq!(lena["email"], "lena@agency.example", "{db}");
        assert_eq!(members.len(), 3, "{db}: {members:?}");
        // Nothing of beta: no ids, e-mails, logins or texts.
        for needle in beta.iter().map(String::as_str).chain(["beta-writer", "beta-client", "beta secret", "\"beta\""]) {
            assert!(!text.contains(needle), "{db}: the export holds `{needle}`");
        }
        // The archive: the same records and the client's report beside them.
        let archive = dir.path().join("alpha.tar");
        let data_dir = dir.path().join("data");
        let (ok, out, err) = smmflow(
            &[
                "data",
                "export",
                "--workspace",
                "alpha",
                "--format",
                "archive",
                "--output",
                archive.to_str().unwrap(),
                "--database-url",
                &url_of(&s),
                "--data-dir",
                data_dir.to_str().unwrap(),
            ],
            &[],
        );
        assert!(ok, "{db}: {out}\n{err}");
        let unpacked = dir.path().join("unpacked");
        std::fs::create_dir(&unpacked).unwrap();
        let status = std::process::Command::new("tar").arg("-xf").arg(&archive).arg("-C").arg(&unpacked).status();
        assert!(status.unwrap().success(), "{db}: tar reads the archive");
        let mut names: Vec<String> = std::fs::read_dir(&unpacked)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["alpha.jsonl", "report.csv", "report.html"], "{db}");
        let archived = std::fs::read_to_string(unpacked.join("alpha.jsonl")).unwrap();
        // The same records (but the first line's export time).
        assert_eq!(archived.lines().skip(1).collect::<Vec<_>>(), text.lines().skip(1).collect::<Vec<_>>(), "{db}");
        let html = std::fs::read_to_string(unpacked.join("report.html")).unwrap();
        assert!(html.contains("alpha") && html.contains("<svg"), "{db}: a rendered report");
        for f in ["report.html", "report.csv"] {
            let t = std::fs::read_to_string(unpacked.join(f)).unwrap();
            assert!(!t.contains("beta"), "{db}: {f} names beta");
        }
        // An unknown workspace: an error, and no file.
        let missing = dir.path().join("nobody.jsonl");
        let (ok, _, err) = smmflow(
            &[
                "data",
                "export",
                "--workspace",
                "nobody",
                "--output",
                missing.to_str().unwrap(),
                "--database-url",
                &url_of(&s),
            ],
            &[],
        );
        assert!(!ok && err.contains("not found"), "{db}: {err}");
        assert!(!missing.exists(), "{db}");
    }
}
