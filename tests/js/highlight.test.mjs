// Unit tests of the web app's syntax highlighter (Sources/GatewayWeb/Assets/highlight.js) and of
// its use by the Markdown renderer for fenced code blocks.
// Run with `node --test tests/js/` (scripts/test.sh does).
import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeDocument, serialize } from "./fake-dom.mjs";
import { TOKEN_KINDS, canHighlight, highlight } from "../../Sources/GatewayWeb/Assets/highlight.js";
import { buildNodes, parseMarkdown, renderMarkdown } from "../../Sources/GatewayWeb/Assets/markdown.js";

const doc = new FakeDocument();
const joined = (tokens) => tokens.map((token) => token.text).join("");
const kinds = (tokens) => new Set(tokens.map((token) => token.class).filter(Boolean));
/** The texts of the tokens of one kind. */
const texts = (tokens, kind) => tokens.filter((token) => token.class === kind).map((token) => token.text);

// A sample of each language family, the labels that name it, and the kinds it must show.
const SAMPLES = [
  {
    labels: ["javascript", "js", "ts", "typescript"],
    code: 'const greet = (name) => `hi ${name}`; // say hi\n/* block */ function add(a, b) { return a + 0x1f + "s"; }\nlet seen: Set<string> = new Set();',
    expect: { keyword: ["const", "function", "return", "new", "let"], string: ['"s"'], number: ["0x1f"], comment: ["// say hi", "/* block */"], function: ["add", "Set"], type: ["Set", "string"] },
  },
  { labels: ["json"], code: '{"name": "gateway", "port": 8080, "tls": false, "tags": null}', expect: { type: ['"name"'], string: ['"gateway"'], number: ["8080"], keyword: ["false", "null"] } },
  {
    labels: ["python", "py"],
    code: '@cache\ndef area(r: float) -> float:\n    """The area."""\n    return 3.14 * r ** 2  # pi r squared\nprint(f"{area(2)}")',
    expect: { meta: ["@cache"], keyword: ["def", "return"], function: ["area", "print"], type: ["float"], string: ['"""The area."""', 'f"{area(2)}"'], number: ["3.14", "2"], comment: ["# pi r squared"] },
  },
  {
    labels: ["swift"],
    code: '@MainActor\nstruct Greeter {\n    let name: String // who\n    func greet() async -> String { "Hello, \\(name)" + 1.description }\n}',
    expect: { meta: ["@MainActor"], keyword: ["struct", "let", "func", "async"], type: ["Greeter", "String"], function: ["greet"], string: ['"Hello, \\(name)"'], number: ["1"], comment: ["// who"] },
  },
  {
    labels: ["bash", "sh", "shell", "zsh", "console"],
    code: '$ export PATH="$HOME/bin:$PATH" # more tools\nif [ -f ~/.profile ]; then source ~/.profile; fi\necho \'done\' $USER 42 --if-exists',
    expect: { meta: ["$", "$USER"], keyword: ["export", "if", "then", "source", "fi"], string: ['"$HOME/bin:$PATH"', "'done'"], comment: ["# more tools"], number: ["42"] },
  },
  {
    labels: ["go", "golang"],
    code: 'package main\n\n// main prints.\nfunc main() {\n\tvar n int = 3\n\tfmt.Println(`raw`, "s", n)\n}',
    expect: { keyword: ["package", "func", "var"], type: ["int"], function: ["main", "Println"], string: ["`raw`", '"s"'], number: ["3"], comment: ["// main prints."] },
  },
  {
    labels: ["rust", "rs"],
    code: "#[derive(Debug)]\nfn first<'a>(s: &'a str) -> Option<char> {\n    println!(\"{}\", 'x'); // print\n    s.chars().next()\n}",
    expect: { meta: ["#[derive(Debug)]"], keyword: ["fn"], type: ["'a", "str", "Option", "char"], function: ["first", "println!", "chars"], string: ['"{}"', "'x'"], comment: ["// print"] },
  },
  {
    labels: ["c", "cpp", "c++", "java", "kotlin", "csharp"],
    code: '#include <stdio.h>\n/* entry */\nint main(void) {\n    printf("%d\\n", 42); // print\n    return 0;\n}\n@Override public String toString() { return null; }',
    expect: { meta: ["#include <stdio.h>", "@Override"], keyword: ["return", "public", "null"], type: ["int", "void", "String"], function: ["main", "printf", "toString"], string: ['"%d\\n"'], number: ["42", "0"], comment: ["/* entry */", "// print"] },
  },
  {
    labels: ["html", "xml"],
    code: '<!DOCTYPE html>\n<a href="https://example.com" class=\'x\'>Tom &amp; "Jerry"</a><!-- note -->',
    expect: { meta: ["<!DOCTYPE html>", "&amp;"], keyword: ["<a", ">", "</a"], type: ["href", "class"], string: ['"https://example.com"', "'x'"], comment: ["<!-- note -->"] },
  },
  {
    labels: ["css"],
    code: '@media (min-width: 40rem) {\n  a:hover { color: #2f52c9; margin: 0 1.5em !important; } /* links */\n  .x { background: rgb(0 0 0 / 50%); font-family: "Menlo"; }\n}',
    expect: { keyword: ["@media", "!important"], type: ["color", "margin", "background", "font-family"], number: ["#2f52c9", "1.5em", "50%"], function: ["rgb"], string: ['"Menlo"'], comment: ["/* links */"] },
  },
  {
    labels: ["sql"],
    code: "SELECT name, COUNT(*) FROM users WHERE name = 'O''Brien' AND age > 30; -- adults\ncreate table t (id integer primary key);",
    expect: { keyword: ["SELECT", "FROM", "WHERE", "AND", "create", "table", "primary", "key"], function: ["COUNT"], string: ["'O''Brien'"], number: ["30"], comment: ["-- adults"], type: ["integer"] },
  },
  {
    labels: ["yaml", "yml"],
    code: '---\nname: gateway # the app\nreplicas: 3\ntls: true\nimage: "gateway:1.0"\nbase: &base\n  port: 8080',
    expect: { meta: ["---", "&base"], type: ["name", "replicas", "tls", "image", "base", "port"], number: ["3", "8080"], keyword: ["true"], string: ['"gateway:1.0"'], comment: ["# the app"] },
  },
  {
    labels: ["diff"],
    code: "diff --git a/x.txt b/x.txt\n--- a/x.txt\n+++ b/x.txt\n@@ -1,2 +1,2 @@\n same\n-old line\n+new line",
    expect: { meta: ["diff --git a/x.txt b/x.txt", "--- a/x.txt", "+++ b/x.txt", "@@ -1,2 +1,2 @@"], removed: ["-old line"], added: ["+new line"] },
  },
];

