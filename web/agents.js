// Settings for agents and providers. Everyone sees the agent list (people
// need handles to @mention) and can open a direct chat; owners and admins
// get the editor (settings, SOUL.md, memories, knowledge files); only the
// owner sees providers. A provider's API key is write-only here: the field
// is never pre-filled and the server never returns it ("key set" only).
// Every value from the server goes in as text or a form value.
import { get, post, patch, del, api } from "./api.js";
import { h, toast, fmtDateTime, fmtSize, confirmDialog, table } from "./dom.js";
import { chatWithAgent, forgetAgents } from "./agent-chat.js";

const KINDS = ["openai", "ollama", "anthropic"];
// Browsers compile `pattern` with the `v` flag, where a bare `-` in a class
// is a syntax error (and the whole check is silently dropped): escape it.
const HANDLE_PATTERN = "[a-z0-9][a-z0-9_\\-]{0,31}";
// Shown as placeholders only (the server applies the same defaults). Kept
// as scheme + rest so the bundle names no external URL literally: the asset
// test refuses those to catch accidental third-party fetches.
const DEFAULT_URL = Object.fromEntries(
  [
    ["openai", "https", "api.openai.com/v1"],
    ["ollama", "http", "127.0.0.1:11434"],
    ["anthropic", "https", "api.anthropic.com"],
  ].map(([kind, scheme, rest]) => [kind, `${scheme}:` + `//${rest}`]),
);

let selected = null; // agent id open in the editor
let editingProvider = null; // provider name whose values fill the form

const isAdmin = (me) => me.role === "owner" || me.role === "admin";
const panel = (title, ...children) => h("section", { class: "panel" }, h("h2", { text: title }), ...children);
const field = (label, input, hint) => h("div", { class: "field" },
  h("label", {}, label, hint ? h("span", { class: "hint", text: ` ${hint}` }) : null, input));
const errorLine = () => h("p", { class: "status error form-error", role: "alert" });
const numOrNull = (v) => (String(v).trim() === "" ? null : Number(v));

async function modelList() {
  try {
    const { models } = await get("/api/v1/models");
    return h("datalist", { id: "model-options" }, (models || []).map((m) => h("option", { value: m })));
  } catch (_) {
    return h("datalist", { id: "model-options" });
  }
}

// ---------------------------------------------------------------- agents

/** The Agents settings tab: list, and for owners/admins the editor. */
export async function agentsTab(me, rerender) {
  const { agents } = await get("/api/v1/agents");
  const admin = isAdmin(me);
  const current = admin && selected !== null ? agents.find((a) => a.id === selected) : null;
  if (current) return editor(current, rerender);
  selected = null;
  const rows = agents.map((a) => h("tr", { class: a.disabled ? "disabled-row" : "", dataset: { handle: a.handle } },
    h("td", {}, h("strong", { text: `@${a.handle}` }), h("div", { class: "muted", text: a.name })),
    h("td", { class: "mono", text: a.model }),
    h("td", { text: a.description || "—" }),
    h("td", {}, h("span", { class: `tag ${a.disabled ? "err-tag" : "ok-tag"}`, text: a.disabled ? "disabled" : "active" })),
    h("td", { class: "row-actions" },
      me.role !== "guest" && !a.disabled ? h("button", {
        type: "button", class: "secondary small", text: "Chat", "aria-label": `Chat with @${a.handle}`,
        onclick: () => chatWithAgent(a).catch((e) => toast(e.message, "error")),
      }) : null,
      admin ? h("button", {
        type: "button", class: "small", text: "Edit", "aria-label": `Edit @${a.handle}`,
        onclick: () => { selected = a.id; rerender(); },
      }) : null)));
  const out = [];
  if (admin) out.push(panel("New agent", await newAgentForm(rerender)));
  out.push(panel("Agents", admin ? null : h("p", { class: "muted", text: "Mention an agent with @handle in a conversation. Only owners and admins can change agents." }),
    table(["Handle", "Model", "Description", "Status", ""], rows, "No agents yet.")));
  return out;
}

