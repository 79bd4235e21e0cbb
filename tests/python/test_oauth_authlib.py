"""Third-party client conformance: authlib drives the gateway's OAuth 2.1 flows over real HTTP.

Every endpoint comes from the RFC 8414 metadata. authlib plays the public client (desktop,
gatewayctl); conftest.Browser plays the person who signs in.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.jose.errors import BadSignatureError
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata, get_well_known_url

from conftest import HTTP_TIMEOUT, find_form, parse_forms

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SCOPE = "gateway"


# MARK: Helpers


def loopback_redirect_uri() -> str:
    """An RFC 8252 loopback redirect on an arbitrary port (nothing needs to listen there)."""
    return f"http://127.0.0.1:{random.randint(20000, 60999)}/callback"


def new_verifier() -> str:
    """An RFC 7636 code verifier: 64 unreserved characters."""
    return generate_token(64)


def query_of(location: str) -> dict[str, str]:
    values = parse_qs(urlsplit(location).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in values.values()), f"repeated parameter in {location}"
    return {key: value[0] for key, value in values.items()}


def without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class ResponseRecorder:
    """authlib compliance hook that keeps the token endpoint's raw responses (status, headers)."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    def __call__(self, response: httpx.Response) -> httpx.Response:
        self.responses.append(response)
        return response

    @property
    def last(self) -> httpx.Response:
        assert self.responses, "authlib sent no token request"
        return self.responses[-1]


@pytest.fixture
def make_client() -> Iterator[Callable[..., OAuth2Client]]:
    """Builds authlib OAuth2Client instances for public clients and closes them after the test."""
    created: list[OAuth2Client] = []

    def make(client_id: str = "desktop", redirect_uri: str | None = None) -> OAuth2Client:
        client = OAuth2Client(
            client_id=client_id,
            redirect_uri=redirect_uri or loopback_redirect_uri(),
            code_challenge_method="S256",
            scope=SCOPE,
            token_endpoint_auth_method="none",
            revocation_endpoint_auth_method="none",
            timeout=HTTP_TIMEOUT,
        )
        recorder = ResponseRecorder()
        client.register_compliance_hook("access_token_response", recorder)
        client.register_compliance_hook("refresh_token_response", recorder)
        client.recorder = recorder
        created.append(client)
        return client

    yield make
    for client in created:
        client.close()


def authorize(client: OAuth2Client, browser, metadata: dict, gateway_url: str, display_name: str) -> tuple[str, str, str]:
    """Runs the front channel: authlib builds the URL, the browser signs in. Returns (location, state, verifier)."""
    verifier = new_verifier()
    url, state = client.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier)
    location = browser.sign_in(url, display_name)
    assert without_query(location) == client.redirect_uri, location
    params = query_of(location)
    assert params["state"] == state
    assert params["iss"] == gateway_url, "RFC 9207 iss must be the issuer"
    assert params.get("code"), location
    return location, state, verifier


def sign_in(client: OAuth2Client, browser, metadata: dict, gateway_url: str, display_name: str) -> dict:
    """Authorization code + PKCE end to end; returns authlib's token."""
    location, state, verifier = authorize(client, browser, metadata, gateway_url, display_name)
    return client.fetch_token(
        metadata["token_endpoint"], authorization_response=location, state=state, code_verifier=verifier
    )


def expect_oauth_error(call: Callable[[], object], code: str, client: OAuth2Client | None = None) -> OAuthError:
    """Runs an authlib call that must fail with RFC 6749 error `code` (HTTP 400, JSON body)."""
    sent_before = len(client.recorder.responses) if client is not None else 0
    with pytest.raises(OAuthError) as caught:
        call()
    assert caught.value.error == code, f"expected {code}, got {caught.value.error}: {caught.value.description}"
    assert caught.value.description, "error_description should explain the failure"
    if client is not None:
        assert len(client.recorder.responses) == sent_before + 1, "expected exactly one token request"
        response = client.recorder.last
        assert response.status_code == 400, f"{code} should be HTTP 400, was {response.status_code}"
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["error"] == code and body["error_description"] == caught.value.description
        assert body.keys() <= {"error", "error_description", "error_uri"}, body
    return caught.value


def me(client: OAuth2Client, gateway_url: str) -> dict:
    """GET /v1/me through authlib, which adds the bearer token itself."""
    response = client.get(f"{gateway_url}/v1/me")
    assert response.status_code == 200, f"/v1/me: {response.status_code} {response.text[:500]}"
    assert response.request.headers["authorization"] == f"Bearer {client.token['access_token']}"
    return response.json()


