"""A local stand-in for the Google services a Firebase sign-in touches (this machine cannot
reach Google): the certificate document Firebase ID tokens are verified with, in Google's exact
format (a JSON object of key id to X.509 PEM, `Cache-Control: max-age`), and Identity Toolkit's
`accounts:signInWithPassword`, which the gateway's sign-in page calls when
FIREBASE_AUTH_EMULATOR_HOST names this server. Tokens are RS256-signed like Firebase's, so the
gateway verifies them exactly as it would Google's.
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

CERTIFICATES_PATH = "/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
SIGN_IN_PATH = "/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FirebaseStandIn:
    def __init__(self, project_id: str, api_key: str) -> None:
        self.project_id = project_id
        self.api_key = api_key
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken.system.gserviceaccount.com")])
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .sign(self.key, hashes.SHA256())
        )
        self.certificate_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        self.kid = certificate.fingerprint(hashes.SHA1()).hex()
        # email -> (password, uid, email_verified)
        self.users: dict[str, tuple[str, str, bool]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def certificates_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{CERTIFICATES_PATH}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "FirebaseStandIn":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # MARK: Tokens

    def claims(self, uid: str = "uid-1", provider: str = "password", **overrides) -> dict:
        now = int(time.time())
        claims = {
            "iss": f"https://securetoken.google.com/{self.project_id}", "aud": self.project_id, "sub": uid, "user_id": uid,
            "iat": now, "exp": now + 3600, "auth_time": now - 10, "email": f"{uid}@example.com", "email_verified": True,
            "name": "Fire Base", "firebase": {"sign_in_provider": provider, "identities": {}},
        }
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def token(self, claims: dict, alg: str = "RS256", kid: str | None = "current", secret: bytes = b"") -> str:
        header = {"alg": alg, "typ": "JWT"}
        if kid == "current":
            header["kid"] = self.kid
        elif kid is not None:
            header["kid"] = kid
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}".encode()
        if alg == "RS256":
            signature = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "HS256":
            mac = hmac.HMAC(secret, hashes.SHA256())
            mac.update(signing_input)
            signature = mac.finalize()
        else:
            signature = b""
        return f"{signing_input.decode()}.{b64url(signature)}"

    # MARK: HTTP

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *arguments) -> None:  # quiet
                pass

            def _send(self, status: int, body: dict, extra: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Access-Control-Allow-Origin", "*")
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if urlsplit(self.path).path == CERTIFICATES_PATH:
                    self._send(200, {standin.kid: standin.certificate_pem}, {"Cache-Control": "public, max-age=3600, must-revalidate, no-transform"})
                else:
                    self._send(404, {"error": "not found"})

            def do_OPTIONS(self) -> None:  # noqa: N802  (the browser's CORS preflight)
                self.send_response(204)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Methods", "POST")
                self.send_header("Access-Control-Allow-Headers", "content-type")
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                if parts.path != SIGN_IN_PATH:
                    return self._send(404, {"error": {"message": "NOT_FOUND"}})
                if parse_qs(parts.query).get("key") != [standin.api_key]:
                    return self._send(400, {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key."}})
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                user = standin.users.get(body.get("email", ""))
                if user is None or user[0] != body.get("password"):
                    return self._send(400, {"error": {"code": 400, "message": "INVALID_LOGIN_CREDENTIALS"}})
                _, uid, verified = user
                token = standin.token(standin.claims(uid=uid, email=body["email"], email_verified=verified, name=None))
                self._send(200, {"kind": "identitytoolkit#VerifyPasswordResponse", "localId": uid, "email": body["email"],
                                 "idToken": token, "registered": True, "refreshToken": "unused", "expiresIn": "3600"})

        return Handler