async function newAgentForm(rerender) {
  const status = errorLine();
  const form = h("form", { class: "stack", autocomplete: "off", "aria-label": "New agent" },
    h("div", { class: "row-fields" },
      field("Handle", h("input", { name: "handle", required: true, maxlength: 32, pattern: HANDLE_PATTERN, placeholder: "helper" })),
      field("Name", h("input", { name: "name", required: true, maxlength: 100, placeholder: "Helper" })),
      field("Model", h("input", { name: "model", required: true, list: "model-options", placeholder: "provider/model" }))),
    await modelList(),
    status,
    h("div", { class: "panel-actions" }, h("button", { type: "submit", text: "Create agent" })));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    try {
      const agent = await post("/api/v1/agents", {
        handle: String(d.get("handle")).trim(), name: String(d.get("name")).trim(), model: String(d.get("model")).trim(),
      });
      forgetAgents();
      toast(`@${agent.handle} was created.`);
      selected = agent.id;
      rerender();
    } catch (err) {
      status.textContent = err.message;
    }
  });
  return form;
}

async function editor(agent, rerender) {
  const back = h("button", { type: "button", class: "secondary small", text: "All agents", onclick: () => { selected = null; rerender(); } });
  const [soul, memories, documents] = await Promise.all([
    get(`/api/v1/agents/${agent.id}/soul`),
    get(`/api/v1/agents/${agent.id}/memories?limit=100`).catch((e) => ({ error: e.message })),
    get(`/api/v1/agents/${agent.id}/knowledge`).catch((e) => ({ error: e.message })),
  ]);
  return [
    h("div", { class: "agent-layout panel-actions" }, back),
    panel(`Agent @${agent.handle}`, await settingsForm(agent, rerender)),
    panel("SOUL.md", soulForm(agent, soul.soul || "")),
    panel("Memories", memoriesPanel(agent, memories, rerender)),
    panel("Knowledge files", knowledgePanel(agent, documents, rerender)),
  ];
}

async function settingsForm(agent, rerender) {
  const b = agent.budgets || {};
  const status = errorLine();
  const check = (name, label, on) => h("label", { class: "check" }, h("input", { type: "checkbox", name, checked: on }), label);
  const form = h("form", { class: "stack", autocomplete: "off", "aria-label": "Agent settings" },
    h("div", { class: "row-fields" },
      field("Name", h("input", { name: "name", required: true, maxlength: 100, value: agent.name })),
      field("Handle", h("input", { name: "handle", required: true, maxlength: 32, value: agent.handle })),
      field("Model", h("input", { name: "model", required: true, list: "model-options", value: agent.model }))),
    await modelList(),
    field("Description", h("input", { name: "description", maxlength: 500, value: agent.description || "" })),
    h("div", { class: "checks" },
      check("memory", "Memory", agent.memory),
      check("knowledge", "Knowledge", agent.knowledge),
      check("disabled", "Disabled", agent.disabled)),
    h("div", { class: "row-fields" },
      field("Tokens per turn", h("input", { name: "tokens_per_turn", type: "number", min: 1, required: true, value: b.tokens_per_turn ?? "" })),
      field("Tokens per conversation per day", h("input", { name: "tokens_per_conversation_day", type: "number", min: 1, required: true, value: b.tokens_per_conversation_day ?? "" })),
      field("Daily spend (USD)", h("input", { name: "daily_spend_usd", type: "number", min: 0, step: "0.01", value: b.daily_spend_usd ?? "" }), "(empty: no cap)")),
    status,
    h("div", { class: "panel-actions" },
      h("button", { type: "submit", text: "Save agent" }),
      h("button", { type: "button", class: "danger", text: "Delete agent", onclick: () => deleteAgent(agent, rerender) })));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    // The server takes the budgets object whole.
    const budgets = {
      tokens_per_turn: Number(d.get("tokens_per_turn")),
      tokens_per_conversation_day: Number(d.get("tokens_per_conversation_day")),
      daily_spend_usd: numOrNull(d.get("daily_spend_usd")),
    };
    status.textContent = "";
    try {
      await patch(`/api/v1/agents/${agent.id}`, {
        name: String(d.get("name")).trim(),
        handle: String(d.get("handle")).trim(),
        model: String(d.get("model")).trim(),
        description: String(d.get("description")),
        memory: d.get("memory") !== null,
        knowledge: d.get("knowledge") !== null,
        disabled: d.get("disabled") !== null,
        budgets,
      });
      forgetAgents();
      toast("Agent saved.");
      rerender();
    } catch (err) {
      status.textContent = err.message;
    }
  });
  return form;
}

