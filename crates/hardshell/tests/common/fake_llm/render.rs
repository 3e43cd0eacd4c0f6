//! Renders a scripted [`Reply`] in each provider's wire format, as the
//! real services stream it. Test support only.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Reply, Step};

pub(super) fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// What the writer task does, in order.
pub(super) enum Piece {
    Bytes { data: Vec<u8>, content: bool },
    Delay(Duration),
    Hang,
}
fn sse(event: Option<&str>, data: &Value) -> Vec<u8> {
    match event {
        Some(e) => format!("event: {e}\ndata: {data}\n\n").into_bytes(),
        None => format!("data: {data}\n\n").into_bytes(),
    }
}

fn output_usage(reply: &Reply, input: u64) -> (u64, u64) {
    let mut usage = None;
    let mut text = String::new();
    let mut calls = 0;
    for s in &reply.steps {
        match s {
            Step::Usage { input, output } => usage = Some((*input, *output)),
            Step::Text(t) => text.push_str(t),
            Step::ToolCall { .. } => calls += 1,
            _ => {}
        }
    }
    usage.unwrap_or((input, (words(&text) + calls).max(1)))
}

fn has_tool_calls(reply: &Reply) -> bool {
    reply
        .steps
        .iter()
        .any(|s| matches!(s, Step::ToolCall { .. }))
}

