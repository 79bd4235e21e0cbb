"""A reply's whole lifecycle in the web chat, in real Chromium against a real gateway, with a real
`gatewayctl host` whose command agent streams a Markdown reply slowly (docs/web.md, "A reply's
lifecycle").

One guest uses two browsers at once: a phone (390 px) and a desktop (1280 px), signed in as the
same person (the demo identity is the browser cookie, copied from one to the other). Through the
moments people meet:

1. the working indicator shows before the first piece of text, in both browsers;
2. a reload in the middle of a reply shows the text so far within a second, then the rest, and
   every state it shows is a prefix of the final text (nothing doubled, nothing missing); the
   stored reply is exactly the agent's output;
3. a reader who scrolled up while a reply streams stays where they are, and a "Latest" button
   takes them down;
4. the host killed mid-reply: an inline "interrupted" notice within 2 s at both sizes; a message
   sent meanwhile says it waits for the host; the host comes back, answers again (attempt 2) and
   the reply is shown once;
5. the share revoked mid-reply: an inline notice in the transcript, the composer disabled.

Each state is photographed in light and dark at both sizes, and axe-core checks the interrupted
and the revoked states (light and dark, both sizes). Screenshots go to $GATEWAY_SCREENSHOT_DIR or
.build/screenshots/lifecycle-<time>.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
import uuid
from pathlib import Path

import pytest

import test_web_accessibility as accessibility
from test_web_browser import Gatewayctl, browser_errors, launch_chromium, visible, wait
from web_checks import DESKTOP, PHONE, REPO, scheme_screenshots

# The agent: a fixed Markdown reply of 17 pieces, each one whole line, so every state of the
# streamed bubble renders as a prefix of the final one. "wait: …" waits 3 s before the first
# piece (time to photograph "working…"), "slow: …" takes 14 s, "long: …" streams 90 lines
# quickly (a reply to scroll).
SLOW_MARKDOWN = r'''
import sys, time
message = sys.stdin.read().strip()
if message.startswith("long:"):
    lines = [f"Line {n} of a long answer.\n\n" for n in range(1, 91)]
    first_wait, pause = 0.2, 0.06
else:
    lines = [
        "## Release plan\n", "\n", "The gateway ships on Friday.\n", "\n", "- build the image\n", "- run the checks\n",
        "- tag the release\n", "\n", "Then we tell everyone:\n", "\n", "1. post the notes\n", "2. update the docs\n",
        "3. answer questions\n", "\n", "> Keep the old image for a week.\n", "\n", f"Done: {message}",
    ]
    first_wait = 3.0 if message.startswith("wait:") else 1.0
    pause = 0.8 if message.startswith("slow:") else 0.35
time.sleep(first_wait)
for line in lines:
    sys.stdout.write(line)
    sys.stdout.flush()
    time.sleep(pause)
'''


def expected_reply(message: str) -> str:
    return (
        "## Release plan\n\nThe gateway ships on Friday.\n\n- build the image\n- run the checks\n- tag the release\n\n"
        "Then we tell everyone:\n\n1. post the notes\n2. update the docs\n3. answer questions\n\n"
        f"> Keep the old image for a week.\n\nDone: {message}"
    )


# Installed in every document the browsers load (before the app runs): when the working
# indicator, the first text and the interrupted mark appeared, and every text a reply in progress
# showed, measured from the navigation's start.
RECORDER = """
window.__chat = { working: null, firstText: null, interrupted: null, texts: [] };
const watch = () => new MutationObserver(() => {
  const chat = window.__chat, now = performance.now();
  for (const element of document.querySelectorAll('#messages .message.agent')) {
    if (element.classList.contains('working') && chat.working === null) chat.working = now;
    if (element.classList.contains('interrupted') && chat.interrupted === null) chat.interrupted = now;
    const text = element.querySelector('.text')?.textContent || '';
    if (!element.dataset.id && text) {
      if (chat.firstText === null) chat.firstText = now;
      if (chat.texts[chat.texts.length - 1] !== text) chat.texts.push(text);
    }
  }
}).observe(document.documentElement, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['class'] });
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', watch); else watch();
"""
RESET = "Object.assign(window.__chat, { working: null, firstText: null, interrupted: null, texts: [] }); return performance.now();"


@pytest.fixture(scope="module")
def shots() -> Path:
    directory = Path(os.environ.get("GATEWAY_SCREENSHOT_DIR") or REPO / ".build" / "screenshots" / f"lifecycle-{time.strftime('%Y%m%d-%H%M%S')}")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def photograph(drivers: dict, directory: Path, name: str, capsys) -> None:  # noqa: ANN001
    """Each browser at its own size, in light and dark."""
    for size, driver in drivers.items():
        scheme_screenshots(driver, directory, f"{name}-{size}", capsys, settle=0.1)


def send(driver, text: str) -> None:  # noqa: ANN001
    from selenium.webdriver.common.keys import Keys

    driver.execute_script("document.getElementById('message-input').value = arguments[0];", text)
    driver.find_element("id", "message-input").send_keys(Keys.END, Keys.ENTER)


def reply_for(driver, message: str):  # noqa: ANN001
    """The finished reply bubble that ends with `Done: <message>`."""
    return next(
        (e for e in driver.find_elements("css selector", "#messages .message.agent[data-id]") if e.find_element("css selector", ".text").text.endswith(f"Done: {message}")),
        None,
    )


def in_progress(driver):  # noqa: ANN001
    found = driver.find_elements("css selector", "#messages .message.agent:not([data-id])")
    return found[-1] if found else None


def stored_messages(driver, session: str) -> list[dict]:  # noqa: ANN001
    return driver.execute_async_script(
        """
        const [session, done] = arguments;
        const token = JSON.parse(sessionStorage.getItem('gateway.tokens')).access_token;
        fetch(`/v1/sessions/${session}/messages`, { headers: { Authorization: `Bearer ${token}` } })
          .then((response) => response.json()).then((body) => done(body.messages), (e) => done(String(e)));
        """,
        session,
    )


def assert_prefixes(texts: list[str], final: str, what: str) -> None:
    wrong = [text for text in texts if not final.startswith(text)]
    assert not wrong, f"{what}: states that are not a prefix of the final reply (doubled or out of order): {wrong[:3]} / final {final!r}"


def test_the_reply_lifecycle_in_two_browsers(gateway_url, shots, capsys, tmp_path) -> None:
    started = time.monotonic()
    binary = os.environ.get("GATEWAYCTL_BINARY", "")
    assert binary and os.access(binary, os.X_OK), "GATEWAYCTL_BINARY must point at the built gatewayctl (scripts/python-tests.sh sets it)"
    accessibility.AXE = accessibility.axe_source()
    owner = Gatewayctl(gateway_url, binary, str(tmp_path / "gatewayctl-owner"))
    script = tmp_path / "slow_markdown.py"
    script.write_text(SLOW_MARKDOWN)
    agent = f"planner-{uuid.uuid4().hex[:6]}"
    spec = f"{agent}=command:{shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    phone, end_phone = launch_chromium(f"{PHONE[0]},{PHONE[1]}")
    desktop, end_desktop = launch_chromium(f"{DESKTOP[0]},{DESKTOP[1]}")
    browsers = {"phone": phone, "desktop": desktop}
    try:
        for driver in browsers.values():
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER})
        owner.login(f"Olga {uuid.uuid4().hex[:4]}")
        owner.host(spec)
        share_id, invite_url = owner.share(agent)

        # The guest on the phone: invite, sign in, accept, chat.
        guest = f"Gus {uuid.uuid4().hex[:4]}"
        phone.get(invite_url)
        wait(phone, visible("#sign-in"), "the sign-in button on the invite page").click()
        wait(phone, visible("#display_name"), "the demo sign-in form").send_keys(guest)
        phone.find_element("css selector", 'button[value="allow"]').click()
        wait(phone, visible("#accept-invite"), "the invite's accept button").click()
        wait(phone, lambda d: "/app/chat/" in d.current_url and "session=" in d.current_url, "the chat page naming its conversation")
        chat_url = phone.current_url
        session = phone.execute_script("return new URLSearchParams(location.search).get('session')")
        greeting = wait(phone, visible("#chat-empty"), "the empty chat's greeting")
        assert agent in greeting.text, greeting.text

        # The same guest on a desktop: the demo identity is the cookie.
        desktop.get(f"{gateway_url}/")
        desktop.add_cookie({"name": "gw_browser", "value": phone.get_cookie("gw_browser")["value"], "path": "/", "httpOnly": True})
        desktop.get(f"{gateway_url}/app")
        wait(desktop, visible("#sign-in"), "the desktop's sign-in prompt").click()
        wait(desktop, visible("#display_name"), "the demo sign-in form").send_keys(guest)
        desktop.find_element("css selector", 'button[value="allow"]').click()
        wait(desktop, visible("li.agent"), "the agents list")
        desktop.get(chat_url)
        for driver in browsers.values():
            wait(driver, lambda d: d.find_element("id", "connection").text == "Live", "the session stream to be live")
        photograph(browsers, shots, "01-empty-chat", capsys)

        # 1. Working before the first word, in both browsers.
        first = "wait: what is the plan?"
        for driver in browsers.values():
            driver.execute_script(RESET)
        send(phone, first)
        for driver in browsers.values():
            wait(driver, visible("#messages .message.agent.working .typing"), "the working indicator")
        photograph(browsers, shots, "02-working", capsys)
        for driver in browsers.values():
            wait(driver, lambda d: reply_for(d, first), "the first reply")
            chat = driver.execute_script("return window.__chat")
            assert chat["working"] is not None and chat["firstText"] is not None, chat
            assert chat["working"] < chat["firstText"], f"working shown at {chat['working']:.0f} ms, first text at {chat['firstText']:.0f} ms"
            final = reply_for(driver, first).find_element("css selector", ".text").get_attribute("textContent")
            assert_prefixes(chat["texts"], final, "first reply")
        photograph(browsers, shots, "03-replied", capsys)

        # 2. Reload in the middle of a reply: the text so far within a second, then the rest.
        second = "and the checks?"
        send(phone, second)
        wait(desktop, lambda d: (e := in_progress(d)) and "build the image" in e.text, "the second reply to be half-way")
        before = in_progress(desktop).find_element("css selector", ".text").get_attribute("textContent")
        desktop.refresh()
        # Everything shown before the reload is back (the replayed pieces render in a burst).
        wait(
            desktop,
            lambda d: (e := in_progress(d)) and len(e.find_element("css selector", ".text").get_attribute("textContent")) >= len(before),
            "the reply so far after the reload",
            timeout=5,
        )
        caught_up = desktop.execute_script("return performance.now()")
        chat = desktop.execute_script("return window.__chat")
        with capsys.disabled():
            print(f"\n[lifecycle] after the reload: first text at {chat['firstText']:.0f} ms, all {len(before)} characters shown before the reload back by {caught_up:.0f} ms")
        assert caught_up < 1000, f"the reply so far took {caught_up:.0f} ms after the reload"
        assert chat["texts"][0].startswith("Release plan"), chat["texts"][:2]
        wait(desktop, visible("#messages .message.agent.streaming"), "the reply streaming on after the reload")
        photograph({"desktop": desktop}, shots, "04-reloaded-mid-reply", capsys)
        reply = wait(desktop, lambda d: reply_for(d, second), "the second reply after the reload")
        final = reply.find_element("css selector", ".text").get_attribute("textContent")
        assert_prefixes(desktop.execute_script("return window.__chat.texts"), final, "after the reload")
        assert len(reply.find_elements("css selector", "h2")) == 1 and len(reply.find_elements("css selector", "li")) == 6, reply.text
        phone_reply = wait(phone, lambda d: reply_for(d, second), "the second reply on the phone")
        assert phone_reply.find_element("css selector", ".text").get_attribute("textContent") == final
        stored = [m for m in stored_messages(desktop, session) if m["role"] == "agent"]
        assert [m["text"] for m in stored] == [expected_reply(first), expected_reply(second)], "the stored replies are the agent's output"
        assert len(desktop.find_elements("css selector", "#messages .message.agent")) == 2

        # 3. Scrolled up while a reply streams: the page stays put; "Latest" goes down.
        send(phone, "long: tell me everything")
        wait(phone, lambda d: (e := in_progress(d)) and "Line 20 " in e.text, "the long reply to fill the screen")
        phone.execute_script("window.scrollTo(0, 0); window.dispatchEvent(new Event('scroll'));")
        time.sleep(1.5)
        assert phone.execute_script("return window.scrollY") < 50, "the page pulled the reader back down"
        jump = wait(phone, visible("#jump-to-latest"), "the Latest button")
        photograph({"phone": phone}, shots, "05-scrolled-up", capsys)
        jump.click()
        wait(phone, lambda d: d.execute_script("return innerHeight + scrollY >= document.documentElement.scrollHeight - 100"), "the page at the bottom")
        wait(phone, lambda d: len(d.find_elements("css selector", "#messages .message.agent[data-id]")) == 3, "the long reply", timeout=30)

        # 4. The host dies mid-reply: interrupted, inline, within 2 s, at both sizes. The gateway
        # ends device streams every SSE_MAX_LIFETIME (6 s here) and keeps the device online until
        # it reconnects (within 200 ms); the host is killed just after a reconnection, so the
        # kill is seen as the connection closing, not as a host that never came back.
        fourth = "slow: what if the host dies?"
        send(phone, fourth)
        for driver in browsers.values():
            wait(driver, lambda d: (e := in_progress(d)) and "Release plan" in e.text, "the fourth reply to be streaming")
            driver.execute_script(RESET)
        connections = sum("connected: device" in line for line in owner.host_output)
        deadline = time.monotonic() + 10
        while sum("connected: device" in line for line in owner.host_output) == connections and time.monotonic() < deadline:
            time.sleep(0.02)
        assert time.monotonic() < deadline, f"the host did not reconnect within 10 s: {''.join(owner.host_output[-5:])}"
        time.sleep(0.3)
        assert in_progress(phone) is not None, "the fourth reply should still be streaming"
        owner.host_process.kill()
        owner.host_process.wait()
        killed = time.monotonic()
        for size, driver in browsers.items():
            note = wait(driver, visible("#messages .message.agent.interrupted .message-note"), f"the interrupted notice ({size})", timeout=2.5)
            assert "went offline" in note.text, note.text
        with capsys.disabled():
            print(f"\n[lifecycle] interrupted shown in both browsers {time.monotonic() - killed:.2f} s after the host was killed")
        assert time.monotonic() - killed < 2.5
        for driver in browsers.values():
            wait(driver, lambda d: d.find_element("id", "host-status").text == "Host offline", "the host offline in the status line")
            assert any("went offline" in e.text for e in driver.find_elements("css selector", "#messages .chat-event"))
        # A message sent now waits for the host, and says so.
        waiting = "and meanwhile?"
        send(desktop, waiting)
        wait(desktop, lambda d: any("Waiting for the host" in e.text for e in d.find_elements("css selector", "#messages .message.user .message-note")), "the queued note")
        photograph(browsers, shots, "06-interrupted-and-queued", capsys)
        for size, driver in browsers.items():
            audit = accessibility.Audit(driver, size, shots, capsys)
            audit.check("chat interrupted")
            audit.assert_clean()

        # The host comes back: attempt 2 replaces attempt 1, shown once; then the queued message.
        for driver in browsers.values():
            driver.execute_script(RESET)
        owner.host(spec)
        for driver in browsers.values():
            wait(driver, lambda d: reply_for(d, fourth), "the fourth reply, answered again", timeout=30)
            wait(driver, lambda d: reply_for(d, waiting), "the queued message's reply", timeout=30)
            answered = reply_for(driver, fourth)
            final = answered.find_element("css selector", ".text").get_attribute("textContent")
            assert final.count("Release plan") == 1, final
            assert "interrupted" not in answered.get_attribute("class")
            assert not any("Waiting for the host" in e.text for e in driver.find_elements("css selector", ".message-note:not([hidden])"))
            assert any("back online" in e.text for e in driver.find_elements("css selector", "#messages .chat-event"))
        stored = [m["text"] for m in stored_messages(phone, session) if m["role"] == "agent"]
        assert stored[-2:] == [expected_reply(fourth), expected_reply(waiting)]
        assert len(phone.find_elements("css selector", "#messages .message.agent")) == 5
        photograph(browsers, shots, "07-answered-again", capsys)

        # 5. Revoked mid-reply: an inline notice where the reader is; nothing more can be sent.
        send(phone, "wait: one more thing")
        for driver in browsers.values():
            wait(driver, visible("#messages .message.agent.working"), "the last reply to start")
        owner.revoke(share_id)
        for driver in browsers.values():
            wait(driver, lambda d: any("revoked" in e.text for e in d.find_elements("css selector", "#messages .chat-event")), "the inline revocation", timeout=5)
            assert driver.find_element("id", "message-input").get_attribute("disabled") is not None
            assert "revoked" in driver.find_element("id", "chat-notice").text
        photograph(browsers, shots, "08-revoked", capsys)
        for size, driver in browsers.items():
            audit = accessibility.Audit(driver, size, shots, capsys)
            audit.check("chat revoked")
            audit.assert_clean()
        for size, driver in browsers.items():
            # A browser that was reconnecting when the share was revoked is refused (403) and
            # says so: Chromium logs the refusal itself.
            refused = "/events - Failed to load resource: the server responded with a status of 403"
            assert [e for e in browser_errors(driver) if refused not in e] == [], f"console errors in the {size} browser"
    finally:
        owner.stop()
        end_phone()
        end_desktop()
        with capsys.disabled():
            print(f"[lifecycle] scenario took {time.monotonic() - started:.1f} s; screenshots in {shots}")
