// The chat view: conversation list, message pane (history, live updates,
// edit/delete), the members panel and the "new group" dialog.
// Names, titles and file names go in as text; message bodies are the
// server's sanitised HTML only (setSafeHtml).
import { get, post, patch, del } from "./api.js";
import {
  h, byId, toast, setSafeHtml, fmtTime, fmtDay, fmtDateTime, fmtSize, avatar, confirmDialog,
} from "./dom.js";
import * as composer from "./composer.js";
import { cardFor } from "./cards.js";
import {
  initAgentChat, turnNodes, metaBadges, renderAgentControls, conversationChanged,
} from "./agent-chat.js";

const PAGE = 50;

export const state = {
  me: null, // the signed-in user (UserRow)
  convs: new Map(), // id -> Conversation
  current: null, // open conversation id
  messages: new Map(), // id -> Message, open conversation only
  hasMore: true,
  loadingOlder: false,
  lastSeen: 0, // highest message id seen anywhere (WebSocket resume point)
  unread: new Map(), // conversation id -> count
};

const els = {};
const msgEls = new Map(); // message id -> element (cached between layouts)
const typingTimers = new Map(); // user name -> timeout
let stickToBottom = true;

export const isAdmin = () => state.me && (state.me.role === "admin" || state.me.role === "owner");
export const isGuest = () => state.me && state.me.role === "guest";
export const canManage = (conv) => !!conv && (conv.created_by === state.me.id || isAdmin());
export const currentConversation = () => state.convs.get(state.current) || null;
const isMine = (m) => m.author && m.author.kind === "user" && m.author.id === state.me.id;

export function seen(id) {
  if (typeof id === "number" && id > state.lastSeen) state.lastSeen = id;
}

export function initChat() {
  for (const id of ["conv-list", "conv-empty", "messages", "empty", "composer", "readonly",
    "conv-title", "conv-sub", "typing", "members-panel", "member-list", "add-member",
    "add-member-name", "add-member-status", "toggle-members", "leave", "new-group",
    "new-group-dialog", "new-group-form", "new-group-status", "new-group-cancel", "close-members",
    "rename-conv", "rename-title", "delete-conv"]) {
    els[id] = byId(id);
  }
  els.messages.addEventListener("scroll", onScroll, { passive: true });
  document.addEventListener("click", toggleActionsOnTouch);
  els["toggle-members"].addEventListener("click", () => toggleMembers());
  els["close-members"].addEventListener("click", () => toggleMembers(false));
  els["add-member"].addEventListener("submit", addMember);
  els.leave.addEventListener("click", leave);
  els["rename-conv"].addEventListener("submit", rename);
  els["delete-conv"].addEventListener("click", deleteConversation);
  els["new-group"].hidden = isGuest();
  els["new-group"].addEventListener("click", openNewGroup);
  els["new-group-cancel"].addEventListener("click", () => els["new-group-dialog"].close());
  els["new-group-form"].addEventListener("submit", createGroup);
  composer.initComposer({ onSent: onMessageCreated });
  initAgentChat({
    current: () => state.current,
    relayout: () => keepBottom(layout),
    keepBottom,
    onConversation,
  });
}

// ---------------------------------------------------------------- list

export async function loadConversations() {
  const { conversations } = await get("/api/v1/conversations");
  state.convs.clear();
  for (const c of conversations) {
    state.convs.set(c.id, c);
    seen(c.last_message_id);
  }
  renderConvList();
}

/** "2 people · 1 agent": the same count in the list and the header. */
export function memberSummary(conv) {
  const people = conv.members.filter((m) => m.kind === "user").length;
  const agents = conv.members.length - people;
  const parts = [`${people} ${people === 1 ? "person" : "people"}`];
  if (agents) parts.push(`${agents} ${agents === 1 ? "agent" : "agents"}`);
  return parts.join(" · ");
}

