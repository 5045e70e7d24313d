//! Authentication: logout.
use super::*;

async fn logout_ends_that_login_only(app: TestApp) {
    let user = app.register("logout").await;
    let other = second_login(&app, &user).await;

    let reply = logout(&app, &user.refresh_token).await;
    reply.assert_status(204);
    assert!(reply.text.is_empty());

    // Both tokens of that login stop working at once.
    assert_unauthorized(&app.get(ME, Some(&user.access_token)).await);
    assert_unauthorized(&refresh(&app, &user.refresh_token).await);

    // The other login goes on.
    assert_login_lives(&app, &other).await;

    // Logging in again works.
    login(&app, &user.email, &user.password)
        .await
        .assert_status(200);

    // Unknown tokens are refused.
    assert_unauthorized(
        &app.post(LOGOUT, None, json!({"refresh_token": "nope"}))
            .await,
    );
    app.post(LOGOUT, None, json!({}))
        .await
        .assert_problem(422, "validation-failed");
}

async fn logout_with_a_spent_refresh_token_ends_the_login(app: TestApp) {
    let user = app.register("spent").await;
    let rotated = refresh(&app, &user.refresh_token).await;
    rotated.assert_status(200);
    let (access2, refresh2) = tokens_of(&rotated);
    logout(&app, &user.refresh_token).await.assert_status(204);
    assert_unauthorized(&app.get(ME, Some(&access2)).await);
    assert_unauthorized(&refresh(&app, &refresh2).await);
}

on_both_backends!(
    logout_ends_that_login_only,
    logout_with_a_spent_refresh_token_ends_the_login,
);
