"""The web app's pages checked by axe-core in Chromium, in light and dark, at phone and desktop sizes.

axe-core (Deque's accessibility engine) comes from PyPI's `axe-core-python`, pinned in
requirements.txt, which ships it as axe_core_python/axe.min.js; the test reads that file and
injects it with Selenium (no network, no Node). The pages are the app's own files served by
web_standin.py under the app's Content-Security-Policy, as in test_web_modules.py; no gateway
build is needed. Each page is checked in the state a person sees it:

- the landing page (the stand-in's copy of WebApp.landingPage, with the demo banner);
- the app signed out (the sign-in prompt), My agents and Devices;
- Devices with API keys listed (one used, one that expires with a name of 100 characters), then with a key just created and
  shown once and a Revoke confirmation open;
- the chat page after a reply with every Markdown construct (code block, tables, one wider than
  the screen, lists, links, quote) has streamed, and with the conversations panel open (phones
  fold it);
- the share dialog with its options, then with the invite link and its QR code;
- Shares, with an invite the user created (two guests, one with a long name) and a share they
  accepted, then with the invite's Revoke confirmation open.

Each state runs axe with prefers-color-scheme light and dark (Chromium's media emulation, as
web_checks.theme_screenshots does) at 390 px and 1280 px wide, with the rules tagged wcag2a,
wcag2aa, wcag21a, wcag21aa and best-practice. Then what axe 4.4 does not check (in light but
for the placeholders):

- keyboard: Tab through the page; every stop shows a focus ring (an outline of 2 px or more,
  WCAG 2.4.7) and is not hidden behind something else, such as the chat's sticky message box
  (2.4.11);
- targets: buttons, fields and links that are not part of a sentence are at least 24 by 24 px
  (2.5.8);
- reflow: the page does not scroll sideways (1.4.10); wide code and tables scroll inside the reply;
- placeholders (in both themes): their text is 4.5:1 against the field (1.4.3).

A test fails listing every finding: rule, impact, element (CSS selector), where (size, theme) and
what to fix. If axe cannot be loaded the test fails; it never skips. An exception for one rule on
one element, with the reason, goes in EXEMPT. axe's "needs review" results (colours it cannot
compute, such as text in the folded conversations panel) are summed up on the output and written
with the screenshots of every state to $GATEWAY_SCREENSHOT_DIR or .build/screenshots/web-a11y-<time>/.
"""

from __future__ import annotations

import importlib.util
import json
import re
import os
import time
from pathlib import Path

import pytest

from test_web_browser import launch_chromium, visible, wait
from test_web_modules import post, sign_in
from web_checks import DESKTOP, EVERY_CONSTRUCT, PHONE, REPO, color_scheme
from web_standin import StandInServer, now

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
SIZES = {"phone": PHONE, "desktop": DESKTOP}
SCHEMES = ("light", "dark")
# A table wider than a phone and than the desktop's reply bubble: it scrolls sideways.
WIDE_TABLE = (
    "\n\n| " + " | ".join(f"Column {n}" for n in range(1, 17)) + " |\n|" + "---|" * 16
    + "\n| " + " | ".join(f"value_{n:02}_of_the_table" for n in range(1, 17)) + " |\n"
)

# (rule id, target selector) -> why that rule does not apply to that element. Only for a finding
# that is a false positive; never a whole rule. Empty: nothing needs excusing today.
EXEMPT: dict[tuple[str, str], str] = {}


def axe_source() -> str:
    """axe.min.js as axe-core-python ships it; a failure (not a skip) when it is missing."""
    spec = importlib.util.find_spec("axe_core_python")
    if spec is None or not spec.origin:
        pytest.fail("axe-core-python is not installed: pip install -r tests/python/requirements.txt", pytrace=False)
    path = Path(spec.origin).parent / "axe.min.js"
    if not path.is_file():
        pytest.fail(f"axe-core-python has no {path.name} at {path}", pytrace=False)
    return path.read_text(encoding="utf-8")


