// Bookmarks: the list (or grid) of your bookmarks with search, filters,
// the folder tree and tags; star, archive, delete and bulk actions; import
// of a browser export, export, and import sessions whose key is shown
// once. Every title, description, URL, tag and folder name goes into the
// page as text (textContent through h()), never as HTML: imported titles
// can be hostile.
import { get, post, patch, del, csrfToken, ApiError } from "./api.js";
import { h, byId, toast, confirmDialog, timeAgo } from "./dom.js";

const BM = "/api/v1/bookmarks";
const state = { folder: null, tag: null, q: "", filter: "all", grid: false, cursor: null, selected: new Set(), folders: [] };

export async function showBookmarks() {
  const view = byId("bookmarks-body");
  if (!view.dataset.ready) {
    view.dataset.ready = "1";
    view.replaceChildren(layout());
  }
  await Promise.all([loadFolders(), loadTags()]);
  await loadList(true);
}

function layout() {
  const search = h("input", { id: "bm-search", type: "search", placeholder: "Search bookmarks", "aria-label": "Search bookmarks", autocomplete: "off" });
  let timer = null;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { state.q = search.value.trim(); loadList(true); }, 250);
  });
  const filter = h("select", { id: "bm-filter", "aria-label": "Show" },
    h("option", { value: "all", text: "All" }), h("option", { value: "starred", text: "Starred" }),
    h("option", { value: "archived", text: "Archived" }), h("option", { value: "active", text: "Not archived" }));
  filter.addEventListener("change", () => { state.filter = filter.value; loadList(true); });
  const gridBtn = h("button", { type: "button", class: "secondary small", id: "bm-grid", text: "Grid", "aria-pressed": "false" });
  gridBtn.addEventListener("click", () => {
    state.grid = !state.grid;
    gridBtn.setAttribute("aria-pressed", String(state.grid));
    gridBtn.textContent = state.grid ? "List" : "Grid";
    byId("bm-list").classList.toggle("bm-grid", state.grid);
  });
  return h("div", { class: "bm-layout" },
    h("nav", { class: "bm-side", "aria-label": "Folders and tags" },
      h("h2", { text: "Folders" }), h("ul", { id: "bm-folders", class: "bm-tree" }),
      newFolderForm(),
      h("h2", { text: "Tags" }), h("ul", { id: "bm-tags", class: "bm-tags" })),
    h("div", { class: "bm-main" },
      h("div", { class: "bm-toolbar" }, search, filter, gridBtn),
      addForm(),
      h("div", { class: "bm-bulk", id: "bm-bulk", hidden: true },
        h("span", { id: "bm-selected", class: "muted" }),
        h("button", { type: "button", class: "small secondary", text: "Star", onclick: () => bulkFlag("star", "POST") }),
        h("button", { type: "button", class: "small secondary", text: "Archive", onclick: () => bulkFlag("archive", "POST") }),
        h("button", { type: "button", class: "small danger", text: "Delete", onclick: bulkDelete })),
      h("ul", { id: "bm-list", class: "bm-list", "aria-label": "Bookmarks" }),
      h("button", { type: "button", id: "bm-more", class: "secondary small", text: "More", hidden: true, onclick: () => loadList(false) }),
      ioPanel()));
}

function addForm() {
  const url = h("input", { name: "url", placeholder: "Web address (http or https)", required: true, "aria-label": "URL", maxlength: "4096" });
  const title = h("input", { name: "title", placeholder: "Title (optional)", "aria-label": "Title", maxlength: "500" });
  const tags = h("input", { name: "tags", placeholder: "tags, comma separated", "aria-label": "Tags" });
  const form = h("form", { class: "bm-add inline-form", id: "bm-add" }, url, title, tags, h("button", { type: "submit", class: "small", text: "Add" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { url: url.value.trim(), tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean) };
    if (title.value.trim()) body.title = title.value.trim();
    if (state.folder) body.folder_id = state.folder;
    try {
      await post(BM, body);
      form.reset();
      await Promise.all([loadList(true), loadTags(), loadFolders()]);
    } catch (err) {
      toast(err.message, "error");
    }
  });
  return form;
}

function newFolderForm() {
  const name = h("input", { name: "name", placeholder: "New folder", "aria-label": "New folder name", maxlength: "200" });
  const form = h("form", { class: "inline-form bm-new-folder" }, name, h("button", { type: "submit", class: "small", text: "Add" }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!name.value.trim()) return;
    try {
      await post("/api/v1/folders", { name: name.value.trim(), parent_id: state.folder });
      form.reset();
      await loadFolders();
    } catch (err) {
      toast(err.message, "error");
    }
  });
  return form;
}

