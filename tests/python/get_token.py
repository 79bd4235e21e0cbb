"""Prints an access token for a new demo user of the gateway at GATEWAY_URL.

Used by schemathesis_seed.py (scripts/python-tests.sh) to give schemathesis valid bearer
tokens, and handy by hand: `GATEWAY_URL=… python tests/python/get_token.py`. It signs in the way
the conformance tests do: authorization code with PKCE (S256) for the `gatewayctl` client, a
loopback redirect URI, and conftest.Browser filling in the demo sign-in form. Only the token is
written to stdout; anything that goes wrong is an error on stderr and a non-zero exit.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import secrets
import sys
import uuid
from typing import NoReturn
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from conftest import HTTP_TIMEOUT, Browser

CLIENT_ID = "gatewayctl"


def fail(message: str) -> NoReturn:
    print(f"get_token: {message}", file=sys.stderr)
    sys.exit(1)


def access_token(gateway_url: str, display_name: str | None = None, browser: Browser | None = None) -> str:
    """Signs a new demo user in (authorization code + PKCE) and returns the access token. With
    `browser`, the sign-in happens in it (and the demo user is that browser's)."""
    gateway_url = gateway_url.rstrip("/")
    metadata = httpx.get(f"{gateway_url}/.well-known/oauth-authorization-server", timeout=HTTP_TIMEOUT)
    if metadata.status_code != 200:
        fail(f"metadata: {metadata.status_code} {metadata.text[:300]}")
    endpoints = metadata.json()

    verifier = secrets.token_urlsafe(48)  # 64 unreserved characters
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    redirect_uri = f"http://127.0.0.1:{random.randint(20000, 60999)}/callback"
    query = urlencode(
        {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": state,
            "scope": "gateway",
        }
    )

    own_browser = browser is None
    browser = browser or Browser()
    try:
        name = display_name or f"schemathesis {uuid.uuid4().hex[:8]}"
        location = browser.sign_in(f"{endpoints['authorization_endpoint']}?{query}", name)
    finally:
        if own_browser:
            browser.close()
    params = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
    if params.get("state") != state or not params.get("code"):
        fail(f"unexpected redirect: {location}")

    response = httpx.post(
        endpoints["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": redirect_uri,
            "client_id": CLIENT_ID,
            "code_verifier": verifier,
        },
        timeout=HTTP_TIMEOUT,
    )
    if response.status_code != 200:
        fail(f"token endpoint: {response.status_code} {response.text[:300]}")
    token = response.json().get("access_token")
    if not token:
        fail("the token response has no access_token")
    return token


def main() -> None:
    gateway_url = os.environ.get("GATEWAY_URL", "").strip().rstrip("/")
    if not gateway_url:
        fail("GATEWAY_URL is not set")
    print(access_token(gateway_url))


if __name__ == "__main__":
    main()
