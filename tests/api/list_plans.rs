//! Filtered lists at a bounded cost (issue 21): the probe of the keyset order and the
//! fallback to the filters' own indexes give the same pages as one plain query would, on
//! both backends, and on PostgreSQL each statement's plan is bounded whatever the
//! statistics say.
use chrono::{Duration, Utc};
use entity::world_elements;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, Statement,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, spawn_app};
use crate::helpers::{element_row, elements_path};
use crate::on_both_backends;

/// More rows than the shortest probe reads, so a rare filter takes the fallback.
const ROWS: usize = 4_800;
/// The rows a rare filter matches: one inside the first probe, two past it.
const RARE: [usize; 3] = [400, 3_600, 4_400];

/// Inserts `ROWS` elements straight into the database (the API would take minutes), in
/// `created_at` order of `i`, each marked by what the filters below look for.
async fn fill(db: &DatabaseConnection, world_id: Uuid, parent: Option<Uuid>) -> Vec<Uuid> {
    let start = Utc::now() - Duration::days(1);
    let mut ids = Vec::with_capacity(ROWS);
    let rows: Vec<world_elements::ActiveModel> = (0..ROWS)
        .map(|i| {
            let rare = RARE.contains(&i);
            let id = Uuid::now_v7();
            ids.push(id);
            let at = (start + Duration::milliseconds(i as i64)).fixed_offset();
            world_elements::ActiveModel {
                id: Set(id),
                world_id: Set(world_id),
                parent_id: Set(parent.filter(|_| rare)),
                kind: Set(if rare { "relic" } else { "thing" }.to_owned()),
                name: Set(if rare {
                    format!("Zyxwand {i}")
                } else {
                    format!("Thing {i}")
                }),
                summary: Set(None),
                attributes: Set(json!({"n": i, "rare": rare, "even": i % 2 == 0})),
                tags: Set(if rare {
                    json!(["rare"])
                } else {
                    json!(["common"])
                }),
                version: Set(1),
                created_by: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
                // `parent` is a root.
                depth: Set(i32::from(parent.is_some() && rare)),
            }
        })
        .collect();
    for chunk in rows.chunks(100) {
        world_elements::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await
            .expect("insert elements");
    }
    ids
}

/// Every page of a list, following `next_cursor`: the names, page by page.
async fn pages(app: &TestApp, token: &str, path: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_owned(),
        };
        let body = app.get_json(&url, token).await;
        pages.push(
            body["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|e| e["name"].as_str().expect("name").to_owned())
                .collect(),
        );
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return pages,
        }
        assert!(pages.len() < 100, "paging does not end");
    }
}

