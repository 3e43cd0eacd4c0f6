//! Photos and documents over Telegram: a paired sender's file is fetched
//! (`getFile`, then the download), typed by its bytes like a web upload,
//! stored and attached to the message the agent answers. The download
//! runs in the message's own task, never in the poller: a hanging download
//! holds up nobody else's message, and a `kill -9` while it hangs loses
//! nothing (the restart fetches it and answers once). The attacks: an
//! oversized file (declared, or lying about its size with a bigger body)
//! and an executable or HTML disguised as a photo are refused with nothing
//! stored; an unpaired sender's file is never fetched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::chat::call;
use common::fake_llm::Reply;
use common::gate::eventually;
use common::identity::{audit_rows, db};
use common::tg_world::{Tg, telegram_world};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CAP: u64 = 65_536;
const ME: i64 = 77;

async fn telegram() -> Tg {
    telegram_world("", &format!("max_file_bytes = {CAP}")).await
}

fn plain(m: &Value) -> String {
    m["text"].as_str().unwrap_or_default().replace('\\', "")
}

/// Waits until `n` messages containing `needle` were sent.
async fn sent_with(t: &Tg, needle: &str, n: usize) -> Vec<Value> {
    eventually(needle, || async {
        let s: Vec<Value> =
            t.tg.sent()
                .into_iter()
                .filter(|m| plain(m).contains(needle))
                .collect();
        (s.len() >= n).then_some(s)
    })
    .await
}

