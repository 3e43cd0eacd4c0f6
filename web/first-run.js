// The home screen when no conversation is open: agents to talk to (one
// click opens a direct chat), a pointer to groups of people and agents,
// and, for an owner with no provider yet, the first-run path: look for
// Ollama on the server's machine, or save an OpenAI-compatible/Anthropic
// provider, test the connection with one real call (server-side: the
// browser cannot reach providers under our CSP), point the default agent
// at the model, and chat. Every value from the server goes in as text; the
// API key is sent once and never kept in the page.
import { get, post, patch, api } from "./api.js";
import { h, byId } from "./dom.js";
import { knownAgents, loadSidebarAgents, onAgentsLoaded, openAgent } from "./sidebar-agents.js";
import { forgetAgents } from "./agent-chat.js";

const DEFAULT_HANDLE = "assistant";

let me = null;
let providerCount = null; // owner only; null until known
let connected = null; // { provider, model } after a successful first-run test
let detectedOnce = false;
let card = null; // the first-run card, kept across redraws so its state survives

const field = (label, input, hint) => h("div", { class: "field" },
  h("label", {}, label, hint ? h("span", { class: "hint", text: ` ${hint}` }) : null, input));

/** Sets up the home screen for this user. */
export async function initWelcome(user) {
  me = user;
  onAgentsLoaded(() => drawWelcome());
  if (me.role === "owner") {
    try {
      providerCount = (await get("/api/v1/providers")).providers.length;
    } catch (_) {
      providerCount = null;
    }
  }
  drawWelcome();
}

const defaultAgent = () => knownAgents().find((a) => a.handle === DEFAULT_HANDLE) || knownAgents()[0] || null;

function drawWelcome() {
  const box = byId("welcome");
  if (!box || !me) return;
  const parts = [];
  const firstRun = me.role === "owner" && (providerCount === 0 || connected);
  if (firstRun) {
    if (!card) card = firstRunCard();
    parts.push(card);
  }
  const agents = knownAgents();
  if (me.role !== "guest" && agents.length) {
    parts.push(h("p", { class: "muted", text: "Talk to an agent:" }),
      h("div", { class: "welcome-agents" }, agents.slice(0, 8).map((a) => h("button", {
        type: "button", class: "secondary", "aria-label": `Chat with ${a.name} (@${a.handle})`,
        onclick: () => openAgent(a), text: `${a.name} · @${a.handle}`,
      }))));
  }
  if (me.role !== "guest") {
    parts.push(h("p", { class: "muted" }, "Or ",
      h("button", { type: "button", class: "link", text: "start a group", onclick: () => byId("new-group").click() }),
      " with people and agents, and @mention an agent to bring it in."));
  } else {
    parts.push(h("p", { class: "muted", text: "Pick a conversation you were invited to." }));
  }
  box.replaceChildren(...parts);
}

// ---------------------------------------------------------------- first run

