//! The subcommands and what each one does.
use std::path::PathBuf;

use clap::Subcommand;
use sea_orm_migration::MigratorTrait;
use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbBackend, EntityName, Schema,
};
use sea_orm_migration::seaql_migrations;

use super::integrity;
use super::lint::{self, Accepted, RevisionSql};
use super::render::{self, Direction};
use super::{
    Verdict, WorkflowError, autogen, catalog, diff, erd, lock, model, revisions, sqlite, squash,
    targets,
};
use crate::Migrator;

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Apply pending revisions (the default), after checking the applied ones are unchanged.
    Up {
        /// How many to apply; all when omitted.
        #[arg(short, long)]
        num: Option<u32>,
        /// Apply the pending revisions up to and including this one.
        #[arg(long, value_name = "REVISION", conflicts_with = "num")]
        to: Option<String>,
        /// Accept that this applied revision changed and record its new checksum (repeatable).
        #[arg(long = "accept-changed", value_name = "REVISION")]
        accept_changed: Vec<String>,
    },
    /// Roll back applied revisions.
    Down {
        /// How many to roll back.
        #[arg(short, long, default_value_t = 1)]
        num: u32,
        /// Roll back every revision after this one, which stays applied.
        #[arg(long, value_name = "REVISION", conflicts_with = "num")]
        to: Option<String>,
    },
    /// Record this revision and every one before it as applied, and every later one as
    /// not applied, without running any (to adopt a database made some other way).
    Stamp {
        #[arg(value_name = "REVISION")]
        revision: String,
    },
    /// Show which revisions are applied.
    Status,
    /// Drop every table, then apply all revisions.
    Fresh,
    /// Roll back every revision, then apply them all.
    Refresh,
    /// Roll back every revision.
    Reset,
    /// Compare the entities with the database (PostgreSQL or SQLite); exit 1 and print
    /// each difference when they differ.
    Check,
    /// Write the next revision from the difference between the database and the entities
    /// (on SQLite, with table rebuilds where SQLite cannot alter a table in place).
    Autogenerate {
        /// The revision's name, as for `generate` (letters, digits, underscores).
        name: String,
        /// The migration crate to write into (default: the one this binary was built from).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Write a new, empty revision, as `sea-orm-cli migrate generate` does.
    Generate {
        name: String,
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Lint the SQL the revisions (all, or the named ones) run on PostgreSQL for changes
    /// that lose data or hold long locks; exit 1 on an error that is not accepted.
    Lint {
        #[arg(value_name = "REVISION")]
        revisions: Vec<String>,
        #[arg(long, value_enum, default_value_t = LintFormat::Text)]
        format: LintFormat,
    },
    /// Replace the revisions up to REVISION by one that runs the same SQL; a database that
    /// applied them treats it as applied.
    Squash {
        #[arg(long, value_name = "REVISION")]
        to: String,
        /// The new revision's name (letters, digits, underscores).
        name: String,
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Print the live schema as a Mermaid ER diagram (PostgreSQL).
    Erd,
    /// Print the PostgreSQL SQL that `up` (or `down`) would run, without a database.
    Sql {
        /// The revision the database is at: start after it (up) or at it (down).
        #[arg(long)]
        from: Option<String>,
        /// The revision to end at: apply up to it (up) or roll back to just after it (down).
        #[arg(long)]
        to: Option<String>,
        /// Render the `down` direction.
        #[arg(long)]
        down: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LintFormat {
    Text,
    Json,
}

impl Command {
    /// Commands that change the schema or its bookkeeping; they run under the migration
    /// lock, with `lock_timeout` set.
    fn migrates(&self) -> bool {
        matches!(
            self,
            Command::Up { .. }
                | Command::Down { .. }
                | Command::Stamp { .. }
                | Command::Fresh
                | Command::Refresh
                | Command::Reset
        )
    }
}

/// Runs the commands that need no database; gives the command back otherwise.
pub async fn run_offline(command: Command) -> Result<Result<Verdict, Command>, WorkflowError> {
    match command {
        Command::Sql { from, to, down } => {
            print!("{}", sql(from.as_deref(), to.as_deref(), down).await?);
            Ok(Ok(Verdict::Done))
        }
        Command::Lint { revisions, format } => lint(&revisions, format).await.map(Ok),
        Command::Squash { to, name, dir } => {
            let file = squash::squash(&to, &name, dir.as_deref()).await?;
            println!(
                "wrote {}; the revisions it replaces are gone from the code",
                file.display()
            );
            Ok(Ok(Verdict::Done))
        }
        Command::Generate { name, dir } => {
            let name = autogen::revision_name(&name)?;
            let revision = autogen::plan(&[], &[]);
            let file = autogen::write(
                &autogen::source_dir(dir.as_deref())?,
                &name,
                &autogen::file_text(&name, &revision),
            )?;
            println!("wrote {}", file.display());
            Ok(Ok(Verdict::Done))
        }
        other => Ok(Err(other)),
    }
}

/// Runs a command on `db`, which must be a single connection (see `with_migration_lock`).
pub async fn run(db: &DatabaseConnection, command: Command) -> Result<Verdict, WorkflowError> {
    let command = match run_offline(command).await? {
        Ok(verdict) => return Ok(verdict),
        Err(command) => command,
    };
    if command.migrates() {
        return lock::with_migration_lock(db, async || migrate(db, command).await).await;
    }
    match command {
        Command::Status => {
            // A squashed revision's old rows would make sea-orm-migration refuse to list.
            lock::with_migration_lock(db, async || squash::adopt(db).await).await?;
            Migrator::status(db).await?;
            Ok(Verdict::Done)
        }
        Command::Check => check(db).await,
        Command::Autogenerate { name, dir } => autogenerate(db, &name, dir).await,
        Command::Erd => {
            require_postgres(db, "erd")?;
            print!("{}", erd::mermaid_of_database(db).await?);
            Ok(Verdict::Done)
        }
        _ => Ok(Verdict::Done),
    }
}

async fn migrate(db: &DatabaseConnection, command: Command) -> Result<Verdict, WorkflowError> {
    squash::adopt(db).await?;
    lock::with_lock_timeout(db, async || migrate_locked(db, command).await).await?;
    integrity::record(db).await?;
    Ok(Verdict::Done)
}

async fn migrate_locked(db: &DatabaseConnection, command: Command) -> Result<(), WorkflowError> {
    match command {
        Command::Up {
            num,
            to,
            accept_changed,
        } => {
            integrity::verify_before_up(db, &accept_changed).await?;
            let num = match to {
                Some(target) => Some(targets::pending_through(db, &target).await?),
                None => num,
            };
            if num != Some(0) {
                Migrator::up(db, num).await?;
            }
        }
        Command::Down { num, to } => {
            let num = match to {
                Some(target) => targets::applied_after(db, &target).await?,
                None => num,
            };
            if num > 0 {
                Migrator::down(db, Some(num)).await?;
            }
        }
        Command::Stamp { revision } => {
            let (added, removed) = targets::stamp(db, &revision).await?;
            for name in added {
                println!("stamped {name} as applied");
            }
            for name in removed {
                println!("stamped {name} as not applied");
            }
        }
        Command::Fresh => Migrator::fresh(db).await?,
        Command::Refresh => Migrator::refresh(db).await?,
        Command::Reset => Migrator::reset(db).await?,
        _ => {}
    }
    Ok(())
}

fn require_postgres(db: &DatabaseConnection, what: &str) -> Result<(), WorkflowError> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        Ok(())
    } else {
        Err(WorkflowError::new(format!(
            "{what} reads PostgreSQL's catalog; point DATABASE_URL at PostgreSQL"
        )))
    }
}

/// The entities' schema and the live one, as `check` compares them.
async fn catalogs(
    db: &DatabaseConnection,
) -> Result<(catalog::Catalog, catalog::Catalog), WorkflowError> {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => Ok((
            sqlite::entities_catalog().await?,
            sqlite::introspect(db).await?,
        )),
        DatabaseBackend::Postgres => Ok((
            model::entities_catalog(db).await?,
            catalog::introspect(db, &current_schema(db).await?).await?,
        )),
        other => Err(WorkflowError::new(format!(
            "check and autogenerate read PostgreSQL or SQLite, not {other:?}"
        ))),
    }
}

pub(super) async fn current_schema(db: &DatabaseConnection) -> Result<String, WorkflowError> {
    let row = db
        .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_schema() AS name",
        ))
        .await?
        .ok_or_else(|| WorkflowError::new("the database names no current schema"))?;
    Ok(row.try_get::<String>("", "name")?)
}

