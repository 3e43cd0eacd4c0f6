// Steps through the UI the way a person would.
import { expect } from "@playwright/test";
import { password } from "./server.js";

export async function loginUI(page, username, pw = password(username)) {
  await page.goto("/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(pw);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.locator("#me-name")).toHaveText(username);
}

export async function openConversationUI(page, title) {
  await page.locator("#conv-list .conv", { hasText: title }).click();
  await expect(page.locator("#conv-title")).toHaveText(title);
}

export async function sendUI(page, text) {
  const input = page.locator("#input");
  await input.fill(text);
  await input.press("Enter");
  await expect(input).toHaveValue("");
}

export const messages = (page) => page.locator("#messages .msg");
