//! Authentication: several server processes sharing one database.
use super::*;

/// Starts another server on `app`'s database, which it does not migrate; returns its
/// base URL.
async fn second_server(app: &TestApp, extra: &[(&str, &str)]) -> String {
    let mut vars = extra.to_vec();
    vars.push(("LOREBASE_AUTO_MIGRATE", "false"));
    app.spawn_beside_with(&vars).await.address
}

/// A login at the server at `base`.
async fn login_at(app: &TestApp, base: &str, email: &str, password: &str) -> Reply {
    let body = json!({"email": email, "password": password});
    call(app, base, Method::POST, LOGIN, None, body).await
}

async fn call(
    app: &TestApp,
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Reply {
    let mut request = app
        .client
        .request(method, format!("{base}{path}"))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.expect("body"),
    }
}

async fn limits_and_revocations_hold_across_servers(app: TestApp) {
    let other = second_server(&app, &[("LOGIN_FAILURES_PER_ACCOUNT", "3")]).await;
    let user = app.register("cluster").await;
    let wrong = strong_password(16, 31);
    let credentials = |password: &str| json!({"email": user.email, "password": password});

    // Tokens from one server work on the other.
    call(
        &app,
        &other,
        Method::GET,
        ME,
        Some(&user.access_token),
        json!({}),
    )
    .await
    .assert_status(200);

    // Failures on both servers add up.
    login(&app, &user.email, &wrong)
        .await
        .assert_problem(401, "invalid-credentials");
    call(&app, &other, Method::POST, LOGIN, None, credentials(&wrong))
        .await
        .assert_problem(401, "invalid-credentials");
    login(&app, &user.email, &wrong)
        .await
        .assert_problem(401, "invalid-credentials");
    assert_rate_limited(
        &call(
            &app,
            &other,
            Method::POST,
            LOGIN,
            None,
            credentials(&user.password),
        )
        .await,
        900,
    );
    assert_rate_limited(&login(&app, &user.email, &user.password).await, 900);

    // Logout on one server ends the login on the other at once.
    let second = app.register("cluster2").await;
    call(
        &app,
        &other,
        Method::POST,
        LOGOUT,
        None,
        json!({"refresh_token": second.refresh_token}),
    )
    .await
    .assert_status(204);
    assert_unauthorized(&app.get(ME, Some(&second.access_token)).await);

    // A refresh-token replay on one server revokes the family everywhere.
    let third = app.register("cluster3").await;
    let rotated = refresh(&app, &third.refresh_token).await;
    rotated.assert_status(200);
    let (access2, _) = tokens_of(&rotated);
    assert_unauthorized(
        &call(
            &app,
            &other,
            Method::POST,
            REFRESH,
            None,
            json!({"refresh_token": third.refresh_token}),
        )
        .await,
    );
    assert_unauthorized(&app.get(ME, Some(&access2)).await);

    // A password change on one server ends every token on the other.
    let fourth = app.register("cluster4").await;
    call(
        &app,
        &other,
        Method::PUT,
        "/api/v1/users/me/password",
        Some(&fourth.access_token),
        json!({"current_password": fourth.password, "new_password": strong_password(20, 32)}),
    )
    .await
    .assert_status(204);
    assert_unauthorized(&app.get(ME, Some(&fourth.access_token)).await);
    assert_unauthorized(&refresh(&app, &fourth.refresh_token).await);
}

async fn hashes_with_old_parameters_are_upgraded_at_login(app: TestApp) {
    let user = app.register("rehash").await;
    let db = app.db().await;
    let stored = async |db: &sea_orm::DatabaseConnection| {
        users::Entity::find_by_id(user.id)
            .one(db)
            .await
            .unwrap()
            .unwrap()
            .password_hash
    };
    let before = stored(&db).await;
    assert!(
        before.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"),
        "{before}"
    );
    let me_before = app.get_json(ME, &user.access_token).await;

    // A server with the default (OWASP) parameters re-hashes on the next good login.
    let upgraded = second_server(&app, &[]).await;
    login_at(&app, &upgraded, &user.email, &strong_password(16, 41))
        .await
        .assert_problem(401, "invalid-credentials");
    assert_eq!(stored(&db).await, before, "a failed login must not re-hash");
    let reply = login_at(&app, &upgraded, &user.email, &user.password).await;
    reply.assert_status(200);
    assert_no_secrets(&reply, &user.password);
    let after = stored(&db).await;
    assert!(
        after.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{after}"
    );
    // Re-hashing is not a change the user made.
    assert_eq!(app.get_json(ME, &user.access_token).await, me_before);
    // Still the same password, on both servers.
    login(&app, &user.email, &user.password)
        .await
        .assert_status(200);
    login_at(&app, &upgraded, &user.email, &user.password)
        .await
        .assert_status(200);
}

crate::on_both_backends_with!(
    &[("LOGIN_FAILURES_PER_ACCOUNT", "3")];
    limits_and_revocations_hold_across_servers,
);

crate::on_both_backends_with!(
    &[("ARGON2_MEMORY_KIB", "8192"), ("ARGON2_ITERATIONS", "1")];
    hashes_with_old_parameters_are_upgraded_at_login,
);
