//! The search statement of each backend. Both rank every match in the world, keep the
//! best `limit` and only then read those elements and make their highlights.
use sea_orm::{DatabaseBackend, Statement, Value};
use uuid::Uuid;

use super::Search;

/// PostgreSQL's text search configuration (revision `..._create_element_search`):
/// English stemming after `unaccent`.
const CONFIG: &str = "lorebase_search";

/// `ts_headline` options: a short excerpt of at most two fragments.
const HEADLINE_OPTIONS: &str = "StartSel=<mark>, StopSel=</mark>, MaxWords=20, MinWords=6, \
     ShortWord=2, MaxFragments=2, FragmentDelimiter=\" … \"";

/// What SQLite's `snippet()` wraps matches in: private-use characters, replaced by
/// `<mark>` once the excerpt is HTML-escaped ([`highlight`]).
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';
/// Tokens in a SQLite excerpt.
const SNIPPET_TOKENS: u32 = 16;

/// Values bound in order, with the backend's placeholders.
struct Binds {
    backend: DatabaseBackend,
    values: Vec<Value>,
}

impl Binds {
    fn bind(&mut self, value: Value) -> String {
        self.values.push(value);
        match self.backend {
            DatabaseBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }
}

pub fn statement(backend: DatabaseBackend, world_id: Uuid, search: &Search) -> Statement {
    let mut binds = Binds {
        backend,
        values: Vec::new(),
    };
    let sql = match backend {
        DatabaseBackend::Postgres => postgres(&mut binds, world_id, search),
        _ => sqlite(&mut binds, world_id, search),
    };
    Statement::from_sql_and_values(backend, sql, binds.values)
}

/// `text` with `&`, `<`, `>` and `"` written as HTML entities, in SQL.
fn html_escaped(text: &str) -> String {
    format!(
        "replace(replace(replace(replace({text}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), \
         '\"', '&quot;')"
    )
}

/// `AND` the element's kind, when the search names one (the same on both backends).
fn kind_filter(binds: &mut Binds, search: &Search) -> String {
    match &search.kind {
        Some(kind) => format!(
            "AND EXISTS (SELECT 1 FROM world_elements k WHERE k.id = s.element_id AND k.kind = {})",
            binds.bind(kind.as_str().into())
        ),
        None => String::new(),
    }
}

fn postgres(binds: &mut Binds, world_id: Uuid, search: &Search) -> String {
    let query = search
        .query
        .to_tsquery(CONFIG, &mut |word| binds.bind(word.into()));
    let world = binds.bind(world_id.into());
    let kind = kind_filter(binds, search);
    let limit = binds.bind((search.limit as i64).into());
    let options = binds.bind(HEADLINE_OPTIONS.into());
    let headline = |text: &str| {
        format!(
            "ts_headline('{CONFIG}', {}, r.query, {options})",
            html_escaped(&format!("coalesce({text}, '')"))
        )
    };
    format!(
        "SELECT e.id, e.kind, e.name, e.summary, CAST(e.tags AS text) AS tags, r.score, \
             {hl_name} AS hl_name, {hl_tags} AS hl_tags, {hl_summary} AS hl_summary, \
             {hl_attributes} AS hl_attributes \
         FROM ( \
             SELECT s.element_id, q.query, \
                 CAST(ts_rank_cd(s.document, q.query) AS double precision) AS score \
             FROM element_search s, (SELECT {query} AS query) q \
             WHERE s.world_id = {world} AND s.document @@ q.query {kind} \
             ORDER BY score DESC, s.element_id \
             LIMIT {limit} \
         ) r \
         JOIN world_elements e ON e.id = r.element_id \
         ORDER BY r.score DESC, e.id",
        hl_name = headline("e.name"),
        hl_tags =
            headline("(SELECT string_agg(t, ', ') FROM jsonb_array_elements_text(e.tags) AS t)"),
        hl_summary = headline("e.summary"),
        hl_attributes = headline("lorebase_json_strings(e.attributes)"),
    )
}

fn sqlite(binds: &mut Binds, world_id: Uuid, search: &Search) -> String {
    let matched = binds.bind(search.query.to_fts5().into());
    let world = binds.bind(world_id.into());
    let kind = kind_filter(binds, search);
    let limit = binds.bind((search.limit as i64).into());
    let snippet = |column: u32| {
        format!(
            "snippet(element_search_fts, {column}, char(57344), char(57345), '…', {SNIPPET_TOKENS})"
        )
    };
    format!(
        "SELECT e.id, e.kind, e.name, e.summary, CAST(e.tags AS text) AS tags, r.score, \
             r.hl_name, r.hl_tags, r.hl_summary, r.hl_attributes \
         FROM ( \
             SELECT s.element_id, \
                 -bm25(element_search_fts, 1.0, 0.4, 0.2, 0.1) AS score, \
                 {hl_name} AS hl_name, {hl_tags} AS hl_tags, {hl_summary} AS hl_summary, \
                 {hl_attributes} AS hl_attributes \
             FROM element_search_fts \
             JOIN element_search s ON s.doc_id = element_search_fts.rowid \
             WHERE element_search_fts MATCH {matched} AND s.world_id = {world} {kind} \
             ORDER BY score DESC, s.element_id \
             LIMIT {limit} \
         ) r \
         JOIN world_elements e ON e.id = r.element_id \
         ORDER BY r.score DESC, e.id",
        hl_name = snippet(0),
        hl_tags = snippet(1),
        hl_summary = snippet(2),
        hl_attributes = snippet(3),
    )
}

/// A field's excerpt as the client gets it, or `None` when the search did not match in it.
/// PostgreSQL's `ts_headline` ran over HTML-escaped text already; SQLite's `snippet()`
/// marked the raw text, which is escaped here.
pub fn highlight(backend: DatabaseBackend, excerpt: &str) -> Option<String> {
    match backend {
        DatabaseBackend::Postgres => excerpt.contains("<mark>").then(|| excerpt.to_owned()),
        _ => {
            if !excerpt.contains(OPEN) {
                return None;
            }
            let mut out = String::with_capacity(excerpt.len() + 16);
            for c in excerpt.chars() {
                match c {
                    OPEN => out.push_str("<mark>"),
                    CLOSE => out.push_str("</mark>"),
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    c => out.push(c),
                }
            }
            Some(out)
        }
    }
}
