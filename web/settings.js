// Settings: your sessions (revoke, sign out everywhere, your key file);
// API keys for admins (keys for outside automations: shown once, then only
// their metadata); users and roles for the owner; approvals, trust levels
// and secrets (approvals.js, trust.js, secrets.js); the audit log with
// Verify, actors shown by name; the owner's Security page (security.js,
// the doctor's checks and the backup age); Channels and Pairing (channels.js).
// Every value from the server is shown as text; times are relative with the
// exact time on hover.
import { get, post, patch, del, goToLogin } from "./api.js";
import { h, byId, toast, confirmDialog, downloadJson, table, timeAgo, toSecs } from "./dom.js";
import { agentsTab, providersTab } from "./agents.js";
import { approvalsTab } from "./approvals.js";
import { trustTab } from "./trust.js";
import { secretsTab } from "./secrets.js";
import { securityTab } from "./security.js";
import { channelsTab, pairingTab, redrawPairingCount } from "./channels.js";

// Only permissions some route checks today (knowledge has no edit): a
// checkbox that grants nothing would mislead.
const RESOURCES = ["bookmarks", "conversations", "messages", "knowledge"];
const ACTIONS = ["read", "write", "edit", "delete"];
const GRANTABLE = new Set([
  "bookmarks:read", "bookmarks:write", "bookmarks:edit", "bookmarks:delete",
  "conversations:read", "conversations:write", "conversations:edit", "conversations:delete",
  "messages:read", "messages:write", "messages:edit", "messages:delete",
  "knowledge:read", "knowledge:write", "knowledge:delete",
]);
const ROLES = ["owner", "admin", "member", "guest"];

let me = null;
let token = 0; // guards against a slow tab rendering over a newer one

function tabsFor(user) {
  const admin = user.role === "admin" || user.role === "owner";
  return [
    ["sessions", "Sessions", true],
    ["agents", "Agents", true],
    ["providers", "Providers", user.role === "owner"],
    ["approvals", "Approvals", admin],
    ["trust", "Trust", admin],
    ["secrets", "Secrets", user.role === "owner"],
    ["keys", "API keys", admin],
    ["users", "Users", admin],
    ["audit", "Audit log", admin],
    ["security", "Security", user.role === "owner"],
    ["channels", "Channels", user.role === "owner"],
    ["pairing", "Pairing", admin],
  ].filter((t) => t[2]);
}

export async function showSettings(tab, user) {
  me = user;
  const tabs = tabsFor(user);
  if (!tabs.some((t) => t[0] === tab)) tab = "sessions";
  byId("settings-tabs").replaceChildren(...tabs.map(([id, label]) =>
    h("a", { href: `#/settings/${id}`, class: "tab" + (id === tab ? " active" : ""), "aria-current": id === tab ? "page" : undefined, dataset: { tab: id }, text: label })));
  if (tabs.some((t) => t[0] === "approvals")) countPending();
  redrawPairingCount();
  const body = byId("settings-body");
  const mine = ++token;
  body.replaceChildren(h("p", { class: "muted", text: "Loading…" }));
  const render = {
    sessions, keys, users, audit,
    agents: () => agentsTab(me, () => rerender("agents")),
    providers: () => providersTab(me, () => rerender("providers")),
    approvals: () => approvalsTab(me, () => rerender("approvals")),
    trust: () => trustTab(me, () => rerender("trust")),
    secrets: () => secretsTab(me, () => rerender("secrets")),
    security: () => securityTab(),
    channels: () => channelsTab(),
    pairing: () => pairingTab(me, () => rerender("pairing")),
  }[tab];
  try {
    const nodes = await render();
    if (mine === token) body.replaceChildren(...nodes);
  } catch (e) {
    if (mine === token) body.replaceChildren(h("p", { class: "error", text: e.message }));
  }
}

const rerender = (tab) => showSettings(tab, me);

