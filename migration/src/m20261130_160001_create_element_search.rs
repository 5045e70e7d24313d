//! The full-text index of elements, kept by the database itself: triggers on
//! `world_elements` write it in the transaction of every insert, update and delete,
//! whichever path makes it (the endpoints, revert, restore, batch, import, psql).
//!
//! - PostgreSQL: `element_search.document`, a weighted `tsvector` (name A, tags B, summary C,
//!   string values of attributes D) in the text search configuration `lorebase_search`:
//!   English stemming over `unaccent`, so accents fold in documents and queries alike, and
//!   `ts_headline` still shows the original text. GIN index without a pending list, like the
//!   other GIN indexes (revision `..._gin_without_pending_list`).
//! - SQLite: `element_search` holds each element's four texts under an integer key, and the
//!   FTS5 table `element_search_fts` (`porter unicode61 remove_diacritics 2`) indexes it as
//!   external content. The integer key is the table's own: `world_elements`' implicit rowid
//!   may change on `VACUUM`.
//!
//! Existing elements are indexed by this revision.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use crate::schema_util::is_postgres;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &[&str] = &[
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    // `migrate fresh` drops tables, not functions or search configurations: a database
    // that was migrated before may still hold them.
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS lorebase_search",
    "CREATE TEXT SEARCH CONFIGURATION lorebase_search (COPY = english)",
    "ALTER TEXT SEARCH CONFIGURATION lorebase_search \
         ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem",
    // The string values inside a JSON document, for headlines.
    "CREATE OR REPLACE FUNCTION lorebase_json_strings(document jsonb) RETURNS text \
         LANGUAGE sql STABLE PARALLEL SAFE AS $$ \
         SELECT coalesce(string_agg(value #>> '{}', ' '), '') \
         FROM jsonb_path_query(document, 'strict $.** ? (@.type() == \"string\")') AS value \
         $$",
    "CREATE OR REPLACE FUNCTION lorebase_search_document(name text, tags jsonb, summary text, attributes jsonb) \
         RETURNS tsvector LANGUAGE sql STABLE PARALLEL SAFE AS $$ \
         SELECT setweight(to_tsvector('lorebase_search', coalesce(name, '')), 'A') \
             || setweight(jsonb_to_tsvector('lorebase_search', coalesce(tags, '[]'), '[\"string\"]'), 'B') \
             || setweight(to_tsvector('lorebase_search', coalesce(summary, '')), 'C') \
             || setweight(jsonb_to_tsvector('lorebase_search', coalesce(attributes, '{}'), '[\"string\"]'), 'D') \
         $$",
    "CREATE TABLE element_search ( \
         element_id uuid NOT NULL, \
         world_id uuid NOT NULL, \
         document tsvector NOT NULL, \
         CONSTRAINT element_search_pkey PRIMARY KEY (element_id), \
         CONSTRAINT element_search_element_id_fkey FOREIGN KEY (element_id) \
             REFERENCES world_elements (id) ON DELETE CASCADE ON UPDATE NO ACTION)",
    "CREATE INDEX element_search_document_idx ON element_search USING gin (document) \
         WITH (fastupdate = off)",
    "CREATE OR REPLACE FUNCTION lorebase_index_element() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
             INSERT INTO element_search (element_id, world_id, document) \
             VALUES (NEW.id, NEW.world_id, \
                     lorebase_search_document(NEW.name, NEW.tags, NEW.summary, NEW.attributes)) \
             ON CONFLICT (element_id) DO UPDATE \
                 SET world_id = EXCLUDED.world_id, document = EXCLUDED.document; \
             RETURN NULL; \
         END $$",
    "CREATE TRIGGER world_elements_search_insert AFTER INSERT ON world_elements \
         FOR EACH ROW EXECUTE FUNCTION lorebase_index_element()",
    "CREATE TRIGGER world_elements_search_update \
         AFTER UPDATE OF name, tags, summary, attributes ON world_elements FOR EACH ROW \
         WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.tags IS DISTINCT FROM NEW.tags \
               OR OLD.summary IS DISTINCT FROM NEW.summary \
               OR OLD.attributes IS DISTINCT FROM NEW.attributes) \
         EXECUTE FUNCTION lorebase_index_element()",
    "INSERT INTO element_search (element_id, world_id, document) \
         SELECT id, world_id, lorebase_search_document(name, tags, summary, attributes) \
         FROM world_elements",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS world_elements_search_update ON world_elements",
    "DROP TRIGGER IF EXISTS world_elements_search_insert ON world_elements",
    "DROP FUNCTION IF EXISTS lorebase_index_element()",
    "DROP TABLE IF EXISTS element_search",
    "DROP FUNCTION IF EXISTS lorebase_search_document(text, jsonb, text, jsonb)",
    "DROP FUNCTION IF EXISTS lorebase_json_strings(jsonb)",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS lorebase_search",
    // The `unaccent` extension stays: other schemas of the database may use it.
];

