// Sign-in: password, or the identity-key file ({"username","uuid","token"})
// that the owner downloaded. The key is read locally and posted once; the
// CSRF token from the answer is kept for this tab only. Before setup, the
// page says where the setup link is.
import { setCsrfToken, clearCsrfToken } from "./api.js";

const form = document.getElementById("login");
const status = document.getElementById("status");
const keyInput = document.getElementById("keyfile");
const pickKey = document.getElementById("pick-key");

function say(text, ok = false) {
  status.textContent = text;
  status.className = ok ? "status ok" : "status error";
}

function busy(on) {
  form.querySelectorAll("input, button").forEach((el) => { el.disabled = on; });
  pickKey.disabled = on;
}

async function signIn(path, body) {
  busy(true);
  say("Signing in…", true);
  let resp;
  try {
    resp = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch (_) {
    busy(false);
    say("The server could not be reached.");
    return;
  }
  if (resp.ok) {
    const data = await resp.json();
    setCsrfToken(data.csrf_token);
    location.assign("/");
    return;
  }
  busy(false);
  if (resp.status === 429) {
    const wait = resp.headers.get("Retry-After");
    say(wait ? `Too many attempts. Try again in ${wait} seconds.` : "Too many attempts. Try again later.");
    return;
  }
  let message = `Sign-in failed (${resp.status}).`;
  try {
    const err = await resp.json();
    if (err && err.error && err.error.message) message = err.error.message;
  } catch (_) { /* keep the generic message */ }
  say(message);
}

clearCsrfToken();

// Before setup there is nobody to sign in as: say where the setup link is.
fetch("/api/v1/setup", { headers: { Accept: "application/json" }, credentials: "same-origin" })
  .then((r) => (r.ok ? r.json() : null))
  .then((s) => { if (s && s.setup_done === false) document.getElementById("setup-hint").hidden = false; })
  .catch(() => { /* the hint is optional */ });

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const data = new FormData(form);
  signIn("/api/v1/auth/login", {
    username: String(data.get("username") || "").trim(),
    password: String(data.get("password") || ""),
  });
});

pickKey.addEventListener("click", () => keyInput.click());

keyInput.addEventListener("change", async () => {
  const file = keyInput.files && keyInput.files[0];
  keyInput.value = "";
  if (!file) return;
  if (file.size > 4096) {
    say("That file is too large to be a Hardshell key file.");
    return;
  }
  let parsed;
  try {
    parsed = JSON.parse(await file.text());
  } catch (_) {
    say("That file is not a Hardshell key file (it is not JSON).");
    return;
  }
  const token = parsed && typeof parsed.token === "string" ? parsed.token.trim() : "";
  if (!token.startsWith("hu-")) {
    say("That file has no identity key (expected a \"token\" starting with hu-).");
    return;
  }
  signIn("/api/v1/auth/login/key", { key: token });
});
