//! The caller's own account: read, patch, change password, delete, through HTTP on both
//! backends.
use entity::{
    element_relations, refresh_tokens, sessions, users, world_elements, world_members, worlds,
};
use reqwest::Method;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::auth::{
    LOGIN, ME, assert_no_secrets, assert_token_pair, assert_unauthorized, assert_user_shape, login,
    logout, me_status, refresh, second_login, strong_password,
};
use crate::helpers::{TestApp, TestUser, element_row};
use crate::on_both_backends;

const PASSWORD_PATH: &str = "/api/v1/users/me/password";

async fn delete_me(app: &TestApp, token: Option<&str>, password: &str) -> crate::helpers::Reply {
    app.send(
        Method::DELETE,
        ME,
        token,
        Some(&json!({"password": password})),
    )
    .await
}

async fn change_password(
    app: &TestApp,
    user: &TestUser,
    current: &str,
    new: &str,
) -> crate::helpers::Reply {
    app.put(
        PASSWORD_PATH,
        Some(&user.access_token),
        json!({"current_password": current, "new_password": new}),
    )
    .await
}

// ---------------------------------------------------------------------------------------
// GET /users/me
// ---------------------------------------------------------------------------------------

async fn me_returns_the_callers_account(app: TestApp) {
    let user = app.register("me").await;
    let _other = app.register("other").await;
    let reply = app.get(ME, Some(&user.access_token)).await;
    reply.assert_status(200);
    assert_no_secrets(&reply, &user.password);
    let body = reply.json();
    assert_user_shape(&body);
    assert_eq!(body["id"], user.id.to_string());
    assert_eq!(body["email"], user.email);
    assert_eq!(body["display_name"], "me");
    assert_eq!(body["preferences"], json!({}));
    assert_eq!(body["created_at"], body["updated_at"]);

    assert_unauthorized(&app.get(ME, None).await);
    for method in [Method::PATCH, Method::PUT, Method::DELETE] {
        let path = if method == Method::PUT {
            PASSWORD_PATH
        } else {
            ME
        };
        assert_unauthorized(&app.send(method, path, None, Some(&json!({}))).await);
    }
}

// ---------------------------------------------------------------------------------------
// PATCH /users/me
// ---------------------------------------------------------------------------------------

