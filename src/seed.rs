//! `lorebase seed`: applies pending migrations, fills the database with sample data and
//! prints one line per table with rows and rows per second, then the total.
use service::seed::{SeedPlan, SeedReport};

use crate::cli::SeedArgs;
use crate::config::Config;
use crate::startup::connect;

pub async fn run(config: Config, args: SeedArgs) -> Result<(), String> {
    crate::migrate::run(&config.database, crate::migrate::up_all())
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    let db = connect(&config.database)
        .await
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    let plan = SeedPlan {
        worlds: args.worlds,
        elements: args.elements,
        relations: args.relations,
        owner_email: args.owner_email,
        owner_password: args.owner_password,
        random_seed: args.random_seed,
    };
    let outcome = service::seed::seed(&db, plan).await;
    let _ = db.close().await;
    let report = outcome.map_err(|e| format!("seeding failed: {e}"))?;
    print!("{}", summary(&report));
    Ok(())
}

/// The report as printed: a line per table, the total, and how to log in.
pub fn summary(report: &SeedReport) -> String {
    let mut out = String::new();
    for table in &report.tables {
        out.push_str(&format!(
            "{:<18} {:>10} rows {:>9.3} s {:>12.0} rows/s\n",
            table.table,
            table.rows,
            table.elapsed.as_secs_f64(),
            table.rows_per_second()
        ));
    }
    out.push_str(&format!(
        "{:<18} {:>10} rows {:>9.3} s {:>12.0} rows/s\n",
        "total",
        report.total_rows(),
        report.elapsed.as_secs_f64(),
        report.rows_per_second()
    ));
    match &report.owner_password {
        Some(password) => out.push_str(&format!(
            "owner: {} (password: {password})\n",
            report.owner_email
        )),
        None => out.push_str(&format!(
            "owner: {} (existing account, password unchanged)\n",
            report.owner_email
        )),
    }
    out
}
