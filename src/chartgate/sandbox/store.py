"""Versioned storage of FHIR resources for the sandbox EHR, in one SQLite file.

Every write adds a row to ``resource_version`` and moves the ``resource_current`` pointer, so
read, vread and history all come from the same rows. Writes hold one lock for the whole
check-then-write, which makes conditional create atomic *here*; several real servers race on
it, which is why chartgate never relies on the EHR alone to prevent duplicates.

Search scans the type's current resources and filters them in Python: the sandbox holds a
handful of synthetic resources, not a chart.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

from chartgate.sandbox.search import (
    FhirError,
    JsonObject,
    SearchQuery,
    matches,
    parse_query_string,
    parse_search,
)

__all__ = [
    "FhirError",
    "JsonObject",
    "ResourceStore",
    "SearchQuery",
    "StoredVersion",
    "parse_query_string",
    "parse_search",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resource_version (
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    version_id INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (resource_type, resource_id, version_id)
);
CREATE TABLE IF NOT EXISTS resource_current (
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    version_id INTEGER NOT NULL,
    PRIMARY KEY (resource_type, resource_id)
);
"""


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One version of one resource, with the ``meta`` the server set."""

    resource_type: str
    resource_id: str
    version_id: int
    last_updated: datetime
    resource: JsonObject

    @property
    def etag(self) -> str:
        """The weak ETag of this version: ``W/"<versionId>"``."""
        return f'W/"{self.version_id}"'

    @property
    def versioned_path(self) -> str:
        """``Type/id/_history/vid``, the version-specific relative URL."""
        return f"{self.resource_type}/{self.resource_id}/_history/{self.version_id}"


class ResourceStore:
    """FHIR resources with full version history in one SQLite file (WAL mode).

    Each call opens and closes its own connection, so the store may be used from any
    thread; writes are serialised by one lock and run in one ``BEGIN IMMEDIATE``
    transaction.
    """

    def __init__(self, path: str, *, seed: Sequence[JsonObject] = ()) -> None:
        self._path = path
        self._seed = tuple(copy.deepcopy(r) for r in seed)
        self._write_lock = threading.Lock()
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
        with self._write() as conn:
            self._insert_seed(conn)

    @contextmanager
    def atomic(self) -> Iterator[Atomic]:
        """Several writes in one transaction: all of them, or (an error raised) none."""
        with self._write() as conn:
            yield Atomic(self, conn)

    def create(
        self, resource_type: str, resource: JsonObject, *, if_none_exist: str | None = None
    ) -> tuple[StoredVersion, bool]:
        """Create a resource with a new server id; return it and whether it was created.

        With ``if_none_exist`` this is a conditional create: no match creates, one match
        returns the existing resource (``created`` False), several matches raise.

        Raises:
            FhirError: 412 when the condition matches more than one resource; 400 when the
                condition is not a valid search.
        """
        with self._write() as conn:
            return self._create(conn, resource_type, resource, if_none_exist)

    def _create(
        self,
        conn: sqlite3.Connection,
        resource_type: str,
        resource: JsonObject,
        if_none_exist: str | None,
    ) -> tuple[StoredVersion, bool]:
        condition = parse_query_string(if_none_exist) if if_none_exist is not None else None
        if condition is not None and not condition.criteria:
            raise FhirError(400, "invalid", "If-None-Exist names no search criteria")
        if condition is not None:
            matches = self._search(conn, resource_type, condition)
            if len(matches) > 1:
                raise FhirError(
                    412,
                    "multiple-matches",
                    f"If-None-Exist matched {len(matches)} resources",
                )
            if matches:
                return matches[0], False
        stored = self._put(conn, resource_type, str(uuid.uuid4()), 1, resource)
        return stored, True

    def update(
        self,
        resource_type: str,
        resource_id: str,
        resource: JsonObject,
        *,
        if_match: str | None,
        allow_create: bool,
        only_new: bool = False,
    ) -> tuple[StoredVersion, bool]:
        """Store a new version; return it and whether the resource was created by this PUT.

        ``if_match`` is the bare version id the client expects to be current (``*`` matches
        any existing version).

        ``only_new`` (``If-None-Match: *``) creates the resource only if no version of it
        exists, checked under the write lock, so two racing PUTs create exactly one.

        Raises:
            FhirError: 412 when ``if_match`` is not the current version, or with ``only_new``
                when the resource exists; 404 when the resource does not exist and may not be
                created by update.
        """
        with self._write() as conn:
            return self._update(
                conn, resource_type, resource_id, resource, if_match, allow_create, only_new
            )

    def _update(
        self,
        conn: sqlite3.Connection,
        resource_type: str,
        resource_id: str,
        resource: JsonObject,
        if_match: str | None,
        allow_create: bool,
        only_new: bool,
    ) -> tuple[StoredVersion, bool]:
        current = self._current_version(conn, resource_type, resource_id)
        if only_new and current is not None:
            raise FhirError(
                412, "duplicate", f"{resource_type}/{resource_id} exists (If-None-Match: *)"
            )
        if current is None:
            if not allow_create or if_match is not None:
                raise FhirError(404, "not-found", f"{resource_type}/{resource_id} not found")
            return self._put(conn, resource_type, resource_id, 1, resource), True
        if if_match is not None and if_match not in {"*", str(current)}:
            raise FhirError(
                412,
                "conflict",
                f"Version {if_match} is not current ({resource_type}/{resource_id} "
                f"is at version {current})",
            )
        return self._put(conn, resource_type, resource_id, current + 1, resource), False

    def read(self, resource_type: str, resource_id: str) -> StoredVersion:
        """Return the current version.

        Raises:
            FhirError: 404 when the resource does not exist.
        """
        with self._connect() as conn:
            current = self._current_version(conn, resource_type, resource_id)
            if current is None:
                raise FhirError(404, "not-found", f"{resource_type}/{resource_id} not found")
            return self._version(conn, resource_type, resource_id, current)

    def vread(self, resource_type: str, resource_id: str, version_id: str) -> StoredVersion:
        """Return one named version.

        Raises:
            FhirError: 404 when the resource or that version does not exist.
        """
        if not version_id.isdigit():
            raise FhirError(404, "not-found", f"Version {version_id!r} not found")
        with self._connect() as conn:
            if self._current_version(conn, resource_type, resource_id) is None:
                raise FhirError(404, "not-found", f"{resource_type}/{resource_id} not found")
            return self._version(conn, resource_type, resource_id, int(version_id))

    def history(self, resource_type: str, resource_id: str) -> list[StoredVersion]:
        """Return every version of one resource, newest first.

        Raises:
            FhirError: 404 when the resource does not exist.
        """
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT version_id, last_updated, body FROM resource_version"
                " WHERE resource_type = ? AND resource_id = ? ORDER BY version_id DESC",
                (resource_type, resource_id),
            ).fetchall()
        if not rows:
            raise FhirError(404, "not-found", f"{resource_type}/{resource_id} not found")
        return [_stored(resource_type, resource_id, *row) for row in rows]

    def search(self, resource_type: str, query: SearchQuery) -> list[StoredVersion]:
        """Return the current versions matching ``query``, oldest resource first."""
        with self._connect() as conn:
            matches = self._search(conn, resource_type, query)
        return matches if query.count is None else matches[: query.count]

    def reset(self) -> None:
        """Delete every resource and version, then put the seed resources back."""
        with self._write() as conn:
            conn.execute("DELETE FROM resource_current")
            conn.execute("DELETE FROM resource_version")
            self._insert_seed(conn)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock, self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _insert_seed(self, conn: sqlite3.Connection) -> None:
        for resource in self._seed:
            resource_type, resource_id = resource["resourceType"], resource["id"]
            if self._current_version(conn, resource_type, resource_id) is None:
                self._put(conn, resource_type, resource_id, 1, resource)

    @staticmethod
    def _current_version(
        conn: sqlite3.Connection, resource_type: str, resource_id: str
    ) -> int | None:
        row = conn.execute(
            "SELECT version_id FROM resource_current WHERE resource_type = ? AND resource_id = ?",
            (resource_type, resource_id),
        ).fetchone()
        return None if row is None else int(row[0])

    @staticmethod
    def _version(
        conn: sqlite3.Connection, resource_type: str, resource_id: str, version_id: int
    ) -> StoredVersion:
        row = conn.execute(
            "SELECT version_id, last_updated, body FROM resource_version"
            " WHERE resource_type = ? AND resource_id = ? AND version_id = ?",
            (resource_type, resource_id, version_id),
        ).fetchone()
        if row is None:
            raise FhirError(
                404, "not-found", f"{resource_type}/{resource_id} has no version {version_id}"
            )
        return _stored(resource_type, resource_id, *row)

    @staticmethod
    def _put(
        conn: sqlite3.Connection,
        resource_type: str,
        resource_id: str,
        version_id: int,
        resource: JsonObject,
    ) -> StoredVersion:
        now = datetime.now(UTC)
        body = copy.deepcopy(resource)
        body["resourceType"] = resource_type
        body["id"] = resource_id
        meta = dict(body.get("meta") or {})
        meta["versionId"] = str(version_id)
        meta["lastUpdated"] = _instant(now)
        body["meta"] = meta
        conn.execute(
            "INSERT INTO resource_version"
            " (resource_type, resource_id, version_id, last_updated, body) VALUES (?, ?, ?, ?, ?)",
            (resource_type, resource_id, version_id, now.isoformat(), json.dumps(body)),
        )
        conn.execute(
            "INSERT INTO resource_current (resource_type, resource_id, version_id)"
            " VALUES (?, ?, ?) ON CONFLICT (resource_type, resource_id)"
            " DO UPDATE SET version_id = excluded.version_id",
            (resource_type, resource_id, version_id),
        )
        return StoredVersion(resource_type, resource_id, version_id, now, body)

    @staticmethod
    def _search(
        conn: sqlite3.Connection, resource_type: str, query: SearchQuery
    ) -> list[StoredVersion]:
        rows = conn.execute(
            "SELECT c.resource_id, v.version_id, v.last_updated, v.body"
            " FROM resource_current AS c JOIN resource_version AS v"
            " ON v.resource_type = c.resource_type AND v.resource_id = c.resource_id"
            " AND v.version_id = c.version_id"
            " WHERE c.resource_type = ? ORDER BY c.rowid",
            (resource_type,),
        ).fetchall()
        found = [_stored(resource_type, *row) for row in rows]
        return [s for s in found if matches(s.resource, query)]


@dataclass(frozen=True, slots=True)
class Atomic:
    """Writes inside one ``ResourceStore.atomic`` transaction (the same rules as outside)."""

    store: ResourceStore
    conn: sqlite3.Connection

    def create(
        self, resource_type: str, resource: JsonObject, *, if_none_exist: str | None = None
    ) -> tuple[StoredVersion, bool]:
        """As ``ResourceStore.create``, inside the transaction."""
        return self.store._create(self.conn, resource_type, resource, if_none_exist)  # noqa: SLF001

    def update(
        self,
        resource_type: str,
        resource_id: str,
        resource: JsonObject,
        *,
        if_match: str | None,
        allow_create: bool,
        only_new: bool = False,
    ) -> tuple[StoredVersion, bool]:
        """As ``ResourceStore.update``, inside the transaction."""
        return self.store._update(  # noqa: SLF001
            self.conn, resource_type, resource_id, resource, if_match, allow_create, only_new
        )


def _stored(
    resource_type: str, resource_id: str, version_id: int, last_updated: str, body: str
) -> StoredVersion:
    return StoredVersion(
        resource_type,
        resource_id,
        int(version_id),
        datetime.fromisoformat(last_updated),
        json.loads(body),
    )


def _instant(moment: datetime) -> str:
    """Format a FHIR ``instant`` in UTC with milliseconds and a ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