async fn patch_me_changes_the_display_name(app: TestApp) {
    let user = app.register("patch").await;
    let before = app.get_json(ME, &user.access_token).await;

    let reply = app
        .patch(
            ME,
            Some(&user.access_token),
            json!({"display_name": "Ada Lovelace"}),
        )
        .await;
    reply.assert_status(200);
    assert_no_secrets(&reply, &user.password);
    let body = reply.json();
    assert_user_shape(&body);
    assert_eq!(body["display_name"], "Ada Lovelace");
    assert_eq!(body["email"], user.email);
    assert_eq!(body["created_at"], before["created_at"]);
    let stamp = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert!(stamp(&body["updated_at"]) >= stamp(&before["updated_at"]));
    assert_eq!(
        app.get_json(ME, &user.access_token).await,
        body,
        "persisted"
    );

    // 200 characters is the most a name may have.
    let longest = "n".repeat(200);
    let reply = app
        .patch(
            ME,
            Some(&user.access_token),
            json!({"display_name": longest}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.json()["display_name"], longest);

    // Absent leaves it alone; null removes it.
    let reply = app.patch(ME, Some(&user.access_token), json!({})).await;
    reply.assert_status(200);
    assert_eq!(reply.json()["display_name"], longest);
    let reply = app
        .patch(ME, Some(&user.access_token), json!({"display_name": null}))
        .await;
    reply.assert_status(200);
    assert_eq!(reply.json()["display_name"], Value::Null);
    assert_eq!(
        app.get_json(ME, &user.access_token).await["display_name"],
        Value::Null
    );

    // Invalid values change nothing.
    for bad in [
        json!({"display_name": ""}),
        json!({"display_name": "   "}),
        json!({"display_name": "n".repeat(201)}),
        json!({"display_name": 7}),
        json!({"email": "new@example.com"}),
        json!({"password_hash": "$argon2id$v=19$m=8,t=1,p=1$AAAA$AAAA"}),
        json!({"token_version": 99}),
        json!({"id": Uuid::now_v7()}),
    ] {
        let reply = app.patch(ME, Some(&user.access_token), bad.clone()).await;
        let problem = reply.assert_problem(422, "validation-failed");
        assert!(
            problem["errors"].as_array().is_some_and(|e| !e.is_empty()),
            "{bad}: {problem}"
        );
    }
    let me = app.get_json(ME, &user.access_token).await;
    assert_eq!(me["display_name"], Value::Null);
    assert_eq!(me["email"], user.email);
    login(&app, &user.email, &user.password)
        .await
        .assert_status(200);
}

async fn patch_me_merges_preferences(app: TestApp) {
    let user = app.register("prefs").await;
    let token = Some(user.access_token.as_str());
    let reply = app
        .patch(
            ME,
            token,
            json!({"preferences": {"theme": "dark", "editor": {"font": "mono", "size": 12}, "pinned": [1, 2]}}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(
        reply.json()["preferences"],
        json!({"theme": "dark", "editor": {"font": "mono", "size": 12}, "pinned": [1, 2]})
    );

    // Nested objects merge, null removes, arrays and scalars replace, new keys are added.
    let reply = app
        .patch(
            ME,
            token,
            json!({"preferences": {"editor": {"size": 14, "font": null, "wrap": true}, "pinned": [3], "lang": "en"}}),
        )
        .await;
    reply.assert_status(200);
    let expected =
        json!({"theme": "dark", "editor": {"size": 14, "wrap": true}, "pinned": [3], "lang": "en"});
    assert_eq!(reply.json()["preferences"], expected);
    assert_eq!(
        app.get(ME, token).await.json()["preferences"],
        expected,
        "persisted"
    );

    // Removing a whole subtree, and a key that is not there.
    let reply = app
        .patch(
            ME,
            token,
            json!({"preferences": {"editor": null, "missing": null}}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(
        reply.json()["preferences"],
        json!({"theme": "dark", "pinned": [3], "lang": "en"})
    );

    // An object replaces a scalar and vice versa.
    let reply = app
        .patch(
            ME,
            token,
            json!({"preferences": {"theme": {"name": "dark", "contrast": "high"}, "lang": 5}}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(
        reply.json()["preferences"],
        json!({"theme": {"name": "dark", "contrast": "high"}, "pinned": [3], "lang": 5})
    );

    // An empty patch changes nothing; the display name is untouched by preference patches.
    let reply = app.patch(ME, token, json!({"preferences": {}})).await;
    reply.assert_status(200);
    let body = reply.json();
    assert_eq!(
        body["preferences"],
        json!({"theme": {"name": "dark", "contrast": "high"}, "pinned": [3], "lang": 5})
    );
    assert_eq!(body["display_name"], "prefs");

    // Both at once.
    let reply = app
        .patch(ME, token, json!({"display_name": "P", "preferences": {"theme": null, "pinned": null, "lang": null}}))
        .await;
    reply.assert_status(200);
    assert_eq!(reply.json()["display_name"], "P");
    assert_eq!(reply.json()["preferences"], json!({}));

    // Preferences must be an object.
    for bad in [json!("dark"), json!([1, 2]), json!(3), json!(true)] {
        app.patch(ME, token, json!({"preferences": bad}))
            .await
            .assert_problem(422, "validation-failed");
    }
    assert_eq!(app.get(ME, token).await.json()["preferences"], json!({}));

    // Each user has their own preferences.
    let other = app.register("other").await;
    app.patch(
        ME,
        Some(&user.access_token),
        json!({"preferences": {"mine": true}}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        app.get_json(ME, &other.access_token).await["preferences"],
        json!({})
    );
}

async fn concurrent_preference_patches_are_all_kept(app: TestApp) {
    let user = app.register("busy").await;
    let token = Some(user.access_token.as_str());
    let patches = (0..8).map(|i| {
        let mut prefs = serde_json::Map::new();
        prefs.insert(format!("k{i}"), json!(i));
        app.patch(ME, token, json!({"preferences": prefs}))
    });
    // Other writes to the database at the same time.
    let others = (0..4).map(|_| login(&app, &user.email, &user.password));
    let (patched, logged_in) = futures_util::future::join(
        futures_util::future::join_all(patches),
        futures_util::future::join_all(others),
    )
    .await;
    for reply in patched.iter().chain(&logged_in) {
        assert!(
            reply.status.is_success(),
            "{}: {}",
            reply.status,
            reply.text
        );
    }
    let preferences = app.get(ME, token).await.json()["preferences"].clone();
    let expected: serde_json::Map<String, Value> =
        (0..8).map(|i| (format!("k{i}"), json!(i))).collect();
    assert_eq!(
        preferences,
        Value::Object(expected),
        "a concurrent patch was lost"
    );
}

// ---------------------------------------------------------------------------------------
// PUT /users/me/password
// ---------------------------------------------------------------------------------------

async fn password_change_ends_every_earlier_token(app: TestApp) {
    let user = app.register("changer").await;
    let other_login = second_login(&app, &user).await;
    // A login that was already refreshed once.
    let third = second_login(&app, &user).await;
    let rotated = refresh(&app, &third.refresh_token).await;
    rotated.assert_status(200);
    let rotated = rotated.json();
    let third_access = rotated["access_token"].as_str().unwrap().to_owned();
    let third_refresh = rotated["refresh_token"].as_str().unwrap().to_owned();

    let new_password = strong_password(24, 101);
    let reply = change_password(&app, &user, &user.password, &new_password).await;
    reply.assert_status(204);
    assert!(reply.text.is_empty());

    // Every access token issued before stops working at once...
    for token in [&user.access_token, &other_login.access_token, &third_access] {
        assert_unauthorized(&app.get(ME, Some(token)).await);
    }
    // ...and every refresh token.
    for token in [
        &user.refresh_token,
        &other_login.refresh_token,
        &third_refresh,
    ] {
        assert_unauthorized(&refresh(&app, token).await);
    }
    // The old password no longer logs in; the new one does.
    login(&app, &user.email, &user.password)
        .await
        .assert_problem(401, "invalid-credentials");
    let reply = login(&app, &user.email, &new_password).await;
    reply.assert_status(200);
    assert_no_secrets(&reply, &new_password);
    let body = reply.json();
    assert_token_pair(&body);
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(me_status(&app, access).await, 200);
    let reply = refresh(&app, body["refresh_token"].as_str().unwrap()).await;
    reply.assert_status(200);
    assert_eq!(
        me_status(&app, reply.json()["access_token"].as_str().unwrap()).await,
        200
    );
}

async fn password_change_requires_the_current_password(app: TestApp) {
    let user = app.register("careful").await;
    let new_password = strong_password(24, 102);
    let reply = change_password(&app, &user, &strong_password(16, 103), &new_password).await;
    reply.assert_problem(401, "invalid-credentials");
    // Nothing changed.
    assert_eq!(me_status(&app, &user.access_token).await, 200);
    login(&app, &user.email, &user.password)
        .await
        .assert_status(200);
    login(&app, &user.email, &new_password)
        .await
        .assert_problem(401, "invalid-credentials");
    // Another user's password does not count.
    let other_email = crate::auth::unique_email("other");
    let other_password = strong_password(18, 108);
    app.post(
        "/api/v1/auth/register",
        None,
        json!({"email": other_email, "password": other_password}),
    )
    .await
    .assert_status(201);
    change_password(&app, &user, &other_password, &new_password)
        .await
        .assert_problem(401, "invalid-credentials");
    login(&app, &other_email, &other_password)
        .await
        .assert_status(200);
    assert_eq!(me_status(&app, &user.access_token).await, 200);
}

async fn password_change_validates_the_new_password(app: TestApp) {
    let user = app.register("rules").await;
    for (bad, hint) in [
        (strong_password(11, 104), "12"),
        (strong_password(257, 105), "256"),
        ("password1234".to_owned(), ""),
        ("qwertyuiopasdfgh".to_owned(), ""),
    ] {
        let reply = change_password(&app, &user, &user.password, &bad).await;
        let problem = reply.assert_problem(422, "validation-failed");
        assert_eq!(problem["errors"][0]["field"], "new_password", "{problem}");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(hint),
            "{problem}"
        );
        assert_no_secrets(&reply, &bad);
    }
    // Nothing changed.
    assert_eq!(me_status(&app, &user.access_token).await, 200);
    login(&app, &user.email, &user.password)
        .await
        .assert_status(200);
    // Shape errors.
    app.put(
        PASSWORD_PATH,
        Some(&user.access_token),
        json!({"new_password": strong_password(20, 106)}),
    )
    .await
    .assert_problem(422, "validation-failed");
    app.put(
        PASSWORD_PATH,
        Some(&user.access_token),
        json!({"current_password": user.password, "new_password": strong_password(20, 106), "x": 1}),
    )
    .await
    .assert_problem(422, "validation-failed");
    // 256 characters is fine.
    let longest = strong_password(256, 107);
    change_password(&app, &user, &user.password, &longest)
        .await
        .assert_status(204);
    login(&app, &user.email, &longest).await.assert_status(200);
}

// ---------------------------------------------------------------------------------------
// DELETE /users/me
// ---------------------------------------------------------------------------------------

/// Creates a world owned by `owner`: through the API when it exists, else directly.
async fn create_world(
    app: &TestApp,
    db: &DatabaseConnection,
    owner: &TestUser,
    name: &str,
) -> Uuid {
    let reply = app
        .post(
            "/api/v1/worlds",
            Some(&owner.access_token),
            json!({"name": name}),
        )
        .await;
    if reply.status.as_u16() == 201 {
        return reply.json()["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("world id");
    }
    let world = worlds::ActiveModel {
        owner_id: Set(owner.id),
        name: Set(name.to_owned()),
        settings: Set(json!({})),
        visibility: Set("private".to_owned()),
        element_count: Set(0),
        version: Set(1),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert world");
    world_members::ActiveModel {
        world_id: Set(world.id),
        user_id: Set(owner.id),
        role: Set("owner".to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert owner membership");
    world.id
}

async fn add_member(db: &DatabaseConnection, world_id: Uuid, user_id: Uuid, role: &str) {
    world_members::ActiveModel {
        world_id: Set(world_id),
        user_id: Set(user_id),
        role: Set(role.to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert membership");
}

async fn add_element(
    db: &DatabaseConnection,
    world_id: Uuid,
    created_by: Uuid,
    name: &str,
) -> Uuid {
    world_elements::ActiveModel {
        attributes: Set(json!({"age": 36})),
        tags: Set(json!(["hero"])),
        created_by: Set(Some(created_by)),
        ..element_row(world_id, "character", name)
    }
    .insert(db)
    .await
    .expect("insert element")
    .id
}

async fn add_relation(db: &DatabaseConnection, world_id: Uuid, source: Uuid, target: Uuid) -> Uuid {
    element_relations::ActiveModel {
        world_id: Set(world_id),
        source_id: Set(source),
        target_id: Set(target),
        kind: Set("knows".to_owned()),
        attributes: Set(json!({})),
        version: Set(1),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert relation")
    .id
}

async fn delete_me_removes_the_account_and_its_worlds(app: TestApp) {
    let db = app.db().await;
    let user = app.register("leaver").await;
    let other_login = second_login(&app, &user).await;
    let friend = app.register("friend").await;

    // The user's worlds, with elements and relations in them, and a friend as member.
    let mine = create_world(&app, &db, &user, "Doomed").await;
    let mine_too = create_world(&app, &db, &user, "Also doomed").await;
    add_member(&db, mine, friend.id, "editor").await;
    let hero = add_element(&db, mine, user.id, "Hero").await;
    let villain = add_element(&db, mine, friend.id, "Villain").await;
    add_relation(&db, mine, hero, villain).await;
    add_element(&db, mine_too, user.id, "Lonely").await;

    // The friend's world, where the user is a member and wrote an element.
    let theirs = create_world(&app, &db, &friend, "Survivor").await;
    add_member(&db, theirs, user.id, "editor").await;
    let written_by_user = add_element(&db, theirs, user.id, "Guest star").await;
    let written_by_friend = add_element(&db, theirs, friend.id, "Local").await;
    add_relation(&db, theirs, written_by_user, written_by_friend).await;

    // A wrong password deletes nothing.
    let reply = delete_me(&app, Some(&user.access_token), &strong_password(16, 201)).await;
    reply.assert_problem(401, "invalid-credentials");
    assert_eq!(me_status(&app, &user.access_token).await, 200);
    assert!(
        worlds::Entity::find_by_id(mine)
            .one(&db)
            .await
            .unwrap()
            .is_some()
    );
    // The password is required.
    app.send(
        Method::DELETE,
        ME,
        Some(&user.access_token),
        Some(&json!({})),
    )
    .await
    .assert_problem(422, "validation-failed");
    let no_body = app.delete(ME, Some(&user.access_token)).await;
    assert!(no_body.status.is_client_error(), "{}", no_body.text);
    assert_eq!(me_status(&app, &user.access_token).await, 200);

    let reply = delete_me(&app, Some(&user.access_token), &user.password).await;
    reply.assert_status(204);
    assert!(reply.text.is_empty());

    // Every token of every login is dead, and the credentials are gone.
    for token in [&user.access_token, &other_login.access_token] {
        assert_unauthorized(&app.get(ME, Some(token)).await);
    }
    for token in [&user.refresh_token, &other_login.refresh_token] {
        assert_unauthorized(&refresh(&app, token).await);
    }
    let gone = login(&app, &user.email, &user.password).await;
    gone.assert_problem(401, "invalid-credentials");
    let unknown = login(&app, &crate::auth::unique_email("never"), &user.password).await;
    assert_eq!(
        gone.text, unknown.text,
        "a deleted account looks like an unknown one"
    );

    // The database: the user, their sessions, worlds and everything in them are gone.
    assert!(
        users::Entity::find_by_id(user.id)
            .one(&db)
            .await
            .unwrap()
            .is_none()
    );
    let sessions = sessions::Entity::find()
        .filter(sessions::Column::UserId.eq(user.id))
        .all(&db)
        .await
        .unwrap();
    assert!(sessions.is_empty());
    let remaining_worlds: Vec<Uuid> = worlds::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(remaining_worlds, vec![theirs]);
    for world in [mine, mine_too] {
        let elements = world_elements::Entity::find()
            .filter(world_elements::Column::WorldId.eq(world))
            .all(&db)
            .await
            .unwrap();
        assert!(elements.is_empty(), "elements of a deleted world remain");
        let relations = element_relations::Entity::find()
            .filter(element_relations::Column::WorldId.eq(world))
            .all(&db)
            .await
            .unwrap();
        assert!(relations.is_empty(), "relations of a deleted world remain");
        let members = world_members::Entity::find()
            .filter(world_members::Column::WorldId.eq(world))
            .all(&db)
            .await
            .unwrap();
        assert!(members.is_empty(), "memberships of a deleted world remain");
    }
    let memberships = world_members::Entity::find()
        .filter(world_members::Column::UserId.eq(user.id))
        .all(&db)
        .await
        .unwrap();
    assert!(memberships.is_empty());

    // The friend's world survives, with what the user wrote in it (now without an author).
    let elements = world_elements::Entity::find()
        .filter(world_elements::Column::WorldId.eq(theirs))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(elements.len(), 2);
    let guest = elements
        .iter()
        .find(|e| e.id == written_by_user)
        .expect("element kept");
    assert_eq!(guest.created_by, None);
    let relations = element_relations::Entity::find()
        .filter(element_relations::Column::WorldId.eq(theirs))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(relations.len(), 1);
    assert_eq!(me_status(&app, &friend.access_token).await, 200);
    // Only the friend's refresh tokens remain.
    let friend_sessions = sessions::Entity::find().all(&db).await.unwrap();
    assert!(friend_sessions.iter().all(|s| s.user_id == friend.id));
    assert!(
        !refresh_tokens::Entity::find()
            .all(&db)
            .await
            .unwrap()
            .is_empty()
    );

    // The email is free again.
    let reply = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": user.email, "password": strong_password(20, 202)}),
        )
        .await;
    reply.assert_status(201);
    assert_ne!(reply.json()["user"]["id"], user.id.to_string());
    assert_unauthorized(&app.get(ME, Some(&user.access_token)).await);
}

async fn delete_me_needs_a_live_token(app: TestApp) {
    let user = app.register("token").await;
    assert_unauthorized(&delete_me(&app, None, &user.password).await);
    assert_unauthorized(&delete_me(&app, Some(&user.refresh_token), &user.password).await);
    logout(&app, &user.refresh_token).await.assert_status(204);
    assert_unauthorized(&delete_me(&app, Some(&user.access_token), &user.password).await);
    // The account still exists.
    app.post(
        LOGIN,
        None,
        json!({"email": user.email, "password": user.password}),
    )
    .await
    .assert_status(200);
}

on_both_backends!(
    me_returns_the_callers_account,
    patch_me_changes_the_display_name,
    patch_me_merges_preferences,
    concurrent_preference_patches_are_all_kept,
    password_change_ends_every_earlier_token,
    password_change_requires_the_current_password,
    password_change_validates_the_new_password,
    delete_me_removes_the_account_and_its_worlds,
    delete_me_needs_a_live_token,
);
