// Test fixtures: a fresh server per test, and `newPage(label)` which opens
// a page in its own browser context (its own cookies) and watches it:
// any JS dialog (alert/confirm/prompt), any Content-Security-Policy
// report or other error on the console, or any uncaught script error fails
// the test. The one console error allowed is the browser's own note on an
// HTTP 4xx answer, which tests provoke on purpose (refusals, signed out).
// On failure every page is screenshotted into e2e/artifacts/.
import { test as base, expect } from "@playwright/test";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "./server.js";

const EXPECTED_CONSOLE_ERROR = /^Failed to load resource: the server responded with a status of 4\d\d\b/;

const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "artifacts");

export const test = base.extend({
  server: async ({}, use, testInfo) => {
    const server = await startServer();
    try {
      await use(server);
    } finally {
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach("server-stderr", { body: server.stderr(), contentType: "text/plain" });
      }
      await server.stop();
    }
  },

  newPage: async ({ browser, server }, use, testInfo) => {
    const problems = [];
    const opened = [];
    const make = async (label = `page${opened.length + 1}`, options = {}) => {
      const context = await browser.newContext({ baseURL: server.base, ...options });
      const page = await context.newPage();
      page.on("dialog", (d) => {
        problems.push(`${label}: unexpected ${d.type()} dialog: ${d.message()}`);
        d.dismiss().catch(() => {});
      });
      page.on("console", (m) => {
        const text = m.text();
        if (/content[ -]security[ -]policy/i.test(text)) problems.push(`${label}: CSP violation: ${text}`);
        // Logged as a warning, but it silently turns off the field's check.
        else if (/is not a valid regular expression/i.test(text)) problems.push(`${label}: invalid pattern: ${text}`);
        else if (m.type() === "error" && !EXPECTED_CONSOLE_ERROR.test(text)) problems.push(`${label}: console error: ${text}`);
      });
      page.on("pageerror", (e) => problems.push(`${label}: uncaught error: ${e.message}`));
      opened.push({ label, page, context });
      return page;
    };
    await use(make);
    if (testInfo.status !== testInfo.expectedStatus) {
      const dir = path.join(ARTIFACTS, testInfo.titlePath.slice(1).join(" - ").replace(/[^\w.-]+/g, "_"));
      mkdirSync(dir, { recursive: true });
      for (const { label, page } of opened) {
        await page.screenshot({ path: path.join(dir, `${label}.png`), fullPage: true }).catch(() => {});
      }
    }
    for (const { context } of opened) await context.close().catch(() => {});
    expect(problems, "dialogs, CSP violations or script errors on the pages").toEqual([]);
  },
});

export { expect };
