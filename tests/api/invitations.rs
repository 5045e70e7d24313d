//! Invitations: people join a world only by accepting one. The owner gets the same answer
//! whether or not an email has an account; emails compare case-insensitively; invitations
//! expire after 7 days; nobody but the invited account can see one.
use chrono::{Duration, Utc};
use entity::invitations;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::world_path;
use crate::helpers::{Reply, TestApp, TestUser, ids_in, sorted_keys, time};
use crate::on_both_backends;

const MINE: &str = "/api/v1/users/me/invitations";

async fn world(app: &TestApp, owner: &TestUser, name: &str, visibility: &str) -> String {
    let body = json!({"name": name, "visibility": visibility});
    crate::helpers::id_of(&app.create_world(&owner.access_token, body).await)
}

async fn invite(app: &TestApp, owner: &TestUser, world_id: &str, email: &str, role: &str) -> Reply {
    app.post(
        &format!("/api/v1/worlds/{world_id}/invitations"),
        Some(&owner.access_token),
        json!({"email": email, "role": role}),
    )
    .await
}

async fn answer(app: &TestApp, user: &TestUser, id: &str, verb: &str) -> Reply {
    app.post(
        &format!("{MINE}/{id}/{verb}"),
        Some(&user.access_token),
        json!({}),
    )
    .await
}

fn id_of(reply: &Reply) -> String {
    reply.json()["id"].as_str().expect("id").to_owned()
}

async fn an_accepted_invitation_makes_a_member(app: TestApp) {
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let w = world(&app, &ada, "Eldoria", "private").await;

    let reply = invite(
        &app,
        &ada,
        &w,
        &format!("  {}  ", bob.email.to_uppercase()),
        "editor",
    )
    .await;
    let invitation = reply.assert_created(&format!("/api/v1/worlds/{w}/invitations"));
    let id = id_of(&reply);
    let keys = sorted_keys(&invitation);
    assert_eq!(
        keys,
        [
            "created_at",
            "email",
            "expires_at",
            "id",
            "role",
            "status",
            "world_id"
        ]
    );
    assert_eq!(invitation["email"], bob.email, "trimmed and lower-cased");
    assert_eq!(invitation["role"], "editor");
    assert_eq!(invitation["status"], "pending");
    assert_eq!(invitation["world_id"], w);
    assert_eq!(
        time(&invitation["expires_at"]) - time(&invitation["created_at"]),
        Duration::days(7)
    );

    // Not a member yet: the world stays hidden.
    app.get(&world_path(&w), Some(&bob.access_token))
        .await
        .assert_problem(404, "not-found");
    // The owner sees it among the world's pending invitations.
    let pending = app
        .get(
            &format!("/api/v1/worlds/{w}/invitations"),
            Some(&ada.access_token),
        )
        .await;
    pending.assert_status(200);
    assert_eq!(ids_in(&pending.json()), std::slice::from_ref(&id));
    // The invited account sees it with the world and who sent it.
    let mine = app.get_json(MINE, &bob.access_token).await;
    assert_eq!(ids_in(&mine), std::slice::from_ref(&id));
    assert_eq!(
        mine["items"][0]["world"],
        json!({"id": w, "name": "Eldoria"})
    );
    assert_eq!(
        mine["items"][0]["invited_by"],
        json!({"display_name": "ada"})
    );
    assert_eq!(mine["items"][0]["status"], "pending");
    assert!(mine["next_cursor"].is_null());

    let accepted = answer(&app, &bob, &id, "accept").await;
    accepted.assert_status(200);
    let joined = accepted.json();
    assert_eq!(joined["id"], w);
    assert_eq!(joined["role"], "editor");
    assert_eq!(
        app.get_json(&world_path(&w), &bob.access_token).await["role"],
        "editor"
    );
    let members = app
        .get_json(&format!("/api/v1/worlds/{w}/members"), &bob.access_token)
        .await;
    assert!(
        members
            .as_array()
            .expect("members")
            .iter()
            .any(|m| m["user_id"] == bob.id.to_string() && m["role"] == "editor")
    );
    // Answered: no longer pending anywhere, and cannot be answered again.
    answer(&app, &bob, &id, "accept")
        .await
        .assert_problem(409, "conflict");
    answer(&app, &bob, &id, "decline")
        .await
        .assert_problem(409, "conflict");
    assert!(ids_in(&app.get_json(MINE, &bob.access_token).await).is_empty());
    assert!(
        ids_in(
            &app.get_json(
                &format!("/api/v1/worlds/{w}/invitations"),
                &ada.access_token
            )
            .await
        )
        .is_empty()
    );
    // Now a member: inviting the address again is a conflict, in any case.
    invite(&app, &ada, &w, &bob.email.to_uppercase(), "viewer")
        .await
        .assert_problem(409, "conflict");
    invite(&app, &ada, &w, &ada.email, "viewer")
        .await
        .assert_problem(409, "conflict");
}

