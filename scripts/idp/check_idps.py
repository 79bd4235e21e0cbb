#!/usr/bin/env python3
"""Drive real OpenID Providers through the authorization-code flow (PKCE S256).

Standard library only. For each provider given on the command line it acts
as a browser (own cookie jar, redirects followed by hand) and as a relying
party (separate cookie-less client for the back channel):

  1. GET discovery; print issuer and the capability fields that matter.
  2. GET the authorize URL (client_id, redirect_uri, response_type=code,
     scope "openid profile email", state, nonce, code_challenge S256).
  3. Submit the login form (LemonLDAP: user/password; mock: sub).
  4. Follow redirects until Location starts with redirect_uri (never
     connects to it); read code, state and (if any) iss from it.
  5. POST the token endpoint with client_secret_basic + code_verifier.
  6. Decode the ID token and print header alg/kid and the claims; check
     iss/aud/nonce/state and (with the openssl CLI, if present) the RS256
     signature against the JWKS; call userinfo.
  7. Negative probes, each on a fresh code: no code_verifier, wrong
     code_verifier, wrong client secret, and the browser cookie on the
     token request.

Usage:
  check_idps.py --lemonldap ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI \
                --mock ISSUER [--mock-client-id ID --mock-secret S --mock-redirect URI]
Exit status 0 when every positive check passed (probes are informational,
except that LemonLDAP must refuse a missing verifier and a wrong secret).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import http.cookiejar
import json
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

TIMEOUT = 15
TOKEN_AUTH = "basic"  # client_secret_basic; --token-auth post for client_secret_post
SCOPE = "openid profile email"


# --------------------------------------------------------------------------
# HTTP helpers
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401
        return None  # surface 3xx to the caller


class Response:
    def __init__(self, url, status, headers, body):
        self.url, self.status, self.headers, self.body = url, status, headers, body

    @property
    def location(self):
        loc = self.headers.get("Location")
        return urllib.parse.urljoin(self.url, loc) if loc else None

    def json(self):
        return json.loads(self.body)

    def text(self):
        return self.body.decode("utf-8", "replace")


def _open(opener, url, data=None, headers=None, method=None):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with opener.open(req, timeout=TIMEOUT) as r:
            return Response(url, r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:  # 3xx (no redirect handler), 4xx, 5xx
        return Response(url, e.code, e.headers, e.read())


class Browser:
    """A user agent: own cookie jar, redirects handled by the caller."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def get(self, url):
        return _open(self.opener, url)

    def post_form(self, url, fields):
        data = urllib.parse.urlencode(fields).encode()
        return _open(self.opener, url, data,
                     {"Content-Type": "application/x-www-form-urlencoded"})

    def cookie_header(self):
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


class BackChannel:
    """The relying party's server-to-server client: no cookies, no redirects."""

    def __init__(self):
        self.opener = urllib.request.build_opener(_NoRedirect())

    def get(self, url, headers=None):
        return _open(self.opener, url, headers=headers)

    def post_form(self, url, fields, headers=None):
        h = {"Content-Type": "application/x-www-form-urlencoded",
             "Accept": "application/json"}
        h.update(headers or {})
        return _open(self.opener, url, urllib.parse.urlencode(fields).encode(), h)


# --------------------------------------------------------------------------
# HTML form parsing
class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []  # list of dict(action, method, fields{name: value}, names[])

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "method": (a.get("method") or "get").lower(),
                               "fields": {}, "names": []})
        elif tag in ("input", "button", "select", "textarea") and self.forms and a.get("name"):
            f = self.forms[-1]
            f["names"].append(a["name"])
            if tag == "input" and (a.get("type") or "text").lower() in ("checkbox", "radio") \
                    and "checked" not in a:
                return
            if tag == "button":
                return  # buttons are only sent when clicked
            f["fields"].setdefault(a["name"], a.get("value") or "")


def find_form(html, needed):
    p = _Forms()
    p.feed(html)
    for f in p.forms:
        if all(n in f["names"] for n in needed):
            return f
    return None


def form_target(page_url, action):
    if not action or action == "#":
        return page_url  # "#" and missing action post back to the page itself
    return urllib.parse.urljoin(page_url, action)


# --------------------------------------------------------------------------
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def decode_jwt(token):
    h, p, _sig = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p))