def assert_token_response(token: dict) -> None:
    assert token["token_type"].lower() == "bearer"
    assert isinstance(token["access_token"], str) and token["access_token"].count(".") == 2
    assert isinstance(token["refresh_token"], str) and len(token["refresh_token"]) >= 32
    assert isinstance(token["expires_in"], int) and token["expires_in"] > 0
    assert token["scope"] == SCOPE


# MARK: 1. Discovery


def test_discovery_metadata(gateway_url: str, metadata: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # authlib derives the RFC 8414 section 3.1 location from the issuer; it is where we fetched it.
    assert get_well_known_url(gateway_url, external=True) == f"{gateway_url}/.well-known/oauth-authorization-server"

    assert metadata["issuer"] == gateway_url
    assert metadata["authorization_endpoint"] == f"{gateway_url}/oauth/authorize"
    assert metadata["token_endpoint"] == f"{gateway_url}/oauth/token"
    assert metadata["revocation_endpoint"] == f"{gateway_url}/oauth/revoke"
    assert metadata["device_authorization_endpoint"] == f"{gateway_url}/oauth/device_authorization"
    assert metadata["jwks_uri"] == f"{gateway_url}/.well-known/jwks.json"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert set(metadata["grant_types_supported"]) == {"authorization_code", "refresh_token", DEVICE_GRANT}
    assert metadata["token_endpoint_auth_methods_supported"] == ["none"]
    assert "implicit" not in metadata["grant_types_supported"] and "password" not in metadata["grant_types_supported"]
    assert SCOPE in metadata["scopes_supported"]
    assert metadata["authorization_response_iss_parameter_supported"] is True

    # authlib's own RFC 8414 validator; the test gateway is plain http on loopback, which it
    # accepts only with AUTHLIB_INSECURE_TRANSPORT.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    AuthorizationServerMetadata(metadata).validate()


# MARK: 2. Authorization code + PKCE


def test_authorization_code_with_pkce(gateway_url, metadata, browser, make_client, display_name) -> None:
    client = make_client("desktop")
    token = sign_in(client, browser, metadata, gateway_url, display_name)
    assert_token_response(token)
    success = client.recorder.last
    assert success.status_code == 200
    assert success.headers["cache-control"] == "no-store"

    profile = me(client, gateway_url)
    assert profile["display_name"] == display_name
    assert profile["auth_mode"] == "demo"
    assert profile["non_production"] is True
    assert profile["client_id"] == "desktop"
    assert profile["id"]

    # The access token is an EdDSA JWT verifiable with the published JWKS (authlib.jose).
    jwks = httpx.get(metadata["jwks_uri"], timeout=HTTP_TIMEOUT).json()
    assert [(key["kty"], key["crv"], key["alg"]) for key in jwks["keys"]] == [("OKP", "Ed25519", "EdDSA")]
    assert all("d" not in key for key in jwks["keys"]), "the JWKS must not publish the private key"
    key_set = JsonWebKey.import_key_set(jwks)
    eddsa_only = JsonWebToken(["EdDSA"])
    essential = {"essential": True}
    claims = eddsa_only.decode(
        token["access_token"],
        key_set,
        claims_options={
            "iss": {"essential": True, "value": gateway_url},
            "aud": {"essential": True, "value": gateway_url},
            "sub": {"essential": True, "value": profile["id"]},
            "exp": essential,
            "iat": essential,
            "jti": essential,
        },
    )
    claims.validate(leeway=5)
    assert claims.header["alg"] == "EdDSA"
    assert claims.header["kid"] == jwks["keys"][0]["kid"]
    assert claims["aud"] == gateway_url
    assert claims["client_id"] == "desktop"
    assert claims["scope"] == SCOPE
    assert claims["exp"] - claims["iat"] == token["expires_in"]

    # A token whose signature was altered does not verify.
    header, payload, signature = token["access_token"].split(".")
    altered = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    with pytest.raises(BadSignatureError):
        eddsa_only.decode(f"{header}.{payload}.{altered}", key_set)


def test_sign_in_post_without_csrf_cookie_is_refused(gateway_url, metadata, browser, make_client, display_name) -> None:
    client = make_client("desktop")
    url, _ = client.create_authorization_url(metadata["authorization_endpoint"], code_verifier=new_verifier())
    page = browser.open(url)
    assert page.status_code == 200
    form = find_form(page.text, "/oauth/authorize")
    # Another site could make a browser post this form, but not with the SameSite=Strict cookie.
    with httpx.Client(follow_redirects=False, timeout=HTTP_TIMEOUT) as cookieless:
        response = cookieless.post(
            f"{gateway_url}/oauth/authorize",
            data={"request": form.fields["request"], "csrf": form.fields["csrf"], "display_name": display_name, "action": "allow"},
        )
    assert response.status_code == 403, response.text[:500]
    assert "location" not in response.headers


# MARK: 3. Refresh


def test_refresh_token_rotation(gateway_url, metadata, browser, make_client, display_name) -> None:
    client = make_client("desktop")
    first = dict(sign_in(client, browser, metadata, gateway_url, display_name))

    second = dict(client.refresh_token(metadata["token_endpoint"], refresh_token=first["refresh_token"]))
    assert_token_response(second)
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert client.token["access_token"] == second["access_token"], "authlib should switch to the new token"
    assert me(client, gateway_url)["display_name"] == display_name

    third = dict(client.refresh_token(metadata["token_endpoint"], refresh_token=second["refresh_token"]))
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])
    assert me(client, gateway_url)["display_name"] == display_name


