//! `lint`: rules, as squawk's and Atlas's, over the SQL each revision renders on
//! PostgreSQL as `up` runs it (after the runner's `SET lock_timeout`): changes that lose
//! data, changes that hold a strong lock on a table that already has rows, and a
//! `NOT NULL` column that cannot be added to one. A table the same revision creates is
//! empty and unused, so no rule fires on it.
//!
//! The SQL is sea-query's (and the revisions' own raw statements), so a small tokenizer
//! reads it; statements it does not recognise are not judged.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::diff::widens;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One rule: its id (what the accepted file names), what it guards and the usual fix.
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub fix: &'static str,
}

pub const DROP_TABLE: Rule = Rule {
    id: "drop-table",
    severity: Severity::Error,
    fix: "stop using the table in one release, back it up, and drop it in a later revision",
};
pub const DROP_COLUMN: Rule = Rule {
    id: "drop-column",
    severity: Severity::Error,
    fix: "stop reading and writing the column in one release, then drop it in a later revision",
};
pub const NARROWING_TYPE: Rule = Rule {
    id: "narrowing-type",
    severity: Severity::Error,
    fix: "add a column of the new type, copy the values that fit, switch to it, then drop the old one",
};
pub const INDEX_WITHOUT_CONCURRENTLY: Rule = Rule {
    id: "index-without-concurrently",
    severity: Severity::Error,
    fix: "CREATE INDEX CONCURRENTLY in a revision of its own whose use_transaction() is Some(false)",
};
pub const DROP_INDEX_WITHOUT_CONCURRENTLY: Rule = Rule {
    id: "drop-index-without-concurrently",
    severity: Severity::Error,
    fix: "DROP INDEX CONCURRENTLY in a revision of its own whose use_transaction() is Some(false)",
};
pub const SET_NOT_NULL: Rule = Rule {
    id: "set-not-null",
    severity: Severity::Error,
    fix: "ADD CONSTRAINT .. CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in the next revision, then SET NOT NULL (no scan)",
};
pub const TYPE_CHANGE_REWRITES_TABLE: Rule = Rule {
    id: "type-change-rewrites-table",
    severity: Severity::Error,
    fix: "add a column of the new type, backfill it in batches, switch to it, then drop the old one",
};
pub const CONSTRAINT_WITHOUT_NOT_VALID: Rule = Rule {
    id: "constraint-without-not-valid",
    severity: Severity::Error,
    fix: "add it NOT VALID, then VALIDATE CONSTRAINT in the next revision (UNIQUE: build the index CONCURRENTLY, then ADD CONSTRAINT .. USING INDEX)",
};
pub const MISSING_LOCK_TIMEOUT: Rule = Rule {
    id: "missing-lock-timeout",
    severity: Severity::Error,
    fix: "keep MIGRATION_LOCK_TIMEOUT_SECS above 0 and do not reset lock_timeout inside a revision",
};
pub const NOT_NULL_WITHOUT_DEFAULT: Rule = Rule {
    id: "not-null-column-without-default",
    severity: Severity::Error,
    fix: "give the column a DEFAULT, or add it NULL, backfill it, then make it NOT NULL",
};

pub const RULES: &[&Rule] = &[
    &DROP_TABLE,
    &DROP_COLUMN,
    &NARROWING_TYPE,
    &INDEX_WITHOUT_CONCURRENTLY,
    &DROP_INDEX_WITHOUT_CONCURRENTLY,
    &SET_NOT_NULL,
    &TYPE_CHANGE_REWRITES_TABLE,
    &CONSTRAINT_WITHOUT_NOT_VALID,
    &MISSING_LOCK_TIMEOUT,
    &NOT_NULL_WITHOUT_DEFAULT,
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub revision: String,
    pub message: String,
    pub fix: &'static str,
    pub statement: String,
    /// Listed in the accepted file: printed, but not an error.
    pub accepted: bool,
}

impl Finding {
    /// `error[drop-column] m…_x: drops column worlds.motto and its data; fix: …`
    pub fn line(&self) -> String {
        let severity = match (self.accepted, self.severity) {
            (true, _) => "accepted",
            (false, Severity::Error) => "error",
            (false, Severity::Warning) => "warning",
        };
        format!(
            "{severity}[{}] {}: {}; fix: {}",
            self.rule, self.revision, self.message, self.fix
        )
    }

