// Live behaviour: edits, deletes and typing over the WebSocket, search
// hits that jump to the message, older history on scroll, resuming with
// ?since= after close code 4000, and 4001 sending the tab to /login.
import { test, expect } from "../lib/fixtures.js";
import { apiSetup, apiAddUser, apiLogin } from "../lib/server.js";
import { loginUI, openConversationUI, sendUI, messages } from "../lib/ui.js";

async function arrange(server) {
  const owner = await apiSetup(server, "olivia");
  await apiAddUser(owner, "bob", "member");
  const conv = await owner.ok("POST", "/api/v1/conversations", { kind: "group", title: "Live", members: ["bob"] });
  return { owner, conv, bob: await apiLogin(server.base, "bob") };
}

test("edits, deletes and typing reach the other user live", async ({ server, newPage }) => {
  await arrange(server);
  const ann = await newPage("owner");
  await loginUI(ann, "olivia");
  await openConversationUI(ann, "Live");
  const bob = await newPage("bob");
  await loginUI(bob, "bob");
  await openConversationUI(bob, "Live");

  await bob.locator("#input").pressSequentially("typing away");
  await expect(ann.locator("#typing")).toHaveText("bob is typing…");
  await bob.locator("#input").fill("");

  await sendUI(ann, "first draft");
  const mine = messages(ann).filter({ hasText: "first draft" });
  await mine.hover();
  await mine.getByRole("button", { name: "Edit message" }).click();
  await mine.getByRole("textbox", { name: "Edit message" }).fill("final version");
  await mine.getByRole("textbox", { name: "Edit message" }).press("Enter");
  const theirs = messages(bob).filter({ hasText: "final version" });
  await expect(theirs).toHaveCount(1);
  await expect(theirs.locator(".edited")).toBeVisible();
  // Bob cannot edit or delete olivia's message.
  await theirs.hover();
  await expect(theirs.getByRole("button", { name: "Edit message" })).toHaveCount(0);

  const edited = messages(ann).filter({ hasText: "final version" });
  await edited.hover();
  await edited.getByRole("button", { name: "Delete message" }).click();
  await ann.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(messages(ann)).toHaveCount(0);
  await expect(messages(bob)).toHaveCount(0);
});

test("search jumps to an old message, and history loads on scroll", async ({ server, newPage }) => {
  const { owner, conv } = await arrange(server);
  await owner.ok("POST", `/api/v1/conversations/${conv.id}/messages`, { text: "the zebra password is under the mat" });
  for (let i = 1; i <= 120; i++) {
    await owner.ok("POST", `/api/v1/conversations/${conv.id}/messages`, { text: `filler message ${i}` });
  }
  const page = await newPage("owner");
  await loginUI(page, "olivia");
  await openConversationUI(page, "Live");
  await expect(messages(page)).toHaveCount(50);
  await page.locator("#messages").evaluate((el) => { el.scrollTop = 0; });
  await expect(messages(page)).toHaveCount(100);

  await page.keyboard.press("Control+k");
  await expect(page.locator("#search")).toBeFocused();
  await page.keyboard.type("zebra");
  const hit = page.locator("#search-list .hit");
  await expect(hit).toHaveCount(1);
  await expect(hit).toContainText("Live");
  await hit.click();
  const target = messages(page).filter({ hasText: "zebra password" });
  await expect(target).toBeInViewport();
  await expect(page.locator(".history-start")).toBeVisible();
  await expect(messages(page)).toHaveCount(121);
});

test("after close code 4000 the client resumes with ?since= and gets what it missed", async ({ server, newPage }) => {
  const { owner, conv } = await arrange(server);
  const first = await owner.ok("POST", `/api/v1/conversations/${conv.id}/messages`, { text: "before the drop" });
  const page = await newPage("bob");
  const sockets = [];
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.routeWebSocket(/\/api\/v1\/ws/, async (ws) => {
    sockets.push({ url: ws.url(), ws });
    if (sockets.length === 2) await held; // hold the reconnect until a message was missed
    ws.connectToServer();
  });
  await loginUI(page, "bob");
  await openConversationUI(page, "Live");
  await expect(messages(page)).toHaveCount(1);
  await expect.poll(() => sockets.length).toBe(1);
  expect(new URL(sockets[0].url).searchParams.get("since")).toBe(String(first.id));

  await sockets[0].ws.close({ code: 4000, reason: "resume" });
  await expect.poll(() => sockets.length).toBe(2);
  await owner.ok("POST", `/api/v1/conversations/${conv.id}/messages`, { text: "sent while you were away" });
  release();
  expect(new URL(sockets[1].url).searchParams.get("since")).toBe(String(first.id));
  await expect(messages(page).filter({ hasText: "sent while you were away" })).toHaveCount(1);
  // And live events flow on the new connection.
  await owner.ok("POST", `/api/v1/conversations/${conv.id}/messages`, { text: "and live again" });
  await expect(messages(page).filter({ hasText: "and live again" })).toHaveCount(1);
});

test("close code 4001 sends the tab to /login", async ({ server, newPage }) => {
  await arrange(server);
  const page = await newPage("bob");
  let socket;
  await page.routeWebSocket(/\/api\/v1\/ws/, (ws) => {
    socket = ws;
    ws.connectToServer();
  });
  await loginUI(page, "bob");
  await expect.poll(() => !!socket).toBe(true);
  await socket.close({ code: 4001, reason: "credential revoked" });
  await expect(page).toHaveURL(/\/login$/);
});

test("the creator renames, removes a member and deletes; the others follow live", async ({ server, newPage }) => {
  const { owner, conv } = await arrange(server);
  await apiAddUser(owner, "dev", "member");
  await owner.ok("POST", `/api/v1/conversations/${conv.id}/members`, { username: "dev" });
  const ann = await newPage("owner");
  await loginUI(ann, "olivia");
  await openConversationUI(ann, "Live");
  const bob = await newPage("bob");
  await loginUI(bob, "bob");
  await openConversationUI(bob, "Live");

  await ann.getByRole("button", { name: "Members", exact: true }).click();
  const panel = ann.locator("#members-panel");
  await panel.getByLabel("Title").fill("Live ops");
  await panel.getByRole("button", { name: "Rename" }).click();
  await expect(bob.locator("#conv-title")).toHaveText("Live ops");

  await panel.getByRole("button", { name: "Remove dev" }).click();
  await ann.getByRole("dialog").getByRole("button", { name: "Remove" }).click();
  await expect(panel.locator(".member")).toHaveCount(2);
  await expect(bob.locator("#conv-sub")).not.toContainText("dev");

  // Bob is neither creator nor admin: no management controls.
  await bob.getByRole("button", { name: "Members", exact: true }).click();
  await expect(bob.locator("#members-panel").getByRole("button", { name: /^Remove/ })).toHaveCount(0);
  await expect(bob.locator("#delete-conv")).toBeHidden();

  await panel.getByRole("button", { name: "Delete conversation" }).click();
  await ann.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(ann.locator("#conv-list .conv")).toHaveCount(0);
  await expect(bob.locator("#conv-list .conv")).toHaveCount(0);
  await expect(bob.locator("#empty")).toBeVisible();
});
