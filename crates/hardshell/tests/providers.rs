//! The three providers against the fake LLM server: streamed text, tool
//! calls split across chunks and TCP writes, usage, retries, errors,
//! timeouts, cancellation, model lists, embeddings, the request shapes
//! (typed tool results, system prompt placement) and that the API key
//! never shows up in an error or a Debug line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::fake_llm::{FakeLlm, Reply, Step};
use futures_util::StreamExt;
use hardshell::agents::providers::{
    CallLimits, ChatMessage, ChatRequest, EventStream, FinishReason, ProviderConfig, ProviderError,
    ProviderKind, SharedProvider, StreamEvent, ToolCall, ToolSpec, Usage, build,
};
use secrecy::SecretString;
use serde_json::{Value, json};

const KEY: &str = "sk-test-4f9a1c7e2b8d0e6f";
const KINDS: [ProviderKind; 3] = [
    ProviderKind::Openai,
    ProviderKind::Ollama,
    ProviderKind::Anthropic,
];

fn limits() -> CallLimits {
    CallLimits {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(400),
        total_timeout: Duration::from_secs(20),
        max_retries: 2,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(40),
        max_response_bytes: 1024 * 1024,
    }
}

fn config(kind: ProviderKind, base_url: String) -> ProviderConfig {
    ProviderConfig {
        name: kind.as_str().into(),
        kind,
        base_url,
        api_key: Some(SecretString::from(KEY)),
        embedding_model: Some("fake-embed".into()),
        limits: limits(),
    }
}

fn provider(llm: &FakeLlm, kind: ProviderKind) -> SharedProvider {
    build(config(kind, llm.base_url(kind.as_str()))).unwrap()
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest {
        model: "fake-model".into(),
        messages: vec![
            ChatMessage::system("You are helpful."),
            ChatMessage::user(text),
        ],
        tools: Vec::new(),
        max_tokens: None,
        temperature: None,
    }
}

/// Every event until the end, and the error that ended it, if any.
async fn drain(mut stream: EventStream) -> (Vec<StreamEvent>, Option<ProviderError>) {
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(e) => events.push(e),
            Err(e) => return (events, Some(e)),
        }
    }
    (events, None)
}

async fn run(p: &SharedProvider, request: ChatRequest) -> Vec<StreamEvent> {
    let (events, err) = drain(p.stream(request).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    events
}

fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Delta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn calls_of(events: &[StreamEvent]) -> Vec<ToolCall> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_streamed_reply_in_every_format() {
    let llm = FakeLlm::start().await;
    for kind in KINDS {
        llm.push(Reply::text(["Hel", "lo", " world"]).with_usage(7, 3));
        let events = run(&provider(&llm, kind), ask("hi")).await;
        assert_eq!(
            events,
            vec![
                StreamEvent::Delta("Hel".into()),
                StreamEvent::Delta("lo".into()),
                StreamEvent::Delta(" world".into()),
                StreamEvent::Usage(Usage {
                    input_tokens: 7,
                    output_tokens: 3
                }),
                StreamEvent::Finished(FinishReason::Stop),
            ],
            "{kind:?}"
        );
    }
    let sent = llm.chat_requests();
    assert_eq!(
        sent.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        ["/v1/chat/completions", "/api/chat", "/v1/messages"]
    );
    for r in &sent {
        assert_eq!(r.method, "POST");
        assert_eq!(r.body["model"], "fake-model");
        assert_eq!(r.body["stream"], true);
    }
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent[0].body["stream_options"]["include_usage"], true);
    assert_eq!(sent[2].header("x-api-key"), Some(KEY));
    assert_eq!(sent[2].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent[2].header("authorization"), None);
}

#[tokio::test]
async fn the_default_reply_echoes_the_last_user_message() {
    let llm = FakeLlm::start().await;
    for kind in KINDS {
        let events = run(&provider(&llm, kind), ask("say the word swordfish")).await;
        assert_eq!(text_of(&events), "say the word swordfish", "{kind:?}");
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Finished(FinishReason::Stop))
        );
        // Default usage counts words: 7 in, 4 out.
        assert!(events.contains(&StreamEvent::Usage(Usage {
            input_tokens: 7,
            output_tokens: 4
        })));
    }
}