def test_refresh_token_reuse_revokes_family(gateway_url, metadata, browser, make_client, display_name) -> None:
    client = make_client("desktop")
    first = dict(sign_in(client, browser, metadata, gateway_url, display_name))
    second = dict(client.refresh_token(metadata["token_endpoint"], refresh_token=first["refresh_token"]))
    assert second["refresh_token"] != first["refresh_token"]

    # The rotated-out token stops working...
    expect_oauth_error(
        lambda: client.refresh_token(metadata["token_endpoint"], refresh_token=first["refresh_token"]), "invalid_grant", client
    )
    # ...and presenting it was a reuse, so the newest token of the family is revoked as well.
    expect_oauth_error(
        lambda: client.refresh_token(metadata["token_endpoint"], refresh_token=second["refresh_token"]), "invalid_grant", client
    )


# MARK: 4. Revocation


def test_revocation(gateway_url, metadata, browser, make_client, display_name) -> None:
    client = make_client("desktop")
    token = dict(sign_in(client, browser, metadata, gateway_url, display_name))

    response = client.revoke_token(
        metadata["revocation_endpoint"], token=token["refresh_token"], token_type_hint="refresh_token"
    )
    assert response.status_code == 200, response.text[:500]
    sent = parse_qs(response.request.content.decode())
    assert sent["client_id"] == ["desktop"] and sent["token_type_hint"] == ["refresh_token"]

    expect_oauth_error(
        lambda: client.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"]), "invalid_grant", client
    )

    # RFC 7009 section 2.2: an unknown (or already revoked) token is not an error.
    again = client.revoke_token(metadata["revocation_endpoint"], token=token["refresh_token"], token_type_hint="refresh_token")
    assert again.status_code == 200
    unknown = client.revoke_token(metadata["revocation_endpoint"], token=generate_token(43), token_type_hint="refresh_token")
    assert unknown.status_code == 200


# MARK: 5. Device authorization grant


def start_device_authorization(client: OAuth2Client, metadata: dict, gateway_url: str) -> dict:
    # authlib's client is an httpx client; withhold_token: no bearer before there is one.
    response = client.request(
        "POST",
        metadata["device_authorization_endpoint"],
        data={"client_id": client.client_id, "scope": SCOPE},
        withhold_token=True,
    )
    assert response.status_code == 200, f"device authorization: {response.status_code} {response.text[:500]}"
    body = response.json()
    assert {"device_code", "user_code", "verification_uri", "verification_uri_complete", "interval", "expires_in"} <= body.keys()
    assert body["verification_uri"] == f"{gateway_url}/device"
    assert without_query(body["verification_uri_complete"]) == body["verification_uri"]
    assert query_of(body["verification_uri_complete"])["user_code"] == body["user_code"]
    assert isinstance(body["interval"], int) and body["interval"] >= 1
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    return body


def poll_device_token(client: OAuth2Client, metadata: dict, device_code: str) -> dict:
    # authlib's generic token request: grant_type + device_code, client_id added by auth method "none".
    return client.fetch_token(metadata["token_endpoint"], grant_type=DEVICE_GRANT, device_code=device_code)


