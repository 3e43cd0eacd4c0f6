// The app shell: who am I (or off to /login), hash routing between chat
// and settings, the live connection, search, theme toggle, the drawer on
// small screens and keyboard shortcuts (Ctrl/Cmd+K search, Esc closes).
import { get, post, csrfToken, goToLogin } from "./api.js";
import { h, byId, toast, avatar, fmtDateTime, highlighted } from "./dom.js";
import * as chat from "./chat.js";
import { connectLive, closeLive } from "./live.js";
import { showSettings } from "./settings.js";
import { showBookmarks } from "./bookmarks.js";
import { onAgentFrame, onStoredMessage, resetTurns } from "./agent-chat.js";
import { loadSidebarAgents } from "./sidebar-agents.js";
import { initWelcome } from "./first-run.js";
import { initCards, onApprovalRequested } from "./cards.js";
import { initPairingNotice, onPairingChange } from "./channels.js";

const app = byId("app");

async function boot() {
  let me;
  try {
    me = await get("/api/v1/auth/me", { quiet401: true });
  } catch (e) {
    if (e.status === 401) return goToLogin();
    app.replaceChildren(h("p", { class: "fatal error", text: `Hardshell could not load: ${e.message}` }));
    return;
  }
  // A session without this tab's CSRF token cannot write; sign in again.
  if (me.kind !== "user" || !me.user || !csrfToken()) return goToLogin();
  chat.state.me = me.user;
  initCards(me.user);
  byId("me-avatar").replaceChildren(avatar(me.user.username));
  byId("me-name").textContent = me.user.username;
  byId("me-role").textContent = me.user.role;

  chat.initChat();
  initTheme();
  initDrawer();
  initSearch();
  initShortcuts();
  byId("logout").addEventListener("click", logout);

  try {
    await chat.loadConversations();
  } catch (e) {
    toast(e.message, "error");
  }
  await loadSidebarAgents(me.user);
  initWelcome(me.user);
  initPairingNotice(me.user);
  connectLive({
    since: () => chat.state.lastSeen,
    event: onFrame,
    reconnected: () => {
      resetTurns();
      chat.loadConversations().catch(() => {});
      if (chat.state.current) chat.refreshConversation(chat.state.current);
    },
    status: (text) => { byId("live-status").textContent = text; },
  });
  window.addEventListener("hashchange", route);
  await route();
  app.removeAttribute("aria-busy");
}

function onFrame(frame) {
  const id = frame.conversation_id;
  const data = frame.data;
  switch (frame.type) {
    case "message.created":
      onStoredMessage(data);
      chat.onMessageCreated(data);
      break;
    case "message.updated": chat.onMessageUpdated(data); break;
    case "message.deleted": chat.onMessageDeleted(id, data); break;
    case "typing": chat.onTyping(id, data); break;
    case "conversation.updated":
    case "member.added":
      if (data && Array.isArray(data.members)) chat.onConversation(data);
      else chat.refreshConversation(id);
      break;
    case "member.removed": chat.onMemberRemoved(id, data); break;
    case "conversation.deleted": chat.removedFrom(id, true); break;
    case "approval.requested": onApprovalRequested(frame, chat.state.current); break;
    // Owners only (the server's audience): a stranger asks to be paired,
    // or a request was decided.
    case "pairing.requested":
    case "pairing.pending":
      onPairingChange(frame);
      break;
    // agent.* feed the live reply placeholders; ready, pong and error
    // (only ever about our own typing frames) need nothing.
    default:
      if (frame.type.startsWith("agent.")) onAgentFrame(frame);
      break;
  }
}

// ---------------------------------------------------------------- routing

async function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const parts = hash.split("/").filter(Boolean);
  closeDrawer();
  const chatView = byId("chat-view");
  const settingsView = byId("settings-view");
  const bookmarksView = byId("bookmarks-view");
  bookmarksView.hidden = parts[0] !== "bookmarks";
  if (parts[0] === "bookmarks") {
    chatView.hidden = true;
    settingsView.hidden = true;
    chat.toggleMembers(false);
    document.title = "Bookmarks · Hardshell";
    await showBookmarks();
    return;
  }
  if (parts[0] === "settings") {
    chatView.hidden = true;
    settingsView.hidden = false;
    chat.toggleMembers(false);
    document.title = "Settings · Hardshell";
    await showSettings(parts[1] || "sessions", chat.state.me);
    return;
  }
  // Back from settings: agents may have been added, renamed or disabled.
  if (!settingsView.hidden) loadSidebarAgents();
  settingsView.hidden = true;
  chatView.hidden = false;
  if (parts[0] === "c" && /^\d+$/.test(parts[1] || "")) {
    const jump = parts[2] === "m" && /^\d+$/.test(parts[3] || "") ? Number(parts[3]) : undefined;
    await chat.openConversation(Number(parts[1]), jump);
  } else {
    chat.closeConversation();
    document.title = "Hardshell";
  }
}

