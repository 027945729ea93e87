"""Idempotency-Key on every mutation, with Stripe's semantics.

The first answer to a key is stored and replayed for the same request; the same key with a
different request is refused (422); a key whose first request is still running answers 409.
A failure on our side (5xx), an authentication demand (step-up) or a state conflict forgets
the key so the client can retry once the condition has changed.
See https://docs.stripe.com/api/idempotent_requests.

Keys belong to the whole principal — issuer, subject and client — not to ``sub`` alone (two
issuers of a tenant may both have a ``dr-1``), and a stored answer is replayed only after
``authorize`` has re-run the request's role and binding checks and recorded the replay: a
clinician who lost the encounter, or an auditor with the same ``sub``, gets no stored note.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from chartgate.domain.errors import (
    AuthError,
    ChartgateError,
    IdempotencyInFlight,
    IdempotencyMismatch,
    InputError,
    StateConflict,
    StoreUnavailable,
)
from chartgate.domain.principal import Principal
from chartgate.service.ports import Clock, JsonObject, UnitOfWorkFactory

KEY_GRAMMAR = re.compile(r"^[A-Za-z0-9_\-:.]{1,255}$")

Answer = tuple[int, JsonObject]


_SERVER_ERROR = 500


def principal_key(principal: Principal) -> str:
    """Who owns a key: a digest of (issuer, subject, client), fitting the store's column."""
    digest = hashlib.sha256()
    for part in (principal.issuer or "", principal.subject, principal.client_id or ""):
        digest.update(part.encode("utf-8") + b"\0")
    return "sha256:" + digest.hexdigest()


class IdempotencyGuard:
    """Runs a mutation at most once per (tenant, issuer + subject + client, key)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        abandoned_after: timedelta = timedelta(seconds=60),
    ) -> None:
        self._uow = uow
        self._clock = clock
        # A key left in flight longer than this belongs to a request that died with its
        # process or lost its database mid-way (nothing of it committed, or the answer would
        # be stored): a retry may take it over instead of getting 409 forever.
        self._abandoned_after = abandoned_after

    def run(
        self,
        principal: Principal,
        key: str | None,
        fingerprint: str,
        action: Callable[[], Answer],
        *,
        error_answer: Callable[[ChartgateError], Answer],
        authorize: Callable[[Answer], None],
    ) -> tuple[Answer, bool]:
        """Run ``action`` under ``key``; return (answer, replayed).

        ``authorize(stored)`` runs before a stored answer is replayed: it raises when the
        caller may no longer have it, and records the replay otherwise.
        """
        if key is None:
            return action(), False
        if not KEY_GRAMMAR.fullmatch(key):
            raise InputError(
                "Idempotency-Key must be 1-255 of [A-Za-z0-9_-:.]", expression="Idempotency-Key"
            )
        tenant, who = principal.tenant, principal_key(principal)
        stored = self._lookup(tenant, who, key, fingerprint)
        if stored is not None:
            authorize(stored)
            return stored, True
        try:
            answer = action()
        except (AuthError, StateConflict, StoreUnavailable):
            # Conditions that can change (a re-authentication, a state, the database coming
            # back): let a retry run. Never store a 503 as the key's answer.
            with contextlib.suppress(StoreUnavailable), self._uow() as uow:
                uow.idempotency.forget(tenant, who, key)
            raise
        except ChartgateError as error:
            answer = error_answer(error)
            if answer[0] >= _SERVER_ERROR:
                # Our side or the EHR failed (e.g. a 502 on the approval's patient read):
                # nothing was done, so the same key must be able to run again.
                with contextlib.suppress(StoreUnavailable), self._uow() as uow:
                    uow.idempotency.forget(tenant, who, key)
                return answer, False
            # A refusal of the request itself is an answer too: replay it.
        except BaseException:
            with self._uow() as uow:
                uow.idempotency.forget(tenant, who, key)
            raise
        with self._uow() as uow:
            uow.idempotency.finish(tenant, who, key, answer[0], answer[1])
        return answer, False

    def _abandoned(self, stored: JsonObject, now: datetime) -> bool:
        if stored["state"] == "done":
            return False
        began: datetime = stored["created_at"]
        began = began if began.tzinfo is not None else began.replace(tzinfo=UTC)
        return now - began > self._abandoned_after

    def _lookup(self, tenant: str, who: str, key: str, fingerprint: str) -> Answer | None:
        """The stored answer to replay, or None after marking the key in flight.

        When another request inserts the same key between our find and our insert, the store's
        ``begin`` raises ``IdempotencyInFlight`` itself (``adapters/storage/idempotency_keys.py``).
        """
        with self._uow() as uow:
            stored = uow.idempotency.find(tenant, who, key)
            now = self._clock.now()
            if stored is not None and self._abandoned(stored, now):
                uow.idempotency.forget(tenant, who, key)
                stored = None
            if stored is None:
                uow.idempotency.begin(tenant, who, key, fingerprint, now)
                return None
        if stored["request_hash"] != fingerprint:
            raise IdempotencyMismatch(
                "this Idempotency-Key was used with a different request",
                expression="Idempotency-Key",
            )
        if stored["state"] != "done":
            raise IdempotencyInFlight(
                "a request with this Idempotency-Key is in progress", expression="Idempotency-Key"
            )
        return int(stored["status_code"]), dict(stored["response"])
