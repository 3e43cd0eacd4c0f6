// Settings → Trust: every agent's level (0–4) in each of the nine domains,
// editable by the owner with a reason, and the history of changes with
// Rollback. On a phone each agent's row becomes a card of labelled levels.
import { get, post, api } from "./api.js";
import { h, toast, confirmDialog, table, timeAgo } from "./dom.js";
import { agentNames } from "./approvals.js";

export const DOMAINS = ["messaging", "files", "web", "shell", "finance", "calendar", "email", "integrations", "system"];
export const LEVELS = ["None", "Inform", "Suggest", "Act & report", "Full"];
const LEVEL_HELP = [
  "not offered; refused if called",
  "not run; a “would run” card is shown",
  "asks the owner first",
  "runs, then posts a receipt",
  "runs; still audited",
];

const panel = (title, ...children) => h("section", { class: "panel" }, h("h2", { text: title }), ...children);

export async function trustTab(user, rerender) {
  const owner = user.role === "owner";
  const agents = await agentNames();
  const views = await Promise.all(agents.list.map((a) =>
    get(`/api/v1/agents/${a.id}/trust`).then((v) => [a, new Map(v.levels.map((l) => [l.domain, l.level]))])));
  const rows = views.map(([a, levels]) => h("tr", { dataset: { agent: a.handle } },
    h("td", {}, h("strong", { text: `@${a.handle}` }), a.disabled ? h("span", { class: "muted", text: " (disabled)" }) : null),
    DOMAINS.map((d) => h("td", {}, levelSelect(a, d, levels.get(d), owner, rerender)))));
  const legend = h("ul", { class: "trust-legend", "aria-label": "Levels" },
    LEVELS.map((name, i) => h("li", { class: `level-${i}` }, h("strong", { text: `${i} ${name}` }), `: ${LEVEL_HELP[i]}`)));
  return [
    panel("Trust levels",
      h("p", { class: "muted", text: owner
        ? "What each agent may do in each domain. Tools that only read are always allowed; a turn that read untrusted content asks before anything else, whatever the level."
        : "What each agent may do in each domain. Only the owner changes levels." }),
      legend,
      table(["Agent", ...DOMAINS], rows, "No agents yet.", "trust")),
    await historyPanel(agents, owner, rerender),
  ];
}

function levelSelect(agent, domain, level, owner, rerender) {
  const select = h("select", { class: `level-select level-${level}`, "aria-label": `@${agent.handle} ${domain} level`, disabled: !owner },
    LEVELS.map((name, i) => h("option", { value: i, text: `${i} · ${name}`, selected: i === level })));
  select.addEventListener("change", async () => {
    const next = Number(select.value);
    const reason = await reasonDialog(`@${agent.handle}: ${domain} from ${level} (${LEVELS[level]}) to ${next} (${LEVELS[next]})`);
    if (reason === null) {
      select.value = String(level);
      return;
    }
    try {
      await api("PUT", `/api/v1/agents/${agent.id}/trust/${encodeURIComponent(domain)}`, { level: next, reason });
      toast(`@${agent.handle} ${domain}: level ${next}.`);
    } catch (e) {
      toast(e.message, "error");
    }
    rerender();
  });
  return select;
}

/** Asks why; resolves to the reason (may be empty) or null when cancelled. */
function reasonDialog(change) {
  return new Promise((resolve) => {
    const input = h("input", { name: "reason", maxlength: 500, autocomplete: "off", placeholder: "e.g. it has been reliable for a month" });
    const dlg = h("dialog", { "aria-labelledby": "trust-change-title" },
      h("form", { method: "dialog" },
        h("h2", { id: "trust-change-title", text: "Change a trust level" }),
        h("p", { text: change }),
        h("div", { class: "field" }, h("label", {}, "Reason ", h("span", { class: "hint", text: "(kept in the history)" }), input)),
        h("div", { class: "dialog-actions" },
          h("button", { type: "submit", class: "secondary", value: "no", text: "Cancel" }),
          h("button", { type: "submit", value: "yes", text: "Change level" }))));
    dlg.addEventListener("close", () => {
      resolve(dlg.returnValue === "yes" ? input.value.trim() : null);
      dlg.remove();
    });
    document.body.append(dlg);
    dlg.showModal();
    input.focus();
  });
}

async function historyPanel(agents, owner, rerender) {
  const { changes } = await get("/api/v1/trust/history?limit=100");
  const by = (c) => (c.actor_kind === "system" ? "Hardshell (evidence)" : c.actor_kind === "cli" ? "CLI" : `${c.actor_kind} ${c.actor_id}`);
  const users = await get("/api/v1/users").catch(() => []);
  const userName = new Map(users.map((u) => [String(u.id), u.username]));
  const who = (c) => (c.actor_kind === "user" && userName.has(String(c.actor_id)) ? userName.get(String(c.actor_id)) : by(c));
  const rows = changes.map((c) => h("tr", { dataset: { change: c.id } },
    h("td", {}, timeAgo(c.created_at)),
    h("td", { text: agents.name(c.agent_id) }),
    h("td", { text: c.domain }),
    h("td", { class: "level-change", text: `${c.old_level} → ${c.new_level}` }),
    h("td", { text: c.reason || "—" }),
    h("td", { text: who(c) }),
    h("td", {}, h("div", { class: "row-actions" }, owner ? h("button", {
      type: "button", class: "secondary small", text: "Roll back", "aria-label": `Roll back change ${c.id} (${c.domain} ${c.old_level} → ${c.new_level})`,
      onclick: async () => {
        if (!(await confirmDialog(`Set ${agents.name(c.agent_id)} ${c.domain} back to ${c.old_level} (${LEVELS[c.old_level]})?`, "Roll back"))) return;
        try {
          await post(`/api/v1/trust/history/${encodeURIComponent(c.id)}/rollback`, {});
          toast("Rolled back.");
        } catch (e) {
          toast(e.message, "error");
        }
        rerender();
      },
    }) : null))));
  return panel("History", table(["When", "Agent", "Domain", "Change", "Reason", "By", ""], rows, "No changes yet.", "trust-history"));
}
