// Syntax highlighting of fenced code blocks in agent replies (markdown.js).
//
// Hand-written rather than a vendored library (Prism, highlightjs.org's): markdown.js holds to
// "no third-party code, no build step"; the page's Content-Security-Policy forbids inline
// styles, so the output is only token kinds, which become class names (`tok-keyword` …)
// coloured by app.css; and it is a plain function from text to tokens, with no DOM, so node's
// tests run it.
//
// `highlight(code, label)` returns `[{class, text}]`: the texts joined are the code exactly, none
// is empty, and `class` is a kind of TOKEN_KINDS or "" for plain text. A language is a list of
// sticky patterns tried at the current position (the first that matches wins), then a word
// (classified by the language's word lists, or as a call when "(" follows), else one character
// of plain text. Every pattern either always succeeds once its first characters match
// (unterminated strings and comments run to the end of the line or of the code) or fails where
// the word or space that is taken next ends, so the scan is linear in the length of the code.
// Should anything throw all the same, the code is shown as plain text.
//
// No pattern looks past the end of the line it ends on, so a token that ends before the last
// line of a text is the same in any longer text: while a reply streams, a growing code block is
// tokenized again only from its last line (`resume`).

/** The kinds of token, in app.css as `.tok-<kind>` with a colour variable `--tok-<kind>`. */
export const TOKEN_KINDS = Object.freeze(["keyword", "string", "number", "comment", "function", "type", "meta", "added", "removed"]);

// Beyond this the code is shown plain: the block would hold hundreds of thousands of elements.
const MAX_LENGTH = 512 * 1024;

// Patterns several languages share (sources for one sticky regular expression a language; no
// capturing groups: the groups of the combined expression say which rule matched).
const R = String.raw;
const SLASH_COMMENT = R`\/\/[^\n]*`;
const BLOCK_COMMENT = R`\/\*[\s\S]*?(?:\*\/|(?![\s\S]))`;
const HASH_COMMENT = R`#[^\n]*`;
/** A string to the closing quote (or only if closed, with `closed`), or else to the end of the line. */
const quoted = (quote, closed) => R`${quote}[^${quote}\\\n]*(?:\\[\s\S][^${quote}\\\n]*)*${quote}${closed ? "" : "?"}`;
const DQ = quoted('"');
const SQ = quoted("'");
const tripleQuoted = (quote) => R`${quote}[\s\S]*?(?:${quote}|(?![\s\S]))`;
const NUMBER = R`(?:0[xX][\da-fA-F_]+|0[bBoO][\d_]+|(?:\d[\d_]*(?:\.\d[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)[a-zA-Z]*`;
const WORD = R`[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*`;

const words = (text) => new Set(text.split(/\s+/).filter(Boolean));

/**
 * A language: `rules` are [kind, pattern] pairs tried in order ("" kind: plain text that no later
 * rule may take apart), then a word matching `word`: a keyword, a type (in `types`, or, with
 * `caps`, a capitalised name with a lower-case letter), or a function when "(" follows.
 */
function language({ rules, word = WORD, keywords = "", types = "", caps = false, calls = true, ignoreCase = false }) {
  const sources = rules.map(([, pattern]) => pattern).concat(word, R`[^\S\n]+`);
  return {
    pattern: new RegExp(sources.map((source) => `(${source})`).join("|"), "my"),
    kinds: rules.map(([kind]) => kind),
    keywords: words(keywords),
    types: words(types),
    caps,
    calls,
    ignoreCase,
  };
}

