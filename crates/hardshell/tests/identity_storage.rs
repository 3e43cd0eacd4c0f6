//! What the database holds and what the API describes: every issued
//! secret is stored only as `HMAC-SHA256(pepper, secret)` (a scan of the
//! decrypted database finds none of them), passwords only as Argon2id, and
//! the OpenAPI document names a security scheme on every protected route.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::identity::{agent_key, bearer, db, login, password_of, pf, start, token_grant, tokens};
use common::{Env, client};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};

/// Every value in every table, as text (BLOBs also as hex).
fn dump(conn: &rusqlite::Connection) -> (Vec<String>, Vec<Vec<u8>>) {
    let mut texts = Vec::new();
    let mut blobs = Vec::new();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(b) => {
                        texts.push(String::from_utf8_lossy(b).into())
                    }
                    rusqlite::types::ValueRef::Blob(b) => {
                        texts.push(String::from_utf8_lossy(b).into());
                        texts.push(hex::encode(b));
                        blobs.push(b.to_vec());
                    }
                    _ => {}
                }
            }
        }
    }
    (texts, blobs)
}

#[tokio::test]
async fn the_database_holds_no_issued_secret() {
    let env = Env::new();
    env.init_with_passphrase();
    let server = start(&env);
    let setup = server.setup_token().unwrap();
    let r = client()
        .post(server.url("/api/v1/setup"))
        .json(
            &json!({"setup_token": setup, "username": "olivia", "password": password_of("olivia")}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let session = login(&server, "olivia").await;
    let (access, rt1) = tokens(&server, "olivia").await;
    let (_, v) = token_grant(
        &server,
        json!({"grant_type": "refresh_token", "refresh_token": rt1}),
    )
    .await;
    let rt2 = v["refresh_token"].as_str().unwrap().to_string();
    // The refresh ended the first access token; the new one carries on.
    let old_access = access;
    let access = v["access_token"].as_str().unwrap().to_string();
    let me: Value = bearer(&server, &access, Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = me["user"]["id"].as_i64().unwrap();
    let hu: Value = bearer(
        &server,
        &access,
        Method::POST,
        &format!("/api/v1/users/{id}/identity-key"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let hu = hu["token"].as_str().unwrap().to_string();
    let (_, lb) = agent_key(
        &server,
        &access,
        json!({"name": "k", "permissions": ["bookmarks:read"]}),
    )
    .await;
    let (_, v) = token_grant(&server, json!({"grant_type": "agent_key", "key": lb})).await;
    let lb_bearer = v["access_token"].as_str().unwrap().to_string();
    let (clean, _) = server.stop();
    assert!(clean);

    let secrets = [
        setup.clone(),
        session.cookie.clone(),
        session.csrf.clone(),
        old_access.clone(),
        access.clone(),
        rt1.clone(),
        rt2.clone(),
        hu.clone(),
        lb.clone(),
        lb_bearer.clone(),
        password_of("olivia"),
    ];
    let conn = db(&env);
    let (texts, blobs) = dump(&conn);
    assert!(!texts.is_empty());
    for s in &secrets {
        // Neither the whole secret nor its random body appears anywhere.
        let body = s.split_once('-').map_or(s.as_str(), |(_, b)| b);
        assert!(
            texts.iter().all(|t| !t.contains(body)),
            "a secret reached the database"
        );
    }
    // The password is an Argon2id PHC string.
    let phc: String = conn
        .query_row(
            "SELECT password_hash FROM users WHERE username = 'olivia'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(phc.starts_with("$argon2id$"));
    // Each stored credential is exactly HMAC-SHA256(pepper, token): the
    // client's own hash (ClawChives' SHA-256 of the key) is not the credential.
    let pepper_hex = env.ok(
        &[
            "vault",
            "get",
            "hardshell.pepper",
            "--reveal",
            "--passphrase-file",
            &pf(&env),
        ],
        None,
    );
    let pepper = hex::decode(pepper_hex.trim()).unwrap();
    let hmac = |t: &str| {
        let mut m = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&pepper).unwrap();
        m.update(t.as_bytes());
        m.finalize().into_bytes().to_vec()
    };
    for s in [
        &session.cookie,
        &access,
        &rt1,
        &rt2,
        &hu,
        &lb,
        &lb_bearer,
        &session.csrf,
    ] {
        assert!(blobs.contains(&hmac(s)), "the stored form is the HMAC");
    }
}

#[tokio::test]
async fn openapi_names_a_security_scheme_on_every_protected_route() {
    let env = Env::new();
    let server = env.start(&[]);
    let doc = common::openapi(&server).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["cookie"]["in"], "cookie");
    assert_eq!(schemes["cookie"]["name"], "hs_session");
    let public = [
        "/healthz",
        "/api/v1/openapi.json",
        "/api/v1/setup",
        "/api/v1/auth/login",
        "/api/v1/auth/login/key",
        "/api/v1/auth/token",
        // Channel senders are outsiders: the webhook is authenticated by
        // its HMAC signature (tested in tests/channels.rs), not a session.
        "/api/v1/channels/{name}/inbound",
        // Telegram's webhook is authenticated by its secret token header
        // (tested in tests/channels_telegram_webhook.rs).
        "/api/v1/channels/telegram/webhook",
    ];
    let mut protected = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let security = op["security"].as_array();
            if public.contains(&path.as_str()) {
                continue;
            }
            let names: Vec<&str> = security
                .unwrap_or_else(|| panic!("{method} {path} has no security"))
                .iter()
                .flat_map(|req| req.as_object().unwrap().keys().map(String::as_str))
                .collect();
            // Prometheus scrapers send a bearer token; a browser session
            // is refused there on purpose.
            if path == "/metrics" {
                assert_eq!(names, ["bearer"], "{method} {path}");
                protected += 1;
                continue;
            }
            assert!(
                names.contains(&"bearer") && names.contains(&"cookie"),
                "{method} {path}: {names:?}"
            );
            protected += 1;
        }
    }
    assert!(protected >= 14, "{protected}");
}
