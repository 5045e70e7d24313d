//! `squash --to REV NAME`: one revision that runs the SQL the revisions up to REV render,
//! for each backend, in place of them (Django's squashmigrations). `lib.rs` lists it with
//! the revisions it replaces (`squashed()`); a database that applied all of those has its
//! bookkeeping rewritten to say it applied the squashed one instead, so it keeps working,
//! and a fresh database applies the squashed one.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, TransactionTrait,
};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

use super::render::{self, Direction};
use super::{WorkflowError, autogen, revisions};
use crate::Migrator;

/// The versions the database has applied, reading a squashed revision as applied where
/// every revision it replaced is (what `adopt` will record).
pub fn effective_applied(mut applied: Vec<String>) -> Vec<String> {
    for (squashed, replaces) in crate::squashed() {
        if !applied.iter().any(|a| a == squashed)
            && replaces.iter().all(|r| applied.iter().any(|a| a == r))
        {
            applied.retain(|a| !replaces.contains(&a.as_str()));
            applied.push(squashed.to_owned());
        }
    }
    applied
}

/// Rewrites the bookkeeping of a database that applied every revision a squashed one
/// replaces; refuses one that applied only some of them.
pub async fn adopt(db: &DatabaseConnection) -> Result<(), WorkflowError> {
    let applied = revisions::applied(db).await?;
    let table = Migrator::migration_table_name().to_string();
    for (squashed, replaces) in crate::squashed() {
        if applied.iter().any(|a| a == squashed) {
            continue;
        }
        let done = replaces
            .iter()
            .filter(|r| applied.iter().any(|a| a == *r))
            .count();
        if done == 0 {
            continue;
        }
        if done < replaces.len() {
            return Err(WorkflowError::new(format!(
                "{squashed} replaces {} revisions and this database applied only {done} of them: \
                 apply the rest with a build from before the squash, then run this one",
                replaces.len()
            )));
        }
        let txn = db.begin().await?;
        let delete = Query::delete()
            .from_table(table.clone())
            .and_where(Expr::col("version").is_in(replaces.iter().copied()))
            .to_owned();
        txn.execute(&delete).await?;
        let insert = Query::insert()
            .into_table(table.clone())
            .columns(["version", "applied_at"])
            .values_panic([squashed.into(), chrono::Utc::now().timestamp().into()])
            .to_owned();
        txn.execute(&insert).await?;
        txn.commit().await?;
        println!(
            "{squashed} replaces {} applied revisions: recorded as applied",
            replaces.len()
        );
    }
    Ok(())
}

async fn rendered(
    replaced: &[Box<dyn MigrationTrait>],
    backend: DbBackend,
    direction: Direction,
) -> Result<Vec<String>, WorkflowError> {
    let mut statements = Vec::new();
    let ordered: Vec<&Box<dyn MigrationTrait>> = match direction {
        Direction::Up => replaced.iter().collect(),
        Direction::Down => replaced.iter().rev().collect(),
    };
    for revision in ordered {
        statements.extend(render::statements(revision.as_ref(), backend, direction).await?);
    }
    Ok(statements)
}

fn string_list(out: &mut String, name: &str, items: &[String]) {
    writeln!(out, "const {name}: &[&str] = &[").ok();
    for item in items {
        writeln!(out, "    {item:?},").ok();
    }
    out.push_str("];\n");
}

