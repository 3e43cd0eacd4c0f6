// Settings → Channels (owner): each configured channel, Telegram and every
// signed webhook, with its agent and status (the poller's last poll and
// last error; a webhook's callback host), and how to set one up. Channels
// live in config.toml and their secrets in the vault, so this page shows
// what to put where and writes nothing.
// Settings → Pairing: pending requests (approve with the code the person
// was given, choosing the user they act for; or deny), invites (the code
// is shown once) and paired senders with Revoke. The owner decides;
// admins may mint invites. The live notice of a new request (a badge on
// this tab and on the Settings link, and a toast) is here too.
// Display names and platform ids come from strangers: text only, always.
import { get, post } from "./api.js";
import { h, byId, toast, confirmDialog, table, timeAgo } from "./dom.js";

const panel = (title, ...children) => h("section", { class: "panel" }, h("h2", { text: title }), ...children);
const steps = (...items) => h("ol", { class: "setup-steps" }, items.map((i) => h("li", {}, i)));
const code = (text) => h("pre", { class: "setup-code" }, h("code", { text }));
const untrusted = (name) => (name
  ? h("span", { class: "untrusted-name", title: "As the sender's app reports it: not verified", text: name })
  : h("span", { class: "muted", text: "(no name)" }));

let pending = 0;
let rerenderPairing = null;

// ---------------------------------------------------------------- notice

/** Shows `n` waiting requests on the Pairing tab and the Settings link. */
export function showPairingCount(n) {
  pending = Math.max(0, Number(n) || 0);
  const label = pending > 99 ? "99+" : String(pending);
  const tab = document.querySelector('#settings-tabs .tab[data-tab="pairing"]');
  if (tab) {
    tab.querySelector(".badge")?.remove();
    if (pending) tab.append(h("span", { class: "badge", "aria-label": `${pending} waiting`, text: label }));
  }
  const link = byId("open-settings");
  if (link) {
    link.querySelector(".icon-badge")?.remove();
    link.setAttribute("aria-label", pending ? `Settings (${pending} pairing request${pending === 1 ? "" : "s"} waiting)` : "Settings");
    if (pending) link.append(h("span", { class: "badge icon-badge", "aria-hidden": "true", text: label }));
  }
}

/** Puts the last known count on freshly drawn tabs. */
export function redrawPairingCount() {
  showPairingCount(pending);
}

/** At sign-in: the owner's count of waiting requests. */
export async function initPairingNotice(user) {
  if (user.role !== "owner") return;
  try {
    showPairingCount((await get("/api/v1/channels/pairing")).requests.length);
  } catch (_) { /* the badge is a convenience */ }
}

/**
 * `pairing.requested` (a new request: toast) or `pairing.pending` (the
 * count changed: a request decided here or by the CLI, or expired); the
 * server sends both to owners only.
 */
export function onPairingChange(frame) {
  const data = frame.data || {};
  showPairingCount(data.pending);
  const r = frame.type === "pairing.requested" ? data.request : null;
  if (r) toast(`New pairing request on ${r.channel} from “${r.display || r.external_id}”. See Settings → Pairing.`);
  if (rerenderPairing && location.hash.startsWith("#/settings/pairing")) rerenderPairing();
}

// ---------------------------------------------------------------- channels

// A long poll answers within its timeout (at most 50 s) or fails and is
// retried; no answer for longer than this means the poller is stuck.
const STALE_POLL_SECS = 180;

function pollTag(tg) {
  if (!tg.last_poll) return h("span", { class: "tag warn-tag", text: "not polled yet" });
  const fresh = Date.now() / 1000 - tg.last_poll < STALE_POLL_SECS;
  return h("span", { class: `tag ${fresh ? "ok-tag" : "err-tag"}`, text: fresh ? "polling" : "stalled" });
}

function agentCell(handle, agents) {
  const known = agents.has(handle);
  return h("td", {}, h("code", { class: "wrap-code", text: `@${handle}` }),
    known ? null : h("span", { class: "tag err-tag", title: "No agent has this handle: messages are dropped until one does", text: " no such agent" }));
}

export async function channelsTab() {
  const [status, agentList] = await Promise.all([
    get("/api/v1/channels"),
    get("/api/v1/agents").then((r) => r.agents).catch(() => []),
  ]);
  const agents = new Set(agentList.map((a) => a.handle));
  return [telegramPanel(status, agents), webhooksPanel(status, agents), pairingHint()];
}

