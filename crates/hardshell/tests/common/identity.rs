//! Identity helpers for the integration tests: users created through the
//! CLI, sign-in by cookie or bearer, and request builders.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use super::{Env, Server, client};

/// Each test user's password is derived from the name.
pub fn password_of(name: &str) -> String {
    format!("{name}-violet-harbour-42")
}

pub fn pf(env: &Env) -> String {
    env.passphrase_file.to_str().unwrap().to_string()
}

/// `hardshell users add NAME --role ROLE --password-stdin`.
pub fn add_user(env: &Env, name: &str, role: &str) {
    let p = pf(env);
    env.ok(
        &[
            "users",
            "add",
            name,
            "--role",
            role,
            "--password-stdin",
            "--passphrase-file",
            &p,
        ],
        Some(&format!("{}\n", password_of(name))),
    );
}

/// An initialised installation with the named users, and its server.
pub fn installation(users: &[(&str, &str)]) -> (Env, Server) {
    let env = Env::new();
    env.init_with_passphrase();
    for (name, role) in users {
        add_user(&env, name, role);
    }
    let server = start(&env);
    (env, server)
}

pub fn start(env: &Env) -> Server {
    let p = pf(env);
    env.start(&["--passphrase-file", &p])
}

/// A browser-style session: the cookie and its CSRF token.
#[derive(Clone, Debug)]
pub struct CookieSession {
    pub cookie: String,
    pub csrf: String,
    pub origin: String,
    pub body: Value,
}

impl CookieSession {
    /// A request with the cookie, and on writes the CSRF header and Origin.
    pub fn req(&self, server: &Server, method: Method, path: &str) -> RequestBuilder {
        let write = method != Method::GET;
        let mut r = client()
            .request(method, server.url(path))
            .header("cookie", format!("hs_session={}", self.cookie));
        if write {
            r = r
                .header("x-csrf-token", &self.csrf)
                .header("origin", &self.origin);
        }
        r
    }
}

pub async fn login(server: &Server, name: &str) -> CookieSession {
    let resp = client()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"username": name, "password": password_of(name)}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "login {name}");
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    let cookie = set_cookie
        .strip_prefix("hs_session=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let body: Value = resp.json().await.unwrap();
    CookieSession {
        cookie,
        csrf: body["csrf_token"].as_str().unwrap().to_string(),
        origin: server.base.clone(),
        body,
    }
}

/// `POST /auth/token` with `grant_type=password`: (access, refresh).
pub async fn tokens(server: &Server, name: &str) -> (String, String) {
    let v = token_grant(
        server,
        json!({"grant_type": "password", "username": name, "password": password_of(name)}),
    )
    .await
    .1;
    (
        v["access_token"].as_str().unwrap().to_string(),
        v["refresh_token"].as_str().unwrap().to_string(),
    )
}

pub async fn token_grant(server: &Server, body: Value) -> (StatusCode, Value) {
    let resp = client()
        .post(server.url("/api/v1/auth/token"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub fn bearer(server: &Server, token: &str, method: Method, path: &str) -> RequestBuilder {
    client()
        .request(method, server.url(path))
        .bearer_auth(token)
}

/// Creates an agent key as `admin_token`; returns (id, lb- token).
pub async fn agent_key(server: &Server, admin_token: &str, body: Value) -> (String, String) {
    let resp = bearer(server, admin_token, Method::POST, "/api/v1/keys")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let v: Value = resp.json().await.unwrap();
    (
        v["key"]["id"].as_str().unwrap().to_string(),
        v["token"].as_str().unwrap().to_string(),
    )
}

/// The decrypted database as one connection (key from the vault).
pub fn db(env: &Env) -> rusqlite::Connection {
    let p = pf(env);
    let key = env.ok(
        &[
            "vault",
            "get",
            "hardshell.db_key",
            "--reveal",
            "--passphrase-file",
            &p,
        ],
        None,
    );
    let conn = rusqlite::Connection::open(env.data.join("hardshell.db")).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.trim()))
        .unwrap();
    conn
}

/// Every audit entry's (action, actor_kind, actor_id, target, outcome).
pub fn audit_rows(env: &Env) -> Vec<(String, String, String, String, String)> {
    let conn = db(env);
    let mut stmt = conn
        .prepare("SELECT action, actor_kind, actor_id, target, outcome FROM audit_log ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}
