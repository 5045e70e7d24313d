//! Authentication: bearer tokens.
use super::*;

async fn requests_without_a_usable_authorization_header_are_401(app: TestApp) {
    let user = app.register("header").await;
    assert_unauthorized(&app.get(ME, None).await);
    for value in [
        format!(
            "Basic {}",
            URL_SAFE_NO_PAD.encode(format!("{}:{}", user.email, user.password))
        ),
        "Bearer".to_owned(),
        "Bearer    ".to_owned(),
        user.access_token.clone(),
        format!("Token {}", user.access_token),
        "Bearer not.a.jwt".to_owned(),
        "Bearer garbage".to_owned(),
    ] {
        let reply = me_with_authorization(&app, value.as_str()).await;
        assert_unauthorized(&reply);
    }
    // The scheme is case-insensitive.
    let reply = me_with_authorization(&app, &format!("bearer {}", user.access_token)).await;
    reply.assert_status(200);
}

async fn forged_access_tokens_are_rejected(app: TestApp) {
    let user = app.register("forged").await;
    let victim = app.register("victim").await;
    let genuine = claims_of(&user.access_token);
    let signed = sign(&genuine);
    let (head, rest) = signed.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();

    // Flip one character of the signature.
    let mut bad_signature: Vec<char> = signature.chars().collect();
    bad_signature[0] = if bad_signature[0] == 'A' { 'B' } else { 'A' };
    let bad_signature: String = bad_signature.into_iter().collect();
    // Swap the payload for another user's claims, keeping the signature.
    let other_payload = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&with(&genuine, json!({"sub": victim.id.to_string()}))).unwrap(),
    );
    let longer_life = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&with(&genuine, json!({"exp": now() + 365 * 24 * 3600}))).unwrap(),
    );

    let cases = vec![
        (
            "tampered signature",
            format!("{head}.{payload}.{bad_signature}"),
        ),
        ("signature removed", format!("{head}.{payload}.")),
        (
            "payload swapped, signature kept",
            format!("{head}.{other_payload}.{signature}"),
        ),
        (
            "lifetime extended, signature kept",
            format!("{head}.{longer_life}.{signature}"),
        ),
        ("alg none, no signature", unsigned(&genuine, "")),
        ("alg none, genuine signature", unsigned(&genuine, signature)),
        (
            "wrong key",
            sign_with(
                Algorithm::HS256,
                b"some-other-secret-that-is-long-enough!!",
                &genuine,
            ),
        ),
        ("empty key", sign_with(Algorithm::HS256, b"", &genuine)),
        (
            "HS384 with the right key",
            sign_with(Algorithm::HS384, JWT_SECRET.as_bytes(), &genuine),
        ),
        (
            "HS512 with the right key",
            sign_with(Algorithm::HS512, JWT_SECRET.as_bytes(), &genuine),
        ),
        ("two segments", format!("{head}.{payload}")),
        ("four segments", format!("{signed}.{signature}")),
    ];
    assert_all_rejected(&app, &genuine, cases).await;
    // And the real tokens still work.
    assert_eq!(me_status(&app, &user.access_token).await, 200);
    assert_eq!(me_status(&app, &victim.access_token).await, 200);
}

async fn expired_and_not_yet_valid_access_tokens_are_rejected(app: TestApp) {
    let user = app.register("clock").await;
    let genuine = claims_of(&user.access_token);
    let t = now();
    let cases = vec![
        (
            "expired a minute ago",
            sign(&with(
                &genuine,
                json!({"iat": t - 960, "nbf": t - 960, "exp": t - 60}),
            )),
        ),
        (
            "expired a day ago",
            sign(&with(
                &genuine,
                json!({"iat": t - 90_000, "nbf": t - 90_000, "exp": t - 86_400}),
            )),
        ),
        (
            "not valid for another minute",
            sign(&with(&genuine, json!({"nbf": t + 60}))),
        ),
        (
            "not valid for a day",
            sign(&with(
                &genuine,
                json!({"iat": t + 86_400, "nbf": t + 86_400, "exp": t + 87_000}),
            )),
        ),
        (
            "exp as a string",
            sign(&with(&genuine, json!({"exp": (t + 600).to_string()}))),
        ),
    ];
    assert_all_rejected(&app, &genuine, cases).await;
}

