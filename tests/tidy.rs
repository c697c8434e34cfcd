//! Tidy: rules of the code base that a reviewer would otherwise have to
//! remember (in the spirit of rust-analyzer's tidy test).
//!
//! - every source file opens with a `//!` line saying what it is for;
//! - only `crates/store` (and the migrations crate) name sea-orm;
//! - the API and the CLI never touch the store, nor the runtime's system
//!   door (`.system()`, no permission checked): they go through sessions
//!   and permission handles;
//! - no source file is over 800 lines (split it along a seam first).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for d in ["crates", "src", "tests", "migrations", "fuzz/fuzz_targets"] {
        rust_files(&root().join(d), &mut files);
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.strip_prefix(root()).unwrap().display().to_string();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// Lines of code that are not comments (so a rule's own explanation does not trip it).
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.trim_start().starts_with("//"))
}

#[test]
fn every_file_says_what_it_is_for() {
    let bad: Vec<String> = sources().into_iter().filter(|(_, t)| !t.starts_with("//!")).map(|(n, _)| n).collect();
    assert!(bad.is_empty(), "files that do not open with a `//!` line: {bad:?}");
}

#[test]
fn only_the_store_names_sea_orm() {
    let bad: Vec<String> = sources()
        .into_iter()
        .filter(|(n, _)| !n.starts_with("crates/store/") && !n.starts_with("migrations/") && n != "tests/tidy.rs")
        .filter(|(_, t)| code_lines(t).any(|l| l.contains("sea_orm::") || l.contains("use sea_orm")))
        .map(|(n, _)| n)
        .collect();
    assert!(bad.is_empty(), "sea-orm named outside crates/store: {bad:?}");
}

#[test]
fn the_api_and_the_cli_go_through_the_runtime() {
    let bad: Vec<String> = sources()
        .into_iter()
        .filter(|(n, _)| n.starts_with("crates/api/src/") || n.starts_with("src/"))
        .filter(|(_, t)| {
            code_lines(t).any(|l| l.contains("smmflow_store") || l.contains(".store()") || l.contains(".system()"))
        })
        .map(|(n, _)| n)
        .collect();
    assert!(bad.is_empty(), "the API or the CLI reaches the store: {bad:?}");
    for manifest in ["crates/api/Cargo.toml", "Cargo.toml"] {
        let text = std::fs::read_to_string(root().join(manifest)).unwrap();
        let deps = text.split("[dependencies]").nth(1).unwrap_or_default();
        let deps = deps.split("\n[").next().unwrap_or_default();
        assert!(!deps.contains("smmflow-store"), "{manifest} depends on the store crate");
    }
}

#[test]
fn no_file_is_over_800_lines() {
    let bad: Vec<String> = sources()
        .into_iter()
        .filter_map(|(n, t)| {
            let lines = t.lines().count();
            (lines > 800).then(|| format!("{n}: {lines}"))
        })
        .collect();
    assert!(bad.is_empty(), "files over 800 lines: {bad:?}");
}
