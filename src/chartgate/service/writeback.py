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
from datetime import timedelta

from chartgate.domain.chart_write import ChartWrite
from chartgate.domain.drafts import Approval, Draft
from chartgate.domain.events import EventType
from chartgate.domain.outcomes import Answer, Decision, Step, classify, decide
from chartgate.domain.provenance import provenance_tag_query
from chartgate.domain.vendor_errors import classify_vendor_error
from chartgate.domain.vendor_profile import ProvenanceMode
from chartgate.domain.writeback import (
    CreateGuard,
    Writeback,
    WritebackKind,
    WritebackState,
)
from chartgate.service.chart_reads import chart_facts, chart_version, check_baseline, read_chart
from chartgate.service.ehr_channel import (
    EhrChannel,
    Ended,
    Held,
    LeaseLost,
    Stop,
    never_held,
    no_crash,
    reason_of,
)
from chartgate.service.in_flight import TURN_BATCHES, TenantSlots, carry, process_wide
from chartgate.service.integrity import check_integrity
from chartgate.service.patient_context import confirm_before_send
from chartgate.service.ports import (
    Clock,
    EhrAnswer,
    EhrDirectory,
    EhrGateway,
    JsonObject,
    UnitOfWorkFactory,
)
from chartgate.service.provenance_modes import TRAVELS_WITH_WRITE, Target, look_guard, send_target
from chartgate.service.provenance_travel import (
    provenance_of,
    refuse_unsupported,
)
from chartgate.service.retry import RetryPolicy
from chartgate.service.structured_writes import (
    carried_parts,
    check_structured,
    note_of,
    refuse_without_note,
    was_carried,
)

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


_READ_AT_ONCE = frozenset({Answer.VERSION_CONFLICT, Answer.VENDOR_DUPLICATE})
"""Answers that say "it exists already": nothing is in flight, so the chart is read at once."""