function firstRunCard() {
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const next = h("div", { class: "first-run-next", hidden: true });

  // Ollama on the server's machine.
  const ollamaStatus = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const ollamaModels = h("select", { "aria-label": "Ollama model", hidden: true });
  const useOllama = h("button", { type: "button", hidden: true, text: "Use Ollama" });
  const detect = h("button", { type: "button", class: "secondary", text: "Look for Ollama" });
  let ollamaUrl = null;
  const runDetect = async () => {
    detect.disabled = true;
    ollamaStatus.className = "status";
    ollamaStatus.textContent = "Looking for Ollama on the server's machine…";
    try {
      const r = await post("/api/v1/providers/detect", {});
      ollamaUrl = r.base_url;
      const found = r.ok && r.models.length > 0;
      ollamaStatus.className = found ? "status ok" : "status muted";
      ollamaStatus.textContent = found
        ? `Found Ollama at ${r.base_url} with ${r.models.length} model${r.models.length === 1 ? "" : "s"}.`
        : r.ok ? `Ollama is running at ${r.base_url} but has no models yet (ollama pull llama3.2).`
          : r.code === "provider_unreachable" ? `No Ollama found: nothing answered at ${r.base_url}.`
            : `No Ollama at ${r.base_url}: ${r.message || r.code}`;
      ollamaModels.replaceChildren(...r.models.map((m) => h("option", { value: m, text: m })));
      ollamaModels.hidden = !found;
      useOllama.hidden = !found;
    } catch (e) {
      ollamaStatus.className = "status error";
      ollamaStatus.textContent = e.message;
    } finally {
      detect.disabled = false;
    }
  };
  detect.addEventListener("click", runDetect);
  useOllama.addEventListener("click", () => connect({
    name: "ollama", body: { kind: "ollama", base_url: ollamaUrl, models: [ollamaModels.value] }, model: ollamaModels.value,
  }, status, next, useOllama));

  // Any provider by hand.
  const kind = h("select", { name: "kind", "aria-label": "Kind" },
    [["openai", "OpenAI-compatible (OpenAI, OpenRouter, LM Studio, vLLM…)"], ["anthropic", "Anthropic"], ["ollama", "Ollama"]]
      .map(([v, t]) => h("option", { value: v, text: t })));
  const baseUrl = h("input", { name: "base_url", type: "text", inputmode: "url", spellcheck: "false", autocomplete: "off", placeholder: "empty: the provider's default" });
  const key = h("input", { name: "api_key", type: "password", autocomplete: "new-password", placeholder: "not needed for local servers" });
  const model = h("input", { name: "model", required: true, autocomplete: "off", spellcheck: "false", placeholder: "gpt-4o-mini" });
  const save = h("button", { type: "submit", text: "Save and test connection" });
  const form = h("form", { class: "stack", autocomplete: "off", "aria-label": "Connect a provider" },
    h("div", { class: "row-fields" }, field("Kind", kind), field("Base URL", baseUrl)),
    h("div", { class: "row-fields" }, field("API key", key), field("Model", model)),
    h("div", { class: "panel-actions" }, save));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { kind: kind.value, models: [model.value.trim()] };
    if (baseUrl.value.trim()) body.base_url = baseUrl.value.trim();
    if (key.value) body.api_key = key.value;
    key.value = ""; // sent once; never kept in the page
    connect({ name: kind.value, body, model: model.value.trim() }, status, next, save);
  });

  const cardEl = h("section", { class: "first-run", "aria-labelledby": "first-run-title" },
    h("h2", { id: "first-run-title", text: "Connect a model provider" }),
    h("p", { class: "muted", text: "Agents answer with a language model. Use Ollama running on this server's machine, or any OpenAI-compatible API or Anthropic." }),
    h("div", { class: "first-run-step" },
      h("div", { class: "panel-actions" }, detect, ollamaModels, useOllama), ollamaStatus),
    h("details", { class: "first-run-step" }, h("summary", { text: "Another provider" }), form),
    status, next);
  if (!detectedOnce) {
    detectedOnce = true;
    runDetect();
  }
  return cardEl;
}

/** Saves the provider, tests it, and points the default agent at the model. */
async function connect({ name, body, model }, status, next, button) {
  button.disabled = true;
  next.hidden = true;
  status.className = "status";
  status.textContent = `Saving ${name} and testing the connection…`;
  try {
    await api("PUT", `/api/v1/providers/${encodeURIComponent(name)}`, body);
    providerCount = Math.max(providerCount || 0, 1);
    const r = await post(`/api/v1/providers/${encodeURIComponent(name)}/test`, {});
    if (!r.ok) {
      status.className = "status error";
      status.textContent = `${name} is saved, but the test failed: ${r.message || r.code}. Fix the settings and try again.`;
      return;
    }
    const chosen = model || r.models[0];
    if (!chosen) {
      status.className = "status error";
      status.textContent = `${name} answered but lists no models: name one in the Model field.`;
      return;
    }
    const agent = await pointDefaultAgent(`${name}/${chosen}`);
    connected = { provider: name, model: chosen };
    status.className = "status ok";
    status.textContent = `Connected to ${name} (${r.models.length} model${r.models.length === 1 ? "" : "s"} listed). @${agent.handle} now uses ${name}/${chosen}.`;
    next.replaceChildren(
      h("p", { class: "muted", text: "Open it from Agents in the sidebar, or:" }),
      h("button", { type: "button", text: `Chat with ${agent.name}`, onclick: () => openAgent(agent) }));
    next.hidden = false;
    forgetAgents();
    await loadSidebarAgents();
  } catch (e) {
    status.className = "status error";
    status.textContent = e.message;
  } finally {
    button.disabled = false;
  }
}

/** The default agent, now on `model` (created if the owner deleted every agent). */
async function pointDefaultAgent(model) {
  const agent = defaultAgent();
  if (agent) return patch(`/api/v1/agents/${agent.id}`, { model });
  return post("/api/v1/agents", { handle: DEFAULT_HANDLE, name: "Assistant", model });
}