    pub fn is_error(&self) -> bool {
        !self.accepted && self.severity == Severity::Error
    }
}

/// Findings reviewed and accepted, from a file of `<revision> <rule-id>` lines (`#`
/// starts a comment): adding one is one line.
#[derive(Debug, Default)]
pub struct Accepted(BTreeSet<(String, String)>);

impl Accepted {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut accepted = BTreeSet::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let [revision, rule] = words[..] else {
                return Err(format!(
                    "line {}: expected `<revision> <rule-id>`, found `{line}`",
                    number + 1
                ));
            };
            if !RULES.iter().any(|r| r.id == rule) {
                return Err(format!("line {}: no rule `{rule}`", number + 1));
            }
            accepted.insert((revision.to_owned(), rule.to_owned()));
        }
        Ok(Self(accepted))
    }

    fn covers(&self, revision: &str, rule: &str) -> bool {
        self.0.contains(&(revision.to_owned(), rule.to_owned()))
    }
}

/// The committed list of accepted findings.
pub const ACCEPTED_FILE: &str = include_str!("../../lint-accepted.txt");

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A bare word, upper-cased (keywords and unquoted names alike).
    Word(String),
    /// A `"quoted"` identifier, as written.
    Quoted(String),
    /// A `'string'` literal, as written.
    Literal(String),
    Punct(char),
}

impl Token {
    fn is(&self, word: &str) -> bool {
        matches!(self, Token::Word(w) if w == word)
    }

    fn name(&self) -> Option<String> {
        match self {
            Token::Quoted(name) => Some(name.clone()),
            Token::Word(word) => Some(word.to_lowercase()),
            _ => None,
        }
    }

    fn text(&self) -> String {
        match self {
            Token::Word(w) => w.to_lowercase(),
            Token::Quoted(q) => format!("\"{q}\""),
            Token::Literal(l) => format!("'{l}'"),
            Token::Punct(c) => c.to_string(),
        }
    }
}

fn tokenize(sql: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '"' | '\'' => {
                let mut text = String::new();
                while let Some(next) = chars.next() {
                    if next == c {
                        if chars.peek() == Some(&c) {
                            chars.next();
                            text.push(c);
                            continue;
                        }
                        break;
                    }
                    text.push(next);
                }
                tokens.push(if c == '"' {
                    Token::Quoted(text)
                } else {
                    Token::Literal(text)
                });
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' => {
                let mut word = c.to_string();
                while let Some(&next) = chars.peek() {
                    if next.is_alphanumeric() || next == '_' || next == '.' {
                        word.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Word(word.to_uppercase()));
            }
            other => tokens.push(Token::Punct(other)),
        }
    }
    tokens
}

/// Splits at commas outside parentheses.
fn split_top_level(tokens: &[Token]) -> Vec<&[Token]> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth -= 1,
            Token::Punct(',') if depth == 0 => {
                parts.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&tokens[start..]);
    parts
}

/// Skips the given words in order where present (`IF NOT EXISTS`, `ONLY`).
fn skip_words<'a>(mut tokens: &'a [Token], words: &[&str]) -> &'a [Token] {
    for word in words {
        if tokens.first().is_some_and(|t| t.is(word)) {
            tokens = &tokens[1..];
        }
    }
    tokens
}

fn skip_if_exists(tokens: &[Token]) -> &[Token] {
    match tokens {
        [first, second, rest @ ..] if first.is("IF") && second.is("EXISTS") => rest,
        [first, second, third, rest @ ..]
            if first.is("IF") && second.is("NOT") && third.is("EXISTS") =>
        {
            rest
        }
        _ => tokens,
    }
}

/// A table or index name, without a schema prefix.
fn object_name(token: &Token) -> Option<String> {
    token
        .name()
        .map(|name| name.rsplit('.').next().unwrap_or(&name).to_owned())
}

const COLUMN_CONSTRAINT_WORDS: &[&str] = &[
    "NOT",
    "NULL",
    "DEFAULT",
    "PRIMARY",
    "UNIQUE",
    "REFERENCES",
    "CHECK",
    "CONSTRAINT",
    "COLLATE",
    "GENERATED",
    "USING",
];