CONTEXT_FRESH = timedelta(seconds=30)
"""How long the approval's read of the Encounter and Patient stands for the first send; a
write-back that waited longer (queue, outage, kill switch) reads them again before sending."""


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
        crash: Callable[[str], None] = no_crash,
        held: Held = never_held,
        context_fresh: timedelta = CONTEXT_FRESH,
        in_flight: int = 1,
        in_flight_per_tenant: int | None = None,
    ) -> None:
        self._uow = uow
        self._context_fresh = context_fresh
        self._ehr = ehr
        self._clock = clock
        self._owner = owner
        self._lease = lease
        self._retry = retry or RetryPolicy()
        self._jitter = jitter
        self._max_attempts = max_attempts
        self._in_flight = max(1, in_flight)
        self._tenant_slots = TenantSlots(in_flight_per_tenant or self._in_flight)
        self._channel = EhrChannel(
            uow=uow, clock=clock, owner=owner, lease=lease, crash=process_wide(crash), held=held
        )

    def run_once(self, *, limit: int | None = None) -> int:
        """Process every write-back due now (up to ``limit``); return how many were taken.

        Up to ``in_flight`` at once (``in_flight_per_tenant`` of one tenant), asking for more
        due rows as threads free up (``in_flight.carry``); a turn under steady load still ends.
        """
        batch = max(10, 2 * self._in_flight)
        return carry(
            self._due(min(batch, limit or batch)),
            self.process,
            in_flight=self._in_flight,
            slots=self._tenant_slots,
            more=self._due,
            limit=limit or TURN_BATCHES * batch,
        )

    def _due(self, limit: int) -> list[tuple[str, str]]:
        # A read: the claim's compare-and-set decides, so looking takes no writer's turn
        # (SQLite: a worker woken by every commit would otherwise queue for the writer lock
        # each time, and the API would hand it a turn for nothing).
        with self._uow(read_only=True) as uow:
            return uow.writebacks.due(self._clock.now(), limit=limit)

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
            note = note_of(uow, record)
            parts = carried_parts(uow, record, self._ehr.profile(tenant))
            ChartWrite(draft, record).begin(lease_expired=prior == WritebackState.SENDING)
            uow.drafts.save(draft, at=now)
        self._channel.crash("after_claim")
        try:
            ended = self._attempt(draft, approval, record, note, parts)
            self._channel.crash("before_finish")
            self._finish(draft, record, ended)
        except LeaseLost:
            self._channel.event(draft, record, EventType.WRITEBACK_LEASE_LOST, {})
            self._channel.flush(record)
        finally:
            self._channel.forget(record)
        return True

    def _attempt(
        self,
        draft: Draft,
        approval: Approval,
        record: Writeback,
        note: Writeback | None,
        parts: list[Writeback],
    ) -> Ended:
        """Walk the steps still missing; end at the first that does not proceed.

        ``note``: for a structured write-back, the note's (it must be in the chart first).
        ``parts``: structured write-backs that ride in this note's transaction Bundle.
        """
        gateway = self._ehr.gateway(draft.tenant)
        # Progress is saved before every request (``EhrChannel.hold_lease``), so only the first
        # step still missing can have been in flight: that one reads the chart first where a
        # resend would not be safe. A structured resource may have ridden in its note's
        # transaction Bundle: it, too, is looked for first.
        profile = self._ehr.profile(draft.tenant)
        reread = record.may_have_landed or was_carried(record, profile, note)
        try:
            refuse_unsupported(self._ehr.profile(draft.tenant))
            if record.kind.writes_note:
                check_integrity(self._channel, draft, approval, record)
            else:
                refuse_without_note(note)
            for structured in [r for r in (record, *parts) if not r.kind.writes_note]:
                check_structured(self._channel, draft, approval, structured)
            if (
                note is None
                and record.kind.creates_document
                and not (record.document_landed or reread)
            ):
                stale = self._clock.now() - approval.approved_at > self._context_fresh
                if stale:  # the approval's own read is recent enough otherwise
                    self._channel.brake(record)
                    confirm_before_send(self._ehr, draft, record)
            if not record.document_landed:
                self._document(gateway, draft, approval, record, parts, reread=reread)
                reread = False
            if record.provenance_id is None:
                if self._ehr.profile(draft.tenant).provenance_mode is ProvenanceMode.NONE:
                    self._channel.event(
                        draft,
                        record,
                        EventType.PROVENANCE_KEPT,
                        {"provenance": provenance_of(draft, approval, record)},
                    )
                else:
                    self._provenance(gateway, draft, approval, record, reread=reread)
        except Stop as stop:
            return stop.ended
        if record.kind is WritebackKind.AMEND and self._ehr.marks_superseded(draft.tenant):
            self._channel.supersede(gateway, draft, record)
        return Ended(Decision.PROCEED)

    # -- the steps ------------------------------------------------------------------------

    def _document(
        self,
        gateway: EhrGateway,
        draft: Draft,
        approval: Approval,
        record: Writeback,
        parts: list[Writeback],
        *,
        reread: bool,
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
            check_baseline(gateway, draft, record)
        mode = self._ehr.profile(draft.tenant).provenance_mode
        answer = send_target(
            self._channel, gateway, Target(draft, approval, record, parts, guard, step, mode)
        )
        self._settle_step(step, answer, gateway, draft, record, guard, reread=reread)

    def _settle_step(
        self,
        step: Step,
        answer: EhrAnswer,
        gateway: EhrGateway,
        draft: Draft,
        record: Writeback,
        guard: CreateGuard,
        *,
        reread: bool,
    ) -> None:
        """Look the answer up; read the chart at once after a 304/409/412; stop unless done.

        ``reread``: this request may be a resend (the previous worker may have died after
        its request landed and before it recorded that), so a refusal proves nothing about
        the first request: the chart, not the 4xx, says whether the write is there, and the
        refusal stands only when the chart shows it absent.
        """
        errors = self._ehr.profile(draft.tenant).errors
        body = answer.outcome or answer.resource
        answer_class = classify(
            answer.status, classify_vendor_error(errors, status=answer.status, body=body)
        )
        decision = decide(step, answer_class)
        if decision is Decision.RECONCILE and answer_class in _READ_AT_ONCE:
            # The EHR answered: nothing is in flight, so the chart can be read at once.
            decision = self._chart_says(step, gateway, draft, record, guard)
            if decision is Decision.SEND:
                decision = Decision.RETRY  # not twice in one attempt: back to the queue
        elif (
            reread
            and decision in (Decision.REJECT, Decision.PARTIAL)
            and self._chart_says(step, gateway, draft, record, guard) is Decision.PROCEED
        ):
            decision = Decision.PROCEED
        if decision is Decision.PROCEED:
            return
        raise Stop(
            Ended(
                decision,
                status=answer.status,
                reason=reason_of(answer),
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
        mode = self._ehr.profile(draft.tenant).provenance_mode
        if mode in TRAVELS_WITH_WRITE:
            # It may have landed with the target (Bundle, header): look before sending. When
            # this attempt's own write was answered, nothing else can be in flight.
            look = step if reread else Step.CREATE_PROVENANCE
            found = self._chart_says(look, gateway, draft, record, look_guard(mode, guard))
            if found is Decision.PROCEED:
                return
            reread = False  # read just now: the chart shows it absent
        # Where the EHR guards a resend, the resend itself tells (200 or 412); elsewhere the
        # chart is read first.
        if (
            reread
            and not guard.guards_resend
            and self._chart_says(step, gateway, draft, record, guard) is Decision.PROCEED
        ):
            return
        provenance = provenance_of(draft, approval, record)
        answer = self._channel.create(
            gateway, draft, record, provenance, guard, provenance_tag_query(record.id), step
        )
        if answer.ok:
            record.provenance_id = answer.resource_id
        self._settle_step(step, answer, gateway, draft, record, guard, reread=reread)

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
        chart, retry_after = read_chart(step, gateway, record, guard)
        decision = decide(step, Answer.CHART_READ, chart)
        self._channel.event(
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
        raise Stop(
            Ended(
                decision,
                reason=f"chart read for {step.value}: {chart.value}",
                retry_after=retry_after,
            )
        )

    # -- closing the attempt --------------------------------------------------------------

    def _finish(self, draft: Draft, record: Writeback, ended: Ended) -> None:
        """Record how the attempt ended: write-back row, draft state and audit event, at once."""
        now = self._clock.now()
        with self._uow() as uow:
            self._channel.write_pending(record, uow)
            draft = uow.drafts.get(draft.tenant, draft.id, for_update=True, known=draft)
            if ended.status is not None:
                record.last_status = ended.status
            if ended.decision is not Decision.PROCEED:
                record.last_reason = ended.reason or record.last_reason
            write, decision = ChartWrite(draft, record), ended.decision
            version = chart_version(uow, draft) if write.needs_chart_version(decision) else None
            settled = write.settle(decision, chart_version=version)
            data: JsonObject = {
                "attempt": record.attempts,
                "status": record.last_status,
                "reason": ended.reason or None,
            }
            if settled.event == EventType.WRITEBACK_COMMITTED or settled.state in (
                WritebackState.PARTIAL,
                WritebackState.NEEDS_PERSON,
            ):
                data.update(chart_facts(record))
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
                raise LeaseLost  # rolls back the draft's change too
            uow.drafts.save(draft, at=now)
            self._channel.event(draft, record, EventType(settled.event), data, uow=uow)
            if escalate:
                self._channel.event(
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
        self._channel.committed(record)
