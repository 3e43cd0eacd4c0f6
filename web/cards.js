// Cards the gate posts into a conversation (an agent message whose meta
// carries a `card`): approval requests with Approve / Always allow / Deny,
// compact "would run" cards and receipts. Every field the card shows came
// from an agent's tool call, so it goes in as text only (textContent),
// never as HTML. An approval card keeps its state from the API: it asks
// GET /approvals/{id} when shown and polls while the request is open, so a
// decision taken elsewhere (the Approvals page, the CLI) shows here too.
import { get, post } from "./api.js";
import { h, toast, timeAgo, fmtDateTime } from "./dom.js";

const POLL_MS = 3000;
const MAX_POLLS = 200; // an approved call that never dispatches stops being polled
const OPEN = new Set(["pending", "approved"]);
const STATUS_TEXT = {
  pending: "waiting for a decision",
  approved: "approved",
  denied: "denied",
  expired: "expired",
  dispatched: "approved and run",
};
const STATUS_CLASS = { approved: "ok-tag", dispatched: "ok-tag", denied: "err-tag", expired: "err-tag", pending: "run-tag" };

let me = null;
let readable = true; // false once the API refused us (members, guests)
const cards = new Map(); // approval id -> { el, row, status, polls, view }
let timer = null;

export const mayDecide = () => !!me && me.role === "owner";
const mayRead = () => !!me && (me.role === "owner" || me.role === "admin") && readable;

export function initCards(user) {
  me = user;
}

/** Arguments as the agent sent them, pretty-printed when they are JSON. */
export function argumentsText(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value ?? "");
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    return text;
  }
}

/** The card a stored agent message carries, or null. */
export function cardFor(m) {
  const card = m && m.author && m.author.kind === "agent" && m.meta && m.meta.card;
  if (!card || typeof card !== "object") return null;
  if (card.kind === "approval") return approvalCard(card);
  if (card.kind === "would_run") return compactCard(card, "would-run");
  if (card.kind === "receipt") return compactCard(card, "receipt");
  return null;
}

/** One line ("would run tool on target", "ran tool on target"); details open on demand. */
function compactCard(card, kind) {
  const receipt = kind === "receipt";
  const verb = receipt ? (card.ok ? "ran" : "tried") : "would run";
  const target = String(card.target || "");
  const line = [
    h("span", { class: "tool-card-verb", text: verb }), " ",
    h("code", { text: String(card.tool || "tool") }),
    target ? [" on ", h("code", { class: "wrap-code", text: target })] : null, " ",
    receipt ? h("span", { class: `tag ${card.ok ? "ok-tag" : "err-tag"}`, text: card.ok ? "receipt" : "failed" })
      : h("span", { class: "tag", title: "Trust level 1: shown, not run", text: "not run" }),
  ];
  const body = [];
  if (card.arguments !== undefined && card.arguments !== null && card.arguments !== "") {
    body.push(h("div", { class: "tool-card-label", text: "Arguments" }), h("pre", { class: "tool-args", text: argumentsText(card.arguments) }));
  }
  if (receipt && card.result !== undefined && card.result !== null && card.result !== "") {
    body.push(h("div", { class: "tool-card-label", text: "Result" }), h("pre", { class: "tool-args", text: String(card.result) }));
  }
  const cls = `tool-card compact ${kind}${receipt && !card.ok ? " failed" : ""}`;
  if (body.length === 0) return h("div", { class: cls }, h("div", { class: "tool-card-line" }, line));
  return h("details", { class: cls }, h("summary", { class: "tool-card-line" }, line), h("div", { class: "tool-card-body" }, body));
}

// ---------------------------------------------------------------- approval cards

function approvalCard(card) {
  const id = Number(card.approval_id);
  const tool = String(card.tool || "tool");
  const status = h("span", { class: "tag run-tag", text: "…" });
  const actions = h("div", { class: "tool-card-actions" });
  const note = h("p", { class: "tool-card-note muted", role: "status" });
  const taint = card.taint_source ? h("p", { class: "taint", role: "note" },
    h("strong", { text: "Untrusted content: " }),
    "this turn read ", h("span", { class: "taint-source", text: String(card.taint_source) }),
    ". Check the arguments carefully.") : null;
  const expires = Number(card.expires_at) || null;
  const el = h("section", { class: "tool-card approval", "aria-label": `Approval request ${id}: ${tool}`, dataset: { approval: id } },
    h("header", { class: "tool-card-head" },
      h("span", { class: "tool-card-title" }, "Asks to run ", h("code", { text: tool })),
      card.domain ? h("span", { class: "tag", title: "Trust domain", text: String(card.domain) }) : null,
      status),
    taint,
    h("dl", { class: "tool-card-fields" },
      h("dt", { text: "Target" }), h("dd", {}, h("code", { class: "wrap-code", text: String(card.target || "—") })),
      h("dt", { text: "Arguments" }), h("dd", {}, h("pre", { class: "tool-args", text: argumentsText(card.arguments) })),
      card.reason ? [h("dt", { text: "Why" }), h("dd", { text: String(card.reason) })] : null,
      expires ? [h("dt", { text: "Expires" }), h("dd", { title: fmtDateTime(expires) }, timeAgo(expires))] : null),
    actions, note);
  const entry = { id, el, row: null, status: "pending", polls: 0, card, status_el: status, actions, note };
  cards.set(id, entry);
  render(entry);
  if (mayRead()) refresh(entry);
  schedule();
  return el;
}