function telegramPanel(status, agents) {
  const setup = status.telegram_setup;
  const help = [
    h("p", { class: "muted", text: "A Telegram bot polls for messages: no public address is needed. Set it up on the server:" }),
    steps(
      ["In Telegram, talk to ", h("code", { text: "@BotFather" }), ", send ", h("code", { text: "/newbot" }), " and copy the token it gives you."],
      ["Put the token in the vault (it asks for the value without echoing it):", code("hardshell vault set telegram-token")],
      ["Name it in config.toml in the data directory (~/.hardshell by default):",
        code('[channels.telegram]\ntoken_secret = "telegram-token"   # the vault entry\nagent = "helper"                  # the agent that answers')],
      "Restart hardshell serve, then mint an invite under Pairing and send /start CODE to the bot in a private chat."),
  ];
  if (!setup) return panel("Telegram", h("p", { dataset: { channel: "telegram" } }, h("span", { class: "tag", text: "not set up" })), ...help);
  const tg = status.telegram || {};
  const rows = [h("tr", { dataset: { channel: "telegram" } },
    h("td", {}, h("strong", { text: "telegram" })),
    agentCell(setup.agent, agents),
    h("td", {}, pollTag(tg)),
    h("td", {}, tg.last_poll ? timeAgo(tg.last_poll) : "never"),
    h("td", { class: "wrap-cell" }, tg.last_error ? h("span", { class: "error", text: tg.last_error }) : h("span", { class: "muted", text: "none" })),
    h("td", { class: "mono", text: setup.token_entry }))];
  return panel("Telegram",
    table(["Channel", "Agent", "Status", "Last poll", "Last error", "Token entry"], rows, "", "channels"),
    h("details", { class: "setup-help" }, h("summary", { text: "How to set up Telegram" }), ...help));
}

function webhooksPanel(status, agents) {
  const rows = (status.hooks || []).map((w) => {
    const name = w.channel.replace(/^webhook:/, "");
    return h("tr", { dataset: { channel: w.channel } },
      h("td", {}, h("strong", { text: w.channel })),
      agentCell(w.agent, agents),
      h("td", {}, w.callback_host ? h("span", { class: "mono", text: w.callback_host }) : h("span", { class: "muted", text: "stored in the conversation only" })),
      h("td", { class: "mono", text: `${location.origin}/api/v1/channels/${encodeURIComponent(name)}/inbound` }),
      h("td", { class: "mono", text: w.secret_entry }));
  });
  return panel("Signed webhooks",
    h("p", { class: "muted", text: "Another system (a CRM, a chat bridge, a script) POSTs signed messages to the inbound URL; replies go to its callback, signed the same way." }),
    table(["Channel", "Agent", "Replies to", "Inbound URL", "Secret entry"], rows, "No webhook channels are set up.", "channels"),
    h("details", { class: "setup-help", open: rows.length === 0 },
      h("summary", { text: "How to add a webhook channel" }),
      steps(
        ["Put a secret of at least 32 bytes in the vault; each channel needs its own:",
          code("head -c 32 /dev/urandom | base64 | hardshell vault set crm-webhook")],
        ["Name it in config.toml in the data directory (~/.hardshell by default):",
          code('[channels.webhooks.crm]\nsecret = "crm-webhook"                         # the vault entry\nagent = "helper"                               # the agent that answers\ncallback_url = "<your HTTPS endpoint>"        # optional: where replies go')],
        "Restart hardshell serve. The channel is then webhook:crm.",
        ["Sign each request: X-Hardshell-Timestamp is Unix seconds, X-Hardshell-Signature is sha256= and the hex HMAC-SHA256 of timestamp + \".\" + body with the secret. The body:",
          code('{"id": "<message id>", "sender": "<stable sender id>", "name": "<display name>", "text": "hello"}')])));
}

function pairingHint() {
  return panel("Who may talk to the agents",
    h("p", {}, "Nobody a channel brings in reaches an agent until you pair them. Mint an invite, or approve a request, under ",
      h("a", { href: "#/settings/pairing", text: "Pairing" }), "."));
}

// ---------------------------------------------------------------- pairing