async fn file_text(
    name: &str,
    replaced: &[Box<dyn MigrationTrait>],
) -> Result<String, WorkflowError> {
    let names: Vec<String> = replaced.iter().map(|r| r.name().to_owned()).collect();
    let outside_transaction = replaced.iter().any(|r| r.use_transaction() == Some(false));
    let mut out = String::new();
    writeln!(
        out,
        "//! Written by `migrate squash`: runs the SQL of the {} revisions it replaces (listed\n\
         //! in `REPLACES`), as each backend rendered it. A database that applied them all\n\
         //! records this one as applied instead.",
        names.len()
    )
    .ok();
    out.push_str(
        "use sea_orm_migration::prelude::*;\n\
         use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};\n\n\
         pub struct Migration;\n\n\
         /// The revisions this one replaces, oldest first.\n\
         pub const REPLACES: &[&str] = &[\n",
    );
    for replaced_name in &names {
        writeln!(out, "    {replaced_name:?},").ok();
    }
    out.push_str("];\n\n");
    for (constant, backend, direction) in [
        ("POSTGRES_UP", DbBackend::Postgres, Direction::Up),
        ("POSTGRES_DOWN", DbBackend::Postgres, Direction::Down),
        ("SQLITE_UP", DbBackend::Sqlite, Direction::Up),
        ("SQLITE_DOWN", DbBackend::Sqlite, Direction::Down),
    ] {
        string_list(
            &mut out,
            constant,
            &rendered(replaced, backend, direction).await?,
        );
        out.push('\n');
    }
    write!(
        out,
        r#"impl MigrationName for Migration {{
    fn name(&self) -> &str {{
        "{name}"
    }}
}}

async fn run(manager: &SchemaManager<'_>, postgres: &[&str], sqlite: &[&str]) -> Result<(), DbErr> {{
    let statements = match manager.get_database_backend() {{
        DatabaseBackend::Postgres => postgres,
        _ => sqlite,
    }};
    for statement in statements {{
        manager.get_connection().execute_unprepared(statement).await?;
    }}
    Ok(())
}}

#[async_trait::async_trait]
impl MigrationTrait for Migration {{
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {{
        run(manager, POSTGRES_UP, SQLITE_UP).await
    }}

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {{
        run(manager, POSTGRES_DOWN, SQLITE_DOWN).await
    }}
{}}}
"#,
        if outside_transaction {
            "\n    fn use_transaction(&self) -> Option<bool> {\n        Some(false)\n    }\n"
        } else {
            ""
        }
    )
    .ok();
    Ok(out)
}

/// `lib.rs` with the replaced revisions' registrations taken out and the squashed one
/// put in their place, listed in `squashed()`. A replaced module that other code still
/// names (`crate::<module>::Iden`) stays, as a module only.
fn relink(lib: &str, name: &str, replaced: &[String], kept: &[String]) -> Option<String> {
    let mut out: Vec<String> = Vec::new();
    let (mut placed_mod, mut placed_box, mut listed) = (false, false, false);
    let mut in_squashed = false;
    for line in lib.lines() {
        let trimmed = line.trim();
        let module = trimmed
            .strip_prefix("mod ")
            .and_then(|rest| rest.strip_suffix(';'));
        if let Some(module) = module
            && replaced.iter().any(|r| r == module)
        {
            if !placed_mod {
                out.push(format!("mod {name};"));
                placed_mod = true;
            }
            if kept.iter().any(|k| k == module) {
                out.push(format!(
                    "#[allow(dead_code)] // replaced by {name}; later revisions use its names"
                ));
                out.push(line.to_owned());
            }
            continue;
        }
        let boxed = trimmed
            .strip_prefix("Box::new(")
            .and_then(|rest| rest.strip_suffix("::Migration),"));
        if let Some(module) = boxed
            && replaced.iter().any(|r| r == module)
        {
            if !placed_box {
                let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
                out.push(format!("{indent}Box::new({name}::Migration),"));
                placed_box = true;
            }
            continue;
        }
        if trimmed.starts_with("pub fn squashed()") {
            in_squashed = true;
        }
        if in_squashed && !listed && trimmed.starts_with("vec![") {
            let entry = format!("        (\"{name}\", {name}::REPLACES),");
            if trimmed == "vec![]" {
                out.push("    vec![".to_owned());
                out.push(entry);
                out.push("    ]".to_owned());
            } else {
                out.push(line.to_owned());
                out.push(entry);
            }
            listed = true;
            continue;
        }
        out.push(line.to_owned());
    }
    (placed_mod && placed_box && listed).then(|| out.join("\n") + "\n")
}

