// The pure parts of the Devices page's API keys section (devices.js): the request a new key's
// form makes, what the list says about a key, the OpenAI base URL.
import assert from "node:assert/strict";
import { test } from "node:test";

// devices.js imports the app's other modules, which read the page at load time: the least of a
// browser for them (nothing here builds elements).
globalThis.window ??= { sessionStorage: new Map() };
globalThis.document ??= { querySelector: () => null };
globalThis.location ??= { origin: "https://gateway.example" };
const { API_KEY_EXPIRY, apiKeyFacts, apiKeyRequest, mcpServerURL, openAIBaseURL } = await import("../../Sources/GatewayWeb/Assets/devices.js");

test("the base URL is the gateway's origin and /v1", () => {
  assert.equal(openAIBaseURL("https://gateway.example"), "https://gateway.example/v1");
  assert.equal(openAIBaseURL("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/v1");
  assert.equal(mcpServerURL("https://gateway.example"), "https://gateway.example/mcp");
  assert.equal(mcpServerURL("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/mcp");
});

test("the expiry choices are Never, 30 days, 90 days and 1 year, within the gateway's 366 days", () => {
  assert.deepEqual(API_KEY_EXPIRY.map(([, label]) => label), ["Never", "30 days", "90 days", "1 year"]);
  assert.deepEqual(API_KEY_EXPIRY.map(([value]) => value), ["", String(30 * 86400), String(90 * 86400), String(365 * 86400)]);
  for (const [value] of API_KEY_EXPIRY.slice(1)) assert.ok(Number(value) >= 60 && Number(value) <= 366 * 86400, value);
});

test("a new key's request: the name trimmed, expires_in only when it expires", () => {
  assert.deepEqual(apiKeyRequest("  Open WebUI ", ""), { body: { name: "Open WebUI" } });
  assert.deepEqual(apiKeyRequest("laptop", "2592000"), { body: { name: "laptop", expires_in: 2592000 } });
  assert.deepEqual(apiKeyRequest("laptop", "31536000"), { body: { name: "laptop", expires_in: 31536000 } });
  assert.deepEqual(apiKeyRequest("x".repeat(100), ""), { body: { name: "x".repeat(100) } });
  // Characters as people count them: 100 emoji flags are 100 characters (400 UTF-16 units).
  assert.ok(apiKeyRequest("🇫🇷".repeat(100), "").body);
});

test("a name the gateway would refuse is refused with what to fix", () => {
  for (const name of ["", "   ", "\n\t", null, undefined]) assert.match(apiKeyRequest(name, "").error, /name/, String(name));
  assert.match(apiKeyRequest("x".repeat(101), "").error, /at most 100/);
  assert.match(apiKeyRequest("tab\there", "").error, /control characters/);
  assert.match(apiKeyRequest("bell\u0007", "").error, /control characters/);
  assert.match(apiKeyRequest("c1\u0085", "").error, /control characters/);
  for (const hidden of ["rtl\u202eoverride", "zero\u200bwidth", "tag\u{E0041}", "bom\ufeffx", "isolate\u2066x"]) {
    assert.match(apiKeyRequest(hidden, "").error, /invisible formatting/, JSON.stringify(hidden));
  }
  assert.ok(apiKeyRequest("👩\u200d💻 laptop", "").body, "a joiner is fine");
  assert.match(apiKeyRequest("laptop", "86400").error, /expires/, "only the listed choices");
  assert.match(apiKeyRequest("laptop", "abc").error, /expires/);
});

test("the facts of a key: its prefix, never a secret, and Never / Never used when absent", () => {
  const key = { id: "k1", name: "Open WebUI", prefix: "gwk_abc123", created_at: "2026-01-02T03:04:05Z" };
  assert.deepEqual(apiKeyFacts(key), [
    ["Starts with", "gwk_abc123…"],
    ["Created", { time: "2026-01-02T03:04:05Z" }],
    ["Expires", "Never"],
    ["Last used", "Never used"],
  ]);
  const used = { ...key, expires_at: "2027-01-02T03:04:05Z", last_used_at: "2026-01-03T00:00:00Z" };
  assert.deepEqual(apiKeyFacts(used).slice(2), [
    ["Expires", { time: "2027-01-02T03:04:05Z", relative: true }],
    ["Last used", { time: "2026-01-03T00:00:00Z" }],
  ]);
});