/// Every way the database differs from the code, one line each: revisions first, then
/// the schema. Empty when they match.
pub async fn check_report(db: &DatabaseConnection) -> Result<Vec<String>, WorkflowError> {
    let mut lines = Vec::new();
    let applied = squash::effective_applied(revisions::applied(db).await?);
    let in_code = revisions::in_code();
    for revision in &in_code {
        if !applied.iter().any(|name| name == revision.name()) {
            lines.push(format!(
                "revision {}: in the code, not applied (pending)",
                revision.name()
            ));
        }
    }
    for name in &applied {
        if !in_code.iter().any(|revision| revision.name() == name) {
            lines.push(format!(
                "revision {name}: applied, not in the code (unknown)"
            ));
        }
    }
    let (entities, live) = catalogs(db).await?;
    lines.extend(
        diff::compare(&entities, &live)
            .iter()
            .map(ToString::to_string),
    );
    Ok(lines)
}

async fn check(db: &DatabaseConnection) -> Result<Verdict, WorkflowError> {
    let lines = check_report(db).await?;
    if lines.is_empty() {
        println!("no differences: the database matches the entities and every revision is applied");
        return Ok(Verdict::Done);
    }
    for line in &lines {
        println!("{line}");
    }
    Ok(Verdict::Drift)
}

