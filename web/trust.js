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
  // Changes are collected, then saved together with one reason: arrow keys
  // on a select change its value, so saving on every change would not do.
  const changes = changeBar(rerender);
  const rows = views.map(([a, levels]) => h("tr", { dataset: { agent: a.handle } },
    h("td", {}, h("strong", { text: `@${a.handle}` }), a.disabled ? h("span", { class: "muted", text: " (disabled)" }) : null),
    DOMAINS.map((d) => h("td", {}, levelSelect(a, d, levels.get(d), owner, changes)))));
  const legend = h("ul", { class: "trust-legend", "aria-label": "Levels" },
    LEVELS.map((name, i) => h("li", { class: `level-${i}` }, h("strong", { text: `${i} ${name}` }), `: ${LEVEL_HELP[i]}`)));
  return [
    panel("Trust levels",
      h("p", { class: "muted", text: owner
        ? "What each agent may do in each domain. Tools that only read are always allowed; a turn that read untrusted content asks before anything else, whatever the level. Pick new levels, give a reason, then save."
        : "What each agent may do in each domain. Only the owner changes levels." }),
      legend,
      table(["Agent", ...DOMAINS], rows, "No agents yet.", "trust"),
      owner ? changes.el : null),
    await historyPanel(agents, owner, rerender),
  ];
}

function levelSelect(agent, domain, level, owner, changes) {
  const select = h("select", { class: `level-select level-${level}`, "aria-label": `@${agent.handle} ${domain} level`, disabled: !owner },
    LEVELS.map((name, i) => h("option", { value: i, text: `${i} · ${name}`, selected: i === level })));
  select.addEventListener("change", () => {
    const next = Number(select.value);
    select.classList.toggle("changed", next !== level);
    changes.set({ agent, domain, from: level, to: next, select });
  });
  return select;
}

/** The pending changes, their reason, Save and Discard. */
function changeBar(rerender) {
  const pending = new Map(); // "agentId/domain" -> change
  const summary = h("p", { class: "change-summary", role: "status" });
  const reason = h("input", { name: "reason", maxlength: 500, autocomplete: "off", placeholder: "e.g. it has been reliable for a month" });
  const save = h("button", { type: "submit", text: "Save changes" });
  const discard = h("button", {
    type: "button", class: "secondary", text: "Discard",
    onclick: () => {
      for (const c of pending.values()) {
        c.select.value = String(c.from);
        c.select.classList.remove("changed");
      }
      pending.clear();
      draw();
    },
  });
  const el = h("form", { class: "change-bar", "aria-label": "Save trust changes", hidden: true },
    summary,
    h("div", { class: "field" }, h("label", {}, "Reason ", h("span", { class: "hint", text: "(kept in the history)" }), reason)),
    h("div", { class: "panel-actions" }, save, discard));
  const draw = () => {
    const list = [...pending.values()];
    el.hidden = list.length === 0;
    summary.textContent = list.map((c) => `@${c.agent.handle} ${c.domain}: ${c.from} → ${c.to}`).join(" · ");
  };
  el.addEventListener("submit", async (e) => {
    e.preventDefault();
    save.disabled = true;
    let done = 0;
    for (const c of pending.values()) {
      try {
        await api("PUT", `/api/v1/agents/${c.agent.id}/trust/${encodeURIComponent(c.domain)}`, { level: c.to, reason: reason.value.trim() });
        done++;
      } catch (err) {
        toast(`@${c.agent.handle} ${c.domain}: ${err.message}`, "error");
      }
    }
    if (done) toast(done === 1 ? "Trust level changed." : `${done} trust levels changed.`);
    rerender();
  });
  return {
    el,
    set(change) {
      const key = `${change.agent.id}/${change.domain}`;
      if (change.to === change.from) pending.delete(key);
      else pending.set(key, change);
      draw();
    },
  };
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
