//! Anthropic's Messages API: `POST {base}/v1/messages` streaming SSE. The
//! system prompt goes in the top-level `system` field, assistant tool calls
//! are `tool_use` blocks and tool results are `tool_result` blocks in a user
//! message; `max_tokens` is required (default 4096). It only translates;
//! it never logs content or the key.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::openai::model_ids;
use super::transport::{Decoder, Transport, stream_error};
use super::wire::{SseEvent, SseParser, ToolCallAssembler, protocol};
use super::{
    ChatRequest, EventStream, FinishReason, Provider, ProviderConfig, ProviderError, Role,
    StreamEvent, Usage,
};

const API_VERSION: &str = "2023-06-01";
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 4096;

pub(crate) struct Anthropic {
    config: ProviderConfig,
    transport: Arc<Transport>,
}

impl Anthropic {
    pub(crate) fn new(config: ProviderConfig) -> Result<Self, ProviderError> {
        let transport = Arc::new(Transport::new(&config)?);
        Ok(Anthropic { config, transport })
    }

    fn headers(&self) -> Vec<(&'static str, zeroize::Zeroizing<String>)> {
        let mut headers = vec![(
            "anthropic-version",
            zeroize::Zeroizing::new(API_VERSION.to_owned()),
        )];
        if let Some(k) = self.transport.key() {
            headers.push(("x-api-key", zeroize::Zeroizing::new(k.to_owned())));
        }
        headers
    }
}

/// Appends content blocks as `role`, merging with the previous message when
/// it has the same role (the API wants user and assistant to alternate).
fn push_blocks(messages: &mut Vec<Value>, role: &str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    if let Some(last) = messages.last_mut()
        && last["role"] == role
        && let Some(content) = last["content"].as_array_mut()
    {
        content.extend(blocks);
        return;
    }
    messages.push(json!({"role": role, "content": blocks}));
}

fn text_block(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| json!({"type": "text", "text": text}))
}

pub(crate) fn request_body(request: &ChatRequest) -> Value {
    let mut system = Vec::new();
    let mut messages = Vec::new();
    for m in &request.messages {
        match m.role {
            Role::System => system.push(m.content.as_str()),
            Role::User => push_blocks(
                &mut messages,
                "user",
                text_block(&m.content).into_iter().collect(),
            ),
            Role::Assistant => {
                let mut blocks: Vec<Value> = text_block(&m.content).into_iter().collect();
                for call in &m.tool_calls {
                    let input = serde_json::from_str::<Value>(&call.arguments)
                        .ok()
                        .filter(Value::is_object)
                        .unwrap_or_else(|| json!({}));
                    blocks.push(json!({
                        "type": "tool_use",
                        "id": call.id,
                        "name": call.name,
                        "input": input,
                    }));
                }
                push_blocks(&mut messages, "assistant", blocks);
            }
            Role::Tool => push_blocks(
                &mut messages,
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": m.tool_call_id.clone().unwrap_or_default(),
                    "content": m.content,
                })],
            ),
        }
    }
    let mut body = json!({
        "model": request.model,
        "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": messages,
        "stream": true,
    });
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "description": t.description,
                    "input_schema": t.parameters,
                })
            })
            .collect();
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    body
}

pub(crate) struct AnthropicDecoder {
    sse: SseParser,
    tools: ToolCallAssembler,
    usage: Usage,
    saw_usage: bool,
    stop: Option<FinishReason>,
    saw_tools: bool,
    done: bool,
    transport: Arc<Transport>,
}

impl AnthropicDecoder {
    pub(crate) fn new(transport: Arc<Transport>) -> Self {
        AnthropicDecoder {
            sse: SseParser::new(),
            tools: ToolCallAssembler::new(),
            usage: Usage::default(),
            saw_usage: false,
            stop: None,
            saw_tools: false,
            done: false,
            transport,
        }
    }