#[tokio::test]
async fn a_tool_call_split_across_chunks_and_tiny_writes_arrives_whole() {
    let llm = FakeLlm::start().await;
    let args = r#"{"text":"remember the milk — 2 litres","scope":"user"}"#;
    for kind in KINDS {
        for split in [None, Some(1), Some(7)] {
            let mut reply = Reply::text(["Saving", " that."])
                .with_tool_call("memory_save", args)
                .with_usage(20, 9);
            if let Some(n) = split {
                reply = reply.split_writes(n);
            }
            llm.push(reply);
            let events = run(&provider(&llm, kind), ask("remember the milk")).await;
            let label = format!("{kind:?} split {split:?}");
            assert_eq!(text_of(&events), "Saving that.", "{label}");
            let calls = calls_of(&events);
            assert_eq!(calls.len(), 1, "{label}");
            assert_eq!(calls[0].name, "memory_save");
            assert!(!calls[0].id.is_empty());
            // Ollama sends an object that we serialise; compare as JSON.
            let got: Value = serde_json::from_str(&calls[0].arguments).unwrap();
            assert_eq!(got, serde_json::from_str::<Value>(args).unwrap(), "{label}");
            if kind != ProviderKind::Ollama {
                assert_eq!(calls[0].arguments, args, "{label}");
            }
            let n = events.len();
            assert_eq!(
                &events[n - 2..],
                &[
                    StreamEvent::Usage(Usage {
                        input_tokens: 20,
                        output_tokens: 9
                    }),
                    StreamEvent::Finished(FinishReason::ToolCalls)
                ],
                "{label}"
            );
        }
    }
}

#[tokio::test]
async fn several_tool_calls_come_in_order_with_distinct_ids() {
    let llm = FakeLlm::start().await;
    for kind in KINDS {
        llm.push(
            Reply::tool_call("memory_search", r#"{"query":"milk"}"#)
                .with_tool_call("memory_save", r#"{"text":"eggs"}"#),
        );
        let calls = calls_of(&run(&provider(&llm, kind), ask("x")).await);
        assert_eq!(
            calls.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["memory_search", "memory_save"],
            "{kind:?}"
        );
        assert_ne!(calls[0].id, calls[1].id);
    }
}

fn tool_round() -> (ChatRequest, ToolCall) {
    let call = ToolCall {
        id: "call_abc".into(),
        name: "memory_search".into(),
        arguments: r#"{"query":"milk"}"#.into(),
    };
    let request = ChatRequest {
        model: "fake-model".into(),
        messages: vec![
            ChatMessage::system("SOUL: be kind."),
            ChatMessage::system("Safety preamble."),
            ChatMessage::user("what do I need?"),
            ChatMessage::assistant("Let me look.", vec![call.clone()]),
            ChatMessage::tool(&call, "<untrusted nonce=1>milk</untrusted>"),
        ],
        tools: vec![ToolSpec {
            name: "memory_search".into(),
            description: "Search memories".into(),
            parameters: json!({"type": "object", "properties": {"query": {"type": "string"}}}),
        }],
        max_tokens: None,
        temperature: Some(0.2),
    };
    (request, call)
}

#[tokio::test]
async fn openai_gets_typed_tool_messages() {
    let llm = FakeLlm::start().await;
    let (request, _) = tool_round();
    run(&provider(&llm, ProviderKind::Openai), request).await;
    let body = &llm.last_chat().unwrap().body;
    let m = body["messages"].as_array().unwrap();
    assert_eq!(m[0], json!({"role": "system", "content": "SOUL: be kind."}));
    assert_eq!(m[2], json!({"role": "user", "content": "what do I need?"}));
    assert_eq!(m[3]["role"], "assistant");
    assert_eq!(
        m[3]["tool_calls"][0],
        json!({"id": "call_abc", "type": "function", "function": {"name": "memory_search", "arguments": "{\"query\":\"milk\"}"}})
    );
    assert_eq!(
        m[4],
        json!({"role": "tool", "tool_call_id": "call_abc", "content": "<untrusted nonce=1>milk</untrusted>"})
    );
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "memory_search");
    assert!((body["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
}

#[tokio::test]
async fn ollama_gets_typed_tool_messages_with_object_arguments() {
    let llm = FakeLlm::start().await;
    let (request, _) = tool_round();
    run(&provider(&llm, ProviderKind::Ollama), request).await;
    let body = &llm.last_chat().unwrap().body;
    let m = body["messages"].as_array().unwrap();
    assert_eq!(
        m[3]["tool_calls"][0]["function"],
        json!({"name": "memory_search", "arguments": {"query": "milk"}})
    );
    assert_eq!(
        m[4],
        json!({"role": "tool", "content": "<untrusted nonce=1>milk</untrusted>", "tool_name": "memory_search"})
    );
    assert_eq!(body["tools"][0]["function"]["parameters"]["type"], "object");
}

#[tokio::test]
async fn anthropic_gets_system_on_top_and_tool_results_as_blocks() {
    let llm = FakeLlm::start().await;
    let (request, _) = tool_round();
    run(&provider(&llm, ProviderKind::Anthropic), request).await;
    let body = &llm.last_chat().unwrap().body;
    assert_eq!(body["system"], "SOUL: be kind.\n\nSafety preamble.");
    assert_eq!(body["max_tokens"], 4096);
    let m = body["messages"].as_array().unwrap();
    assert!(m.iter().all(|x| x["role"] != "system"));
    assert_eq!(m.len(), 3);
    assert_eq!(
        m[0],
        json!({"role": "user", "content": [{"type": "text", "text": "what do I need?"}]})
    );
    assert_eq!(
        m[1],
        json!({"role": "assistant", "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "call_abc", "name": "memory_search", "input": {"query": "milk"}}
        ]})
    );
    assert_eq!(
        m[2],
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_abc", "content": "<untrusted nonce=1>milk</untrusted>"}
        ]})
    );
    assert_eq!(body["tools"][0]["input_schema"]["type"], "object");
}

