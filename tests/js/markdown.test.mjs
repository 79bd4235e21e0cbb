// Unit tests of the web app's Markdown renderer (Sources/GatewayWeb/Assets/markdown.js).
// Run with `node --test tests/js/` (scripts/test.sh does).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { FakeDocument, FakeElement, serialize } from "./fake-dom.mjs";
import { buildNodes, markdownText, parseMarkdown, renderMarkdown, safeURL } from "../../Sources/GatewayWeb/Assets/markdown.js";

const doc = new FakeDocument();
const fixture = (name) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");
const EVERY_CONSTRUCT = fixture("every-construct.md");
const XSS = JSON.parse(fixture("xss-corpus.json"));

/** The HTML a text renders to, through the DOM builder. */
const html = (text, options) => serialize(buildNodes(parseMarkdown(text, options), doc));
/** The same without the code-block wrapper's head (language and Copy), for short expectations. */
const fresh = (text, options) => {
  const container = doc.createElement("div");
  renderMarkdown(container, text, options);
  return container;
};

// MARK: Constructs

test("paragraphs, line breaks and headings", () => {
  assert.equal(html("Hello\n\nWorld"), "<p>Hello</p><p>World</p>");
  assert.equal(html("one\ntwo  \nthree"), "<p>one<br>two<br>three</p>");
  assert.equal(html("# One\n## Two ##\n###### Six\n####### seven"), "<h1>One</h1><h2>Two</h2><h6>Six</h6><p>####### seven</p>");
  assert.equal(html("#hashtag"), "<p>#hashtag</p>");
});

test("emphasis, strong, strikethrough and inline code", () => {
  assert.equal(html("*a* _b_ **c** __d__ ***e*** ~~f~~"), "<p><em>a</em> <em>b</em> <strong>c</strong> <strong>d</strong> <em><strong>e</strong></em> <del>f</del></p>");
  assert.equal(html("snake_case_name and 2*3*4"), "<p>snake_case_name and 2<em>3</em>4</p>");
  assert.equal(html("**unclosed and *nested* text"), "<p>**unclosed and <em>nested</em> text</p>");
  assert.equal(html("`a <b> *c*` and ``x ` y``"), "<p><code>a &lt;b&gt; *c*</code> and <code>x ` y</code></p>");
  assert.equal(html("`unclosed *em*"), "<p>`unclosed <em>em</em></p>");
  assert.equal(html("\\*not em\\* \\`not code\\`"), "<p>*not em* `not code`</p>");
});

test("emphasis follows CommonMark's delimiter rules", () => {
  assert.equal(html("**foo*"), "<p>*<em>foo</em></p>");
  assert.equal(html("*foo**"), "<p><em>foo</em>*</p>");
  assert.equal(html("foo*bar* foo_bar_"), "<p>foo<em>bar</em> foo_bar_</p>");
  assert.equal(html("* not a list item* a"), "<ul><li>not a list item* a</li></ul>");
  assert.equal(html("a * b * c"), "<p>a * b * c</p>");
  assert.equal(html("*a **b** c*"), "<p><em>a <strong>b</strong> c</em></p>");
  assert.equal(html("~~a~~ ~b~ ~~~c~~~"), "<p><del>a</del> <del>b</del> ~~~c~~~</p>");
});