def test_device_authorization_grant(gateway_url, metadata, browser, make_client, display_name) -> None:
    client = make_client("gatewayctl")
    device = start_device_authorization(client, metadata, gateway_url)
    interval = device["interval"]

    expect_oauth_error(lambda: poll_device_token(client, metadata, device["device_code"]), "authorization_pending", client)

    browser.approve_device(device["verification_uri_complete"], device["user_code"], display_name)

    deadline = time.monotonic() + 30
    token = None
    while token is None:
        assert time.monotonic() < deadline, "no token within 30 s of approving the device"
        time.sleep(interval)
        try:
            token = poll_device_token(client, metadata, device["device_code"])
        except OAuthError as error:
            if error.error == "slow_down":
                interval += 5  # RFC 8628 section 3.5
            elif error.error != "authorization_pending":
                raise
    assert_token_response(token)

    profile = me(client, gateway_url)
    assert profile["display_name"] == display_name
    assert profile["client_id"] == "gatewayctl"
    assert profile["non_production"] is True

    # The approval is single use.
    with pytest.raises(OAuthError) as again:
        poll_device_token(client, metadata, device["device_code"])
    assert again.value.error in {"expired_token", "invalid_grant"}, again.value


def test_device_polling_too_fast_gets_slow_down(gateway_url, metadata, make_client) -> None:
    client = make_client("gatewayctl")
    device = start_device_authorization(client, metadata, gateway_url)
    expect_oauth_error(lambda: poll_device_token(client, metadata, device["device_code"]), "authorization_pending", client)
    expect_oauth_error(lambda: poll_device_token(client, metadata, device["device_code"]), "slow_down", client)


def test_device_grant_refused_for_web_client(metadata, make_client) -> None:
    client = make_client("web")
    response = client.request(
        "POST", metadata["device_authorization_endpoint"], data={"client_id": "web", "scope": SCOPE}, withhold_token=True
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


# MARK: 6. Negative cases


def test_wrong_code_verifier_is_invalid_grant(gateway_url, metadata, browser, make_client, display_name) -> None:
    client = make_client("desktop")
    location, state, verifier = authorize(client, browser, metadata, gateway_url, display_name)
    wrong = new_verifier()
    assert wrong != verifier
    expect_oauth_error(
        lambda: client.fetch_token(metadata["token_endpoint"], authorization_response=location, state=state, code_verifier=wrong),
        "invalid_grant",
        client,
    )


def test_reused_code_is_invalid_grant(gateway_url, metadata, browser, make_client, display_name) -> None:
    client = make_client("desktop")
    location, state, verifier = authorize(client, browser, metadata, gateway_url, display_name)
    token = dict(
        client.fetch_token(metadata["token_endpoint"], authorization_response=location, state=state, code_verifier=verifier)
    )
    expect_oauth_error(
        lambda: client.fetch_token(metadata["token_endpoint"], authorization_response=location, state=state, code_verifier=verifier),
        "invalid_grant",
        client,
    )
    # RFC 6749 section 4.1.2: the replay also revokes what the first redemption produced.
    expect_oauth_error(
        lambda: client.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"]), "invalid_grant", client
    )


def test_disallowed_redirect_uri_gets_error_page_not_redirect(metadata, browser, make_client) -> None:
    client = make_client("desktop")
    url, _ = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=new_verifier(), redirect_uri="https://evil.example/cb"
    )
    assert "evil.example" in url
    response = browser.open(url)
    assert response.status_code == 400, response.text[:500]
    assert "location" not in response.headers, "an unvetted redirect_uri must never be redirected to"
    assert response.headers["content-type"].startswith("text/html")
    assert not [form for form in parse_forms(response.text) if form.action == "/oauth/authorize"]


@pytest.mark.parametrize(
    "pkce",
    [
        pytest.param({"code_challenge_method": "plain"}, id="plain"),
        pytest.param({}, id="missing-code-challenge"),
    ],
)
def test_bad_pkce_redirects_with_invalid_request(gateway_url, metadata, browser, pkce) -> None:
    redirect_uri = loopback_redirect_uri()
    state = generate_token(20)
    parameters = {
        "response_type": "code",
        "client_id": "desktop",
        "redirect_uri": redirect_uri,
        "scope": SCOPE,
        "state": state,
    }
    if pkce:
        # With plain, the challenge is the verifier itself.
        parameters.update(code_challenge=generate_token(43), **pkce)
    response = browser.open(f"{metadata['authorization_endpoint']}?{urlencode(parameters)}")
    assert response.status_code == 302, response.text[:500]
    location = response.headers["location"]
    assert without_query(location) == redirect_uri
    params = query_of(location)
    assert params["error"] == "invalid_request", params
    assert params["state"] == state
    assert params["iss"] == gateway_url
    assert "code" not in params