#[tokio::test]
async fn a_429_then_success_is_retried() {
    let llm = FakeLlm::start().await;
    for kind in KINDS {
        let before = llm.chat_requests().len();
        llm.push(Reply::status(429).retry_after(0));
        llm.push(Reply::status(503));
        llm.push(Reply::text(["ok"]));
        let events = run(&provider(&llm, kind), ask("x")).await;
        assert_eq!(text_of(&events), "ok", "{kind:?}");
        assert_eq!(llm.chat_requests().len() - before, 3, "{kind:?}");
    }
}

#[tokio::test]
async fn a_500_after_the_retries_is_a_status_error_with_the_providers_message() {
    let llm = FakeLlm::start().await;
    for kind in KINDS {
        let before = llm.chat_requests().len();
        for _ in 0..3 {
            llm.push(Reply::error(500, "upstream exploded"));
        }
        let err = provider(&llm, kind).stream(ask("x")).await.err().unwrap();
        match &err {
            ProviderError::Status { status, message } => {
                assert_eq!(*status, 500);
                assert_eq!(message, "upstream exploded", "{kind:?}");
            }
            other => panic!("{kind:?}: {other:?}"),
        }
        assert_eq!(err.code(), "provider_error");
        // One try and max_retries (2) retries.
        assert_eq!(llm.chat_requests().len() - before, 3, "{kind:?}");
        assert_eq!(llm.pending(), 0);
    }
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let llm = FakeLlm::start().await;
    for kind in KINDS {
        let before = llm.chat_requests().len();
        llm.push(Reply::error(400, "model not found"));
        llm.push(Reply::text(["never"]));
        let err = provider(&llm, kind).stream(ask("x")).await.err().unwrap();
        assert!(
            matches!(&err, ProviderError::Status { status: 400, message } if message == "model not found"),
            "{kind:?}: {err:?}"
        );
        assert_eq!(llm.chat_requests().len() - before, 1);
        // Consume the unused reply for the next kind.
        run(&provider(&llm, kind), ask("x")).await;
    }
}

#[tokio::test]
async fn a_long_provider_message_is_shortened() {
    let llm = FakeLlm::start().await;
    llm.push(Reply::error(400, &"very long complaint ".repeat(200)));
    let err = provider(&llm, ProviderKind::Openai)
        .stream(ask("x"))
        .await
        .err()
        .unwrap();
    let ProviderError::Status { message, .. } = err else {
        panic!("{err:?}")
    };
    assert!(message.chars().count() <= 301, "{}", message.len());
}

#[tokio::test]
async fn an_unreachable_port_is_unreachable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for kind in KINDS {
        let p = build(config(kind, format!("http://127.0.0.1:{port}"))).unwrap();
        let err = p.stream(ask("x")).await.err().unwrap();
        assert!(
            matches!(&err, ProviderError::Unreachable { url, .. } if url == &format!("http://127.0.0.1:{port}")),
            "{kind:?}: {err:?}"
        );
        assert_eq!(err.code(), "provider_unreachable");
        assert!(!err.to_string().contains(KEY));
        let err = p.list_models().await.unwrap_err();
        assert_eq!(err.code(), "provider_unreachable");
    }
}