export async function pairingTab(user, rerender) {
  rerenderPairing = rerender;
  const owner = user.role === "owner";
  if (!owner) return [invitePanel(null)];
  const [overview, status, users] = await Promise.all([
    get("/api/v1/channels/pairing"),
    get("/api/v1/channels"),
    get("/api/v1/users").catch(() => []),
  ]);
  showPairingCount(overview.requests.length);
  const channels = [...(status.telegram_setup ? ["telegram"] : []), ...status.webhooks];
  const names = new Map(users.map((u) => [u.id, u.username]));
  return [
    requestsPanel(overview.requests, user, users, rerender),
    invitePanel(channels),
    sendersPanel(overview.senders, names, rerender),
  ];
}

function requestsPanel(requests, me, users, rerender) {
  const rows = requests.map((r) => h("tr", { dataset: { request: r.id } },
    h("td", { class: "mono", text: r.channel }),
    h("td", { class: "wrap-cell" }, untrusted(r.display)),
    h("td", { class: "mono", text: r.external_id }),
    h("td", {}, timeAgo(r.created_at)),
    h("td", {}, timeAgo(r.expires_at)),
    h("td", {}, h("div", { class: "row-actions" },
      h("button", { type: "button", class: "small", text: "Approve", "aria-label": `Approve request ${r.id}`, onclick: () => decideDialog(r, true, me, users, rerender) }),
      h("button", { type: "button", class: "danger small", text: "Deny", "aria-label": `Deny request ${r.id}`, onclick: () => decideDialog(r, false, me, users, rerender) })))));
  return panel(`Pending requests (${rows.length})`,
    h("p", { class: "muted", text: "Someone new wrote to a channel and got a code in the reply. Ask them for that code through a way you trust, then approve with it. Names are what their app says: anyone can copy a name." }),
    table(["Channel", "Name", "Sender id", "Requested", "Expires", ""], rows, "No requests are waiting.", "pairing"));
}

/** Approve or deny needs the code the person was given (never listed). */
function decideDialog(r, approve, me, users, rerender) {
  const verb = approve ? "Approve" : "Deny";
  const codeInput = h("input", { name: "code", required: true, maxlength: 20, autocomplete: "off", autocapitalize: "characters", spellcheck: "false", class: "mono", placeholder: "ABCD-EFGH" });
  const who = h("select", { name: "user_id" },
    users.filter((u) => !u.disabled).map((u) => h("option", { value: u.id, text: u.id === me.id ? `${u.username} (you)` : `${u.username} (${u.role})`, selected: u.id === me.id })));
  const status = h("p", { class: "status error", role: "status" });
  const submit = h("button", { type: "submit", class: approve ? "" : "danger", text: verb });
  const cancel = h("button", { type: "button", class: "secondary", text: "Cancel" });
  const form = h("form", { class: "stack" },
    h("h2", { id: "decide-title", text: `${verb} the request on ${r.channel}` }),
    h("p", {}, "From ", untrusted(r.display), " (sender id ", h("code", { text: r.external_id }), ")."),
    h("div", { class: "field" }, h("label", {}, "The code they were given", codeInput)),
    approve && users.length ? h("div", { class: "field" }, h("label", {}, "They act for ", h("span", { class: "hint", text: "(their conversation and budget are this user's)" }), who)) : null,
    status,
    h("div", { class: "dialog-actions" }, cancel, submit));
  const dlg = h("dialog", { "aria-labelledby": "decide-title" }, form);
  cancel.addEventListener("click", () => dlg.close());
  dlg.addEventListener("close", () => dlg.remove());
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    status.textContent = "";
    const body = { code: codeInput.value.trim() };
    if (approve && users.length) body.user_id = Number(who.value);
    try {
      const done = await post(`/api/v1/channels/pairing/${approve ? "approve" : "deny"}`, body);
      dlg.close();
      // The code picks the request; say so if it was another one.
      const other = done.request.id !== r.id ? ` (that code was for the request from “${done.request.display || done.request.external_id}” on ${done.request.channel})` : "";
      toast(`${approve ? "Approved" : "Denied"}${other}.`);
      rerender();
    } catch (err) {
      status.textContent = err.status === 404 ? "No waiting request has that code. Check it with the person (it expires after an hour)."
        : err.status === 429 ? `Too many wrong codes: try again in ${Math.ceil((err.retryAfter || 900) / 60)} minutes.`
          : err.message;
      submit.disabled = false;
      codeInput.focus();
    }
  });
  document.body.append(dlg);
  dlg.showModal();
  codeInput.focus();
}

