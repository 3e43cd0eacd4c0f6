// The message composer: Enter sends, Shift+Enter adds a line, @ opens a
// member picker, files come in by button, drag-and-drop or paste and are
// uploaded at once (images previewed from a local blob URL), then sent as
// upload ids. Guests get a read-only notice instead.
import { post, ApiError } from "./api.js";
import { h, byId, toast, fmtSize } from "./dom.js";
import { sendTyping } from "./live.js";
import { state, isGuest } from "./chat.js";

const MAX_FILES = 10;
const MAX_TEXT = 16000;

const els = {};
let conv = null;
let onSent = () => {};
let pending = []; // {file, preview, status, upload, promise, el}
let lastTyping = 0;
let sending = false;
const drafts = new Map(); // conversation id -> unsent text
const mention = { open: false, items: [], index: 0, start: 0 };

export function initComposer(opts) {
  onSent = opts.onSent;
  for (const id of ["composer", "readonly", "input", "send", "attach", "file-input", "pending",
    "mention-menu", "drop-zone", "chat-view"]) {
    els[id] = byId(id);
  }
  els.composer.addEventListener("submit", (e) => { e.preventDefault(); send(); });
  els.input.addEventListener("keydown", onKeyDown);
  els.input.addEventListener("input", onInput);
  els.input.addEventListener("click", updateMention);
  els.input.addEventListener("blur", () => setTimeout(closeMention, 150));
  els.input.addEventListener("paste", onPaste);
  els.attach.addEventListener("click", () => els["file-input"].click());
  els["file-input"].addEventListener("change", () => {
    addFiles(els["file-input"].files);
    els["file-input"].value = "";
  });
  initDragDrop();
}

/** Shows the composer (or the read-only notice) for a conversation. */
export function setConversation(next) {
  if (conv && conv.id !== next.id) {
    drafts.set(conv.id, els.input.value);
    clearPending();
    closeMention();
  }
  const switching = !conv || conv.id !== next.id;
  conv = next;
  const readOnly = isGuest();
  els.composer.hidden = readOnly;
  els.readonly.hidden = !readOnly;
  if (switching && !readOnly) {
    els.input.value = drafts.get(conv.id) || "";
    els.input.placeholder = `Message ${conv.title}`;
    if (window.matchMedia("(min-width: 760px)").matches) els.input.focus();
  }
}

export function focusComposer() {
  if (!els.composer.hidden) els.input.focus();
}

// ---------------------------------------------------------------- sending

async function send() {
  if (!conv || sending || isGuest()) return;
  const text = els.input.value.trim();
  if (text.length > MAX_TEXT) {
    toast(`A message can be at most ${MAX_TEXT} characters.`, "error");
    return;
  }
  if (!text && pending.length === 0) return;
  sending = true;
  els.send.disabled = true;
  try {
    await Promise.all(pending.map((p) => p.promise));
    if (pending.some((p) => p.status !== "done")) {
      toast("Remove the attachments that failed to upload, then send again.", "error");
      return;
    }
    const body = { text };
    if (pending.length) body.attachments = pending.map((p) => p.upload.id);
    const target = conv.id;
    const message = await post(`/api/v1/conversations/${target}/messages`, body);
    els.input.value = "";
    drafts.delete(target);
    clearPending();
    onSent(message);
  } catch (e) {
    if (e instanceof ApiError && e.status !== 429) toast(e.message, "error");
  } finally {
    sending = false;
    els.send.disabled = false;
    els.input.focus();
  }
}

function onKeyDown(e) {
  if (mention.open) {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const n = mention.items.length;
      mention.index = (mention.index + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
      renderMention();
      return;
    }
    if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      pickMention(mention.items[mention.index]);
      return;
    }
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      closeMention();
      return;
    }
  }
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    send();
  }
}

function onInput() {
  updateMention();
  const now = Date.now();
  if (conv && els.input.value.trim() && now - lastTyping > 3000) {
    lastTyping = now;
    sendTyping(conv.id);
  }
}

// ---------------------------------------------------------------- mentions

function candidates() {
  const names = [];
  for (const m of conv ? conv.members : []) {
    if (m.kind === "user" && m.id === state.me.id) continue;
    names.push({ name: m.name, kind: m.kind });
  }
  names.push({ name: "all", kind: "everyone" });
  return names;
}

function updateMention() {
  const caret = els.input.selectionStart;
  const before = els.input.value.slice(0, caret);
  const match = /(^|\s)@([\w.-]{0,64})$/.exec(before);
  if (!match || !conv) return closeMention();
  const prefix = match[2].toLowerCase();
  const items = candidates().filter((c) => c.name.toLowerCase().startsWith(prefix)).slice(0, 8);
  if (items.length === 0) return closeMention();
  mention.open = true;
  mention.items = items;
  mention.index = Math.min(mention.index, items.length - 1);
  mention.start = caret - match[2].length - 1;
  renderMention();
}