// ---------------------------------------------------------------- theme

function initTheme() {
  const button = byId("theme-toggle");
  const order = ["system", "light", "dark"];
  const label = () => {
    const t = document.documentElement.dataset.theme || "system";
    button.setAttribute("aria-label", `Theme: ${t} (click to change)`);
    button.title = `Theme: ${t}`;
  };
  label();
  button.addEventListener("click", () => {
    const now = document.documentElement.dataset.theme || "system";
    const next = order[(order.indexOf(now) + 1) % order.length];
    try {
      if (next === "system") localStorage.removeItem("hs-theme");
      else localStorage.setItem("hs-theme", next);
    } catch (_) { /* not stored; still applied for this page */ }
    if (next === "system") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = next;
    label();
  });
}

// ---------------------------------------------------------------- drawer

function initDrawer() {
  for (const id of ["open-drawer", "open-drawer-2", "open-drawer-3"]) byId(id).addEventListener("click", openDrawer);
  byId("close-drawer").addEventListener("click", closeDrawer);
  byId("scrim").addEventListener("click", closeDrawer);
}

function openDrawer() {
  app.classList.add("drawer-open");
  byId("scrim").hidden = false;
  byId("open-drawer").setAttribute("aria-expanded", "true");
  const active = document.querySelector(".conv.active") || byId("search");
  active.focus();
}

function closeDrawer() {
  if (!app.classList.contains("drawer-open")) return false;
  app.classList.remove("drawer-open");
  byId("scrim").hidden = true;
  byId("open-drawer").setAttribute("aria-expanded", "false");
  return true;
}

// ---------------------------------------------------------------- search

function initSearch() {
  const input = byId("search");
  let timer = null;
  let seq = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) return clearSearch();
    timer = setTimeout(() => runSearch(q, ++seq, () => seq), 250);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.stopPropagation();
      input.value = "";
      clearSearch();
      input.blur();
    } else if (e.key === "Enter") {
      clearTimeout(timer);
      const q = input.value.trim();
      if (q) runSearch(q, ++seq, () => seq);
    } else if (e.key === "ArrowDown") {
      const first = byId("search-list").querySelector("a");
      if (first) { e.preventDefault(); first.focus(); }
    }
  });
  byId("search-clear").addEventListener("click", () => {
    input.value = "";
    clearSearch();
    input.focus();
  });
}

function clearSearch() {
  byId("search-results").hidden = true;
  byId("conversations").hidden = false;
  byId("search-list").replaceChildren();
}

async function runSearch(q, mine, latest) {
  let result;
  try {
    result = await get(`/api/v1/search?q=${encodeURIComponent(q)}&limit=30`);
  } catch (e) {
    if (mine === latest()) {
      byId("search-list").replaceChildren(h("li", { class: "side-empty error", text: e.message }));
      byId("search-results").hidden = false;
      byId("conversations").hidden = true;
    }
    return;
  }
  if (mine !== latest()) return; // a newer query is on its way
  const hits = result.hits || [];
  byId("search-title").textContent = hits.length ? `${hits.length} result${hits.length === 1 ? "" : "s"}` : "No results";
  byId("search-list").replaceChildren(...hits.map((hit) => {
    const conv = chat.state.convs.get(hit.conversation_id);
    return h("li", {},
      h("a", { class: "hit", href: `#/c/${hit.conversation_id}/m/${hit.message.id}` },
        h("span", { class: "hit-head" },
          h("span", { class: "hit-conv", text: conv ? conv.title : `Conversation ${hit.conversation_id}` }),
          h("time", { class: "muted", text: fmtDateTime(hit.message.created_at) })),
        h("span", { class: "hit-author", text: hit.message.author.name }),
        h("span", { class: "hit-snippet" }, highlighted(hit.snippet || hit.message.text, q))));
  }));
  byId("search-results").hidden = false;
  byId("conversations").hidden = true;
}

// ---------------------------------------------------------------- keys

function initShortcuts() {
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === "k") {
      e.preventDefault();
      if (window.matchMedia("(max-width: 759px)").matches) openDrawer();
      byId("search").focus();
      byId("search").select();
      return;
    }
    if (e.key === "Escape" && !document.querySelector("dialog[open]")) {
      if (closeDrawer()) return;
      if (!byId("members-panel").hidden) {
        chat.toggleMembers(false);
        byId("toggle-members").focus();
      }
    }
  });
}

async function logout() {
  closeLive();
  try {
    await post("/api/v1/auth/logout", {}, { quiet401: true });
  } catch (_) { /* the session is gone either way */ }
  goToLogin();
}

boot();
