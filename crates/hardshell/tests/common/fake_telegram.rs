//! A fake Telegram Bot API server for the channel tests: the real JSON
//! shapes and paths (`/bot<TOKEN>/<method>`), long-polling `getUpdates`
//! that drops updates below the offset or of a kind not in
//! `allowed_updates` and waits up to `timeout` seconds,
//! `sendMessage` (with `reply_markup`; button data over 64 bytes is
//! `BUTTON_DATA_INVALID`), `answerCallbackQuery`, `editMessageReplyMarkup`
//! and `editMessageText` (only of a message the bot sent to that chat,
//! else "message to edit not found"), `sendChatAction`,
//! `getMe`, `getFile` and file download (`/file/bot<TOKEN>/<file_path>`,
//! optionally chunked without a length, as a lying server would, or
//! hanging until released, as a stalled download would),
//! `setWebhook` and `deleteWebhook` (while a webhook is set, `getUpdates`
//! is a 409, as on Telegram), and the errors (401 for a
//! wrong token, 409 when another poller holds the token, 429 with
//! `retry_after`, 400 for a message over 4096 characters or a MarkdownV2
//! text with an unescaped reserved character outside code). It is
//! stricter than Telegram about formatting characters: the server's
//! renderer never emits formatting, so any unescaped one is a bug.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

pub const TOKEN: &str = "123456:AAFakeTokenForTests_abcdefghijklmnop";
/// The bot's user id and username (`getMe`).
pub const BOT_ID: i64 = 123456;
pub const BOT_USERNAME: &str = "hardshell_test_bot";

/// A downloadable file: (file_path, bytes, the size getFile declares,
/// streamed without a length).
type FakeFile = (String, Vec<u8>, Option<u64>, bool);

#[derive(Default)]
struct Shared {
    updates: Mutex<Vec<Value>>,
    notify: tokio::sync::Notify,
    sent: Mutex<Vec<Value>>,
    actions: Mutex<Vec<Value>>,
    answers: Mutex<Vec<Value>>,
    edits: Mutex<Vec<Value>>,
    /// `editMessageText` bodies.
    text_edits: Mutex<Vec<Value>>,
    /// The message id each accepted `sendMessage` got (same order as `sent`).
    sent_ids: Mutex<Vec<i64>>,
    /// Download paths that hang (send nothing) while listed.
    hanging: Mutex<std::collections::HashSet<String>>,
    files: Mutex<std::collections::HashMap<String, FakeFile>>,
    get_file_calls: Mutex<Vec<String>>,
    downloads: Mutex<Vec<String>>,
    offsets: Mutex<Vec<i64>>,
    conflict: AtomicBool,
    limit_next: AtomicU32,
    next_update: AtomicI64,
    next_message: AtomicI64,
    /// `setWebhook` / `deleteWebhook` calls: (method, body).
    webhook_calls: Mutex<Vec<(String, Value)>>,
    webhook: Mutex<Option<String>>,
    /// While on, a `getUpdates` that would confirm an update is held
    /// unanswered and unapplied (as if it never reached Telegram).
    hold_confirms: AtomicBool,
    held: AtomicU32,
    release: tokio::sync::Notify,
}

pub struct FakeTelegram {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn err(status: u16, description: &str) -> Response {
    let code = axum::http::StatusCode::from_u16(status).unwrap();
    (
        code,
        axum::Json(json!({"ok": false, "error_code": status, "description": description})),
    )
        .into_response()
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

/// The first unescaped reserved character outside code, if any.
fn markdown_v2_error(text: &str) -> Option<char> {
    const RESERVED: &str = "_*[]()~`>#+-=|{}.!";
    let mut chars = text.chars().peekable();
    let (mut block, mut inline) = (false, false);
    let mut at_line_start = true;
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
            at_line_start = false;
            continue;
        }
        if c == '`' {
            if at_line_start && chars.peek() == Some(&'`') {
                chars.next();
                chars.next();
                block = !block;
                continue;
            }
            if !block {
                inline = !inline;
            }
            continue;
        }
        at_line_start = c == '\n';
        if !block && !inline && RESERVED.contains(c) {
            return Some(c);
        }
    }
    None
}

