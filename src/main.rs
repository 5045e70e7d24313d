use std::process::ExitCode;

use clap::Parser;
use lorebase::cli::{Cli, Command, MigrateCommand};
use lorebase::config::Config;
use lorebase::startup::Application;

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
            migrate(config, command.unwrap_or(MigrateCommand::Up { num: None })).await
        }
        Command::Seed(args) => lorebase::seed::run(config, args).await,
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

async fn migrate(config: Config, command: MigrateCommand) -> Result<(), String> {
    lorebase::migrate::run(&config.database, command)
        .await
        .map_err(|e| format!("migration failed: {e}"))
}