/// The type written at the start of `tokens`, in PostgreSQL's canonical spelling.
fn column_type(tokens: &[Token]) -> String {
    let mut text = String::new();
    for token in tokens {
        if COLUMN_CONSTRAINT_WORDS.iter().any(|w| token.is(w)) {
            break;
        }
        let piece = token.text();
        let glue = text.is_empty()
            || matches!(token, Token::Punct('(' | ')' | ','))
            || text.ends_with('(')
            || text.ends_with(',');
        if !glue {
            text.push(' ');
        }
        text.push_str(&piece);
    }
    canonical_type(&text)
}

fn canonical_type(text: &str) -> String {
    let (base, size) = match text.split_once('(') {
        Some((base, size)) => (base.trim(), Some(size)),
        None => (text.trim(), None),
    };
    let base = match base {
        "varchar" => "character varying",
        "int" | "int4" => "integer",
        "int8" => "bigint",
        "int2" => "smallint",
        "float8" => "double precision",
        "float4" => "real",
        "bool" => "boolean",
        "timestamptz" => "timestamp with time zone",
        "timestamp" => "timestamp without time zone",
        other => other,
    };
    match size {
        Some(size) => format!("{base}({size}"),
        None => base.to_owned(),
    }
}

/// Whether PostgreSQL rewrites the table (under an exclusive lock) to change a column
/// from `from` to `to`: it does not for a longer or unbounded `varchar` or for `text`.
fn rewrites(from: Option<&str>, to: &str) -> bool {
    let Some(from) = from else { return true };
    let varchar = |t: &str| t.starts_with("character varying");
    match (from, to) {
        (f, t) if f == t => false,
        (f, "text" | "character varying") => !(f == "text" || varchar(f)),
        (f, t) if varchar(f) && varchar(t) => !widens(f, t),
        _ => true,
    }
}

/// What the linter knows of the schema so far: column types, and which tables and
/// indexes the revision being read created itself.
#[derive(Default)]
struct Schema {
    columns: BTreeMap<(String, String), String>,
}

struct RevisionState {
    new_tables: BTreeSet<String>,
    new_indexes: BTreeSet<String>,
    lock_timeout_set: bool,
}

/// The lint findings of one revision's statements, given what the revisions before it
/// made; `lock_timeout_secs` is what the runner sets before the revision.
struct Linter<'a> {
    revision: &'a str,
    schema: &'a mut Schema,
    state: RevisionState,
    findings: Vec<Finding>,
}