def basic(client_id, secret):
    # RFC 6749 2.3.1 says: form-urlencode id and secret first. LemonLDAP 2.16
    # does not decode them, splits on every ':' and only reads base64 matching
    # \w+ (a '+' or '/' in the base64 cuts it), so keep ids and secrets to
    # [A-Za-z0-9._-], for which encoding is a no-op and base64 has no '+' '/'.
    q = urllib.parse.quote
    raw = f"{q(client_id, safe='')}:{q(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _der(tag, body):
    return bytes([tag]) + _der_len(len(body)) + body


def _der_int(v):
    b = v.to_bytes(v.bit_length() // 8 + 1, "big")  # leading 0 keeps it positive
    return _der(0x02, b)


def rsa_jwk_to_pem(jwk):
    n = int.from_bytes(b64url_decode(jwk["n"]), "big")
    e = int.from_bytes(b64url_decode(jwk["e"]), "big")
    rsa_pub = _der(0x30, _der_int(n) + _der_int(e))
    alg_id = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
    spki = _der(0x30, alg_id + _der(0x03, b"\x00" + rsa_pub))
    b64 = base64.b64encode(spki).decode()
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(
        b64[i:i + 64] for i in range(0, len(b64), 64)) + "\n-----END PUBLIC KEY-----\n"


def verify_rs256(token, jwks):
    """Check an RS256 JWS against the JWKS with the openssl CLI. Returns a string."""
    import os, shutil, subprocess, tempfile
    if not shutil.which("openssl"):
        return "skipped (no openssl)"
    h, p, sig = token.split(".")
    kid = json.loads(b64url_decode(h)).get("kid")
    keys = [k for k in jwks.get("keys", []) if k.get("kty") == "RSA"
            and (kid is None or k.get("kid") == kid)]
    with tempfile.TemporaryDirectory() as d:
        for k in keys:
            open(os.path.join(d, "k.pem"), "w").write(rsa_jwk_to_pem(k))
            open(os.path.join(d, "sig"), "wb").write(b64url_decode(sig))
            open(os.path.join(d, "data"), "wb").write(f"{h}.{p}".encode())
            r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", os.path.join(d, "k.pem"),
                                "-signature", os.path.join(d, "sig"), os.path.join(d, "data")],
                               capture_output=True, text=True)
            if r.returncode == 0:
                return f"ok (key {k.get('kid')})"
    return "FAIL"


class Failure(Exception):
    pass


class Provider:
    def __init__(self, kind, issuer, client_id, secret, redirect_uri, login):
        self.kind, self.issuer = kind, issuer
        self.client_id, self.secret, self.redirect_uri = client_id, secret, redirect_uri
        self.login = login  # function(browser, response) -> response
        self.browser = Browser()
        self.rp = BackChannel()
        self.disco = None

    def discover(self):
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        r = self.rp.get(url)
        if r.status != 200:
            raise Failure(f"discovery {url}: HTTP {r.status}")
        self.disco = r.json()
        return self.disco

    # One browser round trip to a fresh authorization code.
    def authorize(self, with_pkce=True, do_login=True):
        verifier = b64url(secrets.token_bytes(48))
        state, nonce = b64url(secrets.token_bytes(12)), b64url(secrets.token_bytes(12))
        q = {"client_id": self.client_id, "redirect_uri": self.redirect_uri,
             "response_type": "code", "scope": SCOPE, "state": state, "nonce": nonce}
        if with_pkce:
            q["code_challenge"] = b64url(hashlib.sha256(verifier.encode()).digest())
            q["code_challenge_method"] = "S256"
        url = self.disco["authorization_endpoint"] + "?" + urllib.parse.urlencode(q)
        r = self.browser.get(url)
        steps = [f"GET authorize -> {r.status}"]
        logged_in = False
        for _ in range(12):
            if r.status in (301, 302, 303, 307, 308):
                loc = r.location
                if loc.startswith(self.redirect_uri):
                    steps.append("Location = redirect_uri (not followed)")
                    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
                    return {"verifier": verifier, "state": state, "nonce": nonce,
                            "location": loc, "params": params, "steps": steps}
                r = self.browser.get(loc)
                steps.append(f"GET {urllib.parse.urlsplit(loc).path} -> {r.status}")
                continue
            if r.status == 200 and not logged_in and do_login:
                r = self.login(self, r)
                logged_in = True
                steps.append(f"POST login form -> {r.status}")
                continue
            raise Failure(f"stuck at {r.url} HTTP {r.status}: steps {steps}; body: "
                          + " ".join(r.text().split())[:600])
        raise Failure(f"too many redirects: {steps}")

    def token(self, code, verifier, secret=None, extra_headers=None, omit_verifier=False):
        fields = {"grant_type": "authorization_code", "code": code,
                  "redirect_uri": self.redirect_uri}
        if not omit_verifier:
            fields["code_verifier"] = verifier
        sec = self.secret if secret is None else secret
        if TOKEN_AUTH == "post":
            fields.update({"client_id": self.client_id, "client_secret": sec})
            headers = {}
        else:
            headers = basic(self.client_id, sec)
        headers.update(extra_headers or {})
        return self.rp.post_form(self.disco["token_endpoint"], fields, headers)