async fn the_answer_is_the_same_with_or_without_an_account(app: TestApp) {
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let w = world(&app, &ada, "Eldoria", "private").await;
    let nobody = format!("nobody-{}@example.com", Uuid::now_v7().simple());

    let known = invite(&app, &ada, &w, &bob.email, "viewer").await;
    let unknown = invite(&app, &ada, &w, &nobody, "viewer").await;
    known.assert_status(201);
    unknown.assert_status(201);
    let shape = |reply: &Reply| {
        let mut body = reply.json();
        let object = body.as_object_mut().expect("object");
        for volatile in ["id", "email", "created_at", "expires_at"] {
            object.remove(volatile);
        }
        (
            body,
            reply
                .headers
                .keys()
                .map(|k| k.to_string())
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(shape(&known), shape(&unknown));
    assert!(!known.text.contains(&bob.id.to_string()));
    assert!(
        !known.text.contains("bob\""),
        "no display name: {}",
        known.text
    );
    // Both are pending, and both conflict alike when repeated.
    invite(&app, &ada, &w, &bob.email, "editor")
        .await
        .assert_problem(409, "conflict");
    invite(&app, &ada, &w, &nobody.to_uppercase(), "editor")
        .await
        .assert_problem(409, "conflict");

    // The address without an account registers later (in another case) and finds it.
    let reply = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": nobody.to_uppercase(), "password": crate::helpers::PASSWORD}),
        )
        .await;
    reply.assert_status(201);
    let newcomer = TestUser {
        id: reply.json()["user"]["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("id"),
        email: nobody.clone(),
        password: crate::helpers::PASSWORD.to_owned(),
        access_token: reply.json()["access_token"]
            .as_str()
            .expect("token")
            .to_owned(),
        refresh_token: reply.json()["refresh_token"]
            .as_str()
            .expect("token")
            .to_owned(),
    };
    let mine = app.get_json(MINE, &newcomer.access_token).await;
    assert_eq!(ids_in(&mine), [id_of(&unknown)]);
    answer(&app, &newcomer, &id_of(&unknown), "accept")
        .await
        .assert_status(200);
}

async fn nobody_but_the_invited_account_sees_an_invitation(app: TestApp) {
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let editor = app.register("editor").await;
    let w = world(&app, &ada, "Eldoria", "public").await;
    app.join(&ada, &w, &editor, "editor").await;
    let id = id_of(&invite(&app, &ada, &w, &bob.email, "viewer").await);

    // Another account, the owner who sent it, and a member: 404, as for no invitation.
    for user in [&eve, &ada, &editor] {
        answer(&app, user, &id, "accept")
            .await
            .assert_problem(404, "not-found");
        answer(&app, user, &id, "decline")
            .await
            .assert_problem(404, "not-found");
        assert!(ids_in(&app.get_json(MINE, &user.access_token).await).is_empty());
    }
    answer(&app, &bob, &Uuid::now_v7().to_string(), "accept")
        .await
        .assert_problem(404, "not-found");
    for verb in ["accept", "decline"] {
        app.post(&format!("{MINE}/{id}/{verb}"), None, json!({}))
            .await
            .assert_problem(401, "unauthorized");
    }
    app.get(MINE, None)
        .await
        .assert_problem(401, "unauthorized");

    // The world's invitations are the owner's business only: an editor or a stranger on
    // this public world is 403; on a private world a stranger is 404.
    let list = format!("/api/v1/worlds/{w}/invitations");
    for user in [&editor, &eve] {
        let token = Some(user.access_token.as_str());
        app.get(&list, token).await.assert_problem(403, "forbidden");
        app.post(
            &list,
            token,
            json!({"email": "x@example.com", "role": "viewer"}),
        )
        .await
        .assert_problem(403, "forbidden");
        app.delete(&format!("{list}/{id}"), token)
            .await
            .assert_problem(403, "forbidden");
    }
    let hidden = world(&app, &ada, "Hidden", "private").await;
    let hidden_list = format!("/api/v1/worlds/{hidden}/invitations");
    let token = Some(eve.access_token.as_str());
    app.get(&hidden_list, token)
        .await
        .assert_problem(404, "not-found");
    app.post(
        &hidden_list,
        token,
        json!({"email": "bad", "role": "owner"}),
    )
    .await
    .assert_problem(404, "not-found");
    app.get(&list, None)
        .await
        .assert_problem(401, "unauthorized");

    // Still pending and untouched.
    let mine = app.get_json(MINE, &bob.access_token).await;
    assert_eq!(ids_in(&mine), [id]);
}

async fn revoked_and_declined_invitations_are_answered_409(app: TestApp) {
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let w = world(&app, &ada, "Eldoria", "private").await;
    let other = world(&app, &ada, "Other", "private").await;
    let list = format!("/api/v1/worlds/{w}/invitations");
    let token = Some(ada.access_token.as_str());

    let first = id_of(&invite(&app, &ada, &w, &bob.email, "viewer").await);
    // An invitation is revoked through its own world only.
    app.delete(
        &format!("/api/v1/worlds/{other}/invitations/{first}"),
        token,
    )
    .await
    .assert_problem(404, "not-found");
    app.delete(&format!("{list}/{}", Uuid::now_v7()), token)
        .await
        .assert_problem(404, "not-found");
    app.delete(&format!("{list}/{first}"), token)
        .await
        .assert_status(204);
    app.delete(&format!("{list}/{first}"), token)
        .await
        .assert_problem(409, "conflict");
    assert!(ids_in(&app.get(&list, token).await.json()).is_empty());
    assert!(ids_in(&app.get_json(MINE, &bob.access_token).await).is_empty());
    answer(&app, &bob, &first, "accept")
        .await
        .assert_problem(409, "conflict");
    app.get(&world_path(&w), Some(&bob.access_token))
        .await
        .assert_problem(404, "not-found");

    // Revoked: the address may be invited again; declined likewise.
    let second = id_of(&invite(&app, &ada, &w, &bob.email, "editor").await);
    answer(&app, &bob, &second, "decline")
        .await
        .assert_status(204);
    answer(&app, &bob, &second, "accept")
        .await
        .assert_problem(409, "conflict");
    app.delete(&format!("{list}/{second}"), token)
        .await
        .assert_problem(409, "conflict");
    app.get(&world_path(&w), Some(&bob.access_token))
        .await
        .assert_problem(404, "not-found");
    invite(&app, &ada, &w, &bob.email, "editor")
        .await
        .assert_status(201);

    // A member who leaves may be invited back.
    let third = id_of(&invite(&app, &ada, &other, &bob.email, "viewer").await);
    answer(&app, &bob, &third, "accept")
        .await
        .assert_status(200);
    app.delete(
        &format!("/api/v1/worlds/{other}/members/{}", bob.id),
        Some(&bob.access_token),
    )
    .await
    .assert_status(204);
    invite(&app, &ada, &other, &bob.email, "viewer")
        .await
        .assert_status(201);
}

async fn invitations_expire_after_seven_days(app: TestApp) {
    let ada = app.register("ada").await;
    let bob = app.register("bob").await;
    let w = world(&app, &ada, "Eldoria", "private").await;
    let reply = invite(&app, &ada, &w, &bob.email, "viewer").await;
    let id: Uuid = id_of(&reply).parse().expect("uuid");
    let created = time(&reply.json()["created_at"]);

    // Seven days pass.
    let db = app.db().await;
    invitations::Entity::update_many()
        .col_expr(
            invitations::Column::ExpiresAt,
            Expr::value((Utc::now() - Duration::seconds(1)).fixed_offset()),
        )
        .filter(invitations::Column::Id.eq(id))
        .exec(&db)
        .await
        .expect("age the invitation");
    assert!(created + Duration::days(7) > Utc::now(), "really made now");

    assert!(ids_in(&app.get_json(MINE, &bob.access_token).await).is_empty());
    let list = format!("/api/v1/worlds/{w}/invitations");
    assert!(ids_in(&app.get_json(&list, &ada.access_token).await).is_empty());
    let late = answer(&app, &bob, &id.to_string(), "accept").await;
    let problem = late.assert_problem(409, "conflict");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("expired")),
        "{problem}"
    );
    app.get(&world_path(&w), Some(&bob.access_token))
        .await
        .assert_problem(404, "not-found");
    // An expired invitation is no obstacle to a new one.
    let again = invite(&app, &ada, &w, &bob.email, "viewer").await;
    again.assert_status(201);
    let stored = invitations::Entity::find()
        .filter(invitations::Column::Id.eq(id))
        .one(&db)
        .await
        .expect("query")
        .expect("row");
    assert_eq!(stored.status, "expired");
    answer(&app, &bob, &id_of(&again), "accept")
        .await
        .assert_status(200);
}