async fn access_tokens_missing_a_claim_are_rejected(app: TestApp) {
    let user = app.register("claims").await;
    let genuine = claims_of(&user.access_token);
    let cases = [
        "sub", "exp", "iat", "nbf", "iss", "aud", "jti", "typ", "ver", "sid",
    ]
    .into_iter()
    .map(|claim| (claim, sign(&without(&genuine, claim))))
    .collect();
    assert_all_rejected(&app, &genuine, cases).await;
    let nulls = ["sub", "exp", "nbf", "aud", "ver", "sid", "typ"]
        .into_iter()
        .map(|claim| (claim, sign(&with(&genuine, json!({claim: null})))))
        .collect();
    assert_all_rejected(&app, &genuine, nulls).await;
}

async fn access_tokens_for_another_audience_or_issuer_are_rejected(app: TestApp) {
    let user = app.register("aud").await;
    let genuine = claims_of(&user.access_token);
    let cases = vec![
        (
            "wrong aud",
            sign(&with(&genuine, json!({"aud": "some-other-api"}))),
        ),
        ("aud empty", sign(&with(&genuine, json!({"aud": ""})))),
        (
            "aud list without ours",
            sign(&with(&genuine, json!({"aud": ["a", "b"]}))),
        ),
        (
            "wrong iss",
            sign(&with(&genuine, json!({"iss": "https://evil.example"}))),
        ),
        (
            "iss differs in case",
            sign(&with(&genuine, json!({"iss": "Lorebase"}))),
        ),
        ("iss empty", sign(&with(&genuine, json!({"iss": ""})))),
    ];
    assert_all_rejected(&app, &genuine, cases).await;
}

async fn non_access_tokens_are_rejected_as_bearer(app: TestApp) {
    let user = app.register("typ").await;
    let genuine = claims_of(&user.access_token);
    // The refresh token itself.
    assert_unauthorized(&app.get(ME, Some(&user.refresh_token)).await);
    let cases = vec![
        (
            "typ refresh",
            sign(&with(&genuine, json!({"typ": "refresh"}))),
        ),
        ("typ id", sign(&with(&genuine, json!({"typ": "id"})))),
        (
            "typ Access",
            sign(&with(&genuine, json!({"typ": "Access"}))),
        ),
        ("typ empty", sign(&with(&genuine, json!({"typ": ""})))),
        (
            "refresh token as typ",
            sign(&with(&genuine, json!({"typ": user.refresh_token}))),
        ),
    ];
    assert_all_rejected(&app, &genuine, cases).await;
}

async fn access_tokens_must_match_a_live_session_and_token_version(app: TestApp) {
    let user = app.register("session").await;
    let victim = app.register("victim").await;
    let genuine = claims_of(&user.access_token);
    let victim_claims = claims_of(&victim.access_token);
    let ver = genuine["ver"].as_i64().unwrap();
    let cases = vec![
        (
            "next token version",
            sign(&with(&genuine, json!({"ver": ver + 1}))),
        ),
        (
            "previous token version",
            sign(&with(&genuine, json!({"ver": ver - 1}))),
        ),
        (
            "unknown session",
            sign(&with(&genuine, json!({"sid": Uuid::now_v7().to_string()}))),
        ),
        (
            "another user's session",
            sign(&with(&genuine, json!({"sid": victim_claims["sid"]}))),
        ),
        (
            "another user's id on this session",
            sign(&with(&genuine, json!({"sub": victim.id.to_string()}))),
        ),
        (
            "unknown user",
            sign(&with(&genuine, json!({"sub": Uuid::now_v7().to_string()}))),
        ),
        (
            "sub not a uuid",
            sign(&with(&genuine, json!({"sub": "admin"}))),
        ),
    ];
    assert_all_rejected(&app, &genuine, cases).await;
}

