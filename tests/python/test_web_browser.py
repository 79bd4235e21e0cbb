"""The web app in a real browser: Debian's headless Chromium driven through chromium-driver.

Scenario (docs/web.md): user A signs in and hosts an echo agent with the `gatewayctl` CLI and
creates a share; user B opens the invite URL in Chromium, signs in on the demo sign-in page,
sees the agent, accepts, sends a message and watches the streamed reply arrive; A, in the web
app, creates a personal API key on Devices, uses it on /v1/models and revokes it there (then it
is refused); A revokes the share with `gatewayctl revoke` and B's page says so and disables the
input. The landing page
shows the Gateway URL and the demo banner.

A second scenario: A shares a command agent from the web app's share dialog (the invite link, a
QR code that zbarimg decodes to it, expiry and uses); B gets a reply with every Markdown construct
streamed in small deltas (it must end as the whole text rendered at once), the XSS corpus of
tests/js/fixtures comes back inert, and B starts a second conversation, reopens the first with its
history and continues it. Light and dark screenshots at phone and desktop sizes.

Screenshots go to $GATEWAY_SCREENSHOT_DIR, or .build/screenshots/web-<time> (ignored by git);
their paths are printed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from queue import Empty, Queue

import httpx
import pytest

from conftest import HTTP_TIMEOUT, Browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_CANDIDATES = ["chromium", "chromium-browser"]
CHROMEDRIVER_CANDIDATES = ["chromedriver", "/usr/lib/chromium/chromedriver"]
WAIT = 20  # seconds any single step may take


def which(candidates: list[str]) -> str | None:
    for candidate in candidates:
        found = shutil.which(candidate) or (candidate if os.access(candidate, os.X_OK) else None)
        if found:
            return found
    return None


# MARK: The owner, A: gatewayctl processes


class Gatewayctl:
    """User A's side, driven through the `gatewayctl` binary (GATEWAYCTL_BINARY) with its own config dir."""

    def __init__(self, gateway_url: str, binary: str, config_dir: str) -> None:
        self.gateway_url = gateway_url
        self.binary = binary
        self.config_dir = config_dir
        self.host_process: subprocess.Popen[str] | None = None
        self.host_output: list[str] = []
        self.demo_identity: str | None = None

    def command(self, subcommand: str, *arguments: str) -> list[str]:
        # `--config-dir` is an option of each subcommand (docs/gatewayctl.md); the environment
        # variable says the same for good measure.
        return [self.binary, subcommand, *arguments, "--config-dir", self.config_dir]

    @property
    def environment(self) -> dict[str, str]:
        return {**os.environ, "GATEWAYCTL_CONFIG_DIR": self.config_dir}

    def popen(self, *arguments: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*arguments),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.environment,
        )

    def run(self, *arguments: str, timeout: float = WAIT) -> str:
        result = subprocess.run(
            self.command(*arguments), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, env=self.environment
        )
        assert result.returncode == 0, f"gatewayctl {' '.join(arguments)} exited {result.returncode}: {result.stdout}\n{result.stderr}"
        return result.stdout

    @staticmethod
    def lines(process: subprocess.Popen[str], into: list[str]) -> Queue[str]:
        """Reads stdout and stderr lines in the background (both streams into one queue)."""
        queue: Queue[str] = Queue()

        def pump(stream) -> None:  # noqa: ANN001
            for line in stream:
                into.append(line)
                queue.put(line)

        for stream in (process.stdout, process.stderr):
            threading.Thread(target=pump, args=(stream,), daemon=True).start()
        return queue

    @staticmethod
    def wait_for(queue: Queue[str], pattern: str, what: str, output: list[str]) -> re.Match[str]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                line = queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except Empty:
                break
            match = re.search(pattern, line)
            if match:
                return match
        pytest.fail(f"gatewayctl did not print {what} within {WAIT} s; output:\n{''.join(output)}")

    def login(self, display_name: str) -> None:
        """`gatewayctl login URL`: the test is the browser (demo sign-in form, then the loopback redirect)."""
        output: list[str] = []
        process = self.popen("login", self.gateway_url, "--no-browser")
        try:
            queue = self.lines(process, output)
            url = self.wait_for(queue, r"(https?://\S+/oauth/authorize\?\S+)", "the authorization URL", output).group(1)
            browser = Browser()
            try:
                location = browser.sign_in(url, display_name)
                # The demo identity is this browser cookie: A's web sign-in reuses it to be the same user.
                self.demo_identity = browser.http.cookies.get("gw_browser")
            finally:
                browser.close()
            assert location.startswith("http://127.0.0.1:") or location.startswith("http://[::1]:"), location
            httpx.get(location, timeout=HTTP_TIMEOUT)  # the CLI's loopback listener completes the sign-in
            # Longer than gatewayctl's own 30 s request timeout, so a stalled request is reported
            # by gatewayctl (naming what it waited for) rather than by this wait.
            try:
                status = process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                pytest.fail(f"gatewayctl login did not finish within 45 s of the redirect; its output:\n{''.join(output)}")
            assert status == 0, f"gatewayctl login failed:\n{''.join(output)}"
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    def host(self, agent: str, *more: str) -> None:
        """Hosts `agent` (and agent specs in `more`, e.g. NAME=command:CMD) until stop()."""
        self.host_process = self.popen("host", "--agent", agent, *[part for spec in more for part in ("--agent", spec)])
        queue = self.lines(self.host_process, self.host_output)
        self.wait_for(queue, r"connected", "a line saying it is connected", self.host_output)

    def share(self, agent: str) -> tuple[str, str]:
        created = json.loads(self.run("share", agent, "--json"))
        return created["id"], created["invite_url"]

    def revoke(self, share_id: str) -> None:
        self.run("revoke", share_id)

    def stop(self) -> None:
        if self.host_process and self.host_process.poll() is None:
            self.host_process.send_signal(signal.SIGTERM)
            try:
                self.host_process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.host_process.kill()
                self.host_process.wait()


