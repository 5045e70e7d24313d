//! The schema as a whole, for tools that compare it with a live database
//! (`migrate check` and `migrate autogenerate` in the migration crate).
//!
//! The models say tables, columns, types, nullability, keys, unique constraints and
//! foreign keys. What they cannot say (server-side defaults, CHECK constraints, and
//! indexes with an access method, operator class, predicate or storage parameters) is
//! declared here, by hand, beside them.
use sea_orm::{DbBackend, EntityTrait, Schema, sea_query::TableCreateStatement};

use crate::generated::*;

/// One table as the models describe it, with the indexes its attributes ask for.
pub struct ModelTable {
    pub create: TableCreateStatement,
    pub indexes: Vec<sea_orm::sea_query::IndexCreateStatement>,
}

fn table<E: EntityTrait>(schema: &Schema, entity: E) -> ModelTable {
    ModelTable {
        create: schema.create_table_from_entity(entity),
        indexes: schema.create_index_from_entity(entity),
    }
}

/// Every table, each after the tables its foreign keys point at. A new entity goes here.
pub fn model_tables(backend: DbBackend) -> Vec<ModelTable> {
    let schema = Schema::new(backend);
    vec![
        table(&schema, users::Entity),
        table(&schema, worlds::Entity),
        table(&schema, world_members::Entity),
        table(&schema, world_elements::Entity),
        table(&schema, element_relations::Entity),
        table(&schema, sessions::Entity),
        table(&schema, refresh_tokens::Entity),
        table(&schema, rate_limit_events::Entity),
        table(&schema, personal_tokens::Entity),
        table(&schema, invitations::Entity),
        table(&schema, world_changes::Entity),
        table(&schema, element_trash::Entity),
        table(&schema, element_kinds::Entity),
        table(&schema, relation_kinds::Entity),
        table(&schema, webhooks::Entity),
        table(&schema, webhook_outbox::Entity),
        table(&schema, webhook_deliveries::Entity),
        table(&schema, idempotency_keys::Entity),
        table(&schema, element_search::Entity),
        table(&schema, element_mentions::Entity),
    ]
}

/// A column default that PostgreSQL applies when an insert leaves the column out.
pub struct ServerDefault {
    pub table: &'static str,
    pub column: &'static str,
    /// An SQL expression, as `ALTER COLUMN ... SET DEFAULT` takes it.
    pub sql: &'static str,
}

/// An index the models cannot express. `keys` are key columns or expressions, each
/// with an operator class where it is not the type's default.
pub struct DeclaredIndex {
    pub table: &'static str,
    pub name: &'static str,
    pub method: &'static str,
    pub keys: &'static [&'static str],
    pub predicate: Option<&'static str>,
    /// Storage parameters as PostgreSQL lists them (`fastupdate=off`), comma-separated.
    pub options: Option<&'static str>,
    /// A unique index (with a predicate: a uniqueness rule over some rows only).
    pub unique: bool,
}

/// PostgreSQL extensions that declared indexes need (their operator classes).
pub const EXTENSIONS: &[&str] = &["pg_trgm"];

/// A CHECK constraint the database enforces; `expression` as `CHECK (...)` takes it.
pub struct DeclaredCheck {
    pub table: &'static str,
    pub name: &'static str,
    pub expression: &'static str,
}

/// CHECK constraints of the schema (compared by `migrate check`); none so far.
pub const DECLARED_CHECKS: &[DeclaredCheck] = &[];
/// A column the models cannot express: sea-orm-cli leaves a column of a type it does not
/// know (`tsvector`) out of the model (`#[sea_orm(ignore)]`); it is declared here instead.
pub struct DeclaredColumn {
    pub table: &'static str,
    pub column: &'static str,
    /// The column's type and constraints, as `ALTER TABLE ... ADD COLUMN` takes them.
    pub definition: &'static str,
}

pub const DECLARED_COLUMNS: &[DeclaredColumn] = &[DeclaredColumn {
    table: "element_search",
    column: "document",
    definition: "tsvector NOT NULL",
}];

