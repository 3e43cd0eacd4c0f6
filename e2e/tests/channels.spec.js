// Channels and pairing in the browser (issue 19). The server runs with a
// signed-webhook channel `crm` whose secret was stored with `vault set`
// and whose replies go to a loopback callback here. A stranger, whose
// display name is an HTML payload, writes in: the owner gets a toast and a
// badge live (in every tab of theirs, and the count follows decisions,
// also one made with the CLI while the server runs),
// finds the request on the Pairing page (the name as text,
// nothing executed), refuses a wrong code, approves with the code the
// stranger was sent, linking them to a member; the sender is listed as
// paired and is revoked. An invite's code is shown once and really pairs
// whoever sends `/start CODE`. The Channels page shows the channel, its
// agent and callback host, and how to set Telegram up. An admin may only
// mint invites; a member sees neither page. Both pages fit a phone.
import { createHmac } from "node:crypto";
import http from "node:http";
import { test as base, expect } from "../lib/fixtures.js";
import { startServer, apiSetup, apiAddUser } from "../lib/server.js";
import { loginUI } from "../lib/ui.js";

const SECRET = "whsec-0123456789abcdefghijklmnopqrstuvwxyz";
const HOSTILE = '<img src=x onerror="alert(1)">Mallory';
const PHONE = { width: 390, height: 844 };
const CODE = /([A-Z2-9]{4}-[A-Z2-9]{4})/;

/** A loopback callback that keeps every reply the server POSTs (checked signature). */
async function startCallback() {
  const replies = [];
  const srv = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => { body += d; });
    req.on("end", () => {
      const ts = req.headers["x-hardshell-timestamp"];
      const want = "sha256=" + createHmac("sha256", SECRET).update(`${ts}.${body}`).digest("hex");
      const signed = req.headers["x-hardshell-signature"] === want;
      replies.push({ signed, ...JSON.parse(body) });
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${srv.address().port}/hook`,
    replies,
    to: (sender) => replies.filter((r) => r.to === sender),
    stop: () => new Promise((resolve) => srv.close(resolve)),
  };
}

/** A stand-in Bot API that refuses every call as Telegram does a bad token. */
async function startRefusingTelegram() {
  const paths = [];
  const srv = http.createServer((req, res) => {
    paths.push(req.url);
    req.resume();
    res.writeHead(401, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ ok: false, error_code: 401, description: "Unauthorized" }));
  });
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  return { base: `http://127.0.0.1:${srv.address().port}`, paths, stop: () => new Promise((resolve) => srv.close(resolve)) };
}

const TG_TOKEN = "123456:AAE-fake-token-for-tests-only";

const test = base.extend({
  withTelegram: [false, { option: true }],
  callback: async ({}, use) => {
    const cb = await startCallback();
    try {
      await use(cb);
    } finally {
      await cb.stop();
    }
  },
  server: async ({ callback, withTelegram }, use, testInfo) => {
    const tg = withTelegram ? await startRefusingTelegram() : null;
    const vault = { "crm-secret": SECRET };
    let config = `[channels.webhooks.crm]\nsecret = "crm-secret"\nagent = "helper"\ncallback_url = "${callback.url}"\n`;
    if (tg) {
      vault["telegram-token"] = TG_TOKEN;
      config += `\n[channels.telegram]\ntoken_secret = "telegram-token"\nagent = "helper"\napi_base = "${tg.base}"\npoll_timeout_secs = 1\n`;
    }
    const server = await startServer({ vault, config });
    server.telegram = tg;
    try {
      await use(server);
    } finally {
      if (tg) await tg.stop();
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach("server-stderr", { body: server.stderr(), contentType: "text/plain" });
      }
      await server.stop();
    }
  },
});

let seq = 0;
/** Posts a message to webhook `crm`, signed here with node's HMAC. */
async function say(server, sender, name, text) {
  const body = JSON.stringify({ id: `m${++seq}-${Date.now()}`, sender, name, text });
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = "sha256=" + createHmac("sha256", SECRET).update(`${ts}.${body}`).digest("hex");
  const resp = await fetch(`${server.base}/api/v1/channels/crm/inbound`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Hardshell-Timestamp": ts, "X-Hardshell-Signature": sig },
    body,
  });
  expect(resp.status).toBe(202);
}

