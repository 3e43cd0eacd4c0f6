// The sidebar's agent list: every enabled agent, one click away from my
// direct conversation with it (opened, or created the first time). Guests
// cannot start conversations, so they get no list. Names go in as text.
import { get } from "./api.js";
import { h, byId, toast, avatar } from "./dom.js";
import { chatWithAgent } from "./agent-chat.js";

let agents = [];
let user = null;
const listeners = [];

/** The enabled agents as last loaded. */
export const knownAgents = () => agents;

/** Calls fn(agents) after every reload (the home screen lists them too). */
export function onAgentsLoaded(fn) {
  listeners.push(fn);
}

/** Loads the agent list and draws it; quiet on failure (the list just stays). */
export async function loadSidebarAgents(me) {
  if (me) user = me;
  if (!user || user.role === "guest") {
    byId("agents-side").hidden = true;
    return agents;
  }
  try {
    const { agents: list } = await get("/api/v1/agents");
    agents = list.filter((a) => !a.disabled);
  } catch (_) {
    return agents;
  }
  draw();
  listeners.forEach((fn) => fn(agents));
  return agents;
}

function draw() {
  byId("agents-side").hidden = agents.length === 0;
  // Suggestions for the New group dialog's members field.
  byId("member-options").replaceChildren(...agents.map((a) => h("option", { value: `@${a.handle}` })));
  byId("agent-list").replaceChildren(...agents.map((a) => h("li", {},
    h("button", {
      type: "button",
      class: "conv agent-link",
      "aria-label": `Chat with ${a.name} (@${a.handle})`,
      dataset: { handle: a.handle },
      onclick: () => openAgent(a),
    },
    avatar(a.name, "agent"),
    h("span", { class: "conv-text" },
      h("span", { class: "conv-title", text: a.name }),
      h("span", { class: "conv-sub muted", text: `@${a.handle}` }))))));
}

/** Opens my direct chat with an agent; errors become a toast. */
export async function openAgent(agent) {
  try {
    await chatWithAgent(agent);
  } catch (e) {
    toast(e.message, "error");
  }
}
