//! Integration tests: the real server over HTTP, each test on a fresh database, each
//! behaviour on PostgreSQL and on SQLite.
mod helpers;

mod auth;
mod autogenerate;
mod binary;
mod bulk;
mod bulk_order;
mod changes;
mod elements;
mod entities;
mod hardening;
mod health;
mod invitations;
mod kinds;
mod list_plans;
mod migrate_safety;
mod migrations;
mod relations;
mod replicas;
mod search;
mod seed;
mod tokens;
mod users;
mod webhooks;
mod workflow;
mod world_keys;
mod worlds;
