// Settings → Secrets (owner only): names and bindings of the secrets agents
// may use as {{secret:NAME}} in http_request. Values are write-only: the
// page sends a value once (a password field, emptied straight after) and
// never receives one, so no value can ever be shown here.
import { get, api, del } from "./api.js";
import { h, toast, confirmDialog, table, timeAgo, toSecs } from "./dom.js";

const NAME_PATTERN = "[A-Za-z0-9._\\-]{1,128}";
const SLOT_RE = /^(header|query|body):[A-Za-z0-9._\-]{1,128}$/;

const panel = (title, ...children) => h("section", { class: "panel" }, h("h2", { text: title }), ...children);

/** scheme, host, port and path prefix of a binding as one address (or "—"). */
export function bindingText(b) {
  if (!b) return "—";
  const port = b.port ? `:${b.port}` : "";
  return `${b.scheme}://${b.host}${port}${b.path_prefix || ""}`;
}

export async function secretsTab(user, rerender) {
  let list;
  try {
    list = (await get("/api/v1/secrets")).secrets;
  } catch (e) {
    if (e.status === 404) return [panel("Secrets", h("p", { class: "muted", text: "This server cannot manage secrets from the web yet: use `hardshell vault set` while it is stopped." }))];
    throw e;
  }
  const form = valueForm(rerender);
  const rows = list.map((s) => h("tr", { dataset: { secret: s.name } },
    h("td", {}, h("strong", { class: "mono", text: s.name })),
    h("td", { class: "binding", text: bindingText(s.binding) }),
    h("td", {}, s.binding ? h("div", { class: "perm-tags" }, (s.binding.slots && s.binding.slots.length ? s.binding.slots : ["header (default)"]).map((slot) => h("span", { class: "tag", text: slot })))
      : h("span", { class: "muted", text: "not usable until bound" })),
    h("td", {}, timeAgo(toSecs(s.updated_at))),
    h("td", {}, h("div", { class: "row-actions" },
      h("button", { type: "button", class: "secondary small", text: "Replace value", "aria-label": `Replace the value of ${s.name}`, onclick: () => form.fillName(s.name) }),
      h("button", { type: "button", class: "secondary small", text: s.binding ? "Edit binding" : "Bind", "aria-label": `${s.binding ? "Edit the binding of" : "Bind"} ${s.name}`, onclick: () => bindDialog(s, rerender) }),
      s.binding ? h("button", { type: "button", class: "ghost small", text: "Unbind", "aria-label": `Unbind ${s.name}`, onclick: () => unbind(s, rerender) }) : null,
      h("button", { type: "button", class: "danger small", text: "Delete", "aria-label": `Delete ${s.name}`, onclick: () => remove(s, rerender) })))));
  return [
    panel("Set a secret",
      h("p", { class: "muted", text: "Agents never see a value: they write {{secret:NAME}} in an http_request, and Hardshell puts the value in only on the way out, only to the host the secret is bound to, and only in the slots the binding allows. Values cannot be read back." }),
      form.el),
    panel("Secrets", table(["Name", "Bound to", "Slots", "Updated", ""], rows, "No secrets yet.", "secrets")),
  ];
}

function valueForm(rerender) {
  const name = h("input", { name: "name", required: true, maxlength: 128, pattern: NAME_PATTERN, autocomplete: "off", spellcheck: "false", placeholder: "GITHUB_TOKEN" });
  const value = h("input", { name: "value", type: "password", required: true, autocomplete: "new-password", spellcheck: "false" });
  const status = h("p", { class: "status", role: "status" });
  const el = h("form", { class: "stack secret-form", "aria-label": "Set a secret", autocomplete: "off" },
    h("div", { class: "row-fields" },
      h("div", { class: "field" }, h("label", {}, "Name ", h("span", { class: "hint", text: "(A–Z, 0–9, . _ -)" }), name)),
      h("div", { class: "field" }, h("label", {}, "Value ", h("span", { class: "hint", text: "(write-only)" }), value))),
    status,
    h("div", { class: "panel-actions" }, h("button", { type: "submit", text: "Save secret" })));
  el.addEventListener("submit", async (e) => {
    e.preventDefault();
    const n = name.value.trim();
    const v = value.value;
    // The value leaves the page now, whatever the answer.
    value.value = "";
    status.className = "status";
    try {
      await api("PUT", `/api/v1/secrets/${encodeURIComponent(n)}`, { value: v });
      toast(`Secret ${n} saved.`);
      rerender();
    } catch (err) {
      status.className = "status error";
      status.textContent = `${err.message} Enter the value again.`;
    }
  });
  return {
    el,
    fillName(n) {
      name.value = n;
      value.value = "";
      status.textContent = `Enter the new value for ${n}.`;
      el.scrollIntoView({ block: "nearest" });
      value.focus();
    },
  };
}

