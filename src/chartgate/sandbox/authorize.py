"""The dev IdP's authorization code flow: ``/authorize`` with PKCE, and the code exchange.

DEV ONLY, like the rest of the dev identity provider. ``GET /authorize`` shows a tiny page
with one button ("Sign in as demo clinician"); pressing it signs in without a password and
sends the browser back with a code. A browser that signed in before (the IdP's own cookie)
is approved at once, unless the client asks otherwise the way OpenID Connect lets it:
``prompt=login``, a ``max_age`` the sign-in is older than, or ``acr_values`` the sign-in did
not reach (https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest). That is what
RFC 9470 step-up needs: the relying party asks again, the user confirms, the new tokens
carry a fresh ``auth_time`` and the requested ``acr``.

The code is single use, lives 60 seconds, is bound to the client, the redirect URI and the
PKCE S256 challenge (RFC 7636); ``plain`` is refused. Redirect URIs must be loopback.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from chartgate.sandbox.idp import DEMO_PRINCIPALS, MFA_ACR

if TYPE_CHECKING:
    from collections.abc import Mapping

    from chartgate.sandbox.idp import DevIdentityProvider

CODE_SECONDS = 60
ACCESS_TOKEN_SECONDS = 900
ID_TOKEN_SECONDS = 300
SSO_COOKIE = "chartgate-dev-idp"
_PKCE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_MAX_PENDING = 10_000
_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """A checked ``/authorize`` request."""

    client_id: str
    redirect_uri: str
    state: str
    nonce: str | None
    code_challenge: str
    scope: str
    prompt: str | None
    max_age: int | None
    acr_values: tuple[str, ...]

    def query(self) -> dict[str, str]:
        """The request again, as query parameters (the button's form repeats them)."""
        out = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "state": self.state,
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
            "scope": self.scope,
        }
        if self.nonce is not None:
            out["nonce"] = self.nonce
        if self.max_age is not None:
            out["max_age"] = str(self.max_age)
        if self.acr_values:
            out["acr_values"] = " ".join(self.acr_values)
        return out


@dataclass(frozen=True, slots=True)
class _SignIn:
    """One browser's sign-in at the dev IdP (its SSO session)."""

    sid: str
    auth_time: int
    acr: str


@dataclass(frozen=True, slots=True)
class _Code:
    request: AuthRequest
    sign_in: _SignIn
    expires: float


class BadAuthRequest(ValueError):
    """The request cannot be answered by a redirect (bad client or redirect URI)."""


