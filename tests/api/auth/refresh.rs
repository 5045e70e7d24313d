//! Authentication: refresh.
use super::*;

async fn refresh_rotates_the_token_pair(app: TestApp) {
    let user = app.register("rotate").await;
    let first = refresh(&app, &user.refresh_token).await;
    first.assert_status(200);
    assert_no_secrets(&first, &user.password);
    let body = first.json();
    assert_token_pair(&body);
    assert_eq!(body["user"]["id"], user.id.to_string());
    let (access2, refresh2) = tokens_of(&first);
    assert_ne!(refresh2, user.refresh_token);
    assert_ne!(access2, user.access_token);
    // Same login: the session carries over.
    assert_eq!(
        claims_of(&access2)["sid"],
        claims_of(&user.access_token)["sid"]
    );
    assert_eq!(me_status(&app, &access2).await, 200);

    // The new refresh token rotates again, and again.
    let second = refresh(&app, &refresh2).await;
    second.assert_status(200);
    let (access3, refresh3) = tokens_of(&second);
    assert_ne!(refresh3, refresh2);
    assert_eq!(me_status(&app, &access3).await, 200);
    let third = refresh(&app, &refresh3).await;
    third.assert_status(200);
    let (access4, _) = tokens_of(&third);
    assert_eq!(me_status(&app, &access4).await, 200);
}

async fn refresh_token_reuse_revokes_the_family(app: TestApp) {
    let user = app.register("reuse").await;
    let other_login = second_login(&app, &user).await;

    let rotated = refresh(&app, &user.refresh_token).await;
    rotated.assert_status(200);
    let (access2, refresh2) = tokens_of(&rotated);
    assert_eq!(me_status(&app, &access2).await, 200);

    // The spent token again: 401, and the whole login ends.
    let replay = refresh(&app, &user.refresh_token).await;
    assert_unauthorized(&replay);
    assert_unauthorized(&refresh(&app, &refresh2).await);
    assert_unauthorized(&app.get(ME, Some(&access2)).await);
    assert_unauthorized(&app.get(ME, Some(&user.access_token)).await);
    // Replaying once more changes nothing.
    assert_unauthorized(&refresh(&app, &user.refresh_token).await);

    // The user's other login is untouched.
    assert_login_lives(&app, &other_login).await;
}

async fn concurrent_refreshes_with_one_token_let_at_most_one_through(app: TestApp) {
    let user = app.register("race").await;
    let replies =
        futures_util::future::join_all((0..6).map(|_| refresh(&app, &user.refresh_token))).await;
    let mut ok = 0;
    for reply in &replies {
        match reply.status.as_u16() {
            200 => ok += 1,
            401 => assert_unauthorized(reply),
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert!(ok <= 1, "{ok} refreshes with the same token succeeded");
    // Whoever lost the race presented a spent token: the family is revoked.
    assert_unauthorized(&refresh(&app, &user.refresh_token).await);
    assert_unauthorized(&app.get(ME, Some(&user.access_token)).await);
}

async fn refresh_rejects_unknown_and_malformed_tokens(app: TestApp) {
    let user = app.register("unknown").await;
    for token in [
        "".to_owned(),
        "not-a-token".to_owned(),
        URL_SAFE_NO_PAD.encode([0u8; 32]),
        user.access_token.clone(),
        format!("{}x", user.refresh_token),
    ] {
        assert_unauthorized(&refresh(&app, &token).await);
    }
    app.post(REFRESH, None, json!({}))
        .await
        .assert_problem(422, "validation-failed");
    app.post(REFRESH, None, json!({"refresh_token": 12}))
        .await
        .assert_problem(422, "validation-failed");
    // None of that touched the real login.
    refresh(&app, &user.refresh_token).await.assert_status(200);
}

async fn expired_refresh_tokens_are_rejected(app: TestApp) {
    let user = app.register("stale").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_unauthorized(&refresh(&app, &user.refresh_token).await);
    assert_unauthorized(&refresh(&app, &user.refresh_token).await);
    // A fresh login gets a fresh refresh token, good until it too expires.
    let again = second_login(&app, &user).await;
    refresh(&app, &again.refresh_token).await.assert_status(200);
}

/// However often it refreshes, a login ends `SESSION_MAX_LIFETIME_SECS` after it began.
async fn a_login_has_an_absolute_lifetime(app: TestApp) {
    let user = app.register("forever").await;
    let started = std::time::Instant::now();
    let mut refresh_token = user.refresh_token.clone();
    let mut refreshed = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        let reply = refresh(&app, &refresh_token).await;
        if reply.status == 200 {
            refreshed += 1;
            refresh_token = reply.json()["refresh_token"]
                .as_str()
                .expect("token")
                .to_owned();
            assert!(
                started.elapsed().as_secs_f64() < 3.5,
                "refresh succeeded past the lifetime"
            );
        } else {
            reply.assert_problem(401, "unauthorized");
            // Ended by the absolute lifetime (3 s), not by the 2 s sliding TTL.
            assert!(started.elapsed().as_secs_f64() >= 2.9, "ended too early");
            break;
        }
        assert!(started.elapsed().as_secs() < 10, "the login never ended");
    }
    assert!(refreshed >= 3, "only {refreshed} refreshes before the end");
}

on_both_backends!(
    refresh_rotates_the_token_pair,
    refresh_token_reuse_revokes_the_family,
    concurrent_refreshes_with_one_token_let_at_most_one_through,
    refresh_rejects_unknown_and_malformed_tokens,
);

crate::on_both_backends_with!(
    &[("REFRESH_TOKEN_TTL_SECS", "1")];
    expired_refresh_tokens_are_rejected,
);

crate::on_both_backends_with!(
    &[("REFRESH_TOKEN_TTL_SECS", "2"), ("SESSION_MAX_LIFETIME_SECS", "3")];
    a_login_has_an_absolute_lifetime,
);