test("each language family shows its keywords, strings, numbers, comments and names", () => {
  for (const { labels, code, expect } of SAMPLES) {
    for (const label of labels) {
      assert.ok(canHighlight(label), label);
      const tokens = highlight(code, label);
      assert.equal(joined(tokens), code, label);
      for (const [kind, expected] of Object.entries(expect)) {
        for (const text of expected) assert.ok(texts(tokens, kind).includes(text), `${label}: ${JSON.stringify(text)} is no ${kind}: ${JSON.stringify(tokens)}`);
      }
    }
  }
  // Plain text stays plain: no keyword in a string or comment, no string in HTML text.
  assert.deepEqual(texts(highlight('x = "if else" # for', "python"), "keyword"), []);
  assert.deepEqual(texts(highlight('<p>say "hi"</p>', "html"), "string"), []);
  assert.deepEqual(texts(highlight("ls --if-exists -for", "bash"), "keyword"), []);
  // Tokens are never empty, only the known kinds, and plain runs are joined.
  for (const { labels, code } of SAMPLES) {
    const tokens = highlight(code, labels[0]);
    for (const [index, token] of tokens.entries()) {
      assert.ok(token.text.length > 0);
      assert.ok(token.class === "" || TOKEN_KINDS.includes(token.class), token.class);
      if (index > 0) assert.ok(token.class || tokens[index - 1].class, "two plain tokens in a row");
    }
  }
});

test("an unknown language or no label is one plain token", () => {
  for (const label of ["", "brainfuck", "text", "plaintext", undefined, null, "__proto__", "constructor"]) {
    assert.equal(canHighlight(label), false, String(label));
    assert.deepEqual(highlight("if (x) { return 'y'; } // z", label), [{ class: "", text: "if (x) { return 'y'; } // z" }]);
  }
  assert.deepEqual(highlight("", "js"), []);
  assert.equal(canHighlight("Python"), true); // labels are not case-sensitive
});

// A small deterministic generator (no Math.random: failures must reproduce).
function generator(seed) {
  return () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
}

