// The gateway's web app: sign-in (OAuth authorization code + PKCE, client `web`), invites, chat,
// agents, shares and devices. Plain JavaScript in native ES modules, no build step, no third-party
// code. Pages are built with DOM calls and textContent only (never innerHTML with data), under a
// CSP that allows scripts and connections to this origin alone. See docs/web.md.
//
// This is the entry module, which every page loads with <script type="module">: it picks the page
// from the path. The other modules are imported by relative URL (./api.js), so they resolve to
// /assets/web/ next to it; the server embeds each of them.

import { tokens } from "./api.js";
import { completeSignIn } from "./auth.js";
import { copy } from "./dom.js";
import { failure, markNavigation, renderAccount, signInPrompt } from "./shell.js";
import { agentsPage } from "./agents.js";
import { chatPage } from "./chat.js";
import { devicesPage } from "./devices.js";
import { invitePage } from "./invite.js";
import { sharesPage } from "./shares.js";

/** Shows the page for the current path (again after the sign-in callback, for the page it started from). */
async function route() {
  markNavigation();
  const path = location.pathname.replace(/\/+$/, "") || "/";
  try {
    if (document.body.dataset.page === "landing") {
      for (const button of document.querySelectorAll("button[data-copy]")) {
        const input = document.getElementById(button.dataset.copy);
        const status = document.querySelector(`[data-copy-status="${button.dataset.copy}"]`);
        button.addEventListener("click", () => copy(input, status));
      }
      return;
    }
    if (path === "/app/callback") return await completeSignIn(route);
    const invite = /^\/invite\/([^/]+)$/.exec(path);
    if (invite) return await invitePage(decodeURIComponent(invite[1]));
    if (!tokens()) {
      signInPrompt("Sign in", "Sign in to see your agents, the agents shared with you, your shares and your devices.");
      return;
    }
    const chat = /^\/app\/chat\/([^/]+)$/.exec(path);
    if (chat) return await chatPage(decodeURIComponent(chat[1]), new URLSearchParams(location.search).get("session"));
    if (path === "/app/shares") return await sharesPage();
    if (path === "/app/devices") return await devicesPage();
    return await agentsPage();
  } catch (error) {
    failure(error);
  } finally {
    renderAccount();
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", route);
else route();
