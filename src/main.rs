//! The `smmflow` command line: the server, administration, and the
//! workflow tools (validate, graph, schema). CLI parsing and output only.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::{Args, Parser, Subcommand, ValueEnum};
use smmflow_api::serve::{ServeConfig, init_logging, open_runtime, serve};
use smmflow_runtime::admin::NewUser;
use smmflow_spec::project::{Document, parse_document};
use smmflow_spec::{Project, diag::Sink, mermaid, schema};

mod data;

/// The command path allocates a lot (JSON snapshots, rows): mimalloc measured
/// about 25% more transitions/s than the system allocator (docs/benchmarks.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

/// How mail leaves (`serve`).
#[derive(Args, Clone)]
struct MailArgs {
    /// SMTP server: smtp://host:port, smtp://user:pass@host:587?tls=starttls, smtps://host:465.
    /// Without it, mail is written as .eml files to <data-dir>/outbox.
    #[arg(long, env = "SMMFLOW_SMTP_URL")]
    smtp_url: Option<String>,
    /// The sender of every message, e.g. "ACME SMM <smm@agency.example>".
    #[arg(long, env = "SMMFLOW_MAIL_FROM")]
    mail_from: Option<String>,
    /// The base of links in mails (approval links), e.g. https://smmflow.agency.example.
    /// Default: http://<listen>.
    #[arg(long, env = "SMMFLOW_PUBLIC_URL")]
    public_url: Option<String>,
}

