// Settings at phone size (390 px) and the audit log at 1280 px: every tab
// fits the screen without sideways scrolling, tables become cards with
// labelled cells, times are relative with the exact time on hover, actors
// have names, and the agents' Chat button is on screen and works. The
// fixture fails the test on any console error on these pages (including
// the browser's complaint about an invalid `pattern`).
import { test, expect } from "../lib/fixtures.js";
import { apiSetup, apiAddUser } from "../lib/server.js";
import { loginUI } from "../lib/ui.js";

const PHONE = { width: 390, height: 844 };

async function arrange(server) {
  const owner = await apiSetup(server, "olivia");
  await apiAddUser(owner, "bob", "member");
  await owner.ok("PUT", "/api/v1/providers/local", { kind: "ollama", models: ["llama3.2"] });
  await owner.ok("POST", "/api/v1/agents", { handle: "helper", name: "Helper", model: "local/llama3.2" });
  await owner.ok("POST", "/api/v1/keys", { name: "nightly-sync", permissions: ["messages:read"] });
  return owner;
}

/** Nothing on the page is wider than the screen. */
async function fitsWidth(page) {
  const sizes = await page.evaluate(() => {
    const body = document.getElementById("settings-body");
    return { doc: document.documentElement.scrollWidth, vw: window.innerWidth, body: body.scrollWidth, bodyClient: body.clientWidth };
  });
  expect(sizes.doc, JSON.stringify(sizes)).toBeLessThanOrEqual(sizes.vw);
  expect(sizes.body, JSON.stringify(sizes)).toBeLessThanOrEqual(sizes.bodyClient + 1);
}

test("every settings page fits a phone, with card rows and a reachable Chat button", async ({ server, newPage }) => {
  await arrange(server);
  for (const scheme of ["light", "dark"]) {
    const page = await newPage(`phone-${scheme}`, { viewport: PHONE, colorScheme: scheme, hasTouch: true, isMobile: true });
    await loginUI(page, "olivia");
    for (const tab of ["sessions", "agents", "providers", "approvals", "trust", "secrets", "keys", "users", "audit", "security"]) {
      await page.goto(`/#/settings/${tab}`);
      await expect(page.locator("#settings-body .panel").first()).toBeVisible();
      await expect(page.locator("#settings-body")).not.toContainText("Loading…");
      await fitsWidth(page);
      // Rows are cards: the header row is hidden and cells carry labels.
      const table = page.locator("#settings-body table.cards").first();
      if (await table.count()) {
        await expect(table.locator("thead")).toBeHidden();
        const labelled = await table.locator("td[data-label]").count();
        expect(labelled, tab).toBeGreaterThan(0);
      }
    }

    await page.goto("/#/settings/keys");
    await expect(page.locator(".tab.active")).toHaveText("API keys");
    // Only permissions that some feature checks (bookmarks: all four).
    await expect(page.locator("input[name=perm][value^='bookmarks']")).toHaveCount(4);
    await expect(page.locator("input[name=perm][value='knowledge:edit']")).toHaveCount(0);
    const created = page.locator("tr", { hasText: "nightly-sync" }).locator("time").first();
    await expect(created).toHaveText(/just now|second|minute/);
    expect(await created.getAttribute("title")).toMatch(/\d{4}/);

    await page.goto("/#/settings/agents");
    // The handle's `pattern` compiles under the `v` flag and still checks.
    const handle = page.getByRole("form", { name: "New agent" }).getByLabel("Handle");
    await handle.fill("Bad Handle!");
    expect(await handle.evaluate((el) => el.validity.patternMismatch)).toBe(true);
    await handle.fill("good-handle_2");
    expect(await handle.evaluate((el) => el.validity.valid)).toBe(true);
    const chat = page.getByRole("button", { name: "Chat with @helper" });
    await chat.scrollIntoViewIfNeeded();
    await expect(chat).toBeInViewport();
    await chat.click();
    await expect(page.locator("#conv-title")).toHaveText("Helper");
  }
});

test("the audit log names actors, shows relative times and is not clipped at 1280 px", async ({ server, newPage }) => {
  await arrange(server);
  const page = await newPage("desktop", { viewport: { width: 1280, height: 800 } });
  await loginUI(page, "olivia");
  await page.goto("/#/settings/audit");
  const table = page.locator("table.audit");
  await expect(table).toBeVisible();
  const sizes = await page.evaluate(() => {
    const wrap = document.querySelector("table.audit").closest(".table-wrap");
    return { scroll: wrap.scrollWidth, client: wrap.clientWidth };
  });
  expect(sizes.scroll, JSON.stringify(sizes)).toBeLessThanOrEqual(sizes.client + 1);
  // Actors by name, not user:1 or system:system.
  const who = table.locator("td[data-label=Who]");
  await expect(who.filter({ hasText: "olivia" }).first()).toBeVisible();
  await expect(who.filter({ hasText: /^Hardshell$/ }).first()).toBeVisible();
  await expect(table).not.toContainText("system:system");
  const created = table.locator("tr", { hasText: "agent.created" }).first();
  await expect(created.locator("td[data-label=Who]")).toHaveText("olivia");
  await expect(created.locator("td[data-label=Target]")).toContainText("@helper");
  // Relative time, exact on hover; no nanosecond ISO strings in the page.
  const time = created.locator("time");
  await expect(time).toHaveText(/just now|second|minute/);
  await expect(table).not.toContainText(/\d{2}:\d{2}:\d{2}\.\d{6,}/);
  await page.getByPlaceholder("Filter by action, actor or target").fill("olivia");
  await expect(table.locator("tbody tr").first()).toContainText("olivia");
});