/** "Approvals 2": how many requests wait, on the tab itself. */
async function countPending() {
  let n = 0;
  try {
    n = (await get("/api/v1/approvals?status=pending&limit=200")).approvals.length;
  } catch (_) { return; }
  const link = document.querySelector('#settings-tabs .tab[data-tab="approvals"]');
  if (!link || n === 0) return;
  link.append(" ", h("span", { class: "badge", "aria-label": `${n} waiting`, text: n > 99 ? "99+" : n }));
}
const when = (value) => timeAgo(toSecs(value));
const panel = (title, ...children) => h("section", { class: "panel" }, h("h2", { text: title }), ...children);

// ---------------------------------------------------------------- sessions

async function sessions() {
  const list = await get("/api/v1/auth/sessions");
  const rows = list.map((s) => h("tr", {},
    h("td", { text: s.kind === "web" ? "Browser" : "API token" }),
    h("td", {}, when(s.created_at)),
    h("td", {}, when(s.last_seen_at)),
    h("td", { text: s.ip || "—" }),
    h("td", {}, s.current ? h("span", { class: "tag ok-tag", text: "this session" })
      : h("button", { type: "button", class: "danger small", text: "Revoke", onclick: () => revokeSession(s) }))));
  const everywhere = h("button", { type: "button", class: "danger", text: "Sign out everywhere", onclick: signOutEverywhere });
  const out = [
    panel("Your sessions",
      h("p", { class: "muted", text: "Every browser and API token signed in as you. Revoking takes effect on the next request." }),
      table(["Kind", "Signed in", "Last active", "Address", ""], rows, "No live sessions."),
      h("div", { class: "panel-actions" }, everywhere)),
  ];
  if (me.role !== "guest") {
    out.push(panel("Key file",
      h("p", { class: "muted", text: "A key file lets you sign in without a password. Downloading a new one revokes the previous file." }),
      h("div", { class: "panel-actions" },
        h("button", { type: "button", class: "secondary", text: "Download a new key file", onclick: () => mintKeyFile(me) }))));
  }
  return out;
}

async function revokeSession(s) {
  if (!(await confirmDialog("Revoke this session? That device will be signed out.", "Revoke"))) return;
  try {
    await del(`/api/v1/auth/sessions/${encodeURIComponent(s.id)}`);
    toast("Session revoked.");
    rerender("sessions");
  } catch (e) {
    toast(e.message, "error");
  }
}

async function signOutEverywhere() {
  if (!(await confirmDialog("Sign out of every session, including this one?", "Sign out everywhere"))) return;
  try {
    await post("/api/v1/auth/sessions/revoke-all", {});
  } catch (_) { /* signed out either way */ }
  goToLogin();
}

async function mintKeyFile(user) {
  const who = user.id === me.id ? "your" : `${user.username}'s`;
  if (!(await confirmDialog(`Create a new key file? It replaces ${who} previous key file, which stops working.`, "Create key file"))) return;
  try {
    const file = await post(`/api/v1/users/${user.id}/identity-key`, {});
    downloadJson(`hardshell-${file.username}.key.json`, file);
    toast("Key file downloaded. Keep it somewhere safe: it is a password.");
  } catch (e) {
    toast(e.message, "error");
  }
}

// ---------------------------------------------------------------- API keys

async function keys() {
  const list = await get("/api/v1/keys");
  const rows = list.map((k) => {
    const status = k.revoked_at ? "revoked" : k.expires_at && k.expires_at * 1000 < Date.now() ? "expired" : "active";
    return h("tr", {},
      h("td", {}, h("strong", { text: k.name }), h("div", { class: "muted mono", text: k.id })),
      h("td", {}, h("div", { class: "perm-tags" }, k.permissions.map((p) => h("span", { class: "tag", text: p })))),
      h("td", {}, when(k.created_at)),
      h("td", {}, k.last_used_at ? when(k.last_used_at) : "never"),
      h("td", {}, k.expires_at ? when(k.expires_at) : "never"),
      h("td", {}, h("span", { class: `tag ${status === "active" ? "ok-tag" : "err-tag"}`, text: status })),
      h("td", { class: "row-actions" },
        status !== "revoked" ? h("button", { type: "button", class: "danger small", text: "Revoke", onclick: () => revokeKey(k) }) : null,
        h("button", { type: "button", class: "ghost small", text: "Delete", onclick: () => deleteKey(k) })));
  });
  return [
    panel("Create an API key",
      h("p", { class: "muted", text: "API keys let outside automations and agents read and write your team's data. They are not Hardshell's own agents (those are under Agents)." }),
      keyForm()),
    panel("API keys", table(["Name", "Permissions", "Created", "Last used", "Expires", "Status", ""], rows, "No API keys yet.")),
  ];
}

