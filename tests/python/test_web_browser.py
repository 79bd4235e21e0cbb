"""The web app in a real browser: Debian's headless Chromium driven through chromium-driver.

Scenario (docs/web.md): user A signs in and hosts an echo agent with the `gatewayctl` CLI and
creates a share; user B opens the invite URL in Chromium, signs in on the demo sign-in page,
sees the agent, accepts, sends a message and watches the streamed reply arrive; A revokes the
share with `gatewayctl revoke` and B's page says so and disables the input. The landing page
shows the Gateway URL and the demo banner.

Screenshots go to $GATEWAY_SCREENSHOT_DIR, or .build/screenshots/web-<time> (ignored by git);
their paths are printed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
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
            assert process.wait(timeout=WAIT) == 0, f"gatewayctl login failed:\n{''.join(output)}"
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    def host(self, agent: str) -> None:
        self.host_process = self.popen("host", "--agent", agent)
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

        # B opens the invite: not signed in yet.
        chromium.get(invite_url)
        wait(chromium, visible("#sign-in"), "the sign-in button on the invite page").click()
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
        log = chromium.find_element("id", "messages")
        assert log.get_attribute("aria-live") == "polite" and log.get_attribute("role") == "log"
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
        save(owner_chromium, screenshots, "07-owner-agents", capsys)
        owner_chromium.get(f"{gateway_url}/app/shares")
        share_card = wait(owner_chromium, visible(f'li.share[data-share-id="{share_id}"]'), "A's share on Shares")
        assert "Bea" in share_card.text and share_card.find_element("css selector", "button.danger").is_enabled(), share_card.text
        owner_chromium.get(f"{gateway_url}/app/devices")
        device_card = wait(owner_chromium, visible("li.device"), "A's device on Devices")
        wait(owner_chromium, lambda d: d.find_element("css selector", "li.device .status").text == "Online", "the device online")

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
        assert browser_errors(chromium) == [], "console errors (a CSP violation would be one)"

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
