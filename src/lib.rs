//! The `lorebase` binary's library half: configuration, CLI and wiring, so integration
//! tests can start the very same application.
pub mod cli;
pub mod config;
pub mod migrate;
pub mod retention;
pub mod seed;
pub mod startup;
