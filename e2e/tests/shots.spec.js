// Design screenshots (not a check): the chat view in light and dark, on a
// desktop and a 390 px phone. Runs only when E2E_SHOTS_DIR names a folder.
import { test, expect } from "../lib/fixtures.js";
import { apiSetup, apiAddUser, apiLogin } from "../lib/server.js";
import { loginUI, openConversationUI } from "../lib/ui.js";
import { gradientPng } from "../lib/png.js";
import path from "node:path";

const DIR = process.env.E2E_SHOTS_DIR;

async function upload(session, name, type, bytes) {
  const form = new FormData();
  form.append("file", new Blob([bytes], { type }), name);
  const resp = await fetch(session.base + "/api/v1/uploads", {
    method: "POST",
    headers: { Cookie: `hs_session=${session.cookie}`, "X-CSRF-Token": session.csrf, Origin: session.base },
    body: form,
  });
  expect(resp.status).toBe(201);
  return resp.json();
}

test("screenshots of the chat view", async ({ server, newPage }) => {
  test.skip(!DIR, "set E2E_SHOTS_DIR to take design screenshots");
  const owner = await apiSetup(server, "olivia");
  for (const [n, r] of [["bob", "member"], ["carmen", "admin"], ["dev", "member"]]) await apiAddUser(owner, n, r);
  const bob = await apiLogin(server.base, "bob");
  const carmen = await apiLogin(server.base, "carmen");
  await owner.ok("POST", "/api/v1/conversations", { kind: "group", title: "Infra on-call", members: ["carmen"] });
  await owner.ok("POST", "/api/v1/conversations", { kind: "group", title: "Reading club", members: ["bob", "dev"] });
  const conv = await owner.ok("POST", "/api/v1/conversations", { kind: "group", title: "Design review", members: ["bob", "carmen", "dev"] });
  const say = (s, text, attachments) => s.ok("POST", `/api/v1/conversations/${conv.id}/messages`, attachments ? { text, attachments } : { text });
  await say(owner, "Morning! The new **chat view** is up for review. Thoughts welcome.");
  await say(bob, "Looks great. A few notes:\n\n- the composer could be taller\n- dark mode contrast is *good*\n- `Ctrl+K` for search is handy");
  await say(bob, "Also, can we keep the sidebar collapsible on phones?");
  const img = await upload(carmen, "mockup.png", "image/png", gradientPng(480, 260));
  await say(carmen, "Here is the mockup from yesterday @olivia", [img.id]);
  const notes = await upload(carmen, "notes.md", "text/markdown", "# Notes\n\n- spacing\n- colour\n");
  await say(carmen, "And my notes:", [notes.id]);
  await say(owner, "Thanks @carmen! Config sketch:\n\n```toml\n[limits]\nupload_bytes = 20971520\n```\n\n> Keep it simple.");

  for (const scheme of ["light", "dark"]) {
    for (const [label, viewport] of [["desktop", { width: 1280, height: 800 }], ["phone", { width: 390, height: 844 }], ["narrow", { width: 360, height: 740 }]]) {
      const page = await newPage(`${scheme}-${label}`, { colorScheme: scheme, viewport, deviceScaleFactor: 1 });
      await page.goto("/login");
      await page.screenshot({ path: path.join(DIR, `login-${scheme}-${label}.png`) });
      await loginUI(page, "olivia");
      if (label !== "desktop") {
        await page.goto(`/#/c/${conv.id}`);
        await expect(page.locator("#conv-title")).toHaveText("Design review");
      } else {
        await openConversationUI(page, "Design review");
      }
      await expect(page.locator(".att-image img")).toBeVisible();
      await expect.poll(() => page.locator(".att-image img").evaluate((el) => el.naturalWidth)).toBeGreaterThan(0);
      await page.locator("#input").fill("Sounds good, shipping it @");
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(DIR, `chat-${scheme}-${label}.png`) });
      if (label !== "desktop") {
        await page.locator("#input").fill("");
        await page.getByRole("button", { name: "Open the conversation list" }).first().click();
        await page.waitForTimeout(400);
        await page.screenshot({ path: path.join(DIR, `drawer-${scheme}-${label}.png`) });
      } else {
        await page.getByRole("button", { name: "New group" }).click();
        await page.locator("#new-group-dialog").getByLabel("Title").fill("Quarterly planning");
        await page.screenshot({ path: path.join(DIR, `dialog-${scheme}-${label}.png`) });
        await page.keyboard.press("Escape");
        await page.getByRole("button", { name: "Members", exact: true }).click();
        await page.waitForTimeout(200);
        await page.screenshot({ path: path.join(DIR, `members-${scheme}-${label}.png`) });
        await page.goto("/#/settings/keys");
        await expect(page.locator("#settings-body .panel").first()).toBeVisible();
        await page.screenshot({ path: path.join(DIR, `settings-${scheme}-${label}.png`) });
      }
    }
  }
});