function sortedConversations() {
  return [...state.convs.values()].sort((a, b) =>
    (b.last_activity_at || b.created_at) - (a.last_activity_at || a.created_at) || b.id - a.id);
}

export function renderConvList() {
  const items = sortedConversations().map((c) => {
    const unread = state.unread.get(c.id) || 0;
    const active = c.id === state.current;
    const sub = c.kind === "direct" ? "direct chat" : memberSummary(c);
    return h("li", {},
      h("a", {
        class: "conv" + (active ? " active" : "") + (unread ? " unread" : ""),
        href: `#/c/${c.id}`,
        "aria-current": active ? "page" : undefined,
        dataset: { id: c.id },
      },
      avatar(c.title, "room"),
      h("span", { class: "conv-text" },
        h("span", { class: "conv-title", text: c.title }),
        h("span", { class: "conv-sub muted", text: sub })),
      unread ? h("span", { class: "badge", "aria-label": `${unread} unread`, text: unread > 99 ? "99+" : unread }) : null));
  });
  els["conv-list"].replaceChildren(...items);
  els["conv-empty"].hidden = items.length > 0;
}

// ---------------------------------------------------------------- open

export function closeConversation() {
  state.current = null;
  state.messages.clear();
  msgEls.clear();
  els.messages.hidden = true;
  els.composer.hidden = true;
  els.readonly.hidden = true;
  els.empty.hidden = false;
  els["conv-title"].textContent = "Hardshell";
  els["conv-sub"].textContent = "";
  els["toggle-members"].disabled = true;
  toggleMembers(false);
  renderConvList();
}

export async function openConversation(id, jumpTo) {
  let conv = state.convs.get(id);
  if (!conv) {
    try {
      conv = await get(`/api/v1/conversations/${id}`);
      state.convs.set(conv.id, conv);
    } catch (e) {
      toast(e.status === 404 ? "That conversation does not exist or you are not a member." : e.message, "error");
      location.hash = "#/";
      return;
    }
  }
  if (state.current !== id) {
    state.current = id;
    state.messages.clear();
    msgEls.clear();
    conversationChanged();
    state.hasMore = true;
    els.messages.replaceChildren(h("div", { class: "loading muted", text: "Loading…" }));
    state.unread.delete(id);
    renderHeader();
    renderConvList();
    renderMembers();
    composer.setConversation(conv);
    els.empty.hidden = true;
    els.messages.hidden = false;
    els["toggle-members"].disabled = false;
    let page;
    try {
      page = await get(`/api/v1/conversations/${id}/messages?limit=${PAGE}`);
    } catch (e) {
      els.messages.replaceChildren(h("div", { class: "loading error", text: e.message }));
      return;
    }
    if (state.current !== id) return; // the user moved on meanwhile
    for (const m of page.messages) {
      state.messages.set(m.id, m);
      seen(m.id);
    }
    state.hasMore = page.messages.length === PAGE;
    layout();
    scrollToBottom();
  }
  if (jumpTo) await jumpToMessage(jumpTo);
}

function renderHeader() {
  const conv = currentConversation();
  if (!conv) return;
  els["conv-title"].textContent = conv.title;
  const names = conv.members.map((m) => (m.kind === "user" && m.id === state.me.id ? "you" : m.name));
  els["conv-sub"].textContent = `${memberSummary(conv)} · ${names.join(", ")}`;
  document.title = `${conv.title} · Hardshell`;
}

// ---------------------------------------------------------------- messages

function sameAuthor(a, b) {
  return a.author.kind === b.author.kind && String(a.author.id) === String(b.author.id);
}

