//! The commands around the revisions: sea-orm-cli's (`up`, `down`, `status`, `fresh`,
//! `refresh`, `reset`, `generate`) plus `check`, `autogenerate`, `sql`, `lint`, `stamp`,
//! `squash` and `erd`, guarded by a PostgreSQL advisory lock (polled, with a bounded wait), a `lock_timeout`, revision
//! checksums and strict ordering. Both the `migration`
//! binary (which `sea-orm-cli migrate` drives) and `lorebase migrate` run them from here.
mod autogen;
mod catalog;
mod command;
mod diff;
mod erd;
mod error;
mod integrity;
pub mod lint;
mod lock;
mod model;
mod render;
mod revisions;
mod sqlite;
mod squash;
mod targets;

pub use command::{
    Command, LintFormat, check_report, lint_report, postgres_revisions, run, run_offline, sql,
};
pub use erd::mermaid_of_database;
pub use error::WorkflowError;
pub use lock::{
    LOCK_TIMEOUT_VARIABLE, LOCK_WAIT_VARIABLE, MIGRATION_LOCK_KEY, with_migration_lock,
    with_migration_lock_within,
};
pub use render::split_script;

/// How a command ended when it did not fail: `Drift` is `check` finding differences, or
/// `lint` an error that is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Done,
    Drift,
}
