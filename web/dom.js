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

const RELATIVE = new Intl.RelativeTimeFormat([], { numeric: "auto" });
const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];

/** "5 minutes ago", "yesterday", "in 3 days". */
export function fmtRelative(secs, now = Date.now() / 1000) {
  const diff = secs - now;
  if (Math.abs(diff) < 45) return "just now";
  for (const [unit, size] of UNITS) {
    if (Math.abs(diff) >= size || unit === "minute") return RELATIVE.format(Math.round(diff / size), unit);
  }
  return "just now";
}

/**
 * Seconds since the epoch from what the API sends: a number, digits, or an
 * RFC 3339 string (nanosecond fractions are cut to milliseconds, which
 * Date.parse reads everywhere). null when it is none of those.
 */
export function toSecs(value) {
  if (typeof value === "number") return value;
  if (typeof value !== "string" || !value) return null;
  if (/^\d+$/.test(value)) return Number(value);
  const ms = Date.parse(value.replace(/(\.\d{3})\d+/, "$1").replace(" ", "T"));
  return Number.isNaN(ms) ? null : ms / 1000;
}

/** A <time> showing a relative time, with the exact time on hover. */
export function timeAgo(secs) {
  if (!secs) return document.createTextNode("—");
  const exact = new Date(secs * 1000);
  return h("time", {
    datetime: exact.toISOString(),
    title: exact.toLocaleString([], { dateStyle: "full", timeStyle: "long" }),
    text: fmtRelative(secs),
  });
}

/**
 * A table; on a phone each row becomes a card, so every cell is labelled
 * with its column (data-label, shown by CSS).
 */
export function table(headers, rows, empty, extraClass = "") {
  if (rows.length === 0) return h("p", { class: "muted", text: empty });
  for (const row of rows) {
    [...row.children].forEach((cell, i) => { if (headers[i]) cell.dataset.label = headers[i]; });
  }
  return h("div", { class: "table-wrap" },
    h("table", { class: `cards ${extraClass}`.trim() },
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, rows)));
}

/**
 * Text with every case-insensitive occurrence of the query's words wrapped
 * in <mark>. Built from text nodes only: nothing is ever parsed as HTML.
 */
export function highlighted(text, query) {
  const words = String(query).toLowerCase().split(/\s+/).map((w) => w.replace(/["*^()]/g, "")).filter((w) => w.length > 0);
  const out = [];
  text = String(text);
  const lower = text.toLowerCase();
  // Lower-casing can change the length (U+0130); then positions would not
  // line up, so mark nothing rather than the wrong letters.
  if (lower.length !== text.length) return [text];
  let at = 0;
  while (words.length && at < lower.length) {
    let best = -1;
    let len = 0;
    for (const w of words) {
      const i = lower.indexOf(w, at);
      if (i !== -1 && (best === -1 || i < best || (i === best && w.length > len))) { best = i; len = w.length; }
    }
    if (best === -1) break;
    if (best > at) out.push(text.slice(at, best));
    out.push(h("mark", { text: text.slice(best, best + len) }));
    at = best + len;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
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
