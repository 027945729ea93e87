"""The exactly-once write-back executor (what ``chartgate worker`` runs).

For one claimed outbox row it: re-checks integrity (what is about to be sent must hash to
what was approved), re-reads the chart baseline, sends the DocumentReference (conditional
create, or an If-Match update for finalize), then the Provenance, recording every request
and answer in the audit trail. The rules, from ARCHITECTURE.md "Exactly-once write-back":

* the claim is the outbox row itself, leased with a compare-and-set, so one worker sends;
* 409/412 on a first attempt is a ``conflict``: never an overwrite;
* a timeout, dropped connection or 5xx after the request left is ``ambiguous``: the next
  attempt reconciles by identifier search before anything is re-sent;
* 429 and refused connections cannot have landed: retry with capped exponential backoff
  and jitter, honouring ``Retry-After``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from chartgate.domain.documents import attachment_text, identifier_query, replaced_document
from chartgate.domain.drafts import Approval, Draft
from chartgate.domain.errors import EhrAmbiguous, EhrError, EhrUnreachable
from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.hashing import content_hash
from chartgate.domain.lifecycle import Action, DraftState
from chartgate.domain.provenance import (
    ACTIVITY_BY_KIND,
    ProvenanceFacts,
    build_provenance,
    provenance_tag_query,
)
from chartgate.service.ports import (
    Clock,
    EhrAnswer,
    EhrDirectory,
    EhrGateway,
    JsonObject,
    UnitOfWork,
    UnitOfWorkFactory,
    WritebackRecord,
)

GATEWAY_VERSION = "0.1.0"
CREATES = frozenset({"approve", "amend"})
"""Write-back kinds that create a new document; the others update the committed one."""
DOC_STATUS_BY_KIND = {
    "approve": "preliminary",
    "finalize": "final",
    "amend": "amended",
    "retract": "entered-in-error",
}
HTTP_CONFLICT = frozenset({409, 412})
HTTP_GONE = frozenset({404, 410})
HTTP_TRANSIENT_REFUSAL = frozenset({429})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential backoff with jitter."""

    base_seconds: float = 0.5
    cap_seconds: float = 300.0

    def delay(self, attempt: int, retry_after: float | None, jitter: float) -> float:
        """Seconds to wait before attempt ``attempt + 1``; never less than Retry-After."""
        backoff = min(self.cap_seconds, self.base_seconds * 2.0 ** max(attempt - 1, 0))
        return max(backoff * (0.5 + jitter / 2), retry_after or 0.0)


