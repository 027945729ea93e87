"""The reviewer page's cookies: one set of attributes that works standalone and in an EHR iframe.

A SMART EHR launch shows the page in the EHR's iframe, a cross-site context: browsers send
``SameSite=Lax`` cookies there neither on the first load nor on form posts, so the session and
the sign-in cookie are ``SameSite=None``. ``Partitioned`` (CHIPS) keys them by the top-level
site as well: the session made inside the EHR's frame is not the one a top-level tab of
chartgate sees, and browsers that block third-party cookies still keep partitioned ones.
``Secure``, ``HttpOnly`` and the ``__Host-`` prefix stay. Cross-site form posts are still
refused by the CSRF token, the ``Origin`` check and ``Sec-Fetch-Site`` (ADR 0024).
"""

from __future__ import annotations

import re

from starlette.responses import Response

_VALUE = re.compile(r"^[A-Za-z0-9_\-]{0,256}$")  # our values are token_urlsafe: no quoting
_ATTRIBUTES = "Path=/; Secure; HttpOnly; SameSite=None; Partitioned"


def _header(name: str, value: str, max_age: int | None) -> str:
    # Written by hand: the standard library's cookie writer knows Partitioned only from
    # Python 3.14, and chartgate runs on 3.11+.
    if not _VALUE.fullmatch(value) or not _VALUE.fullmatch(name.removeprefix("__Host-")):
        raise ValueError("not a cookie name or value this page sets")
    age = f"; Max-Age={max_age}" if max_age is not None else ""
    return f"{name}={value}{age}; {_ATTRIBUTES}"


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    """Set one of the page's cookies (``__Host-``: ``Path=/``, ``Secure``, no ``Domain``)."""
    response.headers.append("set-cookie", _header(name, value, max_age))


def delete_cookie(response: Response, name: str) -> None:
    """Expire one of the page's cookies (same attributes, or the browser keeps it)."""
    response.headers.append(
        "set-cookie",
        _header(name, "", 0) + "; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    )