/// Writes the squashed revision, relinks `lib.rs` and deletes the replaced files no other
/// code names. Returns the new file.
pub async fn squash(to: &str, name: &str, dir: Option<&Path>) -> Result<PathBuf, WorkflowError> {
    let src = autogen::source_dir(dir)?;
    let mut in_code = revisions::in_code();
    let at = revisions::position(&in_code, to)?;
    in_code.truncate(at + 1);
    let replaced = in_code;
    let names: Vec<String> = replaced.iter().map(|r| r.name().to_owned()).collect();
    if crate::squashed()
        .iter()
        .any(|(squashed, _)| names.iter().any(|n| n == squashed))
    {
        return Err(WorkflowError::new(
            "the revisions up to there include a squashed one: squash again only once every \
             database has applied it, after removing it from `squashed()` by hand",
        ));
    }
    // The squashed revision takes the timestamp of the last one it replaces, so it sorts
    // where they did.
    let stamp = to
        .get(..17)
        .filter(|s| s.starts_with('m'))
        .ok_or_else(|| WorkflowError::new(format!("`{to}` is not named mYYYYMMDD_HHMMSS_name")))?;
    let checked = autogen::revision_name(name)?;
    let squashed = format!("{stamp}{}", &checked[17..]);
    if names.contains(&squashed) {
        return Err(WorkflowError::new(format!(
            "{squashed} is one of the revisions it would replace: choose another name"
        )));
    }
    let text = file_text(&squashed, &replaced).await?;

    let others: Vec<String> = std::fs::read_dir(&src)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .filter(|path| {
            path.file_stem()
                .and_then(|s| s.to_str())
                .is_none_or(|stem| !names.iter().any(|n| n == stem))
        })
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .collect();
    let kept: Vec<String> = names
        .iter()
        .filter(|n| others.iter().any(|text| text.contains(&format!("{n}::"))))
        .cloned()
        .collect();

    let lib_path = src.join("lib.rs");
    let lib = std::fs::read_to_string(&lib_path)?;
    let lib = relink(&lib, &squashed, &names, &kept).ok_or_else(|| {
        WorkflowError::new(format!(
            "cannot relink {}: it needs the revisions' `mod` and `Box::new` lines and a \
             `pub fn squashed()` returning `vec![...]`",
            lib_path.display()
        ))
    })?;
    let file = src.join(format!("{squashed}.rs"));
    std::fs::write(&file, text)?;
    std::fs::write(&lib_path, lib)?;
    for name in names.iter().filter(|n| !kept.contains(n)) {
        std::fs::remove_file(src.join(format!("{name}.rs")))?;
    }
    let _ = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .arg(&file)
        .arg(&lib_path)
        .status();
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relinking_puts_the_squashed_revision_where_the_old_ones_were() {
        let lib = "mod m1_a;\nmod m2_b;\nmod m3_c;\nmod util;\n\npub fn squashed() -> Vec<(&'static str, &'static [&'static str])> {\n    vec![]\n}\n\nfn migrations() {\n    vec![\n        Box::new(m1_a::Migration),\n        Box::new(m2_b::Migration),\n        Box::new(m3_c::Migration),\n    ]\n}\n";
        let out = relink(
            lib,
            "m2_base",
            &["m1_a".into(), "m2_b".into()],
            &["m1_a".into()],
        )
        .expect("relinks");
        assert!(out.contains("mod m2_base;\n#[allow(dead_code)]"), "{out}");
        assert!(out.contains("mod m1_a;\nmod m3_c;"), "{out}");
        assert!(!out.contains("mod m2_b;"), "{out}");
        assert!(
            out.contains("        (\"m2_base\", m2_base::REPLACES),\n    ]"),
            "{out}"
        );
        assert!(out.contains(
            "        Box::new(m2_base::Migration),\n        Box::new(m3_c::Migration),\n"
        ));
        assert!(!out.contains("Box::new(m1_a"), "{out}");
    }
}
