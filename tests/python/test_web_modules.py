"""The web app's Markdown, QR and chat modules in a real browser, without a gateway build.

Headless Chromium (Debian's chromium and chromium-driver, as in test_web_browser.py) opens pages
served by a stand-in (web_standin.py: the app's own files from Sources/GatewayWeb/Assets under
the app's Content-Security-Policy, and a small in-memory /v1 API with an agent that echoes every
message back in deltas of three characters). It checks:

- the Markdown renderer (tests/js/harness.html): a reply with every construct
  (tests/js/fixtures/every-construct.md) streamed in small deltas ends exactly as the whole text
  rendered at once, an open code fence stays a code block, Copy copies the code, and the XSS
  corpus (tests/js/fixtures/xss-corpus.json) stays inert: no script runs, no element or attribute
  outside the allowlist, no request leaves the page, no CSP violation;
- QR codes drawn by qr.js decode, with zbarimg (Debian's zbar-tools), to their text;
- the chat page: Enter sends and Shift+Enter is a new line, the streamed Markdown reply, the live
  region announcing the finished reply once, conversations (new one, reopen an earlier one with
  its history and continue it);
- the share dialog: invite link with Copy, a QR code that decodes to the link, expiry and uses;
- API keys on Devices: the OpenAI base URL copied, a name the gateway would refuse explained, a
  key created and shown once (only its prefix in the list), used on /v1/models (the list then
  says when), revoked after a confirmation (Cancel and Escape keep it) and refused from then on;
- Revoke on Shares: it asks first, naming the share and the guests who lose access (a hostile
  name stays text), Cancel and Escape send nothing, a guest who accepts meanwhile is named in the
  question asked again, and confirmed the stand-in gets the DELETE and the card says revoked.

Screenshots in light and dark, phone and desktop sizes, go to $GATEWAY_SCREENSHOT_DIR or
.build/screenshots/web-modules-<time>/. test_web_browser.py runs the same flows against a real
gateway; this file needs nothing but chromium, chromium-driver and zbarimg.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from test_web_browser import browser_errors, launch_chromium, visible, wait
from web_checks import (
    DESKTOP, EVERY_CONSTRUCT, PHONE, RECORD_STREAMING, REPO, XSS_CORPUS, assert_inert, check_streamed_markdown, decode_qr, theme_screenshots,
)
from web_standin import StandInServer


@pytest.fixture(scope="module")
def standin():
    with StandInServer() as server:
        yield server


@pytest.fixture(scope="module")
def shots() -> Path:
    directory = Path(os.environ.get("GATEWAY_SCREENSHOT_DIR") or REPO / ".build" / "screenshots" / f"web-modules-{time.strftime('%Y%m%d-%H%M%S')}")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def phone():
    driver, end = launch_chromium(f"{PHONE[0]},{PHONE[1]}")
    try:
        yield driver
    finally:
        end()


@pytest.fixture
def desktop():
    driver, end = launch_chromium(f"{DESKTOP[0]},{DESKTOP[1]}")
    try:
        yield driver
    finally:
        end()


def open_harness(driver, standin) -> None:  # noqa: ANN001
    driver.get(f"{standin.url}/tests/js/harness.html")
    wait(driver, lambda d: d.execute_script("return document.body.dataset.ready === 'yes'"), "the harness modules")


def sign_in(driver, standin) -> None:  # noqa: ANN001
    """The stand-in takes any token: put one where the app keeps its tokens."""
    driver.get(f"{standin.url}/app")
    driver.execute_script(
        "sessionStorage.setItem('gateway.tokens', JSON.stringify({access_token: 'standin', refresh_token: 'standin', expires_at: Date.now() + 3600e3}))"
    )


# MARK: The modules on their own


def test_markdown_streamed_in_small_deltas_renders_as_the_whole_text(standin, phone) -> None:
    open_harness(phone, standin)
    result = phone.execute_script(
        """
        const [text] = arguments;
        const { renderMarkdown } = window.harness;
        const bubble = document.createElement('li');
        bubble.className = 'message agent';
        const live = document.createElement('div');
        live.className = 'text markdown';
        bubble.append(live);
        document.getElementById('messages').append(bubble);
        const fresh = (value, options) => { const d = document.createElement('div'); renderMarkdown(d, value, options); return d.innerHTML; };
        const mismatches = [];
        let openFence = 0, fenceShown = 0;
        for (let end = 1; end <= text.length; end += 1 + (end % 3)) {
          const part = text.slice(0, end);
          renderMarkdown(live, part, { streaming: true });
          if (live.innerHTML !== fresh(part, { streaming: true })) mismatches.push(part);
          const inFence = part.includes('```python\\n') && !part.includes('> A quote');
          if (inFence && part.endsWith('\\n') && live.querySelector('.code-block pre')) openFence++;
          if (live.textContent.includes('```')) fenceShown++;
        }
        renderMarkdown(live, text);
        return { same: live.innerHTML === fresh(text), mismatches: mismatches.slice(0, 3), openFence, fenceShown };
        """,
        EVERY_CONSTRUCT,
    )
    assert result["same"] and result["mismatches"] == [], result
    assert result["openFence"] > 0, "the open fence was not a code block mid-stream"
    assert result["fenceShown"] == 0, "``` showed as text mid-stream"

    counts = phone.execute_script(
        """
        const root = document.querySelector('#messages .markdown');
        const count = (selector) => root.querySelectorAll(selector).length;
        return {
          h1: count('h1'), h2: count('h2'), h3: count('h3'), strong: count('strong'), em: count('em'), del: count('del'),
          code: count(':not(pre) > code'), block: count('.code-block pre code.language-python'), copy: count('.code-block button.copy-code'),
          label: root.querySelector('.code-language').textContent, nested: count('ul ul li'), ordered: count('ol > li'),
          quote: count('blockquote strong'), th: count('table thead th'), td: count('table tbody td'),
          center: count('th.align-center'), right: count('td.align-right'), links: count('a'), images: count('img'),
          imageLinks: count('a.image-link'), hr: count('hr'), br: count('br'),
          codeText: root.querySelector('pre code').textContent, whiteSpace: getComputedStyle(root.querySelector('pre code')).whiteSpace,
        };
        """
    )
    assert counts["h1"] == counts["h2"] == counts["h3"] == 1, counts
    assert counts["strong"] >= 2 and counts["em"] >= 2 and counts["del"] == 1 and counts["code"] >= 3, counts
    assert counts["block"] == 1 and counts["copy"] == 1 and counts["label"] == "python", counts
    assert counts["nested"] == 1 and counts["ordered"] == 3 and counts["quote"] == 1, counts
    assert counts["th"] == 3 and counts["td"] == 6 and counts["center"] == 1 and counts["right"] == 2, counts
    assert counts["images"] == 0 and counts["imageLinks"] == 1 and counts["links"] == 5 and counts["hr"] == 1, counts
    assert counts["codeText"] == 'def greet(name):\n    return f"Hello, {name}!"  # <b>not bold</b>', counts
    assert counts["whiteSpace"] == "pre", counts
    assert_inert(phone, "#messages")

    # Copy puts the code on the clipboard (or, without clipboard access, selects it).
    phone.execute_cdp_cmd("Browser.grantPermissions", {"origin": standin.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    phone.find_element("css selector", "#messages .copy-code").click()
    wait(phone, lambda d: d.find_element("css selector", "#messages .copy-code").text in ("Copied", "Press Ctrl+C"), "the copy confirmation")
    if phone.find_element("css selector", "#messages .copy-code").text == "Copied":
        copied = phone.execute_async_script("const done = arguments[0]; navigator.clipboard.readText().then(done, (e) => done('error: ' + e))")
        assert copied == counts["codeText"], copied
    assert browser_errors(phone) == []


def test_the_xss_corpus_stays_inert_in_a_browser(standin, desktop) -> None:
    open_harness(desktop, standin)
    desktop.execute_script(
        """
        const [corpus] = arguments;
        const { renderMarkdown } = window.harness;
        for (const payload of [...corpus, corpus.join('\\n\\n')]) {
          const bubble = document.createElement('li');
          bubble.className = 'message agent';
          const text = document.createElement('div');
          text.className = 'text markdown';
          bubble.append(text);
          document.getElementById('messages').append(bubble);
          // Streamed, then final, like a reply.
          for (let end = 1; end < payload.length; end += 2) renderMarkdown(text, payload.slice(0, end), { streaming: true });
          renderMarkdown(text, payload);
        }
        """,
        XSS_CORPUS,
    )
    time.sleep(1)  # time for anything that would load or fire
    assert_inert(desktop, "#messages")
    text = desktop.find_element("id", "messages").text
    assert "<script>window.__xss = 1</script>" in text and "<img src=x onerror=" in text
    assert browser_errors(desktop) == [], "console errors (a CSP violation would be one)"


def test_qr_codes_drawn_by_the_app_decode_to_their_text(standin, desktop, shots) -> None:
    open_harness(desktop, standin)
    texts = [
        "https://gw.ex/",  # version 1
        f"{standin.url}/invite/{'x' * 22}",  # an invite URL as the gateway makes them
        "https://gateway.example.com/invite/" + "A1b2C3d4" * 9,
        "https://gateway.example.com/invite/" + "k" * 120,
        "https://gateway.example.com/invite/" + "Zz9" * 59,  # version 10
        "https://gateway.example.com/invite/" + "q" * 300,
        "https://gateway.example.com/invite/ünïcødé",
    ]
    versions = []
    for index, text in enumerate(texts):
        version = desktop.execute_script(
            """
            const [text] = arguments;
            const { qrSVG, qrCode } = window.harness;
            const holder = document.getElementById('qr');
            const { size, version } = qrCode(text);
            const svg = qrSVG(text, 'QR code');
            svg.style.width = svg.style.height = `${(size + 8) * 6}px`; // CSSOM, which the CSP allows
            holder.replaceChildren(svg);
            return version;
            """,
            text,
        )
        versions.append(version)
        png = desktop.find_element("css selector", "#qr svg").screenshot_as_png
        assert decode_qr(png, shots, f"qr-{index}-v{version}") == text
    assert min(versions) == 1 and max(versions) >= 10, versions
    assert browser_errors(desktop) == []


# MARK: The app's pages against the stand-in


def test_chat_streams_markdown_keeps_conversations_and_announces_replies(standin, phone, shots, capsys) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    sign_in(phone, standin)
    phone.get(f"{standin.url}/app/chat/agent-md")
    wait(phone, lambda d: d.find_element("id", "connection").text == "Live", "the session stream to be live")
    first = phone.execute_script("return new URLSearchParams(location.search).get('session')")
    assert first, "the address names the conversation"
    assert phone.find_element("id", "host-status").text == "Host online"
    messages = phone.find_element("id", "messages")
    assert messages.get_attribute("aria-live") is None and messages.get_attribute("role") is None, "deltas are not announced"
    announcer = phone.find_element("id", "reply-announcer")
    assert announcer.get_attribute("role") == "status" and announcer.get_attribute("aria-live") == "polite"

    # Shift+Enter is a new line, Enter sends.
    box = phone.find_element("id", "message-input")
    assert phone.switch_to.active_element == box
    box.send_keys("line one")
    ActionChains(phone).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
    box.send_keys("line two")
    assert box.get_attribute("value") == "line one\nline two"
    assert phone.find_elements("css selector", "#messages .message") == []
    box.send_keys(Keys.ENTER)
    wait(phone, lambda d: len(d.find_elements("css selector", "#messages .message.agent[data-id]")) == 1, "the first reply")
    mine = phone.find_element("css selector", "#messages .message.user .text")
    assert mine.text == "line one\nline two" and box.get_attribute("value") == ""

    # A reply with every construct, streamed three characters at a time.
    phone.execute_script(RECORD_STREAMING + "document.getElementById('message-input').value = arguments[0];", EVERY_CONSTRUCT)
    box.send_keys(Keys.END, Keys.ENTER)
    reply = wait(
        phone,
        lambda d: (found := d.find_elements("css selector", "#messages .message.agent[data-id]")) and len(found) == 2 and found[-1],
        "the Markdown reply",
    )
    check_streamed_markdown(phone, reply, "Markdown helper")
    assert_inert(phone, "#messages")
    reply.find_element("css selector", "pre").location_once_scrolled_into_view
    theme_screenshots(phone, shots, "chat-markdown", capsys)

    # The conversation is listed under its first line; a new one starts empty.
    phone.set_window_size(*PHONE)
    panel = phone.find_element("id", "conversations")
    if panel.get_attribute("open") is None:
        panel.find_element("tag name", "summary").click()
    current = wait(phone, visible(f'li.conversation[data-session-id="{first}"]'), "the conversation in the list")
    assert current.find_element("css selector", ".conversation-title").text == "line one"
    assert current.find_element("css selector", "a").get_attribute("aria-current") == "page"
    assert "Host online" in current.text
    wait(phone, visible("#new-conversation"), "the New conversation button").click()
    wait(phone, lambda d: d.execute_script("return new URLSearchParams(location.search).get('session')") not in (None, first), "the new conversation")
    second = phone.execute_script("return new URLSearchParams(location.search).get('session')")
    wait(phone, lambda d: d.find_element("id", "connection").text == "Live", "the new conversation's stream")
    assert phone.find_elements("css selector", "#messages .message") == []
    box = phone.find_element("id", "message-input")
    box.send_keys("second conversation", Keys.ENTER)
    wait(phone, lambda d: len(d.find_elements("css selector", "#messages .message.agent[data-id]")) == 1, "the reply in the second conversation")

    # Newest first; reopening the first one shows its history and it goes on.
    phone.get(f"{standin.url}/app/chat/agent-md?session={second}")
    panel = wait(phone, visible("#conversations summary"), "the conversations panel")
    assert "Conversations (2)" in panel.text
    panel.click()
    items = wait(phone, lambda d: (found := d.find_elements("css selector", "li.conversation")) and len(found) == 2 and found, "two conversations")
    assert [item.get_attribute("data-session-id") for item in items] == [second, first]
    wait(phone, lambda d: [t.text for t in d.find_elements("css selector", ".conversation-title")] == ["second conversation", "line one"], "the titles")
    theme_screenshots(phone, shots, "chat-conversations", capsys, sizes=(("phone", PHONE),))
    items[1].find_element("css selector", "a").click()
    wait(phone, lambda d: d.execute_script("return new URLSearchParams(location.search).get('session')") == first, "the first conversation")
    wait(phone, lambda d: len(d.find_elements("css selector", "#messages .message[data-id]")) == 4, "the first conversation's history")
    assert phone.find_element("css selector", "#messages .message.agent:last-child .text h1").text == "Release notes for Gateway"
    wait(phone, lambda d: d.find_element("id", "connection").text == "Live", "the first conversation's stream")
    phone.find_element("id", "message-input").send_keys("and we go on", Keys.ENTER)
    wait(phone, lambda d: len(d.find_elements("css selector", "#messages .message.agent[data-id]")) == 3, "the reply in the reopened conversation")
    texts = [element.text for element in phone.find_elements("css selector", "#messages .message.user .text")]
    assert texts == ["line one\nline two", EVERY_CONSTRUCT.strip(), "and we go on"], texts

    # The same page for the user's own agent: its own conversations.
    phone.get(f"{standin.url}/app/chat/agent-own")
    wait(phone, lambda d: d.find_element("id", "connection").text == "Live", "the own agent's chat")
    assert "Your agent" in phone.find_element("css selector", ".chat-head").text
    assert "Conversations (1)" in phone.find_element("css selector", "#conversations summary").text
    phone.find_element("id", "message-input").send_keys("**mine**", Keys.ENTER)
    wait(phone, lambda d: d.find_elements("css selector", "#messages .message.agent[data-id] .text strong"), "the reply from the own agent")
    assert browser_errors(phone) == []


def test_the_share_dialog_shows_the_link_its_qr_code_expiry_and_uses(standin, desktop, shots, capsys) -> None:
    from selenium.webdriver.support.ui import Select

    sign_in(desktop, standin)
    desktop.get(f"{standin.url}/app")
    card = wait(desktop, visible('li.agent[data-agent-id="agent-own"]'), "the user's own agent")
    opener = card.find_element("css selector", "button.share-agent")
    opener.click()
    dialog = wait(desktop, visible("#share-dialog"), "the share dialog")
    assert desktop.switch_to.active_element == desktop.find_element("id", "share-label")
    desktop.find_element("id", "share-label").send_keys("for Carol")
    Select(desktop.find_element("id", "share-expiry")).select_by_visible_text("In 1 day")
    desktop.find_element("id", "share-max-uses").send_keys("3")
    theme_screenshots(desktop, shots, "share-dialog-options", capsys, sizes=(("desktop", DESKTOP),))
    desktop.find_element("id", "create-invite").click()
    link = wait(desktop, visible("#invite-link"), "the invite link")
    url = link.get_attribute("value")
    assert url.startswith(f"{standin.url}/invite/"), url
    assert desktop.find_element("id", "invite-uses").text == "3 of 3"
    expiry = desktop.find_element("id", "invite-expiry").text
    assert expiry != "Never" and ("tomorrow" in expiry or "in 1 day" in expiry or "in 24 hours" in expiry), expiry
    assert "Copy" in dialog.text and "for Carol" in dialog.text
    svg = desktop.find_element("css selector", "#share-dialog svg.qr")
    assert svg.get_attribute("role") == "img" and "invite link" in svg.get_attribute("aria-label")
    assert decode_qr(svg.screenshot_as_png, shots, "share-dialog-qr") == url
    theme_screenshots(desktop, shots, "share-dialog", capsys)
    # The phone-sized dialog's code decodes too (the window was left at desktop size, light).
    desktop.set_window_size(*PHONE)
    time.sleep(0.2)
    assert decode_qr(desktop.find_element("css selector", "#share-dialog svg.qr").screenshot_as_png, shots, "share-dialog-qr-phone") == url
    desktop.find_element("id", "share-done").click()
    wait(desktop, lambda d: not d.find_elements("id", "share-dialog"), "the dialog to close")
    assert desktop.switch_to.active_element == desktop.find_element("css selector", 'li.agent[data-agent-id="agent-own"] button.share-agent')
    assert desktop.find_element("css selector", 'li.agent[data-agent-id="agent-own"] .invite input').get_attribute("value") == url
    assert browser_errors(desktop) == []


def post(standin, path: str, body: dict) -> dict:  # noqa: ANN001
    """The stand-in's answer to a POST as the user (the app's own requests go through the page)."""
    request = urllib.request.Request(
        f"{standin.url}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer standin"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def models_with(standin, key: str) -> int:  # noqa: ANN001
    """The status of the stand-in's GET /v1/models with `key` as the bearer token."""
    request = urllib.request.Request(f"{standin.url}/v1/models", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            assert [model["id"] for model in json.loads(response.read())["data"]] == list(standin.state.agents)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_api_keys_on_devices_created_shown_once_listed_and_revoked(standin, phone, shots, capsys) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    sign_in(phone, standin)
    phone.get(f"{standin.url}/app/devices")
    section = wait(phone, visible("#api-keys"), "the API keys section")
    assert section.find_element("tag name", "h2").text == "API keys for AI clients"
    assert section.find_element("id", "api-key-list").text == "No keys yet."
    assert "docs/clients.md" in section.text and "Open WebUI" in section.text

    # The MCP server's URL and the base URL to paste into clients; the latter copied.
    mcp = section.find_element("id", "mcp-server-url")
    assert mcp.get_attribute("value") == f"{standin.url}/mcp" and mcp.get_attribute("readonly") is not None
    assert "Claude" in section.text and "remote MCP server" in section.text
    base = section.find_element("id", "openai-base-url")
    assert base.get_attribute("value") == f"{standin.url}/v1" and base.get_attribute("readonly") is not None
    phone.execute_cdp_cmd("Browser.grantPermissions", {"origin": standin.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    base.find_element("xpath", "following-sibling::button").click()
    status = base.find_element("xpath", "../following-sibling::span[@role='status']")
    wait(phone, lambda d: status.text in ("Copied.", "Press Ctrl+C (⌘C) to copy."), "the copy confirmation")
    if status.text == "Copied.":
        copied = phone.execute_async_script("const done = arguments[0]; navigator.clipboard.readText().then(done, (e) => done('error: ' + e))")
        assert copied == f"{standin.url}/v1", copied

    # The form: labelled fields; a blank name is explained, with the focus back on it.
    name = phone.find_element("id", "api-key-name")
    assert phone.find_element("css selector", 'label[for="api-key-name"]').text == "Name"
    assert phone.find_element("css selector", 'label[for="api-key-expiry"]').text == "Expires"
    assert name.get_attribute("required") is not None and name.get_attribute("maxlength") == "100"
    expiry = Select(phone.find_element("id", "api-key-expiry"))
    assert [option.text for option in expiry.options] == ["Never", "30 days", "90 days", "1 year"]
    assert expiry.first_selected_option.text == "Never"
    name.send_keys("   ")
    phone.find_element("id", "create-api-key").click()
    alert = wait(phone, visible('#api-key-message .notice.danger[role="alert"]'), "the notice about the name")
    assert "name" in alert.text and phone.switch_to.active_element == name
    assert name.get_attribute("aria-invalid") == "true" and standin.state.api_keys == []

    # Created: shown once, with the focus on it, and listed by its prefix only.
    name.clear()
    name.send_keys("Open WebUI")
    expiry.select_by_visible_text("30 days")
    name.send_keys(Keys.ENTER)
    secret = wait(phone, visible("#api-key-secret"), "the new key")
    key = secret.get_attribute("value")
    assert key.startswith("gwk_") and secret.get_attribute("readonly") is not None, key
    assert phone.switch_to.active_element == secret
    assert "Shown only now" in phone.find_element("id", "api-key-created").text
    assert phone.find_elements("id", "api-key-message") and not phone.find_elements("css selector", "#api-key-message .notice")
    assert name.get_attribute("value") == "" and name.get_attribute("aria-invalid") is None
    card = wait(phone, visible("li.api-key"), "the key in the list")
    key_id = standin.state.api_keys[0]["id"]
    assert card.get_attribute("data-key-id") == key_id
    facts = card.text
    assert "Open WebUI" in facts and f"{key[:10]}…" in facts and "Never used" in facts, facts
    assert "in 30 days" in facts or "in 1 month" in facts or "next month" in facts, facts
    listed = phone.execute_script("return document.getElementById('api-key-list').textContent")
    assert key not in listed and key[:11] not in listed, "the list shows the prefix, never the key"
    theme_screenshots(phone, shots, "api-keys-created", capsys)
    phone.set_window_size(*PHONE)

    # A second key, which never expires (the expiry chosen last is kept): newest first.
    name = phone.find_element("id", "api-key-name")
    expiry = Select(phone.find_element("id", "api-key-expiry"))
    assert expiry.first_selected_option.text == "30 days"
    expiry.select_by_visible_text("Never")
    name.send_keys("laptop", Keys.ENTER)
    wait(phone, lambda d: len(d.find_elements("css selector", "li.api-key")) == 2, "both keys")
    second = phone.find_element("id", "api-key-secret").get_attribute("value")
    assert second != key and second.startswith("gwk_")
    cards = phone.find_elements("css selector", "li.api-key")
    assert [c.find_element("tag name", "h4").text for c in cards] == ["laptop", "Open WebUI"]
    assert "Expires\nNever" in cards[0].text or "Expires Never" in cards[0].text, cards[0].text

    # The user stream reloading the devices (a reset, a new device) leaves the section as it is:
    # a half-typed name, the key shown once and the focus.
    assert phone.find_element("css selector", 'li.device[data-device-id="device-bea"]').is_displayed()
    name.send_keys("half typed")
    reloaded = phone.execute_async_script(
        "const done = arguments[0]; import('/assets/web/devices.js').then((m) => m.devicesPage()).then(() => done('ok'), (e) => done(String(e)))"
    )
    assert reloaded == "ok", reloaded
    assert phone.find_element("css selector", 'li.device[data-device-id="device-bea"]').is_displayed()
    assert name.get_attribute("value") == "half typed" and phone.switch_to.active_element == name
    assert phone.find_element("id", "api-key-secret").get_attribute("value") == second
    name.clear()

    # The first key works on /v1/models; the list then says when it was last used.
    assert models_with(standin, key) == 200
    phone.refresh()
    card = wait(phone, visible(f'li.api-key[data-key-id="{key_id}"]'), "the used key after a reload")
    assert "Never used" not in card.text and "Last used" in card.text, card.text
    assert not phone.find_elements("id", "api-key-secret"), "the key is not shown again"

    # Revoke asks first; Cancel keeps the key and gives the focus back to Revoke.
    revoke = card.find_element("css selector", "button.revoke-api-key")
    assert revoke.text == "Revoke" and revoke.get_attribute("aria-label") == "Revoke Open WebUI"
    revoke.click()
    confirm = wait(phone, visible(f'li.api-key[data-key-id="{key_id}"] button.confirm-revoke-api-key'), "the confirmation")
    assert phone.switch_to.active_element == confirm
    assert "stop working at once" in card.text
    theme_screenshots(phone, shots, "api-keys-confirm", capsys, sizes=(("phone", PHONE),))
    card.find_element("css selector", "button.cancel-revoke-api-key").click()
    revoke = card.find_element("css selector", "button.revoke-api-key")
    assert phone.switch_to.active_element == revoke and models_with(standin, key) == 200
    revoke.click()  # Escape cancels too
    wait(phone, visible(f'li.api-key[data-key-id="{key_id}"] button.confirm-revoke-api-key'), "the confirmation")
    ActionChains(phone).send_keys(Keys.ESCAPE).perform()
    revoke = card.find_element("css selector", "button.revoke-api-key")
    assert phone.switch_to.active_element == revoke and not card.find_elements("css selector", ".confirm")
    revoke.click()
    wait(phone, visible(f'li.api-key[data-key-id="{key_id}"] button.confirm-revoke-api-key'), "the confirmation").click()
    wait(phone, lambda d: not d.find_elements("css selector", f'li.api-key[data-key-id="{key_id}"]'), "the revoked key to go")
    assert "revoked" in phone.find_element("id", "api-key-message").text
    assert phone.switch_to.active_element == phone.find_element("id", "api-keys-list-heading")
    assert [k["name"] for k in standin.state.api_keys] == ["laptop"]
    assert models_with(standin, key) == 401 and models_with(standin, second) == 200
    assert browser_errors(phone) == []


def test_revoking_a_share_asks_first_naming_who_loses_access(standin, desktop, shots, capsys) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    state = standin.state
    share_id = post(standin, "/v1/agents/agent-own/shares", {"label": "for Carol"})["share"]["id"]
    hostile = '<img src=x onerror="window.__xss=1">Bob'
    state.accept(share_id, "Ada")
    state.accept(share_id, hostile)
    state.accept(share_id, "Cy")["left"] = True  # gave up their access: not named
    unlabelled = post(standin, "/v1/agents/agent-own/shares", {})["share"]["id"]
    streams = state.user_streams
    sign_in(desktop, standin)
    desktop.get(f"{standin.url}/app/shares")
    card = wait(desktop, visible(f'li.share[data-share-id="{share_id}"]'), "the share on Shares")
    assert f"Guests: Ada, {hostile}" in card.text, card.text
    confirm_selector = f'li.share[data-share-id="{share_id}"] button.confirm-revoke-share'

    def ask():  # noqa: ANN202
        card.find_element("css selector", "button.revoke-share").click()
        return wait(desktop, visible(confirm_selector), "the Revoke confirmation")

    # Revoke asks, in the card: the share and the guests (text, never markup), the focus on Yes.
    revoke = card.find_element("css selector", "button.revoke-share")
    assert revoke.text == "Revoke for Carol" and "danger" in revoke.get_attribute("class")
    confirm = ask()
    question = card.find_element("css selector", ".confirm p")
    assert question.text == (
        f"Revoke “for Carol”? Ada and {hostile} lose access to My helper at once, and the invite link stops working. "
        "This cannot be undone."
    ), question.text
    assert confirm.text == "Yes, revoke" and confirm.get_attribute("aria-describedby") == question.get_attribute("id")
    assert desktop.switch_to.active_element == confirm
    assert not card.find_elements("css selector", "img") and desktop.execute_script("return window.__xss") is None
    theme_screenshots(desktop, shots, "shares-revoke-confirm", capsys)
    desktop.set_window_size(*DESKTOP)

    # Cancel, and Escape, put Revoke back with the focus on it, and send nothing.
    card.find_element("css selector", "button.cancel-revoke-share").click()
    assert desktop.switch_to.active_element == card.find_element("css selector", "button.revoke-share")
    assert not card.find_elements("css selector", ".confirm")
    ask()
    ActionChains(desktop).send_keys(Keys.TAB).perform()
    assert "cancel-revoke-share" in desktop.switch_to.active_element.get_attribute("class")
    ActionChains(desktop).send_keys(Keys.ESCAPE).perform()
    assert desktop.switch_to.active_element == card.find_element("css selector", "button.revoke-share")
    assert not card.find_elements("css selector", ".confirm")
    time.sleep(0.3)
    assert state.revoked_shares == [] and card.get_attribute("data-status") == "active"

    # An invite without a label or guests says so.
    other = desktop.find_element("css selector", f'li.share[data-share-id="{unlabelled}"]')
    other.find_element("css selector", "button.revoke-share").click()
    asked = wait(desktop, lambda d: other.find_elements("css selector", ".confirm p"), "the other confirmation")[0]
    assert asked.text == "Revoke this invite? Nobody has accepted it yet; the invite link to My helper stops working at once. This cannot be undone."
    ActionChains(desktop).send_keys(Keys.ESCAPE).perform()
    assert desktop.switch_to.active_element == other.find_element("css selector", "button.revoke-share")

    # A guest accepting while Revoke asks (the user stream reloads the page): asked again, naming them.
    ask()
    wait(desktop, lambda _: state.user_streams > streams, "the page's user stream")
    state.accept(share_id, "Dee")
    reloaded = "const card = document.querySelector(arguments[0]); return card && card.textContent.includes('Dee') ? card : null"
    card = wait(desktop, lambda d: d.execute_script(reloaded, f'li.share[data-share-id="{share_id}"]'), "the page reloaded with the new guest")
    confirm = wait(desktop, visible(confirm_selector), "the confirmation asked again")
    assert f"Ada, {hostile}, and Dee lose access to My helper" in card.find_element("css selector", ".confirm p").text
    assert desktop.switch_to.active_element == confirm and state.revoked_shares == []

    # Confirmed: the DELETE, and the card says revoked, with the focus on its heading.
    confirm.click()
    card = wait(
        desktop,
        lambda d: (found := d.find_elements("css selector", f'li.share[data-share-id="{share_id}"][data-status="revoked"]')) and found[0],
        "the card to say revoked",
    )
    assert "Status: revoked." in card.text and not card.find_elements("css selector", "button"), card.text
    assert state.revoked_shares == [share_id]
    assert desktop.switch_to.active_element == card.find_element("tag name", "h3")
    other = desktop.find_element("css selector", f'li.share[data-share-id="{unlabelled}"]')
    assert other.get_attribute("data-status") == "active" and other.find_elements("css selector", "button.revoke-share")
    assert browser_errors(desktop) == []