test("fenced code blocks carry their language and a Copy button", () => {
  assert.equal(
    html("```python\nprint('<hi>')\n```"),
    '<div class="code-block"><div class="code-head"><span class="code-language">python</span>' +
      '<button type="button" class="copy-code secondary" aria-label="Copy python code">Copy</button></div>' +
      '<pre tabindex="0" role="group" aria-label="python code"><code class="language-python"><span class="tok-function">print</span>(<span class="tok-string">\'&lt;hi&gt;\'</span>)</code></pre></div>',
  );
  // Without a language, the block is just "Code".
  assert.equal(
    html("```\nx\n```"),
    '<div class="code-block"><div class="code-head"><span class="code-language">code</span>' +
      '<button type="button" class="copy-code secondary" aria-label="Copy code">Copy</button></div>' +
      '<pre tabindex="0" role="group" aria-label="Code"><code>x</code></pre></div>',
  );
  const [block] = parseMarkdown("~~~\n  indented\n\n  kept\n~~~\nafter");
  assert.deepEqual(block, { tag: "codeblock", language: "", text: "  indented\n\n  kept", closed: true });
  // The Copy button gets a click handler (an event listener, not an attribute).
  const [wrapper] = buildNodes(parseMarkdown("```js\nx\n```"), doc);
  const button = [...wrapper.descendants()].find((element) => element.tagName === "button");
  assert.equal(button.listeners.length, 1);
  assert.equal(button.listeners[0][0], "click");
  assert.equal(html("    indented code\n    more"), html("```\nindented code\nmore\n```"));
});

test("lists: bullets, numbers, nesting, tight and loose", () => {
  assert.equal(html("- a\n- b\n  - c\n- d"), "<ul><li>a</li><li>b<ul><li>c</li></ul></li><li>d</li></ul>");
  assert.equal(html("3. three\n4. four"), '<ol start="3"><li>three</li><li>four</li></ol>');
  assert.equal(html("- a\n\n- b"), "<ul><li><p>a</p></li><li><p>b</p></li></ul>");
  assert.equal(html("* one\n+ two"), "<ul><li>one</li></ul><ul><li>two</li></ul>");
  assert.equal(html("text\n- item"), "<p>text</p><ul><li>item</li></ul>");
  assert.equal(html("- item\n  continued\nlazy"), "<ul><li>item<br>continued<br>lazy</li></ul>");
  // A blank line between an item's paragraph and its code block makes the list loose.
  assert.match(html("1. code:\n\n   ```sh\n   ls\n   ```"), /^<ol><li><p>code:<\/p><div class="code-block">.*<code class="language-sh">ls<\/code><\/pre><\/div><\/li><\/ol>$/);
  const [list] = parseMarkdown("1. code:\n   ```sh\n   ls -l\n   ```\n2. next");
  assert.equal(list.children[0].children[1].tag, "codeblock");
  assert.equal(list.children[0].children[1].text, "ls -l");
});

test("block quotes, rules and tables", () => {
  assert.equal(html("> quoted\n> - item\n\nafter"), "<blockquote><p>quoted</p><ul><li>item</li></ul></blockquote><p>after</p>");
  assert.equal(html("> lazy\ncontinuation"), "<blockquote><p>lazy<br>continuation</p></blockquote>");
  assert.equal(html("a\n\n---\n\n* * *"), "<p>a</p><hr><hr>");
  assert.equal(
    html("| A | B | C |\n|:--|:-:|--:|\n| 1 | **2** | 3 \\| 4 |\n| only one |"),
    '<div class="table-scroll" tabindex="0" role="group" aria-label="Table">' +
      '<table><thead><tr><th class="align-left">A</th><th class="align-center">B</th><th class="align-right">C</th></tr></thead>' +
      '<tbody><tr><td class="align-left">1</td><td class="align-center"><strong>2</strong></td><td class="align-right">3 | 4</td></tr>' +
      '<tr><td class="align-left">only one</td><td class="align-center"></td><td class="align-right"></td></tr></tbody></table></div>',
  );
  assert.equal(
    html("intro\n| a | b |\n| - | - |"),
    '<p>intro</p><div class="table-scroll" tabindex="0" role="group" aria-label="Table"><table><thead><tr><th>a</th><th>b</th></tr></thead></table></div>',
  );
  assert.equal(html("| a | b |\n| - |"), "<p>| a | b |<br>| - |</p>");
});

