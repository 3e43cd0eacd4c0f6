// The Bookmarks page: import a browser's Netscape export through the UI,
// search, star, and see hostile titles render as text (the fixture fails
// the test on any dialog, so an `alert` from an injected handler would
// fail it too). Also: an import session's key is shown once, and closing
// the session revokes it.
import { test, expect } from "../lib/fixtures.js";
import { apiSetup } from "../lib/server.js";
import { loginUI } from "../lib/ui.js";

const XSS_TITLE = "<img src=x onerror=alert(1)>";
const SCRIPT_TITLE = "<script>alert(2)</script>";

const EXPORT = `<!DOCTYPE NETSCAPE-Bookmark-file-1>
<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">
<TITLE>Bookmarks</TITLE>
<H1>Bookmarks</H1>
<DL><p>
    <DT><H3 ADD_DATE="1700000000">Bookmarks bar</H3>
    <DL><p>
        <DT><A HREF="https://www.rust-lang.org/" ADD_DATE="1700000001">Rust language</A>
        <DT><A HREF="https://xss.example/" ADD_DATE="1700000002">&lt;img src=x onerror=alert(1)&gt;</A>
        <DT><A HREF="https://script.example/" ADD_DATE="1700000003">&lt;script&gt;alert(2)&lt;/script&gt;</A>
        <DT><A HREF="javascript:alert(3)">Bad link</A>
    </DL><p>
</DL><p>
`;

test("import a browser export, search, star, and hostile titles stay text", async ({ server, newPage }) => {
  await apiSetup(server, "olivia");
  const page = await newPage("bookmarks", { viewport: { width: 1280, height: 900 } });
  await loginUI(page, "olivia");
  await page.getByRole("link", { name: "Bookmarks" }).click();
  await expect(page.locator("#bookmarks-title")).toHaveText("Bookmarks");
  await expect(page.locator("#bm-list")).toContainText("No bookmarks here.");

  await page.locator("#bm-file").setInputFiles({ name: "bookmarks.html", mimeType: "text/html", buffer: Buffer.from(EXPORT) });
  await page.locator("#bm-format").selectOption("netscape");
  await page.locator("#bm-import").click();
  await expect(page.locator("#bm-import-result")).toHaveText("Imported 3, failed 1.");
  await expect(page.locator("#bm-list .bm-item")).toHaveCount(3);
  await expect(page.locator("#bm-folders")).toContainText("Bookmarks bar");

  // Hostile titles are text: no element was made from them.
  await expect(page.locator(".bm-title", { hasText: XSS_TITLE })).toHaveText(XSS_TITLE);
  await expect(page.locator(".bm-title", { hasText: SCRIPT_TITLE })).toHaveText(SCRIPT_TITLE);
  await expect(page.locator("#bm-list img")).toHaveCount(0);
  await expect(page.locator("#bm-list script")).toHaveCount(0);
  expect(await page.evaluate(() => window.__xss)).toBeUndefined();

  // Search narrows the list.
  await page.locator("#bm-search").fill("rust");
  await expect(page.locator("#bm-list .bm-item")).toHaveCount(1);
  const rust = page.locator("#bm-list .bm-item").first();
  await expect(rust.locator(".bm-title")).toHaveText("Rust language");
  await expect(rust.locator(".bm-title")).toHaveAttribute("href", "https://www.rust-lang.org/");

  // Star it, then see it under Starred.
  await rust.getByRole("button", { name: "Star", exact: true }).click();
  await expect(page.locator("#bm-list .bm-item").first().getByRole("button", { name: "Unstar" })).toBeVisible();
  await page.locator("#bm-search").fill("");
  await page.locator("#bm-filter").selectOption("starred");
  await expect(page.locator("#bm-list .bm-item")).toHaveCount(1);
  await expect(page.locator("#bm-list .bm-title")).toHaveText("Rust language");
  await page.locator("#bm-filter").selectOption("all");
  await expect(page.locator("#bm-list .bm-item")).toHaveCount(3);

  // An import session: the key is shown once and works until closed.
  await page.locator("#bm-open-session").click();
  const key = await page.locator("#bm-session-key").inputValue();
  expect(key).toMatch(/^lb-/);
  const bulk = (token) => fetch(`${server.base}/api/v1/bookmarks/bulk`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify([{ url: "https://from-session.example/", title: "From the session" }]),
  });
  expect((await bulk(key)).status).toBe(207);
  await page.getByRole("button", { name: "Close session" }).click();
  await expect(page.locator("#bm-session")).toContainText("imported 1, failed 0");
  await expect(page.locator("#bm-session-key")).toHaveCount(0);
  // Closing the session revoked its key: a known but revoked key is 403.
  const closed = await bulk(key);
  expect(closed.status).toBe(403);
  expect((await closed.json()).error.code).toBe("key_revoked");
  await expect(page.locator("#bm-list .bm-item")).toHaveCount(4);
});