# MARK: The browser, B


@pytest.fixture(scope="module")
def screenshots() -> Path:
    directory = Path(os.environ.get("GATEWAY_SCREENSHOT_DIR") or REPO / ".build" / "screenshots" / f"web-{time.strftime('%Y%m%d-%H%M%S')}")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def launch_chromium(window_size: str):
    """A headless Chromium with a fresh profile; returns the driver and a function that ends it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = which(CHROMIUM_CANDIDATES)
    driver_path = which(CHROMEDRIVER_CANDIDATES)
    if not binary or not driver_path:
        pytest.fail("chromium and chromium-driver are required (scripts/test.sh installs them: apt-get install chromium chromium-driver)")
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download anything
    profile = tempfile.mkdtemp(prefix="gateway-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in [
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        f"--window-size={window_size}",
        f"--user-data-dir={profile}",
    ]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(WAIT)

    def end() -> None:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)

    return driver, end


@pytest.fixture
def chromium():
    """User B's browser, phone-sized."""
    driver, end = launch_chromium("412,915")
    try:
        yield driver
    finally:
        end()


@pytest.fixture
def owner_chromium():
    """User A's browser, desktop-sized."""
    driver, end = launch_chromium("1100,800")
    try:
        yield driver
    finally:
        end()


def save(driver, directory: Path, name: str, capsys) -> Path:  # noqa: ANN001
    path = directory / f"{name}.png"
    driver.save_screenshot(str(path))
    with capsys.disabled():
        print(f"\n[web browser test] screenshot: {path}")
    return path


def browser_errors(driver) -> list[str]:  # noqa: ANN001
    """Console errors, CSP violations included (they are logged as errors)."""
    # The gateway's own sign-in page has no icon link, so Chromium asks for /favicon.ico (404).
    return [
        entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE" and "/favicon.ico" not in entry["message"]
    ]


def wait(driver, condition, what: str, timeout: float = WAIT):  # noqa: ANN001
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)
    except TimeoutException:
        body = driver.find_element("tag name", "body").text[:2000]
        pytest.fail(f"timed out waiting for {what} at {driver.current_url}; page text:\n{body}\nconsole: {browser_errors(driver)}")


def visible(selector: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    return expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, selector))


# MARK: Tests


def test_landing_page_shows_the_gateway_url_and_the_demo_banner(gateway_url, chromium, screenshots, capsys) -> None:
    chromium.get(f"{gateway_url}/")
    field = wait(chromium, visible("#gateway-url"), "the Gateway URL field")
    assert field.get_attribute("value") == gateway_url
    banner = chromium.find_element("id", "demo-banner")
    assert banner.is_displayed() and "not for production" in banner.text
    checks = chromium.find_element("id", "checks").text
    assert "Redis" in checks and "Store" in checks and "unavailable" not in checks, checks
    chromium.find_element("css selector", 'button[data-copy="gateway-url"]').click()
    wait(chromium, lambda d: d.find_element("css selector", '[data-copy-status="gateway-url"]').text.strip(), "the copy confirmation")
    save(chromium, screenshots, "01-landing", capsys)
    # The SHA-256 fallback for PKCE on plain-http LAN hosts (the module auth.js imports) agrees with Python's.
    for text in ["", "abc", "x" * 1000, "verifier-" + uuid.uuid4().hex]:
        digest = chromium.execute_async_script(
            "const [text, done] = arguments;"
            "import('/assets/web/sha256.js').then(({ sha256 }) => done(Array.from(sha256(new TextEncoder().encode(text)))"
            ".map((b) => b.toString(16).padStart(2, '0')).join('')));",
            text,
        )
        assert digest == hashlib.sha256(text.encode()).hexdigest(), text
    assert browser_errors(chromium) == []


