"""What the web app's browser tests share: the Markdown and XSS fixtures of tests/js/fixtures,
the inertness check of rendered replies, QR decoding with zbarimg (Debian's zbar-tools), and
screenshots in light and dark at phone and desktop sizes. Used by test_web_browser.py (against
a real gateway) and test_web_modules.py (against web_standin.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "js" / "fixtures"
EVERY_CONSTRUCT = (FIXTURES / "every-construct.md").read_text()
XSS_CORPUS: list[str] = json.loads((FIXTURES / "xss-corpus.json").read_text())
PHONE = (390, 844)
DESKTOP = (1280, 900)

# What markdown.js may create inside a reply (its allowlist, plus the code block's head with the
# Copy button and the focusable code and table containers: tabindex, role), and what the chat
# page itself puts on a message (its time, the working dots, the note under it).
ALLOWED_TAGS = sorted({
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "del", "code", "pre", "br", "hr", "blockquote", "ul", "ol",
    "li", "table", "thead", "tbody", "tr", "th", "td", "a", "div", "span", "button", "time",
})
ALLOWED_ATTRIBUTES = sorted({
    "href", "title", "rel", "target", "class", "start", "type", "aria-label", "data-id", "aria-busy", "id", "tabindex", "role",
    "datetime", "aria-hidden", "hidden",
})

INERT_CHECK = """
const [root, allowedTags, allowedAttributes] = arguments;
const problems = [];
for (const element of root.querySelectorAll('*')) {
  const tag = element.tagName.toLowerCase();
  if (!allowedTags.includes(tag)) problems.push('element ' + tag);
  for (const attribute of element.attributes) {
    if (!allowedAttributes.includes(attribute.name)) problems.push(tag + ' attribute ' + attribute.name);
  }
  if (tag === 'a') {
    if (!['http:', 'https:', 'mailto:'].includes(new URL(element.href).protocol)) problems.push('link to ' + element.href);
    if (element.rel !== 'noopener noreferrer' || element.target !== '_blank') problems.push('link without rel/target ' + element.href);
  }
}
return problems;
"""


def assert_inert(driver, selector: str) -> None:  # noqa: ANN001
    """Nothing under `selector` is outside the allowlist, no payload ran (window.__xss), and the
    page fetched nothing from another origin (images are never loaded, frames never made)."""
    root = driver.find_element("css selector", selector)
    problems = driver.execute_script(INERT_CHECK, root, ALLOWED_TAGS, ALLOWED_ATTRIBUTES)
    assert problems == [], problems
    assert driver.execute_script("return window.__xss") is None, "a payload of the XSS corpus ran"
    origin = driver.execute_script("return location.origin")
    foreign = driver.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name).filter((n) => !n.startsWith(arguments[0]))", origin
    )
    assert foreign == [], foreign


def zbarimg() -> str:
    found = shutil.which("zbarimg")
    if not found:
        pytest.fail("zbarimg is required to decode QR codes (scripts/test.sh installs it: apt-get install zbar-tools)")
    return found


def decode_qr(png: bytes, directory: Path, name: str) -> str:
    """The text of the QR code in a PNG, read by zbarimg (the bytes as they are: -Sbinary)."""
    path = directory / f"{name}.png"
    path.write_bytes(png)
    result = subprocess.run([zbarimg(), "--quiet", "--raw", "-Sbinary", str(path)], capture_output=True, timeout=30)
    assert result.returncode == 0, f"zbarimg found no QR code in {path}: {result.stderr.decode(errors='replace')}"
    return result.stdout.decode("utf-8")


def color_scheme(driver, scheme: str) -> None:  # noqa: ANN001
    """prefers-color-scheme as the page sees it: light or dark."""
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]})


def scheme_screenshots(driver, directory: Path, name: str, capsys, settle: float = 0.2) -> None:  # noqa: ANN001
    """The page as it is, in light and dark, as <name>-<scheme>.png; left in light."""
    for scheme in ("light", "dark"):
        color_scheme(driver, scheme)
        time.sleep(settle)
        path = directory / f"{name}-{scheme}.png"
        driver.save_screenshot(str(path))
        with capsys.disabled():
            print(f"\n[web browser test] screenshot: {path}")
    color_scheme(driver, "light")


def theme_screenshots(driver, directory: Path, name: str, capsys, sizes=(("phone", PHONE), ("desktop", DESKTOP))) -> None:  # noqa: ANN001
    """The page in light and dark at each size, as <name>-<size>-<scheme>.png; the window is left at
    the last size, in light."""
    for size_name, (width, height) in sizes:
        driver.set_window_size(width, height)
        scheme_screenshots(driver, directory, f"{name}-{size_name}", capsys)


# Records, while a reply streams, what the streaming bubble shows (code blocks, whether the text
# after the fence has come, whether ``` shows as text) and every text of the live region.
RECORD_STREAMING = """
window.__states = [];
window.__announced = [];
const log = document.getElementById('messages');
new MutationObserver(() => {
  const text = log.querySelector('.message.agent.streaming .text');
  if (text) window.__states.push({ blocks: text.querySelectorAll('.code-block').length, quote: text.textContent.includes('A quote with'), fence: text.textContent.includes('```') });
}).observe(log, { subtree: true, childList: true, characterData: true });
const announcer = document.getElementById('reply-announcer');
new MutationObserver(() => window.__announced.push(announcer.textContent)).observe(announcer, { subtree: true, childList: true, characterData: true });
"""

# The HTML markdown.js makes of a whole text, in the page (the module the app itself loaded).
RENDER_WHOLE = """
const [text, done] = arguments;
import('/assets/web/markdown.js').then(({ renderMarkdown }) => {
  const container = document.createElement('div');
  renderMarkdown(container, text);
  done(container.innerHTML);
}, (error) => done('import failed: ' + error));
"""


def check_streamed_markdown(driver, reply, agent_name: str) -> None:  # noqa: ANN001
    """The reply (streamed while RECORD_STREAMING watched) ends as EVERY_CONSTRUCT rendered at once,
    its open code fence was a code block mid-stream, and the live region spoke once."""
    rendered = reply.find_element("css selector", ".text").get_attribute("innerHTML")
    whole = driver.execute_async_script(RENDER_WHOLE, EVERY_CONSTRUCT.strip())
    assert rendered == whole, "the streamed reply does not end as the whole text rendered at once"
    states = driver.execute_script("return window.__states")
    assert len(states) > 5, f"only {len(states)} states while streaming: the reply did not arrive in small deltas"
    assert any(state["blocks"] == 1 and not state["quote"] for state in states), "the open code fence was not a code block mid-stream"
    assert not any(state["fence"] for state in states), "``` showed as text mid-stream"
    assert "streaming" not in reply.get_attribute("class") and reply.get_attribute("aria-busy") is None
    announced = [text for text in driver.execute_script("return window.__announced") if text]
    assert len(announced) == 1 and announced[0].startswith(f"{agent_name} replied: Release notes for Gateway"), announced
    counts = driver.execute_script(
        """
        const root = arguments[0].querySelector('.text');
        const count = (selector) => root.querySelectorAll(selector).length;
        return [count('h1'), count('h2'), count('h3'), count('strong'), count('em'), count('del'), count(':not(pre) > code'),
                count('.code-block pre code.language-python'), count('.code-block button.copy-code'), count('ul ul li'), count('ol > li'),
                count('blockquote'), count('table th'), count('table td'), count('a[target="_blank"][rel="noopener noreferrer"]'),
                count('a.image-link'), count('img'), count('hr')];
        """,
        reply,
    )
    assert counts == [1, 1, 1, 3, 3, 1, 3, 1, 1, 1, 3, 1, 3, 6, 5, 1, 0, 1], counts
