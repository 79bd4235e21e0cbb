"""AUTH_MODE=oidc against real OpenID Providers nobody here wrote.

- LemonLDAP::NG (Debian's package, run with plackup by scripts/idp/lemonldap.sh): a real login
  form, PKCE and the client secret enforced, demo users dwho / rtyler / msmith (password = login).
  Two gateway processes share Redis and Postgres; the sign-in starts on one and its callback is
  served by the other, as a load balancer would route it. Driven by authlib (the desktop client,
  unchanged), the real `gatewayctl login` (loopback and --device-code) and the web app in
  headless Chromium (dwho accepts an invite from rtyler and chats).
- oidc-provider-mock (PyPI, scripts/idp/oidc-mock.sh): many users, and a key rotation (it makes a
  new key on every start and sends no `kid`).

The refusals a real provider cannot be made to produce are tested against the test support's
own provider (Tests/GatewayServerTests/OIDCSignInTests.swift).
"""

from __future__ import annotations

import base64
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from authlib.common.security import generate_token

from conftest import HTTP_TIMEOUT, find_form, parse_forms
from gateways import WAIT, GatewayProcesses, desktop_client, free_port, guest_chats_through_an_invite, read_until, run_gatewayctl

REPO = Path(__file__).resolve().parents[2]
CLIENT_ID = "gateway-test"


def lemonldap_safe_secret() -> str:
    """LemonLDAP 2.16 reads client_secret_basic with /^Basic (\\w+)/: a '+' or '/' in the base64
    of `id:secret` would cut it, so pick a secret whose credentials encode without them."""
    while True:
        secret = "gateway-secret-" + secrets.token_hex(8)
        encoded = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
        if "+" not in encoded and "/" not in encoded:
            return secret


CLIENT_SECRET = lemonldap_safe_secret()


@dataclass
class Provider:
    issuer: str
    workdir: Path
    script: str


def start_provider(script: str, workdir: Path, *arguments: str) -> Provider:
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "idp" / script), "start", str(workdir), *arguments],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, f"{script} start failed:\n{result.stdout}\n{result.stderr}"
    return Provider(issuer=result.stdout.strip().splitlines()[-1], workdir=workdir, script=script)


def stop_provider(provider: Provider) -> None:
    subprocess.run(["bash", str(REPO / "scripts" / "idp" / provider.script), "stop", str(provider.workdir)], timeout=60)


def oidc_environment(provider: Provider) -> dict[str, str]:
    return {
        "AUTH_MODE": "oidc", "OIDC_ISSUER_URL": provider.issuer, "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET,
    }


# MARK: Fixtures


@pytest.fixture(scope="module")
def lemonldap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, GatewayProcesses]]:
    """LemonLDAP::NG with the gateway registered, and two gateway replicas using it."""
    workdir = tmp_path_factory.mktemp("lemonldap")
    # The replicas' ports come first: LemonLDAP registers the public one's callback.
    ports = [free_port(), free_port()]
    callback = f"http://127.0.0.1:{ports[0]}/oauth/oidc/callback"
    started = time.monotonic()
    provider = start_provider("lemonldap.sh", workdir / "idp", str(free_port()), CLIENT_ID, CLIENT_SECRET, callback)
    print(f"\n[oidc] LemonLDAP::NG at {provider.issuer} in {time.monotonic() - started:.1f} s")
    gateways = None
    try:
        gateways = GatewayProcesses(oidc_environment(provider), workdir, ports)
        yield provider, gateways
    finally:
        if gateways is not None:
            gateways.stop()
        stop_provider(provider)


# MARK: The person at the browser


class LemonBrowser:
    """A browser without script (httpx keeping cookies, redirects by hand) that signs in at LemonLDAP."""

    def __init__(self) -> None:
        self.http = httpx.Client(follow_redirects=False, timeout=HTTP_TIMEOUT, headers={"User-Agent": "gateway-oidc-test"})

    def close(self) -> None:
        self.http.close()

    def log_in(self, login_page: httpx.Response, user: str) -> httpx.Response:
        """Fills LemonLDAP's login form (it posts back to the authorize URL)."""
        assert login_page.status_code == 200, f"LemonLDAP login page: {login_page.status_code} {login_page.text[:300]}"
        forms = [form for form in parse_forms(login_page.text) if "user" in form.fields and "password" in form.fields]
        assert len(forms) == 1, f"expected LemonLDAP's login form, found {forms!r}"
        fields = {**forms[0].fields, "user": user, "password": user}
        return self.http.post(str(login_page.url), data=fields)

    def sign_in(self, authorization_url: str, user: str, callback_base: str | None = None) -> str:
        """From the gateway's authorize URL to the application's redirect: returns its Location.

        `callback_base` sends the provider's redirect to another replica than the one that
        started the sign-in.
        """
        to_provider = self.http.get(authorization_url)
        assert to_provider.status_code == 302, f"authorize: {to_provider.status_code} {to_provider.text[:500]}"
        at_provider = self.http.get(to_provider.headers["location"])
        # With a LemonLDAP session already open (signed in before), it sends the browser back at once.
        back = at_provider if at_provider.status_code == 302 else self.log_in(at_provider, user)
        assert back.status_code == 302, f"LemonLDAP login: {back.status_code} {back.text[:500]}"
        callback = back.headers["location"]
        assert "/oauth/oidc/callback?" in callback, callback
        if callback_base:
            parts = urlsplit(callback)
            callback = callback_base + parts.path + "?" + parts.query
        finished = self.http.get(callback)
        assert finished.status_code == 302, f"callback: {finished.status_code} {finished.text[:800]}"
        return finished.headers["location"]


