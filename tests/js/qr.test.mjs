// Unit tests of the web app's QR encoder (Sources/GatewayWeb/Assets/qr.js): capacities, the
// error correction, the function patterns, format and version information, and a decode of every
// version and every mask by an independent decoder, zbarimg (Debian's zbar-tools, which
// scripts/test.sh installs; the test fails without it, like every test missing what it needs).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FakeDocument } from "./fake-dom.mjs";
import {
  alignmentPositions, byteCapacity, dataCapacity, formatBits, penalty, qrCode, qrSVG, reedSolomonDivisor, reedSolomonRemainder, versionBits,
} from "../../Sources/GatewayWeb/Assets/qr.js";

// ISO/IEC 18004 table 7, level M: data codewords and byte-mode capacity of versions 1-40.
const DATA_CODEWORDS_M = [16, 28, 44, 64, 86, 108, 124, 154, 182, 216, 254, 290, 334, 365, 415, 453, 507, 563, 627, 669, 714, 782, 860, 914, 1000, 1062, 1128, 1193, 1267, 1373, 1455, 1541, 1631, 1725, 1812, 1914, 1992, 2102, 2216, 2334];
const BYTES_M = [14, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331, 362, 412, 450, 504, 560, 624, 666, 711, 779, 857, 911, 997, 1059, 1125, 1190, 1264, 1370, 1452, 1538, 1628, 1722, 1809, 1911, 1989, 2099, 2213, 2331];

test("capacities at level M are the standard's", () => {
  for (let version = 1; version <= 40; version++) {
    assert.equal(dataCapacity(version), DATA_CODEWORDS_M[version - 1], `version ${version}`);
    assert.equal(byteCapacity(version), BYTES_M[version - 1], `version ${version}`);
  }
});

test("the smallest version that holds the text is chosen", () => {
  for (const [length, version] of [[1, 1], [14, 1], [15, 2], [62, 4], [63, 5], [213, 10], [214, 11], [2331, 40]]) {
    assert.equal(qrCode("a".repeat(length)).version, version, `${length} bytes`);
  }
  assert.throws(() => qrCode("a".repeat(2332)), RangeError);
  // UTF-8: "é" takes two bytes.
  assert.equal(qrCode("é".repeat(7)).version, 1);
  assert.equal(qrCode("é".repeat(8)).version, 2);
});

test("format and version information match the standard's tables", () => {
  // ISO/IEC 18004 table C.1, level M (indicator 00), masks 0-7.
  const expected = [0x5412, 0x5125, 0x5e7c, 0x5b4b, 0x45f9, 0x40ce, 0x4f97, 0x4aa0];
  expected.forEach((bits, mask) => assert.equal(formatBits(mask), bits, `mask ${mask}`));
  // Table D.1: versions 7, 8, 10 and 40.
  assert.equal(versionBits(7), 0x07c94);
  assert.equal(versionBits(8), 0x085bc);
  assert.equal(versionBits(10), 0x0a4d3);
  assert.equal(versionBits(40), 0x28c69);
});

test("alignment pattern positions match the standard's table", () => {
  assert.deepEqual(alignmentPositions(1), []);
  assert.deepEqual(alignmentPositions(2), [6, 18]);
  assert.deepEqual(alignmentPositions(7), [6, 22, 38]);
  assert.deepEqual(alignmentPositions(10), [6, 28, 50]);
  assert.deepEqual(alignmentPositions(32), [6, 34, 60, 86, 112, 138]);
  assert.deepEqual(alignmentPositions(40), [6, 30, 58, 86, 114, 142, 170]);
});

test("Reed-Solomon codewords make a codeword divisible by the generator", () => {
  // Multiplication in GF(256) with x^8 + x^4 + x^3 + x^2 + 1.
  const multiply = (x, y) => {
    let z = 0;
    for (let bit = 7; bit >= 0; bit--) {
      z = (z << 1) ^ ((z >>> 7) * 0x11d);
      z ^= ((y >>> bit) & 1) * x;
    }
    return z;
  };
  for (const degree of [7, 10, 16, 26, 30]) {
    const data = Array.from({ length: 40 }, (_, index) => (index * 37 + degree) & 0xff);
    const codeword = data.concat(reedSolomonRemainder(data, reedSolomonDivisor(degree)));
    // Every root alpha^0 .. alpha^(degree-1) of the generator is a root of the codeword.
    let root = 1;
    for (let index = 0; index < degree; index++) {
      const value = codeword.reduce((sum, coefficient) => multiply(sum, root) ^ coefficient, 0);
      assert.equal(value, 0, `degree ${degree}, root ${index}`);
      root = multiply(root, 2);
    }
  }
  // The generator of degree 10 (log form 0, 251, 67, 46, 61, 118, 70, 64, 94, 32, 45 in the standard).
  assert.deepEqual(reedSolomonDivisor(10), [216, 194, 159, 111, 199, 94, 95, 113, 157, 193]);
});

/** The modules of the format information around the top-left finder, read back. */
function readFormat(modules) {
  const size = modules.length;
  const bit = (x, y) => (modules[y][x] ? 1 : 0);
  let first = 0;
  let second = 0;
  const firstPositions = [[8, 0], [8, 1], [8, 2], [8, 3], [8, 4], [8, 5], [8, 7], [8, 8], [7, 8], [5, 8], [4, 8], [3, 8], [2, 8], [1, 8], [0, 8]];
  firstPositions.forEach(([x, y], index) => (first |= bit(x, y) << index));
  for (let index = 0; index < 8; index++) second |= bit(size - 1 - index, 8) << index;
  for (let index = 8; index < 15; index++) second |= bit(8, size - 15 + index) << index;
  return [first, second];
}

