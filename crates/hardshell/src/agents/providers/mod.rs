//! LLM providers behind one streaming trait: OpenAI-compatible chat
//! completions (SSE), Ollama's native `/api/chat` (NDJSON) and Anthropic's
//! Messages API (SSE).
//!
//! A provider only translates: our typed conversation in, a stream of typed
//! events out. It never decides what runs, never sees the store, and never
//! logs message content or keys. Tool calls come back as whole calls: the
//! argument fragments a provider streams are assembled here, so the runtime
//! never sees a half call.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Who said a message in a provider conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// One tool call the model asked for, complete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call (synthesised when the provider has none).
    pub id: String,
    pub name: String,
    /// The arguments as JSON text, exactly as the model produced them; the
    /// runtime parses them and reports invalid JSON back to the model.
    pub arguments: String,
}

/// One message sent to a provider. Serialisable so a parked turn's
/// prompt can be saved while it waits for an approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// Assistant messages only: the calls it made.
    pub tool_calls: Vec<ToolCall>,
    /// Tool messages only: the call this result answers, and its tool name.
    pub tool_call_id: Option<String>,
    pub tool_name: Option<String>,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self::plain(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::plain(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>, tool_calls: Vec<ToolCall>) -> Self {
        ChatMessage {
            tool_calls,
            ..Self::plain(Role::Assistant, content)
        }
    }
    /// A typed tool result: never sent as user text.
    pub fn tool(call: &ToolCall, content: impl Into<String>) -> Self {
        ChatMessage {
            tool_call_id: Some(call.id.clone()),
            tool_name: Some(call.name.clone()),
            ..Self::plain(Role::Tool, content)
        }
    }
    fn plain(role: Role, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            tool_name: None,
        }
    }
}

/// A tool the model may call: name, description and JSON Schema parameters.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

/// One request for a streamed completion.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatRequest {
    /// The model name inside the provider (`gpt-4o-mini`, not `openai/gpt-4o-mini`).
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolSpec>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
}

/// Token counts for one provider call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Why the model stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    ToolCalls,
    Length,
    Other,
}

/// What a stream yields, in order: deltas and tool calls interleaved, then
/// at most one `Usage`, then exactly one `Finished` (the stream ends after it).
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    /// A piece of visible text.
    Delta(String),
    /// A complete tool call.
    ToolCall(ToolCall),
    Usage(Usage),
    Finished(FinishReason),
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Connection refused, DNS failure, TLS failure: nothing answered.
    #[error("the provider at {url} is unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the provider took too long ({0})")]
    Timeout(&'static str),
    /// A non-success status after retries; `message` is the provider's own
    /// error text, shortened, never containing our request.
    #[error("the provider answered {status}: {message}")]
    Status { status: u16, message: String },
    /// The provider sent something that is not its documented format.
    #[error("the provider's reply could not be read: {0}")]
    Protocol(String),
    #[error("the provider's reply exceeded {0} bytes")]
    TooLarge(usize),
    #[error("this provider has no embeddings endpoint")]
    NoEmbeddings,
}

impl ProviderError {
    /// A short stable code for `agent.error` events and audit entries.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::Unreachable { .. } => "provider_unreachable",
            ProviderError::Timeout(_) => "provider_timeout",
            ProviderError::Status { status: 429, .. } => "provider_rate_limited",
            ProviderError::Status { .. } => "provider_error",
            ProviderError::Protocol(_) => "provider_protocol",
            ProviderError::TooLarge(_) => "provider_too_large",
            ProviderError::NoEmbeddings => "no_embeddings",
        }
    }
}

pub type EventStream = BoxStream<'static, Result<StreamEvent, ProviderError>>;

/// The three wire formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Openai,
    Ollama,
    Anthropic,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Ollama => "ollama",
            ProviderKind::Anthropic => "anthropic",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "openai" => Some(ProviderKind::Openai),
            "ollama" => Some(ProviderKind::Ollama),
            "anthropic" => Some(ProviderKind::Anthropic),
            _ => None,
        }
    }

    /// Where the provider lives when the owner gives no base URL.
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::Openai => "https://api.openai.com/v1",
            ProviderKind::Ollama => "http://127.0.0.1:11434",
            ProviderKind::Anthropic => "https://api.anthropic.com",
        }
    }
}

/// Timeouts, retries and caps for provider calls.
#[derive(Clone, Debug)]
pub struct CallLimits {
    pub connect_timeout: Duration,
    /// Longest silence between two chunks of a stream (and before the
    /// response head).
    pub read_timeout: Duration,
    /// Whole call, stream included.
    pub total_timeout: Duration,
    /// Retries on 429 and 5xx before any event was streamed.
    pub max_retries: u32,
    /// First back-off; doubles each retry (a `Retry-After` header wins,
    /// capped at `max_backoff`).
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Cap on the bytes read from one response.
    pub max_response_bytes: usize,
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
            total_timeout: Duration::from_secs(600),
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            max_response_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Everything needed to talk to one configured provider.
#[derive(Clone)]
pub struct ProviderConfig {
    /// The owner's name for it (`openai`, `openrouter`, `local`…), the part
    /// before the slash in an agent's `provider/model`.
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub api_key: Option<SecretString>,
    /// The model used for `/embeddings`, when the owner set one.
    pub embedding_model: Option<String>,
    pub limits: CallLimits,
}

impl fmt::Debug for ProviderConfig {
    // The key never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("embedding_model", &self.embedding_model)
            .finish()
    }
}

/// One configured provider, ready to call. Dropping a returned stream
/// cancels the HTTP request.
pub trait Provider: Send + Sync {
    fn config(&self) -> &ProviderConfig;

    /// Starts a streamed completion. Errors before the first event (after
    /// retries) come back here; errors mid-stream come through the stream.
    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<EventStream, ProviderError>>;

    /// The models the provider offers (`GET /models`, `/api/tags`, `/v1/models`).
    fn list_models(&self) -> BoxFuture<'_, Result<Vec<String>, ProviderError>>;

    /// Embeds each input with the configured embedding model.
    /// `Err(NoEmbeddings)` when the provider or configuration has none.
    fn embed(&self, inputs: Vec<String>) -> BoxFuture<'_, Result<Vec<Vec<f32>>, ProviderError>>;
}

pub type SharedProvider = Arc<dyn Provider>;

mod anthropic;
#[cfg(test)]
mod decode_tests;
mod ollama;
mod openai;
mod transport;
pub mod wire;

/// Makes a ready provider from its configuration (an empty base URL means
/// the kind's default). Fails when the base URL is not an http(s) URL with
/// a host (as `Unreachable`, naming the URL).
/// The provider's HTTP client reaches that one host and nothing else.
pub fn build(mut config: ProviderConfig) -> Result<SharedProvider, ProviderError> {
    if config.base_url.trim().is_empty() {
        config
            .kind
            .default_base_url()
            .clone_into(&mut config.base_url);
    }
    Ok(match config.kind {
        ProviderKind::Openai => Arc::new(openai::OpenAi::new(config)?),
        ProviderKind::Ollama => Arc::new(ollama::Ollama::new(config)?),
        ProviderKind::Anthropic => Arc::new(anthropic::Anthropic::new(config)?),
    })
}

impl ProviderConfig {
    /// A configuration with the kind's default base URL and default limits.
    pub fn new(name: impl Into<String>, kind: ProviderKind) -> Self {
        ProviderConfig {
            name: name.into(),
            kind,
            base_url: kind.default_base_url().to_owned(),
            api_key: None,
            embedding_model: None,
            limits: CallLimits::default(),
        }
    }
}