test("unterminated strings and comments, huge lines and random bytes neither throw nor lose text", () => {
  const random = generator(4242);
  const line = 200 * 1024;
  const inputs = [
    '"unterminated', "'unterminated\nnext line", "`unterminated template", '"""unterminated\ndocstring', "/* unterminated\ncomment", "<!-- open",
    '"\\', "\\", "'", "x = '", "#", "@", "$", "${", "<", "</", "&", "---", "+", "-", "@@", "0x", ".5e", "1e+", "'a", "r#\"", "\n\n\n", "\r\n\r\n", "\u2028",
    "a".repeat(line), '"'.repeat(line), "'".repeat(line), "\\".repeat(line), "/*".repeat(line / 2), "1".repeat(line) + "x", " ".repeat(line) + "(",
    "if (".repeat(line / 4), "a:".repeat(line / 2), '="'.repeat(line / 2), "<a ".repeat(line / 3), '"\\a'.repeat(line / 3), "'a'".repeat(line / 3), "-1.5e".repeat(line / 5),
  ];
  // Random bytes as text (lone surrogates included), and random pieces of code.
  const pieces = ['"', "'", "`", "\\", "/*", "*/", "//", "#", "<!--", "-->", "<", ">", "=", "@", "$", "{", "}", "(", "\n", " ", "if", "x1", "0x", "9", ".", ":", "-", "+", "&amp;", '"""'];
  for (let round = 0; round < 40; round++) {
    let bytes = "";
    for (let index = 0; index < 300; index++) bytes += String.fromCharCode(Math.floor(random() * 65536));
    inputs.push(bytes);
    let code = "";
    for (let index = 0; index < 200; index++) code += pieces[Math.floor(random() * pieces.length)];
    inputs.push(code);
  }
  const labels = SAMPLES.map((sample) => sample.labels[0]);
  for (const label of labels) {
    for (const input of inputs) {
      const started = performance.now();
      const tokens = highlight(input, label, { cache: false });
      const took = performance.now() - started;
      assert.equal(joined(tokens), input, `${label}: ${JSON.stringify(input.slice(0, 40))}`);
      // Linear: a 200 KB line takes milliseconds; a quadratic scan would take minutes.
      assert.ok(took < 2000, `${label}: ${took.toFixed(0)} ms for ${JSON.stringify(input.slice(0, 20))}… (${input.length} characters)`);
    }
  }
  // The 200 KB line is still highlighted (not given up on): each quote pair is a string.
  assert.equal(highlight('"'.repeat(line), "js", { cache: false }).length, line / 2);
  // Code beyond the size limit is plain text.
  const huge = "x = 1\n".repeat(100000);
  assert.deepEqual(highlight(huge, "python"), [{ class: "", text: huge }]);
});

test("a growing block is tokenized again from its last line, with the same result as from scratch", () => {
  for (const { labels, code } of SAMPLES) {
    for (let length = 1; length <= code.length; length++) {
      const prefix = code.slice(0, length);
      assert.deepEqual(highlight(prefix, labels[0]), highlight(prefix, labels[0], { cache: false }), `${labels[0]}: ${JSON.stringify(prefix)}`);
    }
    // Shrinking (a held-back backtick) and growing again.
    assert.deepEqual(highlight(code.slice(0, -3), labels[0]), highlight(code.slice(0, -3), labels[0], { cache: false }));
  }
  // Multi-line tokens that open on an earlier line and close later.
  const code = 'a = """one\ntwo\nthree""" + 1\nb = 2 # c\n';
  for (let length = 1; length <= code.length; length++) {
    assert.deepEqual(highlight(code.slice(0, length), "python"), highlight(code.slice(0, length), "python", { cache: false }));
  }
  // What a caller does with the tokens does not change the next answer.
  const first = highlight("let x = 1", "js");
  first.pop();
  assert.equal(joined(highlight("let x = 1", "js")), "let x = 1");
});

// MARK: In the Markdown renderer

test("a ```python fence becomes spans with token classes around the code's text", () => {
  const [block] = parseMarkdown("```python\ndef f():\n    return 'x'  # y\n```");
  assert.equal(block.tag, "codeblock");
  assert.equal(block.text, "def f():\n    return 'x'  # y");
  assert.deepEqual(block.children, [
    { tag: "span", attrs: { class: "tok-keyword" }, children: ["def"] },
    " ",
    { tag: "span", attrs: { class: "tok-function" }, children: ["f"] },
    "():\n    ",
    { tag: "span", attrs: { class: "tok-keyword" }, children: ["return"] },
    " ",
    { tag: "span", attrs: { class: "tok-string" }, children: ["'x'"] },
    "  ",
    { tag: "span", attrs: { class: "tok-comment" }, children: ["# y"] },
  ]);
  const [wrapper] = buildNodes([block], doc);
  assert.equal(wrapper.textContent.endsWith(block.text), true);
  assert.match(serialize(wrapper), /<code class="language-python"><span class="tok-keyword">def<\/span> <span class="tok-function">f<\/span>/);
  // An unknown language and indented code are plain text, as before.
  assert.deepEqual(parseMarkdown("```brainfuck\n+[-]\n```")[0], { tag: "codeblock", language: "brainfuck", text: "+[-]", closed: true });
  assert.equal(serialize(buildNodes(parseMarkdown("    if x"), doc)).includes("<span class=\"tok-"), false);
});

