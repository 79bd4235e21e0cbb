// The web app's palette meets WCAG AA in both themes (scripts/contrast.mjs computes the ratios
// from app.css; docs/web.md lists them).
import assert from "node:assert/strict";
import { test } from "node:test";
import { contrast, palettes, report } from "../../scripts/contrast.mjs";

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