def test_the_callback_page_never_shows_text_from_the_address_bar(gateway_url, chromium) -> None:
    """Anyone can link to /app/callback: it shows fixed messages, and reads nothing that does not
    answer a sign-in this tab started."""
    bait = "Your account is locked; call 555-0100"
    for query in [
        f"error=access_denied&error_description={bait}&state=forged",
        f"error=server_error&error_description={bait}",
        f"code=stolen&state=forged&error_description={bait}",
    ]:
        chromium.get(f"{gateway_url}/app/callback?{query}")
        wait(chromium, lambda d: "Sign-in failed" in d.find_element("tag name", "body").text, "the refusal")
        text = chromium.find_element("tag name", "body").text
        assert bait not in text and "555-0100" not in text, text
        assert "does not belong to a sign-in started in this tab" in text, text
    # With a pending sign-in of this tab, an error is one of the fixed messages.
    chromium.execute_script(
        "sessionStorage.setItem(arguments[0], JSON.stringify({verifier: 'v', state: 'mine', returnTo: '/app'}))",
        "gateway.signin",
    )
    chromium.get(f"{gateway_url}/app/callback?error=access_denied&error_description={bait}&state=mine")
    wait(chromium, lambda d: "Sign-in cancelled" in d.find_element("tag name", "body").text, "the cancellation")
    text = chromium.find_element("tag name", "body").text
    assert "You cancelled the sign-in." in text and bait not in text, text


