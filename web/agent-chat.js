// Agents inside a conversation: live reply placeholders fed by the
// agent.* WebSocket events (each agent.delta carries the server's rendered,
// sanitised snapshot of the reply so far, inserted with setSafeHtml; raw
// text only ever goes in as text),
// tool-call and injection badges (live and from a stored message's meta),
// the Stop button, and the members-panel controls for adding an agent and
// choosing a group's default agent. The stored reply (message.created)
// always replaces the placeholder; this module never renders Markdown.
import { get, post, patch } from "./api.js";
import { h, byId, toast, avatar, setSafeHtml } from "./dom.js";

const turns = new Map(); // turn_id -> { conversationId, agent, text, html, tools, error, done, el }
let hooks = null;
let agentsCache = null; // agent list for the member controls (loaded on demand)

/**
 * hooks: { current: () => id|null, relayout() (re-lays the pane, keeping the
 * scroll at the bottom if it was), keepBottom(fn), onConversation(conv) }
 */
export function initAgentChat(h0) {
  hooks = h0;
  byId("stop-turns").addEventListener("click", stopTurns);
  byId("add-agent").addEventListener("submit", addAgent);
  byId("default-agent").addEventListener("change", setDefaultAgent);
}

// ---------------------------------------------------------------- live turns

/** Handles agent.* frames; returns true when the frame was one of ours. */
export function onAgentFrame(frame) {
  const d = frame.data || {};
  if (typeof d.turn_id !== "string") return false;
  let t = turns.get(d.turn_id);
  switch (frame.type) {
    case "agent.started":
      if (!t) {
        t = { conversationId: frame.conversation_id, agent: d.agent || { name: "agent" }, text: "", html: null, tools: new Map(), error: null, done: false, el: null };
        turns.set(d.turn_id, t);
      }
      break;
    case "agent.delta":
      if (!t) return true;
      t.text += typeof d.text === "string" ? d.text : "";
      if (typeof d.html === "string") t.html = d.html;
      break;
    case "agent.tool_call":
      if (!t) return true;
      t.tools.set(String(d.call_id), { name: String(d.name || "tool"), status: String(d.status || "running"), flagged: !!d.flagged });
      break;
    case "agent.error":
      if (!t) return true;
      t.error = String(d.message || d.code || "The agent failed.");
      t.done = true;
      break;
    case "agent.finished":
      if (!t) return true;
      t.done = true;
      // The stored reply (if any) came first as message.created; nothing
      // stored (stopped before any text) means the placeholder just goes.
      if (!t.error) turns.delete(d.turn_id);
      break;
    default:
      return false;
  }
  if (t && t.conversationId === hooks.current()) {
    const shown = t.el && t.el.isConnected;
    if (turns.has(d.turn_id) && shown) hooks.keepBottom(() => renderTurn(t));
    else hooks.relayout();
  }
  updateStop();
  return true;
}

/** A stored message arrived: drop the placeholder of its turn. */
export function onStoredMessage(m) {
  const id = m && m.meta && m.meta.turn_id;
  if (typeof id === "string" && turns.delete(id)) updateStop();
}

/** The placeholders for the open conversation, for the message pane's layout. */
export function turnNodes() {
  const current = hooks ? hooks.current() : null;
  const out = [];
  for (const t of turns.values()) {
    if (t.conversationId !== current) continue;
    if (!t.el) renderTurn(t);
    out.push(t.el);
  }
  return out;
}

/** After a reconnect: events were missed, so the placeholders may be stale. */
export function resetTurns() {
  if (turns.size === 0) return;
  turns.clear();
  updateStop();
  if (hooks && hooks.current()) hooks.relayout();
}

/** Called when another conversation opens. */
export function conversationChanged() {
  // Finished-with-error placeholders of other conversations are stale now.
  for (const [id, t] of turns) if (t.done) turns.delete(id);
  updateStop();
}

function renderTurn(t) {
  const name = t.agent.name || "agent";
  const body = h("div", { class: "msg-content" });
  if (t.html) setSafeHtml(body, t.html);
  else if (t.text) {
    body.classList.add("stream-text");
    body.textContent = t.text;
  } else if (!t.error) body.append(h("span", { class: "thinking muted", text: "thinking…" }));
  const el = h("article", {
    class: "msg turn" + (t.done ? "" : " streaming") + (t.error ? " turn-error" : ""),
    "aria-label": `${name} is replying`,
    "aria-busy": t.done ? "false" : "true",
  },
  avatar(name, "agent"),
  h("div", { class: "msg-main" },
    h("header", { class: "msg-head" },
      h("span", { class: "author", text: name }),
      h("span", { class: "tag", text: "agent" }),
      t.done ? null : h("span", { class: "live-dot", "aria-hidden": "true" })),
    body,
    t.error ? h("p", { class: "turn-error-text", role: "alert", text: t.error }) : null,
    badgeRow([...t.tools.values()], false, false, null)));
  if (t.el && t.el.isConnected) t.el.replaceWith(el);
  t.el = el;
}

