//! The `smmflow` command line: validate workflow files, draw them, and print
//! their JSON Schema. Later: the server.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use smmflow_spec::project::{Document, parse_document};
use smmflow_spec::{Project, diag::Sink, mermaid, schema};

#[derive(Parser)]
#[command(name = "smmflow", version, about = "Workflow orchestration for social-media-marketing teams")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Check workflow and calendar files (and templates/) together; exit 1 on any error.
    Validate {
        /// Files and folders to check together.
        #[arg(default_value = "workflows")]
        paths: Vec<PathBuf>,
        /// `text` for people (default), `json` for tools.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Print a workflow as a Mermaid flowchart.
    Graph {
        /// The workflow file.
        file: PathBuf,
    },
    /// Print the JSON Schema of workflow files (docs/workflow.schema.json).
    Schema,
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Validate { paths, format } => validate(&paths, format),
        Command::Graph { file } => graph(&file),
        Command::Schema => {
            print!("{}", schema::json_schema());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn validate(paths: &[PathBuf], format: Format) -> Result<ExitCode> {
    let project = Project::load(paths).context("reading the workflow files")?;
    let errors = project.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = project.diagnostics.len() - errors;
    match format {
        Format::Json => {
            let out = serde_json::json!({
                "valid": errors == 0,
                "errors": errors,
                "warnings": warnings,
                "workflows": project.workflows.iter().map(|w| w.key.value.clone()).collect::<Vec<_>>(),
                "calendars": project.calendars.iter().map(|c| c.key.value.clone()).collect::<Vec<_>>(),
                "diagnostics": project.diagnostics.iter().map(|d| d.to_json()).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Text => {
            for d in &project.diagnostics {
                println!("{}", d.render(project.sources.get(&d.file).map(String::as_str)));
            }
            println!(
                "{} workflow(s), {} calendar(s), {} template(s): {errors} error(s), {warnings} warning(s)",
                project.workflows.len(),
                project.calendars.len(),
                project.templates.len()
            );
        }
    }
    Ok(if errors > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn graph(file: &PathBuf) -> Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut sink = Sink::new(file.display().to_string());
    let doc = parse_document(&text, &mut sink);
    let errors: Vec<_> = sink.into_vec().into_iter().filter(|d| d.is_error()).collect();
    for d in &errors {
        eprintln!("{}", d.render(Some(&text)));
    }
    match doc {
        Some(Document::Workflow(wf)) if errors.is_empty() => {
            print!("{}", mermaid::render(&wf));
            Ok(ExitCode::SUCCESS)
        }
        Some(Document::Calendar(_)) => {
            eprintln!("error: {} is a calendar, not a workflow", file.display());
            Ok(ExitCode::FAILURE)
        }
        _ => Ok(ExitCode::FAILURE),
    }
}
