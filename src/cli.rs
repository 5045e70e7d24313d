//! The command line: `lorebase [serve]` and `lorebase migrate <subcommand>`.
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "lorebase",
    version,
    about = "A self-hostable backend for worldbuilders"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Manage the database schema, as `sea-orm-cli migrate` does.
    Migrate {
        #[command(subcommand)]
        command: Option<MigrateCommand>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply pending revisions (the default).
    Up {
        /// How many to apply; all when omitted.
        #[arg(short, long)]
        num: Option<u32>,
    },
    /// Roll back applied revisions.
    Down {
        /// How many to roll back.
        #[arg(short, long, default_value_t = 1)]
        num: u32,
    },
    /// Show which revisions are applied.
    Status,
    /// Drop every table, then apply all revisions.
    Fresh,
    /// Roll back every revision, then apply them all.
    Refresh,
    /// Roll back every revision.
    Reset,
}
