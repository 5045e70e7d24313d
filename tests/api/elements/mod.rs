//! Elements: create, read, merge-patch, delete, parents and cycles, every list filter and
//! sort order, keyset paging (also under concurrent inserts), input limits and If-Match;
//! a file per concern, with the helpers they share here.
use std::collections::HashSet;

use chrono::{DateTime, FixedOffset};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, element_path, elements_path, id_of, ids, page_url, query};
use crate::helpers::{relations_path, world_path};
use crate::on_both_backends;

pub(super) fn ts(value: &Value) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(value.as_str().expect("timestamp")).expect("RFC 3339 timestamp")
}

pub(super) async fn element_count(app: &TestApp, token: &str, world: &str) -> i64 {
    let reply = app.get_json(&world_path(world), token).await;
    reply["element_count"].as_i64().expect("element_count")
}

/// The names a list query returns (one page of up to 200).
pub(super) async fn names(
    app: &TestApp,
    token: &str,
    world: &str,
    params: &[(&str, &str)],
) -> Vec<String> {
    let mut all = params.to_vec();
    all.push(("limit", "200"));
    let reply = app
        .get(
            &format!("{}{}", elements_path(world), query(&all)),
            Some(token),
        )
        .await;
    reply.assert_status(200);
    let body = reply.json();
    assert!(body["next_cursor"].is_null(), "one page: {}", reply.text);
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["name"].as_str().expect("name").to_owned())
        .collect()
}

/// The expected order of `items` for a sort parameter, computed here from their fields.
pub(super) fn sorted_ids(items: &[Value], sort: &str) -> Vec<String> {
    let descending = sort.starts_with('-');
    let key = sort.trim_start_matches('-');
    let mut items: Vec<&Value> = items.iter().collect();
    items.sort_by(|a, b| {
        let by_key = match key {
            "name" => a["name"].as_str().cmp(&b["name"].as_str()),
            "created_at" | "updated_at" => ts(&a[key]).cmp(&ts(&b[key])),
            other => panic!("unknown sort {other}"),
        };
        by_key.then_with(|| a["id"].as_str().cmp(&b["id"].as_str()))
    });
    if descending {
        items.reverse();
    }
    items.into_iter().map(id_of).collect()
}

/// Query parameters of one list request.
type Params<'a> = Vec<(&'a str, &'a str)>;

pub(super) const SORTS: [&str; 6] = [
    "created_at",
    "-created_at",
    "name",
    "-name",
    "updated_at",
    "-updated_at",
];

mod concurrency;
mod crud;
mod filters;
mod hierarchy;
mod limits;
mod paging;
