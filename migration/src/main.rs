//! The migration binary that `sea-orm-cli migrate` drives (`cargo run -- <subcommand>`),
//! with the same global options as sea-orm-migration's own CLI.
use std::process::ExitCode;

use clap::Parser;
use migration::workflow::{self, Command, Verdict, WorkflowError};
use sea_orm_migration::sea_orm::{ConnectOptions, Database};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "migration", version, about = "Lorebase's schema revisions")]
struct Cli {
    /// Show debug messages.
    #[arg(short = 'v', long, global = true)]
    verbose: bool,
    /// PostgreSQL schema (default `public`); ignored by SQLite.
    #[arg(short = 's', long, global = true, env = "DATABASE_SCHEMA")]
    database_schema: Option<String>,
    /// Database URL.
    #[arg(short = 'u', long, global = true, env = "DATABASE_URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

async fn run(cli: Cli) -> Result<Verdict, WorkflowError> {
    let command = cli.command.unwrap_or(Command::Up {
        num: None,
        to: None,
        accept_changed: Vec::new(),
    });
    let command = match workflow::run_offline(command).await? {
        Ok(verdict) => return Ok(verdict),
        Err(command) => command,
    };
    let url = cli
        .database_url
        .ok_or_else(|| WorkflowError::new("set DATABASE_URL or pass --database-url"))?;
    let mut options = ConnectOptions::new(url);
    // One connection: the advisory lock is held per session, and so is SQLite's
    // `PRAGMA foreign_keys = OFF`, which `fresh` relies on.
    options
        .max_connections(1)
        .set_schema_search_path(cli.database_schema.unwrap_or_else(|| "public".into()))
        .sqlx_logging(cli.verbose);
    let db = Database::connect(options)
        .await
        .map_err(|e| WorkflowError::from(e).context("connecting to the database"))?;
    let verdict = workflow::run(&db, command).await;
    let _ = db.close().await;
    verdict
}

#[tokio::main]
async fn main() -> ExitCode {
    dotenvy::dotenv().ok();
    let cli = Cli::parse();
    let filter = if cli.verbose {
        "debug"
    } else {
        "sea_orm_migration=info"
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_target(false)
        .with_level(false)
        .without_time()
        .init();
    match run(cli).await {
        Ok(Verdict::Done) => ExitCode::SUCCESS,
        Ok(Verdict::Drift) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