class _Outcome(Exception):
    """Ends processing of one write-back with a final state for this attempt."""

    def __init__(
        self,
        action: Action,
        *,
        status: int | None = None,
        reason: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.action = action
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


class _LeaseLost(Exception):  # internal control flow, not an error
    """This worker no longer holds the write-back: another one took over; stop at once."""


class WritebackExecutor:
    """Claims due outbox rows and carries each to a decided state."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        ehr: EhrDirectory,
        clock: Clock,
        owner: str,
        lease: timedelta = timedelta(seconds=60),
        retry: RetryPolicy | None = None,
        jitter: Callable[[], float] = random.random,
        max_attempts: int = 8,
    ) -> None:
        self._uow = uow
        self._ehr = ehr
        self._clock = clock
        self._owner = owner
        self._lease = lease
        self._retry = retry or RetryPolicy()
        self._jitter = jitter
        self._max_attempts = max_attempts

    def run_once(self, *, limit: int = 10) -> int:
        """Process every write-back due now (up to ``limit``); return how many were taken."""
        now = self._clock.now()
        with self._uow() as uow:
            due = uow.writebacks.due(now, limit=limit)
        taken = 0
        for tenant, writeback_id in due:
            if self.process(tenant, writeback_id):
                taken += 1
        return taken

    def process(self, tenant: str, writeback_id: str) -> bool:
        """Claim one write-back and carry it as far as it can go now; False if not won."""
        now = self._clock.now()
        with self._uow() as uow:
            prior = uow.writebacks.claim(
                tenant, writeback_id, owner=self._owner, now=now, lease_until=now + self._lease
            )
            if prior is None:
                return False
            record = uow.writebacks.get(tenant, writeback_id)
            draft = uow.drafts.get(tenant, record.draft_id)
            approval = uow.approvals.get(tenant, record.approval_id)
            if prior == DraftState.SENDING.value:
                # The previous worker's lease ran out mid-request: it may have landed.
                record.may_have_landed = True
            if draft.state in (DraftState.QUEUED, DraftState.AMBIGUOUS):
                queued = draft.state is DraftState.QUEUED
                draft.transition(Action.SEND if queued else Action.RECONCILE)
                uow.drafts.save(draft, at=now)
        try:
            outcome = self._attempt(draft, approval, record)
            self._finish(draft, record, outcome)
        except _LeaseLost:
            self._event(draft, record, EventType.WRITEBACK_LEASE_LOST, {})
        return True

    def _attempt(self, draft: Draft, approval: Approval, record: WritebackRecord) -> _Outcome:
        """Carry the write-back as far as it goes now and say how this attempt ended."""
        gateway = self._ehr.gateway(draft.tenant)
        try:
            self._integrity(draft, approval, record)
            self._send(gateway, draft, approval, record)
        except _Outcome as decided:
            return decided
        except EhrAmbiguous as exc:
            return _Outcome(Action.LOSE_ANSWER, reason=exc.message)
        except EhrUnreachable as exc:
            return _Outcome(Action.RETRY, reason=exc.message)
        except EhrError as exc:
            # A read or search that failed (e.g. 503 while reconciling): nothing was decided,
            # so keep what we knew: still possibly landed, or simply to be retried.
            action = Action.LOSE_ANSWER if record.may_have_landed else Action.RETRY
            return _Outcome(action, reason=exc.message, retry_after=exc.retry_after)
        return _Outcome(Action.COMMIT)

    # -- the steps ------------------------------------------------------------------------

    def _integrity(self, draft: Draft, approval: Approval, record: WritebackRecord) -> None:
        """Refuse to send anything that differs from what the clinician approved."""
        version = draft.version(approval.version)
        payload_ok = content_hash(record.payload) == record.payload_hash
        version_ok = version.content_hash == approval.content_hash
        text_ok = attachment_text(record.payload) == version.content.note.text
        if not (payload_ok and version_ok and text_ok):
            self._event(
                draft,
                record,
                EventType.INTEGRITY_REFUSED,
                {
                    "payload_hash_ok": payload_ok,
                    "version_hash_ok": version_ok,
                    "text_matches_approved": text_ok,
                },
            )
            raise _Outcome(Action.REJECT, reason="integrity: payload differs from the approval")

    def _send(
        self, gateway: EhrGateway, draft: Draft, approval: Approval, record: WritebackRecord
    ) -> None:
        if record.may_have_landed:
            self._reconcile(gateway, draft, record)
        if record.kind in CREATES:
            if record.document_id is None:
                if record.kind == "approve":
                    self._check_baseline(gateway, draft, record)
                self._create_document(gateway, draft, record)
        elif record.provenance_id is None and not _update_done(record):
            self._update_document(gateway, draft, record)
        if record.provenance_id is None:
            self._create_provenance(gateway, draft, approval, record)
        if record.kind == "amend" and self._ehr.marks_superseded(draft.tenant):
            self._supersede_replaced(gateway, draft, record)

    def _reconcile(self, gateway: EhrGateway, draft: Draft, record: WritebackRecord) -> None:
        """After an unknown outcome, read the chart before deciding to send anything."""
        found: JsonObject | None = None
        if record.kind in CREATES:
            matches = gateway.search(
                "DocumentReference",
                dict([identifier_query(record.id).split("=", 1)]),
                request_id=record.correlation_id,
            )
            found = matches[0] if matches else None
            if found is not None:
                record.document_id = found.get("id")
                record.document_version = found.get("meta", {}).get("versionId")
        else:
            answer = gateway.read(
                "DocumentReference", str(record.document_id), request_id=record.correlation_id
            )
            wanted = (record.payload.get("status"), record.payload.get("docStatus"))
            resource = answer.resource or {}
            if answer.ok and (resource.get("status"), resource.get("docStatus")) == wanted:
                found = resource
                record.document_version = answer.version_id
        provenance = gateway.search(
            "Provenance",
            dict([provenance_tag_query(record.id).split("=", 1)]),
            request_id=record.correlation_id,
        )
        if provenance:
            record.provenance_id = provenance[0].get("id")
        record.may_have_landed = False
        self._event(
            draft,
            record,
            EventType.WRITEBACK_RECONCILED,
            {
                "document_found": found is not None,
                "provenance_found": bool(provenance),
                "ehr_resource_id": record.document_id,
                "ehr_version_id": record.document_version,
            },
        )

    def _check_baseline(self, gateway: EhrGateway, draft: Draft, record: WritebackRecord) -> None:
        """The chart must still be what the draft was generated against."""
        for reference, expected in sorted(draft.baseline.items()):
            kind, _, resource_id = reference.partition("/")
            answer = gateway.read(kind, resource_id, request_id=record.correlation_id)
            if not answer.ok and answer.status not in HTTP_GONE:
                # A refused or failed read says nothing about the chart: try again later.
                raise _Outcome(
                    Action.RETRY,
                    status=answer.status,
                    reason=f"baseline read answered {answer.status}",
                    retry_after=answer.retry_after,
                )
            if answer.version_id != expected or answer.status in HTTP_GONE:
                raise _Outcome(
                    Action.CONFLICT,
                    status=answer.status,
                    reason=f"{kind} changed since the draft's baseline "
                    f"(version {expected} -> {answer.version_id})",
                )

    def _create_document(self, gateway: EhrGateway, draft: Draft, record: WritebackRecord) -> None:
        conditional = (
            identifier_query(record.id)
            if self._ehr.supports_conditional_create(draft.tenant)
            else None
        )
        answer = self._exchange(
            draft,
            record,
            "POST",
            "DocumentReference",
            record.payload,
            lambda: gateway.create(
                record.payload, if_none_exist=conditional, request_id=record.correlation_id
            ),
        )
        self._decide(answer)
        record.document_id = answer.resource_id
        record.document_version = answer.version_id

    def _update_document(self, gateway: EhrGateway, draft: Draft, record: WritebackRecord) -> None:
        expected = str(record.payload["meta"]["versionId"])
        answer = self._exchange(
            draft,
            record,
            "PUT",
            "DocumentReference",
            record.payload,
            lambda: gateway.update(
                record.payload, if_match=expected, request_id=record.correlation_id
            ),
        )
        self._decide(answer)
        record.document_version = answer.version_id

    def _create_provenance(
        self, gateway: EhrGateway, draft: Draft, approval: Approval, record: WritebackRecord
    ) -> None:
        provenance = build_provenance(
            ProvenanceFacts(
                writeback_id=record.id,
                target=f"DocumentReference/{record.document_id}/_history/{record.document_version}",
                activity=ACTIVITY_BY_KIND[record.kind],
                recorded=approval.approved_at,
                clinician=str(approval.approver.fhir_user),
                origin=draft.origin,
                draft_id=draft.id,
                version=approval.version,
                content_hash=approval.content_hash,
                policy_hash=approval.policy_hash,
                gateway_version=GATEWAY_VERSION,
                revises=_replaced(record),
            )
        )
        conditional = (
            provenance_tag_query(record.id)
            if self._ehr.supports_conditional_create(draft.tenant)
            else None
        )
        answer = self._exchange(
            draft,
            record,
            "POST",
            "Provenance",
            provenance,
            lambda: gateway.create(
                provenance, if_none_exist=conditional, request_id=record.correlation_id
            ),
        )
        self._decide(answer)
        record.provenance_id = answer.resource_id

    def _supersede_replaced(
        self, gateway: EhrGateway, draft: Draft, record: WritebackRecord
    ) -> None:
        """Mark the document an amendment replaced as ``superseded`` (never edit its content).

        Best effort once the new document is in the chart: the new one already names the old
        one in ``relatesTo``, so a refusal here is recorded, not fatal.
        """
        replaced = _replaced(record)
        if replaced is None:
            return
        kind, _, resource_id = replaced.partition("/")
        answer = gateway.read(kind, resource_id, request_id=record.correlation_id)
        old = answer.resource or {}
        if not answer.ok or old.get("status") != "current" or answer.version_id is None:
            return
        superseded = {**old, "status": "superseded"}
        result = self._exchange(
            draft,
            record,
            "PUT",
            kind,
            superseded,
            lambda: gateway.update(
                superseded, if_match=str(answer.version_id), request_id=record.correlation_id
            ),
        )
        if not result.ok:
            self._event(
                draft, record, EventType.WRITEBACK_SUPERSEDE_REFUSED, {"status": result.status}
            )

    def _exchange(
        self,
        draft: Draft,
        record: WritebackRecord,
        method: str,
        resource_type: str,
        body: JsonObject,
        call: Callable[[], EhrAnswer],
    ) -> EhrAnswer:
        """Send one request, recording request and answer in the audit trail.

        The lease is renewed first: a worker that lost it (its successor may already be
        sending) must not put anything more into the chart.
        """
        self._hold_lease(record)
        self._event(
            draft,
            record,
            EventType.EHR_REQUEST,
            {"method": method, "resource_type": resource_type, "payload_hash": content_hash(body)},
        )
        try:
            answer = call()
        except (EhrAmbiguous, EhrUnreachable) as exc:
            self._event(
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
            raise
        record.last_status = answer.status
        self._event(
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

    def _decide(self, answer: EhrAnswer) -> None:
        """Turn a non-2xx answer into this attempt's outcome."""
        if answer.ok:
            return
        if answer.status in HTTP_CONFLICT:
            raise _Outcome(
                Action.CONFLICT, status=answer.status, reason="the chart changed (version conflict)"
            )
        if answer.status in HTTP_TRANSIENT_REFUSAL:
            raise _Outcome(
                Action.RETRY,
                status=answer.status,
                reason="rate limited",
                retry_after=answer.retry_after,
            )
        if answer.status >= 500:  # noqa: PLR2004 - server errors: the write may have landed
            raise _Outcome(
                Action.LOSE_ANSWER,
                status=answer.status,
                reason=f"EHR answered {answer.status}",
                retry_after=answer.retry_after,
            )
        raise _Outcome(Action.REJECT, status=answer.status, reason=_reason(answer))

    # -- closing the attempt --------------------------------------------------------------

    def _hold_lease(self, record: WritebackRecord) -> None:
        now = self._clock.now()
        with self._uow() as uow:
            held = uow.writebacks.renew_lease(
                record.tenant, record.id, owner=self._owner, now=now, lease_until=now + self._lease
            )
        if not held:
            raise _LeaseLost

    def _finish(self, draft: Draft, record: WritebackRecord, outcome: _Outcome) -> None:
        """Record how the attempt ended: write-back row, draft state and audit event, at once."""
        now = self._clock.now()
        with self._uow() as uow:
            draft = uow.drafts.get(draft.tenant, draft.id, for_update=True)
            if outcome.status is not None:
                record.last_status = outcome.status
            outcome, event, data = self._settle(draft, record, outcome, now)
            if draft.state is DraftState.SENDING:
                if record.kind != "approve" and outcome.action in (Action.CONFLICT, Action.REJECT):
                    # A refused finalize/amend/retract leaves the chart's note as it was:
                    # the draft stays committed; the write-back row carries the refusal.
                    draft.transition(Action.FOLLOW_UP_FAILED)
                    draft.approved_version = self._chart_version(uow, draft)
                else:
                    draft.transition(outcome.action)
            if not uow.writebacks.save_progress(record, now=now, owner=self._owner):
                raise _LeaseLost  # rolls back the draft's change too
            uow.drafts.save(draft, at=now)
            self._event(
                draft,
                record,
                event,
                {
                    "attempt": record.attempts,
                    "status": record.last_status,
                    "reason": outcome.reason or None,
                    **data,
                },
                uow=uow,
            )

    def _settle(
        self, draft: Draft, record: WritebackRecord, outcome: _Outcome, now: datetime
    ) -> tuple[_Outcome, EventType, JsonObject]:
        """Apply the outcome to the write-back row; return the draft's action and the event."""
        action = outcome.action
        if action is Action.COMMIT:
            record.state = DraftState.COMMITTED.value
            record.last_reason = None
            draft.doc_status = DOC_STATUS_BY_KIND[record.kind]
            committed = {
                "ehr_resource": f"DocumentReference/{record.document_id}",
                "ehr_version_id": record.document_version,
                "provenance": f"Provenance/{record.provenance_id}",
            }
            if record.kind == "retract":
                outcome = _Outcome(Action.CONFIRM_RETRACT)
            return outcome, EventType.WRITEBACK_COMMITTED, committed
        record.last_reason = outcome.reason or record.last_reason
        if action in (Action.CONFLICT, Action.REJECT):
            conflict = action is Action.CONFLICT
            record.state = (DraftState.CONFLICT if conflict else DraftState.REJECTED).value
            return (
                outcome,
                (EventType.WRITEBACK_CONFLICT if conflict else EventType.WRITEBACK_REJECTED),
                {},
            )
        delay = self._retry.delay(record.attempts, outcome.retry_after, self._jitter())
        if action is Action.LOSE_ANSWER:
            record.state = DraftState.AMBIGUOUS.value
            record.may_have_landed = True
            if not self._ehr.supports_conditional_create(draft.tenant):
                # Nothing at the EHR guards a resend: give a create the EHR may still be
                # working on time to show up before a search can call it absent.
                delay = max(delay, self._ehr.settle_seconds(draft.tenant))
            event = EventType.WRITEBACK_AMBIGUOUS
        else:
            record.state = DraftState.QUEUED.value
            event = EventType.WRITEBACK_RETRY
        record.next_attempt_at = now + timedelta(seconds=delay)
        event, data = self._maybe_escalate(
            record, now, event, {"retry_in_seconds": round(delay, 3)}
        )
        return outcome, event, data

    def _maybe_escalate(
        self, record: WritebackRecord, now: datetime, event: EventType, data: JsonObject
    ) -> tuple[EventType, JsonObject]:
        """After ``max_attempts`` a write-back needs a person: say so once, keep it parked.

        Nothing is dropped and nothing is re-sent blindly: an ambiguous write stays ambiguous
        (reconciled at the capped interval), a queued one keeps its slow retries.
        """
        if record.attempts < self._max_attempts:
            return event, data
        record.next_attempt_at = now + timedelta(seconds=self._retry.cap_seconds)
        record.last_reason = f"needs attention after {record.attempts} attempts: " + (
            record.last_reason or "no answer"
        )
        if record.attempts == self._max_attempts:
            return EventType.WRITEBACK_ESCALATED, {**data, "attempts": record.attempts}
        return event, data

    def _chart_version(self, uow: UnitOfWork, draft: Draft) -> int | None:
        """The approved version whose document is in the chart now (after a refused amend)."""
        committed = [
            w
            for w in uow.writebacks.for_draft(draft.tenant, draft.id)
            if w.state == DraftState.COMMITTED.value and w.kind in CREATES
        ]
        if not committed:
            return draft.approved_version
        return uow.approvals.get(draft.tenant, committed[-1].approval_id).version

    def _event(
        self,
        draft: Draft,
        record: WritebackRecord,
        event: EventType,
        data: JsonObject,
        *,
        uow: UnitOfWork | None = None,
    ) -> None:
        audit = AuditRecord(
            type=event,
            tenant=draft.tenant,
            at=self._clock.now(),
            correlation_id=record.correlation_id,
            actor=f"worker:{self._owner}",
            draft_id=draft.id,
            writeback_id=record.id,
            data={"state": draft.state.value, "kind": record.kind, **data},
        )
        if uow is not None:
            uow.audit.append(audit)
            return
        with self._uow() as own:
            own.audit.append(audit)


def _update_done(record: WritebackRecord) -> bool:
    """An update kind has landed once the document's version moved past the one we matched."""
    expected = str(record.payload.get("meta", {}).get("versionId"))
    return record.document_version is not None and record.document_version != expected


def _replaced(record: WritebackRecord) -> str | None:
    return replaced_document(record.payload)


def _reason(answer: EhrAnswer) -> str:
    """A short, PHI-free reason from an OperationOutcome: status and issue codes only."""
    codes: list[str] = []
    for issue in (answer.outcome or {}).get("issue", []):
        code = issue.get("code")
        if isinstance(code, str):
            codes.append(code)
    suffix = f" ({', '.join(codes)})" if codes else ""
    return f"EHR answered {answer.status}{suffix}"