test("the symbol has its finder, timing and format patterns where the standard puts them", () => {
  for (const version of [1, 2, 6, 7, 10, 25, 40]) {
    const { size, modules, mask } = qrCode("https://gw.ex/", { version });
    assert.equal(size, 17 + 4 * version);
    // Finders: 7x7 with a dark ring, a light ring and a dark 3x3 centre, at three corners.
    for (const [left, top] of [[0, 0], [size - 7, 0], [0, size - 7]]) {
      for (let y = 0; y < 7; y++) {
        for (let x = 0; x < 7; x++) {
          const ring = Math.max(Math.abs(x - 3), Math.abs(y - 3));
          assert.equal(modules[top + y][left + x], ring !== 2, `version ${version} finder at ${left},${top}`);
        }
      }
    }
    for (let index = 8; index < size - 8; index++) {
      assert.equal(modules[6][index], index % 2 === 0, "horizontal timing");
      assert.equal(modules[index][6], index % 2 === 0, "vertical timing");
    }
    assert.equal(modules[size - 8][8], true, "the dark module");
    assert.deepEqual(readFormat(modules), [formatBits(mask), formatBits(mask)]);
    if (version >= 7) {
      let bottomLeft = 0;
      let topRight = 0;
      for (let index = 0; index < 18; index++) {
        const a = size - 11 + (index % 3);
        const b = Math.floor(index / 3);
        bottomLeft |= (modules[a][b] ? 1 : 0) << index;
        topRight |= (modules[b][a] ? 1 : 0) << index;
      }
      assert.equal(bottomLeft, versionBits(version));
      assert.equal(topRight, versionBits(version));
    }
  }
});

test("the mask with the lowest penalty is chosen", () => {
  const text = "https://gateway.example/invite/Zm9vYmFyYmF6cXV4";
  const chosen = qrCode(text);
  for (let mask = 0; mask < 8; mask++) assert.ok(penalty(qrCode(text, { mask }).modules) >= penalty(chosen.modules), `mask ${mask}`);
  // Rule 4 alone: an all-dark symbol is as far from balanced as can be.
  assert.equal(penalty([[true, true], [true, true]]) >= 90, true);
});

test("the SVG is built with createElementNS, dark on white with a quiet zone, and labelled", () => {
  const svg = qrSVG("https://gateway.example/invite/x", "QR code of the invite link", new FakeDocument());
  const { size } = qrCode("https://gateway.example/invite/x");
  assert.equal(svg.namespaceURI, "http://www.w3.org/2000/svg");
  assert.equal(svg.getAttribute("viewBox"), `0 0 ${size + 8} ${size + 8}`);
  assert.equal(svg.getAttribute("role"), "img");
  assert.equal(svg.getAttribute("aria-label"), "QR code of the invite link");
  const [background, path] = svg.childNodes;
  assert.equal(background.getAttribute("fill"), "#ffffff");
  assert.equal(path.getAttribute("fill"), "#000000");
  const dark = qrCode("https://gateway.example/invite/x").modules.flat().filter(Boolean).length;
  assert.equal(path.getAttribute("d").match(/M/g).length, dark);
});

// MARK: An independent decoder

function zbarimg() {
  try {
    execFileSync("zbarimg", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A symbol as a plain PBM image, 4 pixels a module, with the quiet zone. */
function pbm({ size, modules }) {
  const scale = 4;
  const side = (size + 8) * scale;
  const rows = [];
  for (let y = 0; y < side; y++) {
    const row = [];
    for (let x = 0; x < side; x++) {
      const mx = Math.floor(x / scale) - 4;
      const my = Math.floor(y / scale) - 4;
      row.push(mx >= 0 && my >= 0 && mx < size && my < size && modules[my][mx] ? 1 : 0);
    }
    rows.push(row.join(""));
  }
  return `P1\n${side} ${side}\n${rows.join("\n")}\n`;
}

test("zbarimg decodes every version at full capacity and every mask", () => {
  assert.ok(zbarimg(), "zbarimg is not installed (apt-get install zbar-tools)");
  const directory = mkdtempSync(join(tmpdir(), "qr-test-"));
  try {
    const decode = (symbol) => {
      const file = join(directory, "symbol.pbm");
      writeFileSync(file, pbm(symbol));
      // -Sbinary: the bytes as they are, without zbar guessing a character set.
      return execFileSync("zbarimg", ["--quiet", "--raw", "-Sbinary", file], { stdio: ["ignore", "pipe", "ignore"] }).toString("utf8");
    };
    const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
    for (let version = 1; version <= 40; version++) {
      let text = "https://gateway.example/invite/";
      for (let index = 0; text.length < BYTES_M[version - 1]; index++) text += alphabet[(index * 7 + version) % alphabet.length];
      text = text.slice(0, BYTES_M[version - 1]);
      const symbol = qrCode(text);
      assert.equal(symbol.version, version);
      assert.equal(decode(symbol), text, `version ${version}`);
    }
    for (let mask = 0; mask < 8; mask++) {
      const text = `https://gateway.example/invite/mask-${mask}`;
      assert.equal(decode(qrCode(text, { mask })), text, `mask ${mask}`);
    }
    const unicode = "https://gateway.example/invite/ünïcødé-✓";
    assert.equal(decode(qrCode(unicode)), unicode);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