function layout() {
  const focused = document.activeElement;
  const list = [...state.messages.values()].sort((a, b) => a.id - b.id);
  const nodes = [];
  if (!state.hasMore) {
    nodes.push(h("div", { class: "history-start muted", text: "This is the start of the conversation." }));
  }
  let prev = null;
  for (const m of list) {
    const day = fmtDay(m.created_at);
    const newDay = !prev || fmtDay(prev.created_at) !== day;
    if (newDay) nodes.push(h("div", { class: "day", role: "separator" }, h("span", { text: day })));
    let el = msgEls.get(m.id);
    if (!el) {
      el = buildMessage(m);
      msgEls.set(m.id, el);
    }
    const cont = !newDay && prev && sameAuthor(prev, m) && m.created_at - prev.created_at < 300;
    el.classList.toggle("cont", !!cont);
    nodes.push(el);
    prev = m;
  }
  const live = turnNodes();
  if (list.length === 0 && live.length === 0) {
    nodes.push(h("div", { class: "no-messages muted", text: "No messages yet. Say hello!" }));
  }
  els.messages.replaceChildren(...nodes, ...live);
  if (focused && focused.isConnected && focused !== document.activeElement) focused.focus();
}

function buildMessage(m) {
  const mine = isMine(m);
  const content = h("div", { class: "msg-content" });
  // A gate card (approval, "would run", receipt) replaces the text it summarises.
  const card = cardFor(m);
  if (card) content.append(card);
  else setSafeHtml(content, m.html || "");
  const kindTag = m.author.kind === "agent" ? "agent" : m.author.kind === "key" ? "key" : null;
  const actions = h("div", { class: "msg-actions" });
  if (mine && !isGuest()) {
    actions.append(h("button", { type: "button", class: "ghost small", text: "Edit", "aria-label": "Edit message", onclick: () => startEdit(m.id) }));
  }
  if ((mine && !isGuest()) || isAdmin()) {
    actions.append(h("button", { type: "button", class: "ghost small danger-text", text: "Delete", "aria-label": "Delete message", onclick: () => deleteMessage(m.id) }));
  }
  return h("article", {
    class: "msg" + (mine ? " mine" : ""),
    dataset: { id: m.id },
    "aria-label": `${m.author.name}, ${fmtTime(m.created_at)}`,
  },
  avatar(m.author.name, m.author.kind),
  h("div", { class: "msg-main" },
    h("header", { class: "msg-head" },
      h("span", { class: "author", text: m.author.name }),
      kindTag ? h("span", { class: "tag", text: kindTag }) : null,
      h("time", { datetime: new Date(m.created_at * 1000).toISOString(), title: fmtDateTime(m.created_at), text: fmtTime(m.created_at) }),
      m.edited_at ? h("span", { class: "edited muted", title: fmtDateTime(m.edited_at), text: "(edited)" }) : null),
    content,
    metaBadges(m),
    m.attachments && m.attachments.length ? h("div", { class: "attachments" }, m.attachments.map(attachmentEl)) : null),
  actions.childElementCount ? actions : null);
}

const UPLOAD_URL = /^\/api\/v1\/uploads\/[A-Za-z0-9_-]+$/;

function attachmentEl(a) {
  if (!UPLOAD_URL.test(String(a.url))) return null; // only ever our own upload route
  if (a.inline && /^image\/(png|jpeg|gif|webp)$/.test(a.mime)) {
    const img = h("img", { src: a.url, alt: a.name, loading: "lazy", decoding: "async" });
    img.addEventListener("load", () => { if (stickToBottom) scrollToBottom(); });
    return h("a", { class: "att-image", href: a.url, target: "_blank", rel: "noopener noreferrer", title: a.name }, img);
  }
  const ext = (a.name.split(".").pop() || "file").slice(0, 4).toUpperCase();
  return h("a", { class: "att-file", href: a.url, download: a.name, title: `Download ${a.name}` },
    h("span", { class: "att-icon", "aria-hidden": "true", text: ext }),
    h("span", { class: "att-text" },
      h("span", { class: "att-name", text: a.name }),
      h("span", { class: "att-size muted", text: fmtSize(a.size) })));
}

const touchOnly = window.matchMedia("(hover: none)");

/**
 * On a touch screen there is no hover: a tap on a message shows its
 * Edit/Delete toolbar and a tap anywhere else hides it again.
 */
