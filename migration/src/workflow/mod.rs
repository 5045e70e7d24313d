//! The commands around the revisions: sea-orm-cli's (`up`, `down`, `status`, `fresh`,
//! `refresh`, `reset`, `generate`) plus `check`, `autogenerate` and `sql`, guarded by a
//! PostgreSQL advisory lock, revision checksums and strict ordering. Both the `migration`
//! binary (which `sea-orm-cli migrate` drives) and `lorebase migrate` run them from here.
mod autogen;
mod catalog;
mod command;
mod diff;
mod error;
mod integrity;
mod lock;
mod model;
mod render;
mod revisions;

pub use command::{Command, check_report, run, run_offline, sql};
pub use error::WorkflowError;
pub use lock::{MIGRATION_LOCK_KEY, with_migration_lock};

/// How a command ended when it did not fail: `Drift` is `check` finding differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Done,
    Drift,
}
