//! A fake LLM server for tests: a real HTTP server on an ephemeral loopback
//! port that speaks OpenAI SSE, Ollama NDJSON and Anthropic SSE on their
//! real paths, scripted per test, and records every request it gets.
//!
//! ```ignore
//! let llm = FakeLlm::start().await;
//! llm.push(Reply::text(["Hel", "lo"]).with_usage(12, 2));
//! llm.push(Reply::tool_call("memory_save", r#"{"text":"x"}"#));
//! llm.push(Reply::status(429).retry_after(0));
//! // base URLs for a ProviderConfig:
//! llm.openai_base();    // http://127.0.0.1:PORT/v1
//! llm.ollama_base();    // http://127.0.0.1:PORT
//! llm.anthropic_base(); // http://127.0.0.1:PORT
//! // afterwards: what did the server receive?
//! let sent = llm.chat_requests();
//! assert_eq!(sent[0].header("authorization"), Some("Bearer sk-test"));
//! let messages = sent[0].messages(); // the JSON `messages` array
//! ```
//!
//! Scripted replies are consumed in order by chat requests (any of the three
//! formats); the response is rendered in the format of the path that was
//! called. With the queue empty, the server echoes the last user message's
//! text in 5-character chunks (so a test can make it echo a secret).
//! Default usage when a reply has none: input = words in the request's
//! messages, output = words of text in the reply (each at least 1).
//! `GET /v1/models`, `GET /api/tags`, `POST /v1/embeddings` and
//! `POST /api/embed` answer from `set_models` and [`FakeLlm::embedding_for`].
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

mod render;
use render::{Piece, render_anthropic, render_ollama, render_openai, words};

/// One step of a scripted streamed reply.
#[derive(Clone, Debug)]
pub enum Step {
    /// A piece of visible text (one delta / one line).
    Text(String),
    /// A tool call; OpenAI and Anthropic stream `fragments` as separate
    /// argument deltas, Ollama sends the call whole (parsed as an object).
    ToolCall {
        id: String,
        name: String,
        fragments: Vec<String>,
    },
    /// The token counts reported at the end.
    Usage { input: u64, output: u64 },
    /// An error event mid-stream (each format's own shape).
    Error(String),
    /// A pause before the next step.
    Delay(Duration),
    /// Stops sending (the connection stays open) until the client leaves.
    Hang,
}

/// One scripted reply to one chat request.
#[derive(Clone, Debug, Default)]
pub struct Reply {
    /// An HTTP error status instead of a stream, with an optional message.
    pub status: Option<(u16, Option<String>)>,
    pub retry_after: Option<u64>,
    /// A `Location` header to send with the status (redirect tests).
    pub location: Option<String>,
    /// Wait this long before sending anything (head included).
    pub head_delay: Option<Duration>,
    /// Never send the head at all.
    pub hang_before_head: bool,
    pub steps: Vec<Step>,
    /// Write the byte stream in pieces of at most this many bytes.
    pub split: Option<usize>,
    /// End the body without the format's closing events.
    pub cut: bool,
    /// Override the finish / stop reason (`stop`, `length`, `end_turn`…).
    pub finish: Option<String>,
}

static CALL_IDS: AtomicUsize = AtomicUsize::new(1);

