// Browser tests for issue 6: the chat UI against a real server.
import { test, expect } from "../lib/fixtures.js";
import { apiSetup, apiAddUser, apiLogin, password } from "../lib/server.js";
import { loginUI, openConversationUI, sendUI, messages } from "../lib/ui.js";
import { gradientPng } from "../lib/png.js";

/** Owner + the named users (API), and a group holding all of them. */
async function arrange(server, others, title = "Team") {
  const owner = await apiSetup(server, "olivia");
  for (const [name, role] of others) await apiAddUser(owner, name, role);
  const conv = await owner.ok("POST", "/api/v1/conversations", {
    kind: "group", title, members: others.map(([name]) => name),
  });
  return { owner, conv };
}

test("setup, login, new group, and a live message reaches the other user", async ({ server, newPage }) => {
  const ann = await newPage("owner");
  // First-run setup through the printed link.
  await ann.goto(`/setup#token=${server.setupToken}`);
  await expect(ann).toHaveURL(/\/setup$/); // the token left the address bar
  await ann.getByLabel("Username").fill("olivia");
  await ann.getByLabel(/^Password/).fill(password("olivia"));
  await ann.getByLabel("Repeat the password").fill(password("olivia"));
  await ann.getByRole("button", { name: "Create owner" }).click();
  await expect(ann.locator("#status")).toHaveText(/Owner account created/);
  await ann.getByRole("link", { name: /Continue to sign in/ }).click();
  await expect(ann).toHaveURL(/\/login$/);
  await loginUI(ann, "olivia");

  // The owner adds bob on the Users page.
  await ann.locator("#open-settings").click();
  await ann.getByRole("link", { name: "Users" }).click();
  const settings = ann.locator("#settings-body");
  await settings.getByLabel("Username").fill("bob");
  await settings.locator("select[name=role]").selectOption("member");
  await settings.getByLabel(/^Password/).fill(password("bob"));
  await settings.getByRole("button", { name: "Add user" }).click();
  await expect(ann.locator("table").getByText("bob", { exact: true })).toBeVisible();

  // A new group with bob.
  await ann.getByRole("link", { name: "Back to chat" }).click();
  await ann.getByRole("button", { name: "New group" }).click();
  const dialog = ann.locator("#new-group-dialog");
  await dialog.getByLabel("Title").fill("Launch crew");
  await dialog.getByLabel(/^Members/).fill("bob");
  await dialog.getByRole("button", { name: "Create group" }).click();
  await expect(dialog).toBeHidden();
  await expect(ann.locator("#conv-title")).toHaveText("Launch crew");

  // Bob signs in elsewhere and opens it.
  const bob = await newPage("bob");
  await loginUI(bob, "bob");
  await openConversationUI(bob, "Launch crew");

  await sendUI(ann, "hello **bob**, welcome aboard");
  const seen = messages(bob).filter({ hasText: "welcome aboard" });
  await expect(seen).toHaveCount(1); // arrived over the WebSocket, no reload
  await expect(seen.locator("strong")).toHaveText("bob"); // server-rendered Markdown
  await expect(seen.locator(".author")).toHaveText("olivia");

  // And back the other way, with a mention picked from the autocomplete.
  await bob.locator("#input").fill("thanks @ol");
  await expect(bob.locator("#mention-menu")).toBeVisible();
  await bob.locator("#input").press("Enter"); // picks the suggestion
  await expect(bob.locator("#input")).toHaveValue("thanks @olivia ");
  await bob.locator("#input").press("Enter"); // sends
  const reply = messages(ann).filter({ hasText: "thanks" });
  await expect(reply).toHaveCount(1);
  await expect(reply.locator(".mention")).toHaveText("@olivia");
});

test("an uploaded image shows as a preview for both users", async ({ server, newPage }) => {
  await arrange(server, [["bob", "member"]], "Photos");
  const ann = await newPage("owner");
  await loginUI(ann, "olivia");
  await openConversationUI(ann, "Photos");
  const bob = await newPage("bob");
  await loginUI(bob, "bob");
  await openConversationUI(bob, "Photos");

  await ann.locator("#file-input").setInputFiles({ name: "gradient.png", mimeType: "image/png", buffer: gradientPng() });
  const chip = ann.locator("#pending .chip");
  await expect(chip.locator("img")).toBeVisible(); // local preview before sending
  await expect(chip).not.toHaveClass(/uploading|failed/);
  await sendUI(ann, "the new gradient");

  for (const page of [ann, bob]) {
    const img = messages(page).filter({ hasText: "the new gradient" }).locator(".att-image img");
    await expect(img).toBeVisible();
    await expect(img).toHaveAttribute("alt", "gradient.png");
    await expect(img).toHaveAttribute("src", /^\/api\/v1\/uploads\/[A-Za-z0-9_-]{22,}$/);
    await expect.poll(() => img.evaluate((el) => el.complete && el.naturalWidth)).toBe(96);
  }
});

