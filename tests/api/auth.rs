use crate::helpers::TestApp;
use crate::on_both_backends;

async fn register_then_read_me(app: TestApp) {
    let user = app.register("ada").await;
    let me = app.get("/api/v1/users/me", Some(&user.access_token)).await;
    me.assert_status(200);
    assert_eq!(me.json()["email"], user.email);
}

on_both_backends!(register_then_read_me);
