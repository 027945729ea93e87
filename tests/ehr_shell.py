# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""A small "EHR shell" for the reviewer page's SMART EHR launch tests.

It plays the EHR's part the browser sees: a page with a synthetic patient header and an
iframe that opens chartgate at ``/review/launch?iss=…&launch=…``, a "Sign out" link to the
identity provider's end-session endpoint, and the FHIR server's
``/fhir/.well-known/smart-configuration`` (SMART App Launch 2.2 §2.0.2), which points at the
test identity provider (oidc-provider, tests/idp_oidc_provider). The launch ids come from the
identity provider (``OidcProvider.register_launch``), as a real EHR's come from its own
authorization server.

Serve it on ``localhost`` (same site as the identity provider, which is also on
``localhost``) while chartgate is on ``127.0.0.1``: chartgate is then a cross-site iframe,
as in a real EHR, and its cookies must be ``SameSite=None; Secure; Partitioned``.
"""

from __future__ import annotations

import html
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qs, quote, unquote, urlsplit

if TYPE_CHECKING:
    from types import TracebackType

SHELL_HOST = "localhost"


def smart_configuration(discovery: dict[str, Any]) -> dict[str, Any]:
    """The FHIR server's SMART configuration, naming the identity provider's endpoints."""
    return {
        "issuer": discovery["issuer"],
        "jwks_uri": discovery["jwks_uri"],
        "authorization_endpoint": discovery["authorization_endpoint"],
        "token_endpoint": discovery["token_endpoint"],
        "grant_types_supported": ["authorization_code"],
        "scopes_supported": ["openid", "fhirUser", "launch"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": [
            "launch-ehr",
            "client-public",
            "sso-openid-connect",
            "context-ehr-patient",
            "context-ehr-encounter",
        ],
    }


class EhrShell:
    """The shell's HTTP server (a thread); ``launch_url(launch)`` is the page to open."""

    def __init__(self, *, chartgate: str, discovery: dict[str, Any]) -> None:
        self.chartgate = chartgate.rstrip("/")
        self.discovery = discovery
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self.origin = f"http://{SHELL_HOST}:{self.port}"
        self.iss = f"{self.origin}/fhir"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def launch_url(self, launch: str, *, patient: str = "Synthetic Patient") -> str:
        """The shell page that frames chartgate for this launch."""
        return f"{self.origin}/launch/{quote(launch, safe='')}?name={quote(patient)}"

    def open_url(self, path: str) -> str:
        """The shell page that frames a chartgate page directly (no launch): ``/review/…``."""
        return f"{self.origin}/open?path={quote(path, safe='')}"

    def _page(self, launch: str | None, patient: str, path: str | None = None) -> str:
        frame = (
            f"{self.chartgate}/review/launch?iss={quote(self.iss, safe='')}"
            f"&launch={quote(launch, safe='')}"
            if launch is not None
            else f"{self.chartgate}{path}"
        )
        sign_out = f"{self.discovery['end_session_endpoint']}"
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test EHR</title>
<style>body{{margin:0;font:16px sans-serif}} header{{padding:8px;background:#234;color:#fff}}
header a{{color:#fff}} iframe{{border:0;width:100%;height:calc(100vh - 48px)}}</style></head>
<body><header>Test EHR · {html.escape(patient)} ·
<a href="{html.escape(sign_out)}">Sign out of the EHR</a></header>
<iframe id="app" title="chartgate" src="{html.escape(frame)}"></iframe></body></html>"""

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        shell = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                del format, args

            def _send(self, status: int, body: str, content_type: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/fhir/.well-known/smart-configuration":
                    body = json.dumps(smart_configuration(shell.discovery))
                    self._send(200, body, "application/json")
                elif parts.path.startswith("/launch/"):
                    launch = unquote(parts.path.removeprefix("/launch/"))
                    name = parse_qs(parts.query).get("name", ["Synthetic Patient"])[0]
                    self._send(200, shell._page(launch, name), "text/html; charset=utf-8")
                elif parts.path == "/open":
                    path = parse_qs(parts.query).get("path", [""])[0]
                    if not path.startswith("/review/"):
                        self._send(400, "chartgate pages only", "text/plain")
                        return
                    page = shell._page(None, "Synthetic Patient", path)
                    self._send(200, page, "text/html; charset=utf-8")
                else:
                    self._send(404, "not found", "text/plain")

        return Handler

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
