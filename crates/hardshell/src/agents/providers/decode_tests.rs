//! Decoder tests on recorded-style streams: the events are the same however
//! the bytes are split, and CRLF line endings change nothing.

use std::sync::Arc;

use proptest::prelude::*;

use super::anthropic::AnthropicDecoder;
use super::ollama::OllamaDecoder;
use super::openai::OpenAiDecoder;
use super::transport::{Decoder, Transport};
use super::{FinishReason, ProviderConfig, ProviderKind, StreamEvent, ToolCall, Usage};

const OPENAI: &str = concat!(
    ": OPENROUTER PROCESSING\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Sure, é\"},\"finish_reason\":null}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"memory_save\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"te\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"memory_search\",\"arguments\":\"{}\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"xt\\\":\\\"x\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":5,\"total_tokens\":16}}\n\n",
    "data: [DONE]\n\n",
);

const OLLAMA: &str = concat!(
    "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"Sure, é\"},\"done\":false}\n",
    "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"memory_save\",\"arguments\":{\"text\":\"x\"}}},{\"function\":{\"name\":\"memory_search\",\"arguments\":{}}}]},\"done\":false}\n",
    "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":11,\"eval_count\":5}\n",
);

const ANTHROPIC: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":11,\"output_tokens\":1}}}\n\n",
    "event: ping\ndata: {\"type\": \"ping\"}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Sure, é\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"memory_save\",\"input\":{}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"te\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"xt\\\":\\\"x\\\"}\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":\"memory_search\",\"input\":{}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":5}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

fn expected() -> Vec<StreamEvent> {
    vec![
        StreamEvent::Delta("Sure, é".into()),
        StreamEvent::ToolCall(ToolCall {
            id: "call_1".into(),
            name: "memory_save".into(),
            arguments: r#"{"text":"x"}"#.into(),
        }),
        StreamEvent::ToolCall(ToolCall {
            id: "call_2".into(),
            name: "memory_search".into(),
            arguments: "{}".into(),
        }),
        StreamEvent::Usage(Usage {
            input_tokens: 11,
            output_tokens: 5,
        }),
        StreamEvent::Finished(FinishReason::ToolCalls),
    ]
}

fn transport() -> Arc<Transport> {
    let mut config = ProviderConfig::new("t", ProviderKind::Openai);
    config.base_url = "http://127.0.0.1:9".into();
    Arc::new(Transport::new(&config).unwrap())
}

fn decode(kind: ProviderKind, pieces: &[&[u8]]) -> Vec<StreamEvent> {
    let t = transport();
    let mut decoder: Box<dyn Decoder> = match kind {
        ProviderKind::Openai => Box::new(OpenAiDecoder::new(t)),
        ProviderKind::Ollama => Box::new(OllamaDecoder::new(t)),
        ProviderKind::Anthropic => Box::new(AnthropicDecoder::new(t)),
    };
    let mut out = Vec::new();
    for p in pieces {
        decoder.feed(p, &mut out).unwrap();
    }
    decoder.end(&mut out).unwrap();
    // Ollama gives no ids; number the synthesised ones for comparison.
    let mut n = 0;
    for e in &mut out {
        if let StreamEvent::ToolCall(c) = e {
            n += 1;
            if kind == ProviderKind::Ollama {
                assert!(c.id.starts_with("call_"));
                c.id = format!("call_{n}");
            }
        }
    }
    out
}

fn source(kind: ProviderKind, crlf: bool) -> String {
    let raw = match kind {
        ProviderKind::Openai => OPENAI,
        ProviderKind::Ollama => OLLAMA,
        ProviderKind::Anthropic => ANTHROPIC,
    };
    if crlf {
        raw.replace('\n', "\r\n")
    } else {
        raw.to_owned()
    }
}

fn kinds() -> impl Strategy<Value = ProviderKind> {
    prop_oneof![
        Just(ProviderKind::Openai),
        Just(ProviderKind::Ollama),
        Just(ProviderKind::Anthropic),
    ]
}

#[test]
fn each_format_decodes_to_the_same_events() {
    for kind in [
        ProviderKind::Openai,
        ProviderKind::Ollama,
        ProviderKind::Anthropic,
    ] {
        let raw = source(kind, false);
        assert_eq!(decode(kind, &[raw.as_bytes()]), expected(), "{kind:?}");
        let singles: Vec<&[u8]> = raw.as_bytes().chunks(1).collect();
        assert_eq!(decode(kind, &singles), expected(), "{kind:?} byte by byte");
    }
}

proptest! {
    #[test]
    fn decoding_does_not_depend_on_how_the_bytes_are_split(
        kind in kinds(),
        crlf in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..24),
    ) {
        let raw = source(kind, crlf);
        let bytes = raw.as_bytes();
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        points.dedup();
        let mut pieces = Vec::new();
        let mut last = 0;
        for p in points {
            pieces.push(&bytes[last..p]);
            last = p;
        }
        pieces.push(&bytes[last..]);
        prop_assert_eq!(decode(kind, &pieces), expected());
    }
}