async function loadFolders() {
  state.folders = await get("/api/v1/folders");
  const byParent = new Map();
  for (const f of state.folders) {
    const k = f.parent_id ?? 0;
    if (!byParent.has(k)) byParent.set(k, []);
    byParent.get(k).push(f);
  }
  const item = (label, id, depth, folder) => {
    const a = h("a", { href: "#/bookmarks", class: "bm-folder" + (state.folder === id ? " active" : ""), text: label });
    a.style.setProperty("--depth", String(depth));
    // A validated `#rrggbb`, set through the CSSOM (no inline style attribute).
    if (folder && folder.color) a.style.borderLeftColor = folder.color;
    a.addEventListener("click", (e) => { e.preventDefault(); state.folder = id; loadFolders(); loadList(true); });
    const li = h("li", {}, a);
    if (folder) {
      li.append(h("button", { type: "button", class: "ghost small", text: "×", "aria-label": `Delete folder ${folder.name}`, title: "Delete (its contents move up)",
        onclick: async () => {
          if (!(await confirmDialog(`Delete the folder “${folder.name}”? Its bookmarks and subfolders move to its parent.`))) return;
          try { await del(`/api/v1/folders/${folder.id}`); if (state.folder === folder.id) state.folder = null; await loadFolders(); await loadList(true); } catch (err) { toast(err.message, "error"); }
        } }));
    }
    return li;
  };
  const out = [item("All bookmarks", null, 0, null)];
  const walk = (parent, depth) => {
    for (const f of byParent.get(parent) || []) {
      out.push(item(f.name, f.id, depth, f));
      walk(f.id, depth + 1);
    }
  };
  walk(0, 1);
  byId("bm-folders").replaceChildren(...out);
}

async function loadTags() {
  const tags = await get(`${BM}/tags`);
  byId("bm-tags").replaceChildren(...tags.map((t) => h("li", {},
    h("button", { type: "button", class: "tag bm-tag" + (state.tag === t.tag ? " active" : ""), text: `${t.tag} (${t.count})`,
      onclick: () => { state.tag = state.tag === t.tag ? null : t.tag; loadTags(); loadList(true); } }))));
}

function query() {
  const p = new URLSearchParams({ limit: "50" });
  if (state.q) p.set("q", state.q);
  if (state.folder) p.set("folder", String(state.folder));
  if (state.tag) p.set("tag", state.tag);
  if (state.filter === "starred") p.set("starred", "true");
  if (state.filter === "archived") p.set("archived", "true");
  if (state.filter === "active") p.set("archived", "false");
  if (state.cursor) p.set("cursor", String(state.cursor));
  return p.toString();
}

async function loadList(fresh) {
  if (fresh) { state.cursor = null; state.selected.clear(); }
  let page;
  try {
    page = await get(`${BM}?${query()}`);
  } catch (err) {
    toast(err.message, "error");
    return;
  }
  const list = byId("bm-list");
  const rows = page.bookmarks.map(row);
  if (fresh) list.replaceChildren(...rows);
  else list.append(...rows);
  if (fresh && !rows.length) list.replaceChildren(h("li", { class: "muted bm-empty", text: "No bookmarks here." }));
  state.cursor = page.next_cursor;
  byId("bm-more").hidden = !page.next_cursor;
  updateBulk();
}

