// Tokens and the API: where this tab keeps its tokens, refreshing them, the authorized fetch
// every call and stream goes through, problem+json errors as APIError, and the signed-in user.

export const CLIENT_ID = "web";
// Tokens live in sessionStorage: one sign-in per tab. Tabs sharing one refresh token would
// each rotate it, and the gateway treats a rotated token presented again as stolen (it revokes
// the whole family), so tabs must not share one.
export const storage = window.sessionStorage;
const TOKENS = "gateway.tokens";
const ME = "gateway.me";
const TITLES = "gateway.titles"; // conversation titles (conversations.js)

export function readJSON(key) {
  try {
    return JSON.parse(storage.getItem(key) || "null");
  } catch {
    return null;
  }
}

export const tokens = () => readJSON(TOKENS);

export function saveTokens(response) {
  storage.setItem(
    TOKENS,
    JSON.stringify({
      access_token: response.access_token,
      refresh_token: response.refresh_token,
      expires_at: Date.now() + (response.expires_in || 300) * 1000,
    }),
  );
}

export function clearTokens() {
  storage.removeItem(TOKENS);
  storage.removeItem(ME);
  storage.removeItem(TITLES);
}

export async function tokenRequest(parameters) {
  const response = await fetch("/oauth/token", {
    method: "POST",
    body: new URLSearchParams({ client_id: CLIENT_ID, ...parameters }),
    cache: "no-store",
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error_description || body.error || `token endpoint answered ${response.status}`);
  return body;
}

let refreshing = null;

/** Rotates the refresh token (once, however many requests ask at the same time). */
function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const current = tokens();
      if (!current?.refresh_token) return null;
      try {
        saveTokens(await tokenRequest({ grant_type: "refresh_token", refresh_token: current.refresh_token }));
        return tokens().access_token;
      } catch {
        clearTokens();
        return null;
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function accessToken() {
  const current = tokens();
  if (!current) return null;
  if (current.expires_at - Date.now() < 30_000) return refresh();
  return current.access_token;
}

export class APIError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `the gateway answered ${status}`);
    this.status = status;
    this.type = (problem?.type || "").replace("urn:agent-gateway:problem:", "");
  }
}

export async function authorizedFetch(path, options) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const token = attempt === 0 ? await accessToken() : await refresh();
    if (!token) throw new APIError(401, { type: "signed-out", detail: "You are signed out." });
    const response = await fetch(path, { ...options, headers: { ...options.headers, Authorization: `Bearer ${token}` } });
    if (response.status !== 401) return response;
  }
  clearTokens();
  throw new APIError(401, { type: "signed-out", detail: "Your sign-in expired." });
}

export async function api(method, path, body, headers) {
  const response = await authorizedFetch(path, {
    method,
    cache: "no-store",
    headers: { Accept: "application/json", ...(body ? { "Content-Type": "application/json" } : {}), ...(headers || {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new APIError(response.status, await response.json().catch(() => null));
  return response.status === 204 ? null : response.json();
}

export async function me() {
  const cached = readJSON(ME);
  if (cached) return cached;
  const user = await api("GET", "/v1/me");
  storage.setItem(ME, JSON.stringify(user));
  return user;
}