function toggleActionsOnTouch(event) {
  if (!touchOnly.matches) return;
  const target = event.target instanceof Element ? event.target : null;
  if (target && target.closest("a, button, textarea, input, summary")) return;
  const msg = target ? target.closest("#messages .msg") : null;
  const wasOpen = !!msg && msg.classList.contains("actions-open");
  els.messages.querySelectorAll(".msg.actions-open").forEach((m) => m.classList.remove("actions-open"));
  if (msg && !wasOpen) msg.classList.add("actions-open");
}

function nearBottom() {
  const m = els.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
}

/** Runs fn, then keeps the pane at the bottom if it was there before. */
function keepBottom(fn) {
  const stick = nearBottom();
  fn();
  if (stick) scrollToBottom();
}

function scrollToBottom() {
  els.messages.scrollTop = els.messages.scrollHeight;
  stickToBottom = true;
}

function onScroll() {
  stickToBottom = nearBottom();
  if (els.messages.scrollTop < 150 && state.hasMore && !state.loadingOlder && state.messages.size) {
    loadOlder();
  }
}

async function loadOlder() {
  const id = state.current;
  if (!id || !state.hasMore || state.loadingOlder) return;
  state.loadingOlder = true;
  try {
    const oldest = Math.min(...state.messages.keys());
    const page = await get(`/api/v1/conversations/${id}/messages?before=${oldest}&limit=${PAGE}`);
    if (state.current !== id) return;
    const box = els.messages;
    const fromBottom = box.scrollHeight - box.scrollTop;
    for (const m of page.messages) state.messages.set(m.id, m);
    state.hasMore = page.messages.length === PAGE;
    layout();
    box.scrollTop = box.scrollHeight - fromBottom;
  } catch (e) {
    toast(e.message, "error");
  } finally {
    state.loadingOlder = false;
  }
}

async function jumpToMessage(messageId) {
  for (let i = 0; i < 40 && !state.messages.has(messageId) && state.hasMore; i++) {
    await loadOlder();
  }
  const el = msgEls.get(messageId);
  if (!el) {
    toast("That message is no longer here.");
    return;
  }
  el.scrollIntoView({ block: "center" });
  stickToBottom = nearBottom();
  el.classList.add("flash");
  setTimeout(() => el.classList.remove("flash"), 2400);
}

function startEdit(id) {
  const m = state.messages.get(id);
  const el = msgEls.get(id);
  if (!m || !el || el.classList.contains("editing")) return;
  const content = el.querySelector(".msg-content");
  const area = h("textarea", { class: "edit-area", "aria-label": "Edit message", rows: 2, maxlength: 16000 });
  area.value = m.text;
  const cancel = () => {
    el.classList.remove("editing");
    form.remove();
    content.hidden = false;
  };
  const save = async () => {
    const text = area.value.trim();
    if (!text) return;
    if (text === m.text) return cancel();
    try {
      const updated = await patch(`/api/v1/conversations/${m.conversation_id}/messages/${id}`, { text });
      onMessageUpdated(updated);
    } catch (e) {
      toast(e.message, "error");
    }
  };
  const form = h("form", { class: "edit-form", onsubmit: (e) => { e.preventDefault(); save(); } },
    area,
    h("div", { class: "edit-actions" },
      h("span", { class: "muted", text: "Enter to save · Esc to cancel" }),
      h("button", { type: "button", class: "secondary small", text: "Cancel", onclick: cancel }),
      h("button", { type: "submit", class: "small", text: "Save" })));
  area.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); cancel(); }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); save(); }
  });
  el.classList.add("editing");
  content.hidden = true;
  content.after(form);
  area.focus();
  area.setSelectionRange(area.value.length, area.value.length);
}

async function deleteMessage(id) {
  const m = state.messages.get(id);
  if (!m) return;
  if (!(await confirmDialog("Delete this message for everyone?"))) return;
  try {
    await del(`/api/v1/conversations/${m.conversation_id}/messages/${id}`);
    onMessageDeleted(m.conversation_id, { id });
  } catch (e) {
    toast(e.message, "error");
  }
}