impl FakeTelegram {
    pub async fn start() -> FakeTelegram {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        shared.next_update.store(1000, Ordering::SeqCst);
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTelegram { addr, shared, task }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// Queues an update as Telegram would deliver it; returns its id.
    pub fn push_raw(&self, mut update: Value) -> i64 {
        let id = match update["update_id"].as_i64() {
            Some(id) => id,
            None => {
                let id = self.shared.next_update.fetch_add(1, Ordering::SeqCst);
                update["update_id"] = json!(id);
                id
            }
        };
        self.shared.updates.lock().unwrap().push(update);
        self.shared.notify.notify_waiters();
        id
    }

    /// A private text message from user `from`.
    pub fn push_text(&self, from: i64, username: &str, text: &str) -> i64 {
        let mid = self.shared.next_message.fetch_add(1, Ordering::SeqCst);
        self.push_raw(json!({"message": {
            "message_id": mid, "date": 1_700_000_000,
            "from": {"id": from, "is_bot": false, "first_name": username, "username": username},
            "chat": {"id": from, "type": "private", "username": username},
            "text": text}}))
    }

    /// A button press on an inline keyboard, as Telegram delivers it:
    /// pressed by user `from` on a message in chat `chat` of `chat_type`.
    pub fn push_callback(&self, from: i64, chat: i64, chat_type: &str, data: &str) -> i64 {
        let mid = self.shared.next_message.fetch_add(1, Ordering::SeqCst);
        let qid = format!("{}", 4_000_000_000_000_000_000i64 + mid);
        self.push_raw(json!({"callback_query": {
            "id": qid,
            "from": {"id": from, "is_bot": false, "first_name": "u", "username": format!("u{from}")},
            "message": {"message_id": mid, "date": 1_700_000_000,
                "from": {"id": 1, "is_bot": true, "first_name": "Hardshell", "username": "hardshell_test_bot"},
                "chat": {"id": chat, "type": chat_type},
                "text": "Approval"},
            "chat_instance": "-5123456789",
            "data": data}}))
    }

    /// Makes a file downloadable: `getFile` declares `declared` (none:
    /// no `file_size`), the download sends `bytes` (`chunked`: streamed
    /// without a Content-Length).
    pub fn add_file(&self, file_id: &str, bytes: Vec<u8>, declared: Option<u64>, chunked: bool) {
        let mut files = self.shared.files.lock().unwrap();
        let path = format!("documents/file_{}.bin", files.len());
        files.insert(file_id.to_string(), (path, bytes, declared, chunked));
    }

    /// A private photo message: `sizes` are (file_id, file_size, width),
    /// smallest first, as Telegram lists them.
    pub fn push_photo(&self, from: i64, sizes: &[(&str, u64, u32)], caption: Option<&str>) -> i64 {
        let mid = self.shared.next_message.fetch_add(1, Ordering::SeqCst);
        let photo: Vec<Value> = sizes
            .iter()
            .map(|(id, size, w)| {
                json!({"file_id": id, "file_unique_id": format!("u{id}"),
                       "file_size": size, "width": w, "height": w * 3 / 4})
            })
            .collect();
        let mut message = json!({"message_id": mid, "date": 1_700_000_000,
            "from": {"id": from, "is_bot": false, "first_name": "u", "username": format!("u{from}")},
            "chat": {"id": from, "type": "private"}, "photo": photo});
        if let Some(c) = caption {
            message["caption"] = json!(c);
        }
        self.push_raw(json!({"message": message}))
    }

    /// A private document message.
    pub fn push_document(
        &self,
        from: i64,
        file_id: &str,
        name: &str,
        size: u64,
        caption: Option<&str>,
    ) -> i64 {
        let mid = self.shared.next_message.fetch_add(1, Ordering::SeqCst);
        let mut message = json!({"message_id": mid, "date": 1_700_000_000,
            "from": {"id": from, "is_bot": false, "first_name": "u", "username": format!("u{from}")},
            "chat": {"id": from, "type": "private"},
            "document": {"file_name": name, "mime_type": "application/octet-stream",
                "file_id": file_id, "file_unique_id": format!("u{file_id}"), "file_size": size}});
        if let Some(c) = caption {
            message["caption"] = json!(c);
        }
        self.push_raw(json!({"message": message}))
    }

    /// While `on`, downloading `file_id` hangs: the request is accepted
    /// and nothing is sent, until it is turned off.
    pub fn hang_file(&self, file_id: &str, on: bool) {
        let path = self.shared.files.lock().unwrap()[file_id].0.clone();
        let mut hanging = self.shared.hanging.lock().unwrap();
        if on {
            hanging.insert(path);
        } else {
            hanging.remove(&path);
        }
    }

    /// The message id `sendMessage` number `i` (as in `sent()`) got.
    pub fn sent_message_id(&self, i: usize) -> i64 {
        self.shared.sent_ids.lock().unwrap()[i]
    }

    /// `editMessageText` bodies so far.
    pub fn text_edits(&self) -> Vec<Value> {
        self.shared.text_edits.lock().unwrap().clone()
    }

    /// The `file_id` of every `getFile` call so far.
    pub fn get_file_calls(&self) -> Vec<String> {
        self.shared.get_file_calls.lock().unwrap().clone()
    }

    /// The `file_path` of every download so far.
    pub fn downloads(&self) -> Vec<String> {
        self.shared.downloads.lock().unwrap().clone()
    }

    /// `editMessageReplyMarkup` bodies so far.
    pub fn edits(&self) -> Vec<Value> {
        self.shared.edits.lock().unwrap().clone()
    }

    /// `answerCallbackQuery` bodies so far.
    pub fn answers(&self) -> Vec<Value> {
        self.shared.answers.lock().unwrap().clone()
    }

    /// A text message from user `from` in group chat `chat`, with a
    /// `mention` entity for every `@name` in it (as Telegram marks them)
    /// and `extra` merged into the message (e.g. `reply_to_message`).
    /// Returns (update id, message id).
    pub fn push_group(
        &self,
        chat: i64,
        from: i64,
        username: &str,
        text: &str,
        extra: Value,
    ) -> (i64, i64) {
        let mid = self.shared.next_message.fetch_add(1, Ordering::SeqCst);
        let mut entities = Vec::new();
        let units: Vec<u16> = text.encode_utf16().collect();
        let mut i = 0;
        while i < units.len() {
            if units[i] == u16::from(b'@') && (i == 0 || units[i - 1] == u16::from(b' ')) {
                let len = units[i + 1..]
                    .iter()
                    .take_while(|u| {
                        char::from_u32(u32::from(**u))
                            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                    })
                    .count();
                if len > 0 {
                    entities.push(json!({"type": "mention", "offset": i, "length": len + 1}));
                }
                i += len + 1;
            } else {
                i += 1;
            }
        }
        let mut message = json!({
            "message_id": mid, "date": 1_700_000_000,
            "from": {"id": from, "is_bot": false, "first_name": username, "username": username},
            "chat": {"id": chat, "type": "supergroup", "title": "Team"},
            "text": text});
        if !entities.is_empty() {
            message["entities"] = Value::Array(entities);
        }
        for (k, v) in extra.as_object().unwrap() {
            message[k] = v.clone();
        }
        (self.push_raw(json!({"message": message})), mid)
    }

    /// `sendMessage` bodies accepted so far.
    pub fn sent(&self) -> Vec<Value> {
        self.shared.sent.lock().unwrap().clone()
    }

    pub fn actions(&self) -> Vec<Value> {
        self.shared.actions.lock().unwrap().clone()
    }

    /// The `offset` of every `getUpdates` call so far.
    pub fn offsets(&self) -> Vec<i64> {
        self.shared.offsets.lock().unwrap().clone()
    }

    /// Answer `getUpdates` with 409, as when another poller holds the token.
    pub fn set_conflict(&self, on: bool) {
        self.shared.conflict.store(on, Ordering::SeqCst);
    }

    /// `setWebhook` and `deleteWebhook` calls so far: (method, body).
    pub fn webhook_calls(&self) -> Vec<(String, Value)> {
        self.shared.webhook_calls.lock().unwrap().clone()
    }

    /// Holds (`true`) or releases every `getUpdates` that would confirm an
    /// update: Telegram keeps those updates, as when the poller died
    /// before its next call arrived. A released call gets a 502 and
    /// confirms nothing.
    pub fn hold_confirmations(&self, on: bool) {
        self.shared.hold_confirms.store(on, Ordering::SeqCst);
        if !on {
            self.shared.release.notify_waiters();
        }
    }

    /// How many confirming `getUpdates` calls were held so far.
    pub fn held(&self) -> u32 {
        self.shared.held.load(Ordering::SeqCst)
    }

    /// The next `n` `sendMessage` calls get 429 with `retry_after: 1`.
    pub fn rate_limit_next(&self, n: u32) {
        self.shared.limit_next.store(n, Ordering::SeqCst);
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/file/") {
        return download(&shared, rest).await;
    }
    let Some((bot, method)) = path.trim_start_matches('/').split_once('/') else {
        return err(404, "Not Found");
    };
    if bot != format!("bot{TOKEN}") {
        return err(401, "Unauthorized");
    }
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    match method {
        "getMe" => ok(
            json!({"id": BOT_ID, "is_bot": true, "first_name": "Hardshell",
                             "username": BOT_USERNAME, "can_join_groups": true,
                             "can_read_all_group_messages": false,
                             "supports_inline_queries": false}),
        ),
        "getUpdates" => get_updates(&shared, &body).await,
        "sendMessage" => {
            if shared
                .limit_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return (
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({"ok": false, "error_code": 429,
                        "description": "Too Many Requests: retry after 1",
                        "parameters": {"retry_after": 1}})),
                )
                    .into_response();
            }
            let Some(text) = body["text"].as_str() else {
                return err(400, "Bad Request: message text is empty");
            };
            if !body["chat_id"].is_i64() {
                return err(400, "Bad Request: chat not found");
            }
            let buttons = body["reply_markup"]["inline_keyboard"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|row| row.as_array().cloned().unwrap_or_default());
            for b in buttons {
                let data = b["callback_data"].as_str().unwrap_or_default();
                if data.is_empty() || data.len() > 64 || b["text"].as_str().is_none() {
                    return err(400, "Bad Request: BUTTON_DATA_INVALID");
                }
            }
            if text.encode_utf16().count() > 4096 {
                return err(400, "Bad Request: message is too long");
            }
            if body["parse_mode"] == "MarkdownV2"
                && let Some(c) = markdown_v2_error(text)
            {
                return err(
                    400,
                    &format!(
                        "Bad Request: can't parse entities: Character '{c}' is reserved and must be escaped with the preceding '\\'"
                    ),
                );
            }
            let mid = shared.next_message.fetch_add(1, Ordering::SeqCst);
            {
                let mut sent = shared.sent.lock().unwrap();
                sent.push(body.clone());
                shared.sent_ids.lock().unwrap().push(mid);
            }
            ok(json!({"message_id": mid, "date": 1_700_000_000,
                      "from": {"id": BOT_ID, "is_bot": true, "first_name": "Hardshell",
                               "username": BOT_USERNAME},
                      "chat": {"id": body["chat_id"]}, "text": text}))
        }
        "setWebhook" => {
            let Some(url) = body["url"].as_str() else {
                return err(400, "Bad Request: bad webhook: Webhook URL is empty");
            };
            if !url.starts_with("https://") {
                return err(
                    400,
                    "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
                );
            }
            if let Some(t) = body.get("secret_token") {
                let ok = t.as_str().is_some_and(|t| {
                    (1..=256).contains(&t.len())
                        && t.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                });
                if !ok {
                    return err(
                        400,
                        "Bad Request: secret token contains unallowed characters",
                    );
                }
            }
            shared
                .webhook_calls
                .lock()
                .unwrap()
                .push((method.to_string(), body.clone()));
            *shared.webhook.lock().unwrap() = Some(url.to_string());
            axum::Json(json!({"ok": true, "result": true, "description": "Webhook was set"}))
                .into_response()
        }
        "deleteWebhook" => {
            shared
                .webhook_calls
                .lock()
                .unwrap()
                .push((method.to_string(), body.clone()));
            let was = shared.webhook.lock().unwrap().take();
            let description = if was.is_some() {
                "Webhook was deleted"
            } else {
                "Webhook is already deleted"
            };
            axum::Json(json!({"ok": true, "result": true, "description": description}))
                .into_response()
        }
        "getFile" => {
            let id = body["file_id"].as_str().unwrap_or_default().to_string();
            shared.get_file_calls.lock().unwrap().push(id.clone());
            let files = shared.files.lock().unwrap();
            let Some((path, _, declared, _)) = files.get(&id) else {
                return err(400, "Bad Request: invalid file_id");
            };
            let mut result =
                json!({"file_id": id, "file_unique_id": format!("u{id}"), "file_path": path});
            if let Some(n) = declared {
                result["file_size"] = json!(n);
            }
            ok(result)
        }
        "editMessageReplyMarkup" => {
            if !body["chat_id"].is_i64() || !body["message_id"].is_i64() {
                return err(400, "Bad Request: message to edit not found");
            }
            shared.edits.lock().unwrap().push(body);
            ok(json!(true))
        }
        "editMessageText" => {
            let Some(text) = body["text"].as_str().filter(|t| !t.is_empty()) else {
                return err(400, "Bad Request: message text is empty");
            };
            let (chat, mid) = (body["chat_id"].as_i64(), body["message_id"].as_i64());
            let found = {
                let sent = shared.sent.lock().unwrap();
                let ids = shared.sent_ids.lock().unwrap();
                sent.iter()
                    .zip(ids.iter())
                    .any(|(m, id)| m["chat_id"].as_i64() == chat && Some(*id) == mid)
            };
            if !found {
                return err(400, "Bad Request: message to edit not found");
            }
            if body["parse_mode"] == "MarkdownV2"
                && let Some(c) = markdown_v2_error(text)
            {
                return err(
                    400,
                    &format!(
                        "Bad Request: can't parse entities: Character '{c}' is reserved and must be escaped with the preceding '\\'"
                    ),
                );
            }
            shared.text_edits.lock().unwrap().push(body.clone());
            ok(
                json!({"message_id": mid, "date": 1_700_000_000, "edit_date": 1_700_000_100,
                      "from": {"id": BOT_ID, "is_bot": true, "first_name": "Hardshell",
                               "username": BOT_USERNAME},
                      "chat": {"id": chat, "type": "private"}, "text": text}),
            )
        }
        "answerCallbackQuery" => {
            if !body["callback_query_id"].is_string() {
                return err(
                    400,
                    "Bad Request: query is too old and response timeout expired or query ID is invalid",
                );
            }
            shared.answers.lock().unwrap().push(body);
            ok(json!(true))
        }
        "sendChatAction" => {
            shared.actions.lock().unwrap().push(body);
            ok(json!(true))
        }
        _ => err(404, "Not Found"),
    }
}