/// The four texts of an element as SQLite indexes them, from the row `row` (`NEW`).
const SQLITE_TEXTS: &str = "row.name, \
     coalesce((SELECT group_concat(t.value, ', ') FROM json_each(row.tags) AS t), ''), \
     coalesce(row.summary, ''), \
     coalesce((SELECT group_concat(a.value, ' ') FROM json_tree(row.attributes) AS a \
               WHERE a.type = 'text'), '')";

fn sqlite_up() -> Vec<String> {
    let texts = |row: &str| SQLITE_TEXTS.replace("row.", &format!("{row}."));
    vec![
        "CREATE TABLE element_search ( \
             doc_id INTEGER PRIMARY KEY, \
             element_id uuid_blob NOT NULL UNIQUE, \
             world_id uuid_blob NOT NULL, \
             name TEXT NOT NULL, \
             tags TEXT NOT NULL, \
             summary TEXT NOT NULL, \
             attributes TEXT NOT NULL)"
            .to_owned(),
        "CREATE VIRTUAL TABLE element_search_fts USING fts5( \
             name, tags, summary, attributes, \
             content = 'element_search', content_rowid = 'doc_id', \
             tokenize = 'porter unicode61 remove_diacritics 2')"
            .to_owned(),
        "CREATE TRIGGER element_search_fts_insert AFTER INSERT ON element_search BEGIN \
             INSERT INTO element_search_fts (rowid, name, tags, summary, attributes) \
             VALUES (NEW.doc_id, NEW.name, NEW.tags, NEW.summary, NEW.attributes); \
         END"
        .to_owned(),
        "CREATE TRIGGER element_search_fts_delete AFTER DELETE ON element_search BEGIN \
             INSERT INTO element_search_fts \
                 (element_search_fts, rowid, name, tags, summary, attributes) \
             VALUES ('delete', OLD.doc_id, OLD.name, OLD.tags, OLD.summary, OLD.attributes); \
         END"
        .to_owned(),
        "CREATE TRIGGER element_search_fts_update AFTER UPDATE ON element_search BEGIN \
             INSERT INTO element_search_fts \
                 (element_search_fts, rowid, name, tags, summary, attributes) \
             VALUES ('delete', OLD.doc_id, OLD.name, OLD.tags, OLD.summary, OLD.attributes); \
             INSERT INTO element_search_fts (rowid, name, tags, summary, attributes) \
             VALUES (NEW.doc_id, NEW.name, NEW.tags, NEW.summary, NEW.attributes); \
         END"
        .to_owned(),
        format!(
            "CREATE TRIGGER world_elements_search_insert AFTER INSERT ON world_elements BEGIN \
                 INSERT INTO element_search \
                     (element_id, world_id, name, tags, summary, attributes) \
                 VALUES (NEW.id, NEW.world_id, {}); \
             END",
            texts("NEW")
        ),
        format!(
            "CREATE TRIGGER world_elements_search_update \
                 AFTER UPDATE OF name, tags, summary, attributes ON world_elements BEGIN \
                 DELETE FROM element_search WHERE element_id = OLD.id; \
                 INSERT INTO element_search \
                     (element_id, world_id, name, tags, summary, attributes) \
                 VALUES (NEW.id, NEW.world_id, {}); \
             END",
            texts("NEW")
        ),
        "CREATE TRIGGER world_elements_search_delete AFTER DELETE ON world_elements BEGIN \
             DELETE FROM element_search WHERE element_id = OLD.id; \
         END"
        .to_owned(),
        format!(
            "INSERT INTO element_search (element_id, world_id, name, tags, summary, attributes) \
             SELECT e.id, e.world_id, {} FROM world_elements AS e",
            texts("e")
        ),
    ]
}

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS world_elements_search_delete",
    "DROP TRIGGER IF EXISTS world_elements_search_update",
    "DROP TRIGGER IF EXISTS world_elements_search_insert",
    "DROP TABLE IF EXISTS element_search_fts",
    "DROP TABLE IF EXISTS element_search",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements: Vec<String> = if is_postgres(manager) {
            POSTGRES_UP.iter().map(|s| (*s).to_owned()).collect()
        } else {
            sqlite_up()
        };
        for statement in statements {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements = if is_postgres(manager) {
            POSTGRES_DOWN
        } else {
            SQLITE_DOWN
        };
        for statement in statements {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }
}