impl Linter<'_> {
    fn report(&mut self, rule: &Rule, statement: &str, message: String) {
        self.findings.push(Finding {
            rule: rule.id,
            severity: rule.severity,
            revision: self.revision.to_owned(),
            message,
            fix: rule.fix,
            statement: statement.to_owned(),
            accepted: false,
        });
    }

    fn existing(&self, table: &str) -> bool {
        !self.state.new_tables.contains(table)
    }

    /// A statement that locks an existing table with no lock_timeout in force.
    fn locks(&mut self, table: &str, statement: &str) {
        if self.existing(table)
            && !self.state.lock_timeout_set
            && !self
                .findings
                .iter()
                .any(|f| f.rule == MISSING_LOCK_TIMEOUT.id)
        {
            self.report(
                &MISSING_LOCK_TIMEOUT,
                statement,
                format!("locks table {table} with no lock_timeout: it can wait, and block every query, for ever"),
            );
        }
    }

    fn statement(&mut self, sql: &str) {
        let tokens = tokenize(sql);
        let words: Vec<&str> = tokens
            .iter()
            .take(3)
            .map(|t| match t {
                Token::Word(w) => w.as_str(),
                _ => "",
            })
            .collect();
        match words.as_slice() {
            ["SET", "LOCK_TIMEOUT", ..] | ["SET", "LOCAL", "LOCK_TIMEOUT"] => {
                let value = tokens.iter().rev().find_map(|t| match t {
                    Token::Word(w) => Some(w.clone()),
                    Token::Literal(l) => Some(l.clone()),
                    _ => None,
                });
                self.state.lock_timeout_set = value.is_some_and(|v| {
                    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
                    digits.parse::<u64>().is_ok_and(|n| n > 0)
                });
            }
            ["RESET", "LOCK_TIMEOUT", ..] | ["RESET", "ALL", ..] => {
                self.state.lock_timeout_set = false;
            }
            ["CREATE", "TABLE", ..] => self.create_table(&tokens[2..]),
            ["CREATE", "INDEX", ..] => self.create_index(sql, &tokens[2..]),
            ["CREATE", "UNIQUE", "INDEX"] => self.create_index(sql, &tokens[3..]),
            ["DROP", "TABLE", ..] => self.drop_table(sql, &tokens[2..]),
            ["DROP", "INDEX", ..] => self.drop_index(sql, &tokens[2..]),
            ["ALTER", "TABLE", ..] => self.alter_table(sql, &tokens[2..]),
            _ => {}
        }
    }

    fn create_table(&mut self, tokens: &[Token]) {
        let tokens = skip_if_exists(tokens);
        let Some(table) = tokens.first().and_then(object_name) else {
            return;
        };
        self.state.new_tables.insert(table.clone());
        let Some(open) = tokens.iter().position(|t| *t == Token::Punct('(')) else {
            return;
        };
        let Some(body) = tokens.get(open + 1..tokens.len().saturating_sub(1)) else {
            return;
        };
        for part in split_top_level(body) {
            let Some(first) = part.first() else { continue };
            if ["CONSTRAINT", "PRIMARY", "FOREIGN", "UNIQUE", "CHECK"]
                .iter()
                .any(|w| first.is(w))
            {
                continue;
            }
            if let Some(column) = first.name() {
                self.schema
                    .columns
                    .insert((table.clone(), column), column_type(&part[1..]));
            }
        }
    }

    fn create_index(&mut self, sql: &str, tokens: &[Token]) {
        let concurrently = tokens.first().is_some_and(|t| t.is("CONCURRENTLY"));
        let tokens = skip_if_exists(skip_words(tokens, &["CONCURRENTLY"]));
        let Some(on) = tokens.iter().position(|t| t.is("ON")) else {
            return;
        };
        if on > 0
            && let Some(name) = object_name(&tokens[0])
        {
            self.state.new_indexes.insert(name);
        }
        let rest = skip_words(&tokens[on + 1..], &["ONLY"]);
        let Some(table) = rest.first().and_then(object_name) else {
            return;
        };
        if !concurrently && self.existing(&table) {
            self.locks(&table, sql);
            self.report(
                &INDEX_WITHOUT_CONCURRENTLY,
                sql,
                format!("builds an index on table {table} while blocking its writes"),
            );
        }
    }

    fn drop_index(&mut self, sql: &str, tokens: &[Token]) {
        let concurrently = tokens.first().is_some_and(|t| t.is("CONCURRENTLY"));
        let tokens = skip_if_exists(skip_words(tokens, &["CONCURRENTLY"]));
        let Some(index) = tokens.first().and_then(object_name) else {
            return;
        };
        if !concurrently && !self.state.new_indexes.contains(&index) {
            self.report(
                &DROP_INDEX_WITHOUT_CONCURRENTLY,
                sql,
                format!("drops index {index} under an exclusive lock on its table"),
            );
        }
    }

    fn drop_table(&mut self, sql: &str, tokens: &[Token]) {
        let tokens = skip_if_exists(tokens);
        for part in split_top_level(tokens) {
            let Some(table) = part.first().and_then(object_name) else {
                continue;
            };
            self.schema.columns.retain(|(t, _), _| *t != table);
            if self.existing(&table) {
                self.report(
                    &DROP_TABLE,
                    sql,
                    format!("drops table {table} and every row in it"),
                );
            }
        }
    }

    fn alter_table(&mut self, sql: &str, tokens: &[Token]) {
        let tokens = skip_words(skip_if_exists(tokens), &["ONLY"]);
        let Some(table) = tokens.first().and_then(object_name) else {
            return;
        };
        if tokens.get(1).is_some_and(|t| t.is("RENAME")) {
            return;
        }
        self.locks(&table, sql);
        for action in split_top_level(&tokens[1..]) {
            self.alter_action(sql, &table, action);
        }
    }

    fn alter_action(&mut self, sql: &str, table: &str, action: &[Token]) {
        let existing = self.existing(table);
        let Some(verb) = action.first() else { return };
        let rest = &action[1..];
        if verb.is("ADD") {
            let is_constraint = rest.first().is_some_and(|t| {
                ["CONSTRAINT", "FOREIGN", "CHECK", "UNIQUE", "PRIMARY"]
                    .iter()
                    .any(|w| t.is(w))
            });
            if is_constraint {
                let validated =
                    !action.iter().any(|t| t.is("VALID")) && !action.iter().any(|t| t.is("USING"));
                if existing && validated {
                    self.report(
                        &CONSTRAINT_WITHOUT_NOT_VALID,
                        sql,
                        format!(
                            "adds a constraint to table {table} and checks every row under lock"
                        ),
                    );
                }
                return;
            }
            let column = skip_if_exists(skip_words(rest, &["COLUMN"]));
            let Some(name) = column.first().and_then(Token::name) else {
                return;
            };
            let not_null = column.windows(2).any(|w| w[0].is("NOT") && w[1].is("NULL"))
                || column.iter().any(|t| t.is("PRIMARY"));
            let has_default = column.iter().any(|t| t.is("DEFAULT"));
            if existing && not_null && !has_default {
                self.report(
                    &NOT_NULL_WITHOUT_DEFAULT,
                    sql,
                    format!("adds {table}.{name} NOT NULL without a default, which fails once the table has rows"),
                );
            }
            self.schema
                .columns
                .insert((table.to_owned(), name), column_type(&column[1..]));
        } else if verb.is("DROP") {
            if rest.first().is_some_and(|t| t.is("CONSTRAINT")) {
                return;
            }
            let column = skip_if_exists(skip_words(rest, &["COLUMN"]));
            let Some(name) = column.first().and_then(Token::name) else {
                return;
            };
            self.schema
                .columns
                .remove(&(table.to_owned(), name.clone()));
            if existing {
                self.report(
                    &DROP_COLUMN,
                    sql,
                    format!("drops column {table}.{name} and its data"),
                );
            }
        } else if verb.is("ALTER") {
            let column = skip_words(rest, &["COLUMN"]);
            let Some(name) = column.first().and_then(Token::name) else {
                return;
            };
            let change = &column[1..];
            let type_at = change.iter().position(|t| t.is("TYPE"));
            if let Some(at) = type_at {
                let key = (table.to_owned(), name.clone());
                let to = column_type(&change[at + 1..]);
                let from = self.schema.columns.get(&key).cloned();
                if existing {
                    if let Some(from) = &from
                        && !widens(from, &to)
                        && from != &to
                    {
                        self.report(
                            &NARROWING_TYPE,
                            sql,
                            format!("changes {table}.{name} from {from} to {to}, which can lose data or fail"),
                        );
                    }
                    if rewrites(from.as_deref(), &to) {
                        self.report(
                            &TYPE_CHANGE_REWRITES_TABLE,
                            sql,
                            format!("changes {table}.{name} to {to}, rewriting the table under an exclusive lock"),
                        );
                    }
                }
                self.schema.columns.insert(key, to);
            } else if change.len() >= 3
                && change[0].is("SET")
                && change[1].is("NOT")
                && change[2].is("NULL")
                && existing
            {
                self.report(
                    &SET_NOT_NULL,
                    sql,
                    format!(
                        "makes {table}.{name} NOT NULL, scanning the table under an exclusive lock"
                    ),
                );
            }
        }
    }
}

