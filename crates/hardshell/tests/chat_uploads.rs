//! Uploads (issue 6): the type allowlist from magic bytes, the size cap,
//! safe names, encryption at rest, download access and headers, and the
//! upload key for installations made before uploads existed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::identity::{self, agent_key, bearer, db, installation, login, tokens};
use common::{Env, Server, client, walk};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const BOUNDARY: &str = "hs-test-boundary-5f1c2a9e";

/// A multipart body with one part; `filename` goes into the header as is.
fn form(field: &str, filename: &str, content: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

async fn post_raw(
    server: &Server,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let resp = bearer(server, token, Method::POST, "/api/v1/uploads")
        .header("content-type", content_type)
        // 20 MiB through a debug build's AES-GCM, twice (seal, then read
        // back to type it), took over 30 s on a loaded 2-core machine.
        .timeout(std::time::Duration::from_secs(180))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn upload(server: &Server, token: &str, name: &str, content: &[u8]) -> (StatusCode, Value) {
    post_raw(
        server,
        token,
        &multipart_type(),
        form("file", name, content),
    )
    .await
}

async fn get(server: &Server, token: &str, id: &str) -> reqwest::Response {
    bearer(server, token, Method::GET, &format!("/api/v1/uploads/{id}"))
        .send()
        .await
        .unwrap()
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

/// A small valid PNG (1x1).
fn png() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        v.extend((data.len() as u32).to_be_bytes());
        v.extend(kind);
        v.extend(data);
        v.extend([0, 0, 0, 0]);
    };
    chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
    chunk(b"IDAT", &[0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1]);
    chunk(b"IEND", &[]);
    v
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
        .to_vec()
}

fn uploads_dir(env: &Env) -> PathBuf {
    env.data.join("uploads")
}

fn upload_files(env: &Env) -> Vec<PathBuf> {
    let dir = uploads_dir(env);
    if !dir.exists() {
        return Vec::new();
    }
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

fn upload_rows(env: &Env) -> i64 {
    db(env)
        .query_row("SELECT count(*) FROM uploads", [], |r| r.get(0))
        .unwrap()
}

fn is_hex_address(p: &Path) -> bool {
    let n = p.file_name().unwrap().to_str().unwrap();
    n.len() == 64
        && n.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn assert_refused(status: StatusCode, body: &Value, code: &str, what: &str) {
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    let want = match code {
        "unsupported_type" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "bad_request" => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    };
    assert_eq!(status, want, "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_type_comes_from_the_bytes_and_only_allowlisted_types_pass() {
    let (env, server) = installation(&[("ann", "member"), ("gus", "guest")]);
    let (ann, _) = tokens(&server, "ann").await;

    let refused: [(&str, &[u8]); 7] = [
        (
            "cat.png",
            b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        ),
        ("notes.txt", b"  <html><body onload=alert(1)>"),
        (
            "logo.svg",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
        ),
        (
            "logo.png",
            b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        ),
        (
            "tool.txt",
            b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00",
        ),
        (
            "a.csv",
            b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        ),
        ("bin.txt", b"text with a \0 NUL"),
    ];
    for (name, bytes) in refused {
        let (status, body) = upload(&server, &ann, name, bytes).await;
        assert_refused(status, &body, "unsupported_type", name);
    }
    // A PNG with a ZIP appended (a polyglot) is refused too.
    let mut polyglot = png();
    polyglot.extend(b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    let (status, body) = upload(&server, &ann, "p.png", &polyglot).await;
    assert_refused(status, &body, "unsupported_type", "png+zip");
    assert!(
        upload_files(&env).is_empty(),
        "a refused upload wrote a file"
    );

    // A PNG named .txt is still a PNG, shown inline.
    let (status, up) = upload(&server, &ann, "cat.txt", &png()).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    assert_eq!(up["mime"], "image/png");
    assert_eq!(up["inline"], true);
    assert_eq!(up["name"], "cat.txt");
    assert_eq!(up["size"], png().len());
    let id = up["id"].as_str().unwrap();
    assert!(
        id.len() >= 22
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(up["url"], format!("/api/v1/uploads/{id}"));
    let resp = get(&server, &ann, id).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), "image/png");
    assert!(header(&resp, "content-disposition").starts_with("inline; filename=\"cat.txt\""));
    assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
    assert_eq!(header(&resp, "content-security-policy"), "sandbox");
    assert_eq!(header(&resp, "cache-control"), "private, no-store");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), png().as_slice());

    // Text is text/plain and downloads as an attachment; JSON and CSV need
    // the extension and content that fits.
    for (name, bytes, mime) in [
        ("notes.png", &b"just some notes\n"[..], "text/plain"),
        ("data.json", b"{\"a\": [1, 2]}", "application/json"),
        ("bad.json", b"{\"a\": ", "text/plain"),
        ("t.csv", b"a,b\n1,2\n", "text/csv"),
        ("r.md", b"# Title\n", "text/markdown"),
    ] {
        let (status, up) = upload(&server, &ann, name, bytes).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {up}");
        assert_eq!(up["mime"], mime, "{name}");
        assert_eq!(up["inline"], false, "{name}");
        let resp = get(&server, &ann, up["id"].as_str().unwrap()).await;
        assert!(
            header(&resp, "content-disposition").starts_with("attachment;"),
            "{name}"
        );
        assert!(header(&resp, "content-type").starts_with(mime), "{name}");
        assert_eq!(header(&resp, "content-security-policy"), "sandbox");
        assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes);
    }

    // A PDF is never inline.
    let (status, up) = upload(&server, &ann, "doc.pdf", &pdf()).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    assert_eq!(up["mime"], "application/pdf");
    let resp = get(&server, &ann, up["id"].as_str().unwrap()).await;
    assert_eq!(header(&resp, "content-type"), "application/pdf");
    assert_eq!(
        header(&resp, "content-disposition"),
        "attachment; filename=\"doc.pdf\"; filename*=UTF-8''doc.pdf"
    );
    assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
    // A PDF that runs script is refused.
    let mut js = pdf();
    js.extend(b"2 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj\n");
    let (status, body) = upload(&server, &ann, "js.pdf", &js).await;
    assert_refused(status, &body, "unsupported_type", "pdf with js");

    // Malformed forms are 400 JSON and write nothing.
    let before = upload_files(&env).len();
    let (status, body) = post_raw(&server, &ann, &multipart_type(), b"garbage".to_vec()).await;
    assert_refused(status, &body, "bad_request", "garbage");
    let (status, body) = post_raw(&server, &ann, "application/json", b"{}".to_vec()).await;
    assert_refused(status, &body, "bad_request", "not multipart");
    let (status, body) = post_raw(
        &server,
        &ann,
        &multipart_type(),
        form("other", "a.txt", b"x"),
    )
    .await;
    assert_refused(status, &body, "bad_request", "wrong field");
    let mut two = form("file", "a.txt", b"x");
    two.truncate(two.len() - format!("--{BOUNDARY}--\r\n").len());
    two.extend(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.txt\"\r\n\r\ny\r\n--{BOUNDARY}--\r\n").as_bytes());
    let (status, body) = post_raw(&server, &ann, &multipart_type(), two).await;
    assert_refused(status, &body, "bad_request", "two fields");
    let (status, body) = upload(&server, &ann, "empty.txt", b"").await;
    assert_refused(status, &body, "bad_request", "empty");
    assert_eq!(upload_files(&env).len(), before);

    // Guests never upload; a cookie upload needs its CSRF token.
    let (gus, _) = tokens(&server, "gus").await;
    let (status, body) = upload(&server, &gus, "a.txt", b"hello").await;
    assert_refused(status, &body, "forbidden", "guest");
    let session = login(&server, "ann").await;
    let resp = client()
        .post(server.url("/api/v1/uploads"))
        .header("cookie", format!("hs_session={}", session.cookie))
        .header("origin", &session.origin)
        .header("content-type", multipart_type())
        .body(form("file", "a.txt", b"hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = session
        .req(&server, Method::POST, "/api/v1/uploads")
        .header("content-type", multipart_type())
        .body(form("file", "a.txt", b"hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);

    // Every stored upload is audited with its size and type; every refused
    // type too.
    let rows = identity::audit_rows(&env);
    let uploads: Vec<_> = rows
        .iter()
        .filter(|r| r.0 == "chat.upload" && r.4 == "success")
        .collect();
    assert_eq!(uploads.len(), 8, "{rows:?}");
    let denied = rows
        .iter()
        .filter(|r| r.0 == "chat.upload" && r.4 == "denied")
        .count();
    assert_eq!(denied, 9, "{rows:?}");
    assert!(
        uploads
            .iter()
            .all(|r| r.1 == "user" && r.3.starts_with("upload:"))
    );
    let details: String = db(&env)
        .query_row(
            "SELECT details FROM audit_log WHERE action = 'chat.upload' AND outcome = 'success' ORDER BY seq LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let details: Value = serde_json::from_str(&details).unwrap();
    assert_eq!(details["mime"], "image/png");
    assert_eq!(details["size"], png().len());
}

/// Sends `total` bytes of multipart preamble with chunked encoding over a
/// raw socket and returns the response status.
async fn chunked_garbage(server: &Server, token: &str, total: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/uploads HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        multipart_type()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'a'; 1024 * 1024];
    let mut sent = 0;
    while sent < total {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        // The server may answer and close before everything is sent.
        if sock.write_all(&frame).await.is_err() {
            break;
        }
        sent += chunk.len();
    }
    let _ = sock.write_all(b"0\r\n\r\n").await;
    let mut resp = Vec::new();
    let _ = sock.read_to_end(&mut resp).await;
    let text = String::from_utf8_lossy(&resp);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_uploads_are_refused_and_leave_nothing_behind() {
    let (env, server) = installation(&[("ann", "member")]);
    let (ann, _) = tokens(&server, "ann").await;
    let cap = 20 * 1024 * 1024;
    // Declared too large: refused before the body is read.
    let (status, body) = upload(&server, &ann, "big.txt", &vec![b'a'; 21_000_000]).await;
    assert_refused(status, &body, "payload_too_large", "21 MB");
    // One byte over the cap, within the multipart allowance: refused while
    // streaming.
    let (status, body) = upload(&server, &ann, "big.txt", &vec![b'a'; cap + 1]).await;
    assert_refused(status, &body, "payload_too_large", "cap + 1");
    // No Content-Length at all (chunked): the whole body is still capped
    // as it streams, here by a preamble that never reaches a part.
    assert_eq!(
        chunked_garbage(&server, &ann, cap + 2 * 1024 * 1024).await,
        413
    );
    assert!(upload_files(&env).is_empty());
    assert_eq!(upload_rows(&env), 0);
    let denied = identity::audit_rows(&env)
        .into_iter()
        .filter(|r| r.0 == "chat.upload" && r.4 == "denied")
        .count();
    assert_eq!(denied, 3);
    // Exactly the cap is fine, far above the JSON body limit.
    let (status, up) = upload(&server, &ann, "max.txt", &vec![b'a'; cap]).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    assert_eq!(up["size"], cap);
    assert_eq!(upload_rows(&env), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_only_names_and_files_are_encrypted_at_rest() {
    let (env, server) = installation(&[("ann", "member")]);
    let (ann, _) = tokens(&server, "ann").await;
    let before: Vec<PathBuf> = walk(&env.data);

    let marker = b"TOP-SECRET-MARKER the merger closes on friday\n";
    let (status, up) = upload(&server, &ann, "../../etc/passwd", marker).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    assert_eq!(up["name"], "passwd");
    let (status, up2) = upload(&server, &ann, "..\\..\\evil\u{202E}gnp.txt", b"second\n").await;
    assert_eq!(status, StatusCode::CREATED, "{up2}");
    assert_eq!(up2["name"], "evilgnp.txt");
    // C1 controls and tabs reach the sanitiser (the part-header parser
    // passes them); a NUL never gets that far.
    let (status, up3) = upload(&server, &ann, "a\u{90}b\t\tc\u{200B}.txt", b"third\n").await;
    assert_eq!(status, StatusCode::CREATED, "{up3}");
    assert_eq!(up3["name"], "ab c.txt");
    let (status, body) = upload(&server, &ann, "a\0b.txt", b"fourth\n").await;
    assert_refused(status, &body, "bad_request", "NUL in the part header");
    assert!(!env.tmp.path().join("etc/passwd").exists());

    // The only new files are hex-named, private, under uploads/.
    let (new, other): (Vec<PathBuf>, Vec<PathBuf>) = walk(&env.data)
        .into_iter()
        .filter(|p| !before.contains(p) && p.is_file())
        .partition(|p| p.starts_with(uploads_dir(&env)));
    // Outside uploads/, only the database and audit files may appear.
    for p in &other {
        let n = p.file_name().unwrap().to_string_lossy();
        assert!(
            n.starts_with("hardshell.db") || n.starts_with("audit."),
            "{p:?}"
        );
    }
    assert!(
        walk(env.tmp.path())
            .iter()
            .all(|p| !p.ends_with("passwd") && !p.to_string_lossy().contains("gnp"))
    );
    assert!(new.len() >= 2, "{new:?}");
    for p in &new {
        assert_eq!(p.parent().unwrap(), uploads_dir(&env), "{p:?}");
        assert!(is_hex_address(p), "{p:?}");
        assert_eq!(common::mode(p), 0o600);
    }
    assert_eq!(common::mode(&uploads_dir(&env)), 0o700);

    // Encrypted at rest; the download returns the exact bytes.
    for p in &new {
        let raw = std::fs::read(p).unwrap();
        assert!(
            !raw.windows(10).any(|w| w == &marker[..10]),
            "plaintext on disk"
        );
    }
    let id = up["id"].as_str().unwrap();
    let resp = get(&server, &ann, id).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(header(&resp, "content-disposition").starts_with("attachment; filename=\"passwd\""));
    assert_eq!(resp.bytes().await.unwrap().as_ref(), marker);

    // Identical content is stored once.
    let files = upload_files(&env).len();
    let (status, again) = upload(&server, &ann, "copy.txt", marker).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(again["id"], up["id"]);
    assert_eq!(upload_files(&env).len(), files);

    // A tampered file is a 500 JSON that names no path, never other bytes.
    let file_name: String = db(&env)
        .query_row(
            "SELECT file_name FROM uploads WHERE public_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    let path = uploads_dir(&env).join(&file_name);
    let mut raw = std::fs::read(&path).unwrap();
    let mid = raw.len() / 2;
    raw[mid] ^= 0x40;
    std::fs::write(&path, raw).unwrap();
    let resp = get(&server, &ann, id).await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = resp.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "internal");
    assert!(
        !text.contains("uploads") && !text.contains(&file_name) && !text.contains('/'),
        "{text}"
    );
    // Swapping in another upload's file is caught the same way.
    let other = uploads_dir(&env).join(
        db(&env)
            .query_row(
                "SELECT file_name FROM uploads WHERE public_id = ?1",
                [up2["id"].as_str().unwrap()],
                |r| r.get::<_, String>(0),
            )
            .unwrap(),
    );
    std::fs::copy(&other, &path).unwrap();
    assert_eq!(
        get(&server, &ann, id).await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let (ok, stderr) = server.stop();
    assert!(ok);
    assert!(stderr.contains("cannot serve an upload file"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_follow_the_uploader_and_conversation_membership() {
    let (_env, server) = installation(&[
        ("olga", "owner"),
        ("ann", "member"),
        ("bob", "member"),
        ("gus", "guest"),
    ]);
    let (ann, _) = tokens(&server, "ann").await;
    let (bob, _) = tokens(&server, "bob").await;
    let (gus, _) = tokens(&server, "gus").await;
    let (olga, _) = tokens(&server, "olga").await;
    let (_, up) = upload(&server, &ann, "a.txt", b"ann's notes").await;
    let id = up["id"].as_str().unwrap();
    assert_eq!(get(&server, &ann, id).await.status(), StatusCode::OK);
    for (who, token) in [("bob", &bob), ("gus", &gus), ("olga", &olga)] {
        let resp = get(&server, token, id).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{who}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
    }
    // Unknown and malformed ids look the same; no credential is 401.
    for bad in ["AAAAAAAAAAAAAAAAAAAAAAAA", "..%2F..%2Fhardshell.db", "x"] {
        assert_eq!(
            get(&server, &ann, bad).await.status(),
            StatusCode::NOT_FOUND,
            "{bad}"
        );
    }
    let resp = client()
        .get(server.url(&format!("/api/v1/uploads/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // An agent key uploads and reads its own upload; its creator does not
    // get it for free, nor does the key read the creator's uploads.
    let (_, key) = agent_key(
        &server,
        &olga,
        json!({"name": "bot", "permissions": ["messages:read", "messages:write"]}),
    )
    .await;
    let (status, kup) = upload(&server, &key, "k.txt", b"from the key").await;
    assert_eq!(status, StatusCode::CREATED, "{kup}");
    let kid = kup["id"].as_str().unwrap();
    assert_eq!(get(&server, &key, kid).await.status(), StatusCode::OK);
    assert_eq!(
        get(&server, &olga, kid).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&server, &key, id).await.status(), StatusCode::NOT_FOUND);
    // A read-only key cannot upload.
    let (_, ro) = agent_key(
        &server,
        &olga,
        json!({"name": "ro", "permissions": ["messages:read"]}),
    )
    .await;
    let (status, body) = upload(&server, &ro, "k.txt", b"x").await;
    assert_refused(status, &body, "forbidden", "read-only key");

    // Shared in a group with bob: bob (a member) reads it; the owner and
    // the guest, who are not members, still get 404.
    let resp = bearer(&server, &ann, Method::POST, "/api/v1/conversations")
        .json(&json!({"kind": "group", "title": "Team", "members": ["bob"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let conv: Value = resp.json().await.unwrap();
    let messages = format!("/api/v1/conversations/{}/messages", conv["id"]);
    let resp = bearer(&server, &ann, Method::POST, &messages)
        .json(&json!({"text": "see attached", "attachments": [id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let msg: Value = resp.json().await.unwrap();
    // The message carries the same Upload object the upload returned.
    assert_eq!(msg["attachments"], json!([up]));
    let resp = get(&server, &bob, id).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"ann's notes");
    for (who, token) in [("gus", &gus), ("olga", &olga)] {
        assert_eq!(
            get(&server, token, id).await.status(),
            StatusCode::NOT_FOUND,
            "{who}"
        );
    }
    // Once the message is gone, so is bob's access; ann keeps hers.
    let resp = bearer(
        &server,
        &ann,
        Method::DELETE,
        &format!("{messages}/{}", msg["id"]),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(get(&server, &bob, id).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(get(&server, &ann, id).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_from_before_uploads_gets_an_upload_key_that_persists() {
    let env = Env::new();
    env.init_with_passphrase();
    identity::add_user(&env, "ann", "member");
    let dd = hardshell::config::DataDir::at(&env.data);
    let pass = secrecy::SecretString::from(common::PASSPHRASE);
    {
        let mut v = vault::Vault::open(&dd.vault_path(), &pass).unwrap();
        assert!(
            v.get("hardshell.upload_key").is_some(),
            "init creates the key"
        );
        assert!(v.remove("hardshell.upload_key").unwrap());
    }
    let server = identity::start(&env);
    let (ann, _) = tokens(&server, "ann").await;
    let (status, up) = upload(&server, &ann, "a.txt", b"kept across restarts").await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let (ok, _) = server.stop();
    assert!(ok);
    let key = vault::Vault::open(&dd.vault_path(), &pass)
        .unwrap()
        .get("hardshell.upload_key")
        .map(|k| secrecy::ExposeSecret::expose_secret(k).len());
    assert_eq!(key, Some(64));
    // The key was saved: after a restart the file still decrypts.
    let server = identity::start(&env);
    let (ann, _) = tokens(&server, "ann").await;
    let resp = get(&server, &ann, up["id"].as_str().unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        b"kept across restarts"
    );
    // `vault rm` refuses the reserved name.
    drop(server);
    let out = env.run(
        &[
            "vault",
            "rm",
            "hardshell.upload_key",
            "--passphrase-file",
            &identity::pf(&env),
        ],
        None,
    );
    assert!(!out.status.success());
}
