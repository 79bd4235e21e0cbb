// Markdown for agent replies, rendered as the deltas arrive.
//
// A small parser of the app's own (no third-party code, no build step): `parseMarkdown(text)`
// turns text into a plain tree of allowed elements and strings, with no DOM, so it runs in node
// for the unit tests (tests/js/). `renderMarkdown(container, text)` builds that tree with
// createElement and text nodes only, and on every call replaces only the top-level blocks that
// changed, so a streamed reply grows without redrawing what is already there.
//
// What it understands: paragraphs, ATX headings (#), emphasis (* _), strong (** __),
// strikethrough (~~), inline code, fenced code blocks (``` or ~~~, with a language label and a
// Copy button; highlight.js colours the languages it knows), indented code, bullet and ordered
// lists (nested), block quotes, GFM tables, thematic breaks, links [text](url "title"),
// <autolinks> and bare http(s) URLs, backslash escapes and the common HTML entities. A single
// newline is a line break, as in chat apps.
// Not supported: setext headings, reference links, footnotes, task lists.
//
// Safety: raw HTML is never interpreted (it is ordinary text); links keep only absolute http,
// https and mailto URLs (checked after the URL parser normalises them, as the browser would) and
// open with rel="noopener noreferrer" in a new tab; images are never loaded, they become links.
// The DOM builder checks every tag and attribute against an allowlist as well.

import { TOKEN_KINDS, canHighlight, highlight } from "./highlight.js";

// MARK: Blocks

const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
/** An opening code fence: its marker and info string (a backtick fence's info has no backtick). */
function fenceOf(line) {
  const match = FENCE.exec(line);
  return match && !(match[1][0] === "`" && match[2].includes("`")) ? match : null;
}
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+|$)(.*)$/;
const RULE = /^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$/;
const QUOTE = /^ {0,3}>/;
const BULLET = /^( {0,3})([-+*])([ \t]+|$)(.*)$/;
const ORDERED = /^( {0,3})(\d{1,9})([.)])([ \t]+|$)(.*)$/;
const DELIMITER_ROW = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;

const isBlank = (line) => /^[ \t]*$/.test(line);

/** The column the first non-blank character of a line is at (tabs stop every 4 columns). */
function indentOf(line) {
  let column = 0;
  for (const character of line) {
    if (character === " ") column++;
    else if (character === "\t") column += 4 - (column % 4);
    else break;
  }
  return column;
}

/** The line without its first `columns` columns of indentation (a tab may be split). */
function dedent(line, columns) {
  let column = 0;
  let index = 0;
  while (index < line.length && column < columns) {
    const character = line[index];
    if (character === " ") column++;
    else if (character === "\t") {
      const width = 4 - (column % 4);
      if (column + width > columns) return " ".repeat(column + width - columns) + line.slice(index + 1);
      column += width;
    } else break;
    index++;
  }
  return line.slice(index);
}

/** A list marker at the start of a line: its kind, where its content starts, its start number. */
function listMarker(line) {
  if (RULE.test(line)) return null;
  const bullet = BULLET.exec(line);
  const ordered = bullet ? null : ORDERED.exec(line);
  const match = bullet || ordered;
  if (!match) return null;
  const indent = match[1].length;
  const marker = bullet ? bullet[2] : ordered[2] + ordered[3];
  const spacing = bullet ? bullet[3] : ordered[4];
  const rest = bullet ? bullet[4] : ordered[5];
  const spaces = indentOf(" ".repeat(indent + marker.length) + spacing) - indent - marker.length;
  const empty = rest === "" && isBlank(spacing + rest);
  // 1-4 spaces after the marker set the content column; more means indented code in the item.
  const width = empty || spaces > 4 ? 1 : spaces;
  return {
    // The first line of the item's content (spaces past the content column are kept).
    firstLine: empty ? "" : " ".repeat(spaces - width) + rest,
    kind: bullet ? `bullet${bullet[2]}` : `ordered${ordered[3]}`,
    ordered: !bullet,
    start: ordered ? Number(ordered[2]) : 1,
    content: indent + marker.length + width,
    empty,
  };
}

/** Whether a line can interrupt a paragraph (what ends a paragraph without a blank line). */
function interrupts(line) {
  if (fenceOf(line)) return true;
  if (HEADING.test(line) || RULE.test(line) || QUOTE.test(line)) return true;
  const marker = listMarker(line);
  return Boolean(marker && !marker.empty && (!marker.ordered || marker.start === 1));
}