function bindDialog(secret, rerender) {
  const b = secret.binding || {};
  const scheme = h("select", { name: "scheme" }, ["https", "http"].map((s) => h("option", { value: s, text: s, selected: (b.scheme || "https") === s })));
  const host = h("input", { name: "host", required: true, maxlength: 253, autocomplete: "off", spellcheck: "false", placeholder: "api.github.com" });
  host.value = b.host || "";
  const port = h("input", { name: "port", type: "number", min: 1, max: 65535, placeholder: "default" });
  port.value = b.port ? String(b.port) : "";
  const prefix = h("input", { name: "path_prefix", maxlength: 512, autocomplete: "off", spellcheck: "false", placeholder: "/repos/" });
  prefix.value = b.path_prefix || "";
  const slots = h("input", { name: "slots", autocomplete: "off", spellcheck: "false", placeholder: "header:authorization" });
  slots.value = (b.slots || []).join(", ");
  const status = h("p", { class: "status error", role: "status" });
  const form = h("form", { method: "dialog" },
    h("h2", { id: "bind-title", text: `Bind ${secret.name}` }),
    h("p", { class: "muted", text: "The secret is sent only to this address. By default it may go in a request header; list query:NAME or body:FIELD slots to allow more." }),
    h("div", { class: "row-fields" },
      h("div", { class: "field" }, h("label", {}, "Scheme", scheme)),
      h("div", { class: "field" }, h("label", {}, "Host", host)),
      h("div", { class: "field" }, h("label", {}, "Port ", h("span", { class: "hint", text: "(optional)" }), port))),
    h("div", { class: "field" }, h("label", {}, "Path prefix ", h("span", { class: "hint", text: "(optional)" }), prefix)),
    h("div", { class: "field" }, h("label", {}, "Slots ", h("span", { class: "hint", text: "(optional, comma-separated: header:NAME, query:NAME, body:FIELD)" }), slots)),
    status,
    h("div", { class: "dialog-actions" },
      h("button", { type: "button", class: "secondary", text: "Cancel", onclick: () => dlg.close() }),
      h("button", { type: "submit", text: "Save binding" })));
  const dlg = h("dialog", { "aria-labelledby": "bind-title" }, form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { scheme: scheme.value, host: host.value.trim() };
    if (port.value) body.port = Number(port.value);
    if (prefix.value.trim()) body.path_prefix = prefix.value.trim();
    const list = slots.value.split(/[\s,]+/).filter(Boolean);
    const bad = list.find((s) => !SLOT_RE.test(s));
    if (bad) {
      status.textContent = `“${bad}” is not a slot: use header:NAME, query:NAME or body:FIELD.`;
      return;
    }
    if (list.length) body.slots = list;
    try {
      await api("PUT", `/api/v1/secrets/${encodeURIComponent(secret.name)}/binding`, body);
      dlg.close();
      toast(`${secret.name} is bound to ${bindingText(body)}.`);
      rerender();
    } catch (err) {
      status.textContent = err.message;
    }
  });
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  host.focus();
}

async function unbind(secret, rerender) {
  if (!(await confirmDialog(`Unbind ${secret.name}? Agents can no longer send it anywhere until it is bound again.`, "Unbind"))) return;
  try {
    await del(`/api/v1/secrets/${encodeURIComponent(secret.name)}/binding`);
    toast(`${secret.name} unbound.`);
  } catch (e) {
    toast(e.message, "error");
  }
  rerender();
}

async function remove(secret, rerender) {
  if (!(await confirmDialog(`Delete the secret ${secret.name}? Requests that use it will be refused.`))) return;
  try {
    await del(`/api/v1/secrets/${encodeURIComponent(secret.name)}`);
    toast(`${secret.name} deleted.`);
  } catch (e) {
    toast(e.message, "error");
  }
  rerender();
}