function keyForm() {
  const grid = h("div", { class: "perm-grid", role: "group", "aria-label": "Permissions" },
    h("span", {}), ACTIONS.map((a) => h("span", { class: "perm-head", text: a })),
    RESOURCES.map((r) => [
      h("span", { class: "perm-res", text: r }),
      ACTIONS.map((a) => (GRANTABLE.has(`${r}:${a}`)
        ? h("label", { class: "check perm-cell" },
          h("input", { type: "checkbox", name: "perm", value: `${r}:${a}`, "aria-label": `${r} ${a}` }))
        : h("span", { class: "perm-cell muted", "aria-hidden": "true", text: "—" }))),
    ]));
  const status = h("p", { class: "status error", role: "status" });
  const form = h("form", { class: "stack" },
    h("div", { class: "row-fields" },
      h("div", { class: "field" }, h("label", {}, "Name", h("input", { name: "name", required: true, maxlength: 100, autocomplete: "off", placeholder: "nightly-sync" }))),
      h("div", { class: "field" }, h("label", {}, "Expires ", h("span", { class: "hint", text: "(optional)" }), h("input", { name: "expires", type: "date" }))),
      h("div", { class: "field" }, h("label", {}, "Requests per minute ", h("span", { class: "hint", text: "(optional)" }), h("input", { name: "rate", type: "number", min: 1, max: 100000 })))),
    grid, status,
    h("div", { class: "panel-actions" }, h("button", { type: "submit", text: "Create key" })));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const permissions = data.getAll("perm").map(String);
    if (permissions.length === 0) {
      status.textContent = "Pick at least one permission.";
      return;
    }
    const body = { name: String(data.get("name")).trim(), permissions };
    const expires = String(data.get("expires") || "");
    if (expires) body.expires_at = Math.floor(new Date(expires + "T23:59:59").getTime() / 1000);
    const rate = String(data.get("rate") || "");
    if (rate) body.rate_limit_per_minute = Number(rate);
    try {
      const created = await post("/api/v1/keys", body);
      showKeyOnce(created);
    } catch (err) {
      status.textContent = err.message;
    }
  });
  return form;
}

function showKeyOnce(created) {
  const field = h("input", { type: "text", readonly: true, class: "mono", "aria-label": "The new API key" });
  field.value = created.token;
  const copyStatus = h("span", { class: "muted", role: "status" });
  const copy = h("button", {
    type: "button", class: "secondary", text: "Copy",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(field.value);
        copyStatus.textContent = "Copied.";
      } catch (_) {
        field.select();
        copyStatus.textContent = "Press Ctrl+C to copy.";
      }
    },
  });
  const dlg = h("dialog", { "aria-labelledby": "key-once-title" },
    h("form", { method: "dialog" },
      h("h2", { id: "key-once-title", text: `Key “${created.key.name}” created` }),
      h("p", { text: "Copy it now. It is shown only once and cannot be read back." }),
      h("div", { class: "inline-form" }, field, copy),
      copyStatus,
      h("div", { class: "dialog-actions" }, h("button", { type: "submit", text: "I have saved it" }))));
  dlg.addEventListener("close", () => {
    field.value = "";
    dlg.remove();
    rerender("keys");
  });
  document.body.append(dlg);
  dlg.showModal();
  field.select();
}

async function revokeKey(k) {
  if (!(await confirmDialog(`Revoke the key “${k.name}”? Anything using it stops working at once.`, "Revoke"))) return;
  try {
    await post(`/api/v1/keys/${encodeURIComponent(k.id)}/revoke`, {});
    rerender("keys");
  } catch (e) {
    toast(e.message, "error");
  }
}

