// The first hour in the browser: the sign-in page points at the setup
// link, the owner sets up, connects a provider from the home screen (the
// fake OpenAI-compatible server), tests the connection with one real call,
// opens the default agent from the sidebar and watches a reply stream in
// as rendered Markdown; a group starts with people and agents; search
// marks the match.
import { test as base, expect } from "../lib/fixtures.js";
import { apiSetup, apiAddUser, apiLogin, password } from "../lib/server.js";
import { loginUI, sendUI } from "../lib/ui.js";
import { startFakeLlm } from "../lib/fake_llm.js";
import { gradientPng } from "../lib/png.js";

const test = base.extend({
  llm: async ({}, use) => {
    const llm = await startFakeLlm();
    try {
      await use(llm);
    } finally {
      await llm.stop();
    }
  },
});

test("first run: setup, connect a provider, test it, and chat with the default agent", async ({ server, newPage, llm }) => {
  const page = await newPage("owner");

  // Before setup the sign-in page says where the setup link is.
  await page.goto("/login");
  await expect(page.locator("#setup-hint")).toBeVisible();
  await expect(page.locator("#setup-hint")).toContainText("hardshell serve");

  await page.goto(`/setup#token=${server.setupToken}`);
  await page.getByLabel("Username").fill("olivia");
  await page.locator("input[name=password]").fill(password("olivia"));
  await page.locator("input[name=repeat]").fill(password("olivia"));
  await page.getByRole("button", { name: "Create owner" }).click();
  await expect(page.locator("#status")).toContainText("Owner account created");
  await page.getByRole("link", { name: /Continue to sign in/ }).click();
  await expect(page.locator("#setup-hint")).toBeHidden();
  await loginUI(page, "olivia");

  // The home screen guides the owner: no provider yet.
  const card = page.locator(".first-run");
  await expect(card).toBeVisible();
  await expect(card).toContainText("Connect a model provider");
  // Ollama detection ran on the server (nothing listens in the test).
  await expect(card.locator(".first-run-step").first().locator(".status")).toContainText(/(No Ollama found: nothing answered|Found Ollama) at http:\/\/127\.0\.0\.1:11434|Ollama is running at/);
  // The default agent is already in the sidebar.
  const agentLink = page.locator("#agent-list button", { hasText: "Assistant" });
  await expect(agentLink).toBeVisible();

  await card.getByText("Another provider").click();
  const form = card.getByRole("form", { name: "Connect a provider" });
  await form.getByLabel("Kind").selectOption("openai");
  await form.getByLabel("Base URL").fill(llm.baseUrl);
  await form.getByLabel("Model").fill("fake-1");
  await form.getByRole("button", { name: "Save and test connection" }).click();
  await expect(card.locator(".status.ok")).toContainText("Connected to openai");
  await expect(card.locator(".status.ok")).toContainText("@assistant now uses openai/fake-1");
  // The test was one real call to the provider.
  expect(llm.requests.some((r) => r.method === "GET" && r.url === "/v1/models")).toBe(true);

  // Straight into a chat with the default agent, from the sidebar.
  llm.script(["Here is **bo", "ld** text", " and `co", "de`", " and more", " words."], 500);
  await agentLink.click();
  await expect(page.locator("#conv-title")).toHaveText("Assistant");
  await sendUI(page, "Hello there");
  const live = page.locator("#messages .msg.turn.streaming");
  // Rendered as Markdown while it is still streaming.
  await expect(live.locator("strong")).toHaveText("bold");
  await expect(live).toHaveAttribute("aria-busy", "true");
  await expect(live.locator(".msg-content")).not.toContainText("**");
  // Then the stored reply replaces the placeholder.
  const stored = page.locator("#messages .msg:not(.turn)", { hasText: "words." });
  await expect(stored.locator("strong")).toHaveText("bold");
  await expect(stored.locator("code")).toHaveText("code");
  await expect(page.locator("#messages .msg.turn")).toHaveCount(0);

  // The provider settings have a Test connection button too.
  await page.goto("/#/settings/providers");
  await page.getByRole("button", { name: "Test the connection to openai" }).click();
  await expect(page.locator("#settings-body .status.ok")).toContainText("openai: connected");
});