/** Always allow is offered only for a plain level-2 request (never in a tainted turn). */
/** A shell rule takes only a plain command: one program, no shell syntax (as the server decides). */
export const plainShell = (target) => !/[|;&$()`<>\n\r*?{}\\"']/.test(String(target || "").replace(/^shell: /, ""));
const alwaysAllowed = (card) => !card.taint_source && (card.domain !== "shell" || plainShell(card.target)) && /^trust level 2\b/.test(String(card.reason || ""));

function render(entry) {
  if (!entry.row && !mayRead()) {
    // Members and guests cannot read approvals: say who decides, claim no state.
    entry.status_el.className = "tag";
    entry.status_el.textContent = "owner decides";
    entry.el.dataset.status = "unknown";
    entry.actions.replaceChildren();
    entry.note.textContent = "Only the owner can decide on this request.";
    return;
  }
  const s = entry.status;
  // Known pending past its expiry: the sweeper is about to say so.
  const expiredLocally = !!entry.row && s === "pending" && entry.row.expires_at * 1000 < Date.now();
  const shown = expiredLocally ? "expired" : s;
  entry.status_el.className = `tag ${STATUS_CLASS[shown] || ""}`;
  entry.status_el.textContent = entry.row ? STATUS_TEXT[shown] || shown : "…";
  entry.el.dataset.status = entry.row ? shown : "";
  entry.el.classList.toggle("decided", shown !== "pending");
  if (shown !== "pending") {
    entry.actions.replaceChildren();
    if (entry.row && entry.row.decided_at) {
      entry.note.textContent = `${shown === "denied" ? "Denied" : "Approved"} ${fmtDateTime(entry.row.decided_at)}.`;
    } else if (shown === "expired") {
      entry.note.textContent = "Nobody decided in time; the agent was told no.";
    }
    return;
  }
  if (!mayDecide()) {
    entry.actions.replaceChildren();
    entry.note.textContent = "Waiting for the owner's decision.";
    return;
  }
  if (entry.actions.childElementCount) return;
  const tool = entry.card.tool || "tool";
  entry.actions.append(
    h("button", { type: "button", class: "small", text: "Approve", "aria-label": `Approve ${tool} (request ${entry.id})`, onclick: () => decide(entry, "approve") }),
    alwaysAllowed(entry.card) ? h("button", {
      type: "button", class: "secondary small", text: "Always allow",
      title: "Approve, and allow this agent this tool on this target from now on (not in tainted turns)",
      "aria-label": `Always allow ${tool} (request ${entry.id})`, onclick: () => decide(entry, "always"),
    }) : null,
    h("button", { type: "button", class: "danger small", text: "Deny", "aria-label": `Deny ${tool} (request ${entry.id})`, onclick: () => decide(entry, "deny") }));
}

/**
 * Approves ("approve", "always") or denies an approval by id. Resolves
 * to the updated row, or null when refused (the reason is toasted).
 */
export async function decideApproval(id, how) {
  const path = `/api/v1/approvals/${encodeURIComponent(id)}/${how === "deny" ? "deny" : "approve"}`;
  try {
    return await post(path, how === "always" ? { always: true } : {});
  } catch (e) {
    if (e.status === 403) toast("Only the owner can decide on approvals.", "error");
    else if (e.status === 409) toast("This request was already decided or has expired.");
    else toast(e.message, "error");
    return null;
  }
}

async function decide(entry, how) {
  entry.actions.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  const row = await decideApproval(entry.id, how);
  if (row) {
    update(row);
    if (how === "always") toast("Approved. Later calls like this one run without asking.");
  } else {
    entry.actions.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    await refresh(entry);
  }
}

/** A fresh approval row (from the API or an event): every card showing it follows. */
export function update(row) {
  const entry = row && cards.get(Number(row.id));
  if (!entry) return;
  entry.row = row;
  if (entry.status !== row.status) {
    entry.status = row.status;
    entry.actions.replaceChildren();
  }
  render(entry);
  schedule();
}

async function refresh(entry) {
  try {
    update(await get(`/api/v1/approvals/${encodeURIComponent(entry.id)}`));
  } catch (e) {
    if (e.status === 403) {
      readable = false;
      render(entry);
    }
    // Other failures (404 after a reset, offline): keep what we show.
  }
}

function schedule() {
  if (timer || !mayRead()) return;
  timer = setTimeout(poll, POLL_MS);
}

async function poll() {
  timer = null;
  for (const [id, entry] of cards) {
    if (!entry.el.isConnected) {
      cards.delete(id); // the pane moved on; a rebuilt card registers itself again
      continue;
    }
    if (!OPEN.has(entry.status) || entry.polls >= MAX_POLLS) continue;
    entry.polls++;
    await refresh(entry);
  }
  if ([...cards.values()].some((e) => OPEN.has(e.status) && e.polls < MAX_POLLS && e.el.isConnected)) schedule();
}

/** The `approval.requested` event: tell the owner when it is not on screen. */
export function onApprovalRequested(frame, currentConversation) {
  const row = frame.data;
  if (!row || typeof row.id !== "number") return;
  if (mayRead()) update(row); // members could not follow it afterwards
  if (mayDecide() && frame.conversation_id !== currentConversation) {
    toast(`An agent asks to run ${String(row.tool)}: see Settings → Approvals.`);
  }
}
