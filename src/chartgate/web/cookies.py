"""The reviewer page's cookies: one set of attributes that works standalone and in an EHR iframe.

A SMART EHR launch shows the page in the EHR's iframe, a cross-site context: browsers send
``SameSite=Lax`` cookies there neither on the first load nor on form posts, so the session and
the sign-in cookie are ``SameSite=None``. ``Partitioned`` (CHIPS) keys them by the top-level
site as well: the session made inside the EHR's frame is not the one a top-level tab of
chartgate sees, and browsers that block third-party cookies still keep partitioned ones.
``Secure``, ``HttpOnly`` and the ``__Host-`` prefix stay. Cross-site form posts are still
refused by the CSRF token, the ``Origin`` check and ``Sec-Fetch-Site`` (ADR 0020).
"""

from __future__ import annotations

from starlette.responses import Response


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    """Set one of the page's cookies (``__Host-``: ``Path=/``, ``Secure``, no ``Domain``)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=True,
        httponly=True,
        samesite="none",
        partitioned=True,
    )


def delete_cookie(response: Response, name: str) -> None:
    """Expire one of the page's cookies (same attributes, or the browser keeps it)."""
    response.delete_cookie(
        name, path="/", secure=True, httponly=True, samesite="none", partitioned=True
    )