function updateStop() {
  const current = hooks ? hooks.current() : null;
  const running = [...turns.values()].some((t) => t.conversationId === current && !t.done);
  byId("stop-turns").hidden = !running;
}

async function stopTurns() {
  const id = hooks.current();
  if (!id) return;
  const button = byId("stop-turns");
  button.disabled = true;
  try {
    await post(`/api/v1/conversations/${id}/stop`, {});
  } catch (e) {
    toast(e.message, "error");
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- badges

const STATUS_CLASS = { ok: "ok-tag", error: "err-tag", running: "run-tag" };

function badgeRow(tools, flagged, stopped, error) {
  const items = tools.map((c) => h("span", {
    class: `tag tool-tag ${STATUS_CLASS[c.status] || ""}`,
    title: `Tool ${c.name}: ${c.status}`,
    text: `${c.name} · ${c.status}`,
  }));
  if (flagged || tools.some((c) => c.flagged)) {
    items.push(h("span", { class: "tag err-tag flag-tag", title: "Untrusted content in this turn looked like a prompt injection", text: "injection flagged" }));
  }
  if (stopped) items.push(h("span", { class: "tag", text: "stopped" }));
  if (error) items.push(h("span", { class: "tag err-tag", text: `error: ${error}` }));
  return items.length ? h("div", { class: "msg-badges" }, items) : null;
}

/** The badges a stored agent message carries in its meta (or null). */
export function metaBadges(m) {
  const meta = m && m.meta;
  if (!meta || typeof meta !== "object" || m.author.kind !== "agent") return null;
  const tools = Array.isArray(meta.tool_calls) ? meta.tool_calls.map((c) => ({
    name: String(c.name || "tool"), status: String(c.status || ""), flagged: !!c.flagged,
  })) : [];
  return badgeRow(tools, !!meta.flagged, !!meta.stopped, meta.error ? String(meta.error) : null);
}

// ---------------------------------------------------------------- members panel

async function agents() {
  if (!agentsCache) {
    const { agents: list } = await get("/api/v1/agents");
    agentsCache = list;
    setTimeout(() => { agentsCache = null; }, 30000); // pick up new agents now and then
  }
  return agentsCache;
}

/** Drops the cached agent list (after an agent was created, changed or deleted). */
export function forgetAgents() {
  agentsCache = null;
}

/** Shows or hides the agent controls of the members panel. */
export async function renderAgentControls(conv, manage) {
  const addForm = byId("add-agent");
  const defForm = byId("default-agent-form");
  const group = conv.kind === "group";
  addForm.hidden = !(manage && group);
  defForm.hidden = !(manage && group);
  byId("add-agent-status").textContent = "";
  if (!manage || !group) return;
  let list;
  try {
    list = await agents();
  } catch (e) {
    byId("add-agent-status").textContent = e.message;
    return;
  }
  const inConv = new Set(conv.members.filter((m) => m.kind === "agent").map((m) => m.id));
  const select = byId("add-agent-select");
  const candidates = list.filter((a) => !inConv.has(a.id) && !a.disabled);
  select.replaceChildren(...candidates.map((a) => h("option", { value: a.id, text: `@${a.handle} (${a.name})` })));
  addForm.querySelector("button").disabled = candidates.length === 0;
  const def = byId("default-agent");
  const members = list.filter((a) => inConv.has(a.id));
  def.replaceChildren(h("option", { value: "", text: "None (only when mentioned)" }),
    ...members.map((a) => h("option", { value: a.id, text: `@${a.handle}`, selected: a.id === conv.default_agent_id })));
  def.disabled = members.length === 0;
}

async function addAgent(event) {
  event.preventDefault();
  const id = hooks.current();
  const agentId = Number(byId("add-agent-select").value);
  if (!id || !agentId) return;
  try {
    hooks.onConversation(await post(`/api/v1/conversations/${id}/members`, { agent_id: agentId }));
  } catch (e) {
    byId("add-agent-status").textContent = e.message;
  }
}

async function setDefaultAgent() {
  const id = hooks.current();
  if (!id) return;
  const value = byId("default-agent").value;
  try {
    hooks.onConversation(await patch(`/api/v1/conversations/${id}`, { default_agent_id: value ? Number(value) : null }));
    toast(value ? "Default agent set." : "Default agent cleared.");
  } catch (e) {
    byId("add-agent-status").textContent = e.message;
  }
}

/** Opens my direct conversation with an agent, creating it the first time. */
export async function chatWithAgent(agent) {
  // The server creates a new direct conversation on every POST, so reuse one.
  const { conversations } = await get("/api/v1/conversations");
  let conv = conversations.find((c) => c.kind === "direct"
    && c.members.some((m) => m.kind === "agent" && m.id === agent.id));
  if (!conv) conv = await post("/api/v1/conversations", { kind: "direct", agent_id: agent.id });
  location.hash = `#/c/${conv.id}`;
  return conv;
}