@pytest.fixture
def lemon_browser() -> Iterator[LemonBrowser]:
    browser = LemonBrowser()
    yield browser
    browser.close()


def metadata_of(gateway_url: str) -> dict:
    return httpx.get(f"{gateway_url}/.well-known/oauth-authorization-server", timeout=HTTP_TIMEOUT).json()


# MARK: LemonLDAP::NG


def test_authlib_desktop_client_signs_in_through_lemonldap_across_replicas(lemonldap, lemon_browser) -> None:
    """The desktop app's flow is unchanged; the sign-in starts on replica 1 and finishes on 2."""
    _, gateways = lemonldap
    first, second = gateways.urls
    metadata = metadata_of(first)
    assert metadata["authorization_endpoint"] == f"{gateways.public_url}/oauth/authorize"
    client = desktop_client()
    try:
        verifier = generate_token(64)
        url, state = client.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
        started = time.monotonic()
        location = lemon_browser.sign_in(url, "dwho", callback_base=second)
        elapsed = time.monotonic() - started
        assert location.startswith(client.redirect_uri), location
        token = client.fetch_token(metadata["token_endpoint"], authorization_response=location, state=state, code_verifier=verifier)
        me = client.get(f"{second}/v1/me").json()
        assert me["display_name"] == "Doctor Who", me
        assert me["auth_mode"] == "oidc" and me["non_production"] is False, me
        assert token["refresh_token"]
        print(f"\n[oidc] sign-in round trip through LemonLDAP::NG (gateway -> login form -> callback on the other replica): {elapsed * 1000:.0f} ms")
        # The same person again, on the other replica: the same user.
        verifier = generate_token(64)
        url, state = client.create_authorization_url(metadata["authorization_endpoint"].replace(first, second), code_verifier=verifier)
        again = lemon_browser.sign_in(url.replace(gateways.public_url, second), "dwho")
        client.fetch_token(f"{second}/oauth/token", authorization_response=again, state=state, code_verifier=verifier)
        assert client.get(f"{first}/v1/me").json()["id"] == me["id"]
    finally:
        client.close()
    # Nothing of LemonLDAP's tokens in the gateways' logs.
    for log in gateways.logs:
        assert "eyJ" not in log.read_text(), f"{log} holds a JWT"


def test_a_wrong_password_gets_no_code(lemonldap, lemon_browser) -> None:
    _, gateways = lemonldap
    client = desktop_client()
    try:
        url, _ = client.create_authorization_url(metadata_of(gateways.public_url)["authorization_endpoint"], code_verifier=generate_token(64))
        to_provider = lemon_browser.http.get(url)
        login_page = lemon_browser.http.get(to_provider.headers["location"])
        form = next(form for form in parse_forms(login_page.text) if "user" in form.fields)
        refused = lemon_browser.http.post(str(login_page.url), data={**form.fields, "user": "dwho", "password": "not-it"})
        assert refused.status_code != 302 or "/oauth/oidc/callback" not in refused.headers.get("location", "")
    finally:
        client.close()


