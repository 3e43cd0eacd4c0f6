// A fake OpenAI-compatible LLM server for browser tests: a real Node http
// server on 127.0.0.1:0 that answers POST /v1/chat/completions with the
// real SSE stream format (`data: {chunk}` lines, then `data: [DONE]`) and
// GET /v1/models with a model list. Each test scripts the reply (chunks and
// the delay between them) and may queue one-off replies, such as a tool
// call streamed in pieces; every request body and Authorization header is
// recorded so a test can check what the server sent.
import http from "node:http";

export async function startFakeLlm() {
  const script = { chunks: ["Hello", " from", " the", " fake", " model."], delayMs: 150 };
  const requests = [];
  const queued = []; // one-off replies, used before the default script
  const open = new Set();

  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => { body += d; });
    req.on("end", () => {
      requests.push({ method: req.method, url: req.url, auth: req.headers.authorization || null, body });
      if (req.method === "GET" && req.url === "/v1/models") {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ object: "list", data: [{ id: "fake-1", object: "model" }] }));
        return;
      }
      if (req.method === "POST" && req.url === "/v1/chat/completions") {
        let next = queued.shift();
        if (next && next.echoToolResult) next = { chunks: [echoOfToolResult(body)], delayMs: 20 };
        const send = next && next.tool ? streamToolCall(res, next.tool) : stream(res, next || script);
        send.catch(() => res.destroy());
        return;
      }
      res.writeHead(404, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { message: "not found" } }));
    });
  });
  server.on("connection", (socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    /** Sets the next replies: text chunks and the pause before each. */
    script(chunks, delayMs = 150) {
      script.chunks = chunks;
      script.delayMs = delayMs;
    },
    /** Queues a one-off reply: { chunks, delayMs }, { tool: { name, arguments } },
     * or { echoToolResult: true } (answers with the newest tool result). */
    queue(reply) {
      queued.push(reply);
    },
    async stop() {
      if (!server.listening) return;
      for (const s of open) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The newest tool result in a chat request, without the untrusted-content markers. */
function echoOfToolResult(body) {
  try {
    const messages = JSON.parse(body).messages || [];
    const tool = [...messages].reverse().find((m) => m.role === "tool");
    const text = String((tool && tool.content) || "");
    return "Tool output:\n" + text.split("\n").filter((l) => !l.startsWith("<<<")).join("\n");
  } catch {
    return "no tool output";
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const chunk = (choice, extra = {}) => `data: ${JSON.stringify({
  id: "chatcmpl-fake", object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model: "fake-1",
  choices: choice ? [choice] : [], ...extra,
})}\n\n`;

/** One tool call, its arguments split across chunks as real providers do. */
async function streamToolCall(res, tool) {
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
  const args = JSON.stringify(tool.arguments || {});
  const half = Math.floor(args.length / 2);
  res.write(chunk({ index: 0, delta: { role: "assistant", tool_calls: [{ index: 0, id: "call_fake_1", type: "function", function: { name: tool.name, arguments: "" } }] }, finish_reason: null }));
  for (const part of [args.slice(0, half), args.slice(half)]) {
    await sleep(50);
    res.write(chunk({ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: part } }] }, finish_reason: null }));
  }
  res.write(chunk({ index: 0, delta: {}, finish_reason: "tool_calls" }));
  res.write("data: [DONE]\n\n");
  res.end();
}

async function stream(res, script) {
  const delayMs = script.delayMs ?? 150;
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
  const id = "chatcmpl-fake";
  const frame = (choice, extra = {}) => `data: ${JSON.stringify({
    id, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model: "fake-1",
    choices: choice ? [choice] : [], ...extra,
  })}\n\n`;
  res.write(frame({ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }));
  for (const text of script.chunks) {
    await sleep(delayMs);
    if (res.destroyed || res.writableEnded) return; // the server cancelled the turn
    res.write(frame({ index: 0, delta: { content: text }, finish_reason: null }));
  }
  res.write(frame({ index: 0, delta: {}, finish_reason: "stop" }));
  res.write(frame(null, { usage: { prompt_tokens: 12, completion_tokens: script.chunks.length, total_tokens: 12 + script.chunks.length } }));
  res.write("data: [DONE]\n\n");
  res.end();
}