async function deleteAgent(agent, rerender) {
  if (!(await confirmDialog(`Delete @${agent.handle}, its SOUL.md, memories and knowledge?`))) return;
  try {
    await del(`/api/v1/agents/${agent.id}`);
    forgetAgents();
    selected = null;
    rerender();
  } catch (e) {
    toast(e.message, "error");
  }
}

function soulForm(agent, text) {
  const area = h("textarea", { name: "soul", class: "soul-area", "aria-label": "SOUL.md", spellcheck: "false" });
  area.value = text;
  const status = errorLine();
  const form = h("form", { class: "stack" },
    h("p", { class: "muted", text: "The agent's personality and rules, in Markdown. It opens every prompt." }),
    area, status,
    h("div", { class: "panel-actions" }, h("button", { type: "submit", text: "Save SOUL.md" })));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    status.textContent = "";
    try {
      await api("PUT", `/api/v1/agents/${agent.id}/soul`, { soul: area.value });
      toast("SOUL.md saved.");
    } catch (err) {
      status.textContent = err.message;
    }
  });
  return form;
}

function memoriesPanel(agent, result, rerender) {
  if (result.error) return h("p", { class: "error", text: result.error });
  const items = (result.memories || []).map((m) => h("li", {},
    h("span", { class: "tag", text: m.scope === "conversation" ? `conversation ${m.conversation_id}` : (m.user ? m.user.name : "user") }),
    h("span", { class: "grow", text: m.text }),
    h("span", { class: "muted", text: fmtDateTime(m.created_at) }),
    h("button", {
      type: "button", class: "ghost small danger-text", text: "Delete", "aria-label": `Delete memory: ${m.text.slice(0, 40)}`,
      onclick: async () => {
        try {
          await del(`/api/v1/agents/${agent.id}/memories/${m.id}`);
          rerender();
        } catch (e) {
          toast(e.message, "error");
        }
      },
    })));
  const status = errorLine();
  const scope = h("select", { name: "scope", class: "narrow", "aria-label": "Scope" },
    h("option", { value: "user", text: "About me" }), h("option", { value: "conversation", text: "A conversation" }));
  const convId = h("input", { name: "conversation_id", class: "narrow", type: "number", min: 1, placeholder: "conversation id", "aria-label": "Conversation id", hidden: true });
  scope.addEventListener("change", () => { convId.hidden = scope.value !== "conversation"; });
  const form = h("form", { class: "inline-form", "aria-label": "Add a memory" },
    h("input", { name: "text", required: true, maxlength: 2000, placeholder: "A fact the agent should remember", "aria-label": "Memory" }),
    scope, convId,
    h("button", { type: "submit", class: "small", text: "Add" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { text: form.elements.text.value.trim(), scope: scope.value };
    if (scope.value === "conversation") body.conversation_id = Number(convId.value);
    try {
      await post(`/api/v1/agents/${agent.id}/memories`, body);
      rerender();
    } catch (err) {
      status.textContent = err.message;
    }
  });
  return h("div", {},
    items.length ? h("ul", { class: "list-plain" }, items) : h("p", { class: "muted", text: "No memories yet." }),
    form, status);
}

function knowledgePanel(agent, result, rerender) {
  if (result.error) return h("p", { class: "error", text: result.error });
  const items = (result.documents || []).map((doc) => h("li", {},
    h("span", { class: "grow" }, h("strong", { text: doc.name }),
      h("span", { class: "muted", text: ` · ${fmtSize(doc.size)} · ${doc.chunks} chunks` })),
    doc.flagged ? h("span", { class: "tag err-tag", text: "injection flagged" }) : null,
    h("button", {
      type: "button", class: "ghost small danger-text", text: "Delete", "aria-label": `Delete ${doc.name}`,
      onclick: async () => {
        if (!(await confirmDialog(`Remove ${doc.name} from @${agent.handle}'s knowledge?`))) return;
        try {
          await del(`/api/v1/agents/${agent.id}/knowledge/${doc.id}`);
          rerender();
        } catch (e) {
          toast(e.message, "error");
        }
      },
    })));
  const status = errorLine();
  const file = h("input", { type: "file", name: "file", required: true, accept: ".md,.markdown,.txt,.html,.htm,.pdf", "aria-label": "Knowledge file" });
  const form = h("form", { class: "inline-form", "aria-label": "Upload a knowledge file" },
    file, h("button", { type: "submit", class: "small", text: "Upload" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!file.files.length) return;
    const data = new FormData();
    data.append("file", file.files[0]);
    status.textContent = "Uploading…";
    try {
      await post(`/api/v1/agents/${agent.id}/knowledge`, data);
      rerender();
    } catch (err) {
      status.textContent = err.message;
    }
  });
  return h("div", {},
    h("p", { class: "muted", text: "Markdown, text, HTML or PDF. The agent searches these and cites them by name." }),
    items.length ? h("ul", { class: "list-plain" }, items) : h("p", { class: "muted", text: "No knowledge files yet." }),
    form, status);
}

// ---------------------------------------------------------------- providers

/** The Providers settings tab (owner only; the server enforces it too). */
export async function providersTab(me, rerender) {
  const { providers } = await get("/api/v1/providers");
  const testStatus = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const rows = providers.map((p) => h("tr", { dataset: { name: p.name } },
    h("td", {}, h("strong", { text: p.name })),
    h("td", { text: p.kind }),
    h("td", { class: "mono", text: p.base_url }),
    h("td", {}, h("span", { class: `tag ${p.has_api_key ? "ok-tag" : ""}`, text: p.has_api_key ? "key set" : "no key" })),
    h("td", { text: (p.models || []).join(", ") || "—" }),
    h("td", { class: "row-actions" },
      h("button", { type: "button", class: "secondary small", text: "Test connection", "aria-label": `Test the connection to ${p.name}`, onclick: (e) => testProvider(p.name, e.currentTarget, testStatus) }),
      h("button", { type: "button", class: "secondary small", text: "Edit", "aria-label": `Edit ${p.name}`, onclick: () => { editingProvider = p.name; rerender(); } }),
      p.has_api_key ? h("button", { type: "button", class: "ghost small", text: "Remove key", "aria-label": `Remove the API key of ${p.name}`, onclick: () => removeKey(p, rerender) }) : null,
      h("button", { type: "button", class: "danger small", text: "Delete", "aria-label": `Delete ${p.name}`, onclick: () => deleteProvider(p, rerender) }))));
  const editing = providers.find((p) => p.name === editingProvider) || null;
  return [
    panel(editing ? `Edit provider ${editing.name}` : "Add a provider", providerForm(editing, rerender)),
    panel("Providers", table(["Name", "Kind", "Base URL", "API key", "Models", ""], rows, "No providers yet. Add one so agents can answer."), testStatus),
  ];
}

/**
 * Runs the server's connection test (one real call with the saved settings
 * and key) and says what happened in `status`. Returns the result.
 */
export async function testProvider(name, button, status) {
  if (button) button.disabled = true;
  status.className = "status";
  status.textContent = `Testing ${name}…`;
  try {
    const r = await post(`/api/v1/providers/${encodeURIComponent(name)}/test`, {});
    status.className = r.ok ? "status ok" : "status error";
    status.textContent = r.ok
      ? `${name}: connected. ${r.models.length} model${r.models.length === 1 ? "" : "s"} available${r.models.length ? ` (${r.models.slice(0, 5).join(", ")}${r.models.length > 5 ? ", …" : ""})` : ""}.`
      : `${name}: ${r.message || r.code}`;
    return r;
  } catch (e) {
    status.className = "status error";
    status.textContent = `${name}: ${e.message}`;
    return null;
  } finally {
    if (button) button.disabled = false;
  }
}

const providerBody = (p) => ({
  kind: p.kind, base_url: p.base_url, models: p.models || [], embedding_model: p.embedding_model ?? null,
  input_usd_per_mtok: p.input_usd_per_mtok ?? null, output_usd_per_mtok: p.output_usd_per_mtok ?? null,
});

function providerForm(p, rerender) {
  const status = errorLine();
  const kind = h("select", { name: "kind" }, KINDS.map((k) => h("option", { value: k, text: k, selected: p ? p.kind === k : k === "openai" })));
  const baseUrl = h("input", { name: "base_url", type: "text", inputmode: "url", spellcheck: "false", value: p ? p.base_url : "", placeholder: DEFAULT_URL[p ? p.kind : "openai"] });
  kind.addEventListener("change", () => { baseUrl.placeholder = DEFAULT_URL[kind.value]; });
  // Never pre-filled: the key is write-only.
  const key = h("input", { name: "api_key", type: "password", autocomplete: "new-password", placeholder: p && p.has_api_key ? "unchanged" : "" });
  const form = h("form", { class: "stack", autocomplete: "off", "aria-label": "Provider" },
    h("div", { class: "row-fields" },
      field("Name", h("input", { name: "name", required: true, maxlength: 32, pattern: HANDLE_PATTERN, value: p ? p.name : "", readonly: !!p, placeholder: "openai" })),
      field("Kind", kind),
      field("Base URL", baseUrl, "(empty: the default)")),
    h("div", { class: "row-fields" },
      h("div", { class: "field" }, h("label", {}, "API key",
        p && p.has_api_key ? h("span", { class: "tag ok-tag key-state", text: "key set" }) : null,
        h("span", { class: "hint", text: " (leave empty to keep)" }), key)),
      field("Models", h("input", { name: "models", value: p ? (p.models || []).join(", ") : "", placeholder: "gpt-4o-mini, gpt-4o" }), "(comma separated)"),
      field("Embedding model", h("input", { name: "embedding_model", value: p && p.embedding_model ? p.embedding_model : "", placeholder: "text-embedding-3-small" }))),
    h("div", { class: "row-fields" },
      field("Input price", h("input", { name: "input_usd_per_mtok", type: "number", min: 0, step: "any", value: p?.input_usd_per_mtok ?? "" }), "(USD per million tokens)"),
      field("Output price", h("input", { name: "output_usd_per_mtok", type: "number", min: 0, step: "any", value: p?.output_usd_per_mtok ?? "" }), "(USD per million tokens)")),
    status,
    h("div", { class: "panel-actions" },
      h("button", { type: "submit", text: "Save provider" }),
      p ? h("button", { type: "button", class: "secondary", text: "Cancel", onclick: () => { editingProvider = null; rerender(); } }) : null));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const d = new FormData(form);
    const name = String(d.get("name")).trim();
    const body = {
      kind: kind.value,
      models: String(d.get("models")).split(",").map((s) => s.trim()).filter(Boolean),
      embedding_model: String(d.get("embedding_model")).trim() || null,
      input_usd_per_mtok: numOrNull(d.get("input_usd_per_mtok")),
      output_usd_per_mtok: numOrNull(d.get("output_usd_per_mtok")),
    };
    const url = String(d.get("base_url")).trim();
    if (url) body.base_url = url;
    const secret = String(d.get("api_key"));
    if (secret) body.api_key = secret;
    key.value = ""; // do not keep the key in the page any longer than needed
    status.textContent = "";
    try {
      await api("PUT", `/api/v1/providers/${encodeURIComponent(name)}`, body);
      toast(`Provider ${name} saved.`);
      editingProvider = null;
      rerender();
    } catch (err) {
      status.textContent = err.message;
    }
  });
  return form;
}

async function removeKey(p, rerender) {
  if (!(await confirmDialog(`Remove the API key of ${p.name}? Agents using it stop working until a new key is set.`, "Remove key"))) return;
  try {
    await api("PUT", `/api/v1/providers/${encodeURIComponent(p.name)}`, { ...providerBody(p), api_key: "" });
    rerender();
  } catch (e) {
    toast(e.message, "error");
  }
}

async function deleteProvider(p, rerender) {
  if (!(await confirmDialog(`Delete the provider ${p.name} and its key?`))) return;
  try {
    await del(`/api/v1/providers/${encodeURIComponent(p.name)}`);
    if (editingProvider === p.name) editingProvider = null;
    rerender();
  } catch (e) {
    toast(e.message, "error");
  }
}
