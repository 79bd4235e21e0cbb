// Devices (/app/devices): the caller's devices, online status live from the user stream; and
// what AI clients need (docs/clients.md): the MCP server's URL, the OpenAI-compatible base URL,
// the working personal API keys with Revoke (after a confirmation), and a form that makes a key
// and shows it once.

import { APIError, api } from "./api.js";
import { confirmInline, copyRow, fromNow, h, notice, show, statusBadge, setStatus, when } from "./dom.js";
import { failure, userStream } from "./shell.js";

/** The expiry choices of a new key: [expires_in in seconds, or "" for none; label]. */
export const API_KEY_EXPIRY = [
  ["", "Never"],
  ["2592000", "30 days"],
  ["7776000", "90 days"],
  ["31536000", "1 year"],
];

/** What an OpenAI client takes as its base URL, for a gateway at `origin`. */
export function openAIBaseURL(origin) {
  return `${String(origin).replace(/\/+$/, "")}/v1`;
}

/** The remote MCP server's URL for a gateway origin. */
export function mcpServerURL(origin) {
  return `${String(origin).replace(/\/+$/, "")}/mcp`;
}

/** Characters as people count them (the gateway counts a name's grapheme clusters). */
function characterCount(text) {
  if (typeof Intl !== "undefined" && Intl.Segmenter) return [...new Intl.Segmenter().segment(text)].length;
  return [...text].length;
}

/** The body of `POST /v1/api-keys` for what the form holds, or `{error}` saying what to fix
 *  (the gateway's own rules: a name of 1 to 100 characters without control or invisible formatting characters). */
export function apiKeyRequest(name, expiry) {
  const trimmed = String(name ?? "").trim();
  if (!trimmed) return { error: "Give the key a name, such as the client that will use it." };
  if (characterCount(trimmed) > 100) return { error: "The name is too long: at most 100 characters." };
  if (/[\u0000-\u001f\u007f-\u009f]/.test(trimmed)) return { error: "The name cannot contain control characters." };
  // Invisible formatting characters (Unicode Cf) that hide or reorder text; joiners (ZWNJ, ZWJ) are fine.
  if (/(?![\u200c\u200d])\p{Cf}/u.test(trimmed)) return { error: "The name cannot contain invisible formatting characters." };
  const body = { name: trimmed };
  if (expiry) {
    const seconds = Number(expiry);
    if (!API_KEY_EXPIRY.some(([value]) => value === String(expiry)) || !Number.isInteger(seconds)) return { error: "Choose when the key expires." };
    body.expires_in = seconds;
  }
  return { body };
}

/** What the list says about a key (APIKeyView), never its secret: [term, text or {time}] pairs. */
export function apiKeyFacts(key) {
  return [
    ["Starts with", `${key.prefix}…`],
    ["Created", { time: key.created_at }],
    ["Expires", key.expires_at ? { time: key.expires_at, relative: true } : "Never"],
    ["Last used", key.last_used_at ? { time: key.last_used_at } : "Never used"],
  ];
}

function factValue(value) {
  if (typeof value === "string") return value;
  return value.relative ? [when(value.time), ` (${fromNow(value.time)})`] : when(value.time);
}