class AuthorizationCodes:
    """Codes issued by ``/authorize`` and redeemed once at ``/token``."""

    def __init__(self, idp: DevIdentityProvider) -> None:
        self._idp = idp
        self._codes: dict[str, _Code] = {}
        self._sessions: dict[str, _SignIn] = {}
        self._lock = threading.Lock()

    def parse(self, params: Mapping[str, str]) -> AuthRequest:
        """Check an authorization request; ``BadAuthRequest`` for one we must not redirect."""
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        if not client_id or len(client_id) > 200:  # noqa: PLR2004
            raise BadAuthRequest("client_id is required")
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in _LOOPBACK_HOSTS or parts.fragment:
            raise BadAuthRequest("the dev IdP only redirects to loopback http URIs")
        if params.get("response_type") != "code":
            raise ValueError("unsupported_response_type")
        if params.get("code_challenge_method") != "S256":
            raise ValueError("PKCE with code_challenge_method=S256 is required")
        challenge = params.get("code_challenge", "")
        if not _CHALLENGE.fullmatch(challenge):
            raise ValueError("code_challenge must be a base64url SHA-256")
        max_age = params.get("max_age")
        if max_age is not None and (not max_age.isdigit() or int(max_age) > 86400):  # noqa: PLR2004
            raise ValueError("max_age must be a number of seconds")
        return AuthRequest(
            client_id=client_id,
            redirect_uri=redirect_uri,
            state=params.get("state", "")[:500],
            nonce=params.get("nonce"),
            code_challenge=challenge,
            scope=params.get("scope", "openid"),
            prompt=params.get("prompt"),
            max_age=None if max_age is None else int(max_age),
            acr_values=tuple(params.get("acr_values", "").split()),
        )

    def sign_in_for(self, cookie: str | None, request: AuthRequest) -> _SignIn | None:
        """The browser's earlier sign-in when it satisfies ``request`` (else None: ask)."""
        if cookie is None or request.prompt in {"login", "consent", "select_account"}:
            return None
        with self._lock:
            found = self._sessions.get(cookie)
        if found is None:
            return None
        if request.max_age is not None and time.time() - found.auth_time > request.max_age:
            return None
        if request.acr_values and found.acr not in request.acr_values:
            return None
        return found

    def sign_in(self, cookie: str | None, request: AuthRequest) -> _SignIn:
        """The user pressed the button: a fresh authentication, in the same SSO session."""
        acr = request.acr_values[0] if request.acr_values else MFA_ACR
        with self._lock:
            sid = cookie if cookie in self._sessions else secrets.token_urlsafe(16)
            done = _SignIn(sid=sid, auth_time=int(time.time()), acr=acr)
            self._sessions[sid] = done
        return done

    def issue(self, request: AuthRequest, sign_in: _SignIn) -> str:
        """A single-use code for ``request``."""
        code = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            for key in [k for k, c in self._codes.items() if c.expires <= now]:
                del self._codes[key]
            if len(self._codes) >= _MAX_PENDING:
                self._codes.pop(next(iter(self._codes)))
            self._codes[code] = _Code(request, sign_in, now + CODE_SECONDS)
        return code

    def exchange(self, fields: Mapping[str, str]) -> dict[str, Any]:
        """Redeem a code (``grant_type=authorization_code``); ``PermissionError`` if refused."""
        with self._lock:
            found = self._codes.pop(fields.get("code", ""), None)
        if found is None or found.expires <= time.monotonic():
            raise PermissionError("unknown, used or expired code")
        request = found.request
        if fields.get("client_id") != request.client_id:
            raise PermissionError("the code was issued to another client")
        if fields.get("redirect_uri") != request.redirect_uri:
            raise PermissionError("redirect_uri differs from the authorization request")
        verifier = fields.get("code_verifier", "")
        if not _PKCE.fullmatch(verifier) or s256(verifier) != request.code_challenge:
            raise PermissionError("code_verifier does not match the code_challenge")
        return self._tokens(request, found.sign_in)

    def _tokens(self, request: AuthRequest, sign_in: _SignIn) -> dict[str, Any]:
        name = demo_for(request)
        demo = DEMO_PRINCIPALS[name]
        common: dict[str, Any] = {
            "auth_time": sign_in.auth_time,
            "acr": sign_in.acr,
            "sid": sign_in.sid,
        }
        access = self._idp.mint_for(name, lifetime_seconds=ACCESS_TOKEN_SECONDS, **common)
        id_token = self._idp.mint(
            subject=demo.subject,
            audience=request.client_id,
            scopes=(),
            tenant=self._idp.default_tenant,
            fhir_user=demo.fhir_user,
            amr=demo.amr,
            lifetime_seconds=ID_TOKEN_SECONDS,
            extra_claims={"nonce": request.nonce} if request.nonce else None,
            **common,
        )
        return {
            "access_token": access,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": " ".join(demo.scopes),
        }