function invitePanel(channels) {
  const status = h("p", { class: "status error", role: "status" });
  const field = channels
    ? h("select", { name: "channel", disabled: channels.length === 0 }, channels.map((c) => h("option", { value: c, text: c })))
    : h("input", { name: "channel", required: true, maxlength: 40, autocomplete: "off", placeholder: "telegram or webhook:NAME" });
  const form = h("form", { class: "stack", "aria-label": "Create an invite" },
    h("div", { class: "field" }, h("label", {}, "Channel", field)),
    status,
    h("div", { class: "panel-actions" }, h("button", { type: "submit", text: "Create invite", disabled: channels !== null && channels.length === 0 })));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    status.textContent = "";
    try {
      const made = await post("/api/v1/channels/pairing/invites", { channel: field.value.trim() });
      showInviteOnce(made);
    } catch (err) {
      status.textContent = err.message;
    }
  });
  return panel("Invite someone",
    h("p", { class: "muted", text: "An invite is the safe way in: a single-use code, valid for 15 minutes, that links whoever sends it to you." }),
    channels && channels.length === 0 ? h("p", { class: "muted" }, "No channels are set up yet: see ", h("a", { href: "#/settings/channels", text: "Channels" }), ".") : null,
    form);
}

function showInviteOnce(made) {
  const shown = h("output", { class: "invite-code mono", "aria-label": "Invite code", text: made.code });
  const start = `/start ${made.code}`;
  const copyStatus = h("span", { class: "muted", role: "status" });
  const copy = h("button", {
    type: "button", class: "secondary", text: "Copy /start message",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(start);
        copyStatus.textContent = "Copied.";
      } catch (_) {
        copyStatus.textContent = "Select the code and copy it.";
      }
    },
  });
  const how = made.invite.channel === "telegram"
    ? "In a private chat with the bot, send:"
    : `On ${made.invite.channel}, the person sends this as a message:`;
  const dlg = h("dialog", { "aria-labelledby": "invite-title" },
    h("form", { method: "dialog" },
      h("h2", { id: "invite-title", text: `Invite for ${made.invite.channel}` }),
      shown,
      h("p", {}, how, " ", h("code", { class: "wrap-code", text: start })),
      h("p", { class: "muted" }, "Single use; it expires ", timeAgo(made.invite.expires_at), ". It is shown only once."),
      h("div", { class: "inline-form" }, copy, copyStatus),
      h("div", { class: "dialog-actions" }, h("button", { type: "submit", text: "Done" }))));
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
}

function sendersPanel(senders, names, rerender) {
  const rows = senders.map((s) => {
    const revoked = Boolean(s.revoked_at);
    return h("tr", { class: revoked ? "disabled-row" : "", dataset: { sender: s.id } },
      h("td", { class: "mono", text: s.channel }),
      h("td", { class: "wrap-cell" }, untrusted(s.display)),
      h("td", { class: "mono", text: s.external_id }),
      h("td", { text: names.get(s.user_id) || `user #${s.user_id}` }),
      h("td", { text: s.via }),
      h("td", {}, timeAgo(s.paired_at)),
      h("td", {}, h("span", { class: `tag ${revoked ? "err-tag" : "ok-tag"}`, text: revoked ? "revoked" : "paired" })),
      h("td", {}, h("div", { class: "row-actions" }, revoked ? null : h("button", {
        type: "button", class: "danger small", text: "Revoke", "aria-label": `Revoke sender ${s.id}`,
        onclick: async () => {
          const who = s.display ? `“${s.display}”` : s.external_id;
          if (!(await confirmDialog(`Revoke ${who} on ${s.channel}? Their queued messages are dropped and nothing they send reaches an agent. Only a new invite pairs them again.`, "Revoke"))) return;
          try {
            await post(`/api/v1/channels/senders/${encodeURIComponent(s.id)}/revoke`, {});
            toast("Sender revoked.");
          } catch (e) {
            toast(e.message, "error");
          }
          rerender();
        },
      }))));
  });
  return panel("Paired senders",
    table(["Channel", "Name", "Sender id", "Acts for", "Via", "Paired", "Status", ""], rows, "Nobody is paired yet.", "pairing"));
}