// ---------------------------------------------------------------- live events

export function onMessageCreated(m) {
  seen(m.id);
  const conv = state.convs.get(m.conversation_id);
  if (!conv) {
    loadConversations().catch(() => {});
    return;
  }
  conv.last_message_id = Math.max(conv.last_message_id || 0, m.id);
  conv.last_activity_at = Math.max(conv.last_activity_at || 0, m.created_at);
  if (m.conversation_id === state.current) {
    if (!state.messages.has(m.id)) {
      const stick = nearBottom();
      state.messages.set(m.id, m);
      layout();
      if (stick || isMine(m)) scrollToBottom();
    }
    clearTyping(m.author.name);
  } else if (!isMine(m)) {
    state.unread.set(m.conversation_id, (state.unread.get(m.conversation_id) || 0) + 1);
  }
  renderConvList();
}

export function onMessageUpdated(m) {
  if (m.conversation_id !== state.current || !state.messages.has(m.id)) return;
  state.messages.set(m.id, m);
  msgEls.delete(m.id);
  layout();
}

export function onMessageDeleted(conversationId, data) {
  if (conversationId !== state.current || !data || !state.messages.delete(data.id)) return;
  msgEls.delete(data.id);
  layout();
}

export function onConversation(conv) {
  if (!conv || typeof conv.id !== "number" || !Array.isArray(conv.members)) return;
  state.convs.set(conv.id, conv);
  renderConvList();
  if (conv.id === state.current) {
    renderHeader();
    renderMembers();
    composer.setConversation(conv);
  }
}

export async function refreshConversation(id) {
  try {
    onConversation(await get(`/api/v1/conversations/${id}`));
  } catch (e) {
    if (e.status === 404) removedFrom(id);
  }
}

export function removedFrom(id, deleted = false) {
  const conv = state.convs.get(id);
  state.convs.delete(id);
  state.unread.delete(id);
  if (state.current === id) {
    if (conv) toast(deleted ? `“${conv.title}” was deleted.` : `You are no longer in “${conv.title}”.`);
    location.hash = "#/";
  }
  renderConvList();
}

export function onMemberRemoved(conversationId, data) {
  if (data && data.user_id === state.me.id) removedFrom(conversationId);
  else refreshConversation(conversationId);
}

export function onTyping(conversationId, data) {
  if (conversationId !== state.current || !data || !data.user) return;
  if (data.user.kind === "user" && data.user.id === state.me.id) return;
  const name = data.user.name;
  clearTimeout(typingTimers.get(name));
  typingTimers.set(name, setTimeout(() => clearTyping(name), 6000));
  renderTyping();
}

function clearTyping(name) {
  if (!typingTimers.has(name)) return;
  clearTimeout(typingTimers.get(name));
  typingTimers.delete(name);
  renderTyping();
}

