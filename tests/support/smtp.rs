//! A real SMTP server for the tests: Python's aiosmtpd (installed by
//! scripts/test), started on a free port, stopped and restarted on the same
//! port to simulate an outage. Messages are read back as JSON records.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    python: String,
    child: Option<Child>,
    delay_ms: u64,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

impl SmtpSink {
    /// None (and a SKIPPED line) when scripts/test did not provide Python.
    pub fn start() -> Option<SmtpSink> {
        Self::start_with_delay(0)
    }

    /// A slow server: each message takes `delay_ms` to accept.
    pub fn start_with_delay(delay_ms: u64) -> Option<SmtpSink> {
        let Ok(python) = std::env::var("SMMFLOW_TEST_PYTHON") else {
            super::skipped("SKIPPED: SMMFLOW_TEST_PYTHON is not set (scripts/test installs aiosmtpd and sets it)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut s = SmtpSink { port, dir: tempfile::tempdir().unwrap(), python, child: None, delay_ms };
        s.resume();
        Some(s)
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port.
    pub fn resume(&mut self) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/smtp_sink.py");
        let mut child = Command::new(&self.python)
            .arg(script)
            .arg(self.port.to_string())
            .arg(self.dir.path())
            .env("SMTP_SINK_DELAY_MS", self.delay_ms.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        self.child = Some(child);
    }

    /// Stops it: the port refuses connections until `resume`.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        let path = self.dir.path().join("messages.jsonl");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // Only whole lines: the sink may be writing the next one right now.
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end],
            None => "",
        };
        complete.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}
