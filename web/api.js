// The one way the UI talks to the server. Cookie sessions: every non-GET
// request carries the CSRF token from the login response (kept in this
// tab's sessionStorage); a 401 sends the tab to /login; a 429 is reported
// with its Retry-After instead of being retried in a loop.
import { toast } from "./dom.js";

const CSRF_KEY = "hs-csrf";

export function csrfToken() {
  try { return sessionStorage.getItem(CSRF_KEY) || ""; } catch (_) { return ""; }
}

export function setCsrfToken(token) {
  try { sessionStorage.setItem(CSRF_KEY, token); } catch (_) { /* private mode */ }
}

export function clearCsrfToken() {
  try { sessionStorage.removeItem(CSRF_KEY); } catch (_) { /* private mode */ }
}

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Leaves the app for the sign-in page (session over or revoked). */
export function goToLogin() {
  clearCsrfToken();
  if (location.pathname !== "/login") location.assign("/login");
}

async function errorOf(resp) {
  let code = "http_" + resp.status;
  let message = `Request failed (${resp.status}).`;
  try {
    const body = await resp.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch (_) { /* not JSON: keep the generic text */ }
  const ra = parseInt(resp.headers.get("Retry-After") || "", 10);
  return new ApiError(resp.status, code, message, Number.isFinite(ra) ? ra : undefined);
}

/**
 * Sends a request. `body` may be a plain object (sent as JSON) or FormData.
 * Options: `quiet401` returns the error instead of redirecting.
 */
export async function api(method, path, body, options = {}) {
  const headers = { Accept: "application/json" };
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken();
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  } catch (e) {
    throw new ApiError(0, "network", "The server could not be reached.");
  }
  if (resp.ok) {
    if (resp.status === 204) return null;
    const type = resp.headers.get("Content-Type") || "";
    return type.startsWith("application/json") ? resp.json() : resp;
  }
  const err = await errorOf(resp);
  if (resp.status === 401 && !options.quiet401) {
    goToLogin();
  } else if (resp.status === 429) {
    const wait = err.retryAfter ? ` Try again in ${err.retryAfter} s.` : " Try again shortly.";
    toast("Too many requests." + wait, "error");
  }
  throw err;
}

export const get = (path, options) => api("GET", path, undefined, options);
export const post = (path, body, options) => api("POST", path, body ?? {}, options);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path, body) => api("DELETE", path, body);