/// The public world reads check the session inside their world query, not in a query of
/// their own: every way a token can go stale is still a 401 there, on a public world
/// (where no token at all would be fine), on a private one, and on a world that does not
/// exist (401, not 404: a bad token learns nothing about worlds).
async fn world_reads_refuse_stale_tokens_in_the_same_query(app: TestApp) {
    use crate::helpers::{element_path, elements_path};
    let owner = app.register("reads").await;
    let victim = app.register("reads-victim").await;
    let token = owner.access_token.as_str();
    let public = app
        .post(
            "/api/v1/worlds",
            Some(token),
            json!({"name": "Open", "visibility": "public"}),
        )
        .await
        .json()["id"]
        .as_str()
        .expect("world id")
        .to_owned();
    let private = app.new_world(token, "Closed").await;
    let hero = app.element_id(token, &public, "character", "Hero").await;
    let place = app.element_id(token, &public, "place", "Keep").await;
    let secret = app.element_id(token, &private, "item", "Key").await;
    let relation = id_of(&app.relate(token, &public, &hero, &place, "lives_in").await);
    let missing = Uuid::now_v7().to_string();
    let readable = [
        world_path(&public),
        element_path(&public, &hero),
        elements_path(&public),
        format!("{}?where=%7B%22a%22%3A1%7D&limit=5", elements_path(&public)),
        relation_path(&public, &relation),
        format!("{}/relations", element_path(&public, &hero)),
        world_path(&private),
        element_path(&private, &secret),
        elements_path(&private),
    ];
    let absent = [
        world_path(&missing),
        element_path(&missing, &hero),
        element_path(&public, &missing),
        elements_path(&missing),
        relation_path(&public, &missing),
    ];
    // The genuine token reads everything and gets 404 for what is not there.
    for path in &readable {
        app.get(path, Some(token)).await.assert_status(200);
    }
    for path in &absent {
        app.get(path, Some(token))
            .await
            .assert_problem(404, "not-found");
    }

    let genuine = claims_of(token);
    let victim_claims = claims_of(&victim.access_token);
    let ver = genuine["ver"].as_i64().expect("ver");
    let stale = [
        (
            "next token version",
            with(&genuine, json!({"ver": ver + 1})),
        ),
        (
            "unknown session",
            with(&genuine, json!({"sid": Uuid::now_v7().to_string()})),
        ),
        (
            "another user's session",
            with(&genuine, json!({"sid": victim_claims["sid"]})),
        ),
        (
            "another user's id",
            with(&genuine, json!({"sub": victim.id.to_string()})),
        ),
    ];
    let mut cases: Vec<(&str, String)> = stale.iter().map(|(n, c)| (*n, sign(c))).collect();
    // A second login of the owner, logged out: its own token must stop at once.
    let ended = second_login(&app, &owner).await;
    logout(&app, &ended.refresh_token).await.assert_status(204);
    cases.push(("logged out", ended.access_token.clone()));
    for (name, bad) in &cases {
        for path in readable.iter().chain(absent.iter()) {
            let reply = app.get(path, Some(bad)).await;
            assert_eq!(
                reply.status.as_u16(),
                401,
                "{name}: GET {path} on {:?}: {}",
                app.backend,
                reply.text
            );
            assert_unauthorized(&reply);
        }
    }
    // The owner's own token was untouched by all of that.
    app.get(&element_path(&private, &secret), Some(token))
        .await
        .assert_status(200);
}

on_both_backends!(
    requests_without_a_usable_authorization_header_are_401,
    forged_access_tokens_are_rejected,
    expired_and_not_yet_valid_access_tokens_are_rejected,
    access_tokens_missing_a_claim_are_rejected,
    access_tokens_for_another_audience_or_issuer_are_rejected,
    non_access_tokens_are_rejected_as_bearer,
    access_tokens_must_match_a_live_session_and_token_version,
    world_reads_refuse_stale_tokens_in_the_same_query,
);

/// `GET /users/me` with this `Authorization` header.
async fn me_with_authorization(app: &TestApp, value: &str) -> Reply {
    let header = [("authorization", value)];
    app.send_with(Method::GET, ME, None, None, &header).await
}