/// The extensions the entities declare (`entity::schema::EXTENSIONS`) that the database
/// has not installed; none on SQLite.
async fn missing_extensions(db: &DatabaseConnection) -> Result<Vec<&'static str>, WorkflowError> {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(Vec::new());
    }
    let mut missing = Vec::new();
    for extension in entity::schema::EXTENSIONS {
        let installed = db
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT 1 AS installed FROM pg_extension WHERE extname = $1",
                [(*extension).into()],
            ))
            .await
            .map_err(|e| WorkflowError::new(format!("reading the installed extensions: {e}")))?;
        if installed.is_none() {
            missing.push(*extension);
        }
    }
    Ok(missing)
}

async fn autogenerate(
    db: &DatabaseConnection,
    name: &str,
    dir: Option<PathBuf>,
) -> Result<Verdict, WorkflowError> {
    let name = autogen::revision_name(name)?;
    let src = autogen::source_dir(dir.as_deref())?;
    let (entities, live) = catalogs(db).await?;
    let differences = diff::compare(&entities, &live);
    if differences.is_empty() {
        println!("no differences between the database and the entities: nothing written");
        return Ok(Verdict::Done);
    }
    let rebuilds = autogen::sqlite_rebuilds(&differences, &entities, &live);
    let mut planned = vec![(name.clone(), autogen::plan(&differences, &rebuilds))];
    let missing_extensions = missing_extensions(db).await?;
    if let Some(indexes) = autogen::plan_indexes(&differences, &missing_extensions) {
        let (main, _) = &planned[0];
        let main_is_empty = planned[0].1.up.is_empty() && planned[0].1.todos.is_empty();
        let index_name = format!("{main}_concurrently");
        if main_is_empty {
            planned[0].1 = indexes;
        } else {
            planned.push((index_name, indexes));
        }
    }
    // Lint the new revisions after every existing one, as `lint` would once they exist.
    let mut history = postgres_revisions().await?;
    for (revision_name, revision) in &planned {
        history.push(RevisionSql {
            name: revision_name.clone(),
            statements: revision.postgres_sql.clone(),
        });
    }
    let new_names: Vec<String> = planned.iter().map(|(n, _)| n.clone()).collect();
    let findings = lint::lint(
        &history,
        Some(&new_names),
        lock::lock_timeout_secs()?,
        &Accepted::default(),
    );
    for difference in &differences {
        println!("  {difference}");
    }
    for (revision_name, mut revision) in planned {
        revision.lint = findings
            .iter()
            .filter(|f| f.revision == revision_name)
            .map(lint::Finding::line)
            .collect();
        let file = autogen::write(
            &src,
            &revision_name,
            &autogen::file_text(&revision_name, &revision),
        )?;
        for todo in &revision.todos {
            println!("TODO: {todo}");
        }
        for warning in &revision.warnings {
            println!("warning: destructive: {warning}");
        }
        for finding in &revision.lint {
            println!("lint: {finding}");
        }
        println!("wrote {}; review it, then run `up`", file.display());
    }
    Ok(Verdict::Done)
}

/// The revisions `sql` covers, in the order their statements run.
fn selected(
    from: Option<&str>,
    to: Option<&str>,
    down: bool,
) -> Result<Vec<Box<dyn sea_orm_migration::MigrationTrait>>, WorkflowError> {
    let all = revisions::in_code();
    let index = |name: Option<&str>| name.map(|n| revisions::position(&all, n)).transpose();
    let (from, to) = (index(from)?, index(to)?);
    let range = if down {
        // Roll back from `from` (default: the newest) down to just after `to` (default: all).
        let start = to.map_or(0, |t| t + 1);
        let end = from.map_or(all.len(), |f| f + 1);
        start..end
    } else {
        // Apply what follows `from` (default: nothing applied) up to `to` (default: all).
        let start = from.map_or(0, |f| f + 1);
        let end = to.map_or(all.len(), |t| t + 1);
        start..end
    };
    if range.start > range.end {
        return Err(WorkflowError::new(
            "--from and --to are the wrong way round for this direction",
        ));
    }
    let mut chosen: Vec<_> = all
        .into_iter()
        .enumerate()
        .filter(|(i, _)| range.contains(i))
        .map(|(_, revision)| revision)
        .collect();
    if down {
        chosen.reverse();
    }
    Ok(chosen)
}

