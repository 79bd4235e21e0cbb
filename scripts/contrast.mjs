#!/usr/bin/env node
// The web app's palette against WCAG 2.x contrast: reads the colour variables of the light
// and dark blocks of Sources/GatewayWeb/Assets/app.css, computes the contrast ratio of every
// pair the stylesheet puts together, and prints them (docs/web.md lists the result). Text needs
// 4.5:1 (AA), borders, focus rings and status dots 3:1 (non-text contrast). Exits 1 when a pair
// falls short. tests/js/contrast.test.mjs runs the same check.
//
//   node scripts/contrast.mjs            # a Markdown table
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const STYLESHEET = fileURLToPath(new URL("../Sources/GatewayWeb/Assets/app.css", import.meta.url));

/** The pairs the stylesheet uses: [foreground, background, minimum ratio, where]. */
export const PAIRS = [
  ["fg", "bg", 4.5, "body text"],
  ["muted", "bg", 4.5, "secondary text (.muted, times), placeholders"],
  ["accent", "bg", 4.5, "links"],
  ["danger", "bg", 4.5, "error text, offline state"],
  ["ok", "bg", 4.5, "ready state"],
  ["on-accent", "accent", 4.5, "buttons, skip link"],
  ["on-danger", "danger", 4.5, "demo banner, Revoke buttons"],
  ["fg", "bubble", 4.5, "agent replies"],
  ["muted", "bubble", 4.5, "sender name in a reply"],
  ["accent", "bubble", 4.5, "links in replies"],
  ["fg", "bubble-user", 4.5, "own messages, current conversation"],
  ["muted", "bubble-user", 4.5, "sender name, conversation time"],
  ["fg", "code-bg", 4.5, "code"],
  ["fg", "code-head", 4.5, "inline code, code language label, Copy"],
  ["danger", "bubble", 4.5, "interrupted and failed notes in a reply"],
  ["tok-added", "code-bg", 4.5, "highlighted code: added"],
  ["tok-comment", "code-bg", 4.5, "highlighted code: comment"],
  ["tok-function", "code-bg", 4.5, "highlighted code: function"],
  ["tok-keyword", "code-bg", 4.5, "highlighted code: keyword"],
  ["tok-meta", "code-bg", 4.5, "highlighted code: meta"],
  ["tok-number", "code-bg", 4.5, "highlighted code: number"],
  ["tok-removed", "code-bg", 4.5, "highlighted code: removed"],
  ["tok-string", "code-bg", 4.5, "highlighted code: string"],
  ["tok-type", "code-bg", 4.5, "highlighted code: type"],
  ["control", "bg", 3, "input and button borders (non-text)"],
  ["control", "bubble", 3, "table and quote rules in replies (non-text)"],
  ["accent", "bg", 3, "focus ring (non-text)"],
  ["accent", "code-bg", 3, "focus ring inside a code block (non-text)"],
  ["ok", "bg", 3, "online dot (non-text)"],
  ["danger", "bg", 3, "offline dot (non-text)"],
];

/** The `--name: #hex` variables of the light (first :root) and dark (media query) blocks. */
export function palettes(css = readFileSync(STYLESHEET, "utf8")) {
  const variables = (block) => Object.fromEntries([...block.matchAll(/--([a-z-]+):\s*(#[0-9a-fA-F]{6})\b/g)].map((match) => [match[1], match[2]]));
  const light = /:root\s*\{([^}]*)\}/.exec(css);
  const dark = /@media\s*\(prefers-color-scheme:\s*dark\)\s*\{\s*:root\s*\{([^}]*)\}/.exec(css);
  if (!light || !dark) throw new Error("app.css: the light :root block or the dark one is missing");
  return { light: variables(light[1]), dark: variables(dark[1]) };
}

function luminance(hex) {
  const channel = (offset) => {
    const value = parseInt(hex.slice(offset, offset + 2), 16) / 255;
    return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

export function contrast(foreground, background) {
  const [high, low] = [luminance(foreground), luminance(background)].sort((a, b) => b - a);
  return (high + 0.05) / (low + 0.05);
}

/** Every pair in both themes: {theme, foreground, background, colours, ratio, minimum, ok}. */
export function report(css) {
  const rows = [];
  for (const [theme, palette] of Object.entries(palettes(css))) {
    for (const [foreground, background, minimum, where] of PAIRS) {
      if (!palette[foreground] || !palette[background]) throw new Error(`app.css (${theme}): --${foreground} or --${background} is missing`);
      const ratio = contrast(palette[foreground], palette[background]);
      rows.push({ theme, foreground, background, where, colours: `${palette[foreground]} on ${palette[background]}`, ratio, minimum, ok: ratio >= minimum });
    }
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = report();
  console.log("| theme | pair | used for | colours | ratio | needs |");
  console.log("|---|---|---|---|---|---|");
  for (const row of rows) {
    console.log(`| ${row.theme} | --${row.foreground} on --${row.background} | ${row.where} | ${row.colours} | ${row.ratio.toFixed(2)}:1 | ${row.minimum}:1${row.ok ? "" : " **FAILS**"} |`);
  }
  process.exit(rows.every((row) => row.ok) ? 0 : 1);
}
