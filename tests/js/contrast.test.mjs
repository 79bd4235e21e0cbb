// The web app's palette meets WCAG AA in both themes (scripts/contrast.mjs computes the ratios
// from app.css; docs/web.md lists them), the syntax-highlighting colours on the code background too.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { STYLESHEET, contrast, palettes, report } from "../../scripts/contrast.mjs";
import { TOKEN_KINDS } from "../../Sources/GatewayWeb/Assets/highlight.js";

test("contrast ratios are computed as WCAG defines them", () => {
  assert.equal(contrast("#000000", "#ffffff").toFixed(2), "21.00");
  assert.equal(contrast("#ffffff", "#ffffff").toFixed(2), "1.00");
  assert.equal(contrast("#777777", "#ffffff").toFixed(2), "4.48");
});

test("both themes define the same colours", () => {
  const { light, dark } = palettes();
  assert.deepEqual(Object.keys(dark).sort(), Object.keys(light).sort());
});

test("every text pair is at least 4.5:1 and every border, ring and dot 3:1, light and dark", () => {
  const rows = report();
  assert.ok(rows.length >= 30);
  for (const row of rows) assert.ok(row.ok, `${row.theme}: --${row.foreground} on --${row.background} (${row.where}) is ${row.ratio.toFixed(2)}:1, needs ${row.minimum}:1`);
});

test("every syntax-highlighting colour is at least 4.5:1 on the code background, light and dark", () => {
  const { light, dark } = palettes();
  for (const [theme, palette] of Object.entries({ light, dark })) {
    // Each token kind of highlight.js has its colour in this palette (and app.css a rule using it).
    for (const kind of TOKEN_KINDS) assert.ok(palette[`tok-${kind}`], `${theme}: --tok-${kind} is missing`);
    const tokens = Object.keys(palette).filter((name) => name.startsWith("tok-"));
    assert.equal(tokens.length, TOKEN_KINDS.length, `${theme}: ${tokens}`);
    for (const name of tokens) {
      const ratio = contrast(palette[name], palette["code-bg"]);
      assert.ok(ratio >= 4.5, `${theme}: --${name} (${palette[name]}) on --code-bg (${palette["code-bg"]}) is ${ratio.toFixed(2)}:1, needs 4.5:1`);
    }
  }
  const css = readFileSync(STYLESHEET, "utf8");
  for (const kind of TOKEN_KINDS) assert.match(css, new RegExp(`\\.tok-${kind} \\{ color: var\\(--tok-${kind}\\);`));
});