async fn invitation_input_and_lists_are_checked(app: TestApp) {
    let ada = app.register("ada").await;
    let w = world(&app, &ada, "Eldoria", "private").await;
    let list = format!("/api/v1/worlds/{w}/invitations");
    let token = Some(ada.access_token.as_str());
    for body in [
        json!({"email": "not-an-email", "role": "viewer"}),
        json!({"email": "x@example.com", "role": "owner"}),
        json!({"email": "x@example.com"}),
        json!({"email": "x@example.com", "role": "viewer", "status": "accepted"}),
    ] {
        app.post(&list, token, body)
            .await
            .assert_problem(422, "validation-failed");
    }
    app.post(
        &format!("/api/v1/worlds/{}/invitations", Uuid::now_v7()),
        token,
        json!({"email": "x@example.com", "role": "viewer"}),
    )
    .await
    .assert_problem(404, "not-found");

    // Newest first, page by page.
    let mut made = Vec::new();
    for i in 0..3 {
        made.push(id_of(
            &invite(&app, &ada, &w, &format!("guest{i}@example.com"), "viewer").await,
        ));
    }
    made.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{list}?limit=2&cursor={c}"),
            None => format!("{list}?limit=2"),
        };
        let page = app.get(&path, token).await;
        page.assert_status(200);
        let page = page.json();
        seen.extend(ids_in(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, made);
    app.get(&format!("{list}?cursor=bogus"), token)
        .await
        .assert_problem(400, "bad-request");
    app.get(&format!("{list}?limit=0"), token)
        .await
        .assert_problem(422, "validation-failed");
    app.get(&format!("{MINE}?limit=201"), token)
        .await
        .assert_problem(422, "validation-failed");
    app.send(Method::GET, &format!("{MINE}?cursor=bogus"), token, None)
        .await
        .assert_problem(400, "bad-request");
}

/// Two concurrent invitations of one address: one lands, the other is 409.
async fn concurrent_invitations_of_one_address_make_one(app: TestApp) {
    let ada = app.register("ada").await;
    let w = world(&app, &ada, "Eldoria", "private").await;
    let attempts = (0..4).map(|_| invite(&app, &ada, &w, "same@example.com", "viewer"));
    let mut statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status.as_u16())
        .collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409]);
}

on_both_backends!(
    an_accepted_invitation_makes_a_member,
    the_answer_is_the_same_with_or_without_an_account,
    nobody_but_the_invited_account_sees_an_invitation,
    revoked_and_declined_invitations_are_answered_409,
    invitations_expire_after_seven_days,
    invitation_input_and_lists_are_checked,
    concurrent_invitations_of_one_address_make_one,
);