/// Where the data lives (every command that opens the database takes these).
#[derive(Args, Clone)]
struct DataArgs {
    /// Data directory (the SQLite file, the admin token, mail files).
    #[arg(long, env = "SMMFLOW_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Database URL: default SQLite at <data-dir>/smmflow.db; postgres://... for PostgreSQL.
    #[arg(long, env = "SMMFLOW_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: GraphQL API, GraphiQL, timers.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "SMMFLOW_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        #[command(flatten)]
        data: DataArgs,
        /// The workflows folder, deployed at start (new versions only for changed files).
        #[arg(long, env = "SMMFLOW_WORKFLOWS", default_value = "./workflows")]
        workflows: PathBuf,
        /// Log format.
        #[arg(long, env = "SMMFLOW_LOG_FORMAT", value_enum, default_value = "human")]
        log_format: LogFormat,
        /// Turn GraphQL introspection off.
        #[arg(long, env = "SMMFLOW_NO_INTROSPECTION")]
        no_introspection: bool,
        /// Largest request body in bytes (larger: HTTP 413).
        #[arg(long, env = "SMMFLOW_BODY_LIMIT", default_value_t = 1024 * 1024)]
        body_limit: usize,
        /// GraphQL cost a user may spend per minute, per replica (0: no limit).
        #[arg(long, env = "SMMFLOW_QUERY_COST_PER_MINUTE", default_value_t = smmflow_api::limits::DEFAULT_COST_PER_MINUTE)]
        query_cost_per_minute: u32,
        /// Demos and tests: the clock moves only by the admin-only `advanceClock` mutation.
        #[arg(long)]
        manual_clock: bool,
        #[command(flatten)]
        mail: MailArgs,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage workspaces.
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Manage memberships.
    Member {
        #[command(subcommand)]
        command: MemberCommand,
    },
    /// Move, back up or hand over data.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Print the GraphQL schema (docs/schema.graphql).
    ExportSchema,
    /// A weekly content cycle by a simulated team, through the GraphQL API, in seconds.
    Demo {
        /// The workflows folder to deploy.
        #[arg(long, env = "SMMFLOW_WORKFLOWS", default_value = "./workflows")]
        workflows: PathBuf,
    },
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
    /// One workspace's figures for a period (the `analytics` query) as a
    /// document: HTML with charts, CSV or JSON.
    Report {
        /// The workspace (client).
        #[arg(long)]
        workspace: String,
        /// The period's start: a date (YYYY-MM-DD, 00:00 UTC) or an RFC 3339 time.
        #[arg(long, value_parser = parse_moment)]
        from: chrono::DateTime<chrono::Utc>,
        /// The period's end (exclusive), the same way.
        #[arg(long, value_parser = parse_moment)]
        to: chrono::DateTime<chrono::Utc>,
        #[arg(long, value_enum, default_value = "html")]
        format: ReportFormat,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Html,
    Csv,
    Json,
}

/// `2026-12-01` (midnight UTC) or `2026-12-01T09:00:00Z`.
fn parse_moment(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| format!("`{s}` is not a date (YYYY-MM-DD) or an RFC 3339 time"))
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user.
    Add {
        login: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// Make the user an admin.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Jsonl,
    Archive,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Copy the whole database into an empty one (SQLite or PostgreSQL, either
    /// way), then verify the copy; a server started on it goes on from there.
    Copy {
        /// The target: postgres://..., sqlite://PATH or a file path.
        #[arg(long)]
        to: String,
        /// Rows per transaction on the target.
        #[arg(long, default_value_t = 2000)]
        batch: usize,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Write one workspace's data (a client's) as JSON Lines to a new file.
    Export {
        /// The workspace's key.
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        output: PathBuf,
        /// `jsonl` (the data alone) or `archive` (a tar file: the data and
        /// the workspace's report of the last 52 weeks, HTML and CSV).
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Write an online backup of the SQLite database to a new file.
    Backup {
        #[arg(long)]
        output: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a user and print it (shown once).
    Create {
        login: String,
        #[arg(long, default_value = "cli")]
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Add a workspace (a client account or in-house team).
    Add {
        key: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum MemberCommand {
    /// Give a user a role in a workspace.
    Add {
        workspace: String,
        user: String,
        role: String,
        #[command(flatten)]
        data: DataArgs,
    },
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

fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?.block_on(f)
}

fn run() -> Result<ExitCode> {
    match Cli::parse().command {
        Command::Validate { paths, format } => validate(&paths, format),
        Command::Graph { file } => graph(&file),
        Command::Schema => {
            print!("{}", schema::json_schema());
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { workflows } => {
            block_on(async { smmflow_api::demo::run(workflows).await.map_err(|e| anyhow!(e)) })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::ExportSchema => {
            print!("{}", smmflow_api::sdl());
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            listen,
            data,
            workflows,
            log_format,
            no_introspection,
            body_limit,
            query_cost_per_minute,
            manual_clock,
            mail,
        } => {
            init_logging(matches!(log_format, LogFormat::Json));
            let cfg = ServeConfig {
                listen,
                data_dir: data.data_dir,
                database_url: data.database_url,
                workflows,
                introspection: !no_introspection,
                body_limit,
                query_cost_per_minute,
                manual_clock,
                smtp_url: mail.smtp_url,
                mail_from: mail.mail_from,
                public_url: mail.public_url,
            };
            block_on(async { serve(cfg).await.map_err(|e| anyhow!(e)) })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { data } => admin(data, |_| async { Ok("migrations applied".to_string()) }),
        Command::Report { workspace, from, to, format, output, data } => {
            let text = block_on(async move {
                let rt =
                    open_runtime(&data.data_dir, data.database_url.as_deref(), None).await.map_err(|e| anyhow!(e))?;
                let r = smmflow_api::report::gather(&rt, &workspace, from, to).await.map_err(|e| anyhow!(e))?;
                match format {
                    ReportFormat::Html => smmflow_api::report::html(&r),
                    ReportFormat::Csv => smmflow_api::report::csv(&r),
                    ReportFormat::Json => smmflow_api::report::json(&r),
                }
                .map_err(|e| anyhow!(e))
            })?;
            match output {
                Some(path) => std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Data { command: DataCommand::Copy { to, batch, data } } => {
            let source = source_url(&data);
            println!("{}", block_on(async move { data::copy(&source, &to, batch).await })?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Data { command: DataCommand::Export { workspace, output, format, data } } => {
            let source = source_url(&data);
            let done = block_on(async move {
                match format {
                    ExportFormat::Jsonl => data::export(&source, &workspace, &output).await,
                    ExportFormat::Archive => data::export_archive(&data.data_dir, &source, &workspace, &output).await,
                }
            })?;
            println!("{done}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Data { command: DataCommand::Backup { output, data } } => {
            let source = source_url(&data);
            println!("{}", block_on(async move { data::backup(&source, &output).await })?);
            Ok(ExitCode::SUCCESS)
        }
        Command::User { command: UserCommand::Add { login, email, name, admin: is_admin, data } } => {
            admin(data, move |rt| async move {
                let user = NewUser { login: login.clone(), email, name, is_admin };
                rt.operator().admin()?.create_user(user).await?;
                Ok(format!("user {login} added"))
            })
        }
        Command::Token { command: TokenCommand::Create { login, name, data } } => {
            admin(data, move |rt| async move { Ok(rt.operator().signed_in()?.create_token(&login, &name).await?) })
        }
        Command::Workspace { command: WorkspaceCommand::Add { key, name, data } } => {
            admin(data, move |rt| async move {
                rt.operator().admin()?.create_workspace(&key, &name).await?;
                Ok(format!("workspace {key} added"))
            })
        }
        Command::Member { command: MemberCommand::Add { workspace, user, role, data } } => {
            admin(data, move |rt| async move {
                rt.operator().admin()?.add_member(&workspace, &user, &role).await?;
                Ok(format!("{user} is {role} in {workspace}"))
            })
        }
    }
}

/// The database `--data-dir` / `--database-url` name.
fn source_url(data: &DataArgs) -> String {
    data.database_url.clone().unwrap_or_else(|| smmflow_api::serve::default_database_url(&data.data_dir))
}

/// Runs an administration command against the database and prints its result.
fn admin<F, Fut>(data: DataArgs, f: F) -> Result<ExitCode>
where
    F: FnOnce(std::sync::Arc<smmflow_runtime::Runtime>) -> Fut,
    Fut: std::future::Future<Output = Result<String>>,
{
    let out = block_on(async move {
        let rt = open_runtime(&data.data_dir, data.database_url.as_deref(), None).await.map_err(|e| anyhow!(e))?;
        f(rt).await
    })?;
    println!("{out}");
    Ok(ExitCode::SUCCESS)
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