# Runs axe on the whole document and returns what the report needs, small enough to pass back.
RUN_AXE = """
const [options, done] = arguments;
const nodes = (rule) => rule.nodes.map((node) => ({ target: node.target.map(String), summary: node.failureSummary || '', html: node.html.slice(0, 200) }));
const rules = (list) => list.map((rule) => ({ id: rule.id, impact: rule.impact, help: rule.help, nodes: nodes(rule) }));
window.axe.run(document, options).then(
  (results) => done({
    version: window.axe.version,
    rules: results.passes.length + results.violations.length + results.incomplete.length + results.inapplicable.length,
    violations: rules(results.violations),
    incomplete: rules(results.incomplete),
  }),
  (error) => done({ error: String((error && error.stack) || error) }),
);
"""

# A short CSS path to an element, for the report.
DESCRIBE = """
window.__describe = (element) => {
  const parts = [];
  for (let node = element; node && node.nodeType === 1 && parts.length < 4; node = node.parentElement) {
    if (node.id) { parts.unshift('#' + node.id); break; }
    const classes = [...node.classList].slice(0, 2).map((name) => '.' + name).join('');
    parts.unshift(node.tagName.toLowerCase() + classes);
  }
  return parts.join(' > ');
};
"""

# The focused element: whether it shows a focus ring and whether any of it can be seen (its
# centre or a corner is the element itself, not something drawn over it).
FOCUSED = DESCRIBE + """
const element = document.activeElement;
if (!element || element === document.body || element === document.documentElement) return null;
const style = getComputedStyle(element);
const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2) || style.boxShadow !== 'none';
const box = element.getBoundingClientRect();
const points = [[box.left + box.width / 2, box.top + box.height / 2], [box.left + 2, box.top + 2], [box.right - 2, box.top + 2], [box.left + 2, box.bottom - 2], [box.right - 2, box.bottom - 2]];
const seen = points.some(([x, y]) => {
  if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) return false;
  const hit = document.elementFromPoint(x, y);
  return hit && (hit === element || element.contains(hit));
});
return { element, target: window.__describe(element), html: element.outerHTML.slice(0, 200), ring, seen };
"""

# Buttons, fields and links (not those inside a sentence) smaller than 24 by 24 px, and whether
# the page scrolls sideways.
LAYOUT = DESCRIBE + """
const small = [];
for (const element of document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex="0"]')) {
  const box = element.getBoundingClientRect();
  if (!box.width || !box.height || element.closest('details:not([open]) > :not(summary)')) continue;
  const inline = element.tagName === 'A' && getComputedStyle(element).display === 'inline';
  if (!inline && (box.width < 24 || box.height < 24)) small.push({ target: window.__describe(element), html: element.outerHTML.slice(0, 200), width: box.width, height: box.height });
}
return { small, scrollWidth: document.documentElement.scrollWidth, width: document.documentElement.clientWidth };
"""

# Placeholder text below 4.5:1 against its field (axe 4.4 does not look at ::placeholder).
PLACEHOLDERS = DESCRIBE + """
const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
const luminance = ([r, g, b]) => {
  const channel = (value) => { value /= 255; return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
};
const background = (element) => {
  for (let node = element; node; node = node.parentElement) {
    const colour = rgb(getComputedStyle(node).backgroundColor);
    if (colour.length === 3 || colour[3] === 1) return colour;
  }
  return [255, 255, 255];
};
const faint = [];
for (const field of document.querySelectorAll('input[placeholder], textarea[placeholder]')) {
  if (!field.getBoundingClientRect().width) continue;
  const style = getComputedStyle(field, '::placeholder');
  const [a, b] = [luminance(rgb(style.color)), luminance(background(field))].sort((x, y) => y - x);
  const ratio = (a + 0.05) / (b + 0.05);
  if (ratio < 4.5 || Number(style.opacity) < 1) faint.push({ target: window.__describe(field), html: field.outerHTML.slice(0, 200), ratio, color: style.color, opacity: style.opacity });
}
return faint;
"""