/** The API keys section: built once per visit, so the devices list can reload around it. */
function apiKeysSection() {
  const message = h("div", { id: "api-key-message", role: "status" });
  const created = h("div", { id: "api-key-created" });
  const list = h("div", { id: "api-key-list" });
  const listHeading = h("h3", { id: "api-keys-list-heading", tabindex: "-1" }, "Your keys");
  const name = h("input", {
    id: "api-key-name", type: "text", required: true, maxlength: 100, autocomplete: "off", spellcheck: "false", "aria-describedby": "api-key-name-hint",
  });
  const expiry = h("select", { id: "api-key-expiry" }, API_KEY_EXPIRY.map(([value, text]) => h("option", { value }, text)));
  const create = h("button", { type: "submit", id: "create-api-key" }, "Create key");
  let shown = null; // the id of the key whose secret is on the page

  const say = (...nodes) => message.replaceChildren(...nodes);
  const problem = (error) => {
    if (error instanceof APIError && error.status === 401) return failure(error);
    say(notice(error.message, "danger"));
  };
  const hideKey = () => {
    shown = null;
    created.replaceChildren();
  };

  const keyCard = (key) => {
    const actions = h("div", { class: "actions" });
    const revoke = h("button", {
      type: "button", class: "danger revoke-api-key", "aria-label": `Revoke ${key.name}`, onclick: () => confirmRevoke(),
    }, "Revoke");
    const confirmRevoke = () =>
      confirmInline(actions, revoke, {
        id: `revoke-question-${key.id}`,
        name: "revoke-api-key",
        question: `Revoke “${key.name}”? Clients that use it stop working at once. This cannot be undone.`,
        yes: "Yes, revoke",
        onConfirm: async () => {
          try {
            await api("DELETE", `/v1/api-keys/${encodeURIComponent(key.id)}`);
            say(notice(`Key “${key.name}” revoked.`));
          } catch (error) {
            if (error instanceof APIError && error.status === 404) say(notice(`Key “${key.name}” was already revoked.`));
            else {
              problem(error);
              return false;
            }
          }
          if (shown === key.id) hideKey();
          await refresh();
          listHeading.focus(); // the card and its buttons are gone
        },
      });
    actions.append(revoke);
    return h(
      "li",
      { class: "card api-key", "data-key-id": key.id },
      h("h4", {}, key.name),
      h("dl", { class: "facts" }, apiKeyFacts(key).flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, factValue(value))])),
      actions,
    );
  };

  const render = (keys) =>
    list.replaceChildren(
      keys.length
        ? h("ul", { class: "cards", "aria-labelledby": "api-keys-list-heading" }, keys.map(keyCard))
        : h("p", { class: "muted" }, "No keys yet."),
    );
  const refresh = async () => {
    try {
      render(await api("GET", "/v1/api-keys"));
    } catch (error) {
      problem(error);
    }
  };

  const form = h(
    "form",
    { id: "api-key-form", class: "api-key-form", "aria-labelledby": "api-key-form-heading" },
    h("h3", { id: "api-key-form-heading" }, "Create a key"),
    h("label", { for: "api-key-name" }, "Name"),
    name,
    h("p", { class: "muted", id: "api-key-name-hint" }, "1 to 100 characters, only you see it: the client or the machine that will use it, such as “Open WebUI”."),
    h("label", { for: "api-key-expiry" }, "Expires"),
    expiry,
    h("div", { class: "actions" }, create),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const request = apiKeyRequest(name.value, expiry.value);
    if (request.error) {
      say(notice(request.error, "danger"));
      name.setAttribute("aria-invalid", "true");
      name.focus();
      return;
    }
    name.removeAttribute("aria-invalid");
    create.disabled = true;
    try {
      const made = await api("POST", "/v1/api-keys", request.body);
      say();
      shown = made.api_key.id;
      created.replaceChildren(
        h(
          "div",
          { class: "notice new-api-key" },
          h("p", {}, h("strong", {}, `Your new key “${made.api_key.name}”`)),
          h("p", { id: "api-key-secret-note" }, "Shown only now: copy it into your AI client. The gateway keeps only a hash of it; if you lose it, revoke it and create another."),
          copyRow("api-key-secret", `API key ${made.api_key.name}`, made.key),
          h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", id: "hide-api-key", onclick: () => { hideKey(); name.focus(); } }, "Done, hide the key")),
        ),
      );
      const secret = created.querySelector("#api-key-secret");
      secret.setAttribute("aria-describedby", "api-key-secret-note");
      secret.setAttribute("autocomplete", "off");
      secret.setAttribute("spellcheck", "false");
      name.value = "";
      secret.focus();
      secret.select();
      await refresh();
    } catch (error) {
      problem(error);
    } finally {
      create.disabled = false;
    }
  });

  const baseURL = openAIBaseURL(location.origin);
  const section = h(
    "section",
    { id: "api-keys", "aria-labelledby": "api-keys-heading" },
    h("h2", { id: "api-keys-heading" }, "API keys for AI clients"),
    h("p", {}, "MCP clients — Claude (Desktop and claude.ai), ChatGPT, Cursor, VS Code — can use your agents and those shared with you as tools. Add this URL as a remote MCP server; the client signs you in by itself:"),
    copyRow("mcp-server-url", "MCP server URL", mcpServerURL(location.origin)),
    h("p", {}, "AI clients that speak the OpenAI chat-completions API — Open WebUI, LibreChat, Continue, the OpenAI SDKs — can use them too, with a personal API key. Set the client's base URL to:"),
    copyRow("openai-base-url", "OpenAI base URL", baseURL),
    h("p", { class: "muted" }, "Each agent is a model named by its id. A key acts as you, but only for listing models, chat completions and the MCP server (for clients that take a static key). Setup for each client: docs/clients.md in the gateway's source repository."),
    message,
    form,
    created,
    listHeading,
    list,
  );
  return { section, render, problem };
}

function deviceList(devices, badges) {
  badges.clear();
  return devices.length
    ? h(
        "ul",
        { class: "cards" },
        devices.map((device) => {
          const badge = statusBadge(device.online, "Online", "Offline");
          badges.set(device.id, badge);
          return h(
            "li",
            { class: "card device", "data-device-id": device.id },
            h("h3", {}, device.name),
            h("p", { class: "muted" }, `${device.platform} · id ${device.id}`),
            badge,
          );
        }),
      )
    : h("p", { class: "muted" }, "No devices yet. Sign in from the desktop app or gatewayctl with this gateway's URL.");
}

export async function devicesPage() {
  const view = devicesPage.view;
  if (view && view.devices.isConnected) {
    // A reload from the user stream: only the devices, so the key form, a key shown once and
    // the focus stay as they are.
    view.devices.replaceChildren(deviceList(await api("GET", "/v1/devices"), view.badges));
    return;
  }
  const [devices, keys] = await Promise.all([
    api("GET", "/v1/devices"),
    api("GET", "/v1/api-keys").catch((error) => (error instanceof APIError && error.status === 401 ? Promise.reject(error) : error)),
  ]);
  const badges = new Map();
  const container = h("div", { id: "device-list" }, deviceList(devices, badges));
  const section = apiKeysSection();
  if (keys instanceof Error) section.problem(keys);
  else section.render(keys);
  show("Devices", h("h2", { id: "devices-heading" }, "Your devices"), container, section.section);
  devicesPage.view = { devices: container, badges };
  if (!devicesPage.stream) {
    devicesPage.stream = userStream(
      (type, data) => {
        const current = devicesPage.view;
        if (type === "device.status") {
          if (current?.badges.has(data.device_id)) setStatus(current.badges.get(data.device_id), data.online, "Online", "Offline");
          else devicesPage().catch(failure);
        }
      },
      () => devicesPage().catch(failure),
    );
  }
}