async function deleteKey(k) {
  if (!(await confirmDialog(`Delete the key “${k.name}” and its record?`))) return;
  try {
    await del(`/api/v1/keys/${encodeURIComponent(k.id)}`);
    rerender("keys");
  } catch (e) {
    toast(e.message, "error");
  }
}

// ---------------------------------------------------------------- users

async function users() {
  const list = await get("/api/v1/users");
  const owner = me.role === "owner";
  const rows = list.map((u) => {
    const self = u.id === me.id;
    const role = h("select", { "aria-label": `Role of ${u.username}`, disabled: !owner || self },
      ROLES.map((r) => h("option", { value: r, text: r, selected: r === u.role })));
    role.addEventListener("change", () => updateUser(u, { role: role.value }));
    return h("tr", { class: u.disabled ? "disabled-row" : "" },
      h("td", {}, h("strong", { text: u.username }), self ? h("span", { class: "muted", text: " (you)" }) : null),
      h("td", {}, role),
      h("td", {}, h("span", { class: `tag ${u.disabled ? "err-tag" : "ok-tag"}`, text: u.disabled ? "disabled" : "active" })),
      h("td", {}, when(u.created_at)),
      h("td", { class: "row-actions" },
        owner || self ? h("button", { type: "button", class: "secondary small", text: "Key file", "aria-label": `Key file for ${u.username}`, onclick: () => mintKeyFile(u) }) : null,
        owner && !self ? h("button", { type: "button", class: "ghost small", text: u.disabled ? "Enable" : "Disable", onclick: () => updateUser(u, { disabled: !u.disabled }) }) : null,
        owner && !self ? h("button", { type: "button", class: "danger small", text: "Delete", "aria-label": `Delete ${u.username}`, onclick: () => deleteUser(u) }) : null));
  });
  const out = [];
  if (owner) out.push(panel("Add a user", userForm()));
  out.push(panel("Users", table(["Username", "Role", "Status", "Created", ""], rows, "No users.")));
  return out;
}

function userForm() {
  const status = h("p", { class: "status error", role: "status" });
  const form = h("form", { class: "stack", autocomplete: "off" },
    h("div", { class: "row-fields" },
      h("div", { class: "field" }, h("label", {}, "Username", h("input", { name: "username", required: true, maxlength: 64, autocomplete: "off" }))),
      h("div", { class: "field" }, h("label", {}, "Role",
        h("select", { name: "role" }, ROLES.map((r) => h("option", { value: r, text: r, selected: r === "member" }))))),
      h("div", { class: "field" }, h("label", {}, "Password ", h("span", { class: "hint", text: "(optional, 12+ characters)" }),
        h("input", { name: "password", type: "password", minlength: 12, autocomplete: "new-password" })))),
    h("p", { class: "muted", text: "Without a password, the user signs in with a key file (use “Key file” below)." }),
    status,
    h("div", { class: "panel-actions" }, h("button", { type: "submit", text: "Add user" })));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const body = { username: String(data.get("username")).trim(), role: String(data.get("role")) };
    const password = String(data.get("password") || "");
    if (password) body.password = password;
    try {
      const user = await post("/api/v1/users", body);
      toast(`${user.username} was added as ${user.role}.`);
      rerender("users");
    } catch (err) {
      status.textContent = err.message;
    }
  });
  return form;
}

async function updateUser(u, change) {
  try {
    await patch(`/api/v1/users/${u.id}`, change);
    toast(`${u.username} updated.`);
  } catch (e) {
    toast(e.message, "error");
  }
  rerender("users");
}

async function deleteUser(u) {
  if (!(await confirmDialog(`Delete ${u.username}? Their sessions and keys go too.`))) return;
  try {
    await del(`/api/v1/users/${u.id}`);
    rerender("users");
  } catch (e) {
    toast(e.message, "error");
  }
}

// ---------------------------------------------------------------- audit

