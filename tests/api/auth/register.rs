//! Authentication: register.
use super::*;

async fn register_creates_the_account_and_logs_it_in(app: TestApp) {
    let raw_email = format!("  Ada.Lovelace-{}@Example.COM ", Uuid::now_v7().simple());
    let reply = register_with(
        &app,
        json!({"email": raw_email, "password": PASSWORD, "display_name": "Ada"}),
    )
    .await;
    reply.assert_status(201);
    assert_eq!(reply.header("location"), Some("/api/v1/users/me"));
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    assert_no_secrets(&reply, PASSWORD);
    let body = reply.json();
    assert_token_pair(&body);
    let user = &body["user"];
    assert_eq!(
        user["email"],
        raw_email.trim().to_lowercase(),
        "stored trimmed and lower-cased"
    );
    assert_eq!(user["display_name"], "Ada");
    assert_eq!(user["preferences"], json!({}));

    // The access token is what the contract says it is.
    let token = body["access_token"].as_str().unwrap();
    let header = decode_segment(token.split('.').next().unwrap());
    assert_eq!(header["alg"], "HS256");
    let claims = claims_of(token);
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["typ"], "access");
    assert_eq!(claims["iss"], "lorebase");
    assert_eq!(claims["aud"], "lorebase-api");
    assert!(
        claims["jti"]
            .as_str()
            .is_some_and(|j| j.parse::<Uuid>().is_ok())
    );
    assert!(
        claims["sid"]
            .as_str()
            .is_some_and(|s| s.parse::<Uuid>().is_ok())
    );
    assert!(claims["ver"].is_i64());
    let (iat, nbf, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["nbf"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(nbf <= now() + 1 && iat <= now() + 1);
    assert_eq!(exp - iat, body["expires_in"].as_i64().unwrap());
    assert!(exp - iat <= 15 * 60);

    // The refresh token is opaque: 256 random bits, base64url, not a JWT.
    let refresh_token = body["refresh_token"].as_str().unwrap();
    assert!(!refresh_token.contains('.'));
    assert!(
        URL_SAFE_NO_PAD
            .decode(refresh_token)
            .is_ok_and(|b| b.len() >= 32)
    );

    // Location names the new user.
    let me = app.get(ME, Some(token)).await;
    me.assert_status(200);
    assert_eq!(me.json()["id"], user["id"]);
    assert_no_secrets(&me, PASSWORD);

    // Stored: argon2id with the OWASP parameters; the refresh token only as a hash.
    let db = app.db().await;
    let stored = users::Entity::find()
        .filter(users::Column::Email.eq(raw_email.trim().to_lowercase()))
        .one(&db)
        .await
        .unwrap()
        .expect("user row");
    assert!(
        stored
            .password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        stored.password_hash
    );
    let tokens = refresh_tokens::Entity::find().all(&db).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_ne!(tokens[0].token_hash, refresh_token);
    assert!(!tokens[0].token_hash.contains(refresh_token));
}

async fn register_without_display_name_leaves_it_null(app: TestApp) {
    let email = unique_email("anon");
    let reply = register_with(&app, json!({"email": email, "password": PASSWORD})).await;
    reply.assert_status(201);
    assert_eq!(reply.json()["user"]["display_name"], Value::Null);
    let reply = register_with(
        &app,
        json!({"email": unique_email("anon"), "password": PASSWORD, "display_name": null}),
    )
    .await;
    reply.assert_status(201);
    assert_eq!(reply.json()["user"]["display_name"], Value::Null);
}

async fn register_with_a_taken_email_is_409(app: TestApp) {
    let user = app.register("taken").await;
    let other_password = strong_password(20, 7);
    let local = user.email.split('@').next().unwrap().to_owned();
    for email in [
        user.email.clone(),
        user.email.to_uppercase(),
        format!("  {}  ", user.email),
        format!("\t{}@EXAMPLE.com\n", local.to_uppercase()),
    ] {
        let reply = register_with(&app, json!({"email": email, "password": other_password})).await;
        reply.assert_problem(409, "conflict");
        assert_no_secrets(&reply, &other_password);
    }
    // The original account is untouched.
    login(&app, &user.email, &user.password)
        .await
        .assert_status(200);
    login(&app, &user.email, &other_password)
        .await
        .assert_problem(401, "invalid-credentials");
}

async fn register_rejects_invalid_input_with_422(app: TestApp) {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            "email",
        ),
        (json!({"email": "a@b", "password": PASSWORD}), "email"),
        (
            json!({"email": "@example.com", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"email": "a b@example.com", "password": PASSWORD}),
            "email",
        ),
        (json!({"email": "", "password": PASSWORD}), "email"),
        (json!({"email": 42, "password": PASSWORD}), "email"),
        (json!({"password": PASSWORD}), "body"),
        (json!({"email": unique_email("x")}), "body"),
        (
            json!({"email": unique_email("x"), "password": PASSWORD, "display_name": ""}),
            "display_name",
        ),
        (
            json!({"email": unique_email("x"), "password": PASSWORD, "display_name": "   "}),
            "display_name",
        ),
        (
            json!({"email": unique_email("x"), "password": PASSWORD, "display_name": "n".repeat(201)}),
            "display_name",
        ),
        (
            json!({"email": unique_email("x"), "password": PASSWORD, "is_admin": true}),
            "body",
        ),
        (
            json!({"email": unique_email("x"), "password": PASSWORD, "token_version": 7}),
            "body",
        ),
    ];
    for (body, field) in cases {
        let reply = app.post(REGISTER, None, body.clone()).await;
        let problem = reply.assert_problem(422, "validation-failed");
        let errors = problem["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors for {body}"));
        assert!(!errors.is_empty(), "{body}");
        if field != "body" {
            assert!(
                errors
                    .iter()
                    .any(|e| e["field"] == field
                        && e["message"].as_str().is_some_and(|m| !m.is_empty())),
                "{body}: expected an error on {field}: {problem}"
            );
        }
    }
    // Every invalid field is reported at once.
    let reply = register_with(
        &app,
        json!({"email": "nope", "password": "short", "display_name": ""}),
    )
    .await;
    let problem = reply.assert_problem(422, "validation-failed");
    let mut fields = error_fields(&problem);
    fields.sort_unstable();
    assert_eq!(fields, ["display_name", "email", "password"]);

    // Not JSON at all: 400 / 415, still problem+json.
    let malformed = app
        .send_with(
            Method::POST,
            REGISTER,
            None,
            None,
            &[("content-type", "application/json")],
        )
        .await;
    malformed.assert_problem(400, "bad-request");
    let reply = app
        .client
        .post(app.url(REGISTER))
        .header("content-type", "text/plain")
        .body("email=a@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 415);

    // None of these created an account.
    let db = app.db().await;
    assert!(users::Entity::find().all(&db).await.unwrap().is_empty());
}

