//! The `lorebase` binary's library half: configuration, CLI and wiring, so integration
//! tests can start the very same application.
pub mod bulk;
pub mod cli;
pub mod config;
pub mod jobs;
pub mod migrate;
pub mod secret_file;
pub mod seed;
pub mod startup;
