// The shell tool in the browser: the owner raises an agent's shell trust to
// 2 on the Trust page, the agent asks to run `ls -la`, the owner approves
// in the card, and the sandboxed command's output appears in the chat.
// The server runs as `nobody` when the tests run as root: Hardshell offers
// no shell tool to a root server.
import { test as base, expect } from "../lib/fixtures.js";
import { apiSetup, startServer } from "../lib/server.js";
import { loginUI, openConversationUI, sendUI, messages } from "../lib/ui.js";
import { startFakeLlm } from "../lib/fake_llm.js";

const test = base.extend({
  server: async ({}, use, testInfo) => {
    const server = await startServer({ runAs: { uid: 65534, gid: 65534 } });
    try {
      await use(server);
    } finally {
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach("server-stderr", { body: server.stderr(), contentType: "text/plain" });
      }
      await server.stop();
    }
  },
  llm: async ({}, use) => {
    const llm = await startFakeLlm();
    try {
      await use(llm);
    } finally {
      await llm.stop();
    }
  },
});

test("the owner raises shell to 2, approves ls -la in the card, and the output appears", async ({ server, newPage, llm }) => {
  const owner = await apiSetup(server, "olivia");
  await owner.ok("PUT", "/api/v1/providers/fake", { kind: "openai", base_url: llm.baseUrl, api_key: "sk-fake-1", models: ["fake-1"] });
  const agent = await owner.ok("POST", "/api/v1/agents", { handle: "echo", name: "Echo", model: "fake/fake-1" });
  const conv = await owner.ok("POST", "/api/v1/conversations", { kind: "group", title: "Shell lab" });
  await owner.ok("POST", `/api/v1/conversations/${conv.id}/members`, { agent_id: agent.id });

  const page = await newPage("owner");
  await loginUI(page, "olivia");
  await page.goto("/#/settings/trust");
  const shell = page.getByLabel("@echo shell level");
  await expect(shell).toHaveValue("0");
  await shell.selectOption("2");
  const bar = page.getByRole("form", { name: "Save trust changes" });
  await bar.getByLabel("Reason").fill("let it look around, with my approval");
  await bar.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByLabel("@echo shell level")).toHaveValue("2");

  llm.queue({ tool: { name: "shell", arguments: { command: "ls -la /work && echo sandboxed-ok" } } });
  llm.queue({ echoToolResult: true });
  await page.goto("/");
  await openConversationUI(page, "Shell lab");
  await sendUI(page, "@echo what is in your workspace?");

  const card = page.locator(".tool-card.approval");
  await expect(card).toHaveCount(1);
  await expect(card.locator(".tool-card-title")).toHaveText("Asks to run shell");
  await expect(card).toContainText("ls -la /work && echo sandboxed-ok");
  // `&&` is shell syntax: no standing rule can be made from this command.
  await expect(card.getByRole("button", { name: /^Always allow/ })).toHaveCount(0);
  await card.getByRole("button", { name: /^Approve shell/ }).click();
  await expect(card).toHaveAttribute("data-status", "dispatched");
  // The agent's answer quotes the command's output (the fake model echoes
  // the tool result): the listing and the marker the command printed.
  const answer = messages(page).filter({ hasText: "Tool output" });
  await expect(answer).toHaveCount(1);
  await expect(answer).toContainText("exit code 0");
  await expect(answer).toContainText("sandboxed-ok");
  await expect(answer).toContainText("total");
});