const safeHref = (url) => (/^https?:\/\//i.test(url) ? url : undefined);

function row(b) {
  const check = h("input", { type: "checkbox", "aria-label": `Select ${b.title}` });
  check.addEventListener("change", () => { if (check.checked) state.selected.add(b.id); else state.selected.delete(b.id); updateBulk(); });
  const star = h("button", { type: "button", class: "ghost small bm-star", text: b.starred ? "★" : "☆", "aria-pressed": String(b.starred), "aria-label": b.starred ? "Unstar" : "Star",
    onclick: () => flag(b, "star", b.starred ? "DELETE" : "POST") });
  const archive = h("button", { type: "button", class: "ghost small", text: b.archived ? "Unarchive" : "Archive", onclick: () => flag(b, "archive", b.archived ? "DELETE" : "POST") });
  const remove = h("button", { type: "button", class: "ghost small danger", text: "Delete", onclick: async () => {
    if (!(await confirmDialog("Delete this bookmark?"))) return;
    try { await del(`${BM}/${b.id}`); await loadList(true); loadTags(); } catch (err) { toast(err.message, "error"); }
  } });
  const title = h("a", { class: "bm-title", href: safeHref(b.url), target: "_blank", rel: "noopener noreferrer nofollow", text: b.title });
  return h("li", { class: "bm-item" + (b.archived ? " archived" : ""), dataset: { id: String(b.id) } },
    check,
    h("div", { class: "bm-text" },
      title,
      h("span", { class: "bm-url muted", text: b.url }),
      b.description ? h("p", { class: "bm-desc", text: b.description }) : null,
      h("span", { class: "bm-meta" },
        ...b.tags.map((t) => h("span", { class: "tag", text: t })),
        h("span", { class: "muted", text: ` · ${b.created_by.kind === "user" ? "" : `by ${b.created_by.kind} · `}` }),
        timeAgo(b.created_at))),
    h("div", { class: "bm-actions" }, star, archive, remove));
}

async function flag(b, what, method) {
  try {
    if (method === "POST") await post(`${BM}/${b.id}/${what}`);
    else await del(`${BM}/${b.id}/${what}`);
    await loadList(true);
  } catch (err) {
    toast(err.message, "error");
  }
}

function updateBulk() {
  byId("bm-bulk").hidden = state.selected.size === 0;
  byId("bm-selected").textContent = `${state.selected.size} selected`;
}

async function bulkFlag(what) {
  for (const id of state.selected) {
    try { await post(`${BM}/${id}/${what}`); } catch (err) { toast(err.message, "error"); }
  }
  await loadList(true);
}

async function bulkDelete() {
  if (!(await confirmDialog(`Delete ${state.selected.size} bookmarks?`))) return;
  for (const id of state.selected) {
    try { await del(`${BM}/${id}`); } catch (err) { toast(err.message, "error"); }
  }
  await loadList(true);
  loadTags();
}

function ioPanel() {
  const file = h("input", { type: "file", id: "bm-file", accept: ".html,.htm,.json,.csv", "aria-label": "Bookmark file" });
  const format = h("select", { id: "bm-format", "aria-label": "File format" },
    h("option", { value: "netscape", text: "Browser export (HTML)" }), h("option", { value: "json", text: "Hardshell JSON" }),
    h("option", { value: "clawchives", text: "ClawChives JSON" }), h("option", { value: "csv", text: "CSV" }));
  const result = h("p", { id: "bm-import-result", class: "muted", role: "status" });
  const go = h("button", { type: "button", class: "small", id: "bm-import", text: "Import", onclick: async () => {
    const f = file.files && file.files[0];
    if (!f) return toast("Choose a file first.", "error");
    try {
      const out = await importText(format.value, await f.text());
      result.textContent = `Imported ${out.imported}, failed ${out.failed}.`;
      await Promise.all([loadFolders(), loadTags(), loadList(true)]);
    } catch (err) {
      result.textContent = err.message;
    }
  } });
  const exports = ["json", "netscape", "csv"].map((f) => h("a", { class: "btn secondary small", href: `${BM}/export?format=${f}`, download: "", text: `Export ${f === "netscape" ? "HTML" : f.toUpperCase()}` }));
  const session = h("div", { id: "bm-session" });
  const open = h("button", { type: "button", class: "secondary small", id: "bm-open-session", text: "New import session", onclick: () => openSession(session) });
  return h("section", { class: "panel bm-io" },
    h("h2", { text: "Import and export" }),
    h("div", { class: "inline-form" }, file, format, go), result,
    h("div", { class: "panel-actions" }, ...exports),
    h("p", { class: "muted", text: "An import session gives an outside tool a write-only key for 15 minutes; closing it revokes the key." }),
    open, session);
}

async function importText(format, text) {
  const resp = await fetch(`${BM}/import?format=${encodeURIComponent(format)}`, {
    method: "POST", credentials: "same-origin", body: text,
    headers: { "Content-Type": "text/plain; charset=utf-8", "X-CSRF-Token": csrfToken(), Accept: "application/json" },
  });
  const body = await resp.json().catch(() => null);
  if (resp.status !== 207) throw new ApiError(resp.status, body?.error?.code || "error", body?.error?.message || `Import failed (${resp.status}).`);
  return body;
}

async function openSession(box) {
  let s;
  try { s = await post(`${BM}/import-sessions`); } catch (err) { return toast(err.message, "error"); }
  const key = h("input", { readonly: true, value: s.token, id: "bm-session-key", "aria-label": "Import key (shown once)" });
  const summary = h("p", { class: "muted", role: "status" });
  const close = h("button", { type: "button", class: "small danger", text: "Close session", onclick: async () => {
    try {
      const done = await post(`${BM}/import-sessions/${s.session.id}/close`);
      key.value = "";
      key.remove();
      close.remove();
      summary.textContent = `Closed: imported ${done.imported}, failed ${done.failed}. The key no longer works.`;
      await loadList(true);
    } catch (err) { toast(err.message, "error"); }
  } });
  box.replaceChildren(
    h("p", { text: "Copy this key now; it is not shown again. It can only add bookmarks (POST /api/v1/bookmarks/bulk)." }),
    key, close, summary);
  key.select();
}