/// Splits `text` into `n` roughly equal pieces on character boundaries.
pub fn split_text(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    let size = chars.len().div_ceil(n.max(1));
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

impl Reply {
    pub fn steps(steps: Vec<Step>) -> Self {
        Reply {
            steps,
            ..Reply::default()
        }
    }

    /// Text streamed in the given chunks.
    pub fn text<I, S>(chunks: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::steps(chunks.into_iter().map(|c| Step::Text(c.into())).collect())
    }

    /// One tool call whose argument JSON is streamed in three fragments.
    pub fn tool_call(name: &str, arguments: &str) -> Self {
        Reply::default().with_tool_call(name, arguments)
    }

    /// An HTTP error status with the format's default message.
    pub fn status(status: u16) -> Self {
        Reply {
            status: Some((status, None)),
            ..Reply::default()
        }
    }

    /// An HTTP error status with a message in the format's error body.
    pub fn error(status: u16, message: &str) -> Self {
        Reply {
            status: Some((status, Some(message.to_owned()))),
            ..Reply::default()
        }
    }

    /// A redirect (`status` 301/302/307/308) to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Reply {
            status: Some((status, None)),
            location: Some(location.to_owned()),
            ..Reply::default()
        }
    }

    /// Accepts the request and never answers.
    pub fn hang() -> Self {
        Reply {
            hang_before_head: true,
            ..Reply::default()
        }
    }

    pub fn with_text(mut self, text: &str) -> Self {
        self.steps.push(Step::Text(text.to_owned()));
        self
    }

    pub fn with_tool_call(mut self, name: &str, arguments: &str) -> Self {
        let id = format!("call_fake_{}", CALL_IDS.fetch_add(1, Ordering::Relaxed));
        self.steps.push(Step::ToolCall {
            id,
            name: name.to_owned(),
            fragments: split_text(arguments, 3),
        });
        self
    }

    pub fn with_usage(mut self, input: u64, output: u64) -> Self {
        self.steps.push(Step::Usage { input, output });
        self
    }

    pub fn with_delay(mut self, pause: Duration) -> Self {
        self.steps.push(Step::Delay(pause));
        self
    }

    /// After the steps so far, stop sending and keep the connection open.
    pub fn then_hang(mut self) -> Self {
        self.steps.push(Step::Hang);
        self
    }

    pub fn then_error(mut self, message: &str) -> Self {
        self.steps.push(Step::Error(message.to_owned()));
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn head_delay(mut self, pause: Duration) -> Self {
        self.head_delay = Some(pause);
        self
    }

    pub fn split_writes(mut self, bytes: usize) -> Self {
        self.split = Some(bytes.max(1));
        self
    }

    pub fn cut(mut self) -> Self {
        self.cut = true;
        self
    }

    pub fn finish_reason(mut self, reason: &str) -> Self {
        self.finish = Some(reason.to_owned());
        self
    }
}

