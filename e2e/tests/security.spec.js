// Settings → Security: the owner sees the doctor's checks (most severe
// first, each with its fix) and the last backup's age; a member sees no
// Security tab, is sent to Sessions when opening its address, and the API
// refuses them.
import { test, expect } from "../lib/fixtures.js";
import { apiSetup, apiAddUser, apiLogin } from "../lib/server.js";
import { loginUI } from "../lib/ui.js";

test("the owner's Security page shows the doctor's checks and the backup age", async ({ server, newPage }) => {
  const owner = await apiSetup(server, "olivia");
  await apiAddUser(owner, "bob", "member");
  const page = await newPage("security");
  await loginUI(page, "olivia");
  await page.goto("/#/settings/security");
  await expect(page.locator(".tab.active")).toHaveText("Security");
  const rows = page.locator("#settings-body tr[data-finding]");
  await expect(rows.first()).toBeVisible();
  // No backup yet: said plainly, as a warning row and in the backup panel.
  await expect(page.locator('tr[data-finding="backup.none"] .tag')).toHaveText("warning");
  await expect(page.locator('[data-backup-age="none"]')).toContainText("No verified backup");
  // The sandbox is reported as the server found it at start.
  await expect(page.locator('tr[data-finding="sandbox.unavailable"]')).toContainText(/sandbox|shell/);
  // Most severe first.
  const order = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.severity));
  const rank = { critical: 0, warning: 1, info: 2 };
  expect([...order].sort((a, b) => rank[a] - rank[b])).toEqual(order);

  const bob = await apiLogin(server.base, "bob");
  for (const path of ["/api/v1/doctor", "/api/v1/backups/status"]) {
    expect((await bob.req("GET", path)).status, path).toBe(403);
  }
  const member = await newPage("security-member");
  await loginUI(member, "bob");
  await member.goto("/#/settings/security");
  await expect(member.locator(".tab.active")).toHaveText("Sessions");
  await expect(member.locator('#settings-tabs .tab[data-tab="security"]')).toHaveCount(0);
});
