//! Authentication: abuse limits.
use super::*;

async fn failed_logins_are_limited_per_account(app: TestApp) {
    let user = app.register("limited").await;
    let bystander = app.register("bystander").await;
    let wrong = strong_password(16, 21);
    for _ in 0..3 {
        login(&app, &user.email, &wrong)
            .await
            .assert_problem(401, "invalid-credentials");
    }
    assert_rate_limited(&login(&app, &user.email, &wrong).await, 900);
    // Locked for everyone, even with the right password and another spelling of the email.
    assert_rate_limited(&login(&app, &user.email, &user.password).await, 900);
    assert_rate_limited(
        &login(&app, &user.email.to_uppercase(), &user.password).await,
        900,
    );
    // Existing logins and other accounts are unaffected.
    assert_eq!(me_status(&app, &user.access_token).await, 200);
    login(&app, &bystander.email, &bystander.password)
        .await
        .assert_status(200);

    // An unknown email is limited the same way, so the limit reveals nothing.
    let ghost = unique_email("ghost");
    for _ in 0..3 {
        login(&app, &ghost, &wrong)
            .await
            .assert_problem(401, "invalid-credentials");
    }
    let known = login(&app, &user.email, &wrong).await;
    let unknown = login(&app, &ghost, &wrong).await;
    assert_rate_limited(&unknown, 900);
    assert_eq!(known.status, unknown.status);
}

async fn concurrent_guesses_cannot_exceed_the_account_limit(app: TestApp) {
    let user = app.register("parallel").await;
    let guesses: Vec<String> = (0..16).map(|i| strong_password(16, 300 + i)).collect();
    let replies =
        futures_util::future::join_all(guesses.iter().map(|guess| login(&app, &user.email, guess)))
            .await;
    let mut attempted = 0;
    for reply in &replies {
        match reply.status.as_u16() {
            401 => attempted += 1,
            429 => {
                assert_rate_limited(reply, 900);
            }
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert!(
        attempted <= 3,
        "{attempted} passwords were tried against a limit of 3"
    );
    // Whatever the burst left over can be used up, and then the account is closed.
    let mut guess = 0;
    while attempted < 3 {
        login(&app, &user.email, &strong_password(16, 400 + guess))
            .await
            .assert_problem(401, "invalid-credentials");
        attempted += 1;
        guess += 1;
    }
    assert_rate_limited(
        &login(&app, &user.email, &strong_password(16, 500)).await,
        900,
    );
    assert_rate_limited(&login(&app, &user.email, &user.password).await, 900);
}

async fn concurrent_registrations_cannot_exceed_the_ip_limit(app: TestApp) {
    let bodies: Vec<Value> = (0..10)
        .map(|i| json!({"email": unique_email(&format!("rush{i}")), "password": PASSWORD}))
        .collect();
    let replies = futures_util::future::join_all(
        bodies
            .into_iter()
            .map(|body| app.post(REGISTER, None, body)),
    )
    .await;
    let created = replies.iter().filter(|r| r.status.as_u16() == 201).count();
    for reply in replies.iter().filter(|r| r.status.as_u16() != 201) {
        assert_rate_limited(reply, 3600);
    }
    assert!(created <= 2, "{created} registrations against a limit of 2");
    let db = app.db().await;
    assert_eq!(users::Entity::find().all(&db).await.unwrap().len(), created);
}

async fn successful_login_clears_earlier_failures(app: TestApp) {
    let user = app.register("clears").await;
    let wrong = strong_password(16, 22);
    for _ in 0..2 {
        login(&app, &user.email, &wrong)
            .await
            .assert_problem(401, "invalid-credentials");
    }
    login(&app, &user.email, &user.password)
        .await
        .assert_status(200);
    for _ in 0..2 {
        login(&app, &user.email, &wrong)
            .await
            .assert_problem(401, "invalid-credentials");
    }
    login(&app, &user.email, &user.password)
        .await
        .assert_status(200);
}

async fn account_limit_window_slides(app: TestApp) {
    let user = app.register("window").await;
    let wrong = strong_password(16, 23);
    for _ in 0..2 {
        login(&app, &user.email, &wrong)
            .await
            .assert_problem(401, "invalid-credentials");
    }
    let retry_after = assert_rate_limited(&login(&app, &user.email, &user.password).await, 2);
    // Retry-After is a promise: waiting exactly that long (plus a little) must do.
    tokio::time::sleep(std::time::Duration::from_millis(retry_after * 1000 + 150)).await;
    login(&app, &user.email, &user.password)
        .await
        .assert_status(200);
}

async fn failed_logins_are_limited_per_ip(app: TestApp) {
    let user = app.register("ip").await;
    let wrong = strong_password(16, 24);
    for _ in 0..3 {
        login(&app, &unique_email("spray"), &wrong)
            .await
            .assert_problem(401, "invalid-credentials");
    }
    assert_rate_limited(&login(&app, &unique_email("spray"), &wrong).await, 900);
    assert_rate_limited(&login(&app, &user.email, &user.password).await, 900);
}

async fn registrations_are_limited_per_ip(app: TestApp) {
    app.register("one").await;
    app.register("two").await;
    let reply = register_with(
        &app,
        json!({"email": unique_email("three"), "password": PASSWORD}),
    )
    .await;
    assert_rate_limited(&reply, 3600);
    let db = app.db().await;
    assert_eq!(users::Entity::find().all(&db).await.unwrap().len(), 2);
}

async fn wrong_current_passwords_count_against_the_account_limit(app: TestApp) {
    let user = app.register("confirm").await;
    let wrong = strong_password(16, 25);
    for _ in 0..3 {
        app.put(
            "/api/v1/users/me/password",
            Some(&user.access_token),
            json!({"current_password": wrong, "new_password": strong_password(18, 26)}),
        )
        .await
        .assert_problem(401, "invalid-credentials");
    }
    let reply = app
        .put(
            "/api/v1/users/me/password",
            Some(&user.access_token),
            json!({"current_password": user.password, "new_password": strong_password(18, 26)}),
        )
        .await;
    assert_rate_limited(&reply, 900);
    assert_rate_limited(&login(&app, &user.email, &user.password).await, 900);
    let reply = app
        .send(
            Method::DELETE,
            ME,
            Some(&user.access_token),
            Some(&json!({"password": user.password})),
        )
        .await;
    assert_rate_limited(&reply, 900);
}

crate::on_both_backends_with!(
    &[("LOGIN_FAILURES_PER_ACCOUNT", "3")];
    failed_logins_are_limited_per_account,
    concurrent_guesses_cannot_exceed_the_account_limit,
    successful_login_clears_earlier_failures,
    wrong_current_passwords_count_against_the_account_limit,
);

crate::on_both_backends_with!(
    &[("LOGIN_FAILURES_PER_ACCOUNT", "2"), ("LOGIN_FAILURES_WINDOW_SECS", "2")];
    account_limit_window_slides,
);

crate::on_both_backends_with!(
    &[("LOGIN_FAILURES_PER_IP", "3"), ("LOGIN_FAILURES_PER_ACCOUNT", "100")];
    failed_logins_are_limited_per_ip,
);

crate::on_both_backends_with!(
    &[("REGISTRATIONS_PER_IP", "2")];
    registrations_are_limited_per_ip,
    concurrent_registrations_cannot_exceed_the_ip_limit,
);