test("hostile markup in messages renders inert", async ({ server, newPage }) => {
  await arrange(server, [["bob", "member"]], "Sandbox");
  const ann = await newPage("owner");
  await loginUI(ann, "olivia");
  await openConversationUI(ann, "Sandbox");
  const bob = await newPage("bob");
  await loginUI(bob, "bob");
  await openConversationUI(bob, "Sandbox");

  const attacks = [
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "<a href=\"javascript:alert(2)\">click</a> <svg onload=alert(3)></svg>",
    "<script>alert(4)</script> <iframe src=\"javascript:alert(5)\"></iframe>",
  ];
  for (const text of attacks) await sendUI(ann, text);
  for (const page of [ann, bob]) {
    await expect(messages(page)).toHaveCount(attacks.length);
    const found = await page.evaluate(() => {
      const all = [...document.querySelectorAll("*")];
      return {
        handlers: all.flatMap((el) => [...el.attributes].filter((a) => a.name.startsWith("on")).map((a) => `${el.localName}[${a.name}]`)),
        jsUrls: all.flatMap((el) => [...el.attributes].filter((a) => /^\s*javascript:/i.test(a.value)).map((a) => `${el.localName}[${a.name}]`)),
        scripts: document.querySelectorAll("#messages script, #messages iframe, #messages svg, #messages img[src='x']").length,
      };
    });
    expect(found).toEqual({ handlers: [], jsUrls: [], scripts: 0 });
  }
  // Give any delayed handler a chance to fire (the fixture fails on dialogs).
  await ann.waitForTimeout(500);
});

test("logout returns to /login and the old session is dead", async ({ server, newPage }) => {
  await apiSetup(server, "olivia");
  const page = await newPage("owner");
  await loginUI(page, "olivia");
  const cookie = (await page.context().cookies()).find((c) => c.name === "hs_session");
  expect(cookie, "the session cookie is set").toBeTruthy();
  expect(cookie.httpOnly).toBe(true);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  const resp = await fetch(server.base + "/api/v1/auth/me", { headers: { Cookie: `hs_session=${cookie.value}` } });
  expect(resp.status).toBe(401);
  // The app itself sends a signed-out visitor back to /login.
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
});

test("a guest reads but has no composer, and the API refuses their post", async ({ server, newPage }) => {
  const { owner, conv } = await arrange(server, [["gina", "guest"]], "Announcements");
  await owner.ok("POST", `/api/v1/conversations/${conv.id}/messages`, { text: "read me, gina" });

  const gina = await newPage("guest");
  await loginUI(gina, "gina");
  await openConversationUI(gina, "Announcements");
  await expect(messages(gina).filter({ hasText: "read me, gina" })).toHaveCount(1);
  await expect(gina.locator("#composer")).toBeHidden();
  await expect(gina.locator("#readonly")).toBeVisible();
  await expect(gina.locator("#new-group")).toBeHidden();

  // A direct write with the guest's own cookie and CSRF token is refused.
  const status = await gina.evaluate(async (id) => {
    const resp = await fetch(`/api/v1/conversations/${id}/messages`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": sessionStorage.getItem("hs-csrf") },
      body: JSON.stringify({ text: "guests cannot post" }),
    });
    return resp.status;
  }, conv.id);
  expect(status).toBe(403);
  const guest = await apiLogin(server.base, "gina");
  expect((await guest.req("POST", `/api/v1/conversations/${conv.id}/messages`, { text: "nor here" })).status).toBe(403);
  const page = await owner.ok("GET", `/api/v1/conversations/${conv.id}/messages`);
  expect(page.messages.map((m) => m.text)).toEqual(["read me, gina"]);
});

