"""Helpers the sign-in mode tests share: gateway processes in a given mode, the desktop client
(authlib), and gatewayctl processes."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client

from conftest import HTTP_TIMEOUT

WAIT = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def require_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.fail(f"{name} must be set (scripts/python-tests.sh sets it)", pytrace=False)
    return value


class GatewayProcesses:
    """`gateway serve` processes sharing one Redis prefix and one database, in the sign-in mode
    `mode` sets (AUTH_MODE and its variables)."""

    def __init__(self, mode: dict[str, str], workdir: Path, ports: list[int]) -> None:
        """The first port's URL is every replica's public URL (a load balancer's, in production)."""
        self.waits_for_issuer = mode.get("AUTH_MODE") == "oidc"
        self.ports = ports
        self.public_url = f"http://127.0.0.1:{self.ports[0]}"
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.database = "gateway_oidc_" + uuid.uuid4().hex[:12]
        admin = require_env("TEST_DATABASE_URL")
        subprocess.run(["psql", admin, "-v", "ON_ERROR_STOP=1", "-qc", f"CREATE DATABASE {self.database}"], check=True, timeout=60)
        parts = urlsplit(admin)
        database_url = urlunsplit(parts._replace(path=f"/{self.database}"))
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "BIND_ADDRESS": "127.0.0.1",
            "PUBLIC_BASE_URL": self.public_url,
            "JWT_SIGNING_KEY": secrets.token_urlsafe(48),
            "REDIS_URL": require_env("TEST_REDIS_URL"),
            "REDIS_KEY_PREFIX": f"oidc-{uuid.uuid4().hex[:8]}:",
            "DATABASE_URL": database_url,
            "LOG_FORMAT": "json",
            "SIGNIN_RATE_LIMIT_PER_MINUTE": "1000",
            "TOKEN_RATE_LIMIT_PER_MINUTE": "1000",
            "AUTHORIZE_RATE_LIMIT_PER_MINUTE": "1000",
            **mode,
        }
        self.logs = [workdir / f"gateway-{index}.log" for index in range(len(ports))]
        self.processes = [
            subprocess.Popen(
                [require_env("GATEWAY_BINARY"), "serve"], env={**environment, "PORT": str(port)},
                stdout=log.open("w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
            for port, log in zip(self.ports, self.logs)
        ]
        try:
            for url, process, log in zip(self.urls, self.processes, self.logs):
                self.wait_ready(url, process, log, self.waits_for_issuer)
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def wait_ready(url: str, process: subprocess.Popen, log: Path, waits_for_issuer: bool) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, f"the gateway exited:\n{log.read_text()[-3000:]}"
            try:
                ready = httpx.get(f"{url}/readyz", timeout=3)
                issuer = ready.json().get("identity_provider", {}).get("status") if ready.status_code == 200 else None
                if ready.status_code == 200 and (issuer == "available" or not waits_for_issuer):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        pytest.fail(f"{url} did not become ready with its identity provider available:\n{log.read_text()[-3000:]}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        subprocess.run(["psql", require_env("TEST_DATABASE_URL"), "-qc", f"DROP DATABASE IF EXISTS {self.database}"], timeout=60)


def desktop_client() -> OAuth2Client:
    return OAuth2Client(
        client_id="desktop", redirect_uri=f"http://127.0.0.1:{free_port()}/callback", code_challenge_method="S256",
        scope="gateway", token_endpoint_auth_method="none", timeout=HTTP_TIMEOUT,
    )


def run_gatewayctl(*arguments: str, config_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [require_env("GATEWAYCTL_BINARY"), *arguments, "--config-dir", str(config_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
    )


def read_until(process: subprocess.Popen[str], pattern: str, output: list[str]) -> re.Match[str]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    pytest.fail(f"gatewayctl did not print {pattern!r}:\n{''.join(output)}")


def guest_chats_through_an_invite(owner_config: Path, sign_in: Callable, signed_in_as: str) -> None:
    """The owner (logged in with gatewayctl in `owner_config`) hosts an echo agent and shares it;
    a guest opens the invite in headless Chromium, signs in with `sign_in(driver)` on whatever
    page the sign-in mode shows, accepts, and chats until the agent's reply arrives."""
    from selenium.webdriver.common.keys import Keys

    from test_web_browser import launch_chromium, visible, wait

    agent = f"echo-{uuid.uuid4().hex[:6]}"
    host = run_gatewayctl("host", "--agent", agent, config_dir=owner_config)
    driver, end = launch_chromium("1100,800")
    try:
        read_until(host, r"connected", [])
        shared = subprocess.run(
            [require_env("GATEWAYCTL_BINARY"), "share", agent, "--json", "--config-dir", str(owner_config)],
            capture_output=True, text=True, timeout=WAIT, check=True,
        )
        driver.get(re.search(r'"invite_url"\s*:\s*"([^"]+)"', shared.stdout).group(1))
        wait(driver, visible("#sign-in"), "the sign-in button on the invite page").click()
        sign_in(driver)
        accept = wait(driver, visible("#accept-invite"), "the invite, signed in, with its accept button")
        wait(driver, lambda d: signed_in_as in d.find_element("id", "account").text, "the signed-in name")
        assert not any(element.is_displayed() for element in driver.find_elements("css selector", "#demo-banner")), (
            "no non-production banner outside demo mode"
        )
        accept.click()
        wait(driver, lambda d: "/app/chat/" in d.current_url, "the chat page")
        wait(driver, lambda d: d.find_element("id", "host-status").text == "Host online", "the host to be online")
        text = f"hello through the invite {uuid.uuid4().hex[:6]}"
        box = driver.find_element("id", "message-input")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)
        wait(
            driver,
            lambda d: any(text in e.text for e in d.find_elements("css selector", "#messages .message.agent[data-id]")),
            "the agent's reply",
        )
    finally:
        end()
        host.terminate()
        try:
            host.wait(timeout=10)
        except subprocess.TimeoutExpired:
            host.kill()