test("code that looks like markup stays inert text in highlighted blocks", () => {
  const samples = [
    ["html", '<script>alert(1)</script><img src=x onerror="alert(1)"><a href="javascript:alert(1)">x</a>'],
    ["js", 'el.innerHTML = "</code></pre><script>alert(1)</script>"; // <iframe src=//evil>'],
    ["python", "'''<style>*{display:none}</style>''' # <svg onload=alert(1)>"],
    ["css", 'a { background: url("javascript:alert(1)"); } </style><script>x</script>'],
    ["diff", "+<script>alert(1)</script>\n-<b onmouseover=alert(1)>"],
  ];
  for (const [label, code] of samples) {
    const container = doc.createElement("div");
    renderMarkdown(container, `\`\`\`${label}\n${code}\n\`\`\``);
    const codeElement = [...container.descendants()].find((element) => element.tagName === "code");
    assert.equal(codeElement.textContent, code, label);
    for (const element of codeElement.descendants()) {
      assert.equal(element.tagName, "span", label);
      assert.deepEqual([...element.attributes.keys()], ["class"], label);
      assert.ok(TOKEN_KINDS.map((kind) => `tok-${kind}`).includes(element.getAttribute("class")), label);
    }
    const markup = serialize(container.childNodes);
    assert.doesNotMatch(markup, /<(script|img|iframe|svg|style|a)\b/i, markup);
    assert.doesNotMatch(markup, /\son[a-z]+="/i, markup);
  }
  // The DOM builder refuses spans the highlighter does not make.
  for (const attrs of [{ class: "evil" }, { class: "tok-keyword x" }, { style: "color: red" }, { onclick: "x" }]) {
    assert.throws(() => buildNodes([{ tag: "span", attrs, children: ["x"] }], doc), /not allowed|token/, JSON.stringify(attrs));
  }
});

test("a code block that grows while a reply streams keeps its head and the tokens already shown", () => {
  const reply = "Here:\n\n```js\nconst a = 1; // one\nfunction f(x) {\n  return `t${x}`;\n}\n/* end */\n```\n\nDone.";
  const container = doc.createElement("div");
  let wrapper = null;
  let firstToken = null;
  const start = reply.indexOf("```js\n") + 6;
  for (let length = 1; length <= reply.length; length++) {
    const text = reply.slice(0, length);
    const streaming = length < reply.length;
    renderMarkdown(container, text, { streaming });
    const fresh = doc.createElement("div");
    renderMarkdown(fresh, text, { streaming });
    assert.equal(serialize(container.childNodes), serialize(fresh.childNodes), JSON.stringify(text));
    const block = container.childNodes[1];
    if (length > start + 6 && length < reply.indexOf("\n```\n\nDone")) {
      // The same wrapper, Copy button and first token element all the way while the code grows.
      wrapper ??= block;
      firstToken ??= block.childNodes[1].childNodes[0].childNodes[0];
      assert.equal(block, wrapper, JSON.stringify(text));
      assert.equal(block.childNodes[1].childNodes[0].childNodes[0], firstToken, JSON.stringify(text));
    }
  }
  assert.ok(wrapper && firstToken);
});

test("Copy copies the plain code, also after the block grew", async () => {
  const container = doc.createElement("div");
  renderMarkdown(container, "```python\nx = 1", { streaming: true });
  renderMarkdown(container, "```python\nx = 1\ny = 'two'  # three\n```");
  const button = [...container.descendants()].find((element) => element.tagName === "button");
  const copied = [];
  const saved = Object.fromEntries(["navigator", "window"].map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)]));
  Object.defineProperty(globalThis, "navigator", { configurable: true, value: { clipboard: { writeText: async (text) => copied.push(text) } } });
  Object.defineProperty(globalThis, "window", { configurable: true, value: { isSecureContext: true } });
  try {
    button.listeners[0][1]();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    for (const [name, descriptor] of Object.entries(saved)) {
      if (descriptor) Object.defineProperty(globalThis, name, descriptor);
      else delete globalThis[name];
    }
    clearTimeout(button.resetTimer);
  }
  assert.deepEqual(copied, ["x = 1\ny = 'two'  # three"]);
  assert.equal(button.textContent, "Copied");
});
