//! OpenAI-compatible chat completions (OpenAI, OpenRouter, vLLM, LM Studio,
//! llama.cpp): `POST {base}/chat/completions` with `stream: true` and usage
//! in the last chunk, tool calls assembled from indexed fragments. It only
//! translates; it never logs content or the key.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::transport::{Decoder, Transport, stream_error};
use super::wire::{SseEvent, SseParser, ToolCallAssembler, protocol};
use super::{
    ChatMessage, ChatRequest, EventStream, FinishReason, Provider, ProviderConfig, ProviderError,
    Role, StreamEvent, Usage,
};

pub(crate) struct OpenAi {
    config: ProviderConfig,
    transport: Arc<Transport>,
}

impl OpenAi {
    pub(crate) fn new(config: ProviderConfig) -> Result<Self, ProviderError> {
        let transport = Arc::new(Transport::new(&config)?);
        Ok(OpenAi { config, transport })
    }

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
                    json!({
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    })
                })
                .collect();
            let content = if m.content.is_empty() {
                Value::Null
            } else {
                Value::String(m.content.clone())
            };
            json!({"role": "assistant", "content": content, "tool_calls": calls})
        }
        Role::Tool => json!({
            "role": "tool",
            "tool_call_id": m.tool_call_id.clone().unwrap_or_default(),
            "content": m.content,
        }),
        role => json!({"role": role, "content": m.content}),
    }
}

/// The request body for a streamed completion.
pub(crate) fn request_body(request: &ChatRequest) -> Value {
    let mut body = json!({
        "model": request.model,
        "messages": request.messages.iter().map(message).collect::<Vec<_>>(),
        "stream": true,
        "stream_options": {"include_usage": true},
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
    if let Some(n) = request.max_tokens {
        body["max_tokens"] = json!(n);
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    body
}

fn finish_reason(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::Stop,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "length" => FinishReason::Length,
        _ => FinishReason::Other,
    }
}

pub(crate) struct OpenAiDecoder {
    sse: SseParser,
    tools: ToolCallAssembler,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    done: bool,
    transport: Arc<Transport>,
}

impl OpenAiDecoder {
    pub(crate) fn new(transport: Arc<Transport>) -> Self {
        OpenAiDecoder {
            sse: SseParser::new(),
            tools: ToolCallAssembler::new(),
            finish: None,
            usage: None,
            done: false,
            transport,
        }
    }

    fn flush(&mut self, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        self.done = true;
        let had_tools = !self.tools.is_empty();
        out.extend(self.tools.take_all().into_iter().map(StreamEvent::ToolCall));
        if let Some(usage) = self.usage {
            out.push(StreamEvent::Usage(usage));
        }
        let reason = match self.finish {
            // Some compatible servers say "stop" after tool calls.
            _ if had_tools => FinishReason::ToolCalls,
            Some(r) => r,
            None => FinishReason::Stop,
        };
        out.push(StreamEvent::Finished(reason));
    }

    fn event(&mut self, event: SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.flush(out);
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| ProviderError::Protocol(format!("a stream chunk is not JSON: {e}")))?;
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(stream_error(&self.transport, error));
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(Usage {
                input_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0),
                output_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
            });
        }
        let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) else {
            return Ok(());
        };
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            out.push(StreamEvent::Delta(text.to_owned()));
        }
        if let Some(calls) = delta["tool_calls"].as_array() {
            for (i, call) in calls.iter().enumerate() {
                let index = call["index"].as_u64().unwrap_or(i as u64);
                self.tools.push(
                    index,
                    call["id"].as_str(),
                    call["function"]["name"].as_str(),
                    call["function"]["arguments"].as_str(),
                );
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish = Some(finish_reason(reason));
        }
        Ok(())
    }
}

impl Decoder for OpenAiDecoder {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        let mut events = Vec::new();
        self.sse.feed(bytes, &mut events).map_err(protocol)?;
        for event in events {
            self.event(event, out)?;
        }
        Ok(())
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        let mut events = Vec::new();
        self.sse.finish(&mut events).map_err(protocol)?;
        for event in events {
            self.event(event, out)?;
        }
        // Without `[DONE]`, a finish reason still proves the reply is whole.
        if self.finish.is_some() {
            self.flush(out);
        }
        Ok(())
    }
}

impl Provider for OpenAi {
    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<EventStream, ProviderError>> {
        Box::pin(async move {
            let body = request_body(&request);
            let response = self
                .transport
                .send("POST", "/chat/completions", &self.auth(), Some(&body))
                .await?;
            Ok(self
                .transport
                .events(response, OpenAiDecoder::new(Arc::clone(&self.transport))))
        })
    }

    fn list_models(&self) -> BoxFuture<'_, Result<Vec<String>, ProviderError>> {
        Box::pin(async move {
            let reply = self
                .transport
                .json("GET", "/models", &self.auth(), None)
                .await?;
            model_ids(&reply)
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
                .json("POST", "/embeddings", &self.auth(), Some(&body))
                .await?;
            let mut rows: Vec<(u64, Vec<f32>)> = reply["data"]
                .as_array()
                .ok_or_else(|| ProviderError::Protocol("embeddings reply has no data".into()))?
                .iter()
                .enumerate()
                .map(|(i, row)| {
                    Ok((
                        row["index"].as_u64().unwrap_or(i as u64),
                        vector(&row["embedding"])?,
                    ))
                })
                .collect::<Result<_, ProviderError>>()?;
            rows.sort_by_key(|(i, _)| *i);
            let vectors: Vec<Vec<f32>> = rows.into_iter().map(|(_, v)| v).collect();
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

/// `{"data":[{"id":…}]}`, the shape OpenAI and Anthropic share.
pub(crate) fn model_ids(reply: &Value) -> Result<Vec<String>, ProviderError> {
    let data = reply["data"]
        .as_array()
        .ok_or_else(|| ProviderError::Protocol("the model list has no data".into()))?;
    Ok(data
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect())
}

/// A JSON array of numbers as `f32`s.
pub(crate) fn vector(value: &Value) -> Result<Vec<f32>, ProviderError> {
    value
        .as_array()
        .ok_or_else(|| ProviderError::Protocol("an embedding is not an array".into()))?
        .iter()
        .map(|x| {
            x.as_f64()
                .map(|f| f as f32)
                .ok_or_else(|| ProviderError::Protocol("an embedding holds a non-number".into()))
        })
        .collect()
}
