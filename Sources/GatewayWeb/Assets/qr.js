// QR codes for invite links, drawn by the app itself (no external service sees the link).
//
// `qrCode(text)` encodes text (UTF-8) in byte mode with error correction level M, in the smallest
// version from 1 to 40 that holds it, and returns the matrix of modules; `qrSVG(text)` draws
// it as an SVG element (created with createElementNS: no markup is parsed, and the CSP needs no
// image source). Follows ISO/IEC 18004: Reed-Solomon error correction over GF(256) with blocks
// interleaved, the eight data masks scored with the four penalty rules, BCH-coded format
// information and, from version 7, version information.

// Level M, by version (index 0 unused): error correction codewords per block, and blocks.
const ECC_PER_BLOCK = [
  -1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
  26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28,
];
const BLOCKS = [
  -1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
  17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49,
];
const FORMAT_LEVEL_M = 0b00; // the two error-correction bits of the format information

export const MIN_VERSION = 1;
export const MAX_VERSION = 40;

/** Modules left for data and error correction in a version (all but the function patterns). */
function rawDataModules(version) {
  let count = (16 * version + 128) * version + 64;
  if (version >= 2) {
    const align = Math.floor(version / 7) + 2;
    count -= (25 * align - 10) * align - 55;
    if (version >= 7) count -= 36;
  }
  return count;
}

/** Data codewords a version holds at level M. */
export function dataCapacity(version) {
  return Math.floor(rawDataModules(version) / 8) - ECC_PER_BLOCK[version] * BLOCKS[version];
}

/** Bytes a version holds in byte mode: 4 bits of mode, 8 or 16 bits of length. */
export function byteCapacity(version) {
  return Math.floor((dataCapacity(version) * 8 - 4 - (version <= 9 ? 8 : 16)) / 8);
}

// MARK: Reed-Solomon over GF(2^8) with the polynomial x^8 + x^4 + x^3 + x^2 + 1

function multiply(x, y) {
  let z = 0;
  for (let bit = 7; bit >= 0; bit--) {
    z = (z << 1) ^ ((z >>> 7) * 0x11d);
    z ^= ((y >>> bit) & 1) * x;
  }
  return z;
}

/** The generator polynomial of a degree (its coefficients, highest first, leading 1 dropped). */
export function reedSolomonDivisor(degree) {
  const result = new Array(degree).fill(0);
  result[degree - 1] = 1;
  let root = 1;
  for (let step = 0; step < degree; step++) {
    for (let index = 0; index < result.length; index++) {
      result[index] = multiply(result[index], root);
      if (index + 1 < result.length) result[index] ^= result[index + 1];
    }
    root = multiply(root, 0x02);
  }
  return result;
}

/** The error correction codewords of some data. */
export function reedSolomonRemainder(data, divisor) {
  const result = divisor.map(() => 0);
  for (const byte of data) {
    const factor = byte ^ result.shift();
    result.push(0);
    divisor.forEach((coefficient, index) => (result[index] ^= multiply(coefficient, factor)));
  }
  return result;
}

// MARK: Codewords

/** The data codewords: mode, length, bytes, terminator and padding. */
function dataCodewords(bytes, version) {
  const bits = [];
  const put = (value, length) => {
    for (let bit = length - 1; bit >= 0; bit--) bits.push((value >>> bit) & 1);
  };
  put(0b0100, 4); // byte mode
  put(bytes.length, version <= 9 ? 8 : 16);
  for (const byte of bytes) put(byte, 8);
  const capacity = dataCapacity(version) * 8;
  put(0, Math.min(4, capacity - bits.length));
  put(0, (8 - (bits.length % 8)) % 8);
  for (let pad = 0xec; bits.length < capacity; pad ^= 0xec ^ 0x11) put(pad, 8);
  const codewords = [];
  for (let index = 0; index < bits.length; index += 8) codewords.push(bits.slice(index, index + 8).reduce((byte, bit) => (byte << 1) | bit, 0));
  return codewords;
}

/** Data split into blocks, each with its error correction, interleaved as the symbol stores them. */
function interleave(data, version) {
  const blockCount = BLOCKS[version];
  const eccLength = ECC_PER_BLOCK[version];
  const raw = Math.floor(rawDataModules(version) / 8);
  const shortBlocks = blockCount - (raw % blockCount);
  const shortLength = Math.floor(raw / blockCount);
  const divisor = reedSolomonDivisor(eccLength);
  const blocks = [];
  for (let block = 0, offset = 0; block < blockCount; block++) {
    const length = shortLength - eccLength + (block < shortBlocks ? 0 : 1);
    const piece = data.slice(offset, offset + length);
    offset += length;
    const ecc = reedSolomonRemainder(piece, divisor);
    // Short blocks get a placeholder so that every block has the same length while interleaving.
    if (block < shortBlocks) piece.push(null);
    blocks.push(piece.concat(ecc));
  }
  const result = [];
  for (let index = 0; index < blocks[0].length; index++) {
    for (const block of blocks) if (block[index] !== null) result.push(block[index]);
  }
  return result;
}