test("links open in a new tab without referrer and only for http, https and mailto", () => {
  assert.equal(
    html('[docs](https://example.com/a?b=1&c=2 "The docs")'),
    '<p><a href="https://example.com/a?b=1&amp;c=2" title="The docs" rel="noopener noreferrer" target="_blank">docs</a></p>',
  );
  assert.equal(html("<https://example.com>"), '<p><a href="https://example.com/" rel="noopener noreferrer" target="_blank">https://example.com</a></p>');
  assert.equal(html("<a@example.com>"), '<p><a href="mailto:a@example.com" rel="noopener noreferrer" target="_blank">a@example.com</a></p>');
  assert.equal(
    html("see https://example.com/x_(y). or (http://example.org)"),
    '<p>see <a href="https://example.com/x_(y)" rel="noopener noreferrer" target="_blank">https://example.com/x_(y)</a>. or (' +
      '<a href="http://example.org/" rel="noopener noreferrer" target="_blank">http://example.org</a>)</p>',
  );
  assert.equal(html("[no](javascript:alert(1)) [rel](/relative) [ftp](ftp://example.com)"), "<p>no rel ftp</p>");
  assert.equal(html("`https://example.com` [https://example.com](https://example.org)").match(/<a /g).length, 1);
  assert.equal(safeURL("  https://example.com/a b"), "https://example.com/a%20b");
  for (const bad of ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "\tjava\nscript:alert(1)", "data:text/html,x", "vbscript:x", "//example.com", "/x", "x"]) {
    assert.equal(safeURL(bad), null, bad);
  }
});

test("images are never loaded: they become links named by their alt text", () => {
  assert.equal(
    html("![a diagram](https://example.com/d.png)"),
    '<p><a href="https://example.com/d.png" rel="noopener noreferrer" target="_blank" class="image-link">Image: a diagram</a></p>',
  );
  assert.equal(html("![pic](javascript:alert(1))"), "<p>Image: pic</p>");
});

test("raw HTML is text and entities are decoded to text", () => {
  assert.equal(html("<b>bold?</b> <br> <!-- c -->"), "<p>&lt;b&gt;bold?&lt;/b&gt; &lt;br&gt; &lt;!-- c --&gt;</p>");
  assert.equal(html("&lt;b&gt; &amp;amp; &#x41;&#66; &copy; &bogus; &#0;"), "<p>&lt;b&gt; &amp;amp; AB © &amp;bogus; \ufffd</p>");
});

test("the whole fixture with every construct", () => {
  const tags = new Set();
  const walk = (nodes) => {
    for (const node of nodes) {
      if (typeof node === "string") continue;
      tags.add(node.tag);
      walk(node.children || []);
    }
  };
  walk(parseMarkdown(EVERY_CONSTRUCT));
  for (const tag of ["h1", "h2", "h3", "p", "em", "strong", "del", "code", "codeblock", "ul", "ol", "li", "blockquote", "table", "thead", "tbody", "th", "td", "a", "hr", "br"]) {
    assert.ok(tags.has(tag), `no <${tag}> in ${[...tags]}`);
  }
  assert.match(markdownText(EVERY_CONSTRUCT), /^Release notes for Gateway Some bold, some emphasis, both, struck and inline code with a link\. A second line/);
});

// MARK: Streaming

/** Feeds a text in pieces into one container, the way a streamed reply grows. */
function stream(text, sizes) {
  const container = doc.createElement("div");
  const states = [];
  let end = 0;
  for (let piece = 0; end < text.length; piece++) {
    end = Math.min(text.length, end + sizes(piece));
    renderMarkdown(container, text.slice(0, end), { streaming: end < text.length });
    states.push({ text: text.slice(0, end), html: serialize(container.childNodes) });
  }
  renderMarkdown(container, text); // reply.done: the stored text
  return { container, states };
}

test("a reply streamed in small deltas ends as the whole text rendered at once", () => {
  const whole = serialize(fresh(EVERY_CONSTRUCT).childNodes);
  for (const sizes of [() => 1, () => 3, (piece) => 1 + (piece % 7), (piece) => [2, 11, 1, 5][piece % 4]]) {
    const { container, states } = stream(EVERY_CONSTRUCT, sizes);
    assert.equal(serialize(container.childNodes), whole);
    // Every intermediate state equals a fresh render of the text so far: patching only changed
    // blocks loses nothing.
    for (const state of states.slice(0, 400)) {
      assert.equal(state.html, serialize(fresh(state.text, { streaming: state.text.length < EVERY_CONSTRUCT.length }).childNodes), JSON.stringify(state.text));
    }
  }
});

