"""The Idempotency-Key store on both databases: a key two requests race for is a domain error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chartgate.bootstrap import Application, build
from chartgate.domain.errors import IdempotencyInFlight
from chartgate.settings import Settings


@pytest.fixture
def app(migrated_database_url: str, tmp_path: Path) -> Iterator[Application]:
    """An application wired on a fresh database with the schema at head (no tenant, no server)."""
    application = build(
        Settings(database_url=migrated_database_url, key_file=str(tmp_path / "kek.key")),
        migrate=True,
    )
    yield application
    application.close()


def test_a_key_inserted_by_a_concurrent_request_is_in_flight(app: Application) -> None:
    """When two requests both missed a key and both insert it, the second gets IdempotencyInFlight.

    The database refuses the second insert; the storage adapter says so in the domain's terms
    (409), so the service layer never sees a SQLAlchemy exception.
    """
    now = datetime.now(UTC)
    with app.uow() as uow:
        uow.idempotency.begin("clinic-a", "scribe", "key-1", "sha256:first", now)
    with pytest.raises(IdempotencyInFlight) as refused, app.uow() as uow:
        uow.idempotency.begin("clinic-a", "scribe", "key-1", "sha256:second", now)
    assert refused.value.expression == "Idempotency-Key"
    with app.uow(read_only=True) as uow:
        stored = uow.idempotency.find("clinic-a", "scribe", "key-1")
    assert stored is not None
    assert stored["request_hash"] == "sha256:first"
