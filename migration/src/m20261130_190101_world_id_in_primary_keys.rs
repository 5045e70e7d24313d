//! The primary keys of the tables of a world gain `world_id` (issue 19: every unique key
//! of a world's table carries it, as distributing the tables by `world_id` requires).
//! Written by `migrate autogenerate world_id_in_primary_keys` against SQLite, whose tables
//! are rebuilt here; PostgreSQL, for which autogenerate leaves the key change to be
//! written by hand, swaps each key over an index built `CONCURRENTLY` in
//! `m20261130_190102_world_id_in_primary_keys_concurrently`.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_190101_world_id_in_primary_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            crate::schema_util::rebuild_sqlite_table(
                manager,
                "element_kinds",
                "CREATE TABLE \"_new_element_kinds\" ( \"id\" uuid_text NOT NULL, \"world_id\" uuid_text NOT NULL, \"kind\" varchar(64) NOT NULL, \"description\" text, \"schema\" json_text NOT NULL, \"version\" integer NOT NULL DEFAULT (1), \"created_at\" timestamp_with_timezone_text NOT NULL DEFAULT (current_timestamp), \"updated_at\" timestamp_with_timezone_text NOT NULL DEFAULT (current_timestamp), PRIMARY KEY (\"id\", \"world_id\"), FOREIGN KEY (\"world_id\") REFERENCES \"worlds\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
                &[
                    "id",
                    "world_id",
                    "kind",
                    "description",
                    "schema",
                    "version",
                    "created_at",
                    "updated_at",
                ],
                &[
                    "CREATE UNIQUE INDEX \"element_kinds_world_kind_key\" ON \"element_kinds\" (\"world_id\", \"kind\")",
                ],
            )
            .await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            crate::schema_util::rebuild_sqlite_table(
                manager,
                "element_relations",
                "CREATE TABLE \"_new_element_relations\" ( \"id\" uuid_text NOT NULL, \"world_id\" uuid_text NOT NULL, \"source_id\" uuid_text NOT NULL, \"target_id\" uuid_text NOT NULL, \"kind\" varchar(64) NOT NULL, \"attributes\" jsonb_text NOT NULL DEFAULT ('{}'), \"version\" integer NOT NULL DEFAULT (1), \"created_at\" timestamp_with_timezone_text NOT NULL DEFAULT (current_timestamp), \"updated_at\" timestamp_with_timezone_text NOT NULL DEFAULT (current_timestamp), PRIMARY KEY (\"id\", \"world_id\"), FOREIGN KEY (\"world_id\") REFERENCES \"worlds\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION, FOREIGN KEY (\"world_id\", \"target_id\") REFERENCES \"world_elements\" (\"world_id\", \"id\") ON DELETE CASCADE ON UPDATE NO ACTION, FOREIGN KEY (\"world_id\", \"source_id\") REFERENCES \"world_elements\" (\"world_id\", \"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
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
                    "CREATE INDEX \"element_relations_target_id_idx\" ON \"element_relations\" (\"target_id\", \"created_at\", \"id\")",
                    "CREATE INDEX \"element_relations_target_kind_created_idx\" ON \"element_relations\" (\"target_id\", \"kind\", \"created_at\", \"id\")",
                    "CREATE INDEX \"element_relations_world_id_idx\" ON \"element_relations\" (\"world_id\", \"id\")",
                    "CREATE UNIQUE INDEX \"element_relations_world_source_target_kind_key\" ON \"element_relations\" (\"world_id\", \"source_id\", \"target_id\", \"kind\")",
                ],
            )
            .await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            crate::schema_util::rebuild_sqlite_table(
                manager,
                "invitations",
                "CREATE TABLE \"_new_invitations\" ( \"id\" uuid_text NOT NULL, \"world_id\" uuid_text NOT NULL, \"email\" varchar(320) NOT NULL, \"role\" varchar(16) NOT NULL, \"status\" varchar(16) NOT NULL DEFAULT ('pending'), \"invited_by\" uuid_text NOT NULL, \"created_at\" timestamp_with_timezone_text NOT NULL DEFAULT (current_timestamp), \"expires_at\" timestamp_with_timezone_text NOT NULL, PRIMARY KEY (\"id\", \"world_id\"), FOREIGN KEY (\"world_id\") REFERENCES \"worlds\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION, FOREIGN KEY (\"invited_by\") REFERENCES \"users\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
                &[
                    "id",
                    "world_id",
                    "email",
                    "role",
                    "status",
                    "invited_by",
                    "created_at",
                    "expires_at",
                ],
                &[
                    "CREATE INDEX \"invitations_email_created_idx\" ON \"invitations\" (\"email\", \"created_at\", \"id\")",
                    "CREATE INDEX \"invitations_invited_by_idx\" ON \"invitations\" (\"invited_by\")",
                    "CREATE UNIQUE INDEX invitations_pending_key ON invitations (world_id, email) WHERE status = 'pending'",
                    "CREATE INDEX \"invitations_world_created_idx\" ON \"invitations\" (\"world_id\", \"created_at\", \"id\")",
                ],
            )
            .await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            crate::schema_util::rebuild_sqlite_table(
                manager,
                "relation_kinds",
                "CREATE TABLE \"_new_relation_kinds\" ( \"id\" uuid_text NOT NULL, \"world_id\" uuid_text NOT NULL, \"kind\" varchar(64) NOT NULL, \"description\" text, \"source_kinds\" json_text, \"target_kinds\" json_text, \"inverse\" varchar(64), \"version\" integer NOT NULL DEFAULT (1), \"created_at\" timestamp_with_timezone_text NOT NULL DEFAULT (current_timestamp), \"updated_at\" timestamp_with_timezone_text NOT NULL DEFAULT (current_timestamp), PRIMARY KEY (\"id\", \"world_id\"), FOREIGN KEY (\"world_id\") REFERENCES \"worlds\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
                &[
                    "id",
                    "world_id",
                    "kind",
                    "description",
                    "source_kinds",
                    "target_kinds",
                    "inverse",
                    "version",
                    "created_at",
                    "updated_at",
                ],
                &[
                    "CREATE UNIQUE INDEX \"relation_kinds_world_kind_key\" ON \"relation_kinds\" (\"world_id\", \"kind\")",
                ],
            )
            .await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            crate::schema_util::rebuild_sqlite_table(
                manager,
                "webhook_deliveries",
                "CREATE TABLE \"_new_webhook_deliveries\" ( \"id\" uuid_text NOT NULL, \"webhook_id\" uuid_text NOT NULL, \"seq\" integer NOT NULL, \"attempt\" integer NOT NULL, \"status_code\" integer, \"duration_ms\" integer NOT NULL, \"error\" text, \"at\" timestamp_with_timezone_text NOT NULL, \"world_id\" uuid_text NOT NULL, PRIMARY KEY (\"id\", \"world_id\"), FOREIGN KEY (\"world_id\", \"webhook_id\") REFERENCES \"webhooks\" (\"world_id\", \"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
                &[
                    "id",
                    "webhook_id",
                    "seq",
                    "attempt",
                    "status_code",
                    "duration_ms",
                    "error",
                    "at",
                    "world_id",
                ],
                &[
                    "CREATE INDEX \"webhook_deliveries_at_idx\" ON \"webhook_deliveries\" (\"at\")",
                    "CREATE INDEX \"webhook_deliveries_webhook_idx\" ON \"webhook_deliveries\" (\"webhook_id\", \"id\")",
                ],
            )
            .await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            crate::schema_util::rebuild_sqlite_table(
                manager,
                "webhooks",
                "CREATE TABLE \"_new_webhooks\" ( \"id\" uuid_text NOT NULL, \"world_id\" uuid_text NOT NULL, \"url\" varchar(2048) NOT NULL, \"events\" json_text NOT NULL, \"description\" text, \"secret\" varchar(64) NOT NULL, \"active\" boolean NOT NULL, \"disabled_reason\" text, \"created_at\" timestamp_with_timezone_text NOT NULL, \"updated_at\" timestamp_with_timezone_text NOT NULL, PRIMARY KEY (\"id\", \"world_id\"), FOREIGN KEY (\"world_id\") REFERENCES \"worlds\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
                &[
                    "id",
                    "world_id",
                    "url",
                    "events",
                    "description",
                    "secret",
                    "active",
                    "disabled_reason",
                    "created_at",
                    "updated_at",
                ],
                &[
                    "CREATE UNIQUE INDEX webhooks_world_id_id_key ON webhooks (id, world_id)",
                    "CREATE INDEX \"webhooks_world_id_idx\" ON \"webhooks\" (\"world_id\", \"created_at\")",
                ],
            )
            .await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            crate::schema_util::rebuild_sqlite_table(
                manager,
                "world_elements",
                "CREATE TABLE \"_new_world_elements\" ( \"id\" uuid_text NOT NULL, \"world_id\" uuid_text NOT NULL, \"parent_id\" uuid_text, \"kind\" varchar(64) NOT NULL, \"name\" varchar(200) NOT NULL, \"summary\" text, \"attributes\" jsonb_text NOT NULL DEFAULT ('{}'), \"tags\" jsonb_text NOT NULL DEFAULT ('[]'), \"version\" integer NOT NULL DEFAULT (1), \"created_by\" uuid_text, \"created_at\" timestamp_with_timezone_text NOT NULL DEFAULT (current_timestamp), \"updated_at\" timestamp_with_timezone_text NOT NULL DEFAULT (current_timestamp), \"depth\" integer NOT NULL DEFAULT (0), PRIMARY KEY (\"id\", \"world_id\"), FOREIGN KEY (\"world_id\") REFERENCES \"worlds\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION, FOREIGN KEY (\"world_id\", \"parent_id\") REFERENCES \"world_elements\" (\"world_id\", \"id\") ON DELETE NO ACTION ON UPDATE NO ACTION, FOREIGN KEY (\"created_by\") REFERENCES \"users\" (\"id\") ON DELETE SET NULL ON UPDATE NO ACTION )",
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
                    "depth",
                ],
                &[
                    "CREATE INDEX \"world_elements_created_by_idx\" ON \"world_elements\" (\"created_by\")",
                    "CREATE INDEX \"world_elements_parent_id_idx\" ON \"world_elements\" (\"parent_id\")",
                    "CREATE INDEX \"world_elements_world_created_idx\" ON \"world_elements\" (\"world_id\", \"created_at\", \"id\")",
                    "CREATE INDEX \"world_elements_world_depth_idx\" ON \"world_elements\" (\"world_id\", \"depth\", \"id\")",
                    "CREATE UNIQUE INDEX \"world_elements_world_id_id_key\" ON \"world_elements\" (\"id\", \"world_id\")",
                    "CREATE INDEX \"world_elements_world_kind_idx\" ON \"world_elements\" (\"world_id\", \"kind\", \"id\")",
                    "CREATE INDEX \"world_elements_world_name_idx\" ON \"world_elements\" (\"world_id\", \"name\", \"id\")",
                    "CREATE INDEX \"world_elements_world_updated_idx\" ON \"world_elements\" (\"world_id\", \"updated_at\", \"id\")",
                    "CREATE TRIGGER world_elements_search_delete AFTER DELETE ON world_elements BEGIN DELETE FROM element_search WHERE element_id = OLD.id; END",
                    "CREATE TRIGGER world_elements_search_insert AFTER INSERT ON world_elements BEGIN INSERT INTO element_search (element_id, world_id, name, tags, summary, attributes) VALUES (NEW.id, NEW.world_id, NEW.name, coalesce((SELECT group_concat(t.value, ', ') FROM json_each(NEW.tags) AS t), ''), coalesce(NEW.summary, ''), coalesce((SELECT group_concat(a.value, ' ') FROM json_tree(NEW.attributes) AS a WHERE a.type = 'text'), '')); END",
                    "CREATE TRIGGER world_elements_search_update AFTER UPDATE OF name, tags, summary, attributes ON world_elements BEGIN DELETE FROM element_search WHERE element_id = OLD.id; INSERT INTO element_search (element_id, world_id, name, tags, summary, attributes) VALUES (NEW.id, NEW.world_id, NEW.name, coalesce((SELECT group_concat(t.value, ', ') FROM json_each(NEW.tags) AS t), ''), coalesce(NEW.summary, ''), coalesce((SELECT group_concat(a.value, ' ') FROM json_tree(NEW.attributes) AS a WHERE a.type = 'text'), '')); END",
                ],
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            crate::schema_util::rebuild_sqlite_table(
                manager,
                "world_elements",
                "CREATE TABLE \"_new_world_elements\" ( \"id\" uuid_text NOT NULL, \"world_id\" uuid_text NOT NULL, \"parent_id\" uuid_text, \"kind\" varchar(64) NOT NULL, \"name\" varchar(200) NOT NULL, \"summary\" text, \"attributes\" jsonb_text NOT NULL DEFAULT ('{}'), \"tags\" jsonb_text NOT NULL DEFAULT ('[]'), \"version\" integer NOT NULL DEFAULT (1), \"created_by\" uuid_text, \"created_at\" timestamp_with_timezone_text NOT NULL DEFAULT (current_timestamp), \"updated_at\" timestamp_with_timezone_text NOT NULL DEFAULT (current_timestamp), \"depth\" integer NOT NULL DEFAULT 0, PRIMARY KEY (\"id\"), FOREIGN KEY (\"world_id\") REFERENCES \"worlds\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION, FOREIGN KEY (\"world_id\", \"parent_id\") REFERENCES \"world_elements\" (\"world_id\", \"id\") ON DELETE NO ACTION ON UPDATE NO ACTION, FOREIGN KEY (\"created_by\") REFERENCES \"users\" (\"id\") ON DELETE SET NULL ON UPDATE NO ACTION )",
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
                    "depth",
                ],
                &[
                    "CREATE INDEX \"world_elements_created_by_idx\" ON \"world_elements\" (\"created_by\")",
                    "CREATE INDEX \"world_elements_parent_id_idx\" ON \"world_elements\" (\"parent_id\")",
                    "CREATE INDEX \"world_elements_world_created_idx\" ON \"world_elements\" (\"world_id\", \"created_at\", \"id\")",
                    "CREATE INDEX \"world_elements_world_depth_idx\" ON \"world_elements\" (\"world_id\", \"depth\", \"id\")",
                    "CREATE UNIQUE INDEX \"world_elements_world_id_id_key\" ON \"world_elements\" (\"id\", \"world_id\")",
                    "CREATE INDEX \"world_elements_world_kind_idx\" ON \"world_elements\" (\"world_id\", \"kind\", \"id\")",
                    "CREATE INDEX \"world_elements_world_name_idx\" ON \"world_elements\" (\"world_id\", \"name\", \"id\")",
                    "CREATE INDEX \"world_elements_world_updated_idx\" ON \"world_elements\" (\"world_id\", \"updated_at\", \"id\")",
                    "CREATE TRIGGER world_elements_search_delete AFTER DELETE ON world_elements BEGIN DELETE FROM element_search WHERE element_id = OLD.id; END",
                    "CREATE TRIGGER world_elements_search_insert AFTER INSERT ON world_elements BEGIN INSERT INTO element_search (element_id, world_id, name, tags, summary, attributes) VALUES (NEW.id, NEW.world_id, NEW.name, coalesce((SELECT group_concat(t.value, ', ') FROM json_each(NEW.tags) AS t), ''), coalesce(NEW.summary, ''), coalesce((SELECT group_concat(a.value, ' ') FROM json_tree(NEW.attributes) AS a WHERE a.type = 'text'), '')); END",
                    "CREATE TRIGGER world_elements_search_update AFTER UPDATE OF name, tags, summary, attributes ON world_elements BEGIN DELETE FROM element_search WHERE element_id = OLD.id; INSERT INTO element_search (element_id, world_id, name, tags, summary, attributes) VALUES (NEW.id, NEW.world_id, NEW.name, coalesce((SELECT group_concat(t.value, ', ') FROM json_each(NEW.tags) AS t), ''), coalesce(NEW.summary, ''), coalesce((SELECT group_concat(a.value, ' ') FROM json_tree(NEW.attributes) AS a WHERE a.type = 'text'), '')); END",
                ],
            )
            .await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            crate::schema_util::rebuild_sqlite_table(
                manager,
                "webhooks",
                "CREATE TABLE \"_new_webhooks\" ( \"id\" uuid_text NOT NULL PRIMARY KEY, \"world_id\" uuid_text NOT NULL, \"url\" varchar(2048) NOT NULL, \"events\" json_text NOT NULL, \"description\" text NULL, \"secret\" varchar(64) NOT NULL, \"active\" boolean NOT NULL, \"disabled_reason\" text NULL, \"created_at\" timestamp_with_timezone_text NOT NULL, \"updated_at\" timestamp_with_timezone_text NOT NULL, FOREIGN KEY (\"world_id\") REFERENCES \"worlds\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
                &[
                    "id",
                    "world_id",
                    "url",
                    "events",
                    "description",
                    "secret",
                    "active",
                    "disabled_reason",
                    "created_at",
                    "updated_at",
                ],
                &[
                    "CREATE UNIQUE INDEX webhooks_world_id_id_key ON webhooks (id, world_id)",
                    "CREATE INDEX \"webhooks_world_id_idx\" ON \"webhooks\" (\"world_id\", \"created_at\")",
                ],
            )
            .await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            crate::schema_util::rebuild_sqlite_table(
                manager,
                "webhook_deliveries",
                "CREATE TABLE \"_new_webhook_deliveries\" ( \"id\" uuid_text NOT NULL, \"webhook_id\" uuid_text NOT NULL, \"seq\" integer NOT NULL, \"attempt\" integer NOT NULL, \"status_code\" integer, \"duration_ms\" integer NOT NULL, \"error\" text, \"at\" timestamp_with_timezone_text NOT NULL, \"world_id\" uuid_text NOT NULL, PRIMARY KEY (\"id\"), FOREIGN KEY (\"world_id\", \"webhook_id\") REFERENCES \"webhooks\" (\"world_id\", \"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
                &[
                    "id",
                    "webhook_id",
                    "seq",
                    "attempt",
                    "status_code",
                    "duration_ms",
                    "error",
                    "at",
                    "world_id",
                ],
                &[
                    "CREATE INDEX \"webhook_deliveries_at_idx\" ON \"webhook_deliveries\" (\"at\")",
                    "CREATE INDEX \"webhook_deliveries_webhook_idx\" ON \"webhook_deliveries\" (\"webhook_id\", \"id\")",
                ],
            )
            .await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            crate::schema_util::rebuild_sqlite_table(
                manager,
                "relation_kinds",
                "CREATE TABLE \"_new_relation_kinds\" ( \"id\" uuid_text NOT NULL PRIMARY KEY, \"world_id\" uuid_text NOT NULL, \"kind\" varchar(64) NOT NULL, \"description\" text NULL, \"source_kinds\" json_text NULL, \"target_kinds\" json_text NULL, \"inverse\" varchar(64) NULL, \"version\" integer NOT NULL DEFAULT 1, \"created_at\" timestamp_with_timezone_text NOT NULL DEFAULT CURRENT_TIMESTAMP, \"updated_at\" timestamp_with_timezone_text NOT NULL DEFAULT CURRENT_TIMESTAMP, FOREIGN KEY (\"world_id\") REFERENCES \"worlds\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
                &[
                    "id",
                    "world_id",
                    "kind",
                    "description",
                    "source_kinds",
                    "target_kinds",
                    "inverse",
                    "version",
                    "created_at",
                    "updated_at",
                ],
                &[
                    "CREATE UNIQUE INDEX \"relation_kinds_world_kind_key\" ON \"relation_kinds\" (\"world_id\", \"kind\")",
                ],
            )
            .await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            crate::schema_util::rebuild_sqlite_table(
                manager,
                "invitations",
                "CREATE TABLE \"_new_invitations\" ( \"id\" uuid_text NOT NULL PRIMARY KEY, \"world_id\" uuid_text NOT NULL, \"email\" varchar(320) NOT NULL, \"role\" varchar(16) NOT NULL, \"status\" varchar(16) NOT NULL DEFAULT 'pending', \"invited_by\" uuid_text NOT NULL, \"created_at\" timestamp_with_timezone_text NOT NULL DEFAULT CURRENT_TIMESTAMP, \"expires_at\" timestamp_with_timezone_text NOT NULL, FOREIGN KEY (\"world_id\") REFERENCES \"worlds\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION, FOREIGN KEY (\"invited_by\") REFERENCES \"users\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
                &[
                    "id",
                    "world_id",
                    "email",
                    "role",
                    "status",
                    "invited_by",
                    "created_at",
                    "expires_at",
                ],
                &[
                    "CREATE INDEX \"invitations_email_created_idx\" ON \"invitations\" (\"email\", \"created_at\", \"id\")",
                    "CREATE INDEX \"invitations_invited_by_idx\" ON \"invitations\" (\"invited_by\")",
                    "CREATE UNIQUE INDEX invitations_pending_key ON invitations (world_id, email) WHERE status = 'pending'",
                    "CREATE INDEX \"invitations_world_created_idx\" ON \"invitations\" (\"world_id\", \"created_at\", \"id\")",
                ],
            )
            .await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
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
                    "CREATE INDEX \"element_relations_target_id_idx\" ON \"element_relations\" (\"target_id\", \"created_at\", \"id\")",
                    "CREATE INDEX \"element_relations_target_kind_created_idx\" ON \"element_relations\" (\"target_id\", \"kind\", \"created_at\", \"id\")",
                    "CREATE INDEX \"element_relations_world_id_idx\" ON \"element_relations\" (\"world_id\", \"id\")",
                    "CREATE UNIQUE INDEX \"element_relations_world_source_target_kind_key\" ON \"element_relations\" (\"world_id\", \"source_id\", \"target_id\", \"kind\")",
                ],
            )
            .await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            crate::schema_util::rebuild_sqlite_table(
                manager,
                "element_kinds",
                "CREATE TABLE \"_new_element_kinds\" ( \"id\" uuid_text NOT NULL PRIMARY KEY, \"world_id\" uuid_text NOT NULL, \"kind\" varchar(64) NOT NULL, \"description\" text NULL, \"schema\" json_text NOT NULL, \"version\" integer NOT NULL DEFAULT 1, \"created_at\" timestamp_with_timezone_text NOT NULL DEFAULT CURRENT_TIMESTAMP, \"updated_at\" timestamp_with_timezone_text NOT NULL DEFAULT CURRENT_TIMESTAMP, FOREIGN KEY (\"world_id\") REFERENCES \"worlds\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION )",
                &[
                    "id",
                    "world_id",
                    "kind",
                    "description",
                    "schema",
                    "version",
                    "created_at",
                    "updated_at",
                ],
                &[
                    "CREATE UNIQUE INDEX \"element_kinds_world_kind_key\" ON \"element_kinds\" (\"world_id\", \"kind\")",
                ],
            )
            .await?;
        }
        Ok(())
    }
}
