//! Every key between the tables of a world carries `world_id` (issue 19: ready for sharding
//! by world). Written by `migrate autogenerate world_id_in_every_key` against SQLite from
//! the entities, then reviewed by hand:
//! - `element_mentions`, `webhook_outbox` and `webhook_deliveries` get `world_id`, added
//!   NULL, filled from the row they belong to, then made NOT NULL (autogenerate left a TODO);
//! - the primary keys of `element_mentions` and `webhook_outbox` gain `world_id` (a TODO),
//!   last, in column order, as `sea-orm-cli generate entity` writes a key;
//! - the PostgreSQL columns are `uuid` (the SQLite run spelt them `uuid_text`);
//! - `element_search`'s foreign key, which the SQLite run does not compare (SQLite keeps
//!   that table in its own FTS5 shape), is moved on PostgreSQL by hand;
//! - the composite foreign keys reference the unique `(id, world_id)` indexes that the
//!   revision before this one builds `CONCURRENTLY`; the SQLite rebuilds recreate them.
//!
//! A parent, relation, mention or search row in another world than its element is now
//! impossible in the database itself. The parent key is `ON DELETE NO ACTION`, not
//! `SET NULL`: `SET NULL` on a composite key would null `world_id` too, and deleting an
//! element detaches its children first (`element_write::delete`).
//!
//! On PostgreSQL the keys are added the way `lint` asks, without a scan under lock: the
//! foreign keys and `CHECK (world_id IS NOT NULL)` go in `NOT VALID` here, are validated
//! in `m20261130_190003_validate_world_keys` (which then sets `NOT NULL` without a scan),
//! and the primary keys are swapped over indexes built `CONCURRENTLY` in
//! `m20261130_190004_world_id_primary_keys`. SQLite rebuilds the tables here, at once.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_190002_world_id_in_every_key"
    }
}

/// The tables that get `world_id`, and how each row finds it.
pub(crate) const FILLED_FROM: [(&str, &str); 3] = [
    (
        "element_mentions",
        "(SELECT e.world_id FROM world_elements e WHERE e.id = element_mentions.source_id)",
    ),
    (
        "webhook_outbox",
        "(SELECT h.world_id FROM webhooks h WHERE h.id = webhook_outbox.webhook_id)",
    ),
    (
        "webhook_deliveries",
        "(SELECT h.world_id FROM webhooks h WHERE h.id = webhook_deliveries.webhook_id)",
    ),
];

