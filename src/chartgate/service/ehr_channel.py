"""Every request a worker sends to the EHR, with what must surround it.

Before a request: the lease is renewed and the progress so far saved in one transaction (a
worker that lost its lease stops at once; after a crash, only one request can have been in
flight), the brake (kill switch) is asked, and an ``ehr.request`` event is recorded. After
it: ``ehr.response`` with the status, or with the class of failure when no answer came. The
test-only ``crash`` hook fires around the request, so a test can kill the worker exactly
there.

Events about an attempt that need no transaction of their own (``ehr.response``, a chart
read's verdict, an integrity refusal) wait in memory for the attempt's next transaction (the
next request's lease renewal, or the finish), in order, so a clean write-back takes four
transactions, not seven (issue 20). A worker killed before that transaction loses them with
everything else it had not committed, as a kill a moment earlier would have; its successor
reads the chart. The brake is asked inside the lease renewal's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from chartgate.domain.drafts import Draft
from chartgate.domain.errors import EhrAmbiguous, EhrError, EhrNotAllowed, EhrUnreachable
from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.hashing import content_hash
from chartgate.domain.outcomes import Answer, Decision, Step, decide
from chartgate.domain.writeback import CreateGuard, Writeback, client_id
from chartgate.service.ports import (
    Clock,
    EhrAnswer,
    EhrGateway,
    JsonObject,
    UnitOfWork,
    UnitOfWorkFactory,
)


@dataclass(frozen=True, slots=True)
class Ended:
    """How an attempt ended: the table's decision and what to record about it."""

    decision: Decision
    status: int | None = None
    reason: str = ""
    retry_after: float | None = None


class Stop(Exception):
    """Ends an attempt early with a decision."""

    def __init__(self, ended: Ended) -> None:
        super().__init__(ended.reason)
        self.ended = ended


class LeaseLost(Exception):
    """This worker no longer holds the write-back: another one took over; stop at once."""


def no_crash(point: str) -> None:
    """The production crash hook: never stops the worker."""
    del point


def never_held(record: Writeback, uow: UnitOfWork | None = None) -> str | None:
    """No brake: every write-back may be sent."""
    del record, uow
    return None


Held = Callable[[Writeback, UnitOfWork | None], str | None]
"""The brake: a reason holds the write-back (asked in the transaction ``uow`` when given)."""