const fn default(table: &'static str, column: &'static str, sql: &'static str) -> ServerDefault {
    ServerDefault { table, column, sql }
}

const fn btree(
    table: &'static str,
    name: &'static str,
    keys: &'static [&'static str],
) -> DeclaredIndex {
    DeclaredIndex {
        table,
        name,
        method: "btree",
        keys,
        predicate: None,
        options: None,
        unique: false,
    }
}

/// A unique B-tree index over the rows that satisfy `predicate` only.
const fn unique_where(
    table: &'static str,
    name: &'static str,
    keys: &'static [&'static str],
    predicate: &'static str,
) -> DeclaredIndex {
    DeclaredIndex {
        table,
        name,
        method: "btree",
        keys,
        predicate: Some(predicate),
        options: None,
        unique: true,
    }
}

/// A GIN index that takes each write at once: no pending list for every search to read
/// (revision `..._gin_without_pending_list`).
const fn gin(
    table: &'static str,
    name: &'static str,
    keys: &'static [&'static str],
) -> DeclaredIndex {
    DeclaredIndex {
        table,
        name,
        method: "gin",
        keys,
        predicate: None,
        options: Some("fastupdate=off"),
        unique: false,
    }
}

pub const SERVER_DEFAULTS: &[ServerDefault] = &[
    default("users", "preferences", "'{}'::jsonb"),
    default("users", "token_version", "1"),
    default("users", "created_at", "CURRENT_TIMESTAMP"),
    default("users", "updated_at", "CURRENT_TIMESTAMP"),
    default("worlds", "settings", "'{}'::jsonb"),
    default("worlds", "visibility", "'private'"),
    default("worlds", "element_count", "0"),
    default("worlds", "version", "1"),
    default("worlds", "created_at", "CURRENT_TIMESTAMP"),
    default("worlds", "updated_at", "CURRENT_TIMESTAMP"),
    default("worlds", "change_seq", "0"),
    default("worlds", "change_floor", "0"),
    default("worlds", "kinds_version", "0"),
    default("world_members", "created_at", "CURRENT_TIMESTAMP"),
    default("world_elements", "attributes", "'{}'::jsonb"),
    default("world_elements", "tags", "'[]'::jsonb"),
    default("world_elements", "version", "1"),
    default("world_elements", "created_at", "CURRENT_TIMESTAMP"),
    default("world_elements", "updated_at", "CURRENT_TIMESTAMP"),
    default("world_elements", "depth", "0"),
    default("element_relations", "attributes", "'{}'::jsonb"),
    default("element_relations", "version", "1"),
    default("element_relations", "created_at", "CURRENT_TIMESTAMP"),
    default("element_relations", "updated_at", "CURRENT_TIMESTAMP"),
    default("sessions", "created_at", "CURRENT_TIMESTAMP"),
    default("refresh_tokens", "created_at", "CURRENT_TIMESTAMP"),
    default("rate_limit_events", "created_at", "CURRENT_TIMESTAMP"),
    default("personal_tokens", "created_at", "CURRENT_TIMESTAMP"),
    default("invitations", "status", "'pending'"),
    default("invitations", "created_at", "CURRENT_TIMESTAMP"),
    default("element_kinds", "version", "1"),
    default("element_kinds", "created_at", "CURRENT_TIMESTAMP"),
    default("element_kinds", "updated_at", "CURRENT_TIMESTAMP"),
    default("relation_kinds", "version", "1"),
    default("relation_kinds", "created_at", "CURRENT_TIMESTAMP"),
    default("relation_kinds", "updated_at", "CURRENT_TIMESTAMP"),
];

