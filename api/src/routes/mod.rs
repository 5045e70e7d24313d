pub mod auth;
pub mod elements;
pub mod health;
pub mod invitations;
pub mod relations;
pub mod tokens;
pub mod users;
pub mod worlds;
