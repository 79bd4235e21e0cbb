// Signing in: the OAuth authorization code flow with PKCE as the public client `web`, the
// /app/callback page that completes it, and signing out.

import { CLIENT_ID, storage, readJSON, tokens, saveTokens, clearTokens, tokenRequest } from "./api.js";
import { h, show, notice } from "./dom.js";
import { sha256 as sha256Fallback } from "./sha256.js";

const BASE = (document.querySelector('meta[name="gateway-base-url"]')?.content || location.origin).replace(/\/+$/, "");
const REDIRECT_URI = BASE + "/app/callback";
const PENDING = "gateway.signin";
const encoder = new TextEncoder();

function base64url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export const randomString = (byteCount) => base64url(crypto.getRandomValues(new Uint8Array(byteCount)));

async function sha256(text) {
  const bytes = encoder.encode(text);
  if (window.crypto && crypto.subtle) return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return sha256Fallback(bytes);
}

/** What the sign-in page says for each RFC 6749 error code the gateway can send back. */
const SIGN_IN_ERRORS = {
  access_denied: "You cancelled the sign-in.",
  invalid_request: "The sign-in request was malformed. Try again.",
  invalid_scope: "The sign-in request asked for access this gateway does not offer.",
  unsupported_response_type: "The sign-in request was malformed. Try again.",
  server_error: "The gateway could not complete the sign-in. Try again in a moment.",
  temporarily_unavailable: "The gateway could not complete the sign-in. Try again in a moment.",
  other: "The sign-in did not complete. Try again.",
};

/** Starts the authorization-code flow; the browser comes back to /app/callback. */
export async function signIn(returnTo) {
  if (location.origin !== new URL(BASE).origin) {
    // The redirect URI is under the public base URL; sign in from there so the verifier in
    // this tab's storage is the one the callback finds.
    location.assign(BASE + location.pathname + location.search);
    return;
  }
  const verifier = randomString(48);
  const state = randomString(16);
  storage.setItem(PENDING, JSON.stringify({ verifier, state, returnTo: returnTo || "/app" }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    code_challenge: base64url(await sha256(verifier)),
    code_challenge_method: "S256",
    state,
    scope: "gateway",
  });
  location.assign(`/oauth/authorize?${query}`);
}

/** The redirect URI's page; `onSignedIn` shows the page sign-in started from. */
export async function completeSignIn(onSignedIn) {
  const params = new URLSearchParams(location.search);
  const pending = readJSON(PENDING);
  storage.removeItem(PENDING);
  const retry = h("button", { type: "button", onclick: () => signIn(pending?.returnTo || "/app") }, "Try again");
  // Only a response to the sign-in this tab started is read, and the page never shows text
  // from the address bar: anyone can craft a link to this page.
  if (!pending || params.get("state") !== pending.state) {
    show("Sign-in failed", notice("This sign-in response does not belong to a sign-in started in this tab.", "danger"), retry);
    return;
  }
  if (params.get("error")) {
    const cancelled = params.get("error") === "access_denied";
    show(cancelled ? "Sign-in cancelled" : "Sign-in failed", notice(SIGN_IN_ERRORS[params.get("error")] || SIGN_IN_ERRORS.other, "danger"), retry);
    return;
  }
  if (!params.get("code")) {
    show("Sign-in failed", notice(SIGN_IN_ERRORS.other, "danger"), retry);
    return;
  }
  show("Signing in…");
  try {
    saveTokens(
      await tokenRequest({
        grant_type: "authorization_code",
        code: params.get("code"),
        redirect_uri: REDIRECT_URI,
        code_verifier: pending.verifier,
      }),
    );
  } catch (error) {
    show("Sign-in failed", notice(error.message, "danger"), retry);
    return;
  }
  // Drop the code from the address bar and history, then show the page sign-in started from.
  history.replaceState(null, "", pending.returnTo || "/app");
  onSignedIn();
}

export async function signOut() {
  const current = tokens();
  clearTokens();
  if (current?.refresh_token) {
    await fetch("/oauth/revoke", {
      method: "POST",
      body: new URLSearchParams({ token: current.refresh_token, token_type_hint: "refresh_token", client_id: CLIENT_ID }),
    }).catch(() => {});
  }
  location.assign("/");
}