# Findings of the checks axe does not make, reported like axe's.
MANUAL_RULES = {
    "focus-visible": ("serious", "Every element that takes the focus must show a focus ring (WCAG 2.4.7)"),
    "focus-not-obscured": ("serious", "An element that takes the focus must not be hidden by other content (WCAG 2.4.11)"),
    "target-size": ("moderate", "Buttons, fields and links outside sentences must be at least 24 by 24 CSS px (WCAG 2.5.8)"),
    "reflow": ("serious", "The page must not scroll sideways (WCAG 1.4.10)"),
    "placeholder-contrast": ("serious", "Placeholder text must have a contrast of 4.5:1 with its field (WCAG 1.4.3)"),
}


class Audit:
    """What the checks find on the states of one test, grouped for the failure message."""

    def __init__(self, driver, size: str, shots: Path, capsys) -> None:  # noqa: ANN001
        self.driver = driver
        self.size = size
        self.shots = shots
        self.capsys = capsys
        self.found: dict[tuple[str, str, str], dict] = {}  # (state, rule, target) -> finding
        self.review: list[dict] = []  # axe's "needs review"
        self.runs = 0

    def load(self) -> None:
        if self.driver.execute_script("return typeof window.axe === 'object' && typeof window.axe.run === 'function'"):
            return
        self.driver.execute_script(AXE)
        version = self.driver.execute_script("return window.axe && window.axe.version")
        if not version or not str(version).startswith("4."):
            pytest.fail(f"axe-core could not be loaded into the page (window.axe.version: {version!r})", pytrace=False)

    def add(self, state: str, rule: dict, target: str, node: dict, where: str) -> None:
        if (rule["id"], target) in EXEMPT:
            return
        finding = self.found.setdefault((state, rule["id"], target), {"rule": rule, "node": node, "where": []})
        finding["where"].append(where)

    def manual(self, state: str, rule_id: str, target: str, html: str, summary: str, where: str = "light") -> None:
        impact, help_text = MANUAL_RULES[rule_id]
        self.add(state, {"id": rule_id, "impact": impact, "help": help_text}, target, {"html": html, "summary": summary}, where)

    def check(self, state: str) -> None:
        """axe on the page as it is now in light and in dark, then the keyboard, target and
        reflow checks in light. Leaves the page in light, with the focus where Tab left it."""
        for scheme in SCHEMES:
            color_scheme(self.driver, scheme)
            assert self.driver.execute_script("return matchMedia(arguments[0]).matches", f"(prefers-color-scheme: {scheme})"), scheme
            time.sleep(0.15)
            name = f"a11y-{state.replace(' ', '-').replace(',', '')}-{self.size}-{scheme}.png"
            self.driver.save_screenshot(str(self.shots / name))
            self.load()
            result = self.driver.execute_async_script(RUN_AXE, {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations", "incomplete"]})
            if "error" in result:
                pytest.fail(f"axe.run failed on {state} ({self.size}, {scheme}): {result['error']}", pytrace=False)
            assert result["rules"] > 50, f"axe ran only {result['rules']} rules"
            self.runs += 1
            for rule in result["violations"]:
                for node in rule["nodes"]:
                    self.add(state, rule, " ".join(node["target"]), node, scheme)
            for rule in result["incomplete"]:
                for node in rule["nodes"]:
                    self.review.append({"state": state, "size": self.size, "scheme": scheme, "rule": rule["id"], "target": " ".join(node["target"]), "summary": " ".join(node["summary"].split())})
            for field in self.driver.execute_script(PLACEHOLDERS):
                summary = f"{field['color']} at opacity {field['opacity']}: {field['ratio']:.2f}:1"
                self.manual(state, "placeholder-contrast", field["target"], field["html"], summary, scheme)
        color_scheme(self.driver, "light")

        layout = self.driver.execute_script(LAYOUT)
        for small in layout["small"]:
            self.manual(state, "target-size", small["target"], small["html"], f"{small['width']:.1f} by {small['height']:.1f} px")
        if layout["scrollWidth"] > layout["width"]:
            self.manual(state, "reflow", "html", "", f"the page is {layout['scrollWidth']} px wide in a {layout['width']} px window")
        self.tab_through(state)

        reviews = [entry for entry in self.review if entry["state"] == state]
        with self.capsys.disabled():
            print(
                f"\n[a11y] {state} ({self.size}): axe in light and dark, Tab, targets, reflow, placeholders; "
                f"{len(reviews)} needs review ({', '.join(sorted({entry['rule'] for entry in reviews})) or 'none'}); "
                f"screenshots a11y-*-{self.size}-*.png in {self.shots}"
            )

    def tab_through(self, state: str, limit: int = 120) -> None:
        """Tab from the top of the page until the focus comes back round (or `limit` stops)."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        self.driver.execute_script("document.activeElement?.blur(); window.scrollTo(0, 0);")
        first = None
        stops = 0
        for _ in range(limit):
            ActionChains(self.driver).send_keys(Keys.TAB).perform()
            focused = self.driver.execute_script(FOCUSED)
            if focused is None:
                if stops:
                    break
                continue
            if first is not None and focused["element"] == first:
                break
            first = first or focused["element"]
            stops += 1
            if not focused["ring"]:
                self.manual(state, "focus-visible", focused["target"], focused["html"], "no outline or shadow while it has the focus (Tab)")
            if not focused["seen"]:
                self.manual(state, "focus-not-obscured", focused["target"], focused["html"], "covered, or out of the window, when Tab moved the focus to it")
        assert stops > 0, f"Tab reached nothing on {state}"

    def assert_clean(self) -> None:
        assert self.runs > 0, "axe did not run"
        if self.review:
            path = self.shots / f"a11y-needs-review-{self.size}-{int(time.time() * 1000)}.json"
            path.write_text(json.dumps(self.review, indent=1))
        if not self.found:
            return
        lines = [f"{len(self.found)} accessibility finding(s) at {self.size} size (axe: {', '.join(TAGS)}; and keyboard, targets, reflow):"]
        for (state, rule_id, target), finding in sorted(self.found.items()):
            rule = finding["rule"]
            summary = " ".join(finding["node"]["summary"].split())
            lines.append(
                f"- [{state}] {rule_id} ({rule['impact']}): {rule['help']}\n"
                f"    element: {target}  ({', '.join(finding['where'])})\n"
                f"    html: {finding['node']['html']}\n"
                f"    {summary}"
            )
        pytest.fail("\n".join(lines), pytrace=False)


AXE = ""


@pytest.fixture(scope="module", autouse=True)
def axe_script() -> None:
    global AXE  # noqa: PLW0603
    AXE = axe_source()


@pytest.fixture
def standin():
    with StandInServer() as server:
        yield server


@pytest.fixture(scope="module")
def shots() -> Path:
    directory = Path(os.environ.get("GATEWAY_SCREENSHOT_DIR") or REPO / ".build" / "screenshots" / f"web-a11y-{time.strftime('%Y%m%d-%H%M%S')}")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="module", params=list(SIZES))
def browser(request):
    """One Chromium per size for the whole module (each test's stand-in is a new origin, so
    nothing stored carries over)."""
    width, height = SIZES[request.param]
    driver, end = launch_chromium(f"{width},{height}")
    driver.set_script_timeout(60)
    try:
        # Headless Chromium starts no narrower than 500 px; resizing after the start gives 390.
        driver.set_window_size(width, height)
        assert driver.execute_script("return innerWidth") == width
        yield driver, request.param
    finally:
        end()


@pytest.fixture
def audit(browser, shots, capsys):
    driver, size = browser
    return Audit(driver, size, shots, capsys)


def signed_in_account(driver) -> None:  # noqa: ANN001
    wait(driver, visible("#sign-out"), "the account area")


# MARK: Tests


def template_lines(name: str, leave_out: tuple[str, ...] = ()) -> list[str]:
    """The lines of Sources/GatewayWeb/Templates/NAME.mustache without comments, without the
    sections named in `leave_out` (`^frame.app` is the inverted one), and without the lines
    that show a value (`{{`)."""
    text = (REPO / "Sources" / "GatewayWeb" / "Templates" / f"{name}.mustache").read_text()
    text = re.sub(r"\{\{!.*?\}\}", "", text, flags=re.S)
    for section in leave_out:
        kind, key = section[0], re.escape(section[1:])
        text = re.sub(r"\{\{\%s%s\}\}.*?\{\{/%s\}\}" % (kind, key, key), "", text, flags=re.S)
    return [line.strip() for line in text.splitlines() if line.strip() and "{{" not in line]


def test_the_standin_serves_the_gateways_markup() -> None:
    """The stand-in's frame, shell and landing page (what this file checks) say what the
    gateway's templates render, line for line, but for the lines that show a value."""
    import web_standin

    landing = web_standin.page("http://127.0.0.1:1", "landing", web_standin.LANDING_MAIN).decode()
    shell = web_standin.page("http://127.0.0.1:1", "app", web_standin.SHELL_MAIN).decode()
    for name, lines, page in [
        ("frame", template_lines("frame", ("^frame.app",)), landing),
        ("frame", template_lines("frame", ("^frame.app",)), shell),
        ("shell", template_lines("shell", ("#page.invite",)), shell),
        ("landing", template_lines("landing", ("#identityProviderCallbackURL",)), landing),
    ]:
        assert len(lines) >= 2, f"no template lines found for {name}"
        missing = [line for line in lines if line not in page]
        assert missing == [], f"web_standin.py differs from Templates/{name}.mustache: {missing}"


def test_axe_finds_what_it_should(standin, audit) -> None:
    """The check itself: a faint paragraph, an unnamed field and a button without a focus ring
    on the landing page are reported (so a clean result means something)."""
    driver = audit.driver
    driver.get(f"{standin.url}/")
    wait(driver, visible("#gateway-url"), "the Gateway URL")
    driver.execute_script(
        """
        const main = document.getElementById('main');
        const faint = document.createElement('p');
        faint.id = 'faint';
        faint.textContent = 'Too faint to read';
        faint.style.color = '#bbbbbb'; // CSSOM, which the CSP allows
        const field = document.createElement('input');
        field.id = 'unnamed';
        const bare = document.createElement('button');
        bare.id = 'bare';
        bare.textContent = 'No ring';
        bare.style.outline = 'none';
        main.append(faint, field, bare);
        """
    )
    audit.check("planted faults")
    found = {(rule, target) for (_, rule, target) in audit.found}
    assert ("color-contrast", "#faint") in found, found
    assert ("label", "#unnamed") in found, found
    assert ("focus-visible", "#bare") in found, found
    assert ("focus-visible", "#unnamed") not in found, found  # fields keep the app's ring


def test_landing_page(standin, audit) -> None:
    driver = audit.driver
    driver.get(f"{standin.url}/")
    wait(driver, visible("#gateway-url"), "the Gateway URL")
    wait(driver, visible("#account-sign-in"), "the header's Sign in button")
    audit.check("landing")
    audit.assert_clean()


def test_signed_out_my_agents_and_devices(standin, audit) -> None:
    driver = audit.driver
    driver.get(f"{standin.url}/app")
    wait(driver, visible("#sign-in"), "the sign-in prompt")
    audit.check("signed out")
    sign_in(driver, standin)
    driver.get(f"{standin.url}/app")
    wait(driver, lambda d: len(d.find_elements("css selector", "li.agent")) == 2, "both agents")
    signed_in_account(driver)
    audit.check("my agents")
    driver.get(f"{standin.url}/app/devices")
    wait(driver, lambda d: d.find_element("id", "page-title").text == "Devices", "the Devices page")
    signed_in_account(driver)
    audit.check("devices")
    audit.assert_clean()


def test_devices_with_api_keys(standin, audit) -> None:
    driver = audit.driver
    state = standin.state
    with state.lock:
        used = state.create_api_key("Open WebUI", None)
        # A name of 100 characters without a space must wrap, not widen the page (reflow).
        state.create_api_key(("BuildServerOfTheNightlyReleasePipeline" * 3)[:100], 30 * 86400)
        used["api_key"]["last_used_at"] = now()
    sign_in(driver, standin)
    driver.get(f"{standin.url}/app/devices")
    wait(driver, lambda d: len(d.find_elements("css selector", "li.api-key")) == 2, "both keys")
    signed_in_account(driver)
    audit.check("devices, api keys")
    driver.find_element("id", "api-key-name").send_keys("Continue")
    driver.find_element("id", "create-api-key").click()
    wait(driver, visible("#api-key-secret"), "the new key shown once")
    wait(driver, lambda d: len(d.find_elements("css selector", "li.api-key")) == 3, "the new key in the list")
    driver.find_element("css selector", "li.api-key button.revoke-api-key").click()
    wait(driver, visible("li.api-key button.confirm-revoke-api-key"), "the Revoke confirmation")
    audit.check("devices, new api key, revoke confirmation")
    audit.assert_clean()


def test_chat_with_a_markdown_reply_and_the_conversations(standin, audit) -> None:
    from selenium.webdriver.common.keys import Keys

    driver = audit.driver
    state = standin.state
    with state.lock:
        earlier = state.open_session("agent-md")
    state.post(earlier["id"], "What changed in the last release?")
    with state.lock:
        current = state.open_session("agent-md")
    sign_in(driver, standin)
    driver.get(f"{standin.url}/app/chat/agent-md?session={current['id']}")
    wait(driver, lambda d: d.find_element("id", "connection").text == "Live", "the session stream to be live")
    driver.execute_script("document.getElementById('message-input').value = arguments[0];", EVERY_CONSTRUCT + WIDE_TABLE)
    driver.find_element("id", "message-input").send_keys(Keys.END, Keys.ENTER)
    # The reply is complete (it has its id) and announced.
    wait(driver, lambda d: len(d.find_elements("css selector", "#messages .message.agent[data-id] .text table")) == 2, "the Markdown reply")
    wait(driver, lambda d: d.execute_script("return document.getElementById('reply-announcer').textContent"), "the announcement")
    signed_in_account(driver)
    scrolls = """
    let box = [...document.querySelectorAll('#messages table')].pop();
    while (box && getComputedStyle(box).overflowX !== 'auto') box = box.parentElement;
    return Boolean(box) && box.scrollWidth > box.clientWidth;
    """
    assert driver.execute_script(scrolls), "the wide table does not scroll inside the reply"
    panel = driver.find_element("id", "conversations")
    if audit.size == "phone":
        assert panel.get_attribute("open") is None, "phones fold the conversations"
        audit.check("chat")
        panel.find_element("tag name", "summary").click()
    assert panel.get_attribute("open") is not None
    wait(driver, lambda d: len(d.find_elements("css selector", "li.conversation")) == 2, "both conversations")
    wait(driver, lambda d: "…" not in [t.text for t in d.find_elements("css selector", ".conversation-title")], "the titles")
    audit.check("chat, conversations open")
    audit.assert_clean()


def test_share_dialog_with_its_qr_code(standin, audit) -> None:
    driver = audit.driver
    sign_in(driver, standin)
    driver.get(f"{standin.url}/app")
    card = wait(driver, visible('li.agent[data-agent-id="agent-own"]'), "the user's own agent")
    signed_in_account(driver)
    card.find_element("css selector", "button.share-agent").click()
    wait(driver, visible("#share-dialog"), "the share dialog")
    audit.check("share dialog")
    driver.find_element("id", "share-label").send_keys("for Carol")
    driver.find_element("id", "share-max-uses").send_keys("3")
    driver.find_element("id", "create-invite").click()
    wait(driver, visible("#share-dialog svg.qr"), "the QR code")
    audit.check("share dialog, invite link")
    audit.assert_clean()


def test_shares_page(standin, audit) -> None:
    driver = audit.driver
    share = post(standin, "/v1/agents/agent-own/shares", {"label": "for Carol", "expires_in": 86400, "max_uses": 3})["share"]
    standin.state.accept(share["id"], "Ada")
    # A name of 64 characters (the longest a demo sign-in takes) without a space must wrap (reflow).
    standin.state.accept(share["id"], ("GuestWithAVeryLongDisplayName" * 3)[:64])
    sign_in(driver, standin)
    driver.get(f"{standin.url}/app/shares")
    wait(driver, lambda d: len(d.find_elements("css selector", "li.share")) == 2, "the created and the accepted share")
    signed_in_account(driver)
    audit.check("shares")
    driver.find_element("css selector", "li.share button.revoke-share").click()
    wait(driver, visible("li.share button.confirm-revoke-share"), "the Revoke confirmation")
    audit.check("shares, revoke confirmation")
    assert standin.state.revoked_shares == []
    audit.assert_clean()