pub(super) fn render_openai(
    reply: &Reply,
    model: &str,
    input: u64,
    include_usage: bool,
) -> Vec<Piece> {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut out = vec![Piece::Bytes {
        data: sse(
            None,
            &chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        ),
        content: false,
    }];
    let mut tool_index = 0;
    for step in &reply.steps {
        match step {
            Step::Text(t) => out.push(Piece::Bytes {
                data: sse(None, &chunk(json!({"content": t}), Value::Null)),
                content: true,
            }),
            Step::ToolCall {
                id,
                name,
                fragments,
            } => {
                out.push(Piece::Bytes {
                    data: sse(None, &chunk(json!({"tool_calls": [{"index": tool_index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}), Value::Null)),
                    content: true,
                });
                for f in fragments {
                    out.push(Piece::Bytes {
                        data: sse(None, &chunk(json!({"tool_calls": [{"index": tool_index, "function": {"arguments": f}}]}), Value::Null)),
                        content: true,
                    });
                }
                tool_index += 1;
            }
            Step::Error(m) => out.push(Piece::Bytes {
                data: sse(
                    None,
                    &json!({"error": {"message": m, "type": "server_error", "code": null}}),
                ),
                content: false,
            }),
            Step::Delay(d) => out.push(Piece::Delay(*d)),
            Step::Hang => out.push(Piece::Hang),
            Step::Usage { .. } => {}
        }
    }
    if reply.cut {
        return out;
    }
    let finish = reply.finish.clone().unwrap_or_else(|| {
        if has_tool_calls(reply) {
            "tool_calls"
        } else {
            "stop"
        }
        .to_owned()
    });
    out.push(Piece::Bytes {
        data: sse(None, &chunk(json!({}), json!(finish))),
        content: false,
    });
    if include_usage {
        let (i, o) = output_usage(reply, input);
        out.push(Piece::Bytes {
            data: sse(None, &json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [],
                                     "usage": {"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o}})),
            content: false,
        });
    }
    out.push(Piece::Bytes {
        data: b"data: [DONE]\n\n".to_vec(),
        content: false,
    });
    out
}

pub(super) fn render_ollama(reply: &Reply, model: &str, input: u64) -> Vec<Piece> {
    let line = |message: Value, done: bool| {
        let mut v = json!({"model": model, "created_at": "2026-01-01T00:00:00Z", "message": message, "done": done});
        let mut s = v.take().to_string();
        s.push('\n');
        s.into_bytes()
    };
    let mut out = Vec::new();
    for step in &reply.steps {
        match step {
            Step::Text(t) => out.push(Piece::Bytes {
                data: line(json!({"role": "assistant", "content": t}), false),
                content: true,
            }),
            Step::ToolCall {
                name, fragments, ..
            } => {
                let raw = fragments.concat();
                let arguments = serde_json::from_str::<Value>(&raw).unwrap_or(Value::String(raw));
                out.push(Piece::Bytes {
                    data: line(json!({"role": "assistant", "content": "", "tool_calls": [{"function": {"name": name, "arguments": arguments}}]}), false),
                    content: true,
                });
            }
            Step::Error(m) => out.push(Piece::Bytes {
                data: format!("{}\n", json!({"error": m})).into_bytes(),
                content: false,
            }),
            Step::Delay(d) => out.push(Piece::Delay(*d)),
            Step::Hang => out.push(Piece::Hang),
            Step::Usage { .. } => {}
        }
    }
    if reply.cut {
        return out;
    }
    let (i, o) = output_usage(reply, input);
    let finish = reply.finish.clone().unwrap_or_else(|| "stop".into());
    let done = json!({"model": model, "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": finish,
        "total_duration": 1000, "prompt_eval_count": i, "eval_count": o});
    out.push(Piece::Bytes {
        data: format!("{done}\n").into_bytes(),
        content: false,
    });
    out
}

pub(super) fn render_anthropic(reply: &Reply, model: &str, input: u64) -> Vec<Piece> {
    let (i, o) = output_usage(reply, input);
    let mut out = vec![
        Piece::Bytes {
            data: sse(
                Some("message_start"),
                &json!({"type": "message_start", "message": {
                "id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": i, "output_tokens": 1}}}),
            ),
            content: false,
        },
        Piece::Bytes {
            data: sse(Some("ping"), &json!({"type": "ping"})),
            content: false,
        },
    ];
    let mut index = 0u64;
    let mut text_open = false;
    let close = |out: &mut Vec<Piece>, index: u64| {
        out.push(Piece::Bytes {
            data: sse(
                Some("content_block_stop"),
                &json!({"type": "content_block_stop", "index": index}),
            ),
            content: false,
        });
    };
    for step in &reply.steps {
        match step {
            Step::Text(t) => {
                if !text_open {
                    out.push(Piece::Bytes {
                        data: sse(Some("content_block_start"), &json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})),
                        content: false,
                    });
                    text_open = true;
                }
                out.push(Piece::Bytes {
                    data: sse(Some("content_block_delta"), &json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": t}})),
                    content: true,
                });
            }
            Step::ToolCall {
                id,
                name,
                fragments,
            } => {
                if text_open {
                    close(&mut out, index);
                    index += 1;
                    text_open = false;
                }
                out.push(Piece::Bytes {
                    data: sse(Some("content_block_start"), &json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}})),
                    content: true,
                });
                for f in fragments {
                    out.push(Piece::Bytes {
                        data: sse(Some("content_block_delta"), &json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": f}})),
                        content: true,
                    });
                }
                close(&mut out, index);
                index += 1;
            }
            Step::Error(m) => out.push(Piece::Bytes {
                data: sse(
                    Some("error"),
                    &json!({"type": "error", "error": {"type": "overloaded_error", "message": m}}),
                ),
                content: false,
            }),
            Step::Delay(d) => out.push(Piece::Delay(*d)),
            Step::Hang => out.push(Piece::Hang),
            Step::Usage { .. } => {}
        }
    }
    if reply.cut {
        return out;
    }
    if text_open {
        close(&mut out, index);
    }
    let stop = reply.finish.clone().unwrap_or_else(|| {
        if has_tool_calls(reply) {
            "tool_use"
        } else {
            "end_turn"
        }
        .to_owned()
    });
    out.push(Piece::Bytes {
        data: sse(Some("message_delta"), &json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": o}})),
        content: false,
    });
    out.push(Piece::Bytes {
        data: sse(Some("message_stop"), &json!({"type": "message_stop"})),
        content: false,
    });
    out
}
