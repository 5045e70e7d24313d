//! Personal access tokens and sessions: a token acts as its user, narrowed by its scope
//! and worlds, never manages anything, is stored only as a hash, notes its use at most
//! once a minute, and ends with a password change or the account. Sessions: list, end.
use chrono::{Duration, Utc};
use entity::personal_tokens;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::{login, logout, refresh, second_login};
use crate::helpers::{Reply, TestApp, TestUser, error_fields, id_of, ids_in, sorted_keys, time};
use crate::helpers::{element_path, elements_path, relation_path, relations_path, world_path};
use crate::on_both_backends;

const TOKENS: &str = "/api/v1/users/me/tokens";
const SESSIONS: &str = "/api/v1/users/me/sessions";
const ME: &str = "/api/v1/users/me";

async fn world(app: &TestApp, owner: &TestUser, name: &str, visibility: &str) -> String {
    let body = json!({"name": name, "visibility": visibility});
    id_of(&app.create_world(&owner.access_token, body).await)
}

async fn element(app: &TestApp, user: &TestUser, world_id: &str, name: &str) -> String {
    app.element_id(&user.access_token, world_id, "character", name)
        .await
}

#[track_caller]
fn insufficient(reply: &Reply) {
    reply.assert_problem(403, "insufficient-scope");
}

async fn a_token_is_shown_once_and_stored_as_a_hash(app: TestApp) {
    let ada = app.register("ada").await;
    let reply = app
        .post(
            TOKENS,
            Some(&ada.access_token),
            json!({"name": "importer", "scope": "read"}),
        )
        .await;
    reply.assert_status(201);
    let created = reply.json();
    let secret = created["token"].as_str().expect("secret").to_owned();
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(
        reply.header("location"),
        Some(format!("{TOKENS}/{id}").as_str())
    );
    // `lb_pat_` and at least 256 random bits (43 base64url characters).
    let random = secret.strip_prefix("lb_pat_").expect("lb_pat_ prefix");
    assert!(random.len() >= 43, "{secret}");
    assert!(
        random
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    assert_eq!(created["prefix"], secret[..12]);
    assert_eq!(created["name"], "importer");
    assert_eq!(created["scope"], "read");
    assert_eq!(created["world_ids"], Value::Null);
    assert_eq!(created["last_used_at"], Value::Null);
    assert_eq!(
        time(&created["expires_at"]) - time(&created["created_at"]),
        Duration::days(90)
    );
    let keys = sorted_keys(&created);
    assert_eq!(
        keys,
        [
            "created_at",
            "expires_at",
            "id",
            "last_used_at",
            "name",
            "prefix",
            "scope",
            "token",
            "world_ids"
        ]
    );
    let other = app
        .personal_token(
            &ada,
            json!({"name": "b", "scope": "write", "expires_in_days": 1}),
        )
        .await;
    assert_ne!(other, secret);

    // Listed newest first, never with a secret.
    let list = app.get(TOKENS, Some(&ada.access_token)).await;
    list.assert_status(200);
    assert!(!list.text.contains(&secret) && !list.text.contains(&other));
    assert!(!list.text.contains("\"token\""));
    let list = list.json();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(list["items"][1]["id"], id);
    assert_eq!(
        time(&list["items"][0]["expires_at"]) - time(&list["items"][0]["created_at"]),
        Duration::days(1)
    );
    let page = app
        .get_json(&format!("{TOKENS}?limit=1"), &ada.access_token)
        .await;
    let next = page["next_cursor"].as_str().expect("a second page");
    let second = app
        .get_json(
            &format!("{TOKENS}?limit=1&cursor={next}"),
            &ada.access_token,
        )
        .await;
    assert_eq!(ids_in(&second), std::slice::from_ref(&id));

    // Only a hash is kept.
    let db = app.db().await;
    let rows = personal_tokens::Entity::find()
        .all(&db)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_ne!(row.token_hash, secret);
        assert!(!format!("{row:?}").contains(&secret[12..]), "{row:?}");
        assert_eq!(row.token_hash.len(), 64);
    }

    // It works as its user; deleted, it stops at once.
    let me = app.get_json(ME, &secret).await;
    assert_eq!(me["id"], ada.id.to_string());
    let bob = app.register("bob").await;
    app.delete(&format!("{TOKENS}/{id}"), Some(&bob.access_token))
        .await
        .assert_problem(404, "not-found");
    app.delete(&format!("{TOKENS}/{id}"), Some(&ada.access_token))
        .await
        .assert_status(204);
    app.get(ME, Some(&secret))
        .await
        .assert_problem(401, "unauthorized");
    app.delete(&format!("{TOKENS}/{id}"), Some(&ada.access_token))
        .await
        .assert_problem(404, "not-found");
    app.get(TOKENS, None)
        .await
        .assert_problem(401, "unauthorized");
}