/// One request the server received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Lowercase names; the last value wins.
    pub headers: BTreeMap<String, String>,
    /// The parsed JSON body (`Null` when empty or not JSON).
    pub body: Value,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The `messages` array of a chat request.
    pub fn messages(&self) -> Vec<Value> {
        self.body["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn is_chat(&self) -> bool {
        Format::of_chat(&self.path).is_some()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    OpenAi,
    Ollama,
    Anthropic,
}

impl Format {
    fn of_chat(path: &str) -> Option<Format> {
        match path {
            "/api/chat" => Some(Format::Ollama),
            "/v1/messages" => Some(Format::Anthropic),
            p if p.ends_with("/chat/completions") => Some(Format::OpenAi),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Recorded>>,
    models: Mutex<Vec<String>>,
    key: Mutex<Option<String>>,
    split_all: Mutex<Option<usize>>,
    first_content: Mutex<Vec<Instant>>,
    hung_up: AtomicUsize,
    obey: std::sync::atomic::AtomicBool,
}

/// The running fake; stops when dropped.
pub struct FakeLlm {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeLlm {
    pub async fn start() -> FakeLlm {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        *shared.models.lock().unwrap() = vec!["fake-model".into(), "fake-embed".into()];
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeLlm { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT/v1`, the OpenAI-style base URL.
    pub fn openai_base(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.addr.port())
    }

    pub fn ollama_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    pub fn anthropic_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// The base URL for a provider kind (`openai`, `ollama`, `anthropic`).
    pub fn base_url(&self, kind: &str) -> String {
        match kind {
            "openai" => self.openai_base(),
            _ => self.ollama_base(),
        }
    }

    /// Plays the worst-case model once the script runs out: it follows the
    /// first `CALL <tool> <json>` line it finds in the newest tool result,
    /// and otherwise answers "done".
    pub fn obey_instructions(&self) {
        self.shared.obey.store(true, Ordering::SeqCst);
    }

    /// Queues a reply for the next chat request.
    pub fn push(&self, reply: Reply) {
        self.shared.queue.lock().unwrap().push_back(reply);
    }

    /// Scripted replies not yet used.
    pub fn pending(&self) -> usize {
        self.shared.queue.lock().unwrap().len()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Only the chat requests, in order.
    pub fn chat_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.is_chat())
            .collect()
    }

    pub fn last_chat(&self) -> Option<Recorded> {
        self.chat_requests().pop()
    }

    pub fn set_models(&self, models: &[&str]) {
        *self.shared.models.lock().unwrap() = models.iter().map(|m| m.to_string()).collect();
    }

    /// Refuse (401) requests without this key (Bearer or `x-api-key`).
    pub fn require_key(&self, key: &str) {
        *self.shared.key.lock().unwrap() = Some(key.to_owned());
    }

    /// Split every reply (the default echo too) into writes of `bytes`.
    pub fn split_all(&self, bytes: usize) {
        *self.shared.split_all.lock().unwrap() = Some(bytes.max(1));
    }

    /// When the first content byte (text or tool call) of each streamed
    /// reply was handed to the connection, in reply order.
    pub fn first_content_times(&self) -> Vec<Instant> {
        self.shared.first_content.lock().unwrap().clone()
    }

    /// How many hanging replies saw their client go away (a dropped stream
    /// closes the connection).
    pub fn hung_up(&self) -> usize {
        self.shared.hung_up.load(Ordering::SeqCst)
    }

    /// The deterministic 8-dimensional unit vector the server returns.
    pub fn embedding_for(text: &str) -> Vec<f32> {
        let mut v = [0f32; 8];
        for (i, b) in text.bytes().enumerate() {
            v[(i + b as usize) % 8] += f32::from(b) / 255.0;
        }
        v[0] += 0.001; // never the zero vector
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / norm).collect()
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp
}

fn error_body(format: Format, status: u16, message: Option<&str>) -> Value {
    let message = message.unwrap_or(match status {
        429 => "Rate limit reached for requests",
        401 => "Invalid API key",
        s if s >= 500 => "The server had an error while processing your request",
        _ => "Bad request",
    });
    match format {
        Format::OpenAi => {
            json!({"error": {"message": message, "type": if status == 429 { "rate_limit_exceeded" } else { "server_error" }, "code": null}})
        }
        Format::Ollama => json!({"error": message}),
        Format::Anthropic => json!({"type": "error", "error": {"type": match status {
            429 => "rate_limit_error",
            401 => "authentication_error",
            529 => "overloaded_error",
            s if s >= 500 => "api_error",
            _ => "invalid_request_error",
        }, "message": message}}),
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let headers: BTreeMap<String, String> = request
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let bytes = axum::body::to_bytes(request.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let recorded = Recorded {
        method,
        path: path.clone(),
        headers,
        body,
        at: Instant::now(),
    };
    shared.requests.lock().unwrap().push(recorded.clone());
    let format =
        Format::of_chat(&path).unwrap_or(if recorded.headers.contains_key("anthropic-version") {
            Format::Anthropic
        } else if path.starts_with("/api/") {
            Format::Ollama
        } else {
            Format::OpenAi
        });

    let required = shared.key.lock().unwrap().clone();
    if let Some(key) = required {
        let bearer = recorded.header("authorization") == Some(format!("Bearer {key}").as_str());
        let x_key = recorded.header("x-api-key") == Some(key.as_str());
        if !bearer && !x_key {
            return json_response(401, &error_body(format, 401, None));
        }
    }

    match path.as_str() {
        "/v1/models" | "/models" => {
            let models = shared.models.lock().unwrap().clone();
            let data: Vec<Value> = models
                .iter()
                .map(|m| match format {
                    Format::Anthropic => json!({"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}),
                    _ => json!({"id": m, "object": "model", "created": 0, "owned_by": "fake"}),
                })
                .collect();
            json_response(
                200,
                &json!({"object": "list", "data": data, "has_more": false}),
            )
        }
        "/api/tags" => {
            let models = shared.models.lock().unwrap().clone();
            let data: Vec<Value> = models
                .iter()
                .map(|m| json!({"name": m, "model": m, "size": 1, "digest": "0"}))
                .collect();
            json_response(200, &json!({"models": data}))
        }
        "/v1/embeddings" | "/embeddings" | "/api/embed" => {
            let inputs: Vec<String> = match &recorded.body["input"] {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => {
                    return json_response(400, &error_body(format, 400, Some("input is required")));
                }
            };
            let vectors: Vec<Vec<f32>> = inputs.iter().map(|t| FakeLlm::embedding_for(t)).collect();
            if path == "/api/embed" {
                json_response(
                    200,
                    &json!({"model": recorded.body["model"], "embeddings": vectors}),
                )
            } else {
                let data: Vec<Value> = vectors
                    .iter()
                    .enumerate()
                    .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v}))
                    .collect();
                json_response(
                    200,
                    &json!({"object": "list", "data": data, "model": recorded.body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}}),
                )
            }
        }
        _ => match Format::of_chat(&path) {
            Some(format) => chat(shared, format, recorded).await,
            None => json_response(404, &json!({"error": "not found"})),
        },
    }
}

/// The text of the last user message in any of the three formats.
/// The instruction a gullible model would follow: the first
/// `CALL <tool> <json>` line of the newest message, if that is a tool result.
fn obeyed(body: &Value) -> Option<Reply> {
    let last = body["messages"].as_array()?.last()?;
    if last["role"] != "tool" {
        return None;
    }
    let content = last["content"].as_str()?;
    let line = content
        .lines()
        .find_map(|l| l.split_once("CALL ").map(|(_, rest)| rest.trim()))?;
    let (name, args) = line.split_once(' ')?;
    Some(Reply::tool_call(name, args.trim()))
}

fn last_user_text(format: Format, body: &Value) -> String {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    for m in messages.iter().rev() {
        if m["role"] != "user" {
            continue;
        }
        match &m["content"] {
            Value::String(s) => return s.clone(),
            Value::Array(blocks) => {
                let text: Vec<&str> = blocks
                    .iter()
                    .filter(|b| b["type"] == "text")
                    .filter_map(|b| b["text"].as_str())
                    .collect();
                if !text.is_empty() || format != Format::Anthropic {
                    return text.join("");
                }
            }
            _ => {}
        }
    }
    String::new()
}

fn request_words(body: &Value) -> u64 {
    let mut n = words(body["system"].as_str().unwrap_or_default());
    for m in body["messages"].as_array().into_iter().flatten() {
        match &m["content"] {
            Value::String(s) => n += words(s),
            Value::Array(blocks) => {
                for b in blocks {
                    n += words(
                        b["text"]
                            .as_str()
                            .or(b["content"].as_str())
                            .unwrap_or_default(),
                    );
                }
            }
            _ => {}
        }
    }
    n.max(1)
}

async fn chat(shared: Arc<Shared>, format: Format, recorded: Recorded) -> Response {
    let mut scripted = shared.queue.lock().unwrap().pop_front();
    if scripted.is_none() && shared.obey.load(Ordering::SeqCst) {
        scripted = Some(obeyed(&recorded.body).unwrap_or_else(|| Reply::text(["done"])));
    }
    let mut reply = scripted.unwrap_or_else(|| {
        let text = last_user_text(format, &recorded.body);
        Reply::text(
            text.chars()
                .collect::<Vec<_>>()
                .chunks(5)
                .map(|c| c.iter().collect::<String>()),
        )
    });
    if reply.split.is_none() {
        reply.split = *shared.split_all.lock().unwrap();
    }
    if reply.hang_before_head {
        std::future::pending::<()>().await;
    }
    if let Some(pause) = reply.head_delay {
        tokio::time::sleep(pause).await;
    }
    if let Some((status, message)) = &reply.status {
        let mut resp = json_response(*status, &error_body(format, *status, message.as_deref()));
        if let Some(secs) = reply.retry_after {
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        if let Some(location) = reply
            .location
            .as_deref()
            .and_then(|l| HeaderValue::from_str(l).ok())
        {
            resp.headers_mut().insert("location", location);
        }
        return resp;
    }
    let model = recorded.body["model"]
        .as_str()
        .unwrap_or("fake-model")
        .to_owned();
    let input = request_words(&recorded.body);
    let include_usage = recorded.body["stream_options"]["include_usage"] == true;
    let pieces = match format {
        Format::OpenAi => render_openai(&reply, &model, input, include_usage),
        Format::Ollama => render_ollama(&reply, &model, input),
        Format::Anthropic => render_anthropic(&reply, &model, input),
    };
    let (tx, mut rx) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let split = reply.split;
    tokio::spawn(async move {
        let mut first = true;
        for piece in pieces {
            match piece {
                Piece::Delay(d) => tokio::time::sleep(d).await,
                Piece::Hang => {
                    tx.closed().await;
                    shared.hung_up.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                Piece::Bytes { data, content } => {
                    if content && first {
                        first = false;
                        shared.first_content.lock().unwrap().push(Instant::now());
                    }
                    let size = split.unwrap_or(data.len().max(1));
                    for part in data.chunks(size) {
                        if tx.send(Ok(part.to_vec())).await.is_err() {
                            return;
                        }
                        if split.is_some() {
                            // Let the connection write this piece on its own.
                            tokio::task::yield_now().await;
                        }
                    }
                }
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut resp = Response::new(Body::from_stream(stream));
    let content_type = match format {
        Format::Ollama => "application/x-ndjson",
        _ => "text/event-stream",
    };
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-cache"));
    resp
}
