//! Ollama's native API: `POST {base}/api/chat` streaming NDJSON. Tool calls
//! arrive whole with object arguments (serialised back to JSON text here)
//! and without ids (synthesised). Usage comes from `prompt_eval_count` and
//! `eval_count` on the final line. It only translates; it never logs.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::openai::vector;
use super::transport::{Decoder, Transport, stream_error};
use super::wire::{NdjsonSplitter, synth_call_id};
use super::{
    ChatMessage, ChatRequest, EventStream, FinishReason, Provider, ProviderConfig, ProviderError,
    Role, StreamEvent, ToolCall, Usage,
};

pub(crate) struct Ollama {
    config: ProviderConfig,
    transport: Arc<Transport>,
}

impl Ollama {
    pub(crate) fn new(config: ProviderConfig) -> Result<Self, ProviderError> {
        let transport = Arc::new(Transport::new(&config)?);
        Ok(Ollama { config, transport })
    }

    /// Ollama has no keys, but a proxy in front of it may.
    fn auth(&self) -> Vec<(&'static str, zeroize::Zeroizing<String>)> {
        self.transport
            .key()
            .map(|k| vec![("authorization", super::transport::bearer(k))])
            .unwrap_or_default()
    }
}

fn message(m: &ChatMessage) -> Value {
    match m.role {
        Role::Assistant if !m.tool_calls.is_empty() => {
            let calls: Vec<Value> = m
                .tool_calls
                .iter()
                .map(|c| {
                    // Ollama wants the arguments as an object.
                    let arguments = serde_json::from_str::<Value>(&c.arguments)
                        .unwrap_or_else(|_| Value::String(c.arguments.clone()));
                    json!({"function": {"name": c.name, "arguments": arguments}})
                })
                .collect();
            json!({"role": "assistant", "content": m.content, "tool_calls": calls})
        }
        Role::Tool => json!({
            "role": "tool",
            "content": m.content,
            "tool_name": m.tool_name.clone().unwrap_or_default(),
        }),
        role => json!({"role": role, "content": m.content}),
    }
}

pub(crate) fn request_body(request: &ChatRequest) -> Value {
    let mut body = json!({
        "model": request.model,
        "messages": request.messages.iter().map(message).collect::<Vec<_>>(),
        "stream": true,
    });
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                })
            })
            .collect();
    }
    let mut options = serde_json::Map::new();
    if let Some(n) = request.max_tokens {
        options.insert("num_predict".into(), json!(n));
    }
    if let Some(t) = request.temperature {
        options.insert("temperature".into(), json!(t));
    }
    if !options.is_empty() {
        body["options"] = Value::Object(options);
    }
    body
}

pub(crate) struct OllamaDecoder {
    lines: NdjsonSplitter,
    saw_tools: bool,
    done: bool,
    transport: Arc<Transport>,
}

impl OllamaDecoder {
    pub(crate) fn new(transport: Arc<Transport>) -> Self {
        OllamaDecoder {
            lines: NdjsonSplitter::new(),
            saw_tools: false,
            done: false,
            transport,
        }
    }

    fn line(&mut self, line: &str, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        if self.done {
            return Ok(());
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| ProviderError::Protocol(format!("a stream line is not JSON: {e}")))?;
        if let Some(error) = v.get("error").filter(|e| !e.is_null()) {
            return Err(stream_error(&self.transport, error));
        }
        let message = &v["message"];
        if let Some(text) = message["content"].as_str().filter(|t| !t.is_empty()) {
            out.push(StreamEvent::Delta(text.to_owned()));
        }
        if let Some(calls) = message["tool_calls"].as_array() {
            for call in calls {
                let function = &call["function"];
                let name = function["name"]
                    .as_str()
                    .ok_or_else(|| ProviderError::Protocol("a tool call has no name".into()))?;
                let arguments = match &function["arguments"] {
                    Value::String(s) => s.clone(),
                    Value::Null => "{}".to_owned(),
                    other => other.to_string(),
                };
                let id = call["id"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map_or_else(synth_call_id, str::to_owned);
                self.saw_tools = true;
                out.push(StreamEvent::ToolCall(ToolCall {
                    id,
                    name: name.to_owned(),
                    arguments,
                }));
            }
        }
        if v["done"].as_bool() == Some(true) {
            self.done = true;
            out.push(StreamEvent::Usage(Usage {
                input_tokens: v["prompt_eval_count"].as_u64().unwrap_or(0),
                output_tokens: v["eval_count"].as_u64().unwrap_or(0),
            }));
            let reason = match v["done_reason"].as_str() {
                _ if self.saw_tools => FinishReason::ToolCalls,
                None | Some("stop") => FinishReason::Stop,
                Some("length") => FinishReason::Length,
                Some(_) => FinishReason::Other,
            };
            out.push(StreamEvent::Finished(reason));
        }
        Ok(())
    }
}

impl Decoder for OllamaDecoder {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        let mut lines = Vec::new();
        self.lines.feed(bytes, &mut lines);
        lines.iter().try_for_each(|l| self.line(l, out))
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        let mut lines = Vec::new();
        self.lines.finish(&mut lines);
        lines.iter().try_for_each(|l| self.line(l, out))
    }
}

impl Provider for Ollama {
    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<EventStream, ProviderError>> {
        Box::pin(async move {
            let body = request_body(&request);
            let response = self
                .transport
                .send("POST", "/api/chat", &self.auth(), Some(&body))
                .await?;
            Ok(self
                .transport
                .events(response, OllamaDecoder::new(Arc::clone(&self.transport))))
        })
    }

    fn list_models(&self) -> BoxFuture<'_, Result<Vec<String>, ProviderError>> {
        Box::pin(async move {
            let reply = self
                .transport
                .json("GET", "/api/tags", &self.auth(), None)
                .await?;
            let models = reply["models"]
                .as_array()
                .ok_or_else(|| ProviderError::Protocol("the model list has no models".into()))?;
            Ok(models
                .iter()
                .filter_map(|m| {
                    m["name"]
                        .as_str()
                        .or(m["model"].as_str())
                        .map(str::to_owned)
                })
                .collect())
        })
    }

    fn embed(&self, inputs: Vec<String>) -> BoxFuture<'_, Result<Vec<Vec<f32>>, ProviderError>> {
        Box::pin(async move {
            let model = self
                .config
                .embedding_model
                .clone()
                .ok_or(ProviderError::NoEmbeddings)?;
            if inputs.is_empty() {
                return Ok(Vec::new());
            }
            let body = json!({"model": model, "input": inputs});
            let reply = self
                .transport
                .json("POST", "/api/embed", &self.auth(), Some(&body))
                .await?;
            let vectors = reply["embeddings"]
                .as_array()
                .ok_or_else(|| ProviderError::Protocol("embed reply has no embeddings".into()))?
                .iter()
                .map(vector)
                .collect::<Result<Vec<_>, _>>()?;
            if vectors.len() != inputs.len() {
                return Err(ProviderError::Protocol(format!(
                    "asked for {} embeddings, got {}",
                    inputs.len(),
                    vectors.len()
                )));
            }
            Ok(vectors)
        })
    }
}
