"""Idempotency-Key on every mutation, with Stripe's semantics.

The first answer to a key is stored and replayed for the same request; the same key with a
different request is refused (422); a key whose first request is still running answers 409.
A failure on our side (5xx), an authentication demand (step-up) or a state conflict forgets
the key so the client can retry once the condition has changed.
See https://docs.stripe.com/api/idempotent_requests.

**The answer commits with the effect.** A use case that runs under a key calls ``settle(uow,
result)`` as the last step of the transaction that makes its effect: the answer is stored in
that same transaction, on the condition that this attempt still holds the key. So a request
whose effect committed has its answer stored, whatever happens to the connection afterwards
(the retry replays it, never re-runs it), and a request that lost its key to a retry after
``abandoned_after`` rolls its own effect back (409) instead of doing it a second time. Use
cases that do not settle get their answer stored after the fact, as before.

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
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

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
from chartgate.service.ports import Clock, JsonObject, UnitOfWork, UnitOfWorkFactory

KEY_GRAMMAR = re.compile(r"^[A-Za-z0-9_\-:.]{1,255}$")

Answer = tuple[int, JsonObject]
R = TypeVar("R")

_SERVER_ERROR = 500


@dataclass
class _Attempt:
    """The key this request holds, and how to turn the use case's result into its answer."""

    tenant: str
    who: str
    key: str
    began: datetime
    present: Callable[[Any], Answer]
    settled: Answer | None = None


_ATTEMPT: ContextVar[_Attempt | None] = ContextVar("chartgate_idempotency", default=None)


def settle(uow: UnitOfWork, result: object) -> None:
    """Store the request's answer in ``uow``, the transaction that makes its effect.

    Call it last in that transaction, with exactly what the use case returns. Outside a keyed
    request it does nothing.

    Raises:
        IdempotencyInFlight: a retry took the key over (this attempt was presumed dead): the
            transaction rolls back, so the effect is made once, by the retry.
    """
    attempt = _ATTEMPT.get()
    if attempt is None or attempt.settled is not None:
        return
    answer = attempt.present(result)
    if not uow.idempotency.settle(
        attempt.tenant, attempt.who, attempt.key, attempt.began, answer[0], answer[1]
    ):
        raise IdempotencyInFlight(
            "a retry with this Idempotency-Key took over this request",
            expression="Idempotency-Key",
        )
    attempt.settled = answer


def _as_is(answer: Answer) -> Answer:
    return answer


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
        """Run ``action`` (which returns its answer) under ``key``; see ``run_effect``."""
        return self.run_effect(
            principal,
            key,
            fingerprint,
            action,
            _as_is,
            error_answer=error_answer,
            authorize=authorize,
        )

    def run_effect(
        self,
        principal: Principal,
        key: str | None,
        fingerprint: str,
        effect: Callable[[], R],
        present: Callable[[R], Answer],
        *,
        error_answer: Callable[[ChartgateError], Answer],
        authorize: Callable[[Answer], None],
    ) -> tuple[Answer, bool]:
        """Run ``effect`` under ``key``: (``present(result)`` or the stored answer, replayed).

        A use case inside ``effect`` that calls ``settle`` stores ``present(result)`` in its
        own transaction. ``authorize(stored)`` runs before a stored answer is replayed: it
        raises when the caller may no longer have it, and records the replay otherwise.
        """
        if key is None:
            return present(effect()), False
        if not KEY_GRAMMAR.fullmatch(key):
            raise InputError(
                "Idempotency-Key must be 1-255 of [A-Za-z0-9_-:.]", expression="Idempotency-Key"
            )
        tenant, who = principal.tenant, principal_key(principal)
        began = self._clock.now()
        stored = self._lookup(tenant, who, key, fingerprint, began)
        if stored is not None:
            authorize(stored)
            return stored, True
        attempt = _Attempt(tenant, who, key, began, present)
        token = _ATTEMPT.set(attempt)
        try:
            answer = present(effect())
        except (AuthError, StateConflict, StoreUnavailable):
            # Conditions that can change (a re-authentication, a state, the database coming
            # back): let a retry run. Never store a 503 as the key's answer. (A key another
            # attempt took over, IdempotencyInFlight, is a StateConflict: theirs stays.)
            self._forget(attempt)
            raise
        except ChartgateError as error:
            answer = error_answer(error)
            if answer[0] >= _SERVER_ERROR:
                # Our side or the EHR failed (e.g. a 502 on the approval's patient read):
                # nothing was done, so the same key must be able to run again.
                self._forget(attempt)
                return answer, False
            # A refusal of the request itself is an answer too: replay it.
        except BaseException:
            self._forget(attempt, quietly=False)
            raise
        finally:
            _ATTEMPT.reset(token)
        if attempt.settled is None:  # a use case that does not settle: stored after the fact
            with self._uow() as uow:
                uow.idempotency.settle(tenant, who, key, began, answer[0], answer[1])
        return answer, False

    def _forget(self, attempt: _Attempt, *, quietly: bool = True) -> None:
        """Let a retry run the key again: only this attempt's row, only while in flight."""
        with contextlib.suppress(*((StoreUnavailable,) if quietly else ())), self._uow() as uow:
            uow.idempotency.forget(attempt.tenant, attempt.who, attempt.key, attempt.began)

    def _abandoned(self, stored: JsonObject, now: datetime) -> bool:
        if stored["state"] == "done":
            return False
        began: datetime = stored["created_at"]
        began = began if began.tzinfo is not None else began.replace(tzinfo=UTC)
        return now - began > self._abandoned_after

    def _lookup(
        self, tenant: str, who: str, key: str, fingerprint: str, now: datetime
    ) -> Answer | None:
        """The stored answer to replay, or None after marking the key in flight.

        When another request inserts the same key between our find and our insert, the store's
        ``begin`` raises ``IdempotencyInFlight`` itself (``adapters/storage/idempotency_keys.py``).
        """
        with self._uow() as uow:
            stored = uow.idempotency.find(tenant, who, key)
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