// "(" after a word, or after its generic arguments ("first<'a>(", "max<T>(").
const CALL = /[ \t]*(?:<[\w ,:'&]{1,60}>[ \t]*)?\(/y;

function wordKind(lang, word, text, end) {
  const key = lang.ignoreCase ? word.toLowerCase() : word;
  if (lang.keywords.has(key)) return "keyword";
  if (lang.types.has(key)) return "type";
  CALL.lastIndex = end;
  if (lang.calls && CALL.test(text)) return "function";
  if (lang.caps && word[0] >= "A" && word[0] <= "Z" && word !== word.toUpperCase()) return "type";
  return "";
}

const JS = language({
  rules: [["comment", SLASH_COMMENT], ["comment", BLOCK_COMMENT], ["string", R`\`[^\`\\]*(?:\\[\s\S][^\`\\]*)*\`?`], ["string", DQ], ["string", SQ], ["number", NUMBER], ["meta", R`@[A-Za-z_]\w*`]],
  keywords: `break case catch class const continue debugger default delete do else export extends finally for function if import in
    instanceof let new return super switch this throw try typeof var void while with yield async await of static as from
    interface enum implements private protected public readonly declare namespace abstract keyof satisfies null undefined true false`,
  types: "string number boolean any unknown never object symbol bigint",
  caps: true,
});

const JSON_LANG = language({
  rules: [["type", R`${quoted('"', true)}(?=[ \t]*:)`], ["string", DQ], ["number", NUMBER], ["comment", SLASH_COMMENT], ["comment", BLOCK_COMMENT]],
  keywords: "true false null",
  calls: false,
});

const PYTHON = language({
  rules: [["comment", HASH_COMMENT], ["string", R`(?:[rRbBuUfF]{1,2})?(?:${tripleQuoted('"""')}|${tripleQuoted("'''")}|${DQ}|${SQ})`], ["number", NUMBER], ["meta", R`@[A-Za-z_][\w.]*`]],
  word: R`[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*`,
  keywords: `False None True and as assert async await break class continue def del elif else except finally for from global if
    import in is lambda nonlocal not or pass raise return try while with yield match case self`,
  types: "int float complex str bool bytes bytearray list dict set frozenset tuple object",
  caps: true,
});

const SWIFT = language({
  rules: [["comment", SLASH_COMMENT], ["comment", BLOCK_COMMENT], ["string", tripleQuoted('"""')], ["string", DQ], ["number", NUMBER], ["meta", R`[@#][A-Za-z_]\w*`]],
  keywords: `associatedtype class deinit enum extension fileprivate func import init inout internal let open operator private
    precedencegroup protocol public rethrows static struct subscript typealias var break case catch continue default defer do
    else fallthrough for guard if in repeat return throw throws switch where while as false is nil self Self super true try
    async await actor some any nonisolated isolated mutating nonmutating override required convenience final lazy weak unowned
    willSet didSet get set consuming borrowing sending`,
  caps: true,
});

const SHELL = language({
  rules: [
    ["comment", R`(?<![^\s;&|()])#[^\n]*`], ["meta", R`^\$(?= )`], ["string", DQ], ["string", R`'[^'\n]*'?`], // a comment, a prompt
    ["meta", R`\$(?:\{[^}\n]*\}?|[A-Za-z_]\w*|[\d@#?$!*-])`], ["", R`(?<![\w-])--?[A-Za-z][\w-]*`], ["number", NUMBER], // variables, flags
  ],
  word: R`[A-Za-z_][\w-]*`,
  keywords: `if then else elif fi case esac for while until do done in function select return exit export local readonly declare
    unset source alias set shift break continue trap eval exec time`,
  calls: false,
});

const GO = language({
  rules: [["comment", SLASH_COMMENT], ["comment", BLOCK_COMMENT], ["string", R`\`[^\`]*\`?`], ["string", DQ], ["string", SQ], ["number", NUMBER]],
  keywords: `break case chan const continue default defer else fallthrough for func go goto if import interface map package
    range return select struct switch type var true false nil iota`,
  types: `bool byte complex64 complex128 error float32 float64 int int8 int16 int32 int64 rune string uint uint8 uint16 uint32
    uint64 uintptr any comparable`,
});

const RUST = language({
  rules: [
    ["comment", SLASH_COMMENT], ["comment", BLOCK_COMMENT], ["string", DQ], ["string", R`'(?:\\[^\n]{1,10}?|[^\\'\n])'`], // a character
    ["type", R`'[A-Za-z_]\w*(?![\w'])`], ["number", NUMBER], ["meta", R`#!?\[[^\]\n]*\]?`], // a lifetime, an attribute
    ["function", R`[A-Za-z_]\w*!(?=[ \t]*[(\[{])`], // a macro
  ],
  word: R`[A-Za-z_]\w*`,
  keywords: `as async await break const continue crate dyn else enum extern false fn for if impl in let loop match mod move mut
    pub ref return self Self static struct super trait true type unsafe use where while macro_rules`,
  types: "i8 i16 i32 i64 i128 isize u8 u16 u32 u64 u128 usize f32 f64 bool char str",
  caps: true,
});

// C, C++, Java, Kotlin and C# in one table: their words rarely mean something else in another.
const C_FAMILY = language({
  rules: [
    ["comment", SLASH_COMMENT], ["comment", BLOCK_COMMENT], ["meta", R`^[ \t]*#[^\n]*`], ["string", tripleQuoted('"""')], // preprocessor
    ["string", DQ], ["string", SQ], ["number", NUMBER], ["meta", R`@[A-Za-z_][\w.]*`], // annotations
  ],
  keywords: `if else for while do switch case default break continue return goto sizeof typedef struct union enum static const
    extern volatile register inline auto signed unsigned class public private protected virtual override template typename
    namespace using new delete this throw throws try catch finally operator friend explicit constexpr nullptr noexcept final
    abstract extends implements interface package import instanceof super synchronized transient native assert var record
    sealed fun val when is in object companion internal lateinit suspend typealias readonly base ref params async await
    foreach lock unsafe true false null`,
  types: `void int char short long float double bool boolean byte string size_t int8_t int16_t int32_t int64_t uint8_t uint16_t
    uint32_t uint64_t`,
  caps: true,
});

const MARKUP = language({
  rules: [
    ["comment", R`<!--[\s\S]*?(?:-->|(?![\s\S]))`], ["meta", R`<[!?][^>\n]*>?`], ["keyword", R`<\/?[A-Za-z][\w:.-]*|\/?>`], // tags
    ["type", R`[A-Za-z_:][\w:.-]*(?![\w:.-])(?==)`], ["string", R`(?<==)(?:"[^"]*"?|'[^']*'?)`], // attributes
    ["meta", R`&(?:#\d+|#x[\da-fA-F]+|[A-Za-z]\w*);`], // entities
  ],
  word: R`[A-Za-z_:][\w:.-]*`,
  calls: false,
});

const CSS = language({
  rules: [
    ["comment", BLOCK_COMMENT], ["string", DQ], ["string", SQ], ["keyword", R`@[\w-]+|!important`],
    ["type", R`-{0,2}[A-Za-z_][\w-]*(?![\w-])(?=[ \t]*:(?:[ \t]|$))`], // a property ("a:hover" is none)
    ["number", R`#[\da-fA-F]{3,8}(?![\w-])|${NUMBER}%?`],
  ],
  word: R`-{0,2}[A-Za-z_][\w-]*`,
});

const SQL = language({
  rules: [["comment", R`--[^\n]*`], ["comment", BLOCK_COMMENT], ["string", R`'[^']*(?:''[^']*)*'?`], ["", DQ], ["", R`\`[^\`\n]*\`?`], ["number", NUMBER]],
  word: R`[A-Za-z_][\w$]*`,
  keywords: `select from where and or not insert into values update set delete create table drop alter add column index primary
    key foreign references join inner left right outer full cross on as group by order having limit offset distinct union all
    exists in is null like ilike between case when then else end begin commit rollback transaction view with returning default
    unique check constraint if asc desc cascade grant revoke true false`,
  types: `int integer bigint smallint serial bigserial text varchar char boolean bool date time timestamp timestamptz interval
    numeric decimal real double float blob json jsonb uuid`,
  ignoreCase: true,
});

const YAML = language({
  rules: [
    ["comment", R`(?<![^\s])#[^\n]*`], ["meta", R`^(?:---|\.\.\.)(?=\s|$)`], ["type", R`[A-Za-z_][\w.-]*(?![\w.-])(?=[ \t]*:(?:[ \t]|$))`], // a key
    ["string", DQ], ["string", R`'[^'\n]*(?:''[^'\n]*)*'?`], ["meta", R`[&*][A-Za-z_][\w-]*`], ["number", NUMBER], // anchors, aliases
  ],
  word: R`[A-Za-z_][\w.-]*`,
  keywords: "true false null",
  calls: false,
  ignoreCase: true,
});

const DIFF = language({
  rules: [["meta", R`^(?:diff |index |\+\+\+|---|@@)[^\n]*`], ["added", R`^[+>][^\n]*`], ["removed", R`^[-<][^\n]*`]],
  word: R`[^\n]+`,
  calls: false,
});

/** The languages by fence label. */
const LANGUAGES = new Map(
  [
    [JS, "javascript js jsx mjs cjs typescript ts tsx"], [JSON_LANG, "json jsonc json5"], [PYTHON, "python py python3 py3"], [SWIFT, "swift"],
    [SHELL, "bash sh shell zsh console shell-session"], [GO, "go golang"], [RUST, "rust rs"],
    [C_FAMILY, "c h cpp c++ cc cxx hpp objc java kotlin kt kts csharp cs c#"], [MARKUP, "html htm xhtml xml svg"], [CSS, "css"],
    [SQL, "sql postgresql postgres mysql sqlite"], [YAML, "yaml yml"], [DIFF, "diff patch"],
  ].flatMap(([lang, labels]) => [...words(labels)].map((label) => [label, lang])),
);

/** Whether code with this fence label is highlighted. */
export function canHighlight(label) {
  return LANGUAGES.has(String(label ?? "").toLowerCase());
}

/** Tokens of `text` from `start` on, after `tokens` (the tokens of what comes before). */
function tokenize(text, lang, start, tokens) {
  const { pattern, kinds } = lang;
  let plain = tokens.length && !tokens[tokens.length - 1].class ? tokens.pop().text : "";
  let index = start;
  while (index < text.length) {
    pattern.lastIndex = index;
    const match = pattern.exec(text);
    let length = 1;
    let kind = "";
    if (match && match[0].length) {
      length = match[0].length;
      let group = 1;
      while (match[group] === undefined) group++;
      if (group <= kinds.length) kind = kinds[group - 1];
      else if (group === kinds.length + 1) kind = wordKind(lang, match[0], text, index + length);
    }
    const piece = text.slice(index, index + length);
    if (kind) {
      if (plain) tokens.push({ class: "", text: plain });
      plain = "";
      tokens.push({ class: kind, text: piece });
    } else plain += piece;
    index += length;
  }
  if (plain) tokens.push({ class: "", text: plain });
  return tokens;
}

/** The tokens of `text`, which starts with `entry.text`: the entry's up to its last line are kept. */
function resume(entry, text, lang) {
  const lastLine = entry.text.lastIndexOf("\n");
  let end = 0;
  let kept = 0;
  while (kept < entry.tokens.length && end + entry.tokens[kept].text.length <= lastLine) end += entry.tokens[kept++].text.length;
  return tokenize(text, lang, end, entry.tokens.slice(0, kept));
}

const recent = []; // the last texts tokenized: {lang, text, tokens}, newest last
const RECENT = 8;

/**
 * The tokens of `code` in the language of the fence label `label`: one plain token for a label
 * this highlighter does not know (none for empty code). `{cache: false}` tokenizes from scratch.
 */
export function highlight(code, label, options = {}) {
  const text = String(code ?? "");
  const lang = LANGUAGES.get(String(label ?? "").toLowerCase());
  if (!text) return [];
  if (!lang || text.length > MAX_LENGTH) return [{ class: "", text }];
  try {
    let base = null;
    if (options.cache !== false) {
      for (const entry of recent) if (entry.lang === lang && text.startsWith(entry.text) && entry.text.length > (base?.text.length ?? -1)) base = entry;
    }
    const tokens = base?.text.length === text.length ? base.tokens : base ? resume(base, text, lang) : tokenize(text, lang, 0, []);
    if (options.cache !== false && base?.tokens !== tokens) {
      recent.push({ lang, text, tokens });
      if (recent.length > RECENT) recent.shift();
    }
    return tokens.slice();
  } catch {
    return [{ class: "", text }];
  }
}