/// `text` as a query parameter value.
fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn rare_filters_page_through_the_probe_and_the_fallback(app: TestApp) {
    let (ada, world) = app.user_with_world("ada", "Sparse").await;
    let token = ada.access_token.as_str();
    let world_id: Uuid = world.parse().expect("world id");
    let db = app.db().await;
    let parent = Uuid::now_v7();
    let at = Utc::now().fixed_offset() - Duration::days(2);
    world_elements::Entity::insert(world_elements::ActiveModel {
        id: Set(parent),
        created_at: Set(at),
        updated_at: Set(at),
        depth: Set(0),
        ..element_row(world_id, "place", "Vault")
    })
    .exec(&db)
    .await
    .expect("parent");
    fill(&db, world_id, Some(parent)).await;

    let rare: Vec<String> = RARE.iter().map(|i| format!("Zyxwand {i}")).collect();
    let base = elements_path(&world);
    let filters = [
        format!("where={}", enc(r#"{"rare":true}"#)),
        "tag=rare".to_owned(),
        "kind=relic".to_owned(),
        format!("parent_id={parent}"),
        "q=zyxw".to_owned(),
        format!("kind=relic&where={}", enc(r#"{"rare":true}"#)),
    ];
    for filter in &filters {
        let ascending = pages(&app, token, &format!("{base}?limit=2&{filter}")).await;
        assert_eq!(
            ascending,
            vec![rare[..2].to_vec(), rare[2..].to_vec()],
            "{filter}"
        );
        let descending = pages(
            &app,
            token,
            &format!("{base}?limit=2&sort=-created_at&{filter}"),
        )
        .await;
        assert_eq!(
            descending,
            vec![
                vec![rare[2].clone(), rare[1].clone()],
                vec![rare[0].clone()]
            ],
            "{filter}, descending"
        );
        // One page that needs all three: the probe's one and the fallback's two.
        let all = pages(&app, token, &format!("{base}?limit=50&{filter}")).await;
        assert_eq!(all, vec![rare.clone()], "{filter}, one page");
    }

    // A common filter is answered by the probe, page after page, in order.
    let even = pages(
        &app,
        token,
        &format!("{base}?limit=200&where={}", enc(r#"{"even":true}"#)),
    )
    .await;
    let names: Vec<String> = even.into_iter().flatten().collect();
    let expected: Vec<String> = (0..ROWS)
        .filter(|i| i % 2 == 0)
        .map(|i| {
            if RARE.contains(&i) {
                format!("Zyxwand {i}")
            } else {
                format!("Thing {i}")
            }
        })
        .collect();
    assert_eq!(names, expected);

    // `q`'s `%` and `_` stay literal through the trigram fallback too: `_` is no wildcard
    // for the space, and the two matches past the probe's window come from the index.
    let underscore = pages(&app, token, &format!("{base}?limit=50&q=zyxwand_4")).await;
    assert_eq!(underscore, vec![Vec::<String>::new()]);
    let spaced = pages(
        &app,
        token,
        &format!("{base}?limit=50&q={}", enc("zyxwand 4")),
    )
    .await;
    assert_eq!(
        spaced,
        vec![vec![rare[0].clone(), rare[2].clone()]],
        "q with a space"
    );

    // A filter nothing matches ends at once, with an empty page.
    let none = pages(&app, token, &format!("{base}?where={}", enc(r#"{"n":-1}"#))).await;
    assert_eq!(none, vec![Vec::<String>::new()]);
}

on_both_backends!(rare_filters_page_through_the_probe_and_the_fallback);

/// The plan of `statement` on `db` (after `settings`, in one transaction).
async fn plan(db: &DatabaseConnection, settings: Option<&str>, statement: &Statement) -> String {
    let txn = db.begin().await.expect("transaction");
    if let Some(settings) = settings {
        txn.execute_unprepared(settings).await.expect("settings");
    }
    let explain = Statement {
        sql: format!("EXPLAIN {}", statement.sql),
        ..statement.clone()
    };
    let lines: Vec<String> = txn
        .query_all_raw(explain)
        .await
        .expect("explain")
        .iter()
        .map(|row| row.try_get::<String>("", "QUERY PLAN").expect("plan line"))
        .collect();
    txn.rollback().await.expect("rollback");
    lines.join("\n")
}

/// With statistics that call a filter common while it has become rare (the case that
/// walked 270,699 rows for 51), the probe still reads at most its window through the
/// keyset index, and the fallback reads the filter's own index, never the keyset order.
#[tokio::test]
async fn filtered_list_plans_are_bounded_on_postgres() {
    let app = spawn_app(Backend::Postgres).await;
    let ada = app.register("ada").await;
    let world = app.new_world(&ada.access_token, "Skewed").await;
    let world_id: Uuid = world.parse().expect("world id");
    let db = app.db().await;
    let ids = fill(&db, world_id, None).await;
    // Everything matches while ANALYZE looks...
    db.execute_unprepared(
        "UPDATE world_elements SET attributes = attributes || '{\"rare\": true}', \
         tags = '[\"rare\"]', kind = 'relic', parent_id = NULL, name = 'Zyxwand ' || name",
    )
    .await
    .expect("make common");
    db.execute_unprepared("ANALYZE world_elements")
        .await
        .expect("analyze");
    // ...then almost nothing does.
    db.execute_unprepared(&format!(
        "UPDATE world_elements SET attributes = attributes || '{{\"rare\": false}}', \
         tags = '[\"common\"]', kind = 'thing', name = 'Thing' WHERE id <> '{}'",
        ids[RARE[0]]
    ))
    .await
    .expect("make rare");
    db.execute_unprepared(&format!(
        "UPDATE world_elements SET parent_id = '{}' WHERE id = '{}'",
        ids[0], ids[RARE[0]]
    ))
    .await
    .expect("one child");

    let sort = service::elements::SortOrder::parse(None).expect("sort");
    // (where, kind, tag, parent, q, the index the fallback must read). The kind comes last,
    // after a fresh ANALYZE: its index leads with the world, so the planner weighs it
    // against the world's keyset index by the kind's estimate, which for a plain column's
    // equality comes from its most-common-values list and holds across samples (the
    // JSON containment estimates are the ones that swing).
    // `q` reads both trigram indexes, the name's and the summary's.
    let cases = [
        (
            Some(r#"{"rare":true}"#),
            None,
            None,
            None,
            None,
            "world_elements_attributes_idx",
        ),
        (
            None,
            None,
            Some("rare"),
            None,
            None,
            "world_elements_tags_idx",
        ),
        (
            None,
            None,
            None,
            Some(ids[0]),
            None,
            "world_elements_parent_id_idx",
        ),
        (
            None,
            None,
            None,
            None,
            Some("zyxw"),
            "world_elements_name_trgm_idx",
        ),
        (
            None,
            Some("relic"),
            None,
            None,
            None,
            "world_elements_world_kind_idx",
        ),
    ];
    for (where_json, kind, tag, parent, text, index) in cases {
        if kind.is_some() {
            db.execute_unprepared("ANALYZE world_elements")
                .await
                .expect("analyze");
        }
        let filter = service::elements::ElementFilter::parse(
            kind.map(str::to_owned),
            tag.map(str::to_owned).into_iter().collect(),
            parent,
            text.map(str::to_owned),
            where_json.map(str::to_owned),
        )
        .expect("filter");
        let condition = filter
            .condition(DatabaseBackend::Postgres)
            .expect("condition")
            .expect("a filter");
        let probe = service::elements::probe_statement(
            world_id,
            condition,
            sort,
            None,
            51,
            service::elements::FIRST_PROBE_ROWS,
        )
        .expect("probe");
        let probe_plan = plan(&db, None, &probe).await;
        println!("probe for {index}:\n{probe_plan}");
        assert!(
            probe_plan.contains("Index Scan using world_elements_world_created_idx")
                && !probe_plan.contains("Seq Scan")
                && !probe_plan.contains("Bitmap"),
            "the probe walks the keyset index, within its limit:\n{probe_plan}"
        );
        let limit_line = probe_plan
            .lines()
            .position(|l| l.contains("Limit"))
            .expect("a limit");
        let scan_line = probe_plan
            .lines()
            .position(|l| l.contains("world_elements_world_created_idx"))
            .expect("the keyset index");
        assert!(
            limit_line < scan_line,
            "the window is limited:\n{probe_plan}"
        );
        assert!(
            probe_plan.contains("Index Only Scan using world_elements_world_created_idx")
                && !probe_plan.contains("WindowAgg"),
            "the window's end is counted through the keyset index alone:\n{probe_plan}"
        );

        let after = service::paging::Cursor {
            ordering: "elements:created_at".into(),
            key: (Utc::now() - Duration::days(1)).to_rfc3339(),
            id: Uuid::nil(),
        };
        let fallback = service::elements::fallback_statement(world_id, &filter, sort, &after, 51)
            .expect("fallback");
        let fallback_plan = plan(&db, Some(service::elements::FALLBACK_SETTINGS), &fallback).await;
        println!("fallback for {index}:\n{fallback_plan}");
        assert!(
            fallback_plan.contains(&format!("Bitmap Index Scan on {index}"))
                && !fallback_plan.contains("Index Scan using world_elements_world_created_idx")
                && !fallback_plan.contains("Seq Scan"),
            "the fallback reads the filter's index ({index}):\n{fallback_plan}"
        );
        if text.is_some() {
            assert!(
                fallback_plan.contains("Bitmap Index Scan on world_elements_summary_trgm_idx"),
                "q reads the summary's trigrams too:\n{fallback_plan}"
            );
        }
    }
}