async function arrange(server) {
  const owner = await apiSetup(server, "olivia");
  await apiAddUser(owner, "ann", "member");
  await apiAddUser(owner, "adam", "admin");
  await owner.ok("PUT", "/api/v1/providers/local", { kind: "ollama", models: ["llama3.2"] });
  await owner.ok("POST", "/api/v1/agents", { handle: "helper", name: "Helper", model: "local/llama3.2" });
  return owner;
}

/** Signs in and waits for the live connection's `ready` frame. */
async function loginLive(page, username) {
  const frames = [];
  page.on("websocket", (ws) => ws.on("framereceived", (f) => frames.push(String(f.payload))));
  await loginUI(page, username);
  await expect.poll(() => frames.some((f) => f.includes('"type":"ready"'))).toBe(true);
  return frames;
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

test("the badge follows a request denied with the CLI, without a reload", async ({ server, newPage, callback }) => {
  await arrange(server);
  const page = await newPage("owner");
  await loginLive(page, "olivia");
  await say(server, "u-31", "First", "hello");
  await say(server, "u-32", "Second", "hello");
  await expect(page.locator("#open-settings .icon-badge")).toHaveText("2");
  await expect.poll(() => callback.to("u-31").length).toBe(1);
  const code = CODE.exec(callback.to("u-31")[0].text)[1];
  // Another process decides: the server hears of it only through the store.
  server.cli(["pairing", "deny", code]);
  await expect(page.locator("#open-settings .icon-badge")).toHaveText("1", { timeout: 15000 });
  await expect(page.locator("#open-settings")).toHaveAttribute("aria-label", /1 pairing request waiting/);
});

test("a stranger's request reaches the owner live; approve with its code, then revoke", async ({ server, newPage, callback }) => {
  await arrange(server);
  const page = await newPage("owner");
  await loginLive(page, "olivia");

  await say(server, "u-666", HOSTILE, "hi, let me in");
  // The live notice: a toast and a badge on the Settings link.
  await expect(page.locator(".toast", { hasText: "New pairing request on webhook:crm" })).toContainText(HOSTILE);
  await expect(page.locator("#open-settings .icon-badge")).toHaveText("1");
  await expect(page.locator("#open-settings")).toHaveAttribute("aria-label", /1 pairing request waiting/);
  // The stranger's one canned reply carries the request code.
  await expect.poll(() => callback.to("u-666").length).toBe(1);
  const [reply] = callback.to("u-666");
  expect(reply.signed).toBe(true);
  const code = CODE.exec(reply.text)[1];

  // The owner's other tab, opened now, counts it too, and follows live.
  const other = await newPage("owner-other-tab");
  await loginLive(other, "olivia");
  await expect(other.locator("#open-settings .icon-badge")).toHaveText("1");

  await page.locator("#open-settings").click();
  await page.locator('#settings-tabs .tab[data-tab="pairing"]').click();
  await expect(page.locator(".tab.active")).toContainText("Pairing");
  await expect(page.locator('#settings-tabs .tab[data-tab="pairing"] .badge')).toHaveText("1");
  const row = page.locator("tr[data-request]");
  await expect(row).toHaveCount(1);
  await expect(row.locator("td[data-label=Channel]")).toHaveText("webhook:crm");
  await expect(row.locator(".untrusted-name")).toHaveText(HOSTILE);
  await expect(row.locator("td[data-label='Sender id']")).toHaveText("u-666");
  // Rendered as text: no element was made from the name.
  await expect(page.locator("#settings-body img, .toasts img")).toHaveCount(0);
  // The code is never in the page until someone types it.
  await expect(page.locator("body")).not.toContainText(code);

  // A wrong code is refused, plainly, and nothing changes.
  await row.getByRole("button", { name: /^Approve request/ }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText(HOSTILE);
  await dialog.getByLabel("The code they were given").fill("ZZZZ-ZZZZ");
  await dialog.getByRole("button", { name: "Approve" }).click();
  await expect(dialog.locator(".status")).toHaveText(/No waiting request has that code/);
  // The right one, linking the sender to ann.
  await dialog.getByLabel("The code they were given").fill(code.toLowerCase());
  await dialog.getByLabel("They act for").selectOption({ label: "ann (member)" });
  await dialog.getByRole("button", { name: "Approve" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.locator(".toast", { hasText: "Approved." })).toBeVisible();
  await expect(page.locator("tr[data-request]")).toHaveCount(0);
  await expect(page.locator("#settings-body")).toContainText("No requests are waiting.");
  await expect(page.locator("#open-settings .icon-badge")).toHaveCount(0);
  await expect(other.locator("#open-settings .icon-badge")).toHaveCount(0);
  const sender = page.locator("tr[data-sender]", { hasText: "u-666" });
  await expect(sender.locator("td[data-label='Acts for']")).toHaveText("ann");
  await expect(sender.locator("td[data-label=Via]")).toHaveText("request");
  await expect(sender.locator(".untrusted-name")).toHaveText(HOSTILE);
  await expect(sender.locator(".tag")).toHaveText("paired");

  // Revoke, after a confirmation.
  await sender.getByRole("button", { name: /^Revoke sender/ }).click();
  await expect(page.getByRole("dialog")).toContainText("Revoke");
  await page.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
  await expect(page.locator(".toast", { hasText: "Sender revoked." })).toBeVisible();
  await expect(sender.locator(".tag")).toHaveText("revoked");
  await expect(sender.getByRole("button", { name: /^Revoke/ })).toHaveCount(0);
  await expect(page.locator("#settings-body img")).toHaveCount(0);

  // A request arriving while the Pairing page is open shows up in it.
  await say(server, "u-2", "Second Stranger", "hello");
  await expect(page.locator("tr[data-request]")).toHaveCount(1);
  await expect(page.locator("tr[data-request] .untrusted-name")).toHaveText("Second Stranger");
  await expect(page.locator('#settings-tabs .tab[data-tab="pairing"] .badge')).toHaveText("1");

  // No Telegram here: the Channels page says what to put where.
  await page.locator('#settings-tabs .tab[data-tab="channels"]').click();
  await expect(page.locator('[data-channel="telegram"]')).toHaveText("not set up");
  await expect(page.locator("#settings-body")).toContainText("hardshell vault set telegram-token");
  await expect(page.locator("#settings-body")).toContainText("[channels.telegram]");
});

test("an invite's code is shown once and pairs whoever sends /start CODE", async ({ server, newPage, callback }) => {
  await arrange(server);
  const page = await newPage("owner");
  await loginUI(page, "olivia");
  await page.goto("/#/settings/pairing");
  const form = page.getByRole("form", { name: "Create an invite" });
  await expect(form.getByLabel("Channel")).toHaveValue("webhook:crm");
  await form.getByRole("button", { name: "Create invite" }).click();
  const dialog = page.getByRole("dialog");
  const shown = dialog.getByLabel("Invite code");
  await expect(shown).toHaveText(CODE);
  const code = (await shown.textContent()).trim();
  await expect(dialog).toContainText(`/start ${code}`);
  await expect(dialog.locator("time")).toHaveText(/in 1[45] minutes/);
  await dialog.getByRole("button", { name: "Done" }).click();
  await expect(page.getByRole("dialog")).toHaveCount(0);
  await expect(page.locator("body")).not.toContainText(code);

  // The code is real: it pairs a new sender with the minter.
  await say(server, "u-42", "Ann's phone", `/start ${code}`);
  await expect.poll(() => callback.to("u-42").map((r) => r.text).join(" ")).toContain("You are paired");
  await page.reload();
  const sender = page.locator("tr[data-sender]", { hasText: "u-42" });
  await expect(sender.locator("td[data-label=Via]")).toHaveText("invite");
  await expect(sender.locator("td[data-label='Acts for']")).toHaveText("olivia");
});

test.describe("with a Telegram bot", () => {
  test.use({ withTelegram: true });

  test("the Channels page shows each channel's agent and status, Telegram's last poll and error; roles and phones", async ({ server, newPage }) => {
    await arrange(server);
    const page = await newPage("owner");
    await loginUI(page, "olivia");
    await page.goto("/#/settings/channels");
    await expect(page.locator(".tab.active")).toHaveText("Channels");
    const hook = page.locator('tr[data-channel="webhook:crm"]');
    await expect(hook.locator("td[data-label=Agent]")).toHaveText("@helper");
    await expect(hook.locator("td[data-label='Replies to']")).toHaveText("127.0.0.1");
    await expect(hook.locator("td[data-label='Inbound URL']")).toHaveText(`${server.base}/api/v1/channels/crm/inbound`);
    await expect(hook.locator("td[data-label='Secret entry']")).toHaveText("crm-secret");
    await expect(page.locator("#settings-body")).not.toContainText(SECRET);
    // The bot calls a Bot API that refuses the token (its first call,
    // getMe, fails and is retried; it never gets to poll): the page says
    // when it last tried and what went wrong, and never shows the token.
    await expect.poll(() => server.telegram.paths.some((p) => p.includes("/getMe"))).toBe(true);
    await page.reload();
    const tg = page.locator('tr[data-channel="telegram"]');
    await expect(tg.locator("td[data-label=Agent]")).toHaveText("@helper");
    await expect(tg.locator("td[data-label=Status]")).toHaveText("polling");
    await expect(tg.locator("td[data-label='Last poll'] time")).toHaveText(/just now|second|minute/);
    await expect(tg.locator("td[data-label='Last error']")).toContainText("401 Unauthorized");
    await expect(tg.locator("td[data-label='Token entry']")).toHaveText("telegram-token");
    await expect(page.locator("body")).not.toContainText(TG_TOKEN);
    await expect(page.locator("body")).not.toContainText("AAE-fake");
    // Set up: the help is still there, folded.
    await expect(page.locator("details", { hasText: "How to set up Telegram" })).not.toHaveAttribute("open", "");

    // An admin may mint invites (typing the channel) and sees nothing else.
    const admin = await newPage("admin");
    await loginUI(admin, "adam");
    await admin.goto("/#/settings/pairing");
    await expect(admin.locator(".tab.active")).toContainText("Pairing");
    await expect(admin.locator('#settings-tabs .tab[data-tab="channels"]')).toHaveCount(0);
    await expect(admin.locator("tr[data-request], tr[data-sender]")).toHaveCount(0);
    const form = admin.getByRole("form", { name: "Create an invite" });
    await form.getByLabel("Channel").fill("webhook:nope");
    await form.getByRole("button", { name: "Create invite" }).click();
    await expect(form.locator(".status")).toHaveText(/unknown channel/);
    await form.getByLabel("Channel").fill("webhook:crm");
    await form.getByRole("button", { name: "Create invite" }).click();
    await expect(admin.getByRole("dialog").getByLabel("Invite code")).toHaveText(CODE);

    // A member sees neither page.
    const member = await newPage("member");
    await loginUI(member, "ann");
    await member.goto("/#/settings/pairing");
    await expect(member.locator(".tab.active")).toHaveText("Sessions");
    await expect(member.locator('#settings-tabs .tab[data-tab="pairing"], #settings-tabs .tab[data-tab="channels"]')).toHaveCount(0);

    // Both pages fit a phone, tables as labelled cards.
    await say(server, "u-7", HOSTILE.repeat(3), "hello");
    const phone = await newPage("phone", { viewport: PHONE, hasTouch: true, isMobile: true });
    await loginUI(phone, "olivia");
    for (const tab of ["channels", "pairing"]) {
      await phone.goto(`/#/settings/${tab}`);
      await expect(phone.locator("#settings-body .panel").first()).toBeVisible();
      await expect(phone.locator("#settings-body")).not.toContainText("Loading…");
      await fitsWidth(phone);
      const table = phone.locator("#settings-body table.cards").first();
      await expect(table.locator("thead")).toBeHidden();
    }
    await expect(phone.locator("tr[data-request] .untrusted-name")).toHaveText(HOSTILE.repeat(3));
  });
});
