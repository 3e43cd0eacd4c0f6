// The live connection: one WebSocket to /api/v1/ws. It resumes from the
// last message id seen (?since=), reconnects with capped exponential
// back-off and jitter, treats close code 4000 as "resume now" and 4001 as
// "signed out". It never evaluates anything it receives: frames are JSON
// handed to the chat view.
import { get, goToLogin } from "./api.js";

const MIN_DELAY = 1000;
const MAX_DELAY = 30000;

let socket = null;
let handlers = null;
let delay = MIN_DELAY;
let failures = 0;
let timer = null;
let everOpened = false;
let stopped = false;

/**
 * handlers: { since(): number, event(frame), reconnected(), status(text) }
 */
export function connectLive(h) {
  handlers = h;
  open();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !socket && timer) {
      clearTimeout(timer);
      timer = null;
      open();
    }
  });
}

function open() {
  timer = null;
  if (stopped) return;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const since = handlers.since();
  const url = `${scheme}//${location.host}/api/v1/ws${since ? `?since=${since}` : ""}`;
  let ws;
  try {
    ws = new WebSocket(url);
  } catch (_) {
    schedule();
    return;
  }
  socket = ws;
  ws.addEventListener("open", () => {
    const resumed = everOpened;
    everOpened = true;
    delay = MIN_DELAY;
    failures = 0;
    handlers.status("");
    if (resumed) handlers.reconnected();
  });
  ws.addEventListener("message", (e) => {
    if (typeof e.data !== "string") return;
    let frame;
    try {
      frame = JSON.parse(e.data);
    } catch (_) {
      return;
    }
    if (frame && typeof frame.type === "string") handlers.event(frame);
  });
  ws.addEventListener("close", (e) => {
    if (socket === ws) socket = null;
    if (stopped) return;
    if (e.code === 4001) {
      goToLogin();
      return;
    }
    if (e.code === 4000) {
      // The server dropped us for falling behind: resume straight away.
      open();
      return;
    }
    failures++;
    handlers.status("Reconnecting…");
    schedule();
  });
}

async function schedule() {
  // After a couple of failed attempts, check whether we are still signed
  // in; an upgrade refused for auth looks like any other failed connection.
  if (failures >= 2) {
    try {
      await get("/api/v1/auth/me", { quiet401: true });
    } catch (e) {
      if (e.status === 401) {
        goToLogin();
        return;
      }
    }
  }
  const wait = delay / 2 + Math.random() * delay / 2;
  delay = Math.min(delay * 2, MAX_DELAY);
  timer = setTimeout(open, wait);
}

/** Tells the members of a conversation that we are typing (best effort). */
export function sendTyping(conversationId) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify({ type: "typing", conversation_id: conversationId }));
  }
}

/** Closes the connection for good (signing out). */
export function closeLive() {
  stopped = true;
  if (timer) clearTimeout(timer);
  timer = null;
  if (socket) socket.close(1000, "bye");
  socket = null;
}
