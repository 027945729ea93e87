"""The exactly-once write-back executor (what ``chartgate worker`` runs): IO around a table.

For one claimed outbox row it walks the write-back's steps (baseline read, the document,
its Provenance), sends what is still missing and records every request and answer in the
ledger. It decides nothing by itself: each answer, and each read of the chart after an
answer that proves nothing, is looked up in the outcome table (``domain/outcomes.py``), and
the attempt's final decision is handed to ``ChartWrite.settle`` (``domain/writeback.py``),
the one place where draft and write-back states change. The rules, from ARCHITECTURE.md
"Exactly-once write-back":

* the claim is the outbox row itself, leased with a compare-and-set, so one worker sends;
* every version chartgate writes carries its mark (``meta.tag`` = write-back id), so after a
  lost or unusual answer the chart says whether the write is ours;
* a create is re-sent only where the EHR itself refuses a second copy (``CreateGuard``);
  elsewhere a create the chart cannot show waits for a person, never for a timer;
* 429 and refused connections cannot have landed: retry with capped exponential backoff
  and jitter, honouring ``Retry-After``; after ``max_attempts`` a person is told (once) and
  the retries go on at the same pace.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from chartgate.domain.documents import attachment_text, identifier_query
from chartgate.domain.drafts import Approval, Draft
from chartgate.domain.errors import EhrAmbiguous, EhrError, EhrUnreachable
from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.hashing import content_hash
from chartgate.domain.outcomes import Answer, Chart, Decision, Step, classify, decide
from chartgate.domain.provenance import ProvenanceFacts, build_provenance, provenance_tag_query
from chartgate.domain.writeback import (
    ChartWrite,
    CreateGuard,
    Writeback,
    WritebackKind,
    WritebackState,
    carries_mark,
    client_id,
)
from chartgate.service.ports import (
    Clock,
    EhrAnswer,
    EhrDirectory,
    EhrGateway,
    JsonObject,
    UnitOfWork,
    UnitOfWorkFactory,
)

GATEWAY_VERSION = "0.1.0"
HTTP_GONE = frozenset({404, 410})

CRASH_POINTS: tuple[str, ...] = (
    "after_claim",
    "before_send",
    "after_send",
    "before_finish",
)
"""Where a test may stop a worker dead (``crash=``): between any two of its steps.

``before_send``/``after_send`` fire around every request to the EHR (``after_send``: the EHR
has acted, the answer is not recorded), so a crash can hit each step of a write-back.
"""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential backoff with jitter.

    The cap bounds how long after an outage ends the last parked write-back is tried again.
    """

    base_seconds: float = 0.5
    cap_seconds: float = 60.0

    def delay(self, attempt: int, retry_after: float | None, jitter: float) -> float:
        """Seconds to wait before attempt ``attempt + 1``; never less than Retry-After."""
        backoff = min(self.cap_seconds, self.base_seconds * 2.0 ** max(attempt - 1, 0))
        return max(backoff * (0.5 + jitter / 2), retry_after or 0.0)


@dataclass(frozen=True, slots=True)
class _Ended:
    """How an attempt ended: the table's decision and what to record about it."""

    decision: Decision
    status: int | None = None
    reason: str = ""
    retry_after: float | None = None


class _Stop(Exception):
    """Ends an attempt early with a decision."""

    def __init__(self, ended: _Ended) -> None:
        super().__init__(ended.reason)
        self.ended = ended


class _LeaseLost(Exception):
    """This worker no longer holds the write-back: another one took over; stop at once."""


def _no_crash(point: str) -> None:
    del point