test("unchanged blocks keep their elements while a reply grows", () => {
  const container = doc.createElement("div");
  renderMarkdown(container, "# Title\n\nfirst paragraph\n\nsecond", { streaming: true });
  const [heading, first] = container.childNodes;
  renderMarkdown(container, "# Title\n\nfirst paragraph\n\nsecond paragraph grows", { streaming: true });
  assert.equal(container.childNodes[0], heading);
  assert.equal(container.childNodes[1], first);
  assert.equal(container.childNodes[2].textContent, "second paragraph grows");
  // Changed by someone else (an error message): rendering starts over.
  container.textContent = "The host could not answer";
  renderMarkdown(container, "fine");
  assert.equal(serialize(container.childNodes), "<p>fine</p>");
});

test("an open code fence stays a code block until it is closed", () => {
  const text = "Intro\n\n```js\nconst a = 1;\n\n# not a heading\n- not a list\n```\nAfter";
  const start = text.indexOf("```js\n") + "```js\n".length;
  const end = text.indexOf("\n```\nAfter");
  for (let length = start; length <= end; length++) {
    const blocks = parseMarkdown(text.slice(0, length), { streaming: true });
    assert.equal(blocks.length, 2, text.slice(0, length));
    assert.equal(blocks[1].tag, "codeblock");
    assert.equal(blocks[1].closed, false);
    assert.equal(blocks[1].text, text.slice(start, length).replace(/\n$/, ""));
  }
  const done = parseMarkdown(text);
  assert.deepEqual(done.map((block) => block.tag), ["p", "codeblock", "p"]);
  assert.equal(done[1].closed, true);
});

test("mid-stream, a trailing * _ ~ or ` is held back until what it starts is known", () => {
  assert.equal(html("Some **bo", { streaming: true }), "<p>Some **bo</p>");
  assert.equal(html("Some *", { streaming: true }), "<p>Some</p>");
  assert.equal(html("Some **", { streaming: true }), "<p>Some</p>");
  assert.equal(html("Some **bold**", { streaming: true }), "<p>Some **bold</p>");
  assert.equal(html("Some **bold**"), "<p>Some <strong>bold</strong></p>");
  assert.equal(html("``", { streaming: true }), "");
});

// MARK: Safety