#[tokio::test]
async fn a_hang_before_or_during_the_stream_times_out() {
    let llm = FakeLlm::start().await;
    for kind in KINDS {
        llm.push(Reply::hang());
        let err = provider(&llm, kind).stream(ask("x")).await.err().unwrap();
        assert!(
            matches!(err, ProviderError::Timeout(_)),
            "{kind:?}: {err:?}"
        );
        assert_eq!(err.code(), "provider_timeout");

        llm.push(Reply::text(["partial"]).then_hang());
        let (events, err) = drain(provider(&llm, kind).stream(ask("x")).await.unwrap()).await;
        assert_eq!(
            events,
            vec![StreamEvent::Delta("partial".into())],
            "{kind:?}"
        );
        assert!(
            matches!(err, Some(ProviderError::Timeout(_))),
            "{kind:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let llm = FakeLlm::start().await;
    for (i, kind) in KINDS.into_iter().enumerate() {
        let mut p_limits = config(kind, llm.base_url(kind.as_str()));
        p_limits.limits.read_timeout = Duration::from_secs(30);
        let p = build(p_limits).unwrap();
        llm.push(Reply::text(["first"]).then_hang());
        let mut stream = p.stream(ask("x")).await.unwrap();
        assert_eq!(
            stream.next().await.unwrap().unwrap(),
            StreamEvent::Delta("first".into())
        );
        drop(stream); // what "stop" does
        let mut waited = 0;
        while llm.hung_up() < i + 1 && waited < 500 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 1;
        }
        assert_eq!(
            llm.hung_up(),
            i + 1,
            "{kind:?}: the server still holds the call"
        );
    }
}

#[tokio::test]
async fn a_mid_stream_error_ends_the_stream_with_a_status_error() {
    let llm = FakeLlm::start().await;
    for kind in KINDS {
        llm.push(Reply::text(["so far"]).then_error("Overloaded"));
        let (events, err) = drain(provider(&llm, kind).stream(ask("x")).await.unwrap()).await;
        assert_eq!(text_of(&events), "so far", "{kind:?}");
        match err {
            Some(ProviderError::Status { message, .. }) => assert_eq!(message, "Overloaded"),
            other => panic!("{kind:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_cut_stream_is_a_protocol_error_not_a_silent_finish() {
    let llm = FakeLlm::start().await;
    for kind in KINDS {
        llm.push(Reply::text(["half a"]).cut());
        let (events, err) = drain(provider(&llm, kind).stream(ask("x")).await.unwrap()).await;
        assert!(!events.iter().any(|e| matches!(e, StreamEvent::Finished(_))));
        assert!(
            matches!(err, Some(ProviderError::Protocol(_))),
            "{kind:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_length_stop_is_reported() {
    let llm = FakeLlm::start().await;
    for (kind, reason) in [
        (ProviderKind::Openai, "length"),
        (ProviderKind::Ollama, "length"),
        (ProviderKind::Anthropic, "max_tokens"),
    ] {
        llm.push(Reply::text(["trunc"]).finish_reason(reason));
        let events = run(&provider(&llm, kind), ask("x")).await;
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Finished(FinishReason::Length)),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn models_are_listed_in_every_format() {
    let llm = FakeLlm::start().await;
    llm.set_models(&["alpha", "beta"]);
    for kind in KINDS {
        let models = provider(&llm, kind).list_models().await.unwrap();
        assert_eq!(models, ["alpha", "beta"], "{kind:?}");
    }
    let paths: Vec<String> = llm.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/models", "/api/tags", "/v1/models"]);
}

#[tokio::test]
async fn embeddings_where_the_provider_has_them() {
    let llm = FakeLlm::start().await;
    let inputs = vec!["milk".to_string(), "eggs and bread".to_string()];
    for kind in [ProviderKind::Openai, ProviderKind::Ollama] {
        let vectors = provider(&llm, kind).embed(inputs.clone()).await.unwrap();
        assert_eq!(
            vectors,
            vec![
                FakeLlm::embedding_for("milk"),
                FakeLlm::embedding_for("eggs and bread")
            ],
            "{kind:?}"
        );
    }
    let sent = llm.requests();
    assert_eq!(sent[0].path, "/v1/embeddings");
    assert_eq!(sent[1].path, "/api/embed");
    assert_eq!(sent[0].body["model"], "fake-embed");

    let err = provider(&llm, ProviderKind::Anthropic)
        .embed(inputs.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NoEmbeddings));
    for kind in KINDS {
        let mut c = config(kind, llm.base_url(kind.as_str()));
        c.embedding_model = None;
        let err = build(c).unwrap().embed(inputs.clone()).await.unwrap_err();
        assert_eq!(err.code(), "no_embeddings");
    }
    assert_eq!(
        llm.requests().len(),
        2,
        "no request without an embedding model"
    );
}

#[tokio::test]
async fn the_key_never_appears_in_errors_or_debug_output() {
    let llm = FakeLlm::start().await;
    for kind in KINDS {
        // A provider that quotes the key back in its error text.
        llm.push(Reply::error(
            401,
            &format!("Incorrect API key provided: {KEY}."),
        ));
        let p = provider(&llm, kind);
        let err = p.stream(ask("x")).await.err().unwrap();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(KEY), "{kind:?}: {shown}");
        assert!(shown.contains("401"), "{shown}");
        let config_debug = format!("{:?}", p.config());
        assert!(!config_debug.contains(KEY), "{config_debug}");
        assert!(config_debug.contains("<set>"));
    }
    llm.require_key("a-different-key");
    for kind in KINDS {
        let err = provider(&llm, kind).list_models().await.unwrap_err();
        assert!(
            matches!(err, ProviderError::Status { status: 401, .. }),
            "{err:?}"
        );
        assert!(!format!("{err} {err:?}").contains(KEY));
    }
    // A key quoted back mid-stream is scrubbed too.
    let llm = FakeLlm::start().await;
    llm.push(Reply::steps(vec![Step::Error(format!("bad key {KEY}"))]));
    let (_, err) = drain(
        provider(&llm, ProviderKind::Anthropic)
            .stream(ask("x"))
            .await
            .unwrap(),
    )
    .await;
    let err = err.unwrap();
    assert!(!format!("{err} {err:?}").contains(KEY));
    assert!(err.to_string().contains("[REDACTED]"));
}

#[tokio::test]
async fn a_bad_base_url_is_refused_at_build() {
    for url in ["ftp://example.com", "not a url", "http://"] {
        let err = build(config(ProviderKind::Openai, url.into()))
            .err()
            .unwrap();
        assert!(
            matches!(&err, ProviderError::Unreachable { reason, .. } if reason.starts_with("invalid base URL")),
            "{url}: {err:?}"
        );
    }
}

#[tokio::test]
async fn an_oversized_reply_is_cut_at_the_cap() {
    let llm = FakeLlm::start().await;
    let mut c = config(ProviderKind::Openai, llm.openai_base());
    c.limits.max_response_bytes = 4096;
    let big: Vec<String> = (0..200).map(|_| "x".repeat(40)).collect();
    llm.push(Reply::text(big));
    let (_, err) = drain(build(c).unwrap().stream(ask("x")).await.unwrap()).await;
    assert!(
        matches!(err, Some(ProviderError::TooLarge(4096))),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_first_content_instant_is_recorded() {
    let llm = FakeLlm::start().await;
    let start = std::time::Instant::now();
    llm.push(Reply::text(["a", "b"]));
    run(&provider(&llm, ProviderKind::Openai), ask("x")).await;
    let times = llm.first_content_times();
    assert_eq!(times.len(), 1);
    assert!(times[0] >= start);
}

#[tokio::test]
async fn a_redirect_is_refused_and_not_followed() {
    let llm = FakeLlm::start().await;
    let elsewhere = FakeLlm::start().await;
    for kind in KINDS {
        let target = format!("{}/steal", elsewhere.openai_base());
        llm.push(Reply::redirect(307, &target));
        let err = provider(&llm, kind).stream(ask("x")).await.err().unwrap();
        assert!(
            matches!(err, ProviderError::Status { status: 307, .. }),
            "{kind:?}: {err:?}"
        );
    }
    assert_eq!(llm.chat_requests().len(), 3);
    assert!(elsewhere.requests().is_empty(), "the key went elsewhere");
}

#[tokio::test]
async fn a_loopback_name_works_when_it_is_the_configured_host() {
    let llm = FakeLlm::start().await;
    let base = format!("http://localhost:{}", llm.addr.port());
    llm.push(Reply::text(["local ", "model"]));
    let p = build(config(ProviderKind::Ollama, base)).unwrap();
    let events = run(&p, ask("x")).await;
    assert_eq!(text_of(&events), "local model");
}

#[test]
fn an_empty_base_url_means_the_kinds_default() {
    for kind in KINDS {
        let p = build(config(kind, "  ".into())).unwrap();
        assert_eq!(p.config().base_url, kind.default_base_url());
    }
}
