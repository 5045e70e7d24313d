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
    /// Manage the database schema: `sea-orm-cli migrate`'s commands plus `check`,
    /// `autogenerate`, `sql`, `lint`, `stamp`, `squash` and `erd`.
    Migrate {
        #[command(subcommand)]
        command: Option<migration::workflow::Command>,
    },
    /// Fill the database with realistic sample data, fast, and report rows per second.
    Seed(SeedArgs),
    /// Write a world as NDJSON (the format of `GET /worlds/{id}/export`).
    Export(ExportArgs),
    /// Create a new world from an export (as `POST /worlds/import` does).
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The world's id.
    #[arg(long)]
    pub world: uuid::Uuid,
    /// Where to write; standard output when left out.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// An export (NDJSON).
    pub file: std::path::PathBuf,
    /// The email of the account that will own the new world.
    #[arg(long)]
    pub owner: String,
    /// Check the whole file and print the counts, writing nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// How many worlds to create.
    #[arg(long, default_value_t = 1)]
    pub worlds: u32,
    /// Elements in all worlds together, spread evenly.
    #[arg(long, default_value_t = 1000)]
    pub elements: u64,
    /// Relations in all worlds together, spread evenly.
    #[arg(long, default_value_t = 0)]
    pub relations: u64,
    /// The owner's email; an existing account with it is reused.
    #[arg(long, default_value = service::seed::DEFAULT_OWNER_EMAIL)]
    pub owner_email: String,
    /// The owner's password if the account is created (random and printed otherwise).
    #[arg(long, env = "LOREBASE_SEED_PASSWORD", hide_env_values = true)]
    pub owner_password: Option<String>,
    /// Seed of the pseudo-random generator: the same value gives the same data.
    #[arg(long, default_value_t = 42)]
    pub random_seed: u64,
}
