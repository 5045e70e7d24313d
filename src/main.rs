use std::process::ExitCode;

use clap::Parser;
use lorebase::cli::{Cli, Command};
use lorebase::config::Config;
use lorebase::startup::Application;
use migration::workflow::Verdict;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("lorebase: {e}");
            return ExitCode::FAILURE;
        }
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info,sqlx=warn"))
        .init();

    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate { command } => {
            let command = command.unwrap_or_else(lorebase::migrate::up_all);
            match lorebase::migrate::run(&config.database, command).await {
                Ok(Verdict::Done) => Ok(()),
                // `check` found differences and printed them: exit 1, as the issue asks.
                Ok(Verdict::Drift) => return ExitCode::from(1),
                Err(e) => Err(format!("migration failed: {e}")),
            }
        }
        Command::Seed(args) => lorebase::seed::run(config, args).await,
        Command::Export(args) => lorebase::bulk::export(config, args).await,
        Command::Import(args) => lorebase::bulk::import(config, args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lorebase: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let host = config.server.host.clone();
    let app = Application::build(config)
        .await
        .map_err(|e| e.to_string())?;
    log::info!("listening on http://{host}:{}", app.port());
    app.run_until_stopped().await.map_err(|e| e.to_string())
}
