// Starts a real `hardshell serve` on an ephemeral loopback port with a
// fresh data dir and machine secret (first run without a TTY seals the
// vault to this "machine"), reads the listening URL and the one-time setup
// token from stdout, and stops it afterwards. Also a tiny cookie-session
// API client for arranging test data without the UI.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, appendFileSync, rmSync, existsSync, copyFileSync, chownSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export function binaryPath() {
  if (process.env.HARDSHELL_BIN) return path.resolve(REPO, process.env.HARDSHELL_BIN);
  const target = process.env.CARGO_TARGET_DIR || "target";
  return path.resolve(REPO, target, "debug", "hardshell");
}

export const password = (name) => `${name}-violet-harbour-42`;

/**
 * `runAs: { uid, gid }` runs the server as that user when the tests run as
 * root (Hardshell offers no shell tool as root): the data directory and a
 * copy of the binary are handed to it first.
 * `vault: { name: value }` and `config: "toml"`: the data directory is
 * made first (`init --sealed`), the values stored with `vault set`, and
 * the text appended to its config.toml, as an operator would (not with
 * `runAs`); the returned `cli(args)` then runs the same binary on the same
 * data directory while the server runs (the vault is sealed to the
 * machine, so no passphrase), and returns its stdout.
 */
export async function startServer({ runAs, vault, config } = {}) {
  let bin = binaryPath();
  if (!existsSync(bin)) throw new Error(`no hardshell binary at ${bin}; build it or set HARDSHELL_BIN`);
  const dir = mkdtempSync(path.join(tmpdir(), "hardshell-e2e-"));
  writeFileSync(path.join(dir, "machine-id"), "0123456789abcdef0123456789abcdef\n");
  const spawnAs = {};
  if (runAs && process.getuid && process.getuid() === 0) {
    const copy = path.join(dir, "hardshell-bin");
    copyFileSync(bin, copy);
    bin = copy;
    for (const p of [dir, copy, path.join(dir, "machine-id")]) chownSync(p, runAs.uid, runAs.gid);
    Object.assign(spawnAs, { uid: runAs.uid, gid: runAs.gid });
  }
  const env = { ...process.env };
  for (const k of ["HARDSHELL_VAULT_PASSPHRASE", "HARDSHELL_VAULT_PASSPHRASE_FILE", "HARDSHELL_PIN_FILE", "HARDSHELL_LOG_FORMAT", "HARDSHELL_CONFIG"]) delete env[k];
  Object.assign(env, {
    HARDSHELL_HOME: path.join(dir, "data"),
    HARDSHELL_MACHINE_KEY_FILE: path.join(dir, "machine", "machine.key"),
    HARDSHELL_MACHINE_ID_FILE: path.join(dir, "machine-id"),
    HARDSHELL_LOG: process.env.HARDSHELL_LOG || "warn",
  });
  let run = null;
  if (vault || config) {
    if (spawnAs.uid !== undefined) throw new Error("vault and config are not supported with runAs");
    run = (args, input) => {
      const r = spawnSync(bin, args, { env, input: input ?? "", encoding: "utf8" });
      if (r.status !== 0) throw new Error(`hardshell ${args.join(" ")} -> ${r.status}\n${r.stderr}`);
      return r.stdout;
    };
    run(["init", "--sealed"]);
    for (const [name, value] of Object.entries(vault || {})) run(["vault", "set", name], value);
    if (config) appendFileSync(path.join(dir, "data", "config.toml"), `\n${config}\n`);
  }
  const child = spawn(bin, ["serve", "--bind", "127.0.0.1:0"], { env, stdio: ["ignore", "pipe", "pipe"], ...spawnAs });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr = (stderr + d).slice(-20000); });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const lines = readline.createInterface({ input: child.stdout });
  const { base, setupToken } = await new Promise((resolve, reject) => {
    let base = null;
    const timer = setTimeout(() => reject(new Error(`server did not start in time\n${stderr}`)), 60000);
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`server exited (${code})\n${stderr}`)); });
    lines.on("line", (line) => {
      const listening = /^Hardshell listening on (\S+)/.exec(line);
      if (listening) base = listening[1];
      const setup = /\/setup#token=(\S+)/.exec(line);
      if (setup && base) {
        clearTimeout(timer);
        resolve({ base, setupToken: setup[1] });
      }
    });
  });
  lines.on("line", () => {}); // keep draining stdout
  return {
    base,
    setupToken,
    stderr: () => stderr,
    cli: (args) => {
      if (!run) throw new Error("cli needs startServer({ vault } or { config })");
      return run(args);
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 15000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A cookie session as a browser would hold it: cookie + CSRF + Origin. */
export class Session {
  constructor(base, cookie, csrf, user) {
    Object.assign(this, { base, cookie, csrf, user });
  }

  async req(method, urlPath, body) {
    const headers = { Cookie: `hs_session=${this.cookie}`, Accept: "application/json" };
    if (method !== "GET") {
      headers["X-CSRF-Token"] = this.csrf;
      headers.Origin = this.base;
    }
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(this.base + urlPath, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await resp.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { json = text; }
    return { status: resp.status, body: json };
  }

  async ok(method, urlPath, body) {
    const r = await this.req(method, urlPath, body);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${urlPath} -> ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }
}

export async function apiLogin(base, username, pw = password(username)) {
  const resp = await fetch(base + "/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password: pw }),
  });
  if (resp.status !== 200) throw new Error(`login ${username} -> ${resp.status} ${await resp.text()}`);
  const cookie = resp.headers.getSetCookie().map((c) => /^hs_session=([^;]+)/.exec(c)).find(Boolean)[1];
  const body = await resp.json();
  return new Session(base, cookie, body.csrf_token, body.user);
}

/** Creates the owner through the setup API and signs them in. */
export async function apiSetup(server, username = "olivia") {
  const resp = await fetch(server.base + "/api/v1/setup", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ setup_token: server.setupToken, username, password: password(username) }),
  });
  if (resp.status !== 201) throw new Error(`setup -> ${resp.status} ${await resp.text()}`);
  return apiLogin(server.base, username);
}

export async function apiAddUser(owner, username, role) {
  return owner.ok("POST", "/api/v1/users", { username, role, password: password(username) });
}