def test_guest_accepts_an_invite_chats_with_streamed_replies_and_sees_the_revocation(
    gateway_url, chromium, owner_chromium, screenshots, capsys, tmp_path
) -> None:
    from selenium.webdriver.common.keys import Keys

    started = time.monotonic()
    binary = os.environ.get("GATEWAYCTL_BINARY", "")
    assert binary and os.access(binary, os.X_OK), "GATEWAYCTL_BINARY must point at the built gatewayctl (scripts/python-tests.sh sets it)"
    owner = Gatewayctl(gateway_url, binary, str(tmp_path / "gatewayctl-a"))
    agent = f"echo-{uuid.uuid4().hex[:6]}"
    try:
        owner_name = f"Alice {uuid.uuid4().hex[:4]}"
        owner.login(owner_name)
        owner.host(agent)
        share_id, invite_url = owner.share(agent)
        assert invite_url.startswith(f"{gateway_url}/invite/"), invite_url

        # B opens the invite: not signed in yet, the page already says who invites B to what.
        chromium.get(invite_url)
        sign_in = wait(chromium, visible("#sign-in"), "the sign-in button on the invite page")
        assert chromium.find_element("id", "invite-owner").text == owner_name
        assert chromium.find_element("id", "invite-agent").text == agent
        assert owner_name in chromium.title and agent in chromium.title, chromium.title
        save(chromium, screenshots, "02a-invite-signed-out", capsys)
        sign_in.click()
        # The gateway's own demo sign-in page.
        name = wait(chromium, visible("#display_name"), "the demo sign-in form")
        assert chromium.find_element("css selector", ".banner").is_displayed()
        name.send_keys(f"Bea {uuid.uuid4().hex[:4]}")
        save(chromium, screenshots, "02-demo-sign-in", capsys)
        chromium.find_element("css selector", 'button[value="allow"]').click()

        # Back on the invite (through /app/callback): the agent is shown; accept.
        accept = wait(chromium, visible("#accept-invite"), "the invite with its accept button")
        assert agent in chromium.find_element("id", "invite-agent").text
        assert "/app/callback" not in chromium.current_url and "code=" not in chromium.current_url
        wait(chromium, lambda d: "Signed in as Bea" in d.find_element("id", "account").text, "the signed-in name")
        save(chromium, screenshots, "03-invite", capsys)
        accept.click()

        # The chat: live stream, host online.
        wait(chromium, lambda d: "/app/chat/" in d.current_url, "the chat page")
        wait(chromium, lambda d: d.find_element("id", "connection").text == "Live", "the session stream to be live")
        wait(chromium, lambda d: d.find_element("id", "host-status").text == "Host online", "the host to be online")
        assert agent in chromium.find_element("id", "page-title").text

        # Record every state of streamed replies while they arrive (MutationObserver).
        chromium.execute_script(
            """
            window.__streamed = [];
            new MutationObserver(() => {
              for (const element of document.querySelectorAll('#messages .message.agent.streaming .text')) {
                window.__streamed.push(element.textContent);
              }
            }).observe(document.getElementById('messages'), {subtree: true, childList: true, characterData: true});
            """
        )
        text = f"hello from the browser {uuid.uuid4().hex[:6]}"
        box = chromium.find_element("id", "message-input")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)
        reply = wait(
            chromium,
            lambda d: next(
                (e for e in d.find_elements("css selector", "#messages .message.agent[data-id]") if text in e.text),
                None,
            ),
            "the agent's complete reply",
        )
        mine = chromium.find_elements("css selector", "#messages .message.user[data-id]")
        assert [e.find_element("css selector", ".text").text for e in mine] == [text], "the own message is shown once"
        streamed = chromium.execute_script("return window.__streamed")
        final = reply.find_element("css selector", ".text").text
        partial = [piece for piece in streamed if piece and piece != final]
        # The echo agent streams word by word: the bubble grew through prefixes of the final reply.
        assert partial and all(final.startswith(piece) for piece in partial), (streamed, final)
        assert "streaming" not in reply.get_attribute("class")
        # The conversation is not a live region (every delta would be read out); a status region
        # says the finished reply once.
        log = chromium.find_element("id", "messages")
        assert log.get_attribute("aria-live") is None and log.get_attribute("role") is None
        announcer = chromium.find_element("id", "reply-announcer")
        assert announcer.get_attribute("role") == "status" and announcer.get_attribute("aria-live") == "polite"
        assert announcer.get_attribute("textContent").startswith(f"{agent} replied: {text}"), announcer.get_attribute("textContent")
        save(chromium, screenshots, "04-chat-reply", capsys)

        # The server ends streams after SSE_MAX_LIFETIME (6 s under scripts/python-tests.sh): the page
        # reconnects from its last event id and the chat goes on.
        chromium.execute_script(
            """
            const connection = document.getElementById('connection');
            window.__connection = [];
            new MutationObserver(() => window.__connection.push(connection.textContent))
              .observe(connection, {subtree: true, childList: true, characterData: true});
            """
        )
        wait(
            chromium,
            lambda d: d.execute_script(
                "const c = window.__connection, i = c.indexOf('Reconnecting…'); return i !== -1 && c.indexOf('Live', i) !== -1"
            ),
            "the chat stream to end and be resumed",
        )
        again = f"and again {uuid.uuid4().hex[:6]}"
        box.send_keys(again)
        box.send_keys(Keys.ENTER)
        wait(
            chromium,
            lambda d: any(again in e.text for e in d.find_elements("css selector", "#messages .message.agent[data-id]")),
            "the reply after the stream resumed",
        )
        texts = [e.text for e in chromium.find_elements("css selector", "#messages .message .text")]
        assert len(texts) == 4 and texts[0] == text and texts[2] == again, texts

        # A's own browser (same demo identity as A's gatewayctl): agents, shares with B as guest, devices.
        owner_chromium.get(f"{gateway_url}/")
        owner_chromium.add_cookie({"name": "gw_browser", "value": owner.demo_identity, "path": "/", "httpOnly": True})
        owner_chromium.get(f"{gateway_url}/app")
        wait(owner_chromium, visible("#sign-in"), "A's sign-in prompt").click()
        wait(owner_chromium, visible("#display_name"), "the demo sign-in form").send_keys(owner_name)
        owner_chromium.find_element("css selector", 'button[value="allow"]').click()
        agent_card = wait(owner_chromium, visible("li.agent"), "A's agent on My agents")
        assert agent in agent_card.text and "Host online" in agent_card.text, agent_card.text
        agent_id = agent_card.get_attribute("data-agent-id")
        save(owner_chromium, screenshots, "07-owner-agents", capsys)
        owner_chromium.get(f"{gateway_url}/app/shares")
        share_card = wait(owner_chromium, visible(f'li.share[data-share-id="{share_id}"]'), "A's share on Shares")
        assert "Bea" in share_card.text and share_card.find_element("css selector", "button.danger").is_enabled(), share_card.text
        owner_chromium.get(f"{gateway_url}/app/devices")
        device_card = wait(owner_chromium, visible("li.device"), "A's device on Devices")
        wait(owner_chromium, lambda d: d.find_element("css selector", "li.device .status").text == "Online", "the device online")

        # A makes a personal API key for an AI client on Devices, shown once: it lists A's agent
        # on the OpenAI-compatible /v1/models until A revokes it in the page.
        assert owner_chromium.find_element("id", "openai-base-url").get_attribute("value") == f"{gateway_url}/v1"
        assert owner_chromium.find_element("id", "mcp-server-url").get_attribute("value") == f"{gateway_url}/mcp"
        key_name = f"AI client {uuid.uuid4().hex[:4]}"
        owner_chromium.find_element("id", "api-key-name").send_keys(key_name)
        owner_chromium.find_element("id", "create-api-key").click()
        key = wait(owner_chromium, visible("#api-key-secret"), "A's new API key").get_attribute("value")
        assert key.startswith("gwk_"), key
        key_card = wait(
            owner_chromium,
            lambda d: next((c for c in d.find_elements("css selector", "li.api-key") if key_name in c.text), None),
            "the new key in A's list",
        )
        key_id = key_card.get_attribute("data-key-id")
        assert f"{key[:10]}…" in key_card.text and "Never used" in key_card.text, key_card.text
        assert key not in owner_chromium.find_element("id", "api-key-list").text, "the list shows the prefix, never the key"
        models = httpx.get(f"{gateway_url}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=HTTP_TIMEOUT)
        assert models.status_code == 200, models.text
        assert f"{agent}-{agent_id.replace('-', '')[:8]}" in [model["id"] for model in models.json()["data"]], models.text
        owner_chromium.refresh()
        device_card = wait(owner_chromium, visible("li.device"), "A's device on Devices, reloaded")
        key_card = wait(owner_chromium, visible(f'li.api-key[data-key-id="{key_id}"]'), "the key after a reload")
        assert "Last used" in key_card.text and "Never used" not in key_card.text, key_card.text
        assert not owner_chromium.find_elements("id", "api-key-secret"), "the key is shown only once"
        key_card.find_element("css selector", "button.revoke-api-key").click()
        confirm = f'li.api-key[data-key-id="{key_id}"] button.confirm-revoke-api-key'
        wait(owner_chromium, visible(confirm), "the Revoke confirmation").click()
        wait(owner_chromium, lambda d: not d.find_elements("css selector", f'li.api-key[data-key-id="{key_id}"]'), "the revoked key to leave the list")
        refused = httpx.get(f"{gateway_url}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=HTTP_TIMEOUT)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["code"] == "invalid_api_key", refused.text
        save(owner_chromium, screenshots, "07b-owner-api-keys", capsys)
        wait(owner_chromium, lambda d: d.find_element("css selector", "li.device .status").text == "Online", "the device still online")

        # A revokes: B's page says so at once and the input is disabled.
        owner.revoke(share_id)
        wait(chromium, lambda d: "revoked" in d.find_element("id", "chat-notice").text, "the revocation notice")
        assert not chromium.find_element("id", "message-input").is_enabled()
        assert not chromium.find_element("id", "send").is_enabled()
        save(chromium, screenshots, "05-revoked", capsys)

        # The access token runs out: the next page refreshes it (rotating the refresh token).
        before = chromium.execute_script("return JSON.parse(sessionStorage.getItem('gateway.tokens'))")
        chromium.execute_script(
            "const t = JSON.parse(sessionStorage.getItem('gateway.tokens')); t.expires_at = 0;"
            "sessionStorage.setItem('gateway.tokens', JSON.stringify(t));"
        )
        chromium.get(f"{gateway_url}/app/shares")
        card = wait(chromium, visible(f'li.share[data-share-id="{share_id}"]'), "B's accepted share on the Shares page")
        assert card.get_attribute("data-status") == "revoked"
        after = chromium.execute_script("return JSON.parse(sessionStorage.getItem('gateway.tokens'))")
        assert after["refresh_token"] != before["refresh_token"] and after["expires_at"] > time.time() * 1000
        save(chromium, screenshots, "06-shares", capsys)

        # Sign out revokes the refresh token at the gateway and forgets the tokens.
        chromium.find_element("id", "sign-out").click()
        wait(chromium, lambda d: d.execute_script("return location.pathname") == "/", "the landing page after signing out")
        assert chromium.execute_script("return sessionStorage.getItem('gateway.tokens')") is None
        refused = httpx.post(
            f"{gateway_url}/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": after["refresh_token"], "client_id": "web"},
            timeout=HTTP_TIMEOUT,
        )
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant", refused.text
        # Streams here end every 6 s (SSE_MAX_LIFETIME): when the revocation falls between one
        # connection's end and the next, the reconnect is refused with 403, which is how the page
        # learns it (sse.js treats 403 as final), and Chromium logs the refused request.
        refused_reconnect = re.compile(r"/v1/sessions/[^/ ]+/events - Failed to load resource: .* status of 403 ")
        errors = [entry for entry in browser_errors(chromium) if not refused_reconnect.search(entry + " ")]
        assert errors == [], "console errors (a CSP violation would be one)"

        # A stops hosting: A's Devices page turns the device offline live (user stream).
        owner.stop()
        wait(owner_chromium, lambda d: d.find_element("css selector", "li.device .status").text == "Offline", "the device offline")
        save(owner_chromium, screenshots, "08-owner-devices-offline", capsys)
        assert device_card.is_displayed()
        assert browser_errors(owner_chromium) == [], "console errors in A's browser"
    finally:
        owner.stop()
        with capsys.disabled():
            print(f"[web browser test] scenario took {time.monotonic() - started:.1f} s")


# MARK: Markdown, conversations and invites that travel

# The agent of the next test: a `gatewayctl host` command agent that answers with the message itself,
# three characters per write, so the reply reaches the browser in small deltas.
CHUNKED_ECHO = """
import sys, time
text = sys.stdin.read()
if text.endswith("\\n"):
    text = text[:-1]
# "slowly: ..." is echoed at 10 pieces a second, long enough to be stopped.
pause = 0.1 if text.startswith("slowly:") else 0.004
for start in range(0, len(text), 3):
    sys.stdout.write(text[start:start + 3])
    sys.stdout.flush()
    time.sleep(pause)
"""


def test_markdown_replies_conversations_and_an_invite_with_its_qr_code(gateway_url, chromium, owner_chromium, screenshots, capsys, tmp_path) -> None:
    """A shares a command agent from the web app's share dialog (link, QR code, expiry, uses); B
    opens the link, gets a reply with every Markdown construct streamed in small deltas and the
    XSS corpus back inert, starts a second conversation, reopens the first with its history and
    continues it. Light and dark screenshots at phone and desktop sizes."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    from web_checks import (
        DESKTOP, EVERY_CONSTRUCT, PHONE, RECORD_STREAMING, XSS_CORPUS, assert_inert, check_streamed_markdown, decode_qr, theme_screenshots,
    )

    started = time.monotonic()
    binary = os.environ.get("GATEWAYCTL_BINARY", "")
    assert binary and os.access(binary, os.X_OK), "GATEWAYCTL_BINARY must point at the built gatewayctl (scripts/python-tests.sh sets it)"
    owner = Gatewayctl(gateway_url, binary, str(tmp_path / "gatewayctl-a"))
    script = tmp_path / "chunked_echo.py"
    script.write_text(CHUNKED_ECHO)
    agent = f"md-{uuid.uuid4().hex[:6]}"
    session_of = "return new URLSearchParams(location.search).get('session')"
    try:
        owner_name = f"Ada {uuid.uuid4().hex[:4]}"
        owner.login(owner_name)
        # The agent NAME=command:CMD is the only one this host serves.
        owner.host(f"{agent}=command:{shlex.quote(sys.executable)} {shlex.quote(str(script))}")

        # A, in the web app at desktop size: the share dialog.
        owner_chromium.get(f"{gateway_url}/")
        owner_chromium.add_cookie({"name": "gw_browser", "value": owner.demo_identity, "path": "/", "httpOnly": True})
        owner_chromium.get(f"{gateway_url}/app")
        wait(owner_chromium, visible("#sign-in"), "A's sign-in prompt").click()
        wait(owner_chromium, visible("#display_name"), "the demo sign-in form").send_keys(owner_name)
        owner_chromium.find_element("css selector", 'button[value="allow"]').click()
        card = wait(
            owner_chromium,
            lambda d: next((c for c in d.find_elements("css selector", "li.agent") if agent in c.text and c.is_displayed()), None),
            "A's agent on My agents",
        )
        agent_id = card.get_attribute("data-agent-id")
        card.find_element("css selector", "button.share-agent").click()
        wait(owner_chromium, visible("#share-dialog"), "the share dialog")
        assert owner_chromium.switch_to.active_element == owner_chromium.find_element("id", "share-label")
        Select(owner_chromium.find_element("id", "share-expiry")).select_by_visible_text("In 7 days")
        owner_chromium.find_element("id", "share-max-uses").send_keys("2")
        owner_chromium.find_element("id", "create-invite").click()
        invite_url = wait(owner_chromium, visible("#invite-link"), "the invite link").get_attribute("value")
        assert invite_url.startswith(f"{gateway_url}/invite/"), invite_url
        assert owner_chromium.find_element("id", "invite-uses").text == "2 of 2"
        expiry = owner_chromium.find_element("id", "invite-expiry").text
        assert expiry != "Never" and "in 7 days" in expiry, expiry
        qr = owner_chromium.find_element("css selector", "#share-dialog svg.qr")
        assert decode_qr(qr.screenshot_as_png, screenshots, "10-invite-qr") == invite_url
        theme_screenshots(owner_chromium, screenshots, "11-share-dialog", capsys)
        owner_chromium.set_window_size(*DESKTOP)
        owner_chromium.find_element("id", "share-done").click()
        wait(owner_chromium, lambda d: not d.find_elements("id", "share-dialog"), "the dialog to close")
        owner_chromium.get(f"{gateway_url}/app/shares")
        share_card = wait(owner_chromium, visible("li.share"), "the new share on Shares")
        assert "0 of 2 uses" in share_card.text and "Expires" in share_card.text, share_card.text

        # A chats with the agent too: the owner's conversations work the same.
        owner_chromium.get(f"{gateway_url}/app/chat/{agent_id}")
        wait(owner_chromium, lambda d: d.find_element("id", "connection").text == "Live", "A's chat with the agent")
        assert "Your agent" in owner_chromium.find_element("css selector", ".chat-head").text
        assert "Conversations (1)" in owner_chromium.find_element("css selector", "#conversations summary").text
        owner_chromium.find_element("id", "message-input").send_keys("**A's own** test", Keys.ENTER)
        wait(owner_chromium, lambda d: d.find_elements("css selector", "#messages .message.agent[data-id] .text strong"), "the reply to A")
        owner_title = wait(owner_chromium, visible("li.conversation .conversation-title"), "A's conversation in the list")
        assert owner_title.text == "A's own test", owner_title.text

        # Stop while a reply streams: the host stops the agent and what was written is the reply.
        slow = "slowly: " + " ".join(f"word{n}" for n in range(200))
        owner_chromium.execute_script("document.getElementById('message-input').value = arguments[0];", slow)
        owner_chromium.find_element("id", "message-input").send_keys(Keys.END, Keys.ENTER)
        wait(owner_chromium, visible("#messages .message.agent.streaming"), "the slow reply to start streaming")
        wait(owner_chromium, visible("#stop"), "the Stop button").click()
        stopped = wait(
            owner_chromium,
            lambda d: next((e for e in d.find_elements("css selector", "#messages .message.agent[data-id]") if "(stopped)" in e.text), None),
            "the stopped reply",
        )
        kept = stopped.find_element("css selector", ".text").text
        assert kept and slow.startswith(kept) and len(kept) < len(slow), kept
        wait(owner_chromium, lambda d: not d.find_element("id", "stop").is_displayed(), "the Stop button to go away")

        # B, on a phone: the invite, signing in, the chat.
        chromium.get(invite_url)
        wait(chromium, visible("#sign-in"), "the sign-in button on the invite page").click()
        wait(chromium, visible("#display_name"), "the demo sign-in form").send_keys(f"Bea {uuid.uuid4().hex[:4]}")
        chromium.find_element("css selector", 'button[value="allow"]').click()
        wait(chromium, visible("#accept-invite"), "the invite with its accept button").click()
        wait(chromium, lambda d: "/app/chat/" in d.current_url and d.execute_script(session_of), "the chat page naming its conversation")
        first = chromium.execute_script(session_of)
        wait(chromium, lambda d: d.find_element("id", "connection").text == "Live", "the session stream to be live")

        # Shift+Enter is a new line; nothing is sent until Enter.
        box = chromium.find_element("id", "message-input")
        box.send_keys("# Release notes")
        ActionChains(chromium).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
        assert box.get_attribute("value") == "# Release notes\n"
        assert chromium.find_elements("css selector", "#messages .message") == []

        # A reply with every Markdown construct, in small deltas.
        chromium.execute_script(RECORD_STREAMING + "document.getElementById('message-input').value = arguments[0];", EVERY_CONSTRUCT)
        box.send_keys(Keys.END, Keys.ENTER)
        reply = wait(chromium, lambda d: next(iter(d.find_elements("css selector", "#messages .message.agent[data-id]")), None), "the Markdown reply")
        check_streamed_markdown(chromium, reply, agent)
        mine = chromium.find_element("css selector", "#messages .message.user .text")
        assert mine.text == EVERY_CONSTRUCT.strip(), "what B typed is shown as typed"
        reply.find_element("css selector", "pre").location_once_scrolled_into_view
        theme_screenshots(chromium, screenshots, "12-chat-markdown", capsys)
        chromium.set_window_size(*PHONE)

        # The XSS corpus, sent and streamed back: inert. Payloads with control characters other than
        # newline and tab are left out: this test is about rendering, not about what the API accepts.
        corpus = "\n\n".join(payload for payload in XSS_CORPUS if not any(ord(c) < 32 and c not in "\n\t" for c in payload))
        chromium.execute_script("document.getElementById('message-input').value = arguments[0];", corpus)
        box.send_keys(Keys.END, Keys.ENTER)
        wait(chromium, lambda d: len(d.find_elements("css selector", "#messages .message.agent[data-id]")) == 2, "the reply to the XSS corpus", timeout=60)
        time.sleep(1)  # time for anything that would load or fire
        assert_inert(chromium, "#messages")
        assert "<script>window.__xss = 1</script>" in chromium.find_element("id", "messages").text

        # A second conversation, then back to the first: its history, and it goes on.
        panel = chromium.find_element("id", "conversations")
        if panel.get_attribute("open") is None:
            panel.find_element("tag name", "summary").click()
        wait(chromium, visible("#new-conversation"), "the New conversation button").click()
        wait(chromium, lambda d: d.execute_script(session_of) not in (None, first), "the new conversation")
        second = chromium.execute_script(session_of)
        wait(chromium, lambda d: d.find_element("id", "connection").text == "Live", "the second conversation's stream")
        assert chromium.find_elements("css selector", "#messages .message") == []
        chromium.find_element("id", "message-input").send_keys("A second conversation", Keys.ENTER)
        wait(chromium, lambda d: len(d.find_elements("css selector", "#messages .message.agent[data-id]")) == 1, "the reply in the second conversation")
        chromium.refresh()
        wait(chromium, visible("#conversations summary"), "the conversations panel").click()
        items = wait(chromium, lambda d: (found := d.find_elements("css selector", "li.conversation")) and len(found) == 2 and found, "two conversations")
        assert [item.get_attribute("data-session-id") for item in items] == [second, first], "newest first"
        wait(
            chromium,
            lambda d: [t.text for t in d.find_elements("css selector", ".conversation-title")] == ["A second conversation", "Release notes for Gateway"],
            "the conversations' titles (their first lines)",
        )
        assert all("Host online" in item.text and item.find_element("css selector", "time") for item in items)
        theme_screenshots(chromium, screenshots, "13-conversations", capsys)
        chromium.set_window_size(*PHONE)
        panel = chromium.find_element("id", "conversations")
        if panel.get_attribute("open") is None:
            panel.find_element("tag name", "summary").click()
        wait(chromium, visible(f'li.conversation[data-session-id="{first}"] a'), "the first conversation's link").click()
        wait(chromium, lambda d: d.execute_script(session_of) == first, "the first conversation")
        wait(chromium, lambda d: len(d.find_elements("css selector", "#messages .message[data-id]")) == 4, "the first conversation's history")
        assert chromium.find_element("css selector", "#messages .message.agent .text h1").text == "Release notes for Gateway"
        assert_inert(chromium, "#messages")
        wait(chromium, lambda d: d.find_element("id", "connection").text == "Live", "the first conversation's stream")
        chromium.find_element("id", "message-input").send_keys("And we go on", Keys.ENTER)
        wait(chromium, lambda d: len(d.find_elements("css selector", "#messages .message.agent[data-id]")) == 3, "the reply in the reopened conversation")
        # The gateway has it in the first session.
        stored = chromium.execute_async_script(
            """
            const [session, done] = arguments;
            const token = JSON.parse(sessionStorage.getItem('gateway.tokens')).access_token;
            fetch(`/v1/sessions/${session}/messages`, { headers: { Authorization: `Bearer ${token}` } })
              .then((response) => response.json()).then((body) => done(body.messages.map((m) => [m.role, m.text])), (e) => done(String(e)));
            """,
            first,
        )
        assert [role for role, _ in stored] == ["user", "agent"] * 3 and stored[-2:] == [["user", "And we go on"], ["agent", "And we go on"]], stored

        # Rename the first conversation (kept by the gateway: a reload shows it), delete the second.
        chromium.find_element("id", "rename-conversation").click()
        field = wait(chromium, visible("#conversation-title-input"), "the rename field")
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys("Notes <b>for</b> Friday", Keys.ENTER)
        wait(chromium, lambda d: d.find_element("id", "conversation-name").text == "Notes <b>for</b> Friday", "the new name")
        chromium.refresh()
        wait(chromium, lambda d: d.find_element("id", "conversation-name").text == "Notes <b>for</b> Friday", "the name after a reload")
        wait(
            chromium,
            lambda d: d.find_element("css selector", f'li.conversation[data-session-id="{first}"] .conversation-title').get_attribute("textContent") == "Notes <b>for</b> Friday",
            "the name in the list",
        )
        chromium.get(f"{gateway_url}/app/chat/{agent_id}?session={second}")
        wait(chromium, visible("#delete-conversation"), "the Delete button").click()
        question = wait(chromium, visible("#delete-conversation-question"), "the delete question")
        assert "cannot be undone" in question.text
        chromium.find_element("css selector", "button.confirm-delete-conversation").click()
        wait(chromium, lambda d: d.execute_script(session_of) == first, "the remaining conversation after the delete")
        sessions = chromium.execute_async_script(
            """
            const done = arguments[0];
            const token = JSON.parse(sessionStorage.getItem('gateway.tokens')).access_token;
            fetch('/v1/sessions', { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.json()).then((list) => done(list.map((s) => [s.id, s.title || null])));
            """
        )
        assert second not in [s for s, _ in sessions] and [first, "Notes <b>for</b> Friday"] in sessions, sessions
        assert browser_errors(chromium) == [], "console errors in B's browser (a CSP violation would be one)"
        assert browser_errors(owner_chromium) == [], "console errors in A's browser"
    finally:
        owner.stop()
        with capsys.disabled():
            print(f"[web browser test] markdown, conversations and invite scenario took {time.monotonic() - started:.1f} s")