/// The script a DBA can review and run with `psql -v ON_ERROR_STOP=1 -f`: each revision
/// in its own transaction, recorded in `seaql_migrations` (with its checksum) the way
/// `up` records it.
pub async fn sql(
    from: Option<&str>,
    to: Option<&str>,
    down: bool,
) -> Result<String, WorkflowError> {
    let backend = DbBackend::Postgres;
    let mut out = String::new();
    out.push_str("-- Lorebase schema revisions, rendered for PostgreSQL by `migrate sql`\n");
    let bookkeeping = Schema::new(backend)
        .create_table_from_entity(seaql_migrations::Entity)
        .if_not_exists()
        .to_owned();
    out.push_str(&format!("{};\n", integrity::render(backend, &bookkeeping)));
    // `IF NOT EXISTS`: the column may be there already (sea-query cannot say it).
    let add_column = integrity::render(backend, &integrity::add_checksum_column());
    out.push_str(&format!(
        "{};\n",
        add_column.replacen("ADD COLUMN", "ADD COLUMN IF NOT EXISTS", 1)
    ));
    // What the runner sets before every revision (`MIGRATION_LOCK_TIMEOUT_SECS`).
    out.push_str(&format!(
        "{};\n",
        lock::set_lock_timeout_sql(lock::lock_timeout_secs()?)
    ));
    let table = seaql_migrations::Entity.table_name().to_owned();
    for revision in selected(from, to, down)? {
        let name = revision.name().to_owned();
        let direction = if down { Direction::Down } else { Direction::Up };
        let in_transaction = revision.use_transaction() != Some(false);
        out.push_str(&format!(
            "\n-- {name} ({}{})\n{}",
            if down { "down" } else { "up" },
            if in_transaction {
                ""
            } else {
                ", outside a transaction"
            },
            if in_transaction { "BEGIN;\n" } else { "" }
        ));
        for statement in render::statements(revision.as_ref(), backend, direction).await? {
            out.push_str(&format!("{statement};\n"));
        }
        if down {
            out.push_str(&format!(
                "DELETE FROM \"{table}\" WHERE \"version\" = '{name}';\n"
            ));
        } else {
            let sum = integrity::checksum(revision.as_ref(), backend).await?;
            out.push_str(&format!(
                "INSERT INTO \"{table}\" (\"version\", \"applied_at\", \"checksum\") \
                 VALUES ('{name}', CAST(EXTRACT(EPOCH FROM now()) AS bigint), '{sum}');\n"
            ));
        }
        if in_transaction {
            out.push_str("COMMIT;\n");
        }
    }
    Ok(out)
}

/// Every revision's `up` as rendered for PostgreSQL, oldest first: what `lint` reads.
pub async fn postgres_revisions() -> Result<Vec<RevisionSql>, WorkflowError> {
    let mut out = Vec::new();
    for revision in revisions::in_code() {
        out.push(RevisionSql {
            name: revision.name().to_owned(),
            statements: render::statements(revision.as_ref(), DbBackend::Postgres, Direction::Up)
                .await?,
        });
    }
    Ok(out)
}

/// The lint findings of the named revisions (all when none are named), with the
/// committed accepted file applied.
pub async fn lint_report(names: &[String]) -> Result<Vec<lint::Finding>, WorkflowError> {
    let all = revisions::in_code();
    for name in names {
        revisions::position(&all, name)?;
    }
    let accepted = Accepted::parse(lint::ACCEPTED_FILE)
        .map_err(|e| WorkflowError::new(format!("migration/lint-accepted.txt: {e}")))?;
    Ok(lint::lint(
        &postgres_revisions().await?,
        (!names.is_empty()).then_some(names),
        lock::lock_timeout_secs()?,
        &accepted,
    ))
}

async fn lint(names: &[String], format: LintFormat) -> Result<Verdict, WorkflowError> {
    let findings = lint_report(names).await?;
    match format {
        LintFormat::Text => print!("{}", lint::text_report(&findings)),
        LintFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&findings)
                .map_err(|e| WorkflowError::new(e.to_string()))?
        ),
    }
    Ok(if findings.iter().any(lint::Finding::is_error) {
        Verdict::Drift
    } else {
        Verdict::Done
    })
}