def s256(verifier: str) -> str:
    """RFC 7636 S256: ``BASE64URL(SHA256(ASCII(code_verifier)))`` without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def token_response(codes: AuthorizationCodes, fields: Mapping[str, str]) -> JSONResponse:
    """``POST /token`` with ``grant_type=authorization_code`` (RFC 6749 5.1 / 5.2)."""
    try:
        issued = codes.exchange(fields)
    except PermissionError as e:
        return JSONResponse(
            {"error": "invalid_grant", "error_description": str(e)},
            status_code=400,
            headers=_NO_STORE,
        )
    return JSONResponse(issued, headers=_NO_STORE)


def add_authorize_routes(router: APIRouter, codes: AuthorizationCodes) -> None:
    """``GET /authorize`` (ask or approve at once) and ``POST /authorize`` (the button)."""

    @router.get("/authorize")
    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        try:
            auth = codes.parse(params)
        except BadAuthRequest as e:
            return HTMLResponse(_page("Sign-in refused", html.escape(str(e))), status_code=400)
        except ValueError as e:
            return _error_redirect(params, str(e))
        cookie = request.cookies.get(SSO_COOKIE)
        done = codes.sign_in_for(cookie, auth)
        if done is not None:
            return _code_redirect(codes, auth, done)
        if auth.prompt == "none":
            return _error_redirect(params, "login_required")
        return HTMLResponse(_sign_in_page(auth), headers=_page_headers(auth))

    @router.post("/authorize")
    async def approve(request: Request) -> Response:
        form = await request.form()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            auth = codes.parse(params)
        except BadAuthRequest as e:
            return HTMLResponse(_page("Sign-in refused", html.escape(str(e))), status_code=400)
        except ValueError as e:
            return _error_redirect(params, str(e))
        return _code_redirect(codes, auth, codes.sign_in(request.cookies.get(SSO_COOKIE), auth))


def _code_redirect(codes: AuthorizationCodes, auth: AuthRequest, done: _SignIn) -> Response:
    query = urlencode({"code": codes.issue(auth, done), "state": auth.state})
    response = RedirectResponse(f"{auth.redirect_uri}?{query}", status_code=303)
    response.set_cookie(
        SSO_COOKIE, done.sid, path="/idp", httponly=True, samesite="lax", max_age=8 * 3600
    )
    response.headers.update(_NO_STORE)
    return response


def _error_redirect(params: Mapping[str, str], description: str) -> Response:
    """An OAuth error back to the (already checked) loopback redirect URI."""
    error = (
        description
        if description in {"unsupported_response_type", "login_required"}
        else "invalid_request"
    )
    query = urlencode(
        {"error": error, "error_description": description, "state": params.get("state", "")}
    )
    return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=303)


def _page_headers(auth: AuthRequest) -> dict[str, str]:
    target = urlsplit(auth.redirect_uri)
    return {
        **_NO_STORE,
        "content-security-policy": (
            "default-src 'none'; "
            f"form-action 'self' {target.scheme}://{target.netloc}; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
    }


def demo_for(auth: AuthRequest) -> str:
    """The demo principal a sign-in gets: the admin when it asks for ``chartgate/admin``."""
    return "admin" if "chartgate/admin" in auth.scope.split() else "clinician"


def _sign_in_page(auth: AuthRequest) -> str:
    name = demo_for(auth)
    demo = DEMO_PRINCIPALS[name]
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in auth.query().items()
    )
    asked = []
    if auth.prompt == "login" or auth.max_age is not None or auth.acr_values:
        asked.append("<p><strong>Re-authentication requested</strong> by the application")
        if auth.max_age is not None:
            asked.append(f" (max_age {auth.max_age} s)")
        if auth.acr_values:
            asked.append(f" at level <code>{html.escape(' '.join(auth.acr_values))}</code>")
        asked.append(".</p>")
    body = (
        "<p>DEV ONLY: this identity provider signs anyone in without a password. "
        "Never expose it beyond 127.0.0.1.</p>"
        f"{''.join(asked)}"
        f"<p>Application: <code>{html.escape(auth.client_id)}</code></p>"
        f'<form method="post" action="authorize">{hidden}'
        f'<button type="submit" autofocus>Sign in as demo {name}</button></form>'
        f"<p>({html.escape(demo.subject)}, {html.escape(str(demo.fhir_user))}, "
        "password + one-time code)</p>"
    )
    return _page("chartgate dev identity provider", body)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