def login_lemonldap(user, password):
    def login(p, r):
        form = find_form(r.text(), ["user", "password"])
        if not form:
            raise Failure("no LemonLDAP login form (user/password) on " + r.url)
        fields = dict(form["fields"])
        fields.update({"user": user, "password": password})
        return p.browser.post_form(form_target(r.url, form["action"]), fields)
    return login


def login_mock(sub):
    def login(p, r):
        form = find_form(r.text(), ["sub"])
        if not form:
            raise Failure("no mock login form (sub) on " + r.url)
        fields = dict(form["fields"])
        fields["sub"] = sub
        return p.browser.post_form(form_target(r.url, form["action"]), fields)
    return login


def short(r):
    body = " ".join(r.text().split())
    return f"HTTP {r.status} {body[:200]}"


def check(p: Provider, strict_probes: bool):
    ok = True
    name = p.kind
    print(f"===== {name}: {p.issuer}")
    t0 = time.monotonic()
    d = p.discover()
    print(f"discovery issuer: {d.get('issuer')!r}")
    for k in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
              "token_endpoint_auth_methods_supported", "id_token_signing_alg_values_supported",
              "authorization_response_iss_parameter_supported",
              "code_challenge_methods_supported"):
        print(f"  {k}: {json.dumps(d.get(k, '<absent>'))}")
    jwks = p.rp.get(d["jwks_uri"]).json()
    print(f"  jwks kids/alg: {[(k.get('kid'), k.get('kty'), k.get('alg')) for k in jwks.get('keys', [])]}")

    a = p.authorize()
    print("browser: " + " | ".join(a["steps"]))
    params = a["params"]
    print(f"authorization response params: {sorted(params)}")
    if params.get("state") != a["state"]:
        print("FAIL state mismatch"); ok = False
    print(f"  iss parameter in authorization response: {params.get('iss', '<absent>')!r}")
    if "code" not in params:
        raise Failure(f"no code in {a['location']}")

    r = p.token(params["code"], a["verifier"])
    if r.status != 200:
        raise Failure(f"token endpoint: {short(r)}")
    tok = r.json()
    print(f"token response keys: {sorted(tok)} token_type={tok.get('token_type')!r}")
    hdr, claims = decode_jwt(tok["id_token"])
    print(f"id_token header: alg={hdr.get('alg')!r} kid={hdr.get('kid')!r} typ={hdr.get('typ')!r}")
    for k in ("iss", "aud", "azp", "sub", "nonce", "email", "email_verified", "name",
              "preferred_username", "exp", "iat", "auth_time", "at_hash"):
        if k in claims:
            print(f"  {k}: {json.dumps(claims[k])}")
    others = sorted(set(claims) - {"iss", "aud", "azp", "sub", "nonce", "email", "email_verified",
                                   "name", "preferred_username", "exp", "iat", "auth_time", "at_hash"})
    print(f"  other claims: {others}")
    aud = claims.get("aud")
    aud_ok = p.client_id in (aud if isinstance(aud, list) else [aud])
    for label, cond in (("iss == discovery issuer", claims.get("iss") == d.get("issuer")),
                        ("aud contains client_id", aud_ok),
                        ("nonce echoed", claims.get("nonce") == a["nonce"]),
                        ("alg is RS256", hdr.get("alg") == "RS256"),
                        ("kid in JWKS (or no kid and a single JWKS key)",
                         hdr.get("kid") in [k.get("kid") for k in jwks.get("keys", [])]
                         or ("kid" not in hdr and len(jwks.get("keys", [])) == 1))):
        print(f"  check {label}: {'ok' if cond else 'FAIL'}")
        ok &= bool(cond)
    v = verify_rs256(tok["id_token"], jwks)
    print(f"  check RS256 signature against JWKS (openssl): {v}")
    ok &= not v.startswith("FAIL")
    ui = p.rp.get(d["userinfo_endpoint"], {"Authorization": "Bearer " + tok["access_token"]})
    print(f"userinfo: HTTP {ui.status} {ui.text().strip()[:300]}")
    print(f"flow time: {time.monotonic() - t0:.2f}s")

    # Replay of the same code
    r = p.token(params["code"], a["verifier"])
    print(f"probe: replay of a used code -> {short(r)}")

    # Negative probes, each with a fresh code (the browser is now logged in: SSO).
    a = p.authorize()
    r = p.token(a["params"]["code"], a["verifier"], omit_verifier=True)
    print(f"probe: token request WITHOUT code_verifier -> {short(r)}")
    if strict_probes and r.status == 200:
        print("FAIL: missing code_verifier accepted"); ok = False

    a = p.authorize()
    r = p.token(a["params"]["code"], "x" * 50)
    print(f"probe: token request with WRONG code_verifier -> {short(r)}")
    if strict_probes and r.status == 200:
        print("FAIL: wrong code_verifier accepted"); ok = False

    a = p.authorize()
    r = p.token(a["params"]["code"], a["verifier"], secret=p.secret + "-wrong")
    print(f"probe: token request with WRONG client secret -> {short(r)}")
    if strict_probes and r.status == 200:
        print("FAIL: wrong client secret accepted"); ok = False

    a = p.authorize()
    r = p.token(a["params"]["code"], a["verifier"],
                extra_headers={"Cookie": p.browser.cookie_header()})
    print(f"probe: token request carrying the browser's cookies -> {short(r)}")

    try:
        a = p.authorize(with_pkce=False)
        print(f"probe: authorize WITHOUT code_challenge -> redirect params {a['params']}")
    except Failure as e:
        print(f"probe: authorize WITHOUT code_challenge -> {str(e)[:300]}")
    print(f"===== {name}: {'PASS' if ok else 'FAIL'}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lemonldap", nargs=4, metavar=("ISSUER", "CLIENT_ID", "SECRET", "REDIRECT_URI"))
    ap.add_argument("--lemonldap-user", default="dwho")
    ap.add_argument("--lemonldap-password", default=None, help="default: same as user")
    ap.add_argument("--mock", metavar="ISSUER")
    ap.add_argument("--mock-client-id", default="gateway-test")
    ap.add_argument("--mock-secret", default="mock-secret")
    ap.add_argument("--mock-redirect", default="http://127.0.0.1:9101/auth/callback")
    ap.add_argument("--mock-sub", default="alice")
    ap.add_argument("--token-auth", choices=("basic", "post"), default="basic",
                    help="client authentication at the token endpoint (default basic)")
    args = ap.parse_args()
    global TOKEN_AUTH
    TOKEN_AUTH = args.token_auth
    if not args.lemonldap and not args.mock:
        ap.error("give --lemonldap and/or --mock")

    results = []
    if args.lemonldap:
        iss, cid, sec, redir = args.lemonldap
        user = args.lemonldap_user
        p = Provider("lemonldap", iss, cid, sec, redir,
                     login_lemonldap(user, args.lemonldap_password or user))
        results.append(_run(p, strict_probes=True))
    if args.mock:
        p = Provider("oidc-provider-mock", args.mock, args.mock_client_id, args.mock_secret,
                     args.mock_redirect, login_mock(args.mock_sub))
        results.append(_run(p, strict_probes=False))
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


def _run(p, strict_probes):
    try:
        return check(p, strict_probes)
    except Failure as e:
        print(f"FAIL {p.kind}: {e}")
        return False


if __name__ == "__main__":
    sys.exit(main())