async fn get_updates(shared: &Shared, body: &Value) -> Response {
    if shared.conflict.load(Ordering::SeqCst) {
        return err(
            409,
            "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
        );
    }
    if shared.webhook.lock().unwrap().is_some() {
        return err(
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
        );
    }
    let offset = body["offset"].as_i64().unwrap_or(0);
    let timeout = body["timeout"].as_u64().unwrap_or(0).min(50);
    let release = shared.release.notified();
    let confirms = shared
        .updates
        .lock()
        .unwrap()
        .iter()
        .any(|u| u["update_id"].as_i64().unwrap_or(0) < offset);
    if confirms && shared.hold_confirms.load(Ordering::SeqCst) {
        shared.held.fetch_add(1, Ordering::SeqCst);
        release.await;
        // The held call "never reached Telegram": nothing is applied.
        return err(502, "Bad Gateway");
    }
    shared.offsets.lock().unwrap().push(offset);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let notified = shared.notify.notified();
        let ready: Vec<Value> = {
            let mut updates = shared.updates.lock().unwrap();
            // Updates below the offset are confirmed: Telegram forgets them.
            updates.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            // Kinds the bot did not ask for (`allowed_updates`) are dropped
            // undelivered, as Telegram does.
            if let Some(allowed) = body["allowed_updates"].as_array() {
                updates.retain(|u| {
                    u.as_object()
                        .is_some_and(|o| o.keys().any(|k| allowed.iter().any(|a| a == k)))
                });
            }
            updates.clone()
        };
        if !ready.is_empty() || tokio::time::Instant::now() >= deadline {
            return ok(Value::Array(ready));
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

async fn download(shared: &Shared, rest: &str) -> Response {
    let Some((bot, path)) = rest.split_once('/') else {
        return err(404, "Not Found");
    };
    if bot != format!("bot{TOKEN}") {
        return err(401, "Unauthorized");
    }
    shared.downloads.lock().unwrap().push(path.to_string());
    loop {
        let hanging = shared.hanging.lock().unwrap().contains(path);
        if !hanging {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let files = shared.files.lock().unwrap();
    let Some((_, bytes, _, chunked)) = files.values().find(|f| f.0 == path) else {
        return err(404, "Not Found");
    };
    if *chunked {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            bytes.chunks(4096).map(|c| Ok(c.to_vec())).collect();
        let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
        return (axum::http::StatusCode::OK, body).into_response();
    }
    (axum::http::StatusCode::OK, bytes.clone()).into_response()
}
