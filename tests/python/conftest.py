"""Shared fixtures for the third-party OAuth client conformance tests.

The gateway under test is an already running process whose origin is in GATEWAY_URL
(scripts/python-tests.sh starts one). Nothing here is ever skipped: a missing GATEWAY_URL or
an unreachable gateway is an error for every test.

The "browser" is a plain httpx client that keeps cookies and never follows redirects, so a
test can read the Location header the gateway sends back to the OAuth client.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import authlib.deprecate  # noqa: F401  (see pytest_configure)
import httpx
import pytest

HTTP_TIMEOUT = httpx.Timeout(10.0)


def pytest_configure(config: pytest.Config) -> None:
    # authlib 1.9 announces two deprecations on import: its httpx integration prefers the
    # `httpx2` package (plain httpx still works and is what these tests pin), and authlib.jose
    # is to be replaced by joserfc. Both are expected here; any other warning stays visible.
    # authlib.deprecate is imported above, before any test module, because importing it installs
    # an "always" filter that would otherwise be placed in front of these.
    config.addinivalue_line("filterwarnings", "ignore:The httpx module is deprecated:DeprecationWarning")
    config.addinivalue_line("filterwarnings", "ignore:authlib.jose module is deprecated:DeprecationWarning")


# MARK: Figures

# scripts/python-tests.sh runs the files on two pytest-xdist workers. Tests print their figures
# (times measured in the browser, screenshot paths) with `capsys.disabled()`, which on a worker
# writes to a stdout nobody reads; its stderr is the run's own. So on a worker the figures go
# there, and they stay in the log.
IS_XDIST_WORKER = "PYTEST_XDIST_WORKER" in os.environ


class _FiguresToStderr:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def __getattr__(self, name: str):
        return getattr(self._capsys, name)

    @contextlib.contextmanager
    def disabled(self):
        with self._capsys.disabled(), contextlib.redirect_stdout(sys.__stderr__):
            yield


@pytest.fixture
def capsys(capsys: pytest.CaptureFixture[str]):
    return _FiguresToStderr(capsys) if IS_XDIST_WORKER else capsys


# MARK: Gateway under test


@pytest.fixture(scope="session")
def gateway_url() -> str:
    """The gateway's origin (== its OAuth issuer), checked to be up; fails, never skips."""
    url = os.environ.get("GATEWAY_URL", "").strip().rstrip("/")
    if not url:
        pytest.fail(
            "GATEWAY_URL is not set. Run scripts/python-tests.sh, or start a gateway and export "
            "GATEWAY_URL=http://127.0.0.1:PORT",
            pytrace=False,
        )
    last_problem = "no attempt made"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{url}/readyz", timeout=3.0)
            if response.status_code == 200:
                return url
            last_problem = f"GET /readyz answered {response.status_code}: {response.text[:300]}"
        except httpx.HTTPError as error:
            last_problem = f"{type(error).__name__}: {error}"
        time.sleep(0.5)
    pytest.fail(f"the gateway at GATEWAY_URL={url} is not ready: {last_problem}", pytrace=False)


@pytest.fixture(scope="session")
def metadata(gateway_url: str) -> dict:
    """The RFC 8414 authorization server metadata; every endpoint is taken from here."""
    response = httpx.get(f"{gateway_url}/.well-known/oauth-authorization-server", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, f"metadata: {response.status_code} {response.text[:500]}"
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert isinstance(document, dict)
    return document


@pytest.fixture
def display_name() -> str:
    """A display name unique to the test, so /v1/me can prove whose token it is."""
    return f"authlib {uuid.uuid4().hex[:10]}"


# MARK: The browser


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _FormParser(HTMLParser):
    """Collects every <form> with its named <input>s and <button>s (enough for the gateway's pages)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = Form(action=attributes.get("action", ""), method=attributes.get("method", "get").lower())
            self.forms.append(self._current)
        elif self._current is not None and tag == "input" and attributes.get("name"):
            self._current.fields[attributes["name"]] = attributes.get("value", "")
        elif self._current is not None and tag == "button" and attributes.get("name"):
            self._current.buttons.append((attributes["name"], attributes.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def parse_forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def find_form(html: str, action: str) -> Form:
    forms = [form for form in parse_forms(html) if form.action == action]
    assert len(forms) == 1, f"expected one form posting to {action}, found {parse_forms(html)!r}"
    return forms[0]


class Browser:
    """A person at a browser: keeps cookies, submits the gateway's forms, never follows redirects."""

    def __init__(self) -> None:
        self.http = httpx.Client(
            follow_redirects=False, timeout=HTTP_TIMEOUT, headers={"User-Agent": "gateway-conformance-browser"}
        )

    def close(self) -> None:
        self.http.close()

    def open(self, url: str) -> httpx.Response:
        return self.http.get(url)

    def sign_in(self, authorization_url: str, display_name: str, action: str = "allow") -> str:
        """Opens the authorization URL, fills in the demo sign-in form and returns the redirect's Location."""
        page = self.open(authorization_url)
        assert page.status_code == 200, f"sign-in page: {page.status_code} {page.text[:500]}"
        assert page.headers["content-type"].startswith("text/html")
        assert "gw_csrf" in self.http.cookies and "gw_browser" in self.http.cookies, dict(self.http.cookies)
        form = find_form(page.text, "/oauth/authorize")
        assert form.method == "post"
        assert {"request", "csrf", "display_name"} <= form.fields.keys(), form
        assert ("action", action) in form.buttons, form
        response = self.http.post(
            urljoin(str(page.url), form.action),
            data={"request": form.fields["request"], "csrf": form.fields["csrf"], "display_name": display_name, "action": action},
        )
        assert response.status_code == 302, f"sign-in POST: {response.status_code} {response.text[:500]}"
        return response.headers["location"]

    def approve_device(self, verification_uri_complete: str, user_code: str, display_name: str) -> httpx.Response:
        """Opens the device page from the complete verification URI and approves the code."""
        page = self.open(verification_uri_complete)
        assert page.status_code == 200, f"device page: {page.status_code} {page.text[:500]}"
        assert "gw_csrf" in self.http.cookies, dict(self.http.cookies)
        form = find_form(page.text, "/device")
        assert form.method == "post"
        assert {"csrf", "user_code", "display_name"} <= form.fields.keys(), form
        assert form.fields["user_code"] == user_code, "verification_uri_complete should prefill the user code"
        assert ("action", "allow") in form.buttons, form
        response = self.http.post(
            urljoin(str(page.url), form.action),
            data={"csrf": form.fields["csrf"], "user_code": form.fields["user_code"], "display_name": display_name, "action": "allow"},
        )
        assert response.status_code == 200, f"device approval: {response.status_code} {response.text[:500]}"
        assert "Device connected" in response.text, response.text[:500]
        return response


@pytest.fixture
def browser():
    instance = Browser()
    yield instance
    instance.close()