    fn read_usage(&mut self, usage: &Value) {
        if !usage.is_object() {
            return;
        }
        self.saw_usage = true;
        let input: u64 = [
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        ]
        .iter()
        .filter_map(|k| usage[*k].as_u64())
        .sum();
        if input > 0 {
            self.usage.input_tokens = input;
        }
        // Output counts are cumulative: the last one wins.
        if let Some(n) = usage["output_tokens"].as_u64() {
            self.usage.output_tokens = n;
        }
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        self.done = true;
        let had_tools = self.saw_tools || !self.tools.is_empty();
        out.extend(self.tools.take_all().into_iter().map(StreamEvent::ToolCall));
        if self.saw_usage {
            out.push(StreamEvent::Usage(self.usage));
        }
        let reason = match self.stop {
            None if had_tools => FinishReason::ToolCalls,
            Some(r) => r,
            None => FinishReason::Stop,
        };
        out.push(StreamEvent::Finished(reason));
    }

    fn event(&mut self, event: SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        if self.done {
            return Ok(());
        }
        let v: Value = serde_json::from_str(&event.data)
            .map_err(|e| ProviderError::Protocol(format!("a stream event is not JSON: {e}")))?;
        let kind = v["type"]
            .as_str()
            .unwrap_or(event.event.as_str())
            .to_owned();
        let index = v["index"].as_u64().unwrap_or(0);
        match kind.as_str() {
            "message_start" => self.read_usage(&v["message"]["usage"]),
            "content_block_start" => {
                let block = &v["content_block"];
                match block["type"].as_str() {
                    Some("tool_use") => {
                        self.tools
                            .push(index, block["id"].as_str(), block["name"].as_str(), None);
                    }
                    Some("text") => {
                        if let Some(text) = block["text"].as_str().filter(|t| !t.is_empty()) {
                            out.push(StreamEvent::Delta(text.to_owned()));
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = &v["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => {
                        if let Some(text) = delta["text"].as_str().filter(|t| !t.is_empty()) {
                            out.push(StreamEvent::Delta(text.to_owned()));
                        }
                    }
                    Some("input_json_delta") => {
                        self.tools
                            .push(index, None, None, delta["partial_json"].as_str());
                    }
                    _ => {} // thinking and signatures are not shown
                }
            }
            "content_block_stop" => {
                if self.tools.contains(index)
                    && let Some(call) = self.tools.take(index)
                {
                    // A whole call as soon as its block closes.
                    self.saw_tools = true;
                    out.push(StreamEvent::ToolCall(call));
                }
            }
            "message_delta" => {
                if let Some(reason) = v["delta"]["stop_reason"].as_str() {
                    self.stop = Some(match reason {
                        "end_turn" | "stop_sequence" => FinishReason::Stop,
                        "tool_use" => FinishReason::ToolCalls,
                        "max_tokens" => FinishReason::Length,
                        _ => FinishReason::Other,
                    });
                }
                self.read_usage(&v["usage"]);
            }
            "message_stop" => self.finish(out),
            "error" => return Err(stream_error(&self.transport, &v["error"])),
            _ => {} // ping and future event types
        }
        Ok(())
    }
}

impl Decoder for AnthropicDecoder {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        let mut events = Vec::new();
        self.sse.feed(bytes, &mut events).map_err(protocol)?;
        events.into_iter().try_for_each(|e| self.event(e, out))
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        let mut events = Vec::new();
        self.sse.finish(&mut events).map_err(protocol)?;
        events.into_iter().try_for_each(|e| self.event(e, out))?;
        // A stop reason without `message_stop` still ends the reply whole.
        if self.stop.is_some() && self.tools.is_empty() {
            self.finish(out);
        }
        Ok(())
    }
}

impl Provider for Anthropic {
    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<EventStream, ProviderError>> {
        Box::pin(async move {
            let body = request_body(&request);
            let response = self
                .transport
                .send("POST", "/v1/messages", &self.headers(), Some(&body))
                .await?;
            Ok(self
                .transport
                .events(response, AnthropicDecoder::new(Arc::clone(&self.transport))))
        })
    }

    fn list_models(&self) -> BoxFuture<'_, Result<Vec<String>, ProviderError>> {
        Box::pin(async move {
            let reply = self
                .transport
                .json("GET", "/v1/models", &self.headers(), None)
                .await?;
            model_ids(&reply)
        })
    }

    fn embed(&self, _inputs: Vec<String>) -> BoxFuture<'_, Result<Vec<Vec<f32>>, ProviderError>> {
        Box::pin(async { Err(ProviderError::NoEmbeddings) })
    }
}