const ALLOWED_TAGS = new Set(["p", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "del", "code", "pre", "br", "hr", "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "a", "div", "span", "button"]);
const ALLOWED_ATTRIBUTES = new Set(["href", "title", "rel", "target", "class", "start", "type", "aria-label", "tabindex", "role"]);

function assertInert(text) {
  const container = fresh(text);
  for (const element of container.descendants()) {
    assert.ok(ALLOWED_TAGS.has(element.tagName), `<${element.tagName}> from ${JSON.stringify(text)}`);
    for (const [name, value] of element.attributes) {
      assert.ok(ALLOWED_ATTRIBUTES.has(name), `${name}= from ${JSON.stringify(text)}`);
      if (name === "href") {
        assert.match(value, /^(https?:\/\/|mailto:)/, `href ${value} from ${JSON.stringify(text)}`);
        assert.equal(new URL(value).href, value);
        assert.ok(["http:", "https:", "mailto:"].includes(new URL(value).protocol));
      }
    }
    if (element.tagName === "a") {
      assert.equal(element.getAttribute("rel"), "noopener noreferrer");
      assert.equal(element.getAttribute("target"), "_blank");
    }
    if (element.tagName === "button") assert.equal(element.getAttribute("type"), "button");
    // Only the scrolling code and table containers take the focus, always as groups.
    if (element.getAttribute("tabindex") !== null || element.getAttribute("role") !== null) {
      assert.ok(element.tagName === "pre" || element.getAttribute("class") === "table-scroll", `tabindex on <${element.tagName}> from ${JSON.stringify(text)}`);
      assert.equal(element.getAttribute("tabindex"), "0");
      assert.equal(element.getAttribute("role"), "group");
    }
  }
  const markup = serialize(container.childNodes);
  // Anything that looked like markup is escaped text.
  assert.doesNotMatch(markup, /<(script|img|iframe|svg|style|object|embed|form|meta|base|math|details|template|input|link)\b/i, markup);
  assert.doesNotMatch(markup, /<[a-z][a-z0-9]*(?:\s[a-z-]+="[^"]*")*\s+on[a-z]+=/i, markup); // an on…= attribute
  assert.doesNotMatch(markup, /<[a-z][^>]*\s(?:href|src)="(?!https?:|mailto:)/i, markup);
  return container;
}

test("the XSS corpus renders inert: allowed tags and attributes only, safe links, markup as text", () => {
  assert.ok(XSS.length >= 50);
  for (const payload of XSS) assertInert(payload);
  // All of it at once, and streamed character by character.
  const all = XSS.join("\n\n");
  assertInert(all);
  const { container } = stream(all, () => 2);
  assert.equal(serialize(container.childNodes), serialize(assertInert(all).childNodes));
  // What the payloads meant as markup is visible as text.
  assert.match(fresh("<script>window.__xss = 1</script>").textContent, /<script>window.__xss = 1<\/script>/);
  assert.equal(fresh("&lt;script&gt;").textContent, "<script>");
});

test("the DOM builder refuses trees it did not make", () => {
  assert.throws(() => buildNodes([{ tag: "script", children: ["x"] }], doc), /not allowed/);
  assert.throws(() => buildNodes([{ tag: "a", attrs: { href: "javascript:alert(1)" } }], doc), /unsafe link/);
  assert.throws(() => buildNodes([{ tag: "a", attrs: { onclick: "x" } }], doc), /not allowed/);
  assert.throws(() => buildNodes([{ tag: "p", attrs: { style: "color: red" } }], doc), /not allowed/);
});

test("random input never throws and stays inert, and streaming it ends as the whole render", () => {
  // A small deterministic generator (no Math.random: failures must reproduce).
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pieces = ["*", "**", "_", "~~", "`", "```", "\n", "\n\n", "# ", "- ", "1. ", "> ", "|", "---", "[", "]", "(", ")", "![", "<", ">", "&", "&amp;", "\\", "  ", "https://e.com/x", "javascript:", "<script>", "word", " ", "\t", "    "];
  for (let round = 0; round < 300; round++) {
    let text = "";
    const length = 1 + Math.floor(random() * 40);
    for (let index = 0; index < length; index++) text += pieces[Math.floor(random() * pieces.length)];
    assertInert(text);
    const { container } = stream(text, () => 1 + Math.floor(random() * 4));
    assert.equal(serialize(container.childNodes), serialize(fresh(text).childNodes), JSON.stringify(text));
  }
});

test("deep nesting and huge replies neither throw nor overflow the stack", () => {
  for (const text of ["> ".repeat(20000) + "x", "- ".repeat(20000) + "x", "*".repeat(20000) + "x" + "*".repeat(20000), "[".repeat(20000) + "x" + "](https://e.com)".repeat(20000), "[a](".repeat(5000), "![" + "*a ".repeat(50000) + "](https://e.com/i.png)"]) {
    const container = fresh(text);
    let depth = 0;
    for (let node = container; node.childNodes.length; node = node.childNodes.find((child) => child instanceof FakeElement) || { childNodes: [] }) depth++;
    assert.ok(depth < 80, `${depth} levels from ${text.slice(0, 20)}…`);
  }
  // Nesting up to the limits is kept.
  assert.equal(html("> > > deep"), "<blockquote><blockquote><blockquote><p>deep</p></blockquote></blockquote></blockquote>");
});

test("the fake DOM refuses markup parsing (so the renderer cannot be using it)", () => {
  const element = new FakeElement(doc, "div");
  assert.throws(() => (element.innerHTML = "<b>x</b>"), /never used/);
});