/// A foreign key on PostgreSQL: `(table, name, definition)`.
type Key = (&'static str, &'static str, &'static str);

/// The single-column keys this revision replaces.
const OLD_KEYS: [Key; 7] = [
    (
        "element_mentions",
        "element_mentions_source_id_fkey",
        "FOREIGN KEY (source_id) REFERENCES world_elements (id) ON DELETE CASCADE",
    ),
    (
        "element_relations",
        "element_relations_target_id_fkey",
        "FOREIGN KEY (target_id) REFERENCES world_elements (id) ON DELETE CASCADE",
    ),
    (
        "element_relations",
        "element_relations_source_id_fkey",
        "FOREIGN KEY (source_id) REFERENCES world_elements (id) ON DELETE CASCADE",
    ),
    (
        "webhook_deliveries",
        "webhook_deliveries_webhook_id_fkey",
        "FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE",
    ),
    (
        "webhook_outbox",
        "webhook_outbox_webhook_id_fkey",
        "FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE",
    ),
    (
        "world_elements",
        "world_elements_parent_id_fkey",
        "FOREIGN KEY (parent_id) REFERENCES world_elements (id) ON DELETE SET NULL",
    ),
    (
        "element_search",
        "element_search_element_id_fkey",
        "FOREIGN KEY (element_id) REFERENCES world_elements (id) ON DELETE CASCADE",
    ),
];

/// The keys with `world_id` that replace them (validated by the next revision).
pub(crate) const NEW_KEYS: [Key; 7] = [
    (
        "element_mentions",
        "element_mentions_world_id_source_id_fkey",
        "FOREIGN KEY (world_id, source_id) REFERENCES world_elements (world_id, id) ON DELETE CASCADE",
    ),
    (
        "element_relations",
        "element_relations_world_id_target_id_fkey",
        "FOREIGN KEY (world_id, target_id) REFERENCES world_elements (world_id, id) ON DELETE CASCADE",
    ),
    (
        "element_relations",
        "element_relations_world_id_source_id_fkey",
        "FOREIGN KEY (world_id, source_id) REFERENCES world_elements (world_id, id) ON DELETE CASCADE",
    ),
    (
        "webhook_deliveries",
        "webhook_deliveries_world_id_webhook_id_fkey",
        "FOREIGN KEY (world_id, webhook_id) REFERENCES webhooks (world_id, id) ON DELETE CASCADE",
    ),
    (
        "webhook_outbox",
        "webhook_outbox_world_id_webhook_id_fkey",
        "FOREIGN KEY (world_id, webhook_id) REFERENCES webhooks (world_id, id) ON DELETE CASCADE",
    ),
    (
        "world_elements",
        "world_elements_world_id_parent_id_fkey",
        "FOREIGN KEY (world_id, parent_id) REFERENCES world_elements (world_id, id) ON DELETE NO ACTION",
    ),
    (
        "element_search",
        "element_search_world_id_element_id_fkey",
        "FOREIGN KEY (world_id, element_id) REFERENCES world_elements (world_id, id) ON DELETE CASCADE",
    ),
];

/// The name of the `CHECK (world_id IS NOT NULL)` that stands in for `NOT NULL` until
/// the next revision.
pub(crate) fn filled_check(table: &str) -> String {
    format!("{table}_world_id_filled")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let sqlite = manager.get_database_backend() == DatabaseBackend::Sqlite;
        let uuid = if sqlite { "uuid_text" } else { "uuid" };
        for (table, world) in FILLED_FROM {
            db.execute_unprepared(&format!("ALTER TABLE {table} ADD COLUMN world_id {uuid}"))
                .await?;
            db.execute_unprepared(&format!("UPDATE {table} SET world_id = {world}"))
                .await?;
        }
        if sqlite {
            crate::schema_util::rebuild_sqlite_table(
            manager,
            "element_mentions",
            "CREATE TABLE \"_new_element_mentions\" ( \"source_id\" uuid_text NOT NULL, \"target_id\" uuid_text NOT NULL, \"world_id\" uuid_text NOT NULL, PRIMARY KEY (\"source_id\", \"target_id\", \"world_id\"), FOREIGN KEY (\"world_id\", \"source_id\") REFERENCES \"world_elements\" (\"world_id\", \"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
            &[
                "world_id",
                "source_id",
                "target_id",
            ],
            &[
                "CREATE INDEX \"element_mentions_target_idx\" ON \"element_mentions\" (\"target_id\", \"source_id\")",
            ],
        )
        .await?;
            crate::schema_util::rebuild_sqlite_table(
            manager,
            "element_relations",
            "CREATE TABLE \"_new_element_relations\" ( \"id\" uuid_text NOT NULL, \"world_id\" uuid_text NOT NULL, \"source_id\" uuid_text NOT NULL, \"target_id\" uuid_text NOT NULL, \"kind\" varchar(64) NOT NULL, \"attributes\" jsonb_text NOT NULL DEFAULT ('{}'), \"version\" integer NOT NULL DEFAULT (1), \"created_at\" timestamp_with_timezone_text NOT NULL DEFAULT (current_timestamp), \"updated_at\" timestamp_with_timezone_text NOT NULL DEFAULT (current_timestamp), PRIMARY KEY (\"id\"), FOREIGN KEY (\"world_id\") REFERENCES \"worlds\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION, FOREIGN KEY (\"world_id\", \"target_id\") REFERENCES \"world_elements\" (\"world_id\", \"id\") ON DELETE CASCADE ON UPDATE NO ACTION, FOREIGN KEY (\"world_id\", \"source_id\") REFERENCES \"world_elements\" (\"world_id\", \"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
            &[
                "id",
                "world_id",
                "source_id",
                "target_id",
                "kind",
                "attributes",
                "version",
                "created_at",
                "updated_at",
            ],
            &[
                "CREATE INDEX \"element_relations_source_created_idx\" ON \"element_relations\" (\"source_id\", \"created_at\", \"id\")",
                "CREATE INDEX \"element_relations_source_kind_created_idx\" ON \"element_relations\" (\"source_id\", \"kind\", \"created_at\", \"id\")",
                "CREATE UNIQUE INDEX \"element_relations_world_source_target_kind_key\" ON \"element_relations\" (\"world_id\", \"source_id\", \"target_id\", \"kind\")",
                "CREATE INDEX \"element_relations_target_id_idx\" ON \"element_relations\" (\"target_id\", \"created_at\", \"id\")",
                "CREATE INDEX \"element_relations_target_kind_created_idx\" ON \"element_relations\" (\"target_id\", \"kind\", \"created_at\", \"id\")",
                "CREATE INDEX \"element_relations_world_id_idx\" ON \"element_relations\" (\"world_id\", \"id\")",
            ],
        )
        .await?;
            crate::schema_util::rebuild_sqlite_table(
            manager,
            "webhook_deliveries",
            "CREATE TABLE \"_new_webhook_deliveries\" ( \"id\" uuid_text NOT NULL, \"webhook_id\" uuid_text NOT NULL, \"seq\" integer NOT NULL, \"attempt\" integer NOT NULL, \"status_code\" integer, \"duration_ms\" integer NOT NULL, \"error\" text, \"at\" timestamp_with_timezone_text NOT NULL, \"world_id\" uuid_text NOT NULL, PRIMARY KEY (\"id\"), FOREIGN KEY (\"world_id\", \"webhook_id\") REFERENCES \"webhooks\" (\"world_id\", \"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
            &[
                "world_id",
                "id",
                "webhook_id",
                "seq",
                "attempt",
                "status_code",
                "duration_ms",
                "error",
                "at",
            ],
            &[
                "CREATE INDEX \"webhook_deliveries_at_idx\" ON \"webhook_deliveries\" (\"at\")",
                "CREATE INDEX \"webhook_deliveries_webhook_idx\" ON \"webhook_deliveries\" (\"webhook_id\", \"id\")",
            ],
        )
        .await?;
            crate::schema_util::rebuild_sqlite_table(
            manager,
            "webhook_outbox",
            "CREATE TABLE \"_new_webhook_outbox\" ( \"webhook_id\" uuid_text NOT NULL, \"seq\" integer NOT NULL, \"attempts\" integer NOT NULL, \"next_attempt_at\" timestamp_with_timezone_text NOT NULL, \"first_attempt_at\" timestamp_with_timezone_text, \"lease\" uuid_text, \"world_id\" uuid_text NOT NULL, PRIMARY KEY (\"webhook_id\", \"seq\", \"world_id\"), FOREIGN KEY (\"world_id\", \"webhook_id\") REFERENCES \"webhooks\" (\"world_id\", \"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
            &[
                "world_id",
                "webhook_id",
                "seq",
                "attempts",
                "next_attempt_at",
                "first_attempt_at",
                "lease",
            ],
            &[
            ],
        )
        .await?;
            crate::schema_util::rebuild_sqlite_table(
            manager,
            "world_elements",
            "CREATE TABLE \"_new_world_elements\" ( \"id\" uuid_text NOT NULL, \"world_id\" uuid_text NOT NULL, \"parent_id\" uuid_text, \"kind\" varchar(64) NOT NULL, \"name\" varchar(200) NOT NULL, \"summary\" text, \"attributes\" jsonb_text NOT NULL DEFAULT ('{}'), \"tags\" jsonb_text NOT NULL DEFAULT ('[]'), \"version\" integer NOT NULL DEFAULT (1), \"created_by\" uuid_text, \"created_at\" timestamp_with_timezone_text NOT NULL DEFAULT (current_timestamp), \"updated_at\" timestamp_with_timezone_text NOT NULL DEFAULT (current_timestamp), PRIMARY KEY (\"id\"), FOREIGN KEY (\"world_id\") REFERENCES \"worlds\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION, FOREIGN KEY (\"world_id\", \"parent_id\") REFERENCES \"world_elements\" (\"world_id\", \"id\") ON DELETE NO ACTION ON UPDATE NO ACTION, FOREIGN KEY (\"created_by\") REFERENCES \"users\" (\"id\") ON DELETE SET NULL ON UPDATE NO ACTION )",
            &[
                "id",
                "world_id",
                "parent_id",
                "kind",
                "name",
                "summary",
                "attributes",
                "tags",
                "version",
                "created_by",
                "created_at",
                "updated_at",
            ],
            &[
                "CREATE UNIQUE INDEX \"world_elements_world_id_id_key\" ON \"world_elements\" (\"id\", \"world_id\")",
                "CREATE INDEX \"world_elements_created_by_idx\" ON \"world_elements\" (\"created_by\")",
                "CREATE INDEX \"world_elements_parent_id_idx\" ON \"world_elements\" (\"parent_id\")",
                "CREATE INDEX \"world_elements_world_created_idx\" ON \"world_elements\" (\"world_id\", \"created_at\", \"id\")",
                "CREATE INDEX \"world_elements_world_kind_idx\" ON \"world_elements\" (\"world_id\", \"kind\", \"id\")",
                "CREATE INDEX \"world_elements_world_name_idx\" ON \"world_elements\" (\"world_id\", \"name\", \"id\")",
                "CREATE INDEX \"world_elements_world_updated_idx\" ON \"world_elements\" (\"world_id\", \"updated_at\", \"id\")",
                "CREATE TRIGGER world_elements_search_delete AFTER DELETE ON world_elements BEGIN DELETE FROM element_search WHERE element_id = OLD.id; END",
                "CREATE TRIGGER world_elements_search_insert AFTER INSERT ON world_elements BEGIN INSERT INTO element_search (element_id, world_id, name, tags, summary, attributes) VALUES (NEW.id, NEW.world_id, NEW.name, coalesce((SELECT group_concat(t.value, ', ') FROM json_each(NEW.tags) AS t), ''), coalesce(NEW.summary, ''), coalesce((SELECT group_concat(a.value, ' ') FROM json_tree(NEW.attributes) AS a WHERE a.type = 'text'), '')); END",
                "CREATE TRIGGER world_elements_search_update AFTER UPDATE OF name, tags, summary, attributes ON world_elements BEGIN DELETE FROM element_search WHERE element_id = OLD.id; INSERT INTO element_search (element_id, world_id, name, tags, summary, attributes) VALUES (NEW.id, NEW.world_id, NEW.name, coalesce((SELECT group_concat(t.value, ', ') FROM json_each(NEW.tags) AS t), ''), coalesce(NEW.summary, ''), coalesce((SELECT group_concat(a.value, ' ') FROM json_tree(NEW.attributes) AS a WHERE a.type = 'text'), '')); END",
            ],
        )
        .await?;
            return Ok(());
        }
        for (table, _) in FILLED_FROM {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ADD CONSTRAINT {} CHECK (world_id IS NOT NULL) NOT VALID",
                filled_check(table)
            ))
            .await?;
        }
        for (table, name, _) in OLD_KEYS {
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP CONSTRAINT {name}"))
                .await?;
        }
        for (table, name, key) in NEW_KEYS {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ADD CONSTRAINT {name} {key} ON UPDATE NO ACTION NOT VALID"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            crate::schema_util::rebuild_sqlite_table(
            manager,
            "world_elements",
            "CREATE TABLE \"_new_world_elements\" ( \"id\" uuid_text NOT NULL PRIMARY KEY, \"world_id\" uuid_text NOT NULL, \"parent_id\" uuid_text NULL, \"kind\" varchar(64) NOT NULL, \"name\" varchar(200) NOT NULL, \"summary\" text NULL, \"attributes\" jsonb_text NOT NULL DEFAULT ('{}'), \"tags\" jsonb_text NOT NULL DEFAULT ('[]'), \"version\" integer NOT NULL DEFAULT 1, \"created_by\" uuid_text NULL, \"created_at\" timestamp_with_timezone_text NOT NULL DEFAULT CURRENT_TIMESTAMP, \"updated_at\" timestamp_with_timezone_text NOT NULL DEFAULT CURRENT_TIMESTAMP, FOREIGN KEY (\"world_id\") REFERENCES \"worlds\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION, FOREIGN KEY (\"parent_id\") REFERENCES \"world_elements\" (\"id\") ON DELETE SET NULL ON UPDATE NO ACTION, FOREIGN KEY (\"created_by\") REFERENCES \"users\" (\"id\") ON DELETE SET NULL ON UPDATE NO ACTION )",
            &[
                "id",
                "world_id",
                "parent_id",
                "kind",
                "name",
                "summary",
                "attributes",
                "tags",
                "version",
                "created_by",
                "created_at",
                "updated_at",
            ],
            &[
                "CREATE UNIQUE INDEX \"world_elements_world_id_id_key\" ON \"world_elements\" (\"id\", \"world_id\")",
                "CREATE INDEX \"world_elements_created_by_idx\" ON \"world_elements\" (\"created_by\")",
                "CREATE INDEX \"world_elements_parent_id_idx\" ON \"world_elements\" (\"parent_id\")",
                "CREATE INDEX \"world_elements_world_created_idx\" ON \"world_elements\" (\"world_id\", \"created_at\", \"id\")",
                "CREATE INDEX \"world_elements_world_kind_idx\" ON \"world_elements\" (\"world_id\", \"kind\", \"id\")",
                "CREATE INDEX \"world_elements_world_name_idx\" ON \"world_elements\" (\"world_id\", \"name\", \"id\")",
                "CREATE INDEX \"world_elements_world_updated_idx\" ON \"world_elements\" (\"world_id\", \"updated_at\", \"id\")",
                "CREATE TRIGGER world_elements_search_delete AFTER DELETE ON world_elements BEGIN DELETE FROM element_search WHERE element_id = OLD.id; END",
                "CREATE TRIGGER world_elements_search_insert AFTER INSERT ON world_elements BEGIN INSERT INTO element_search (element_id, world_id, name, tags, summary, attributes) VALUES (NEW.id, NEW.world_id, NEW.name, coalesce((SELECT group_concat(t.value, ', ') FROM json_each(NEW.tags) AS t), ''), coalesce(NEW.summary, ''), coalesce((SELECT group_concat(a.value, ' ') FROM json_tree(NEW.attributes) AS a WHERE a.type = 'text'), '')); END",
                "CREATE TRIGGER world_elements_search_update AFTER UPDATE OF name, tags, summary, attributes ON world_elements BEGIN DELETE FROM element_search WHERE element_id = OLD.id; INSERT INTO element_search (element_id, world_id, name, tags, summary, attributes) VALUES (NEW.id, NEW.world_id, NEW.name, coalesce((SELECT group_concat(t.value, ', ') FROM json_each(NEW.tags) AS t), ''), coalesce(NEW.summary, ''), coalesce((SELECT group_concat(a.value, ' ') FROM json_tree(NEW.attributes) AS a WHERE a.type = 'text'), '')); END",
            ],
        )
        .await?;
            crate::schema_util::rebuild_sqlite_table(
            manager,
            "webhook_outbox",
            "CREATE TABLE \"_new_webhook_outbox\" ( \"webhook_id\" uuid_text NOT NULL, \"seq\" integer NOT NULL, \"attempts\" integer NOT NULL, \"next_attempt_at\" timestamp_with_timezone_text NOT NULL, \"first_attempt_at\" timestamp_with_timezone_text NULL, \"lease\" uuid_text NULL, CONSTRAINT \"webhook_outbox_pkey\" PRIMARY KEY (\"webhook_id\", \"seq\"), FOREIGN KEY (\"webhook_id\") REFERENCES \"webhooks\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
            &[
                "webhook_id",
                "seq",
                "attempts",
                "next_attempt_at",
                "first_attempt_at",
                "lease",
            ],
            &[
            ],
        )
        .await?;
            crate::schema_util::rebuild_sqlite_table(
            manager,
            "webhook_deliveries",
            "CREATE TABLE \"_new_webhook_deliveries\" ( \"id\" uuid_text NOT NULL PRIMARY KEY, \"webhook_id\" uuid_text NOT NULL, \"seq\" integer NOT NULL, \"attempt\" integer NOT NULL, \"status_code\" integer NULL, \"duration_ms\" integer NOT NULL, \"error\" text NULL, \"at\" timestamp_with_timezone_text NOT NULL, FOREIGN KEY (\"webhook_id\") REFERENCES \"webhooks\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
            &[
                "id",
                "webhook_id",
                "seq",
                "attempt",
                "status_code",
                "duration_ms",
                "error",
                "at",
            ],
            &[
                "CREATE INDEX \"webhook_deliveries_at_idx\" ON \"webhook_deliveries\" (\"at\")",
                "CREATE INDEX \"webhook_deliveries_webhook_idx\" ON \"webhook_deliveries\" (\"webhook_id\", \"id\")",
            ],
        )
        .await?;
            crate::schema_util::rebuild_sqlite_table(
            manager,
            "element_relations",
            "CREATE TABLE \"_new_element_relations\" ( \"id\" uuid_text NOT NULL PRIMARY KEY, \"world_id\" uuid_text NOT NULL, \"source_id\" uuid_text NOT NULL, \"target_id\" uuid_text NOT NULL, \"kind\" varchar(64) NOT NULL, \"attributes\" jsonb_text NOT NULL DEFAULT ('{}'), \"version\" integer NOT NULL DEFAULT 1, \"created_at\" timestamp_with_timezone_text NOT NULL DEFAULT CURRENT_TIMESTAMP, \"updated_at\" timestamp_with_timezone_text NOT NULL DEFAULT CURRENT_TIMESTAMP, FOREIGN KEY (\"world_id\") REFERENCES \"worlds\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION, FOREIGN KEY (\"source_id\") REFERENCES \"world_elements\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION, FOREIGN KEY (\"target_id\") REFERENCES \"world_elements\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
            &[
                "id",
                "world_id",
                "source_id",
                "target_id",
                "kind",
                "attributes",
                "version",
                "created_at",
                "updated_at",
            ],
            &[
                "CREATE INDEX \"element_relations_source_created_idx\" ON \"element_relations\" (\"source_id\", \"created_at\", \"id\")",
                "CREATE INDEX \"element_relations_source_kind_created_idx\" ON \"element_relations\" (\"source_id\", \"kind\", \"created_at\", \"id\")",
                "CREATE UNIQUE INDEX \"element_relations_world_source_target_kind_key\" ON \"element_relations\" (\"world_id\", \"source_id\", \"target_id\", \"kind\")",
                "CREATE INDEX \"element_relations_target_id_idx\" ON \"element_relations\" (\"target_id\", \"created_at\", \"id\")",
                "CREATE INDEX \"element_relations_target_kind_created_idx\" ON \"element_relations\" (\"target_id\", \"kind\", \"created_at\", \"id\")",
                "CREATE INDEX \"element_relations_world_id_idx\" ON \"element_relations\" (\"world_id\", \"id\")",
            ],
        )
        .await?;
            crate::schema_util::rebuild_sqlite_table(
            manager,
            "element_mentions",
            "CREATE TABLE \"_new_element_mentions\" ( \"source_id\" uuid_text NOT NULL, \"target_id\" uuid_text NOT NULL, CONSTRAINT \"element_mentions_pkey\" PRIMARY KEY (\"source_id\", \"target_id\"), FOREIGN KEY (\"source_id\") REFERENCES \"world_elements\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
            &[
                "source_id",
                "target_id",
            ],
            &[
                "CREATE INDEX \"element_mentions_target_idx\" ON \"element_mentions\" (\"target_id\", \"source_id\")",
            ],
        )
        .await?;
            return Ok(());
        }
        for (table, name, _) in NEW_KEYS {
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP CONSTRAINT {name}"))
                .await?;
        }
        for (table, _) in FILLED_FROM {
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN world_id"))
                .await?;
        }
        for (table, name, key) in OLD_KEYS {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ADD CONSTRAINT {name} {key} ON UPDATE NO ACTION"
            ))
            .await?;
        }
        Ok(())
    }
}
