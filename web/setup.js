// First-run owner setup. The one-time token travels in the URL fragment,
// which browsers never send to the server or in Referer headers; it is
// read here, removed from the address bar, and posted once.
const params = new URLSearchParams(location.hash.slice(1));
const token = params.get("token") || "";
history.replaceState(null, "", location.pathname);

const form = document.getElementById("setup");
const status = document.getElementById("status");
const next = document.getElementById("next");

function say(text, ok) {
  status.textContent = text;
  status.className = ok ? "status ok" : "status error";
}

if (!token) {
  say("This page needs the setup link printed by `hardshell serve`.", false);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  if (data.get("password") !== data.get("repeat")) {
    say("The passwords do not match.", false);
    return;
  }
  const resp = await fetch("/api/v1/setup", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      setup_token: token,
      username: data.get("username"),
      password: data.get("password"),
    }),
  });
  if (resp.status === 201) {
    form.querySelectorAll("input, button").forEach((el) => { el.disabled = true; });
    say("Owner account created. You can sign in now.", true);
    next.hidden = false;
    next.querySelector("a").focus();
    return;
  }
  let message = `Setup failed (${resp.status}).`;
  try {
    const body = await resp.json();
    if (body && body.error && body.error.message) message = body.error.message;
  } catch (_) { /* keep the generic message */ }
  say(message, false);
  if (resp.status === 410) next.hidden = false;
});
