"""A real MCP client (PyPI's `mcp` 2.x SDK) that test_mcp_client.py drives over stdin/stdout.

Runs in its own virtualenv (scripts/python-tests.sh makes it from mcp-requirements.txt: the SDK
brings httpx2, kept apart from the authlib tests' httpx). It connects to the gateway's /mcp with
streamable HTTP, in `--mode auto` (the SDK's default: it probes `server/discover` and speaks
2026-07-28) or `--mode legacy` (the `initialize` handshake), authenticated either with a personal
API key or through the SDK's own OAuth client (OAuthClientProvider): protected resource
discovery, a Client ID Metadata Document (`--client-metadata-url`) or dynamic registration,
authorization code + PKCE with `resource`. The person's part of the sign-in (the gateway's demo
sign-in page) is done over plain HTTP by `HeadlessPerson`.

Protocol: one JSON command per stdin line, one JSON answer per stdout line.
  first line out: {"ready": true, "protocol": ..., "sign_in": {...}}   (or {"error": ...})
  {"op": "list"}                               -> {"tools": [{"name", "title", "description"}]}
  {"op": "call", "tool": T, "arguments": {...}} -> {"content": [...], "is_error": bool,
        "structured": {...}, "progress": [[progress, message], ...], "first_progress_s": float|null,
        "elapsed_s": float}
  {"op": "listen"}                             -> {"honored": ...}  (2026-07-28: subscriptions/listen)
  {"op": "notifications"}                      -> {"notifications": [method, ...]} seen so far (the
        handshake era's GET stream, or the listen stream)
  {"op": "quit"}
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from html import unescape
from urllib.parse import parse_qs, urljoin, urlparse

import anyio
import anyio.abc
import httpx2
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT_URI = "http://127.0.0.1:33418/callback"  # never served: the person's part is done here


class MemoryStorage(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class HeadlessPerson:
    """Opens the authorization URL the SDK hands over, signs in on the gateway's demo page and
    allows; remembers what the page showed and what the SDK asked for."""

    def __init__(self, display_name: str, browser_id: str | None) -> None:
        self.display_name = display_name
        # The demo sign-in knows a person by their browser: the same cookie is the same user.
        self.cookies = {"gw_browser": browser_id} if browser_id else {}
        self.result: AuthorizationCodeResult | None = None
        self.seen: dict = {}

    async def redirect_handler(self, authorization_url: str) -> None:
        query = {k: v[0] for k, v in parse_qs(urlparse(authorization_url).query).items()}
        self.seen["authorize"] = {k: query.get(k) for k in ("client_id", "resource", "scope", "code_challenge_method", "redirect_uri")}
        async with httpx2.AsyncClient(follow_redirects=False, timeout=30, cookies=self.cookies) as browser:
            page = await browser.get(authorization_url)
            text = " ".join(unescape(re.sub(r"<[^>]+>", " ", page.text)).split())[:2000]
            if page.status_code != 200:
                raise RuntimeError(f"sign-in page: {page.status_code} {text}")
            self.seen["page_text"] = text
            fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
            answer = await browser.post(
                urljoin(authorization_url, "/oauth/authorize"),
                data={"request": unescape(fields["request"]), "csrf": unescape(fields["csrf"]),
                      "display_name": self.display_name, "action": "allow"},
            )
            if answer.status_code != 302:
                raise RuntimeError(f"sign-in POST: {answer.status_code} {answer.text[:300]}")
        back = {k: v[0] for k, v in parse_qs(urlparse(answer.headers["location"]).query).items()}
        self.result = AuthorizationCodeResult(code=back["code"], state=back.get("state"), iss=back.get("iss"))

    async def callback_handler(self) -> AuthorizationCodeResult:
        result, self.result = self.result, None
        assert result is not None
        return result


def emit(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def read_line() -> str:
    return await anyio.to_thread.run_sync(sys.stdin.readline)


NOTIFICATIONS: list[str] = []


async def message_handler(message) -> None:  # noqa: ANN001 - whatever the session hands over
    method = getattr(message, "method", None)
    if method:
        NOTIFICATIONS.append(method)


async def serve(client: Client, sign_in: dict) -> None:
    emit({"ready": True, "protocol": client.session.protocol_version, "sign_in": sign_in})
    async with anyio.create_task_group() as tasks:
        await commands(client, tasks)
        tasks.cancel_scope.cancel()


async def listen(client: Client, acknowledged: anyio.Event, task_status=anyio.TASK_STATUS_IGNORED) -> None:  # noqa: ANN001
    async with client.listen(tools_list_changed=True) as subscription:
        task_status.started(str(subscription.honored))
        async for _ in subscription:
            NOTIFICATIONS.append("notifications/tools/list_changed")


async def commands(client: Client, tasks: anyio.abc.TaskGroup) -> None:
    while line := (await read_line()).strip():
        command = json.loads(line)
        try:
            if command["op"] == "quit":
                return
            if command["op"] == "notifications":
                emit({"notifications": NOTIFICATIONS})
            elif command["op"] == "listen":
                honored = await tasks.start(listen, client, anyio.Event())
                emit({"honored": honored})
            elif command["op"] == "list":
                listed = await client.list_tools()
                emit({"tools": [{"name": t.name, "title": t.title, "description": t.description} for t in listed.tools]})
            elif command["op"] == "call":
                progress: list = []
                start = time.monotonic()
                first: list[float] = []

                async def on_progress(value: float, total: float | None, message: str | None) -> None:
                    if not first:
                        first.append(time.monotonic() - start)
                    progress.append([value, message])

                result = await client.call_tool(command["tool"], command.get("arguments", {}), progress_callback=on_progress)
                emit({
                    "content": [c.model_dump(by_alias=True, exclude_none=True) for c in result.content],
                    "is_error": bool(result.is_error), "structured": result.structured_content, "progress": progress,
                    "first_progress_s": first[0] if first else None, "elapsed_s": time.monotonic() - start,
                })
            else:
                emit({"error": f"unknown op {command['op']}"})
        except Exception as error:  # reported to the test, which decides
            emit({"error": f"{type(error).__name__}: {error}"})


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", default="auto")
    parser.add_argument("--api-key")
    parser.add_argument("--display-name")
    parser.add_argument("--client-metadata-url")
    parser.add_argument(
        "--browser-id",
        help="the demo sign-in's gw_browser cookie, to sign in as that browser's user; pass it as --browser-id=VALUE "
        "(a random value may start with '-')",
    )
    arguments = parser.parse_args()

    sign_in: dict = {}
    if arguments.api_key:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {arguments.api_key}"})
    else:
        person = HeadlessPerson(arguments.display_name or "MCP user", arguments.browser_id)
        storage = MemoryStorage()
        provider = OAuthClientProvider(
            server_url=arguments.url,
            client_metadata=OAuthClientMetadata(client_name="Conformance MCP client", redirect_uris=[REDIRECT_URI]),
            storage=storage, redirect_handler=person.redirect_handler, callback_handler=person.callback_handler,
            client_metadata_url=arguments.client_metadata_url,
        )
        http = create_mcp_http_client(auth=provider)
        sign_in = person.seen
    async with http:
        transport = streamable_http_client(arguments.url, http_client=http)
        async with Client(transport, mode=arguments.mode, message_handler=message_handler) as client:
            if not arguments.api_key:
                sign_in["client_id"] = storage.client_info.client_id if storage.client_info else None
                sign_in["token_type"] = storage.tokens.token_type if storage.tokens else None
                # Handed to the test only, to check that the token opens /mcp and nothing else.
                sign_in["access_token"] = storage.tokens.access_token if storage.tokens else None
            await serve(client, sign_in)


if __name__ == "__main__":
    try:
        anyio.run(main)
    except BaseException as error:  # noqa: BLE001 - the test reads why
        if not isinstance(error, (KeyboardInterrupt, SystemExit)):
            emit({"error": f"{type(error).__name__}: {error!r}"[:2000]})
            sys.exit(1)