function renderMention() {
  const menu = els["mention-menu"];
  menu.replaceChildren(...mention.items.map((item, i) => {
    const li = h("li", {
      role: "option",
      id: `mention-${i}`,
      class: i === mention.index ? "active" : "",
      "aria-selected": String(i === mention.index),
    }, h("span", { class: "mention-name", text: "@" + item.name }), h("span", { class: "muted", text: item.kind }));
    li.addEventListener("mousedown", (e) => { e.preventDefault(); pickMention(item); });
    return li;
  }));
  menu.hidden = false;
  els.input.setAttribute("aria-expanded", "true");
  els.input.setAttribute("aria-activedescendant", `mention-${mention.index}`);
}

function pickMention(item) {
  const value = els.input.value;
  const caret = els.input.selectionStart;
  const insert = `@${item.name} `;
  els.input.value = value.slice(0, mention.start) + insert + value.slice(caret);
  const pos = mention.start + insert.length;
  els.input.setSelectionRange(pos, pos);
  closeMention();
  els.input.focus();
}

function closeMention() {
  mention.open = false;
  mention.index = 0;
  els["mention-menu"].hidden = true;
  els.input.setAttribute("aria-expanded", "false");
  els.input.removeAttribute("aria-activedescendant");
}

// ---------------------------------------------------------------- attachments

function addFiles(fileList) {
  if (!conv || isGuest()) return;
  for (const file of fileList) {
    if (pending.length >= MAX_FILES) {
      toast(`At most ${MAX_FILES} attachments per message.`, "error");
      break;
    }
    const item = { file, status: "uploading", upload: null, preview: null, el: null };
    if (/^image\/(png|jpeg|gif|webp)$/.test(file.type)) item.preview = URL.createObjectURL(file);
    item.el = chip(item);
    els.pending.append(item.el);
    pending.push(item);
    item.promise = upload(item);
  }
  els.pending.hidden = pending.length === 0;
}

function chip(item) {
  const remove = h("button", {
    type: "button", class: "ghost icon chip-remove", "aria-label": `Remove ${item.file.name}`, text: "×",
    onclick: () => removePending(item),
  });
  return h("div", { class: "chip uploading" },
    item.preview ? h("img", { src: item.preview, alt: "" })
      : h("span", { class: "att-icon", "aria-hidden": "true", text: (item.file.name.split(".").pop() || "file").slice(0, 4).toUpperCase() }),
    h("span", { class: "chip-text" },
      h("span", { class: "chip-name", text: item.file.name }),
      h("span", { class: "chip-status muted", text: `Uploading… ${fmtSize(item.file.size)}` })),
    remove);
}

async function upload(item) {
  const fd = new FormData();
  fd.append("file", item.file, item.file.name);
  const status = item.el.querySelector(".chip-status");
  try {
    item.upload = await post("/api/v1/uploads", fd);
    item.status = "done";
    item.el.classList.remove("uploading");
    status.textContent = fmtSize(item.upload.size);
  } catch (e) {
    item.status = "error";
    item.el.classList.remove("uploading");
    item.el.classList.add("failed");
    status.textContent = e.status === 413 ? "Too large" : e.status === 415 ? "File type not allowed" : e.message;
  }
}

function removePending(item) {
  pending = pending.filter((p) => p !== item);
  if (item.preview) URL.revokeObjectURL(item.preview);
  item.el.remove();
  els.pending.hidden = pending.length === 0;
  els.input.focus();
}

function clearPending() {
  for (const p of pending) if (p.preview) URL.revokeObjectURL(p.preview);
  pending = [];
  els.pending.replaceChildren();
  els.pending.hidden = true;
}

function onPaste(e) {
  const files = e.clipboardData && e.clipboardData.files;
  if (files && files.length) {
    e.preventDefault();
    addFiles(files);
  }
}

function initDragDrop() {
  const view = els["chat-view"];
  const zone = els["drop-zone"];
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
  view.addEventListener("dragenter", (e) => {
    if (!hasFiles(e) || !conv || isGuest()) return;
    e.preventDefault();
    depth++;
    zone.hidden = false;
  });
  view.addEventListener("dragover", (e) => {
    if (!hasFiles(e) || !conv || isGuest()) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
  });
  view.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) zone.hidden = true;
  });
  view.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    zone.hidden = true;
    addFiles(e.dataTransfer.files);
  });
}