class EhrChannel:
    """One worker's line to the EHR: lease, brake, crash points and the audit trail."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        owner: str,
        lease: timedelta,
        crash: Callable[[str], None] = no_crash,
        held: Held = never_held,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self.owner = owner
        self._lease = lease
        self.crash = crash
        self._held = held
        # write-back id -> events waiting for the attempt's next transaction, in order
        self._pending: dict[str, list[AuditRecord]] = {}

    def exchange(
        self,
        draft: Draft,
        record: Writeback,
        method: str,
        body: JsonObject,
        call: Callable[[], EhrAnswer],
        *,
        step: Step | None,
    ) -> EhrAnswer:
        """Send one request, recording request and answer in the audit trail.

        ``held`` is asked right before every request (in the lease's transaction): a reason
        means no request starts. The
        lease is renewed first: a worker that lost it (its successor may already be
        sending) must not put anything more into the chart. A request that got no answer
        ends the attempt (``_Stop``) as the table says for ``step`` (a best-effort request,
        with no step, stops as "reconcile": its caller decides what that means).
        """
        resource_type = str(body.get("resourceType"))
        request = self._audit_record(
            draft,
            record,
            EventType.EHR_REQUEST,
            {"method": method, "resource_type": resource_type, "payload_hash": content_hash(body)},
        )
        self.hold_lease(record, announce=request)
        self.crash("before_send")
        try:
            answer = call()
        except (EhrAmbiguous, EhrUnreachable) as exc:
            self.crash("after_send")
            self.event(
                draft,
                record,
                EventType.EHR_RESPONSE,
                {
                    "method": method,
                    "resource_type": resource_type,
                    "status": None,
                    "error": type(exc).__name__,
                },
            )
            raise Stop(_unanswered(exc, step)) from None
        self.crash("after_send")
        record.last_status = answer.status
        self.event(
            draft,
            record,
            EventType.EHR_RESPONSE,
            {
                "method": method,
                "resource_type": resource_type,
                "status": answer.status,
                "resource_id": answer.resource_id,
                "version_id": answer.version_id,
                "etag": answer.etag,
            },
        )
        return answer

    def create(
        self,
        gateway: EhrGateway,
        draft: Draft,
        record: Writeback,
        resource: JsonObject,
        guard: CreateGuard,
        condition: str,
        step: Step,
    ) -> EhrAnswer:
        """Create ``resource`` the way the EHR's guard allows (client id, conditional, plain)."""
        if guard is CreateGuard.CLIENT_ID:
            body = {**resource, "id": client_id(record.id, str(resource["resourceType"]))}
            return self.exchange(
                draft,
                record,
                "PUT",
                body,
                lambda: gateway.create_with_id(body, request_id=record.correlation_id),
                step=step,
            )
        if_none_exist = condition if guard is CreateGuard.CONDITIONAL else None
        return self.exchange(
            draft,
            record,
            "POST",
            resource,
            lambda: gateway.create(
                resource, if_none_exist=if_none_exist, request_id=record.correlation_id
            ),
            step=step,
        )

    def brake(self, record: Writeback) -> None:
        """Stop (retry later) when a brake (kill switch) is on: nothing starts, not even a read."""
        hold = self._held(record, None)
        if hold is not None:
            # The write-back keeps its place in the queue.
            raise Stop(Ended(Decision.RETRY, reason=f"held: {hold}"))

    def hold_lease(self, record: Writeback, *, announce: AuditRecord | None = None) -> None:
        """Ask the brake, renew the lease, save progress, announce: one transaction.

        Saving before each request is what lets the next attempt after a crash know which
        single request can have been in flight; the ``ehr.request`` event commits with it,
        after the events still waiting. A brake (kill switch) that is on means nothing starts
        (``Stop``, the write-back keeps its place); a lost lease, ``LeaseLost``.
        """
        now = self._clock.now()
        with self._uow() as uow:
            hold = self._held(record, uow) if announce is not None else None
            # Renew and save in one statement, while the lease is still ours.
            held = hold is None and uow.writebacks.save_progress(
                record, now=now, owner=self.owner, lease_until=now + self._lease
            )
            if held or hold is not None:
                self.write_pending(record, uow)
            if held and announce is not None:
                uow.audit.append(announce)
        if hold is not None:
            self.committed(record)
            raise Stop(Ended(Decision.RETRY, reason=f"held: {hold}"))
        if not held:
            raise LeaseLost
        self.committed(record)

    def forget(self, record: Writeback) -> None:
        """The attempt is over: drop what it left in memory (a store failure loses it)."""
        self._pending.pop(record.id, None)

    def write_pending(self, record: Writeback, uow: UnitOfWork) -> None:
        """Append the events waiting for this attempt's next transaction (kept until commit)."""
        for audit in self._pending.get(record.id, ()):
            uow.audit.append(audit)

    def committed(self, record: Writeback) -> None:
        """The transaction that wrote the waiting events committed: forget them."""
        self._pending.pop(record.id, None)

    def flush(self, record: Writeback) -> None:
        """Write the waiting events in a transaction of their own (an attempt that ends early)."""
        if self._pending.get(record.id):
            with self._uow() as uow:
                self.write_pending(record, uow)
            self.committed(record)

    def event(
        self,
        draft: Draft,
        record: Writeback,
        event: EventType,
        data: JsonObject,
        *,
        uow: UnitOfWork | None = None,
    ) -> None:
        """Append one event about this write-back in ``uow``, else with the attempt's next one."""
        audit = self._audit_record(draft, record, event, data)
        if uow is not None:
            uow.audit.append(audit)
            return
        self._pending.setdefault(record.id, []).append(audit)

    def _audit_record(
        self, draft: Draft, record: Writeback, event: EventType, data: JsonObject
    ) -> AuditRecord:
        return AuditRecord(
            type=event,
            tenant=draft.tenant,
            at=self._clock.now(),
            correlation_id=record.correlation_id,
            actor=f"worker:{self.owner}",
            draft_id=draft.id,
            writeback_id=record.id,
            data={"state": draft.state.value, "kind": record.kind.value, **data},
        )

    def supersede(self, gateway: EhrGateway, draft: Draft, record: Writeback) -> None:
        """Mark the document an amendment replaced as ``superseded`` (never edit its content).

        Best effort once the new document is in the chart: the new one already names the old
        one in ``relatesTo``, so a refusal here is recorded, not fatal.
        """
        replaced = record.replaces
        if replaced is None:
            return
        kind, _, resource_id = replaced.partition("/")
        try:
            answer = gateway.read(kind, resource_id, request_id=record.correlation_id)
        except EhrError:
            return
        old = answer.resource or {}
        if not answer.ok or old.get("status") != "current" or answer.version_id is None:
            return
        superseded = {**old, "status": "superseded"}
        version = str(answer.version_id)
        try:
            result = self.exchange(
                draft,
                record,
                "PUT",
                superseded,
                lambda: gateway.update(
                    superseded, if_match=version, request_id=record.correlation_id
                ),
                step=None,
            )
        except Stop:
            status: int | None = None
        else:
            if result.ok:
                return
            status = result.status
        self.event(draft, record, EventType.WRITEBACK_SUPERSEDE_REFUSED, {"status": status})


def _unanswered(exc: EhrAmbiguous | EhrUnreachable, step: Step | None) -> Ended:
    """How an attempt ends when a request got no answer, or was never sent.

    ``EhrNotAllowed``: the gateway refused it before sending (the vendor profile forbids it),
    a configuration problem that no retry fixes (issue 13): a person looks.
    """
    if isinstance(exc, EhrNotAllowed):
        decision = Decision.NEEDS_PERSON if step is None else decide(step, Answer.NOT_ALLOWED)
        return Ended(decision, reason=f"configuration: {exc.message}")
    sent = isinstance(exc, EhrAmbiguous)
    answer_class = Answer.NO_ANSWER if sent else Answer.NOT_SENT
    return Ended(
        Decision.RECONCILE if step is None else decide(step, answer_class),
        reason=exc.message,
        retry_after=exc.retry_after,
    )


def reason_of(answer: EhrAnswer) -> str:
    """A short, PHI-free reason from an OperationOutcome: status and issue codes only."""
    codes: list[str] = []
    for issue in (answer.outcome or {}).get("issue", []):
        code = issue.get("code")
        if isinstance(code, str):
            codes.append(code)
    suffix = f" ({', '.join(codes)})" if codes else ""
    return f"EHR answered {answer.status}{suffix}"