/// The statements of one revision as the linter reads them.
pub struct RevisionSql {
    pub name: String,
    pub statements: Vec<String>,
}

/// Lints `revisions` (all of them, oldest first, so that column types are known) and
/// reports the findings of those `selected` (all when `None`), marking the accepted ones.
pub fn lint(
    revisions: &[RevisionSql],
    selected: Option<&[String]>,
    lock_timeout_secs: u64,
    accepted: &Accepted,
) -> Vec<Finding> {
    let mut schema = Schema::default();
    let mut findings = Vec::new();
    for revision in revisions {
        let mut linter = Linter {
            revision: &revision.name,
            schema: &mut schema,
            state: RevisionState {
                new_tables: BTreeSet::new(),
                new_indexes: BTreeSet::new(),
                lock_timeout_set: lock_timeout_secs > 0,
            },
            findings: Vec::new(),
        };
        for statement in &revision.statements {
            linter.statement(statement);
        }
        let wanted = selected.is_none_or(|names| names.contains(&revision.name));
        if wanted {
            findings.extend(linter.findings);
        }
    }
    for finding in &mut findings {
        finding.accepted = accepted.covers(&finding.revision, finding.rule);
    }
    findings
}

pub fn text_report(findings: &[Finding]) -> String {
    let mut out = String::new();
    for finding in findings {
        writeln!(out, "{}", finding.line()).ok();
        writeln!(out, "  {}", finding.statement).ok();
    }
    let errors = findings.iter().filter(|f| f.is_error()).count();
    let accepted = findings.iter().filter(|f| f.accepted).count();
    writeln!(
        out,
        "{errors} error(s), {} warning(s), {accepted} accepted",
        findings.len() - errors - accepted
    )
    .ok();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(statements: &[&str]) -> Vec<&'static str> {
        let revisions = vec![
            RevisionSql {
                name: "m1".into(),
                statements: vec![
                    r#"CREATE TABLE "worlds" ( "id" uuid NOT NULL PRIMARY KEY, "name" varchar(200) NOT NULL, "motto" text )"#.into(),
                ],
            },
            RevisionSql {
                name: "m2".into(),
                statements: statements.iter().map(|s| s.to_string()).collect(),
            },
        ];
        lint(
            &revisions,
            Some(&["m2".to_owned()]),
            5,
            &Accepted::default(),
        )
        .into_iter()
        .map(|f| f.rule)
        .collect()
    }

    #[test]
    fn each_rule_fires_on_its_statement() {
        assert_eq!(run(&[r#"DROP TABLE "worlds""#]), ["drop-table"]);
        assert_eq!(
            run(&[r#"ALTER TABLE "worlds" DROP COLUMN "motto""#]),
            ["drop-column"]
        );
        assert_eq!(
            run(&[r#"ALTER TABLE "worlds" ALTER COLUMN "name" TYPE varchar(100)"#]),
            ["narrowing-type", "type-change-rewrites-table"]
        );
        assert_eq!(
            run(&[r#"ALTER TABLE "worlds" ALTER COLUMN "name" TYPE varchar(300)"#]),
            Vec::<&str>::new()
        );
        assert_eq!(
            run(&[r#"ALTER TABLE "worlds" ALTER COLUMN "name" TYPE text"#]),
            Vec::<&str>::new()
        );
        assert_eq!(
            run(&[r#"CREATE INDEX "worlds_name_idx" ON "worlds" ("name")"#]),
            ["index-without-concurrently"]
        );
        assert_eq!(
            run(&[r#"CREATE INDEX CONCURRENTLY "worlds_name_idx" ON "worlds" ("name")"#]),
            Vec::<&str>::new()
        );
        assert_eq!(
            run(&[r#"DROP INDEX "worlds_name_idx""#]),
            ["drop-index-without-concurrently"]
        );
        assert_eq!(
            run(&[r#"ALTER TABLE "worlds" ALTER COLUMN "motto" SET NOT NULL"#]),
            ["set-not-null"]
        );
        assert_eq!(
            run(&[
                r#"ALTER TABLE "worlds" ADD CONSTRAINT "worlds_owner_fkey" FOREIGN KEY ("owner") REFERENCES "users" ("id")"#
            ]),
            ["constraint-without-not-valid"]
        );
        assert_eq!(
            run(&[r#"ALTER TABLE "worlds" ADD CONSTRAINT "c" CHECK (length(name) > 0) NOT VALID"#]),
            Vec::<&str>::new()
        );
        assert_eq!(
            run(&[r#"ALTER TABLE "worlds" ADD COLUMN "rank" integer NOT NULL"#]),
            ["not-null-column-without-default"]
        );
        assert_eq!(
            run(&[r#"ALTER TABLE "worlds" ADD COLUMN "rank" integer NOT NULL DEFAULT 0"#]),
            Vec::<&str>::new()
        );
        assert_eq!(
            run(&[
                "SET lock_timeout = 0",
                r#"ALTER TABLE "worlds" ADD COLUMN "rank" integer"#
            ]),
            ["missing-lock-timeout"]
        );
    }

    #[test]
    fn a_table_made_in_the_same_revision_is_not_locked_for_anyone() {
        assert_eq!(
            run(&[
                r#"CREATE TABLE "kinds" ( "id" uuid NOT NULL, "name" text )"#,
                r#"CREATE INDEX "kinds_name_idx" ON "kinds" ("name")"#,
                r#"ALTER TABLE "kinds" ADD COLUMN "rank" integer NOT NULL"#,
                r#"ALTER TABLE "kinds" ALTER COLUMN "name" SET NOT NULL"#,
            ]),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn accepted_findings_are_one_line_each() {
        let accepted =
            Accepted::parse("# reviewed\nm2 drop-table  # archived first\n").expect("parses");
        assert!(accepted.covers("m2", "drop-table"));
        assert!(!accepted.covers("m2", "drop-column"));
        assert!(Accepted::parse("m2 no-such-rule").is_err());
        assert!(Accepted::parse("m2").is_err());
    }
}
