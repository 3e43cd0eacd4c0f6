//! Uploads stream to disk (issue 17): the body is encrypted into a
//! temporary file as it arrives, which is removed on a refusal or when the
//! client goes away, and renamed into place only when accepted; large
//! files round-trip byte-exact; files in the old one-shot format still
//! download.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use common::identity::{bearer, db, installation, pf, start, tokens};
use common::{Env, Server};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BOUNDARY: &str = "hs-stream-boundary-91d0";
const CAP: usize = 20 * 1024 * 1024;

fn head(filename: &str) -> Vec<u8> {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes()
}

fn tail() -> Vec<u8> {
    format!("\r\n--{BOUNDARY}--\r\n").into_bytes()
}

fn form(filename: &str, content: &[u8]) -> Vec<u8> {
    [head(filename), content.to_vec(), tail()].concat()
}

async fn upload(server: &Server, token: &str, name: &str, content: &[u8]) -> (StatusCode, Value) {
    let resp = bearer(server, token, Method::POST, "/api/v1/uploads")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        // Tens of MiB through a debug build's AES-GCM outlast the shared
        // client's 30 s on a loaded machine.
        .timeout(Duration::from_secs(180))
        .body(form(name, content))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn download(server: &Server, token: &str, id: &str) -> reqwest::Response {
    bearer(server, token, Method::GET, &format!("/api/v1/uploads/{id}"))
        .timeout(Duration::from_secs(180))
        .send()
        .await
        .unwrap()
}

fn entries(env: &Env) -> Vec<String> {
    match std::fs::read_dir(env.data.join("uploads")) {
        Ok(d) => d
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn temp_files(env: &Env) -> Vec<PathBuf> {
    entries(env)
        .into_iter()
        .filter(|n| n.starts_with(".tmp-"))
        .map(|n| env.data.join("uploads").join(n))
        .collect()
}

fn rows(env: &Env) -> i64 {
    db(env)
        .query_row("SELECT count(*) FROM uploads", [], |r| r.get(0))
        .unwrap()
}

/// Waits (up to a generous bound; not a timing assertion) for `done`.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < until, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Varied UTF-8 text (so the type check passes and every byte matters).
fn text(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|i| {
            if i % 80 == 79 {
                return b'\n';
            }
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789.,;"[(x % 50) as usize]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_round_trips_byte_exact_and_is_stored_in_chunks() {
    let (env, server) = installation(&[("ann", "member")]);
    let (ann, _) = tokens(&server, "ann").await;
    // Not a multiple of the 64 KiB chunk, so the last chunk is partial.
    let data = text(CAP - 12_345);
    let (status, up) = upload(&server, &ann, "big.txt", &data).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    assert_eq!(up["size"], data.len());
    assert_eq!(up["mime"], "text/plain");
    let resp = download(&server, &ann, up["id"].as_str().unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-length"].to_str().unwrap(),
        data.len().to_string()
    );
    let back = resp.bytes().await.unwrap();
    assert!(back.as_ref() == data.as_slice(), "the bytes differ");
    // One file, chunked format, nothing temporary left.
    let names = entries(&env);
    assert_eq!(names.len(), 1, "{names:?}");
    let raw = std::fs::read(env.data.join("uploads").join(&names[0])).unwrap();
    assert!(raw.starts_with(b"HSU2"));
    let chunks = data.len().div_ceil(64 * 1024);
    assert_eq!(raw.len(), 4 + 32 + data.len() + 16 * chunks);
    assert_eq!(rows(&env), 1);
}

/// Sends the head of an upload declaring `declared` bytes of file and then
/// `sent` of them over a raw socket; returns the socket, still open.
async fn start_raw_upload(
    server: &Server,
    token: &str,
    declared: usize,
    sent: usize,
) -> tokio::net::TcpStream {
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (h, t) = (head("cut.txt"), tail());
    let req = format!(
        "POST /api/v1/uploads HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        h.len() + declared + t.len()
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    sock.write_all(&h).await.unwrap();
    sock.write_all(&text(sent)).await.unwrap();
    sock.flush().await.unwrap();
    sock
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_mid_body_leaves_no_file_and_no_row() {
    let (env, server) = installation(&[("ann", "member")]);
    let (ann, _) = tokens(&server, "ann").await;
    let sent = 4 * 1024 * 1024;
    let sock = start_raw_upload(&server, &ann, 10 * 1024 * 1024, sent).await;
    // The bytes are on disk, encrypted, while the body is still arriving.
    eventually("the temporary file holds most of what was sent", || {
        temp_files(&env)
            .iter()
            .any(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > (sent / 2) as u64))
    })
    .await;
    let tmp = temp_files(&env);
    assert_eq!(tmp.len(), 1);
    let raw = std::fs::read(&tmp[0]).unwrap();
    assert!(raw.starts_with(b"HSU2"));
    let plain = text(sent);
    assert!(!raw.windows(32).any(|w| w == &plain[..32]));
    drop(sock);
    eventually("the temporary file is removed", || {
        temp_files(&env).is_empty()
    })
    .await;
    assert!(entries(&env).is_empty(), "{:?}", entries(&env));
    assert_eq!(rows(&env), 0);
    // The upload slot was given back: the same person can upload again.
    let (status, up) = upload(&server, &ann, "after.txt", b"still works").await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    assert_eq!(rows(&env), 1);
    // A server killed mid-upload leaves a temporary file; the next start
    // removes it and keeps the stored file.
    let (ok, _) = server.stop();
    assert!(ok);
    let leftover = env.data.join("uploads").join(".tmp-killedmidupload");
    std::fs::write(&leftover, b"HSU2 half an upload").unwrap();
    std::fs::set_permissions(
        &leftover,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let server = start(&env);
    let (ann, _) = tokens(&server, "ann").await;
    assert!(!leftover.exists());
    assert_eq!(entries(&env).len(), 1, "{:?}", entries(&env));
    let resp = download(&server, &ann, up["id"].as_str().unwrap()).await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_after_bytes_reached_disk_leave_nothing_behind() {
    let (env, server) = installation(&[("ann", "member")]);
    let (ann, _) = tokens(&server, "ann").await;
    // Over the cap with no Content-Length: refused while streaming, after
    // several chunks were already encrypted to disk.
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let req = format!(
        "POST /api/v1/uploads HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ann}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let h = head("over.txt");
    sock.write_all(format!("{:x}\r\n", h.len()).as_bytes())
        .await
        .unwrap();
    sock.write_all(&[h.as_slice(), b"\r\n"].concat())
        .await
        .unwrap();
    let piece = text(1024 * 1024);
    for _ in 0..(CAP / piece.len() + 2) {
        let frame = [format!("{:x}\r\n", piece.len()).as_bytes(), &piece, b"\r\n"].concat();
        if sock.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = sock.write_all(b"0\r\n\r\n").await;
    let mut resp = Vec::new();
    let _ = sock.read_to_end(&mut resp).await;
    let resp = String::from_utf8_lossy(&resp);
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    assert!(resp.contains("payload_too_large"), "{resp}");
    // The answer comes after the temporary file is gone.
    assert!(entries(&env).is_empty(), "{:?}", entries(&env));
    assert_eq!(rows(&env), 0);

    // Refused by the whole-file type check, after the bytes were written
    // (their heads pass): text with a binary byte deep inside, and a PNG
    // magic over bytes that are no PNG. Written, typed, thrown away.
    let mut late_nul = text(300_000);
    late_nul[250_000] = 0;
    let mut fake_png = b"\x89PNG\r\n\x1a\n".to_vec();
    fake_png.extend(text(300_000));
    for (name, bytes) in [("notes.txt", late_nul), ("photo.png", fake_png)] {
        let (status, body) = upload(&server, &ann, name, &bytes).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}: {body}");
        assert_eq!(body["error"]["code"], "unsupported_type", "{body}");
        assert!(entries(&env).is_empty(), "{:?}", entries(&env));
        assert_eq!(rows(&env), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_ruled_out_by_its_first_bytes_is_refused_before_the_rest_is_sent() {
    let (env, server) = installation(&[("ann", "member")]);
    let (ann, _) = tokens(&server, "ann").await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let h = head("tool.txt");
    // Declares 10 MiB of file but sends only its first 64 KiB, then waits.
    let req = format!(
        "POST /api/v1/uploads HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ann}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        h.len() + 10 * 1024 * 1024 + tail().len()
    );
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(64 * 1024, 0);
    sock.write_all(&[req.as_bytes(), &h, &elf].concat())
        .await
        .unwrap();
    let mut resp = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(60), sock.read(&mut resp))
        .await
        .expect("the server answers before the body is complete")
        .unwrap();
    let resp = String::from_utf8_lossy(&resp[..n]);
    assert!(resp.starts_with("HTTP/1.1 415"), "{resp}");
    assert!(resp.contains("unsupported_type"), "{resp}");
    assert!(entries(&env).is_empty(), "{:?}", entries(&env));
    assert_eq!(rows(&env), 0);
    let denied = common::identity::audit_rows(&env)
        .into_iter()
        .filter(|r| r.0 == "chat.upload" && r.4 == "denied")
        .count();
    assert_eq!(denied, 1);
}

type HmacSha256 = Hmac<Sha256>;
use sha2::Sha256;

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_stored_in_the_old_one_shot_format_still_download() {
    let (env, server) = installation(&[("ann", "member")]);
    let (ann, _) = tokens(&server, "ann").await;
    // Write an upload the way releases before chunked files did (HSU1:
    // one AES-256-GCM call, random nonce, the address as associated data),
    // from the format as documented, not from the server's code.
    let key = env.ok(
        &[
            "vault",
            "get",
            "hardshell.upload_key",
            "--reveal",
            "--passphrase-file",
            &pf(&env),
        ],
        None,
    );
    let key = hex::decode(key.trim()).unwrap();
    let name_key = hmac(&key, &[b"hardshell upload file name v1"]);
    let enc_key = hmac(&key, &[b"hardshell upload content v1"]);
    let data = text(200_000);
    let address = hex::encode(hmac(&name_key, &[&data]));
    let nonce = [9u8; 12];
    let mut sealed = data.clone();
    Aes256Gcm::new((&enc_key).into())
        .encrypt_in_place(&Nonce::from(nonce), address.as_bytes(), &mut sealed)
        .unwrap();
    let dir = env.data.join("uploads");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(&address),
        [b"HSU1".as_slice(), &nonce, &sealed].concat(),
    )
    .unwrap();
    let conn = db(&env);
    let ann_id: i64 = conn
        .query_row("SELECT id FROM users WHERE username = 'ann'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let public_id = "OldFormatUpload000000001";
    conn.execute(
        "INSERT INTO uploads (public_id, file_name, size, mime, name, uploader_user, uploader_key, created_at) \
         VALUES (?1, ?2, ?3, 'text/plain', 'old.txt', ?4, NULL, 1)",
        rusqlite::params![public_id, address, data.len() as i64, ann_id],
    )
    .unwrap();
    let resp = download(&server, &ann, public_id).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.unwrap().as_ref() == data.as_slice());
    // The same file damaged: refused, never served.
    let mut raw = std::fs::read(dir.join(&address)).unwrap();
    raw[100] ^= 1;
    std::fs::write(dir.join(&address), &raw).unwrap();
    let resp = download(&server, &ann, public_id).await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