async fn password_length_is_12_to_256_characters_never_truncated(app: TestApp) {
    let register = |password: String| {
        let app = &app;
        async move {
            let email = unique_email("len");
            let reply = register_with(app, json!({"email": email, "password": password})).await;
            (email, reply)
        }
    };

    // 11 characters: too short, also when they are 22 bytes.
    for short in [strong_password(11, 1), "ßñøæ€ŧ¶ŋđħĸ".to_owned()] {
        assert_eq!(short.chars().count(), 11);
        let (_, reply) = register(short).await;
        assert_password_refused(&reply, "12");
    }

    // 12 characters: accepted.
    let twelve = strong_password(12, 2);
    let (email, reply) = register(twelve.clone()).await;
    reply.assert_status(201);
    assert_no_secrets(&reply, &twelve);
    login(&app, &email, &twelve).await.assert_status(200);

    // 256 characters: accepted, and every character counts.
    let long = strong_password(256, 3);
    let (email, reply) = register(long.clone()).await;
    reply.assert_status(201);
    assert_no_secrets(&reply, &long);
    login(&app, &email, &long).await.assert_status(200);
    let truncated: String = long.chars().take(255).collect();
    login(&app, &email, &truncated)
        .await
        .assert_problem(401, "invalid-credentials");
    let mut extended = long.clone();
    extended.push('x');
    login(&app, &email, &extended)
        .await
        .assert_problem(401, "invalid-credentials");
    let mut last_changed: String = long.chars().take(255).collect();
    last_changed.push(if long.ends_with('A') { 'B' } else { 'A' });
    login(&app, &email, &last_changed)
        .await
        .assert_problem(401, "invalid-credentials");

    // 257 characters: too long.
    let (_, reply) = register(strong_password(257, 4)).await;
    assert_password_refused(&reply, "256");

    // Never trimmed or case-folded.
    let padded = format!("  {}  ", strong_password(14, 5));
    let (email, reply) = register(padded.clone()).await;
    reply.assert_status(201);
    login(&app, &email, padded.trim())
        .await
        .assert_problem(401, "invalid-credentials");
    login(&app, &email, &padded.to_uppercase())
        .await
        .assert_problem(401, "invalid-credentials");
    login(&app, &email, &padded).await.assert_status(200);
}

async fn common_passwords_are_rejected_with_a_reason(app: TestApp) {
    for common in [
        "password1234",
        "passwordpassword",
        "qwertyuiopasdf",
        "123456789012",
        "iloveyou1234",
    ] {
        let reply = register_with(
            &app,
            json!({"email": unique_email("common"), "password": common}),
        )
        .await;
        let problem = reply.assert_problem(422, "validation-failed");
        let error = &problem["errors"][0];
        assert_eq!(error["field"], "password", "{common}: {problem}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("common") || message.contains("guess"),
            "{common}: {message}"
        );
        assert_no_secrets(&reply, common);
    }
}

on_both_backends!(
    register_creates_the_account_and_logs_it_in,
    register_without_display_name_leaves_it_null,
    register_with_a_taken_email_is_409,
    register_rejects_invalid_input_with_422,
    password_length_is_12_to_256_characters_never_truncated,
    common_passwords_are_rejected_with_a_reason,
);

/// A 422 on the password whose message names `bound`.
#[track_caller]
fn assert_password_refused(reply: &Reply, bound: &str) {
    let problem = reply.assert_problem(422, "validation-failed");
    assert_eq!(problem["errors"][0]["field"], "password");
    let message = problem["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(bound), "{problem}");
}