// MARK: The symbol

const MASKS = [
  (x, y) => (x + y) % 2 === 0,
  (x, y) => y % 2 === 0,
  (x) => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
  (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
  (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
  (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

/** The 15 bits of format information: level M and a mask, BCH(15,5)-coded and masked. */
export function formatBits(mask) {
  const data = (FORMAT_LEVEL_M << 3) | mask;
  let remainder = data;
  for (let step = 0; step < 10; step++) remainder = (remainder << 1) ^ ((remainder >>> 9) * 0x537);
  return ((data << 10) | remainder) ^ 0x5412;
}

/** The 18 bits of version information (versions 7 and up), BCH(18,6)-coded. */
export function versionBits(version) {
  let remainder = version;
  for (let step = 0; step < 12; step++) remainder = (remainder << 1) ^ ((remainder >>> 11) * 0x1f25);
  return (version << 12) | remainder;
}

/** The centres of the alignment patterns along each axis. */
export function alignmentPositions(version) {
  if (version === 1) return [];
  const count = Math.floor(version / 7) + 2;
  const size = version * 4 + 17;
  const step = Math.floor((version * 8 + count * 3 + 5) / (count * 4 - 4)) * 2;
  const positions = [6];
  for (let position = size - 7; positions.length < count; position -= step) positions.splice(1, 0, position);
  return positions;
}

class Matrix {
  constructor(version) {
    this.version = version;
    this.size = version * 4 + 17;
    this.modules = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
    this.reserved = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
    this.drawFunctionPatterns();
  }

  set(x, y, dark) {
    this.modules[y][x] = dark;
    this.reserved[y][x] = true;
  }

  drawFunctionPatterns() {
    const { size } = this;
    for (let index = 0; index < size; index++) {
      this.set(6, index, index % 2 === 0); // timing patterns
      this.set(index, 6, index % 2 === 0);
    }
    // Finder patterns with their separators.
    for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]]) {
      for (let dy = -4; dy <= 4; dy++) {
        for (let dx = -4; dx <= 4; dx++) {
          const x = cx + dx;
          const y = cy + dy;
          const distance = Math.max(Math.abs(dx), Math.abs(dy));
          if (x >= 0 && x < size && y >= 0 && y < size) this.set(x, y, distance !== 2 && distance !== 4);
        }
      }
    }
    const positions = alignmentPositions(this.version);
    const last = positions.length - 1;
    positions.forEach((cx, i) =>
      positions.forEach((cy, j) => {
        if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) return; // under a finder
        for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) this.set(cx + dx, cy + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
      }),
    );
    this.drawFormat(0); // reserves the format areas; drawn again with the chosen mask
    if (this.version >= 7) {
      const bits = versionBits(this.version);
      for (let index = 0; index < 18; index++) {
        const dark = ((bits >>> index) & 1) === 1;
        const a = size - 11 + (index % 3);
        const b = Math.floor(index / 3);
        this.set(a, b, dark);
        this.set(b, a, dark);
      }
    }
  }

  drawFormat(mask) {
    const { size } = this;
    const bits = formatBits(mask);
    const bit = (index) => ((bits >>> index) & 1) === 1;
    // Around the top-left finder.
    for (let index = 0; index <= 5; index++) this.set(8, index, bit(index));
    this.set(8, 7, bit(6));
    this.set(8, 8, bit(7));
    this.set(7, 8, bit(8));
    for (let index = 9; index < 15; index++) this.set(14 - index, 8, bit(index));
    // The copy split between the other two finders.
    for (let index = 0; index < 8; index++) this.set(size - 1 - index, 8, bit(index));
    for (let index = 8; index < 15; index++) this.set(8, size - 15 + index, bit(index));
    this.set(8, size - 8, true); // the dark module
  }

  /** Codewords placed in the two-column zigzag from the bottom right, skipping function modules. */
  drawCodewords(codewords) {
    const { size } = this;
    let bit = 0;
    for (let right = size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5; // the vertical timing pattern
      for (let step = 0; step < size; step++) {
        for (let column = 0; column < 2; column++) {
          const x = right - column;
          const upward = ((right + 1) & 2) === 0;
          const y = upward ? size - 1 - step : step;
          if (this.reserved[y][x] || bit >= codewords.length * 8) continue;
          this.modules[y][x] = ((codewords[bit >>> 3] >>> (7 - (bit & 7))) & 1) === 1;
          bit++;
        }
      }
    }
  }

  applyMask(mask) {
    for (let y = 0; y < this.size; y++) {
      for (let x = 0; x < this.size; x++) if (!this.reserved[y][x] && MASKS[mask](x, y)) this.modules[y][x] = !this.modules[y][x];
    }
  }
}

