pub mod auth;
pub mod changes;
pub mod elements;
pub mod health;
pub mod relations;
pub mod users;
pub mod webhooks;
pub mod worlds;