test("a new group takes people and agents; search marks the match", async ({ server, newPage }) => {
  const owner = await apiSetup(server, "olivia");
  await apiAddUser(owner, "bob", "member");
  await owner.ok("PUT", "/api/v1/providers/local", { kind: "ollama" });
  await owner.ok("POST", "/api/v1/agents", { handle: "helper", name: "Helper", model: "local/m1" });
  const page = await newPage("owner");
  await loginUI(page, "olivia");
  await expect(page.locator("#welcome")).toContainText("Talk to an agent");

  await page.getByRole("button", { name: "New group" }).click();
  const dlg = page.locator("#new-group-dialog");
  await dlg.getByLabel("Title").fill("Planning");
  await dlg.getByLabel(/Members/).fill("bob, @helper");
  await dlg.getByRole("button", { name: "Create group" }).click();
  await expect(page.locator("#conv-title")).toHaveText("Planning");
  // One count, the same in the list and the header.
  await expect(page.locator("#conv-sub")).toContainText("2 people · 1 agent");
  await expect(page.locator("#conv-list .conv.active")).toContainText("2 people · 1 agent");

  const bob = await apiLogin(server.base, "bob");
  const conv = (await bob.ok("GET", "/api/v1/conversations")).conversations.find((c) => c.title === "Planning");
  await bob.ok("POST", `/api/v1/conversations/${conv.id}/messages`, { text: "The <b>quarterly</b> roadmap is ready" });
  await page.locator("#search").fill("roadmap");
  const hit = page.locator("#search-list .hit").first();
  await expect(hit.locator("mark")).toHaveText("roadmap");
  // Markup in a message stays text in the snippet, marked or not.
  await expect(hit.locator(".hit-snippet b")).toHaveCount(0);
  await expect(hit.locator(".hit-snippet")).toContainText("<b>quarterly</b>");
});

test("a PDF card keeps its own height beside an image; a tap shows and hides a message's toolbar on a phone", async ({ server, newPage }) => {
  const owner = await apiSetup(server, "olivia");
  const conv = await owner.ok("POST", "/api/v1/conversations", { kind: "group", title: "Files", members: [] });
  const upload = async (name, type, bytes) => {
    const form = new FormData();
    form.append("file", new Blob([bytes], { type }), name);
    const resp = await fetch(owner.base + "/api/v1/uploads", {
      method: "POST",
      headers: { Cookie: `hs_session=${owner.cookie}`, "X-CSRF-Token": owner.csrf, Origin: owner.base },
      body: form,
    });
    expect(resp.status).toBe(201);
    return (await resp.json()).id;
  };
  const img = await upload("tall.png", "image/png", gradientPng(200, 260));
  const pdf = await upload("report.pdf", "application/pdf", "%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n");
  await owner.ok("POST", `/api/v1/conversations/${conv.id}/messages`, { text: "Both files", attachments: [img, pdf] });

  // Side by side on a desktop, the card is not stretched to the image.
  const desk = await newPage("desktop", { viewport: { width: 1280, height: 800 } });
  await loginUI(desk, "olivia");
  await desk.goto(`/#/c/${conv.id}`);
  const image = desk.locator(".att-image img");
  await expect.poll(() => image.evaluate((el) => el.naturalWidth)).toBeGreaterThan(0);
  const card = await desk.locator(".att-file").boundingBox();
  const picture = await image.boundingBox();
  expect(Math.abs(card.y - picture.y)).toBeLessThan(5); // one row
  expect(card.height).toBeLessThan(picture.height / 2);

  const page = await newPage("phone", { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });
  await loginUI(page, "olivia");
  await page.goto(`/#/c/${conv.id}`);

  const msg = page.locator("#messages .msg", { hasText: "Both files" });
  const toolbar = msg.locator(".msg-actions");
  await expect(toolbar).toHaveCSS("opacity", "0");
  await msg.locator(".msg-content").tap();
  await expect(msg).toHaveClass(/actions-open/);
  await expect(toolbar).toHaveCSS("opacity", "1");
  await page.locator("#conv-title").tap();
  await msg.locator(".msg-content").tap();
  await expect(msg).toHaveClass(/actions-open/);
  await page.locator("#messages .day").first().tap();
  await expect(msg).not.toHaveClass(/actions-open/);
  await expect(toolbar).toHaveCSS("opacity", "0");
});