/** Splits a table row into cell texts on pipes that are not escaped. */
function tableCells(line) {
  let text = line.trim();
  if (text.startsWith("|")) text = text.slice(1);
  if (text.endsWith("|") && !text.endsWith("\\|")) text = text.slice(0, -1);
  const cells = [];
  let current = "";
  for (let index = 0; index < text.length; index++) {
    if (text[index] === "\\" && text[index + 1] === "|") {
      current += "|";
      index++;
    } else if (text[index] === "|") {
      cells.push(current.trim());
      current = "";
    } else current += text[index];
  }
  cells.push(current.trim());
  return cells;
}

// Deeper nesting than this is shown as text: a reply of 5,000 ">" or "*" must not overflow the
// stack of the parser, the DOM builder or the browser's layout.
const MAX_BLOCK_DEPTH = 16;
const MAX_INLINE_DEPTH = 32;

/** The parsed blocks of some lines, with the line span of each (for list looseness). */
function parseBlocks(lines, depth = 0) {
  const nests = depth < MAX_BLOCK_DEPTH;
  const blocks = [];
  const spans = [];
  let paragraph = null; // { lines, start }
  const add = (node, start, end) => {
    blocks.push(node);
    spans.push([start, end]);
  };
  const closeParagraph = (end) => {
    if (!paragraph) return;
    add({ tag: "p", children: parseInline(paragraph.lines.join("\n")) }, paragraph.start, end);
    paragraph = null;
  };
  let index = 0;
  while (index < lines.length) {
    const line = lines[index];
    if (isBlank(line)) {
      closeParagraph(index - 1);
      index++;
      continue;
    }
    // Indented code (it cannot interrupt a paragraph).
    if (!paragraph && indentOf(line) >= 4) {
      const start = index;
      const code = [];
      while (index < lines.length && (isBlank(lines[index]) || indentOf(lines[index]) >= 4)) code.push(dedent(lines[index++], 4));
      while (code.length && isBlank(code[code.length - 1])) {
        code.pop();
        index--;
      }
      add(codeBlock("", code.join("\n")), start, index - 1);
      continue;
    }
    const fence = fenceOf(line);
    if (fence) {
      closeParagraph(index - 1);
      const start = index;
      const indent = indentOf(line);
      const marker = fence[1];
      const closing = new RegExp(`^ {0,3}${marker[0] === "`" ? "`" : "~"}{${marker.length},}[ \\t]*$`);
      const code = [];
      index++;
      // An unclosed fence runs to the end: mid-stream, the code block stays a code block.
      while (index < lines.length && !closing.test(lines[index])) code.push(dedent(lines[index++], indent));
      const closed = index < lines.length;
      // Mid-stream, the line being written after the last newline is not a line yet.
      if (!closed && code.length && code[code.length - 1] === "") code.pop();
      add(codeBlock(unescapeText(fence[2].trim().split(/\s+/)[0] || ""), code.join("\n"), closed), start, index);
      index++;
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      closeParagraph(index - 1);
      const text = heading[2].replace(/(?:^|[ \t]+)#+[ \t]*$/, "").trim();
      add({ tag: `h${heading[1].length}`, children: parseInline(text) }, index, index);
      index++;
      continue;
    }
    if (RULE.test(line)) {
      closeParagraph(index - 1);
      add({ tag: "hr" }, index, index);
      index++;
      continue;
    }
    if (nests && QUOTE.test(line)) {
      closeParagraph(index - 1);
      const start = index;
      const inner = [];
      const fences = fenceTracker();
      while (index < lines.length) {
        const current = lines[index];
        if (QUOTE.test(current)) {
          inner.push(current.replace(/^ {0,3}> ?/, ""));
        } else if (
          // A lazy continuation line of a paragraph in the quote.
          !isBlank(current) &&
          inner.length &&
          !isBlank(inner[inner.length - 1]) &&
          !interrupts(current) &&
          !fences.open
        ) {
          inner.push(current);
        } else break;
        fences.push(inner[inner.length - 1]);
        index++;
      }
      add({ tag: "blockquote", children: parseBlocks(inner, depth + 1).blocks }, start, index - 1);
      continue;
    }
    const marker = nests && listMarker(line);
    if (marker && (!paragraph || interrupts(line))) {
      closeParagraph(index - 1);
      const start = index;
      const result = parseList(lines, index, marker, depth);
      index = result.next;
      add(result.node, start, index - 1);
      continue;
    }
    // A table: the paragraph's last line is the header row, this line the delimiter row.
    if (paragraph && DELIMITER_ROW.test(line) && line.includes("-")) {
      const header = tableCells(paragraph.lines[paragraph.lines.length - 1]);
      const aligns = tableCells(line).map((cell) =>
        cell.startsWith(":") && cell.endsWith(":") ? "center" : cell.endsWith(":") ? "right" : cell.startsWith(":") ? "left" : "",
      );
      if (header.length === aligns.length && (line.includes("|") || header.length > 1 || /\|/.test(paragraph.lines[paragraph.lines.length - 1]))) {
        const headerLine = paragraph.lines.pop();
        const tableStart = index - 1;
        if (paragraph.lines.length) closeParagraph(index - 2);
        else paragraph = null;
        index++;
        const rows = [];
        while (index < lines.length && !isBlank(lines[index]) && !interrupts(lines[index])) rows.push(tableCells(lines[index++]));
        add(table(tableCells(headerLine), aligns, rows), tableStart, index - 1);
        continue;
      }
    }
    if (paragraph) paragraph.lines.push(line.trim());
    else paragraph = { lines: [line.trim()], start: index };
    index++;
  }
  closeParagraph(lines.length - 1);
  return { blocks, spans };
}

/** Follows lines as they are collected: `open` while they leave a fenced code block open. */
function fenceTracker() {
  let closing = null;
  return {
    get open() {
      return closing !== null;
    },
    push(line) {
      const fence = closing ? null : fenceOf(line);
      if (fence) closing = new RegExp(`^ {0,3}${fence[1][0] === "`" ? "`" : "~"}{${fence[1].length},}[ \\t]*$`);
      else if (closing && closing.test(line)) closing = null;
    },
  };
}

/**
 * A code block; in a language highlight.js knows, its `children` are the code as strings and
 * `span`s with a token class (their texts joined are `text`).
 */
function codeBlock(language, text, closed = true) {
  const label = language.toLowerCase().replace(/[^a-z0-9_+#.-]/g, "").slice(0, 30);
  const node = { tag: "codeblock", language: label, text, closed };
  if (canHighlight(label)) {
    node.children = highlight(text, label).map((token) => (token.class ? { tag: "span", attrs: { class: `tok-${token.class}` }, children: [token.text] } : token.text));
  }
  return node;
}

function table(header, aligns, rows) {
  const cell = (tag, text, column) => ({ tag, attrs: aligns[column] ? { class: `align-${aligns[column]}` } : undefined, children: parseInline(text) });
  const row = (cells, tag) => ({ tag: "tr", children: aligns.map((_, column) => cell(tag, cells[column] ?? "", column)) });
  const children = [{ tag: "thead", children: [row(header, "th")] }];
  if (rows.length) children.push({ tag: "tbody", children: rows.map((cells) => row(cells, "td")) });
  return { tag: "table", children };
}

/** A list starting at `start`: its items, each parsed as blocks, tight or loose. */
function parseList(lines, start, first, depth) {
  const items = [];
  let loose = false;
  let index = start;
  let marker = first;
  while (marker) {
    const itemLines = [marker.firstLine];
    const fences = fenceTracker();
    fences.push(marker.firstLine);
    index++;
    while (index < lines.length) {
      const line = lines[index];
      if (isBlank(line)) {
        // An item that starts with a blank line ends at the next blank one.
        if (itemLines.length === 1 && isBlank(itemLines[0])) break;
        itemLines.push("");
      } else if (indentOf(line) >= marker.content) {
        itemLines.push(dedent(line, marker.content));
      } else if (!isBlank(itemLines[itemLines.length - 1]) && !interrupts(line) && !listMarker(line) && !fences.open) {
        itemLines.push(line.trim()); // lazy continuation of a paragraph
      } else break;
      fences.push(itemLines[itemLines.length - 1]);
      index++;
    }
    let blankAfter = 0;
    while (itemLines.length > 1 && isBlank(itemLines[itemLines.length - 1])) {
      itemLines.pop();
      blankAfter++;
    }
    const { blocks, spans } = parseBlocks(itemLines, depth + 1);
    // Two blocks of the item with a blank line between them make the list loose.
    for (let block = 1; block < spans.length; block++) if (spans[block][0] > spans[block - 1][1] + 1) loose = true;
    items.push(blocks);
    const next = index < lines.length ? listMarker(lines[index]) : null;
    if (next && next.kind === marker.kind && indentOf(lines[index]) < marker.content) {
      if (blankAfter) loose = true;
      marker = next;
    } else {
      // Blank lines after the last item do not belong to the list.
      index -= blankAfter;
      marker = null;
    }
  }
  const children = items.map((blocks) => ({
    tag: "li",
    // A tight list shows its paragraphs without <p>.
    children: loose ? blocks : blocks.flatMap((block) => (block.tag === "p" ? block.children : [block])),
  }));
  const node = first.ordered
    ? { tag: "ol", attrs: first.start !== 1 ? { start: String(first.start) } : undefined, children }
    : { tag: "ul", children };
  return { node, next: index };
}

// MARK: Inline

const PUNCTUATION = /[\p{P}\p{S}]/u;
const WHITESPACE = /\s/u;
const ESCAPABLE = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/;
const ENTITIES = {
  amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0", copy: "©", reg: "®", trade: "™",
  hellip: "…", mdash: "—", ndash: "–", laquo: "«", raquo: "»", ldquo: "“", rdquo: "”", lsquo: "‘",
  rsquo: "’", middot: "·", times: "×", divide: "÷", deg: "°", plusmn: "±", euro: "€", pound: "£",
  yen: "¥", cent: "¢", sect: "§", para: "¶", bull: "•", larr: "←", rarr: "→", uarr: "↑", darr: "↓",
  harr: "↔", check: "✓", iexcl: "¡", iquest: "¿", shy: "\u00ad", zwj: "\u200d", zwnj: "\u200c",
};
// Sticky patterns, matched at a position of the text (no copies of the rest of it).
const ENTITY = /&(?:#[xX]([0-9a-fA-F]{1,6})|#([0-9]{1,7})|([a-zA-Z][a-zA-Z0-9]{1,31}));/y;
const AUTOLINK = /<([a-zA-Z][a-zA-Z0-9+.-]{1,31}:[^<>\x00-\x20]*)>/y;
const EMAIL = /<([a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*)>/y;
const RUNS = { "`": /`+/y, "*": /\*+/y, _: /_+/y, "~": /~+/y };

function matchAt(pattern, text, index) {
  pattern.lastIndex = index;
  return pattern.exec(text);
}

/** The character an entity stands for, or null when it is not one this renderer knows. */
function entity(match) {
  if (match[3]) return Object.hasOwn(ENTITIES, match[3]) ? ENTITIES[match[3]] : null;
  const code = match[1] ? parseInt(match[1], 16) : parseInt(match[2], 10);
  return code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) ? "\ufffd" : String.fromCodePoint(code);
}

/** Backslash escapes and entities resolved (link destinations, titles, code languages). */
function unescapeText(text) {
  let result = "";
  for (let index = 0; index < text.length; index++) {
    const character = text[index];
    if (character === "\\" && ESCAPABLE.test(text[index + 1] || "")) {
      result += text[++index];
    } else if (character === "&") {
      const match = matchAt(ENTITY, text, index);
      const value = match && entity(match);
      if (value !== null && value !== undefined) {
        result += value;
        index += match[0].length - 1;
      } else result += character;
    } else result += character;
  }
  return result;
}

/**
 * The URL a link may point to: absolute http, https or mailto, as the URL parser normalises it
 * (it strips the tabs, newlines and control characters browsers ignore); otherwise null.
 */
export function safeURL(destination) {
  let url;
  try {
    url = new URL(destination.trim());
  } catch {
    return null;
  }
  return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
}

const link = (href, children, title, image) => ({
  tag: "a",
  attrs: { href, ...(title ? { title } : {}), rel: "noopener noreferrer", target: "_blank", ...(image ? { class: "image-link" } : {}) },
  children,
});

/** The plain text of inline nodes (an image's alt text), without recursion: any depth. */
function plainText(nodes) {
  let text = "";
  const pending = nodes.slice().reverse();
  while (pending.length) {
    const node = pending.pop();
    if (typeof node === "string") text += node;
    else if (node.delimiter) text += node.delimiter.repeat(node.count);
    else if (node.text !== undefined) text += node.text;
    else if (node.tag === "br") text += " ";
    else for (let index = (node.children || []).length - 1; index >= 0; index--) pending.push(node.children[index]);
  }
  return text;
}

/** Elements nested deeper than MAX_INLINE_DEPTH become their text. */
function limitDepth(nodes, depth = 0) {
  return nodes.map((node) => {
    if (typeof node === "string" || !node.children) return node;
    if (depth >= MAX_INLINE_DEPTH) return plainText([node]);
    return { ...node, children: limitDepth(node.children, depth + 1) };
  });
}

// Link destinations and titles longer than this are not looked for: an unclosed "(" or quote is
// then not followed to the end of a long reply again and again.
const MAX_LINK_PART = 1024;

/** A link's destination and title after `](`, or null: `(dest "title")`. */
function linkTail(text, start) {
  let index = start + 1;
  const skipSpace = () => {
    while (index < text.length && /[ \t\n]/.test(text[index])) index++;
  };
  skipSpace();
  let destination = "";
  if (text[index] === "<") {
    let end = index + 1;
    while (end < text.length && end - index < MAX_LINK_PART && !"<>\n".includes(text[end])) end++;
    if (text[end] !== ">") return null;
    destination = text.slice(index + 1, end);
    index = end + 1;
  } else {
    let depth = 0;
    const begin = index;
    while (index < text.length && index - begin < MAX_LINK_PART) {
      const character = text[index];
      if (character === "\\" && ESCAPABLE.test(text[index + 1] || "")) {
        index += 2;
        continue;
      }
      if (/[\s\x00-\x1f\x7f]/.test(character)) break;
      if (character === "(") depth++;
      if (character === ")") {
        if (depth === 0) break;
        depth--;
      }
      index++;
    }
    if (depth !== 0) return null;
    destination = text.slice(begin, index);
  }
  const beforeTitle = index;
  skipSpace();
  let title = "";
  const quote = text[index];
  if (index > beforeTitle && (quote === '"' || quote === "'" || quote === "(")) {
    const close = quote === "(" ? ")" : quote;
    let end = index + 1;
    while (end < text.length && end - index < MAX_LINK_PART && text[end] !== close) end += text[end] === "\\" ? 2 : 1;
    if (text[end] !== close) return null;
    title = text.slice(index + 1, end);
    index = end + 1;
    skipSpace();
  }
  if (text[index] !== ")") return null;
  return { destination: unescapeText(destination), title: unescapeText(title), end: index + 1 };
}

/** Inline content: a list of strings and element nodes. */
export function parseInline(text) {
  const nodes = []; // strings, element nodes, and delimiter runs {delimiter, ...}
  const brackets = []; // open [ and ![
  const unclosedRuns = new Set(); // backtick run lengths with no closing run further on
  let buffer = "";
  const flush = () => {
    if (buffer) nodes.push(buffer);
    buffer = "";
  };
  let index = 0;
  while (index < text.length) {
    const character = text[index];
    if (character === "\\") {
      const next = text[index + 1];
      if (next === "\n") {
        flush();
        nodes.push({ tag: "br" });
        index += 2;
      } else if (next !== undefined && ESCAPABLE.test(next)) {
        buffer += next;
        index += 2;
      } else {
        buffer += character;
        index++;
      }
      continue;
    }
    if (character === "\n") {
      // Trailing spaces before a line break are not shown; every newline is a break.
      buffer = buffer.replace(/[ \t]+$/, "");
      flush();
      nodes.push({ tag: "br" });
      index++;
      while (text[index] === " " || text[index] === "\t") index++;
      continue;
    }
    if (character === "`") {
      const run = matchAt(RUNS["`"], text, index)[0];
      const after = index + run.length;
      // A length that found no closer once finds none later either: no quadratic rescans.
      const closing = new RegExp(`(?<!\`)${run}(?!\`)`, "g");
      closing.lastIndex = after;
      const match = unclosedRuns.has(run.length) ? null : closing.exec(text);
      if (!match) unclosedRuns.add(run.length);
      if (match) {
        let code = text.slice(after, match.index).replace(/\n/g, " ");
        if (code.length > 2 && code[0] === " " && code[code.length - 1] === " " && /[^ ]/.test(code)) code = code.slice(1, -1);
        flush();
        nodes.push({ tag: "code", children: [code] });
        index = match.index + run.length;
      } else {
        buffer += run;
        index = after;
      }
      continue;
    }
    if (character === "&") {
      const match = matchAt(ENTITY, text, index);
      const value = match && entity(match);
      if (value !== null && value !== undefined) {
        buffer += value;
        index += match[0].length;
        continue;
      }
    }
    if (character === "<") {
      const auto = matchAt(AUTOLINK, text, index);
      const email = auto ? null : matchAt(EMAIL, text, index);
      const href = auto ? safeURL(auto[1]) : email ? safeURL(`mailto:${email[1]}`) : null;
      if (href) {
        flush();
        nodes.push(link(href, [(auto || email)[1]]));
        index += (auto || email)[0].length;
        continue;
      }
    }
    if (character === "*" || character === "_" || character === "~") {
      const run = matchAt(RUNS[character], text, index)[0];
      const before = index === 0 ? "\n" : text[index - 1];
      const after = text[index + run.length] ?? "\n";
      const leftFlanking = !WHITESPACE.test(after) && (!PUNCTUATION.test(after) || WHITESPACE.test(before) || PUNCTUATION.test(before));
      const rightFlanking = !WHITESPACE.test(before) && (!PUNCTUATION.test(before) || WHITESPACE.test(after) || PUNCTUATION.test(after));
      let canOpen = leftFlanking;
      let canClose = rightFlanking;
      if (character === "_") {
        canOpen = leftFlanking && (!rightFlanking || PUNCTUATION.test(before));
        canClose = rightFlanking && (!leftFlanking || PUNCTUATION.test(after));
      }
      if (character === "~" && run.length > 2) canOpen = canClose = false;
      flush();
      nodes.push({ delimiter: character, count: run.length, original: run.length, canOpen, canClose });
      index += run.length;
      continue;
    }
    if (character === "!" && text[index + 1] === "[") {
      flush();
      brackets.push({ position: nodes.length, image: true, active: true });
      nodes.push("![");
      index += 2;
      continue;
    }
    if (character === "[") {
      flush();
      brackets.push({ position: nodes.length, image: false, active: true });
      nodes.push("[");
      index++;
      continue;
    }
    if (character === "]") {
      flush();
      const opener = brackets.pop();
      const tail = opener && opener.active && text[index + 1] === "(" ? linkTail(text, index + 1) : null;
      if (!tail) {
        buffer += "]";
        index++;
        continue;
      }
      const children = nodes.splice(opener.position);
      children.shift(); // the "[" or "!["
      resolveEmphasis(children);
      const inner = limitDepth(children);
      const href = safeURL(tail.destination);
      if (opener.image) {
        // Images are never loaded: a link to the image, named by its alt text.
        const alt = plainText(inner) || tail.destination;
        nodes.push(href ? link(href, [`Image: ${alt}`], tail.title, true) : `Image: ${alt}`);
      } else {
        if (href) nodes.push(link(href, inner, tail.title));
        else for (const child of inner) nodes.push(child); // (a loop: a spread of a huge array throws)
        // No links inside links: earlier [ can no longer open one.
        if (href) for (const earlier of brackets) if (!earlier.image) earlier.active = false;
      }
      index = tail.end;
      continue;
    }
    buffer += character;
    index++;
  }
  flush();
  resolveEmphasis(nodes);
  return autolink(merge(limitDepth(nodes)));
}

/** CommonMark's "process emphasis": pairs delimiter runs into em, strong and del, in place. */
function resolveEmphasis(nodes) {
  for (let closerIndex = 0; closerIndex < nodes.length; closerIndex++) {
    const closer = nodes[closerIndex];
    if (!closer?.delimiter || !closer.canClose) continue;
    let openerIndex = -1;
    for (let candidate = closerIndex - 1; candidate >= 0; candidate--) {
      const opener = nodes[candidate];
      if (!opener?.delimiter || opener.delimiter !== closer.delimiter || !opener.canOpen) continue;
      if (closer.delimiter === "~") {
        if (opener.count !== closer.count) continue;
      } else if (
        (opener.canClose || closer.canOpen) &&
        (opener.original + closer.original) % 3 === 0 &&
        !(opener.original % 3 === 0 && closer.original % 3 === 0)
      ) {
        continue; // the "rule of 3"
      }
      openerIndex = candidate;
      break;
    }
    if (openerIndex === -1) continue;
    const opener = nodes[openerIndex];
    const used = closer.delimiter === "~" ? closer.count : opener.count >= 2 && closer.count >= 2 ? 2 : 1;
    const tag = closer.delimiter === "~" ? "del" : used === 2 ? "strong" : "em";
    // Delimiters between the two are literal text now.
    const inner = nodes.slice(openerIndex + 1, closerIndex).map((node) => (node?.delimiter ? node.delimiter.repeat(node.count) : node));
    opener.count -= used;
    closer.count -= used;
    const replacement = [];
    if (opener.count > 0) replacement.push(opener);
    replacement.push({ tag, children: merge(inner) });
    if (closer.count > 0) replacement.push(closer);
    nodes.splice(openerIndex, closerIndex - openerIndex + 1, ...replacement);
    // Look at the closer again if something of it is left; otherwise at what follows.
    closerIndex = openerIndex + replacement.length - (closer.count > 0 ? 2 : 1);
  }
  for (let index = 0; index < nodes.length; index++) if (nodes[index]?.delimiter) nodes[index] = nodes[index].delimiter.repeat(nodes[index].count);
}

/** Adjacent strings joined into one. */
function merge(nodes) {
  const merged = [];
  for (const node of nodes) {
    if (typeof node === "string" && typeof merged[merged.length - 1] === "string") merged[merged.length - 1] += node;
    else if (node !== "") merged.push(node);
  }
  return merged;
}

const BARE_URL = /(^|[\s*_~(])(https?:\/\/[^\s<]+)/g;

/** Bare http(s) URLs in text become links (not inside links or code). */
function autolink(nodes) {
  return nodes.flatMap((node) => {
    if (typeof node !== "string") {
      if (node.tag === "a" || node.tag === "code" || !node.children) return [node];
      return [{ ...node, children: autolink(node.children) }];
    }
    const pieces = [];
    let last = 0;
    for (const match of node.matchAll(BARE_URL)) {
      let url = match[2];
      // Trailing punctuation ends the sentence, not the URL; so does an unbalanced ")".
      for (;;) {
        const trimmed = url.replace(/[?!.,:*_~'";]+$/, "");
        const opens = (trimmed.match(/\(/g) || []).length;
        const closes = (trimmed.match(/\)/g) || []).length;
        const next = trimmed.endsWith(")") && closes > opens ? trimmed.slice(0, -1) : trimmed;
        if (next === url) break;
        url = next;
      }
      const href = safeURL(url);
      if (!href || !/^https?:\/\/[^/?#]*[a-zA-Z0-9]/.test(url)) continue;
      const start = match.index + match[1].length;
      if (start > last) pieces.push(node.slice(last, start));
      pieces.push(link(href, [url]));
      last = start + url.length;
    }
    if (last === 0) return [node];
    if (last < node.length) pieces.push(node.slice(last));
    return pieces;
  });
}

// MARK: Whole documents

/**
 * The tree of a Markdown text: an array of block nodes, each `{tag, attrs?, children?}` (or
 * `{tag: "codeblock", language, text, closed}`), with strings as text.
 * `streaming: true` is for a reply still arriving: a trailing run of * _ ~ ` on the last line
 * is held back, since it is most likely the start of emphasis or code still to come.
 */
export function parseMarkdown(text, options = {}) {
  let source = String(text ?? "").replace(/\r\n?/g, "\n").replace(/\u0000/g, "\ufffd");
  if (options.streaming) source = source.replace(/[*_~`]+$/, "");
  return parseBlocks(source.split("\n")).blocks;
}

// MARK: DOM

/** What the DOM builder will create: anything else in a tree is refused. */
const ALLOWED = {
  p: [], h1: [], h2: [], h3: [], h4: [], h5: [], h6: [], em: [], strong: [], del: [], code: [], br: [], hr: [],
  blockquote: [], ul: [], ol: ["start"], li: [], table: [], thead: [], tbody: [], tr: [], th: ["class"], td: ["class"],
  a: ["href", "title", "rel", "target", "class"], span: ["class"],
};
/** The only classes a span may have: the highlighter's tokens. */
const TOKEN_CLASSES = new Set(TOKEN_KINDS.map((kind) => `tok-${kind}`));

/** Elements of a tree, with `document.createElement` and text nodes only. */
export function buildNodes(nodes, doc = document) {
  return nodes.map((node) => buildNode(node, doc));
}

function buildNode(node, doc) {
  if (typeof node === "string") return doc.createTextNode(node);
  if (node.tag === "codeblock") return buildCodeBlock(node, doc);
  if (node.tag === "table") return buildTable(node, doc);
  if (!Object.hasOwn(ALLOWED, node.tag)) throw new Error(`markdown: <${node.tag}> is not allowed`);
  const element = doc.createElement(node.tag);
  for (const [name, value] of Object.entries(node.attrs || {})) {
    if (!ALLOWED[node.tag].includes(name)) throw new Error(`markdown: ${name} is not allowed on <${node.tag}>`);
    if (name === "href" && safeURL(value) !== value) throw new Error("markdown: unsafe link");
    if (node.tag === "span" && !TOKEN_CLASSES.has(value)) throw new Error("markdown: a span's class must be a token's");
    element.setAttribute(name, value);
  }
  for (const child of node.children || []) element.appendChild(buildNode(child, doc));
  return element;
}

function buildCodeBlock(node, doc) {
  const wrapper = doc.createElement("div");
  wrapper.setAttribute("class", "code-block");
  const head = doc.createElement("div");
  head.setAttribute("class", "code-head");
  const label = doc.createElement("span");
  label.setAttribute("class", "code-language");
  label.textContent = node.language || "code";
  const button = doc.createElement("button");
  button.setAttribute("type", "button");
  button.setAttribute("class", "copy-code secondary");
  button.setAttribute("aria-label", node.language ? `Copy ${node.language} code` : "Copy code");
  button.textContent = "Copy";
  // The plain code, also once the block has grown (updateCodeBlock).
  codeTexts.set(wrapper, node.text);
  button.addEventListener("click", () => copyCode(button, codeTexts.get(wrapper)));
  head.appendChild(label);
  head.appendChild(button);
  const pre = doc.createElement("pre");
  scrollable(pre, node.language ? `${node.language} code` : "Code");
  const code = doc.createElement("code");
  if (node.language) code.setAttribute("class", `language-${node.language}`);
  for (const child of codeChildren(node)) code.appendChild(buildNode(child, doc));
  pre.appendChild(code);
  wrapper.appendChild(head);
  wrapper.appendChild(pre);
  return wrapper;
}

const codeTexts = new WeakMap(); // code-block wrapper -> the code its Copy button copies

/** What a code block's <code> holds, a node each: highlighted tokens, or the text. */
const codeChildren = (node) => node.children ?? (node.text ? [node.text] : []);

const sameChild = (a, b) => (typeof a === "string" ? a === b : typeof b !== "string" && a.attrs.class === b.attrs.class && a.children[0] === b.children[0]);

/**
 * Brings a code block built for `before` up to `after` (the same block grown by a streamed reply):
 * the nodes of the tokens the two share from the start stay, the rest are rebuilt. False, and
 * nothing changed, when `wrapper` is not such a block.
 */
function updateCodeBlock(wrapper, before, after, doc) {
  const code = wrapper.childNodes?.[1]?.childNodes?.[0];
  const old = codeChildren(before);
  const next = codeChildren(after);
  if (before.language !== after.language || !codeTexts.has(wrapper) || !code || code.childNodes.length !== old.length) return false;
  let same = 0;
  while (same < old.length && same < next.length && sameChild(old[same], next[same])) same++;
  while (code.childNodes.length > same) code.removeChild(code.childNodes[code.childNodes.length - 1]);
  for (const child of next.slice(same)) code.appendChild(buildNode(child, doc));
  codeTexts.set(wrapper, after.text);
  return true;
}

/**
 * Code blocks and tables scroll sideways when they are wider than the reply (on phones): the
 * keyboard must reach them to scroll them (WCAG 2.1.1; axe's scrollable-region-focusable), and
 * a screen reader says what has the focus.
 */
function scrollable(element, label) {
  element.setAttribute("tabindex", "0");
  element.setAttribute("role", "group");
  element.setAttribute("aria-label", label);
}

/** A table inside the element that scrolls it, so the table itself keeps display: table (and its semantics). */
function buildTable(node, doc) {
  const wrapper = doc.createElement("div");
  wrapper.setAttribute("class", "table-scroll");
  scrollable(wrapper, "Table");
  const table = doc.createElement("table");
  for (const child of node.children || []) table.appendChild(buildNode(child, doc));
  wrapper.appendChild(table);
  return wrapper;
}

async function copyCode(button, text) {
  let copied = false;
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      copied = true;
    }
  } catch {
    copied = false;
  }
  if (!copied) {
    // No clipboard API (plain http on a LAN address): select the code so Ctrl+C copies it.
    const code = button.closest(".code-block")?.querySelector("code");
    if (code) {
      const range = document.createRange();
      range.selectNodeContents(code);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      copied = document.execCommand("copy");
    }
  }
  button.textContent = copied ? "Copied" : "Press Ctrl+C";
  clearTimeout(button.resetTimer);
  button.resetTimer = setTimeout(() => (button.textContent = "Copy"), 2000);
}

const rendered = new WeakMap(); // container -> {keys, blocks} of the blocks it shows

/**
 * Shows `text` as Markdown in `container`. Called again with a longer text (a streamed reply),
 * it rebuilds only the top-level blocks that changed, so earlier blocks (and a selection in
 * them) stay as they are; a code block that grew keeps its head and the tokens that did not
 * change. The result is the same as rendering the whole text at once.
 */
export function renderMarkdown(container, text, options = {}) {
  const blocks = parseMarkdown(text, options);
  // A code block's tokens follow from its language and text: no need to compare them too.
  const keys = blocks.map((block) => JSON.stringify(block.tag === "codeblock" ? { ...block, children: undefined } : block));
  const { keys: previous, blocks: previousBlocks } = rendered.get(container) || { keys: [], blocks: [] };
  const children = Array.from(container.childNodes);
  if (previous.length !== children.length) {
    // The container was changed by someone else: start over.
    container.replaceChildren();
    for (const node of buildNodes(blocks, container.ownerDocument)) container.appendChild(node);
  } else {
    keys.forEach((key, index) => {
      if (previous[index] === key) return;
      const before = previousBlocks[index];
      const block = blocks[index];
      if (before?.tag === "codeblock" && block.tag === "codeblock" && updateCodeBlock(children[index], before, block, container.ownerDocument)) return;
      const element = buildNode(blocks[index], container.ownerDocument);
      if (index < children.length) container.replaceChild(element, children[index]);
      else container.appendChild(element);
    });
    for (let index = children.length - 1; index >= keys.length; index--) container.removeChild(children[index]);
  }
  rendered.set(container, { keys, blocks });
}

const INLINE = new Set(["em", "strong", "del", "code", "a"]);

/** The text a screen reader announces for a finished reply, without Markdown syntax. */
export function markdownText(text) {
  const walk = (nodes) =>
    nodes
      .map((node) => {
        if (typeof node === "string") return node;
        if (node.tag === "codeblock") return ` ${node.text} `;
        const inner = walk(node.children || []);
        return INLINE.has(node.tag) ? inner : ` ${inner} `; // blocks and breaks are apart
      })
      .join("");
  return walk(parseMarkdown(text)).replace(/\s+/g, " ").trim();
}