function renderTyping() {
  const names = [...typingTimers.keys()];
  const text = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…`
    : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : "Several people are typing…";
  els.typing.textContent = text;
}

// ---------------------------------------------------------------- members

export function toggleMembers(show) {
  const panel = els["members-panel"];
  const open = show === undefined ? panel.hidden : show;
  panel.hidden = !open || !state.current;
  els["toggle-members"].setAttribute("aria-expanded", String(!panel.hidden));
  document.body.classList.toggle("members-open", !panel.hidden);
  if (!panel.hidden) renderMembers();
}

function renderMembers() {
  const conv = currentConversation();
  if (!conv) return;
  const manage = canManage(conv) && !isGuest();
  const rows = conv.members.map((m) => {
    const me = m.kind === "user" && m.id === state.me.id;
    const removable = manage && !me && conv.kind === "group";
    return h("li", { class: "member" },
      avatar(m.name, m.kind),
      h("span", { class: "member-name", text: me ? `${m.name} (you)` : m.name }),
      m.kind === "agent" ? h("span", { class: "tag", text: "agent" }) : null,
      m.kind === "user" && m.id === conv.created_by ? h("span", { class: "tag", text: "creator" }) : null,
      removable ? h("button", {
        type: "button", class: "ghost small danger-text", text: "Remove",
        "aria-label": `Remove ${m.name}`, onclick: () => removeMember(conv, m),
      }) : null);
  });
  els["member-list"].replaceChildren(...rows);
  els["add-member"].hidden = !(manage && conv.kind === "group");
  els["add-member-status"].textContent = "";
  els.leave.hidden = conv.kind !== "group" || isGuest();
  els["rename-conv"].hidden = !manage;
  if (document.activeElement !== els["rename-title"]) els["rename-title"].value = conv.title;
  els["delete-conv"].hidden = !manage;
  renderAgentControls(conv, manage);
}

async function rename(event) {
  event.preventDefault();
  const conv = currentConversation();
  const title = els["rename-title"].value.trim();
  if (!conv || !title || title === conv.title) return;
  try {
    onConversation(await patch(`/api/v1/conversations/${conv.id}`, { title }));
  } catch (e) {
    toast(e.message, "error");
  }
}

async function deleteConversation() {
  const conv = currentConversation();
  if (!conv) return;
  if (!(await confirmDialog(`Delete “${conv.title}” and all of its messages for everyone?`))) return;
  try {
    await del(`/api/v1/conversations/${conv.id}`);
    state.convs.delete(conv.id);
    location.hash = "#/";
  } catch (e) {
    toast(e.message, "error");
  }
}

async function addMember(event) {
  event.preventDefault();
  const conv = currentConversation();
  const username = els["add-member-name"].value.trim();
  if (!conv || !username) return;
  try {
    onConversation(await post(`/api/v1/conversations/${conv.id}/members`, { username }));
    els["add-member-name"].value = "";
    toast(`${username} was added.`);
  } catch (e) {
    els["add-member-status"].textContent = e.message;
  }
}

async function removeMember(conv, m) {
  if (!(await confirmDialog(`Remove ${m.name} from “${conv.title}”?`, "Remove"))) return;
  const body = m.kind === "agent" ? { agent_id: m.id } : { user_id: m.id };
  try {
    const updated = await del(`/api/v1/conversations/${conv.id}/members`, body);
    if (updated) onConversation(updated);
    else refreshConversation(conv.id);
  } catch (e) {
    toast(e.message, "error");
  }
}

async function leave() {
  const conv = currentConversation();
  if (!conv) return;
  if (!(await confirmDialog(`Leave “${conv.title}”? You will need to be added again to return.`, "Leave"))) return;
  try {
    await del(`/api/v1/conversations/${conv.id}/members`, { user_id: state.me.id });
    removedFrom(conv.id);
  } catch (e) {
    toast(e.message, "error");
  }
}

// ---------------------------------------------------------------- new group

function openNewGroup() {
  els["new-group-form"].reset();
  els["new-group-status"].textContent = "";
  els["new-group-dialog"].showModal();
  els["new-group-form"].elements.title.focus();
}

async function createGroup(event) {
  event.preventDefault();
  const form = els["new-group-form"];
  const title = form.elements.title.value.trim();
  const members = form.elements.members.value.split(/[\s,]+/).map((s) => s.replace(/^@/, "")).filter(Boolean);
  if (!title) {
    els["new-group-status"].textContent = "The group needs a title.";
    return;
  }
  const button = byId("new-group-create");
  button.disabled = true;
  try {
    const conv = await post("/api/v1/conversations", { kind: "group", title, members });
    state.convs.set(conv.id, conv);
    renderConvList();
    els["new-group-dialog"].close();
    location.hash = `#/c/${conv.id}`;
  } catch (e) {
    els["new-group-status"].textContent = e.message;
  } finally {
    button.disabled = false;
  }
}
