// Settings → Approvals: the requests waiting for the owner (with the same
// Approve / Always allow / Deny as the card in the conversation), recent
// decisions, and the "allow always" rules with Revoke. Owners and admins
// read it; only the owner decides. Tool arguments, targets and taint
// sources came from an agent, so they go in as text only.
import { get, del } from "./api.js";
import { h, toast, confirmDialog, table, timeAgo } from "./dom.js";
import { decideApproval, argumentsText, mayDecide, plainShell } from "./cards.js";

const STATUS_CLASS = { approved: "ok-tag", dispatched: "ok-tag", denied: "err-tag", expired: "err-tag", pending: "run-tag" };

const panel = (title, ...children) => h("section", { class: "panel" }, h("h2", { text: title }), ...children);

/** id -> "@handle" for the agents this user can see. */
export async function agentNames() {
  const list = await get("/api/v1/agents").then((r) => r.agents).catch(() => []);
  const map = new Map(list.map((a) => [a.id, `@${a.handle}`]));
  return { list, name: (id) => map.get(id) || `agent #${id}` };
}

const argsCell = (row) => h("td", {},
  h("details", {}, h("summary", { text: "arguments" }), h("pre", { class: "tool-args", text: argumentsText(row.arguments) })));

export async function approvalsTab(user, rerender) {
  const [pendingList, recentList, agents] = await Promise.all([
    get("/api/v1/approvals?status=pending&limit=200").then((r) => r.approvals),
    get("/api/v1/approvals?limit=50").then((r) => r.approvals.filter((a) => a.status !== "pending")),
    agentNames(),
  ]);
  const owner = mayDecide();
  const pendingRows = pendingList.map((a) => {
    const always = !a.taint_source && (a.domain !== "shell" || plainShell(a.target)) && /^trust level 2\b/.test(a.reason || "");
    const decide = (how) => async (event) => {
      event.currentTarget.closest("td").querySelectorAll("button").forEach((b) => { b.disabled = true; });
      const row = await decideApproval(a.id, how);
      if (row) toast(how === "deny" ? `Request #${a.id} denied.` : `Request #${a.id} approved.`);
      rerender();
    };
    return h("tr", { dataset: { approval: a.id } },
      h("td", {}, h("a", { href: `#/c/${a.conversation_id}`, text: `#${a.id}`, title: "Open the conversation" }),
        a.merged ? h("span", { class: "muted", text: ` (×${a.merged + 1})` }) : null),
      h("td", { text: agents.name(a.agent_id) }),
      h("td", {}, h("code", { class: "wrap-code", text: a.tool }), " ", h("span", { class: "tag", text: a.domain })),
      h("td", { class: "mono", text: a.target }),
      argsCell(a),
      h("td", {}, a.taint_source ? h("span", { class: "taint-source error", text: a.taint_source }) : h("span", { class: "muted", text: "—" })),
      h("td", {}, timeAgo(a.expires_at)),
      h("td", {}, h("div", { class: "row-actions" }, owner ? [
        h("button", { type: "button", class: "small", text: "Approve", "aria-label": `Approve request ${a.id}`, onclick: decide("approve") }),
        always ? h("button", { type: "button", class: "secondary small", text: "Always allow", "aria-label": `Always allow request ${a.id}`, onclick: decide("always") }) : null,
        h("button", { type: "button", class: "danger small", text: "Deny", "aria-label": `Deny request ${a.id}`, onclick: decide("deny") }),
      ] : h("span", { class: "muted", text: "owner decides" }))));
  });
  const recentRows = recentList.map((a) => h("tr", {},
    h("td", {}, h("a", { href: `#/c/${a.conversation_id}`, text: `#${a.id}` })),
    h("td", { text: agents.name(a.agent_id) }),
    h("td", {}, h("code", { class: "wrap-code", text: a.tool })),
    h("td", { class: "mono", text: a.target }),
    h("td", {}, h("span", { class: `tag ${STATUS_CLASS[a.status] || ""}`, text: a.status })),
    h("td", {}, timeAgo(a.decided_at || a.expires_at))));
  return [
    panel(`Waiting for a decision (${pendingRows.length})`,
      h("p", { class: "muted", text: "An agent's call waits here when its trust level is 2 (suggest) or when its turn read untrusted content. Approving runs that exact call once." }),
      table(["Request", "Agent", "Tool", "Target", "Arguments", "Tainted by", "Expires", ""], pendingRows, "Nothing is waiting.", "approvals")),
    panel("Recent decisions",
      table(["Request", "Agent", "Tool", "Target", "Outcome", "When"], recentRows, "No decisions yet.", "approvals")),
    await rulesPanel(agents, owner, rerender),
  ];
}

async function rulesPanel(agents, owner, rerender) {
  let rules;
  try {
    rules = (await get("/api/v1/allow-rules")).rules;
  } catch (e) {
    if (e.status === 404) return panel("Allow always", h("p", { class: "muted", text: "This server does not support allow-always rules yet." }));
    return panel("Allow always", h("p", { class: "error", text: e.message }));
  }
  const rows = rules.map((r) => h("tr", { dataset: { rule: r.id } },
    h("td", { text: agents.name(r.agent_id) }),
    h("td", {}, h("code", { class: "wrap-code", text: r.tool })),
    h("td", { class: "mono", text: r.scope }),
    h("td", {}, timeAgo(r.created_at)),
    h("td", {}, h("div", { class: "row-actions" }, owner ? h("button", {
      type: "button", class: "danger small", text: "Revoke", "aria-label": `Revoke the rule for ${r.tool} on ${r.scope}`,
      onclick: async () => {
        if (!(await confirmDialog(`Revoke “always allow ${r.tool} on ${r.scope}”? The next such call asks again.`, "Revoke"))) return;
        try {
          await del(`/api/v1/allow-rules/${encodeURIComponent(r.id)}`);
          toast("Rule revoked.");
        } catch (e) {
          toast(e.message, "error");
        }
        rerender();
      },
    }) : null))));
  return panel("Allow always",
    h("p", { class: "muted", text: "Calls matching a rule run without asking, except in a turn that read untrusted content." }),
    table(["Agent", "Tool", "Scope", "Created", ""], rows, "No rules.", "approvals"));
}