def gatewayctl_login(gateway_url: str, config_dir: Path, user: str, browser: LemonBrowser) -> str:
    """`gatewayctl login URL --no-browser`: the test is the person's browser."""
    output: list[str] = []
    process = run_gatewayctl("login", gateway_url, "--no-browser", config_dir=config_dir)
    try:
        url = read_until(process, r"(https?://\S+/oauth/authorize\?\S+)", output).group(1)
        location = browser.sign_in(url, user)
        assert location.startswith("http://127.0.0.1:") or location.startswith("http://[::1]:"), location
        httpx.get(location, timeout=HTTP_TIMEOUT)  # gatewayctl's loopback listener takes the code
        rest, _ = process.communicate(timeout=WAIT)
        output.append(rest)
        assert process.returncode == 0, "".join(output)
        return "".join(output)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_gatewayctl_login_loopback_and_device_code_through_lemonldap(lemonldap, lemon_browser, tmp_path) -> None:
    _, gateways = lemonldap
    printed = gatewayctl_login(gateways.public_url, tmp_path / "rtyler", "rtyler", lemon_browser)
    assert "Signed in" in printed and "as Rose" in printed, printed

    output: list[str] = []
    process = run_gatewayctl("login", gateways.public_url, "--device-code", config_dir=tmp_path / "msmith")
    try:
        code = read_until(process, r"\b([A-Z]{4}-[A-Z]{4})\b", output).group(1)
        browser = LemonBrowser()
        try:
            page = browser.http.get(f"{gateways.urls[1]}/device?user_code={code}")
            assert page.status_code == 200 and "Continue with" in page.text, page.text[:500]
            assert "gatewayctl" in page.text, "the page says which client asked"
            form = find_form(page.text, "/device")
            to_provider = browser.http.post(f"{gateways.urls[1]}/device", data={**form.fields, "action": "allow"})
            assert to_provider.status_code == 302, to_provider.text[:500]
            back = browser.log_in(browser.http.get(to_provider.headers["location"]), "msmith")
            assert back.status_code == 302, back.text[:500]
            done = browser.http.get(back.headers["location"])
            assert done.status_code == 200 and "Device connected" in done.text, done.text[:500]
        finally:
            browser.close()
        rest, _ = process.communicate(timeout=WAIT)
        output.append(rest)
        assert process.returncode == 0, "".join(output)
        assert "Signed in" in "".join(output), "".join(output)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_web_app_in_chromium_signs_in_at_lemonldap_accepts_and_chats(lemonldap, lemon_browser, tmp_path) -> None:
    """rtyler hosts an echo agent with gatewayctl and shares it; dwho opens the invite in
    Chromium, signs in on LemonLDAP's real login page, accepts and chats."""
    from selenium.webdriver.common.keys import Keys

    from test_web_browser import visible, wait

    _, gateways = lemonldap
    owner = tmp_path / "owner"
    gatewayctl_login(gateways.public_url, owner, "rtyler", lemon_browser)

    def sign_in_at_lemonldap(driver) -> None:  # noqa: ANN001
        wait(driver, visible("input[name=user]"), "LemonLDAP's login form").send_keys("dwho")
        password = driver.find_element("css selector", "input[name=password]")
        password.send_keys("dwho")
        password.send_keys(Keys.ENTER)

    guest_chats_through_an_invite(owner, sign_in_at_lemonldap, signed_in_as="Doctor Who")


# MARK: oidc-provider-mock


@pytest.fixture(scope="module")
def mock_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, GatewayProcesses, int]]:
    workdir = tmp_path_factory.mktemp("oidc-mock")
    port = free_port()
    provider = start_provider("oidc-mock.sh", workdir / "idp", str(port))
    gateways = None
    try:
        gateways = GatewayProcesses(oidc_environment(provider), workdir, [free_port()])
        yield provider, gateways, port
    finally:
        if gateways is not None:
            gateways.stop()
        stop_provider(provider)


def mock_sign_in(gateway_url: str, subject: str) -> dict:
    """Signs `subject` in at the mock (its form takes a subject, no password); returns /v1/me."""
    client = desktop_client()
    browser = httpx.Client(follow_redirects=False, timeout=HTTP_TIMEOUT)
    try:
        verifier = generate_token(64)
        url, state = client.create_authorization_url(f"{gateway_url}/oauth/authorize", code_verifier=verifier)
        to_provider = browser.get(url)
        assert to_provider.status_code == 302, to_provider.text[:500]
        page = browser.get(to_provider.headers["location"])
        assert page.status_code == 200, page.text[:500]
        form = next(form for form in parse_forms(page.text) if "sub" in form.fields)
        action = str(page.url) if form.action in ("", "#") else str(httpx.URL(str(page.url)).join(form.action))
        back = browser.post(action, data={**form.fields, "sub": subject})
        assert back.status_code in (302, 303), f"mock login: {back.status_code} {back.text[:500]}"
        finished = browser.get(back.headers["location"])
        assert finished.status_code == 302, f"callback: {finished.status_code} {finished.text[:800]}"
        client.fetch_token(f"{gateway_url}/oauth/token", authorization_response=finished.headers["location"], state=state, code_verifier=verifier)
        return client.get(f"{gateway_url}/v1/me").json()
    finally:
        browser.close()
        client.close()


def test_many_people_at_the_mock_are_many_users(mock_provider) -> None:
    _, gateways, _ = mock_provider
    people = {subject: mock_sign_in(gateways.public_url, subject) for subject in ["alice", "bob", *[f"user{n}" for n in range(6)]]}
    assert len({me["id"] for me in people.values()}) == len(people), "each subject is a user of their own"
    assert people["alice"]["display_name"] == "Alice Example"
    assert mock_sign_in(gateways.public_url, "alice")["id"] == people["alice"]["id"], "the same subject is the same user"


def test_a_restarted_mock_with_a_new_key_still_signs_people_in(mock_provider) -> None:
    """The mock makes a new signing key on every start and names no `kid` in its tokens: the
    gateway's cached key fails once, it fetches the keys again, and the sign-in succeeds."""
    provider, gateways, port = mock_provider
    before = mock_sign_in(gateways.public_url, "alice")
    stop_provider(provider)
    start_provider("oidc-mock.sh", provider.workdir, str(port))
    after = mock_sign_in(gateways.public_url, "alice")
    assert after["id"] == before["id"]