/** The penalty score of a symbol (ISO/IEC 18004 section 7.8.3): lower is easier to read. */
export function penalty(modules) {
  const size = modules.length;
  let score = 0;
  const lines = [];
  for (let index = 0; index < size; index++) {
    lines.push(modules[index]);
    lines.push(modules.map((row) => row[index]));
  }
  for (const line of lines) {
    // Rule 1: five or more modules of one colour in a row: 3, plus 1 for each beyond five.
    let run = 1;
    for (let index = 1; index <= size; index++) {
      if (index < size && line[index] === line[index - 1]) run++;
      else {
        if (run >= 5) score += 3 + (run - 5);
        run = 1;
      }
    }
    // Rule 3: 1:1:3:1:1 (dark:light:dark:light:dark) with four light modules on either side: 40.
    // Beyond the edge counts as light: the quiet zone is.
    const at = (index) => index >= 0 && index < size && line[index];
    for (let index = 0; index < size; index++) {
      const core = at(index) && !at(index + 1) && at(index + 2) && at(index + 3) && at(index + 4) && !at(index + 5) && at(index + 6);
      if (!core) continue;
      const lightBefore = [1, 2, 3, 4].every((offset) => !at(index - offset));
      const lightAfter = [7, 8, 9, 10].every((offset) => !at(index + offset));
      if (lightBefore) score += 40;
      if (lightAfter) score += 40;
    }
  }
  // Rule 2: each 2x2 block of one colour: 3.
  for (let y = 0; y + 1 < size; y++) {
    for (let x = 0; x + 1 < size; x++) {
      const colour = modules[y][x];
      if (modules[y][x + 1] === colour && modules[y + 1][x] === colour && modules[y + 1][x + 1] === colour) score += 3;
    }
  }
  // Rule 4: 10 for each full 5% the share of dark modules is away from 50%.
  const dark = modules.reduce((sum, row) => sum + row.filter(Boolean).length, 0);
  const total = size * size;
  score += Math.floor(Math.abs(dark * 100 - total * 50) / (total * 5)) * 10;
  return score;
}

/**
 * The QR code of a text: `{version, mask, size, modules}`, `modules[y][x]` true for dark.
 * Options (for tests): `version` to force one, `mask` to force one instead of the best.
 */
export function qrCode(text, options = {}) {
  const bytes = Array.from(new TextEncoder().encode(String(text)));
  let version = options.version;
  if (version === undefined) {
    version = MIN_VERSION;
    while (version <= MAX_VERSION && byteCapacity(version) < bytes.length) version++;
  }
  if (version > MAX_VERSION || byteCapacity(version) < bytes.length) throw new RangeError(`too long for a QR code: ${bytes.length} bytes`);
  const codewords = interleave(dataCodewords(bytes, version), version);
  let best = null;
  for (let mask = 0; mask < 8; mask++) {
    if (options.mask !== undefined && mask !== options.mask) continue;
    const symbol = new Matrix(version);
    symbol.drawCodewords(codewords);
    symbol.applyMask(mask);
    symbol.drawFormat(mask);
    const score = penalty(symbol.modules);
    if (!best || score < best.score) best = { score, mask, symbol };
  }
  return { version, mask: best.mask, size: best.symbol.size, modules: best.symbol.modules };
}

const SVG = "http://www.w3.org/2000/svg";

/**
 * An SVG drawing of a text's QR code, dark on white with the 4-module quiet zone, at any size
 * (CSS sets it). Colours are attributes, not styles: it stays dark on light in a dark theme,
 * which is what scanners read.
 */
export function qrSVG(text, label, doc = document) {
  const { size, modules } = qrCode(text);
  const extent = size + 8;
  const svg = doc.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${extent} ${extent}`);
  svg.setAttribute("class", "qr");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.setAttribute("shape-rendering", "crispEdges");
  const background = doc.createElementNS(SVG, "rect");
  background.setAttribute("width", String(extent));
  background.setAttribute("height", String(extent));
  background.setAttribute("fill", "#ffffff");
  const path = doc.createElementNS(SVG, "path");
  let d = "";
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (modules[y][x]) d += `M${x + 4} ${y + 4}h1v1h-1z`;
  path.setAttribute("d", d);
  path.setAttribute("fill", "#000000");
  svg.appendChild(background);
  svg.appendChild(path);
  return svg;
}