async fn pair(t: &Tg, user: i64) {
    let (s, v) = call(
        &t.w.server,
        &t.w.owner,
        Method::POST,
        "/api/v1/channels/pairing/invites",
        Some(json!({"channel": "telegram"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let before =
        t.tg.sent()
            .iter()
            .filter(|m| plain(m).contains("paired"))
            .count();
    t.tg.push_text(
        user,
        "olga",
        &format!("/start {}", v["code"].as_str().unwrap()),
    );
    sent_with(t, "paired", before + 1).await;
}

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

fn uploads(t: &Tg) -> Vec<(String, String, i64)> {
    let conn = db(&t.w.env);
    let mut stmt = conn
        .prepare("SELECT public_id, mime, size FROM uploads ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn denied_uploads(t: &Tg) -> usize {
    audit_rows(&t.w.env)
        .iter()
        .filter(|r| r.0 == "chat.upload" && r.4 == "denied")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paired_senders_photo_is_stored_typed_and_attached() {
    let t = telegram().await;
    pair(&t, ME).await;
    let image = png();
    let n = image.len() as u64;
    t.tg.add_file("mid", image.clone(), Some(n), false);
    t.w.llm.push(Reply::text(["a very small picture"]));
    // Three sizes; the largest is over the cap, so the middle one is taken.
    t.tg.push_photo(
        ME,
        &[
            ("thumb", 90, 90),
            ("mid", n, 320),
            ("full", 5_000_000, 1280),
        ],
        Some("what is this?"),
    );
    sent_with(&t, "a very small picture", 1).await;
    assert_eq!(t.tg.get_file_calls(), ["mid"]);
    let stored = uploads(&t);
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].1.as_str(), stored[0].2), ("image/png", n as i64));
    // The agent saw the caption and the attachment, as with a web upload.
    let prompt = t.w.llm.chat_requests()[0].body.to_string();
    assert!(prompt.contains("what is this?"), "{prompt}");
    assert!(
        prompt.contains("[attachment: photo.png (image/png)]"),
        "{prompt}"
    );
    // It is attached to the sender's message, in a conversation the owner
    // is in, and she can download it.
    let (author, kind): (i64, String) = db(&t.w.env)
        .query_row(
            "SELECT m.author_user_id, m.author_kind FROM message_attachments ma
             JOIN messages m ON m.id = ma.message_id
             JOIN uploads u ON u.id = ma.upload_id WHERE u.public_id = ?1",
            [&stored[0].0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let owner: i64 = db(&t.w.env)
        .query_row("SELECT id FROM users WHERE username = 'olga'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!((author, kind.as_str()), (owner, "user"));
    let resp = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/uploads/{}",
            t.w.server.base, stored[0].0
        ))
        .bearer_auth(&t.w.owner)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().to_vec(), image);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_files_are_refused_without_storing() {
    let t = telegram().await;
    pair(&t, ME).await;
    // Declared over the cap: refused before getFile.
    t.tg.push_document(ME, "big", "big.pdf", CAP + 1, None);
    sent_with(&t, "not accepted", 1).await;
    assert!(t.tg.get_file_calls().is_empty());
    // A lying size: small in the message and in getFile, bigger on the
    // wire, streamed without a length and sent with one.
    let mut body = png();
    body.resize(CAP as usize * 3, 0);
    t.tg.add_file("liar", body.clone(), Some(1000), true);
    t.tg.push_document(ME, "liar", "small.png", 1000, Some("look"));
    sent_with(&t, "not accepted", 2).await;
    t.tg.add_file("liar2", body, Some(1000), false);
    t.tg.push_photo(ME, &[("liar2", 1000, 320)], None);
    let refusals = sent_with(&t, "not accepted", 3).await;
    assert!(plain(&refusals[2]).contains("larger than"), "{refusals:?}");
    assert_eq!(t.tg.get_file_calls(), ["liar", "liar2"]);
    assert_eq!(t.tg.downloads().len(), 2);
    assert!(uploads(&t).is_empty(), "an oversized file was stored");
    assert!(t.w.llm.chat_requests().is_empty());
    assert_eq!(denied_uploads(&t), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_executable_or_html_disguised_as_a_photo_is_refused() {
    let t = telegram().await;
    pair(&t, ME).await;
    let html = b"<html><body><script>fetch('/api/v1/me')</script></body></html>".to_vec();
    t.tg.add_file("html", html.clone(), Some(html.len() as u64), false);
    t.tg.push_photo(ME, &[("html", html.len() as u64, 320)], None);
    sent_with(&t, "not accepted", 1).await;
    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0".to_vec();
    elf.resize(512, 0);
    t.tg.add_file("elf", elf, Some(512), false);
    t.tg.push_document(ME, "elf", "holiday.jpg", 512, Some("my photo"));
    sent_with(&t, "not accepted", 2).await;
    // A PNG with a zip appended (a polyglot) is refused as uploads refuse it.
    let mut poly = png();
    poly.extend(b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    t.tg.add_file("poly", poly.clone(), Some(poly.len() as u64), false);
    t.tg.push_photo(ME, &[("poly", poly.len() as u64, 320)], None);
    sent_with(&t, "not accepted", 3).await;
    assert!(uploads(&t).is_empty(), "a disguised file was stored");
    assert!(t.w.llm.chat_requests().is_empty());
    assert_eq!(denied_uploads(&t), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unpaired_senders_photo_is_never_fetched() {
    let t = telegram().await;
    let image = png();
    t.tg.add_file("p", image.clone(), Some(image.len() as u64), false);
    let last =
        t.tg.push_photo(55, &[("p", image.len() as u64, 320)], Some("hi"));
    // The pairing gate answers with its canned reply, and nothing else.
    sent_with(&t, "give the owner this code", 1).await;
    eventually("the offset to pass the photo", || async {
        t.tg.offsets().iter().any(|o| *o > last).then_some(())
    })
    .await;
    assert!(t.tg.get_file_calls().is_empty());
    assert!(t.tg.downloads().is_empty());
    assert!(uploads(&t).is_empty());
    assert!(t.w.llm.chat_requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_download_delays_only_its_own_message_and_survives_kill_9() {
    const OTHER: i64 = 88;
    let mut t = telegram().await;
    pair(&t, ME).await;
    pair(&t, OTHER).await;
    let image = png();
    let n = image.len() as u64;
    t.tg.add_file("slow", image.clone(), Some(n), false);
    t.tg.hang_file("slow", true);
    let photo =
        t.tg.push_photo(ME, &[("slow", n, 320)], Some("what is this?"));
    eventually("the download to start", || async {
        (!t.tg.downloads().is_empty()).then_some(())
    })
    .await;
    // Another paired sender writes after the photo: answered while the
    // download still hangs.
    t.w.llm.push(Reply::text(["hello there"]));
    let later = t.tg.push_text(OTHER, "pete", "hi");
    let answered = sent_with(&t, "hello there", 1).await;
    assert_eq!(answered[0]["chat_id"], OTHER);
    eventually("the poller to confirm both updates", || async {
        t.tg.offsets().iter().any(|o| *o > later).then_some(())
    })
    .await;
    assert!(later > photo);
    let to_me = |t: &Tg| t.tg.sent().iter().filter(|m| m["chat_id"] == ME).count();
    assert_eq!(to_me(&t), 1, "only the pairing reply: {:?}", t.tg.sent());
    assert!(uploads(&t).is_empty());
    assert_eq!(t.w.llm.chat_requests().len(), 1);

    // kill -9 while the download hangs. The update is confirmed to
    // Telegram, so only the stored queue row can bring the photo back.
    t.w.server.child.kill().unwrap();
    t.w.server.child.wait().unwrap();
    t.tg.hang_file("slow", false);
    t.w.llm.push(Reply::text(["a very small picture"]));
    t.w.server = common::identity::start(&t.w.env);
    let reply = sent_with(&t, "a very small picture", 1).await;
    assert_eq!(reply[0]["chat_id"], ME);
    // Give a second answer the time it would need to show up.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert_eq!(sent_with(&t, "a very small picture", 1).await.len(), 1);
    assert_eq!(sent_with(&t, "hello there", 1).await.len(), 1);
    assert_eq!(to_me(&t), 2, "{:?}", t.tg.sent());
    assert_eq!(t.tg.downloads().len(), 2, "fetched again after the restart");
    let stored = uploads(&t);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].1, "image/png");
    let requests = t.w.llm.chat_requests();
    assert_eq!(requests.len(), 2);
    let prompt = requests[1].body.to_string();
    assert!(
        prompt.contains("[attachment: photo.png (image/png)]"),
        "{prompt}"
    );
    let state: String = db(&t.w.env)
        .query_row(
            "SELECT state FROM channel_inbound WHERE message_key = ?1",
            [photo.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(state, "done");
}