async function audit() {
  // Entries page oldest-first; read them all (bounded) and show newest first.
  let entries = [];
  let after;
  for (let i = 0; i < 20; i++) {
    const page = await get(`/api/v1/audit?limit=1000${after !== undefined ? `&after_seq=${after}` : ""}`);
    entries = entries.concat(page.entries);
    if (page.next_after_seq === null || page.next_after_seq === undefined) break;
    after = page.next_after_seq;
  }
  entries.reverse();
  const names = await actorNames();
  const who = (kind, id) => names(kind, id);
  const filter = h("input", { type: "search", placeholder: "Filter by action, actor or target", "aria-label": "Filter the audit log" });
  const wrap = h("div", { class: "table-wrap" });
  const headers = ["#", "When", "Who", "Action", "Target", "Outcome", "Address", ""];
  const draw = () => {
    const q = filter.value.trim().toLowerCase();
    const shown = entries.filter((e) => !q || `${e.action} ${who(e.actor_kind, e.actor_id)} ${e.actor_kind}:${e.actor_id} ${e.target} ${e.outcome}`.toLowerCase().includes(q)).slice(0, 500);
    const rows = shown.map((e) => h("tr", {},
      h("td", { class: "mono", text: e.seq }),
      h("td", {}, when(e.ts)),
      h("td", { title: `${e.actor_kind}:${e.actor_id}`, text: who(e.actor_kind, e.actor_id) }),
      h("td", { class: "mono", text: e.action }),
      h("td", { class: "wrap-cell", text: e.target ? targetName(e.target, names) : "—" }),
      h("td", {}, h("span", { class: `tag ${e.outcome === "success" ? "ok-tag" : "err-tag"}`, text: e.outcome })),
      h("td", { class: "mono", text: e.ip || "—" }),
      h("td", {}, h("details", {}, h("summary", { text: "details" }), h("pre", { text: JSON.stringify(e.details, null, 2) })))));
    wrap.replaceChildren(table(headers, rows, q ? "Nothing matches." : "No entries.", "audit"));
  };
  filter.addEventListener("input", draw);
  draw();
  const result = h("p", { class: "status", role: "status" });
  const actions = h("div", { class: "panel-actions" }, filter);
  if (me.role === "owner") {
    actions.append(h("button", {
      type: "button", class: "secondary", text: "Verify the chain",
      onclick: async () => {
        result.textContent = "Verifying…";
        result.className = "status";
        try {
          const v = await post("/api/v1/audit/verify", {});
          result.textContent = v.intact ? `Intact: all ${v.entries} entries verify.`
            : `Broken at entry ${v.first_bad_seq} (${v.break}). ${v.entries} entries checked.`;
          result.className = v.intact ? "status ok" : "status error";
        } catch (e) {
          result.textContent = e.message;
          result.className = "status error";
        }
      },
    }));
  }
  return [panel(`Audit log (${entries.length} entries)`, actions, result, wrap)];
}

/**
 * A lookup from audit actors to names: users, API keys and agents by id,
 * the server itself as "Hardshell". Unknown ids (deleted since) stay as
 * "kind #id"; a list the caller may not read just leaves ids.
 */
async function actorNames() {
  const [users, keyList, agentList] = await Promise.all([
    get("/api/v1/users").catch(() => []),
    get("/api/v1/keys").catch(() => []),
    get("/api/v1/agents").then((r) => r.agents).catch(() => []),
  ]);
  const map = new Map();
  for (const u of users) map.set(`user:${u.id}`, u.username);
  for (const k of keyList) map.set(`agent_key:${k.id}`, `API key “${k.name}”`);
  for (const a of agentList) map.set(`agent:${a.id}`, `@${a.handle}`);
  const label = { user: "user", agent_key: "API key", agent: "agent", channel_sender: "channel sender" };
  return (kind, id) => {
    if (kind === "system") return "Hardshell";
    return map.get(`${kind}:${id}`) || `${label[kind] || kind} #${id}`;
  };
}

/** "user:3" as the user's name, "agent:2" as @handle; other targets as sent. */
function targetName(target, names) {
  const m = /^(user|agent|agent_key|key):(.+)$/.exec(target);
  if (!m) return target;
  const kind = m[1] === "key" ? "agent_key" : m[1];
  const name = names(kind, m[2]);
  return name.includes("#") ? target : `${name} (${target})`;
}
