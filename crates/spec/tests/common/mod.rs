//! Shared helpers of the spec crate's tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use smmflow_spec::{Project, Source};

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Reads a file, or every file below a folder, as sources named relative to `base`.
pub fn sources(path: &Path, base: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    let mut todo = vec![path.to_path_buf()];
    while let Some(p) = todo.pop() {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()).collect();
            entries.sort();
            entries.reverse();
            todo.extend(entries);
        } else {
            let name = p.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
            out.push(Source { path: name, text: std::fs::read_to_string(&p).unwrap() });
        }
    }
    out
}

/// Every diagnostic, rendered as the CLI prints it.
pub fn render(project: &Project) -> String {
    project
        .diagnostics
        .iter()
        .map(|d| d.render(project.sources.get(&d.file).map(String::as_str)))
        .collect::<Vec<_>>()
        .join("\n")
}
