//! Lorebase's schema as SeaORM sees it.
//!
//! `generated/` is written by `sea-orm-cli generate entity` (see `scripts/regen-entities.sh`)
//! and never edited by hand; behaviour and extra navigation live in the modules beside it.
#[rustfmt::skip]
mod generated;

mod behavior;
pub mod links;
pub mod schema;
mod versioned;

pub use behavior::now;
pub use versioned::Versioned;

pub use generated::*;