def _never_held(record: Writeback) -> str | None:
    del record
    return None


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
        crash: Callable[[str], None] = _no_crash,
        held: Callable[[Writeback], str | None] = _never_held,
    ) -> None:
        self._uow = uow
        self._ehr = ehr
        self._clock = clock
        self._owner = owner
        self._lease = lease
        self._retry = retry or RetryPolicy()
        self._jitter = jitter
        self._max_attempts = max_attempts
        self._crash = crash
        self._held = held

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
            ChartWrite(draft, record).begin(lease_expired=prior == WritebackState.SENDING)
            uow.drafts.save(draft, at=now)
        self._crash("after_claim")
        try:
            ended = self._attempt(draft, approval, record)
            self._crash("before_finish")
            self._finish(draft, record, ended)
        except _LeaseLost:
            self._event(draft, record, EventType.WRITEBACK_LEASE_LOST, {})
        return True

    def _attempt(self, draft: Draft, approval: Approval, record: Writeback) -> _Ended:
        """Walk the steps still missing; end at the first that does not proceed."""
        gateway = self._ehr.gateway(draft.tenant)
        # Progress is saved before every request (``_hold_lease``), so only the first step
        # still missing can have been in flight: that one reads the chart first where a
        # resend would not be safe.
        reread = record.may_have_landed
        try:
            self._integrity(draft, approval, record)
            if not record.document_landed:
                self._document(gateway, draft, record, reread=reread)
                reread = False
            if record.provenance_id is None:
                self._provenance(gateway, draft, approval, record, reread=reread)
        except _Stop as stop:
            return stop.ended
        if record.kind is WritebackKind.AMEND and self._ehr.marks_superseded(draft.tenant):
            self._supersede_replaced(gateway, draft, record)
        return _Ended(Decision.PROCEED)

    # -- the steps ------------------------------------------------------------------------

    def _integrity(self, draft: Draft, approval: Approval, record: Writeback) -> None:
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
            if record.document_landed:
                # Never the note itself: what is in the chart stays; nothing more is sent.
                raise _Stop(_Ended(Decision.NEEDS_PERSON, reason="integrity: payload changed"))
            raise _Stop(_Ended(Decision.REJECT, reason="integrity: payload differs from approval"))

    def _document(
        self, gateway: EhrGateway, draft: Draft, record: Writeback, *, reread: bool
    ) -> None:
        """Put the note (or this kind's change to it) into the chart, unless it is there."""
        guard = self._ehr.create_guard(draft.tenant)
        if record.kind.creates_document:
            step = Step.CREATE_DOCUMENT if guard.guards_resend else Step.CREATE_DOCUMENT_UNGUARDED
        else:
            step = Step.UPDATE_DOCUMENT
        # A create that may have landed is looked for before anything else: the baseline
        # check must never call a chart that holds our own note a conflict. An update needs
        # no read first: If-Match refuses a resend, and a 412 is then read below.
        if (
            reread
            and record.kind.creates_document
            and self._chart_says(step, gateway, draft, record, guard) is Decision.PROCEED
        ):
            return
        if record.kind.checks_baseline:
            self._check_baseline(gateway, draft, record)
        payload = record.payload
        if record.kind.creates_document:
            answer = self._send_create(
                gateway, draft, record, payload, guard, identifier_query(record.id), step
            )
        else:
            expected = str(record.matched_version)
            answer = self._exchange(
                draft,
                record,
                "PUT",
                payload,
                lambda: gateway.update(
                    payload, if_match=expected, request_id=record.correlation_id
                ),
                step=step,
            )
        _keep_document(record, answer)
        self._settle_step(step, answer, gateway, draft, record, guard)

    def _send_create(
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
            return self._exchange(
                draft,
                record,
                "PUT",
                body,
                lambda: gateway.create_with_id(body, request_id=record.correlation_id),
                step=step,
            )
        if_none_exist = condition if guard is CreateGuard.CONDITIONAL else None
        return self._exchange(
            draft,
            record,
            "POST",
            resource,
            lambda: gateway.create(
                resource, if_none_exist=if_none_exist, request_id=record.correlation_id
            ),
            step=step,
        )

    def _settle_step(
        self,
        step: Step,
        answer: EhrAnswer,
        gateway: EhrGateway,
        draft: Draft,
        record: Writeback,
        guard: CreateGuard,
    ) -> None:
        """Look the answer up; read the chart at once after a 304/409/412; stop unless done."""
        decision = decide(step, classify(answer.status))
        if decision is Decision.RECONCILE and answer.status in (304, 409, 412):
            # The EHR answered: nothing is in flight, so the chart can be read at once.
            decision = self._chart_says(step, gateway, draft, record, guard)
            if decision is Decision.SEND:
                decision = Decision.RETRY  # not twice in one attempt: back to the queue
        if decision is Decision.PROCEED:
            return
        raise _Stop(
            _Ended(
                decision,
                status=answer.status,
                reason=_reason(answer),
                retry_after=answer.retry_after,
            )
        )

    def _provenance(
        self,
        gateway: EhrGateway,
        draft: Draft,
        approval: Approval,
        record: Writeback,
        *,
        reread: bool,
    ) -> None:
        guard = self._ehr.create_guard(draft.tenant)
        step = Step.CREATE_PROVENANCE if guard.guards_resend else Step.CREATE_PROVENANCE_UNGUARDED
        # Where the EHR guards a resend, the resend itself tells (200 or 412); elsewhere the
        # chart is read first.
        if (
            reread
            and not guard.guards_resend
            and self._chart_says(step, gateway, draft, record, guard) is Decision.PROCEED
        ):
            return
        provenance = build_provenance(
            ProvenanceFacts(
                writeback_id=record.id,
                target=f"DocumentReference/{record.document_id}/_history/{record.document_version}",
                activity=record.kind.activity,
                recorded=approval.approved_at,
                clinician=str(approval.approver.fhir_user),
                origin=draft.origin,
                draft_id=draft.id,
                version=approval.version,
                content_hash=approval.content_hash,
                policy_hash=approval.policy_hash,
                gateway_version=GATEWAY_VERSION,
                revises=record.replaces,
            )
        )
        answer = self._send_create(
            gateway, draft, record, provenance, guard, provenance_tag_query(record.id), step
        )
        if answer.ok:
            record.provenance_id = answer.resource_id
        self._settle_step(step, answer, gateway, draft, record, guard)

    # -- reading the chart ------------------------------------------------------------------

    def _chart_says(
        self,
        step: Step,
        gateway: EhrGateway,
        draft: Draft,
        record: Writeback,
        guard: CreateGuard,
    ) -> Decision:
        """Read the chart for ``step`` and look the case up; stop unless it proceeds or sends."""
        chart, retry_after = self._read_chart(step, gateway, record, guard)
        decision = decide(step, Answer.CHART_READ, chart)
        self._event(
            draft,
            record,
            EventType.WRITEBACK_RECONCILED,
            {
                "step": step.value,
                "chart": chart.value,
                "decision": decision.value,
                "ehr_resource_id": record.document_id,
                "ehr_version_id": record.document_version,
            },
        )
        if decision in (Decision.PROCEED, Decision.SEND):
            return decision
        raise _Stop(
            _Ended(
                decision,
                reason=f"chart read for {step.value}: {chart.value}",
                retry_after=retry_after,
            )
        )

    def _read_chart(
        self, step: Step, gateway: EhrGateway, record: Writeback, guard: CreateGuard
    ) -> tuple[Chart, float | None]:
        """What the chart shows for ``step``, and the EHR's Retry-After when the read failed."""
        try:
            if step is Step.UPDATE_DOCUMENT:
                answer = gateway.read(
                    "DocumentReference", str(record.document_id), request_id=record.correlation_id
                )
                return _update_chart(answer, record), answer.retry_after
            if guard is CreateGuard.CLIENT_ID:
                resource_type = "DocumentReference" if step.writes_document else "Provenance"
                answer = gateway.read(
                    resource_type,
                    client_id(record.id, resource_type),
                    request_id=record.correlation_id,
                )
                return _created_chart(answer, record, resource_type), answer.retry_after
            return self._search_created(gateway, record, step), None
        except EhrError as exc:
            # A failed read proves nothing: never "not landed" (a failed re-read was once
            # taken as "absent", which called our own finalize a conflict).
            return Chart.UNREADABLE, exc.retry_after

    def _search_created(self, gateway: EhrGateway, record: Writeback, step: Step) -> Chart:
        """Find what this write-back created by identifier (document) or tag (Provenance)."""
        document = step.writes_document
        query = identifier_query(record.id) if document else provenance_tag_query(record.id)
        name, _, value = query.partition("=")
        resource_type = "DocumentReference" if document else "Provenance"
        found = gateway.search(resource_type, {name: value}, request_id=record.correlation_id)
        if not found:
            return Chart.ABSENT
        if len(found) > 1:
            return Chart.DUPLICATED
        _remember(record, resource_type, found[0], found[0].get("meta", {}).get("versionId"))
        return Chart.MINE

    def _check_baseline(self, gateway: EhrGateway, draft: Draft, record: Writeback) -> None:
        """The chart must still be what the draft was generated against."""
        for reference, expected in sorted(draft.baseline.items()):
            kind, _, resource_id = reference.partition("/")
            try:
                answer = gateway.read(kind, resource_id, request_id=record.correlation_id)
            except EhrAmbiguous:
                raise _Stop(_Ended(Decision.RETRY, reason="baseline read: no answer")) from None
            except EhrUnreachable:
                raise _Stop(_Ended(Decision.RETRY, reason="baseline read: not sent")) from None
            chart = Chart.UNREAD
            if answer.ok:
                chart = Chart.UNCHANGED if answer.version_id == expected else Chart.CHANGED
            decision = decide(Step.BASELINE_READ, classify(answer.status), chart)
            if decision is not Decision.PROCEED:
                reason = (
                    f"{kind} changed since the draft's baseline "
                    f"(version {expected} -> {answer.version_id})"
                    if decision is Decision.CONFLICT
                    else f"baseline read answered {answer.status}"
                )
                raise _Stop(
                    _Ended(
                        decision,
                        status=answer.status,
                        reason=reason,
                        retry_after=answer.retry_after,
                    )
                )

    def _supersede_replaced(self, gateway: EhrGateway, draft: Draft, record: Writeback) -> None:
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
            result = self._exchange(
                draft,
                record,
                "PUT",
                superseded,
                lambda: gateway.update(
                    superseded, if_match=version, request_id=record.correlation_id
                ),
                step=None,
            )
        except _Stop:
            status: int | None = None
        else:
            if result.ok:
                return
            status = result.status
        self._event(draft, record, EventType.WRITEBACK_SUPERSEDE_REFUSED, {"status": status})

    def _exchange(
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

        ``held`` is asked right before every request: a reason means no request starts. The
        lease is renewed first: a worker that lost it (its successor may already be
        sending) must not put anything more into the chart. A request that got no answer
        ends the attempt (``_Stop``) as the table says for ``step`` (a best-effort request,
        with no step, stops as "reconcile": its caller decides what that means).
        """
        resource_type = str(body.get("resourceType"))
        self._hold_lease(record)
        hold = self._held(record)
        if hold is not None:
            # A brake (kill switch) is on: nothing starts; the write-back keeps its place.
            raise _Stop(_Ended(Decision.RETRY, reason=f"held: {hold}"))
        self._event(
            draft,
            record,
            EventType.EHR_REQUEST,
            {"method": method, "resource_type": resource_type, "payload_hash": content_hash(body)},
        )
        self._crash("before_send")
        try:
            answer = call()
        except (EhrAmbiguous, EhrUnreachable) as exc:
            self._crash("after_send")
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
            sent = isinstance(exc, EhrAmbiguous)
            answer_class = Answer.NO_ANSWER if sent else Answer.NOT_SENT
            raise _Stop(
                _Ended(
                    Decision.RECONCILE if step is None else decide(step, answer_class),
                    reason=exc.message,
                    retry_after=exc.retry_after,
                )
            ) from None
        self._crash("after_send")
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

    # -- closing the attempt --------------------------------------------------------------

    def _hold_lease(self, record: Writeback) -> None:
        """Renew the lease and save what is known so far, in one transaction.

        Saving before each request is what lets the next attempt after a crash know which
        single request can have been in flight.
        """
        now = self._clock.now()
        with self._uow() as uow:
            held = uow.writebacks.renew_lease(
                record.tenant, record.id, owner=self._owner, now=now, lease_until=now + self._lease
            )
            if held:
                uow.writebacks.save_progress(record, now=now, owner=self._owner)
        if not held:
            raise _LeaseLost

    def _finish(self, draft: Draft, record: Writeback, ended: _Ended) -> None:
        """Record how the attempt ended: write-back row, draft state and audit event, at once."""
        now = self._clock.now()
        with self._uow() as uow:
            draft = uow.drafts.get(draft.tenant, draft.id, for_update=True)
            if ended.status is not None:
                record.last_status = ended.status
            if ended.decision is not Decision.PROCEED:
                record.last_reason = ended.reason or record.last_reason
            settled = ChartWrite(draft, record).settle(
                ended.decision, chart_version=self._chart_version(uow, draft)
            )
            data: JsonObject = {
                "attempt": record.attempts,
                "status": record.last_status,
                "reason": ended.reason or None,
            }
            if settled.event == EventType.WRITEBACK_COMMITTED or settled.state in (
                WritebackState.PARTIAL,
                WritebackState.NEEDS_PERSON,
            ):
                data.update(_chart_facts(record))
            escalate = False
            if settled.retry:
                delay = self._retry.delay(record.attempts, ended.retry_after, self._jitter())
                if (
                    record.state is WritebackState.AMBIGUOUS
                    and not self._ehr.create_guard(draft.tenant).guards_resend
                ):
                    # Give a request the EHR may still be working on time to show up before the
                    # chart is read again (a read that finds nothing then waits for a person).
                    delay = max(delay, self._ehr.settle_seconds(draft.tenant))
                record.next_attempt_at = now + timedelta(seconds=delay)
                data["retry_in_seconds"] = round(delay, 3)
                escalate = record.attempts >= self._max_attempts and record.escalated_at is None
                if escalate:
                    record.escalated_at = now
            if not uow.writebacks.save_progress(record, now=now, owner=self._owner):
                raise _LeaseLost  # rolls back the draft's change too
            uow.drafts.save(draft, at=now)
            self._event(draft, record, EventType(settled.event), data, uow=uow)
            if escalate:
                self._event(
                    draft,
                    record,
                    EventType.WRITEBACK_ESCALATED,
                    {
                        "attempts": record.attempts,
                        "retry_in_seconds": data["retry_in_seconds"],
                        "reason": record.last_reason,
                    },
                    uow=uow,
                )

    def _chart_version(self, uow: UnitOfWork, draft: Draft) -> int | None:
        """The approved version whose document is in the chart now (after a refused amend)."""
        committed = [
            w
            for w in uow.writebacks.for_draft(draft.tenant, draft.id)
            if w.document_landed and w.kind.creates_document
        ]
        if not committed:
            return draft.approved_version
        return uow.approvals.get(draft.tenant, committed[-1].approval_id).version

    def _event(
        self,
        draft: Draft,
        record: Writeback,
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
            data={"state": draft.state.value, "kind": record.kind.value, **data},
        )
        if uow is not None:
            uow.audit.append(audit)
            return
        with self._uow() as own:
            own.audit.append(audit)


def _update_chart(answer: EhrAnswer, record: Writeback) -> Chart:
    """Is the document's current version ours, the one we matched, or someone else's?"""
    if answer.status in HTTP_GONE:
        return Chart.CHANGED
    if not answer.ok or answer.resource is None:
        return Chart.UNREADABLE
    if carries_mark(answer.resource, record.id):
        record.document_version = answer.version_id
        return Chart.MINE
    if answer.version_id == record.matched_version:
        return Chart.ABSENT
    return Chart.CHANGED


def _created_chart(answer: EhrAnswer, record: Writeback, resource_type: str) -> Chart:
    """Did the create at our client-assigned id land (and is it ours)?"""
    if answer.status in HTTP_GONE:
        return Chart.ABSENT
    if not answer.ok or answer.resource is None:
        return Chart.UNREADABLE
    if not carries_mark(answer.resource, record.id):
        return Chart.DUPLICATED  # our id holds something that is not ours: a person looks
    _remember(record, resource_type, answer.resource, answer.version_id)
    return Chart.MINE


def _remember(record: Writeback, resource_type: str, found: JsonObject, version: object) -> None:
    if resource_type == "DocumentReference":
        record.document_id = _str_or_none(found.get("id"))
        record.document_version = _str_or_none(version)
    else:
        record.provenance_id = _str_or_none(found.get("id"))


def _keep_document(record: Writeback, answer: EhrAnswer) -> None:
    """Remember where the note landed (a 2xx to the document step)."""
    if not answer.ok:
        return
    if record.kind.creates_document:
        record.document_id = answer.resource_id
    record.document_version = answer.version_id


def _chart_facts(record: Writeback) -> JsonObject:
    return {
        "ehr_resource": (
            f"DocumentReference/{record.document_id}" if record.document_id is not None else None
        ),
        "ehr_version_id": record.document_version,
        "provenance": (
            f"Provenance/{record.provenance_id}" if record.provenance_id is not None else None
        ),
    }


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _reason(answer: EhrAnswer) -> str:
    """A short, PHI-free reason from an OperationOutcome: status and issue codes only."""
    codes: list[str] = []
    for issue in (answer.outcome or {}).get("issue", []):
        code = issue.get("code")
        if isinstance(code, str):
            codes.append(code)
    suffix = f" ({', '.join(codes)})" if codes else ""
    return f"EHR answered {answer.status}{suffix}"
