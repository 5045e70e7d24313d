//! `lorebase export` and `lorebase import`: the same service functions as
//! `GET /worlds/{id}/export` and `POST /worlds/import`, run against the configured
//! database, with a progress line on standard error (rows, rows per second) as they go.
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use service::import::{ImportCounts, ImportOutcome};

use crate::cli::{ExportArgs, ImportArgs};
use crate::config::Config;
use crate::startup::connect;

/// How often the progress line is redrawn.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// Read size of an imported file.
const READ_BYTES: usize = 256 * 1024;

/// A progress line redrawn in place on standard error.
struct Progress {
    what: &'static str,
    started: Instant,
    shown: Instant,
}

impl Progress {
    fn new(what: &'static str) -> Self {
        let now = Instant::now();
        Self {
            what,
            started: now,
            shown: now,
        }
    }

    fn line(&self, rows: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
        format!(
            "{} {rows:>10} rows {secs:>9.3} s {rate:>12.0} rows/s",
            self.what
        )
    }

    fn update(&mut self, rows: u64) {
        if self.shown.elapsed() >= PROGRESS_EVERY {
            self.shown = Instant::now();
            eprint!("\r{}", self.line(rows));
        }
    }

    fn finish(&self, rows: u64) {
        eprintln!("\r{}", self.line(rows));
    }
}

pub async fn export(config: Config, args: ExportArgs) -> Result<(), String> {
    let db = connect(&config.database)
        .await
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    let outcome = write_export(&db, &args).await;
    let _ = db.close().await;
    outcome
}

async fn write_export(db: &sea_orm::DatabaseConnection, args: &ExportArgs) -> Result<(), String> {
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut chunks = service::export::open(db, args.world)
        .await
        .map_err(|e| match e {
            service::Error::NotFound => format!("no world {}", args.world),
            e => format!("export failed: {e}"),
        })?;
    let mut progress = Progress::new("exported");
    let mut rows = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| format!("export failed: {e}"))?;
        out.write_all(chunk.text.as_bytes())
            .map_err(|e| format!("cannot write the export: {e}"))?;
        rows += chunk.rows;
        progress.update(rows);
    }
    out.flush()
        .map_err(|e| format!("cannot write the export: {e}"))?;
    progress.finish(rows);
    Ok(())
}

pub async fn import(config: Config, args: ImportArgs) -> Result<(), String> {
    crate::migrate::run(&config.database, crate::migrate::up_all())
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    let db = connect(&config.database)
        .await
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    let outcome = run_import(&db, &args).await;
    let _ = db.close().await;
    outcome
}

async fn run_import(db: &sea_orm::DatabaseConnection, args: &ImportArgs) -> Result<(), String> {
    let owner = service::import::owner_by_email(db, &args.owner)
        .await
        .map_err(|e| match e {
            service::Error::NotFound => format!("no account has the email {}", args.owner),
            e => format!("import failed: {e}"),
        })?;
    let file = std::fs::File::open(&args.file)
        .map_err(|e| format!("cannot open {}: {e}", args.file.display()))?;
    let body = futures_util::stream::iter(FileChunks(file));
    let mut progress = Progress::new(if args.dry_run { "checked" } else { "imported" });
    let outcome = service::import::import(db, &owner, body, args.dry_run, |counts| {
        progress.update(counts.rows())
    })
    .await
    .map_err(|e| match e {
        service::Error::Validation(errors) => {
            let lines: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            format!(
                "the file was refused, nothing was written:\n{}",
                lines.join("\n")
            )
        }
        e => format!("import failed: {e}"),
    })?;
    let counts: ImportCounts = match &outcome {
        ImportOutcome::Imported(_, counts) | ImportOutcome::DryRun(counts) => *counts,
    };
    progress.finish(counts.rows());
    match outcome {
        ImportOutcome::Imported(world, _) => println!(
            "world {} ({} elements, {} relations, {} kinds)",
            world.id, counts.elements, counts.relations, counts.kinds
        ),
        ImportOutcome::DryRun(_) => println!(
            "dry run: {} elements, {} relations, {} kinds; nothing written",
            counts.elements, counts.relations, counts.kinds
        ),
    }
    Ok(())
}

/// A file read in blocks, as the import's body.
struct FileChunks(std::fs::File);

impl Iterator for FileChunks {
    type Item = service::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut buffer = vec![0u8; READ_BYTES];
        match self.0.read(&mut buffer) {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some(Ok(buffer))
            }
            Err(e) => Some(Err(service::Error::BadRequest(format!(
                "cannot read the file: {e}"
            )))),
        }
    }
}
