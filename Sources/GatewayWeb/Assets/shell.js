// What every page of the app shell shares: the sign-in prompt, the error page, the account
// area and navigation in the header, and the user stream for live status.

import { APIError, tokens, me } from "./api.js";
import { signIn, signOut } from "./auth.js";
import { h, show, notice } from "./dom.js";
import { EventStream } from "./sse.js";

export function signInPrompt(title, text) {
  show(
    title,
    h("p", {}, text),
    // Back to the same address after signing in, query included (a chat's ?session=).
    h("p", {}, h("button", { type: "button", id: "sign-in", onclick: () => signIn(location.pathname + location.search) }, "Sign in")),
  );
  document.getElementById("sign-in").focus();
}

export function failure(error) {
  if (error instanceof APIError && error.status === 401) {
    signInPrompt("Signed out", "Your sign-in expired. Sign in again to continue.");
    renderAccount();
    return;
  }
  show("Something went wrong", notice(error.message, "danger"), h("p", {}, h("a", { href: location.pathname }, "Reload")));
}

export async function renderAccount() {
  const account = document.getElementById("account");
  if (!account) return;
  if (!tokens()) {
    account.replaceChildren(
      h("button", { type: "button", class: "secondary", id: "account-sign-in", onclick: () => signIn(location.pathname === "/" ? "/app" : location.pathname + location.search) }, "Sign in"),
    );
    return;
  }
  try {
    const user = await me();
    account.replaceChildren(
      h("span", { id: "signed-in-as" }, `Signed in as ${user.display_name}`),
      h("button", { type: "button", class: "secondary", id: "sign-out", onclick: signOut }, "Sign out"),
    );
  } catch {
    account.replaceChildren();
  }
}

export function markNavigation() {
  for (const link of document.querySelectorAll(".top nav a")) {
    const path = link.getAttribute("href");
    const current = location.pathname === path || (path === "/app" && location.pathname.startsWith("/app/chat/"));
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

/** The user stream, for pages that show live status; `onChange` reloads or patches the page. */
export function userStream(onEvent, reload) {
  return new EventStream("/v1/events", {
    onEvent: (type, data) => (type === "reset" ? reload() : onEvent(type, data)),
    onFatal: failure,
  }).start();
}
