"""The development OpenID provider's HTTP face: discovery, JWKS, ``POST /token``, ``/authorize``.

DEV ONLY, like the provider itself (``idp.py``): ``POST /token`` mints a token for any demo
principal with the claims the form asks for. Mount the router where the issuer URL points (the
sandbox uses ``<base>/idp``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from chartgate.sandbox.authorize import AuthorizationCodes, add_authorize_routes, token_response
from chartgate.sandbox.idp import DEMO_PRINCIPALS, DevIdentityProvider, JsonObject

if TYPE_CHECKING:
    from collections.abc import Mapping

_MAX_LIFETIME_SECONDS = 86400


def create_idp_router(idp: DevIdentityProvider) -> APIRouter:
    """Build the IdP's HTTP face: discovery, JWKS and the trusting ``POST /token``.

    Mount it where the issuer URL points (the sandbox uses ``<base>/idp``).
    """
    router = APIRouter()
    codes = AuthorizationCodes(idp)
    add_authorize_routes(router, codes)

    @router.get("/.well-known/openid-configuration")
    async def discovery() -> JSONResponse:
        return JSONResponse(idp.openid_configuration())

    @router.get("/jwks")
    async def jwks() -> JSONResponse:
        return JSONResponse(idp.jwks(), media_type="application/jwk-set+json")

    @router.post("/token")
    async def token(request: Request) -> Response:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str) and v != ""}
        if fields.get("grant_type") == "authorization_code":
            return token_response(codes, fields)
        if fields.get("grant_type") == "client_credentials":
            try:
                issued = idp.client_credentials(fields, token_url=f"{idp.issuer}/token")
            except PermissionError as e:
                return JSONResponse(
                    {"error": "invalid_client", "error_description": str(e)}, status_code=401
                )
            return JSONResponse(issued, headers={"cache-control": "no-store", "pragma": "no-cache"})
        try:
            principal, overrides, lifetime = _token_request(fields, idp.default_tenant)
            access_token = idp.mint_for(principal, lifetime_seconds=lifetime, **overrides)
        except (KeyError, ValueError) as e:
            return JSONResponse(
                {"error": "invalid_request", "error_description": str(e)}, status_code=400
            )
        body: JsonObject = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": " ".join(overrides.get("scopes", DEMO_PRINCIPALS[principal].scopes)),
        }
        for launch in ("patient", "encounter"):
            if launch in overrides:
                body[launch] = overrides[launch]
        return JSONResponse(body, headers={"cache-control": "no-store", "pragma": "no-cache"})

    return router


_TEXT_FIELDS = {
    "subject": "subject",
    "audience": "audience",
    "tenant": "tenant",
    "fhir_user": "fhir_user",
    "acr": "acr",
    "patient": "patient",
    "encounter": "encounter",
    "sid": "sid",
    "alg": "alg",
}
_FORM_FIELDS = frozenset(
    {*_TEXT_FIELDS, "principal", "scope", "amr", "auth_time", "lifetime_seconds", "grant_type"}
)


def _token_request(
    fields: Mapping[str, str], default_tenant: str | None
) -> tuple[str, dict[str, Any], int]:
    """Turn ``POST /token`` form fields into (principal, ``mint`` overrides, lifetime).

    Form fields: ``principal`` (``clinician`` | ``scribe`` | ``admin`` | ``auditor``, default
    ``clinician``), and optionally ``subject``, ``audience``, ``scope`` and ``amr``
    (space-separated), ``tenant``, ``fhir_user``, ``acr``, ``auth_time``, ``patient``,
    ``encounter``, ``sid``, ``alg``, ``lifetime_seconds``. ``grant_type`` is ignored.
    """
    unknown = set(fields) - _FORM_FIELDS
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    principal = fields.get("principal", "clinician")
    if principal not in DEMO_PRINCIPALS:
        raise ValueError(f"unknown principal {principal!r}; known: {', '.join(DEMO_PRINCIPALS)}")
    overrides: dict[str, Any] = {
        argument: fields[name] for name, argument in _TEXT_FIELDS.items() if name in fields
    }
    if overrides.get("alg", "RS256") not in {"RS256", "ES256"}:
        raise ValueError("alg must be RS256 or ES256")
    if "tenant" not in overrides:
        overrides["tenant"] = default_tenant
    if "scope" in fields:
        overrides["scopes"] = tuple(fields["scope"].split())
    if "amr" in fields:
        overrides["amr"] = tuple(fields["amr"].split())
    if "auth_time" in fields:
        overrides["auth_time"] = int(fields["auth_time"])
    lifetime = int(fields.get("lifetime_seconds", "300"))
    if abs(lifetime) > _MAX_LIFETIME_SECONDS:
        raise ValueError("lifetime_seconds is out of range")
    return principal, overrides, lifetime
