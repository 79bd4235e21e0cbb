"""AUTH_MODE=firebase against a stand-in for Google (firebase_standin.py) and the reference
implementation of Firebase ID token checks, PyPI's firebase-admin.

- firebase-admin cross-check: one corpus of tokens goes through `auth.verify_id_token` (its
  certificate URL pointed at the stand-in) and through the gateway's sign-in form; every token
  the gateway accepts, firebase-admin accepts; where they differ it is only where the gateway is
  stricter by design (listed below).
- The desktop client (authlib, PKCE) and `gatewayctl login` finish with a stand-in token.
- The page's own script in headless Chromium: email and password sent to the stand-in's
  Identity Toolkit endpoint (FIREBASE_AUTH_EMULATOR_HOST), the ID token posted back, the
  desktop flow completed. Google sign-in through the SDK's popup needs a real Firebase project
  and the internet: docs/auth.md says so.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from authlib.common.security import generate_token

from conftest import HTTP_TIMEOUT, find_form
from firebase_standin import FirebaseStandIn
from gateways import GatewayProcesses, desktop_client, free_port, guest_chats_through_an_invite, read_until, run_gatewayctl

PROJECT_ID = "gateway-firebase-test"
API_KEY = "test-api-key-" + uuid.uuid4().hex[:8]

# Tokens firebase-admin accepts that the gateway refuses on purpose (docs/auth.md).
STRICTER_BY_DESIGN = {
    "stale auth_time",  # older than FIREBASE_AUTH_MAX_AGE: an old stolen token cannot start a session
    "no auth_time",  # the freshness rule needs it
    "auth_time in the future",  # Google's documented rule; the Admin SDK does not check auth_time
    "anonymous",  # anonymous accounts are nobody
    "unverified password email",  # anyone can create an email/password account for any address
    "another tenant",  # the Admin SDK only checks tenants for tenant-scoped clients
}


@pytest.fixture(scope="module")
def firebase(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FirebaseStandIn, GatewayProcesses]]:
    standin = FirebaseStandIn(PROJECT_ID, API_KEY).start()
    workdir = tmp_path_factory.mktemp("firebase")
    mode = {
        "AUTH_MODE": "firebase", "FIREBASE_PROJECT_ID": PROJECT_ID, "FIREBASE_API_KEY": API_KEY,
        "FIREBASE_AUTH_DOMAIN": f"{PROJECT_ID}.firebaseapp.com", "FIREBASE_CERTIFICATES_URL": standin.certificates_url,
        "FIREBASE_AUTH_EMULATOR_HOST": standin.host,
    }
    gateways = None
    try:
        gateways = GatewayProcesses(mode, workdir, [free_port()])
        yield standin, gateways
    finally:
        if gateways is not None:
            gateways.stop()
        standin.stop()


def corpus(standin: FirebaseStandIn) -> dict[str, str]:
    now = int(time.time())
    claims = standin.claims
    return {
        "valid password sign-in": standin.token(claims()),
        "valid google sign-in": standin.token(claims(provider="google.com")),
        "another project (aud)": standin.token(claims(aud="another-project")),
        "another project (iss)": standin.token(claims(iss="https://securetoken.google.com/another-project")),
        "expired": standin.token(claims(exp=now - 600)),
        "issued in the future": standin.token(claims(iat=now + 600)),
        "stale auth_time": standin.token(claims(auth_time=now - 3600)),
        "no auth_time": standin.token(claims(auth_time=None)),
        "auth_time in the future": standin.token(claims(auth_time=now + 600)),
        "empty sub": standin.token(claims(sub="")),
        "129-character sub": standin.token(claims(sub="u" * 129)),
        "alg none": standin.token(claims(), alg="none", kid=None),
        "HS256 with the API key": standin.token(claims(), alg="HS256", secret=API_KEY.encode()),
        "unknown kid": standin.token(claims(), kid="not-published"),
        "anonymous": standin.token(claims(provider="anonymous")),
        "unverified password email": standin.token(claims(email_verified=False)),
        "another tenant": standin.token(claims(firebase={"sign_in_provider": "password", "tenant": "tenant-x"})),
    }


def admin_accepts(standin: FirebaseStandIn, token: str) -> bool:
    import firebase_admin
    from firebase_admin import _token_gen, auth

    _token_gen.ID_TOKEN_CERT_URI = standin.certificates_url
    name = f"cross-check-{standin.port}"
    try:
        app = firebase_admin.get_app(name)
    except ValueError:
        app = firebase_admin.initialize_app(options={"projectId": PROJECT_ID}, name=name, credential=AnonymousCredential())
    try:
        auth.verify_id_token(token, app=app, clock_skew_seconds=60)
        return True
    except (ValueError, auth.InvalidIdTokenError, auth.ExpiredIdTokenError, auth.CertificateFetchError):
        return False


class AnonymousCredential:
    """firebase-admin wants a credential object; verifying tokens needs none."""

    def __new__(cls):
        from firebase_admin import credentials
        from google.auth.credentials import AnonymousCredentials

        class Anonymous(credentials.Base):
            def get_credential(self):
                return AnonymousCredentials()

        return Anonymous()


def gateway_accepts(gateway_url: str, token: str) -> bool:
    """Posts the token into the sign-in form of a fresh authorization request."""
    client = desktop_client()
    browser = httpx.Client(follow_redirects=False, timeout=HTTP_TIMEOUT)
    try:
        url, _ = client.create_authorization_url(f"{gateway_url}/oauth/authorize", code_verifier=generate_token(64))
        page = browser.get(url)
        assert page.status_code == 200, page.text[:500]
        form = find_form(page.text, "/oauth/authorize")
        answer = browser.post(f"{gateway_url}/oauth/authorize", data={**form.fields, "id_token": token, "action": "allow"})
        assert answer.status_code in (302, 403, 400), f"{answer.status_code} {answer.text[:500]}"
        return answer.status_code == 302 and "code=" in answer.headers.get("location", "")
    finally:
        browser.close()
        client.close()


def test_firebase_admin_agrees_with_the_gateway(firebase) -> None:
    standin, gateways = firebase
    results = {name: (admin_accepts(standin, token), gateway_accepts(gateways.public_url, token)) for name, token in corpus(standin).items()}
    report = "\n".join(f"  {name}: firebase-admin {'accepts' if a else 'refuses'}, gateway {'accepts' if g else 'refuses'}" for name, (a, g) in results.items())
    print(f"\n[firebase] cross-check:\n{report}")
    for name, (admin, gateway) in results.items():
        assert not gateway or admin, f"the gateway accepts what firebase-admin refuses: {name}\n{report}"
        if admin and not gateway:
            assert name in STRICTER_BY_DESIGN, f"the gateway refuses a token firebase-admin accepts, not by design: {name}\n{report}"
    assert results["valid password sign-in"] == (True, True) and results["valid google sign-in"] == (True, True), report


def test_the_desktop_client_and_gatewayctl_finish_with_a_stand_in_token(firebase, tmp_path: Path) -> None:
    standin, gateways = firebase
    client = desktop_client()
    browser = httpx.Client(follow_redirects=False, timeout=HTTP_TIMEOUT)
    try:
        verifier = generate_token(64)
        url, state = client.create_authorization_url(f"{gateways.public_url}/oauth/authorize", code_verifier=verifier)
        form = find_form(browser.get(url).text, "/oauth/authorize")
        answer = browser.post(f"{gateways.public_url}/oauth/authorize", data={**form.fields, "id_token": standin.token(standin.claims(uid="desk")), "action": "allow"})
        client.fetch_token(f"{gateways.public_url}/oauth/token", authorization_response=answer.headers["location"], state=state, code_verifier=verifier)
        me = client.get(f"{gateways.public_url}/v1/me").json()
        assert me["auth_mode"] == "firebase" and me["display_name"] == "Fire Base", me
    finally:
        browser.close()
        client.close()

    assert "Signed in" in gatewayctl_login(gateways.public_url, tmp_path / "ctl", standin.token(standin.claims(uid="ctl")))


def gatewayctl_login(gateway_url: str, config_dir: Path, id_token: str) -> str:
    """`gatewayctl login --no-browser`; the test is the browser and posts a stand-in token."""
    output: list[str] = []
    process = run_gatewayctl("login", gateway_url, "--no-browser", config_dir=config_dir)
    try:
        url = read_until(process, r"(https?://\S+/oauth/authorize\?\S+)", output).group(1)
        browser = httpx.Client(follow_redirects=False, timeout=HTTP_TIMEOUT)
        try:
            form = find_form(browser.get(url).text, "/oauth/authorize")
            answer = browser.post(f"{gateway_url}/oauth/authorize", data={**form.fields, "id_token": id_token, "action": "allow"})
            assert answer.status_code == 302, answer.text[:500]
            httpx.get(answer.headers["location"], timeout=HTTP_TIMEOUT)
        finally:
            browser.close()
        rest, _ = process.communicate(timeout=60)
        output.append(rest)
        assert process.returncode == 0, "".join(output)
        return "".join(output)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_page_signs_in_with_email_and_password_in_chromium(firebase) -> None:
    """The page's script posts email and password to the stand-in's Identity Toolkit endpoint
    (never to the gateway), then the ID token to the gateway; a wrong password says so."""
    from selenium.webdriver.common.keys import Keys

    from test_web_browser import launch_chromium, visible, wait

    standin, gateways = firebase
    standin.users["ada@example.com"] = ("correct horse", "uid-ada", True)
    client = desktop_client()
    driver, end = launch_chromium("1100,800")
    try:
        verifier = generate_token(64)
        url, state = client.create_authorization_url(f"{gateways.public_url}/oauth/authorize", code_verifier=verifier)
        driver.get(url)
        wait(driver, visible("#firebase-email"), "the email field").send_keys("ada@example.com")
        driver.find_element("id", "firebase-password").send_keys("wrong")
        driver.find_element("id", "firebase-password-sign-in").click()
        wait(driver, lambda d: "not right" in d.find_element("id", "firebase-error").text, "the wrong-password message")
        box = driver.find_element("id", "firebase-password")
        box.clear()
        box.send_keys("correct horse")
        box.send_keys(Keys.ENTER)
        # The gateway redirects to the loopback redirect URI (nothing listens; the URL is what counts).
        wait(driver, lambda d: d.current_url.startswith(client.redirect_uri), "the redirect back to the desktop client")
        client.fetch_token(f"{gateways.public_url}/oauth/token", authorization_response=driver.current_url, state=state, code_verifier=verifier)
        me = client.get(f"{gateways.public_url}/v1/me").json()
        assert me["auth_mode"] == "firebase" and me["display_name"] == "ada@example.com", me
    finally:
        end()
        client.close()


def test_a_guest_signs_in_on_the_page_in_chromium_accepts_and_chats(firebase, tmp_path: Path) -> None:
    """The owner hosts an echo agent with gatewayctl and shares it; the guest opens the invite in
    Chromium, signs in with email and password on the Firebase page, accepts and chats."""
    from selenium.webdriver.common.keys import Keys

    from test_web_browser import visible, wait

    standin, gateways = firebase
    standin.users["grace@example.com"] = ("hopper-1906", "uid-grace", True)
    owner = tmp_path / "owner"
    gatewayctl_login(gateways.public_url, owner, standin.token(standin.claims(uid="owner", name="Owen Owner")))

    def sign_in_with_email(driver) -> None:  # noqa: ANN001
        wait(driver, visible("#firebase-email"), "the Firebase sign-in page").send_keys("grace@example.com")
        password = driver.find_element("id", "firebase-password")
        password.send_keys("hopper-1906")
        password.send_keys(Keys.ENTER)

    guest_chats_through_an_invite(owner, sign_in_with_email, signed_in_as="grace@example.com")
