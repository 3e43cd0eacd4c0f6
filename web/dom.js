// Small DOM helpers. Text always goes in through textContent; the only
// HTML ever parsed is the server's sanitised message HTML (setSafeHtml),
// which is parsed inert in a <template> and scrubbed again before use.

/** Builds an element. attrs: class, text, dataset, on* handlers (functions), other attributes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "style" || key.startsWith("on") || key === "innerHTML") throw new Error("refused attribute " + key);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const byId = (id) => document.getElementById(id);

let toastBox;
export function toast(text, kind = "") {
  if (!toastBox) {
    toastBox = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(toastBox);
  }
  const t = h("div", { class: "toast " + kind, text });
  toastBox.append(t);
  setTimeout(() => t.remove(), 5000);
}

const SAFE_URL = /^(https?:|mailto:|\/(?!\/)|#)/i;

/**
 * Inserts server-sanitised message HTML. Parsing happens in an inert
 * template (no scripts run, no images load); anything active that slipped
 * through is dropped before the nodes reach the page.
 */
export function setSafeHtml(target, html) {
  const tpl = document.createElement("template");
  tpl.innerHTML = html;
  const walker = document.createTreeWalker(tpl.content, NodeFilter.SHOW_ELEMENT);
  const drop = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const tag = n.localName;
    if (["script", "style", "iframe", "object", "embed", "form", "input", "button", "link", "meta", "base", "svg", "math"].includes(tag)) {
      drop.push(n);
      continue;
    }
    for (const attr of [...n.attributes]) {
      const name = attr.name.toLowerCase();
      const url = ["href", "src", "action", "formaction", "xlink:href", "srcset"].includes(name);
      if (name.startsWith("on") || name === "style" || (url && !SAFE_URL.test(attr.value.trim()))) {
        n.removeAttribute(attr.name);
      }
    }
    if (tag === "a") {
      n.setAttribute("rel", "noopener noreferrer nofollow");
      n.setAttribute("target", "_blank");
    }
  }
  drop.forEach((n) => n.remove());
  target.replaceChildren(tpl.content);
}

export function fmtTime(secs) {
  return new Date(secs * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function fmtDateTime(secs) {
  return new Date(secs * 1000).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

export function fmtDay(secs) {
  const d = new Date(secs * 1000);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86400000);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
  return d.toLocaleDateString([], { weekday: "long", month: "long", day: "numeric" });
}

export function fmtSize(bytes) {
  if (bytes < 1024) return bytes + " B";
  if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
  return (bytes / 1024 / 1024).toFixed(1) + " MB";
}

/** A stable colour slot (0–7) for a name. */
export function hueOf(name) {
  let x = 0;
  for (const c of String(name)) x = (x * 31 + c.codePointAt(0)) >>> 0;
  return x % 8;
}

export function avatar(name, kind = "user", extra = "") {
  const initial = (String(name).trim()[0] || "?").toUpperCase();
  return h("span", { class: `avatar hue-${hueOf(name)} ${kind} ${extra}`, "aria-hidden": "true", text: initial });
}

/** A modal yes/no question; resolves true on confirm. */
export function confirmDialog(question, confirmLabel = "Delete") {
  return new Promise((resolve) => {
    const yes = h("button", { type: "submit", class: "danger", value: "yes", text: confirmLabel });
    const dlg = h("dialog", { "aria-label": "Confirm" },
      h("form", { method: "dialog" },
        h("p", { text: question }),
        h("div", { class: "dialog-actions" },
          h("button", { type: "submit", class: "secondary", value: "no", text: "Cancel" }),
          yes)));
    dlg.addEventListener("close", () => {
      resolve(dlg.returnValue === "yes");
      dlg.remove();
    });
    document.body.append(dlg);
    dlg.showModal();
    yes.focus();
  });
}

/** Saves a JSON value as a file download (built in memory, never sent back). */
export function downloadJson(filename, value) {
  const blob = new Blob([JSON.stringify(value, null, 2) + "\n"], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
