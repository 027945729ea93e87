"""A database that goes away outside a unit of work is a retryable 503, never a 500."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError, OperationalError

from chartgate.api.errors import install


def _get(error: Exception) -> httpx.Response:
    """GET a route that raises ``error``, through the app's own error handlers."""
    app = FastAPI()
    install(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/boom")

    return asyncio.run(call())


def test_a_lost_connection_anywhere_answers_503_with_retry_after() -> None:
    """OperationalError (connection gone) becomes the StoreUnavailable answer."""
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    answer = _get(lost)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert answer.json()["issue"][0]["code"] == "transient"


def test_any_other_database_error_is_still_an_opaque_500() -> None:
    """A constraint violation is a bug, not an outage: 500 with nothing echoed."""
    broken = IntegrityError("INSERT ...", {"secret": "x"}, Exception("duplicate key"))
    answer = _get(broken)
    assert answer.status_code == 500
    assert "secret" not in answer.text