async fn token_input_is_checked(app: TestApp) {
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let bobs_private = world(&app, &bob, "Secret", "private").await;
    let bobs_public = world(&app, &bob, "Open", "public").await;
    let mine = world(&app, &ada, "Mine", "private").await;
    let token = Some(ada.access_token.as_str());
    for (body, field) in [
        (json!({"name": "", "scope": "read"}), "name"),
        (json!({"name": "x", "scope": "admin"}), "scope"),
        (json!({"name": "x"}), "body"),
        (
            json!({"name": "x", "scope": "read", "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"name": "x", "scope": "read", "expires_in_days": 366}),
            "expires_in_days",
        ),
        (
            json!({"name": "x", "scope": "read", "world_ids": []}),
            "world_ids",
        ),
        (
            json!({"name": "x", "scope": "read", "world_ids": [mine, bobs_private]}),
            "world_ids[1]",
        ),
        (
            json!({"name": "x", "scope": "read", "world_ids": [Uuid::now_v7()]}),
            "world_ids[0]",
        ),
        (
            json!({"name": "x", "scope": "read", "id": Uuid::now_v7()}),
            "id",
        ),
    ] {
        let reply = app.post(TOKENS, token, body.clone()).await;
        let problem = reply.assert_problem(422, "validation-failed");
        let fields = error_fields(&problem);
        assert!(
            fields.iter().any(|f| f.starts_with(field)) || field == "body",
            "{body} → {problem}"
        );
    }
    // A stranger's private world and no world at all are refused alike.
    let hidden = app
        .post(
            TOKENS,
            token,
            json!({"name": "x", "scope": "read", "world_ids": [bobs_private]}),
        )
        .await;
    let missing = app
        .post(
            TOKENS,
            token,
            json!({"name": "x", "scope": "read", "world_ids": [Uuid::now_v7()]}),
        )
        .await;
    assert_eq!(hidden.json()["errors"], missing.json()["errors"]);
    // A public world may be named; duplicates count once.
    let reply = app
        .post(
            TOKENS,
            token,
            json!({"name": "x", "scope": "read", "world_ids": [bobs_public, mine, mine], "expires_in_days": 365}),
        )
        .await;
    reply.assert_status(201);
    assert_eq!(reply.json()["world_ids"], json!([bobs_public, mine]));
}

async fn a_read_token_only_reads(app: TestApp) {
    let ada = app.register("ada").await;
    let w = world(&app, &ada, "Eldoria", "private").await;
    let a = element(&app, &ada, &w, "A").await;
    let b = element(&app, &ada, &w, "B").await;
    let rel = id_of(&app.relate(&ada.access_token, &w, &a, &b, "knows").await);
    let pat = app
        .personal_token(&ada, json!({"name": "reader", "scope": "read"}))
        .await;
    let token = Some(pat.as_str());

    for path in [
        world_path(&w),
        elements_path(&w),
        element_path(&w, &a),
        format!("/api/v1/worlds/{w}/elements/{a}/relations"),
        relation_path(&w, &rel),
        format!("/api/v1/worlds/{w}/members"),
        "/api/v1/worlds".to_owned(),
        ME.to_owned(),
    ] {
        app.get(&path, token).await.assert_status(200);
        let head = app.send(Method::HEAD, &path, token, None).await;
        head.assert_status(200);
    }
    assert_eq!(
        app.get(&world_path(&w), token).await.json()["role"],
        "owner"
    );
    let writes: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            "/api/v1/worlds".into(),
            Some(json!({"name": "New"})),
        ),
        (
            Method::PATCH,
            world_path(&w),
            Some(json!({"name": "Renamed"})),
        ),
        (
            Method::POST,
            elements_path(&w),
            Some(json!({"kind": "c", "name": "C"})),
        ),
        (
            Method::PATCH,
            element_path(&w, &a),
            Some(json!({"name": "A2"})),
        ),
        (Method::DELETE, element_path(&w, &b), None),
        (
            Method::POST,
            relations_path(&w),
            Some(json!({"source_id": b, "target_id": a, "kind": "x"})),
        ),
        (
            Method::PATCH,
            relation_path(&w, &rel),
            Some(json!({"kind": "y"})),
        ),
        (Method::DELETE, relation_path(&w, &rel), None),
    ];
    for (method, path, body) in writes {
        insufficient(&app.send(method, &path, token, body.as_ref()).await);
    }
    // Nothing changed.
    let login = Some(ada.access_token.as_str());
    assert_eq!(
        app.get(&world_path(&w), login).await.json()["name"],
        "Eldoria"
    );
    assert_eq!(
        app.get(&world_path(&w), login).await.json()["element_count"],
        2
    );
    app.get(&relation_path(&w, &rel), login)
        .await
        .assert_status(200);
    assert_eq!(
        app.get("/api/v1/worlds", login).await.json()["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

async fn a_write_token_writes_but_never_manages(app: TestApp) {
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let w = world(&app, &ada, "Eldoria", "private").await;
    let theirs = world(&app, &bob, "Bob's", "private").await;
    app.join(&ada, &w, &bob, "viewer").await;
    app.join(&bob, &theirs, &ada, "editor").await;
    let pending = app
        .post(
            &format!("/api/v1/worlds/{theirs}/invitations"),
            Some(&bob.access_token),
            json!({"email": "later@example.com", "role": "viewer"}),
        )
        .await;
    pending.assert_status(201);
    let invitation_to_ada = app
        .post(
            &format!("/api/v1/worlds/{theirs}/invitations"),
            Some(&bob.access_token),
            json!({"email": "someone@example.com", "role": "viewer"}),
        )
        .await;
    invitation_to_ada.assert_status(201);
    let pat = app
        .personal_token(&ada, json!({"name": "writer", "scope": "write"}))
        .await;
    let token = Some(pat.as_str());

    // What a write token may do: worlds and their contents, name, description, settings.
    let created = app
        .post("/api/v1/worlds", token, json!({"name": "Made by a tool"}))
        .await;
    created.assert_status(201);
    assert_eq!(created.json()["owner_id"], ada.id.to_string());
    let a = app
        .create_element(&pat, &w, json!({"kind": "character", "name": "A"}))
        .await;
    assert_eq!(a["created_by"], ada.id.to_string());
    let a = id_of(&a);
    let b = element(&app, &ada, &w, "B").await;
    app.patch(&element_path(&w, &a), token, json!({"name": "A2"}))
        .await
        .assert_status(200);
    let rel = id_of(&app.relate(&pat, &w, &a, &b, "knows").await);
    app.patch(&relation_path(&w, &rel), token, json!({"kind": "likes"}))
        .await
        .assert_status(200);
    app.delete(&relation_path(&w, &rel), token)
        .await
        .assert_status(204);
    app.delete(&element_path(&w, &b), token)
        .await
        .assert_status(204);
    app.patch(
        &world_path(&w),
        token,
        json!({"name": "Renamed", "description": "d", "settings": {"k": 1}}),
    )
    .await
    .assert_status(200);
    // As an editor of Bob's world, too; the role still rules.
    app.post(
        &elements_path(&theirs),
        token,
        json!({"kind": "c", "name": "X"}),
    )
    .await
    .assert_status(201);
    app.patch(&world_path(&theirs), token, json!({"visibility": "public"}))
        .await
        .assert_problem(403, "insufficient-scope");

    // What needs a login, whatever the scope.
    let invitation = invitation_to_ada.json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let refused: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::PATCH,
            world_path(&w),
            Some(json!({"visibility": "public"})),
        ),
        (Method::DELETE, world_path(&w), None),
        (
            Method::PUT,
            format!("/api/v1/worlds/{w}/members/{}", bob.id),
            Some(json!({"role": "editor"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/worlds/{w}/members/{}", bob.id),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/worlds/{theirs}/members/{}", ada.id),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/worlds/{w}/invitations"),
            Some(json!({"email": "x@example.com", "role": "viewer"})),
        ),
        (Method::GET, format!("/api/v1/worlds/{w}/invitations"), None),
        (
            Method::DELETE,
            format!("/api/v1/worlds/{w}/invitations/{invitation}"),
            None,
        ),
        (Method::GET, "/api/v1/users/me/invitations".into(), None),
        (
            Method::POST,
            format!("/api/v1/users/me/invitations/{invitation}/accept"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v1/users/me/invitations/{invitation}/decline"),
            Some(json!({})),
        ),
        (
            Method::PATCH,
            ME.into(),
            Some(json!({"display_name": "Tool"})),
        ),
        (
            Method::PUT,
            format!("{ME}/password"),
            Some(
                json!({"current_password": ada.password, "new_password": "another-long-passphrase-9"}),
            ),
        ),
        (
            Method::DELETE,
            ME.into(),
            Some(json!({"password": ada.password})),
        ),
        (
            Method::POST,
            TOKENS.into(),
            Some(json!({"name": "child", "scope": "read"})),
        ),
        (Method::GET, TOKENS.into(), None),
        (Method::DELETE, format!("{TOKENS}/{}", Uuid::now_v7()), None),
        (Method::GET, SESSIONS.into(), None),
        (
            Method::DELETE,
            format!("{SESSIONS}/{}", Uuid::now_v7()),
            None,
        ),
    ];
    for (method, path, body) in refused {
        let reply = app.send(method.clone(), &path, token, body.as_ref()).await;
        assert_eq!(reply.status, 403, "{method} {path}: {}", reply.text);
        insufficient(&reply);
    }
    // Nothing of it happened.
    let login = Some(ada.access_token.as_str());
    let world_now = app.get(&world_path(&w), login).await.json();
    assert_eq!(world_now["visibility"], "private");
    assert_eq!(
        app.get(&format!("/api/v1/worlds/{w}/members"), login)
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        app.get(&world_path(&theirs), login).await.json()["role"],
        "editor"
    );
    assert_eq!(app.get(ME, login).await.json()["display_name"], "ada");
    assert_eq!(
        app.get(TOKENS, login).await.json()["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    app.get(ME, token).await.assert_status(200);
}

async fn a_token_limited_to_worlds_sees_no_other(app: TestApp) {
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let allowed = world(&app, &ada, "Allowed", "private").await;
    let other = world(&app, &ada, "Other", "private").await;
    let public = world(&app, &bob, "Bob's public", "public").await;
    let shared = world(&app, &bob, "Shared", "private").await;
    app.join(&bob, &shared, &ada, "editor").await;
    let in_other = element(&app, &ada, &other, "Hidden").await;
    let in_allowed = element(&app, &ada, &allowed, "Seen").await;
    let pat = app
        .personal_token(
            &ada,
            json!({"name": "one world", "scope": "write", "world_ids": [allowed]}),
        )
        .await;
    let token = Some(pat.as_str());

    let list = app.get("/api/v1/worlds", token).await;
    list.assert_status(200);
    assert_eq!(ids_in(&list.json()), std::slice::from_ref(&allowed));
    app.get(&element_path(&allowed, &in_allowed), token)
        .await
        .assert_status(200);
    for (method, path, body) in [
        (Method::GET, world_path(&other), None),
        (Method::GET, elements_path(&other), None),
        (Method::GET, element_path(&other, &in_other), None),
        (Method::GET, format!("/api/v1/worlds/{other}/members"), None),
        (Method::GET, world_path(&public), None),
        (Method::GET, elements_path(&public), None),
        (Method::GET, world_path(&shared), None),
        (
            Method::POST,
            elements_path(&other),
            Some(json!({"kind": "c", "name": "N"})),
        ),
        (
            Method::POST,
            elements_path(&shared),
            Some(json!({"kind": "c", "name": "N"})),
        ),
        (
            Method::PATCH,
            element_path(&other, &in_other),
            Some(json!({"name": "N"})),
        ),
        (Method::DELETE, element_path(&other, &in_other), None),
        (Method::PATCH, world_path(&other), Some(json!({"name": ""}))),
        (Method::DELETE, world_path(&other), None),
    ] {
        let reply = app.send(method.clone(), &path, token, body.as_ref()).await;
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.text);
        reply.assert_problem(404, "not-found");
    }
    // The login still sees everything.
    let login = Some(ada.access_token.as_str());
    assert_eq!(
        app.get("/api/v1/worlds", login).await.json()["items"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    app.get(&element_path(&other, &in_other), login)
        .await
        .assert_status(200);
    // A token for a public world of someone else reads it and nothing else.
    let reader = app
        .personal_token(
            &ada,
            json!({"name": "public", "scope": "read", "world_ids": [public]}),
        )
        .await;
    app.get(&world_path(&public), Some(&reader))
        .await
        .assert_status(200);
    assert!(ids_in(&app.get_json("/api/v1/worlds", &reader).await).is_empty());
}

async fn password_change_and_account_deletion_end_every_token(app: TestApp) {
    let ada = app.register("ada").await;
    let w = world(&app, &ada, "Eldoria", "public").await;
    let a = element(&app, &ada, &w, "A").await;
    let element_path = element_path(&w, &a);
    let pat = app
        .personal_token(&ada, json!({"name": "t", "scope": "read"}))
        .await;
    app.get(&element_path, Some(&pat)).await.assert_status(200);

    app.put(
        &format!("{ME}/password"),
        Some(&ada.access_token),
        json!({"current_password": ada.password, "new_password": "another-long-passphrase-9"}),
    )
    .await
    .assert_status(204);
    // 401 everywhere, also on a public world anyone may read, and on no world at all.
    for path in [
        element_path.clone(),
        world_path(&w),
        format!("/api/v1/worlds/{}", Uuid::now_v7()),
        ME.to_owned(),
    ] {
        app.get(&path, Some(&pat))
            .await
            .assert_problem(401, "unauthorized");
    }
    let relogin = login(&app, &ada.email, "another-long-passphrase-9").await;
    relogin.assert_status(200);
    let access = relogin.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert!(
        app.get_json(TOKENS, &access).await["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    let user = TestUser {
        access_token: access.clone(),
        password: "another-long-passphrase-9".into(),
        ..ada.clone()
    };
    let pat = app
        .personal_token(&user, json!({"name": "t2", "scope": "write"}))
        .await;
    app.get(&element_path, Some(&pat)).await.assert_status(200);
    app.send(
        Method::DELETE,
        ME,
        Some(&access),
        Some(&json!({"password": "another-long-passphrase-9"})),
    )
    .await
    .assert_status(204);
    app.get(ME, Some(&pat))
        .await
        .assert_problem(401, "unauthorized");
    app.get(&world_path(&w), Some(&pat))
        .await
        .assert_problem(401, "unauthorized");
    let db = app.db().await;
    assert!(
        personal_tokens::Entity::find()
            .all(&db)
            .await
            .expect("rows")
            .is_empty()
    );
}

async fn bad_and_expired_tokens_are_401(app: TestApp) {
    let ada = app.register("ada").await;
    let w = world(&app, &ada, "Eldoria", "public").await;
    let pat = app
        .personal_token(&ada, json!({"name": "t", "scope": "read"}))
        .await;
    let forged = format!("lb_pat_{}", "A".repeat(43));
    let truncated = pat[..pat.len() - 1].to_owned();
    for bad in [forged.as_str(), truncated.as_str(), "lb_pat_"] {
        for path in [
            world_path(&w),
            elements_path(&w),
            format!("/api/v1/worlds/{}", Uuid::now_v7()),
            ME.to_owned(),
            "/api/v1/worlds".to_owned(),
        ] {
            app.get(&path, Some(bad))
                .await
                .assert_problem(401, "unauthorized");
        }
    }
    // Expired.
    let db = app.db().await;
    personal_tokens::Entity::update_many()
        .col_expr(
            personal_tokens::Column::ExpiresAt,
            Expr::value((Utc::now() - Duration::seconds(1)).fixed_offset()),
        )
        .filter(personal_tokens::Column::UserId.eq(ada.id))
        .exec(&db)
        .await
        .expect("expire");
    for path in [
        world_path(&w),
        ME.to_owned(),
        format!("/api/v1/worlds/{}", Uuid::now_v7()),
    ] {
        app.get(&path, Some(&pat))
            .await
            .assert_problem(401, "unauthorized");
    }
}

async fn last_use_is_noted_at_most_once_a_minute(app: TestApp) {
    let ada = app.register("ada").await;
    let w = world(&app, &ada, "Eldoria", "private").await;
    let a = element(&app, &ada, &w, "A").await;
    let pat = app
        .personal_token(&ada, json!({"name": "t", "scope": "read"}))
        .await;
    let db = app.db().await;
    let stored = || async {
        personal_tokens::Entity::find()
            .one(&db)
            .await
            .expect("query")
            .expect("row")
            .last_used_at
    };
    assert_eq!(stored().await, None);
    // Through both paths: a world read (checked in its world query) and /users/me.
    app.get(&element_path(&w, &a), Some(&pat))
        .await
        .assert_status(200);
    let first = stored().await.expect("noted");
    for _ in 0..5 {
        app.get(&element_path(&w, &a), Some(&pat))
            .await
            .assert_status(200);
        app.get(ME, Some(&pat)).await.assert_status(200);
    }
    assert_eq!(stored().await, Some(first), "no write within the minute");
    let listed = app.get_json(TOKENS, &ada.access_token).await;
    assert_eq!(
        time(&listed["items"][0]["last_used_at"]),
        first.with_timezone(&Utc)
    );

    // A minute later, the next use is noted again.
    let earlier = (Utc::now() - Duration::seconds(61)).fixed_offset();
    personal_tokens::Entity::update_many()
        .col_expr(personal_tokens::Column::LastUsedAt, Expr::value(earlier))
        .exec(&db)
        .await
        .expect("age");
    app.get(ME, Some(&pat)).await.assert_status(200);
    let later = stored().await.expect("noted");
    assert!(later.with_timezone(&Utc) > earlier.with_timezone(&Utc) + Duration::seconds(60));
}

async fn sessions_are_listed_and_ended(app: TestApp) {
    let ada = app.register("ada").await;
    let phone = second_login(&app, &ada).await;
    let logged_out = second_login(&app, &ada).await;
    logout(&app, &logged_out.refresh_token)
        .await
        .assert_status(204);

    let list = app.get_json(SESSIONS, &ada.access_token).await;
    let sessions = list.as_array().expect("array");
    assert_eq!(sessions.len(), 2, "{list}");
    for session in sessions {
        let keys = sorted_keys(session);
        assert_eq!(keys, ["created_at", "current", "id", "last_used_at"]);
        assert!(time(&session["last_used_at"]) >= time(&session["created_at"]));
    }
    // Newest first: the phone's login, then this one, which is current.
    assert_eq!(sessions[0]["current"], false);
    assert_eq!(sessions[1]["current"], true);
    let phone_session = sessions[0]["id"].as_str().expect("id").to_owned();
    let this_session = sessions[1]["id"].as_str().expect("id").to_owned();
    let from_phone = app.get_json(SESSIONS, &phone.access_token).await;
    assert_eq!(from_phone[0]["current"], true);
    assert_eq!(from_phone[0]["id"], phone_session);

    // Ending the phone's login stops its tokens at once; this one goes on.
    let bob = app.register("bob").await;
    app.delete(
        &format!("{SESSIONS}/{phone_session}"),
        Some(&bob.access_token),
    )
    .await
    .assert_problem(404, "not-found");
    app.delete(
        &format!("{SESSIONS}/{}", Uuid::now_v7()),
        Some(&ada.access_token),
    )
    .await
    .assert_problem(404, "not-found");
    app.delete(
        &format!("{SESSIONS}/{phone_session}"),
        Some(&ada.access_token),
    )
    .await
    .assert_status(204);
    app.get(ME, Some(&phone.access_token))
        .await
        .assert_problem(401, "unauthorized");
    refresh(&app, &phone.refresh_token)
        .await
        .assert_problem(401, "unauthorized");
    app.delete(
        &format!("{SESSIONS}/{phone_session}"),
        Some(&ada.access_token),
    )
    .await
    .assert_problem(404, "not-found");
    let list = app.get_json(SESSIONS, &ada.access_token).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    // A refresh moves last_used_at.
    let before = time(&list[0]["last_used_at"]);
    let refreshed = refresh(&app, &ada.refresh_token).await;
    refreshed.assert_status(200);
    let access = refreshed.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let list = app.get_json(SESSIONS, &access).await;
    assert_eq!(list[0]["id"], this_session);
    assert!(time(&list[0]["last_used_at"]) > before);
    // Ending one's own login is a logout.
    app.delete(&format!("{SESSIONS}/{this_session}"), Some(&access))
        .await
        .assert_status(204);
    app.get(ME, Some(&access))
        .await
        .assert_problem(401, "unauthorized");
    app.get(SESSIONS, None)
        .await
        .assert_problem(401, "unauthorized");
}

async fn the_openapi_document_describes_both_credentials(app: TestApp) {
    let doc = app.get("/api-docs/openapi.json", None).await.json();
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["scheme"], "bearer");
    let description = scheme["description"].as_str().expect("description");
    assert!(description.contains("lb_pat_") && description.contains("insufficient-scope"));
    let forbidden = doc["components"]["responses"]["Forbidden"]["description"]
        .as_str()
        .expect("description");
    assert!(forbidden.contains("insufficient-scope"), "{forbidden}");
    let problem = doc["components"]["schemas"]["Problem"]["properties"]["type"]["description"]
        .as_str()
        .expect("problem type description");
    assert!(problem.contains("insufficient-scope"), "{problem}");
    for (path, method) in [
        ("/api/v1/users/me/tokens", "post"),
        ("/api/v1/users/me/sessions", "get"),
        ("/api/v1/worlds/{world_id}/invitations", "post"),
        (
            "/api/v1/users/me/invitations/{invitation_id}/accept",
            "post",
        ),
    ] {
        let operation = &doc["paths"][path][method];
        assert!(operation["responses"]["403"].is_object(), "{path} {method}");
        assert_eq!(operation["security"], json!([{"bearer": []}]), "{path}");
    }
}

on_both_backends!(
    a_token_is_shown_once_and_stored_as_a_hash,
    token_input_is_checked,
    a_read_token_only_reads,
    a_write_token_writes_but_never_manages,
    a_token_limited_to_worlds_sees_no_other,
    password_change_and_account_deletion_end_every_token,
    bad_and_expired_tokens_are_401,
    last_use_is_noted_at_most_once_a_minute,
    sessions_are_listed_and_ended,
    the_openapi_document_describes_both_credentials,
);
