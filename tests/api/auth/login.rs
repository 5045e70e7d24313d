//! Authentication: login.
use super::*;

async fn login_returns_a_new_token_pair(app: TestApp) {
    let user = app.register("login").await;
    let reply = login(&app, &user.email, &user.password).await;
    reply.assert_status(200);
    assert_no_secrets(&reply, &user.password);
    let body = reply.json();
    assert_token_pair(&body);
    assert_eq!(body["user"]["id"], user.id.to_string());
    assert_eq!(body["user"]["email"], user.email);
    let (access, refresh_token) = tokens_of(&reply);
    assert_ne!(access, user.access_token);
    assert_ne!(refresh_token, user.refresh_token);
    // A new login is a new session.
    assert_ne!(
        claims_of(&access)["sid"],
        claims_of(&user.access_token)["sid"]
    );
    assert_eq!(me_status(&app, &access).await, 200);
    assert_eq!(me_status(&app, &user.access_token).await, 200);
}

async fn login_email_is_case_and_space_insensitive(app: TestApp) {
    let email = format!("Grace.Hopper-{}@Example.org", Uuid::now_v7().simple());
    register_with(&app, json!({"email": email, "password": PASSWORD}))
        .await
        .assert_status(201);
    for variant in [
        email.clone(),
        email.to_lowercase(),
        email.to_uppercase(),
        format!(" {email}\t"),
    ] {
        let reply = login(&app, &variant, PASSWORD).await;
        reply.assert_status(200);
        assert_eq!(reply.json()["user"]["email"], email.to_lowercase());
    }
}

async fn login_failures_are_indistinguishable(app: TestApp) {
    let user = app.register("victim").await;
    let wrong_password = login(&app, &user.email, &strong_password(16, 11)).await;
    let unknown_email = login(&app, &unique_email("nobody"), &strong_password(16, 11)).await;
    let malformed_email = login(&app, "not an email", &strong_password(16, 11)).await;
    let empty_password = login(&app, &user.email, "").await;
    for reply in [
        &wrong_password,
        &unknown_email,
        &malformed_email,
        &empty_password,
    ] {
        let problem = reply.assert_problem(401, "invalid-credentials");
        assert_eq!(problem["title"], "Invalid credentials");
        assert_no_secrets(reply, &user.password);
    }
    assert_eq!(
        wrong_password.text, unknown_email.text,
        "the bodies tell the cases apart"
    );
    assert_eq!(wrong_password.text, malformed_email.text);
    assert_eq!(wrong_password.text, empty_password.text);
    let header_names = |reply: &Reply| {
        let mut names: Vec<String> = reply
            .headers
            .keys()
            .map(|k| k.as_str().to_owned())
            .filter(|k| k != "date")
            .collect();
        names.sort();
        names
    };
    assert_eq!(header_names(&wrong_password), header_names(&unknown_email));
    for (name, value) in wrong_password.headers.iter() {
        if name != "date" {
            assert_eq!(
                unknown_email.headers.get(name),
                Some(value),
                "header {name} differs"
            );
        }
    }
    // A wrong-case password is a wrong password.
    login(&app, &user.email, &user.password.to_uppercase())
        .await
        .assert_problem(401, "invalid-credentials");
    // The shape of the request is still checked.
    app.post(LOGIN, None, json!({"email": user.email}))
        .await
        .assert_problem(422, "validation-failed");
    app.post(
        LOGIN,
        None,
        json!({"email": user.email, "password": user.password, "remember": true}),
    )
    .await
    .assert_problem(422, "validation-failed");
}

async fn concurrent_logins_all_succeed(app: TestApp) {
    let user = app.register("crowd").await;
    // Fewer than the per-account limit (10) at once: attempts in flight count against it.
    let replies =
        futures_util::future::join_all((0..8).map(|_| login(&app, &user.email, &user.password)))
            .await;
    let mut sessions = Vec::new();
    for reply in &replies {
        reply.assert_status(200);
        let (access, _) = tokens_of(reply);
        sessions.push(claims_of(&access)["sid"].clone());
        assert_eq!(me_status(&app, &access).await, 200);
    }
    sessions.sort_by_key(|s| s.to_string());
    sessions.dedup();
    assert_eq!(
        sessions.len(),
        replies.len(),
        "each login is its own session"
    );
}

/// Any email, however long or odd, is answered like a wrong password.
async fn absurd_emails_at_login_are_invalid_credentials(app: TestApp) {
    for email in [
        "x".repeat(1000) + "@example.com",
        "a".repeat(5000),
        "not an email".into(),
    ] {
        login(&app, &email, "whatever password 123")
            .await
            .assert_problem(401, "invalid-credentials");
    }
}

on_both_backends!(
    login_returns_a_new_token_pair,
    login_email_is_case_and_space_insensitive,
    login_failures_are_indistinguishable,
    concurrent_logins_all_succeed,
);

on_both_backends!(absurd_emails_at_login_are_invalid_credentials,);