/// Foreign-key lookups, keyset paging orders and JSONB containment (PostgreSQL only).
pub const DECLARED_INDEXES: &[DeclaredIndex] = &[
    btree("worlds", "worlds_owner_id_idx", &["owner_id"]),
    btree("world_members", "world_members_user_id_idx", &["user_id"]),
    btree(
        "world_elements",
        "world_elements_created_by_idx",
        &["created_by"],
    ),
    btree(
        "world_elements",
        "world_elements_parent_id_idx",
        &["parent_id"],
    ),
    btree(
        "world_elements",
        "world_elements_world_created_idx",
        &["world_id", "created_at", "id"],
    ),
    btree(
        "world_elements",
        "world_elements_world_name_idx",
        &["world_id", "name", "id"],
    ),
    btree(
        "world_elements",
        "world_elements_world_updated_idx",
        &["world_id", "updated_at", "id"],
    ),
    btree(
        "world_elements",
        "world_elements_world_kind_idx",
        &["world_id", "kind", "id"],
    ),
    btree(
        "world_elements",
        "world_elements_world_depth_idx",
        &["world_id", "depth", "id"],
    ),
    gin(
        "world_elements",
        "world_elements_attributes_idx",
        &["attributes jsonb_path_ops"],
    ),
    gin("world_elements", "world_elements_tags_idx", &["tags"]),
    // The list's `q`, a substring match of the folded name or summary (needs `pg_trgm`).
    gin(
        "world_elements",
        "world_elements_name_trgm_idx",
        &["lower(name) gin_trgm_ops"],
    ),
    gin(
        "world_elements",
        "world_elements_summary_trgm_idx",
        &["lower(summary) gin_trgm_ops"],
    ),
    gin(
        "element_search",
        "element_search_document_idx",
        &["document"],
    ),
    btree(
        "element_mentions",
        "element_mentions_target_idx",
        &["target_id", "source_id"],
    ),
    btree(
        "element_relations",
        "element_relations_source_created_idx",
        &["source_id", "created_at", "id"],
    ),
    btree(
        "element_relations",
        "element_relations_target_id_idx",
        &["target_id", "created_at", "id"],
    ),
    btree(
        "element_relations",
        "element_relations_world_id_idx",
        &["world_id", "id"],
    ),
    btree(
        "element_relations",
        "element_relations_source_kind_created_idx",
        &["source_id", "kind", "created_at", "id"],
    ),
    btree(
        "element_relations",
        "element_relations_target_kind_created_idx",
        &["target_id", "kind", "created_at", "id"],
    ),
    btree("sessions", "sessions_user_id_idx", &["user_id"]),
    btree(
        "world_changes",
        "world_changes_resource_idx",
        &["world_id", "resource_id", "seq"],
    ),
    btree("world_changes", "world_changes_at_idx", &["at"]),
    btree(
        "element_trash",
        "element_trash_world_deleted_idx",
        &["world_id", "deleted_at", "element_id"],
    ),
    btree(
        "element_trash",
        "element_trash_deleted_at_idx",
        &["deleted_at"],
    ),
    btree(
        "webhooks",
        "webhooks_world_id_idx",
        &["world_id", "created_at"],
    ),
    btree(
        "webhook_deliveries",
        "webhook_deliveries_webhook_idx",
        &["webhook_id", "id"],
    ),
    btree("webhook_deliveries", "webhook_deliveries_at_idx", &["at"]),
    btree(
        "idempotency_keys",
        "idempotency_keys_created_at_idx",
        &["created_at"],
    ),
    btree(
        "refresh_tokens",
        "refresh_tokens_session_id_idx",
        &["session_id"],
    ),
    btree(
        "rate_limit_events",
        "rate_limit_events_scope_subject_created_idx",
        &["scope", "subject", "created_at"],
    ),
    btree(
        "personal_tokens",
        "personal_tokens_user_created_idx",
        &["user_id", "created_at", "id"],
    ),
    btree(
        "invitations",
        "invitations_world_created_idx",
        &["world_id", "created_at", "id"],
    ),
    btree(
        "invitations",
        "invitations_email_created_idx",
        &["email", "created_at", "id"],
    ),
    btree("invitations", "invitations_invited_by_idx", &["invited_by"]),
    unique_where(
        "invitations",
        "invitations_pending_key",
        &["world_id", "email"],
        "status = 'pending'",
    ),
];