test("every page loads without a Content-Security-Policy violation", async ({ server, newPage }) => {
  const page = await newPage("owner");
  const violations = [];
  page.on("console", (m) => { if (/security policy/i.test(m.text())) violations.push(m.text()); });
  await page.goto(`/setup#token=${server.setupToken}`);
  await expect(page.locator("h1")).toHaveText("Hardshell");
  const { conv } = await arrange(server, [["bob", "member"]], "Checks");
  await page.goto("/login");
  await loginUI(page, "olivia");
  await page.goto(`/#/c/${conv.id}`);
  await expect(page.locator("#conv-title")).toHaveText("Checks");
  await sendUI(page, "`code` and a [link](https://example.invalid)");
  await expect(messages(page)).toHaveCount(1);
  await page.getByRole("button", { name: "Members", exact: true }).click();
  await expect(page.locator("#member-list")).toContainText("bob");
  for (const tab of ["sessions", "keys", "users", "audit"]) {
    await page.goto(`/#/settings/${tab}`);
    await expect(page.locator("#settings-body .panel").first()).toBeVisible();
  }
  await page.locator("#theme-toggle").click();
  expect(violations).toEqual([]);
});

test("settings: an agent key is shown once, and a key file signs its user in", async ({ server, newPage }) => {
  const owner = await apiSetup(server, "olivia");
  await apiAddUser(owner, "bob", "member");
  const page = await newPage("owner");
  await loginUI(page, "olivia");

  await page.goto("/#/settings/keys");
  const body = page.locator("#settings-body");
  await body.getByLabel("Name").fill("nightly-sync");
  await body.getByLabel("messages read").check();
  await body.getByRole("button", { name: "Create key" }).click();
  const once = page.getByRole("dialog");
  await expect(once.getByRole("textbox")).toHaveValue(/^lb-/);
  await once.getByRole("button", { name: "I have saved it" }).click();
  await expect(body.locator("tr", { hasText: "nightly-sync" })).toContainText("messages:read");
  await expect(body).not.toContainText("lb-");
  await body.locator("tr", { hasText: "nightly-sync" }).getByRole("button", { name: "Revoke" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
  await expect(body.locator("tr", { hasText: "nightly-sync" })).toContainText("revoked");

  await page.goto("/#/settings/users");
  const download = page.waitForEvent("download");
  await body.getByRole("button", { name: "Key file for bob" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Create key file" }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe("hardshell-bob.key.json");
  const keyPath = test.info().outputPath("bob.key.json");
  await file.saveAs(keyPath);

  const bob = await newPage("bob");
  await bob.goto("/login");
  const chooser = bob.waitForEvent("filechooser");
  await bob.getByRole("button", { name: "Sign in with a key file…" }).click();
  await (await chooser).setFiles(keyPath);
  await expect(bob.locator("#me-name")).toHaveText("bob");
});

test("files come in by drop and paste; a refused type is flagged and not sent", async ({ server, newPage }) => {
  await arrange(server, [["bob", "member"]], "Files");
  const page = await newPage("owner");
  await loginUI(page, "olivia");
  await openConversationUI(page, "Files");

  const transfer = (name, type, text) => page.evaluateHandle(([n, t, body]) => {
    const dt = new DataTransfer();
    dt.items.add(new File([body], n, { type: t }));
    return dt;
  }, [name, type, text]);
  await page.dispatchEvent("#chat-view", "drop", { dataTransfer: await transfer("notes.txt", "text/plain", "plain notes\n") });
  await page.locator("#input").evaluate((el, dt) => {
    el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
  }, await transfer("page.html", "text/html", "<!doctype html><html><script>alert(1)</script></html>"));

  const chips = page.locator("#pending .chip");
  await expect(chips).toHaveCount(2);
  const refused = chips.filter({ hasText: "page.html" });
  await expect(refused).toHaveClass(/failed/);
  await expect(refused).toContainText("File type not allowed");
  // Sending is held back while a failed upload is still attached.
  await page.locator("#input").fill("two files");
  await page.locator("#input").press("Enter");
  await expect(page.locator(".toast")).toContainText("failed to upload");
  await expect(messages(page)).toHaveCount(0);
  await refused.getByRole("button", { name: "Remove page.html" }).click();
  await page.locator("#input").press("Enter");
  const sent = messages(page).filter({ hasText: "two files" });
  await expect(sent.locator(".att-file")).toHaveAttribute("download", "notes.txt");
  await expect(sent.locator(".att-file .att-name")).toHaveText("notes.txt");
});
