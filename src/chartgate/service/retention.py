"""Applying the retention rules: delete, archive or crypto-shred by rule, and say so in the ledger.

``plan()`` decides from the rules (``domain.retention``) and the store what is due today;
``run()`` carries it out, one transaction per item, each with its ledger event in the same
transaction (``retention.deleted``, ``retention.archived``, ``key.destroyed``), so the
ledger can never claim a deletion that did not happen, nor miss one that did. A legal hold
turns an item into "held" instead. ``run(dry_run=True)`` only plans: nothing is written.

What each action does (ADR 0012):

* drafts never approved, approved content of settled write-backs, stored idempotency
  answers, ended scribe sessions, consent records whose encounter has no draft left: their
  rows are deleted (the clinical content in them is ciphertext under the
  tenant's data key; the ledger keeps only hashes and pseudonyms);
* ledger and checkpoints: never deleted; segments are copied to the archive as the
  offline verifier's input (JSON lines + signed notes);
* an offboarded tenant, after its grace period: every row of it outside the ledger is
  deleted and its data key destroyed (crypto-shredding), so every copy of its ciphertext
  anywhere (replicas, WAL, backups, exports) becomes unreadable, and its ledger
  pseudonyms unlinkable. Its ledger stays and still verifies.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.retention import RecordClass, RetentionAction, RetentionPolicy
from chartgate.service.audit import EventQuery, LedgerUnitFactory, Pseudonymizer
from chartgate.service.ports import Clock, IdSource
from chartgate.service.retention_ports import Archive, RetentionStore
from chartgate.service.retention_report import PlannedAction, RetentionReport

__all__ = ["PlannedAction", "RetentionReport", "RetentionService"]

ROW_CLASSES = (RecordClass.SCRIBE_SESSIONS, RecordClass.CONSENT_RECORDS)
"""Classes deleted row by row per tenant, with no draft to hang them on (issue 17)."""


class RetentionService:
    """Plans and runs retention for every tenant in the store."""

    def __init__(
        self,
        *,
        store: RetentionStore,
        ledger: LedgerUnitFactory,
        archive: Archive | None,
        clock: Clock,
        ids: IdSource,
        rules: RetentionPolicy,
        rules_hash: str,
        rules_source: str,
        configured_tenants: Iterable[str],
        actor: str,
        pseudonyms: Pseudonymizer | None = None,
        exclusive: Callable[[], AbstractContextManager[bool]] | None = None,
    ) -> None:
        self._exclusive = exclusive  # one run at a time across replicas (duty_locks.py)
        self._store = store
        self._ledger = ledger
        self._archive = archive
        self._clock = clock
        self._ids = ids
        self._rules = rules
        self._hash = rules_hash
        self._source = rules_source
        self._configured = frozenset(configured_tenants)
        self._actor = actor
        self._pseudonyms = pseudonyms

    # -- planning -------------------------------------------------------------------------

    def plan(self, now: datetime | None = None) -> list[PlannedAction]:
        """Everything due at ``now`` (default: the clock), held items included as ``held``."""
        now = now or self._clock.now()
        actions: list[PlannedAction] = []
        for record_class, approved in (
            (RecordClass.DRAFTS, False),
            (RecordClass.APPROVED_CONTENT, True),
        ):
            cutoff = self._rules.cutoff(record_class, now)
            if cutoff is None:
                continue
            for candidate in self._store.expired_drafts(cutoff, approved=approved):
                if candidate.tenant in self._offboarding(now):
                    continue  # the whole tenant goes below
                hold = self._rules.held(candidate.tenant, candidate.draft_id, now)
                actions.append(
                    PlannedAction(
                        record_class.value,
                        "held" if hold else RetentionAction.DELETE.value,
                        candidate.tenant,
                        candidate.draft_id,
                        {"state": candidate.state, "last_change": candidate.last_change.isoformat()}
                        | ({"hold": hold.reason} if hold else {}),
                    )
                )
        cutoff = self._rules.cutoff(RecordClass.IDEMPOTENCY_KEYS, now)
        if cutoff is not None:
            for tenant, count in sorted(self._store.expired_idempotency(cutoff).items()):
                if tenant in self._offboarding(now):
                    continue
                hold = self._rules.held(tenant, None, now)
                actions.append(
                    PlannedAction(
                        RecordClass.IDEMPOTENCY_KEYS.value,
                        "held" if hold else RetentionAction.DELETE.value,
                        tenant,
                        "all",
                        {"rows": count} | ({"hold": hold.reason} if hold else {}),
                    )
                )
        actions.extend(self._plan_rows(now))
        actions.extend(self._plan_archives(now))
        actions.extend(self._plan_shredding(now))
        return actions

    def _plan_rows(self, now: datetime) -> list[PlannedAction]:
        """Scribe sessions and consent records due, per tenant (a tenant hold keeps them)."""
        actions: list[PlannedAction] = []
        for record_class in ROW_CLASSES:
            cutoff = self._rules.cutoff(record_class, now)
            if cutoff is None:
                continue
            for tenant, count in sorted(
                self._store.expired_rows(record_class.value, cutoff).items()
            ):
                if tenant in self._offboarding(now):
                    continue
                hold = self._rules.held(tenant, None, now)
                actions.append(
                    PlannedAction(
                        record_class.value,
                        "held" if hold else RetentionAction.DELETE.value,
                        tenant,
                        "all",
                        {"rows": count} | ({"hold": hold.reason} if hold else {}),
                    )
                )
        return actions

    def _offboarding(self, now: datetime) -> set[str]:
        return {t.tenant for t in self._rules.offboarded_tenants if t.due(now)}

    def _plan_archives(self, now: datetime) -> list[PlannedAction]:
        if self._archive is None:
            return []
        actions: list[PlannedAction] = []
        ledger_cutoff = self._rules.cutoff(RecordClass.LEDGER, now)
        notes_cutoff = self._rules.cutoff(RecordClass.CHECKPOINTS, now)
        with self._ledger(read_only=True) as unit:
            store = unit.ledger
            for tenant in store.tenants():
                done = _archived(store.search(tenant, _ARCHIVED_QUERY))
                checkpoints = store.checkpoints(tenant)
                if ledger_cutoff is not None:
                    start = done.get(RecordClass.LEDGER.value, 0)
                    old = 0
                    for entry in store.entries(tenant, start):
                        if entry.at >= ledger_cutoff:
                            break
                        old = entry.seq + 1
                    # End on a signed checkpoint, so the archive verifies offline on its own.
                    end = max((c.size for c in checkpoints if c.size <= old), default=0)
                    if end > start:
                        actions.append(
                            PlannedAction(
                                RecordClass.LEDGER.value,
                                RetentionAction.ARCHIVE.value,
                                tenant,
                                f"{start}..{end - 1}",
                                {"from": start, "to": end},
                            )
                        )
                if notes_cutoff is not None:
                    start = done.get(RecordClass.CHECKPOINTS.value, 0)
                    due = [
                        c.size for c in checkpoints if c.size > start and c.signed_at < notes_cutoff
                    ]
                    if due:
                        actions.append(
                            PlannedAction(
                                RecordClass.CHECKPOINTS.value,
                                RetentionAction.ARCHIVE.value,
                                tenant,
                                f"sizes {due[0]}..{due[-1]}",
                                {"from": start, "to": due[-1]},
                            )
                        )
        return actions

    def _plan_shredding(self, now: datetime) -> list[PlannedAction]:
        actions: list[PlannedAction] = []
        for offboarded in self._rules.offboarded_tenants:
            if not offboarded.due(now):
                continue
            tenant = offboarded.tenant
            rows = self._store.tenant_rows(tenant)
            if not any(rows.values()):
                continue  # already shredded
            if tenant in self._configured:
                actions.append(
                    PlannedAction(
                        "tenant",
                        "blocked",
                        tenant,
                        "all",
                        {"reason": "still configured: remove it from the settings first"},
                    )
                )
                continue
            actions.append(PlannedAction("tenant", "shred", tenant, "all", {"rows": rows}))
        return actions

    # -- running --------------------------------------------------------------------------

    def run(self, *, dry_run: bool = False) -> RetentionReport:
        """Plan, then (unless ``dry_run``) carry out every due item that is not held."""
        now = self._clock.now()
        report = RetentionReport(dry_run=dry_run, rules=self._source, rules_hash=self._hash)
        if dry_run or self._exclusive is None:
            return self._run(report, now)
        with self._exclusive() as mine:
            if not mine:
                report.busy = True
                return report
            return self._run(report, now)

    def _run(self, report: RetentionReport, now: datetime) -> RetentionReport:
        report.actions = self.plan(now)
        if report.dry_run:
            return report
        run_id = self._ids.new_id()
        for action in report.actions:
            if action.action in {"held", "blocked"}:
                continue
            done = self._apply(action, now, run_id)
            if done is not None:
                report.done.append(done)
        return report

    def _apply(self, action: PlannedAction, now: datetime, run_id: str) -> PlannedAction | None:
        if action.record_class in {RecordClass.DRAFTS.value, RecordClass.APPROVED_CONTENT.value}:
            return self._delete_draft(action, now)
        if action.record_class == RecordClass.IDEMPOTENCY_KEYS.value:
            cutoff = self._rules.cutoff(RecordClass.IDEMPOTENCY_KEYS, now)
            assert cutoff is not None  # planned only when the class is not kept
            count = self._store.delete_idempotency(
                action.tenant, cutoff, lambda rows: self._event(action, run_id, now, rows)
            )
            return PlannedAction(
                action.record_class, "deleted", action.tenant, "all", {"rows": count}
            )
        if action.record_class in {c.value for c in ROW_CLASSES}:
            record_class = RecordClass(action.record_class)
            cutoff = self._rules.cutoff(record_class, now)
            assert cutoff is not None  # planned only when the class is not kept
            count = self._store.delete_rows(
                record_class.value,
                action.tenant,
                cutoff,
                lambda rows: self._event(action, run_id, now, rows),
            )
            return PlannedAction(
                action.record_class, "deleted", action.tenant, "all", {"rows": count}
            )
        if action.record_class in {RecordClass.LEDGER.value, RecordClass.CHECKPOINTS.value}:
            return self._write_archive(action, run_id)
        if action.action == "shred":
            return self._shred(action, now, run_id)
        return None

    def _delete_draft(self, action: PlannedAction, now: datetime) -> PlannedAction | None:
        approved = action.record_class == RecordClass.APPROVED_CONTENT.value
        record_class = RecordClass(action.record_class)
        cutoff = self._rules.cutoff(record_class, now)
        assert cutoff is not None
        candidates = {
            c.draft_id: c
            for c in self._store.expired_drafts(cutoff, approved=approved)
            if c.tenant == action.tenant
        }
        candidate = candidates.get(action.subject)
        if candidate is None:
            return None  # it changed since planning: not due any more

        def record(rows: Mapping[str, int]) -> AuditRecord:
            return AuditRecord(
                type=EventType.RETENTION_DELETED,
                tenant=candidate.tenant,
                at=self._clock.now(),
                correlation_id=candidate.correlation_id,
                actor=self._actor,
                draft_id=candidate.draft_id,
                data=self._data(record_class.value, rows) | {"state": candidate.state},
                patient=self._pseudonym(candidate.tenant, candidate.patient),
            )

        rows = self._store.delete_draft(candidate, cutoff, approved=approved, record=record)
        if rows is None:
            return None
        return PlannedAction(
            action.record_class, "deleted", action.tenant, action.subject, {"rows": dict(rows)}
        )

    def _write_archive(self, action: PlannedAction, run_id: str) -> PlannedAction:
        assert self._archive is not None
        tenant, start, end = action.tenant, int(action.detail["from"]), int(action.detail["to"])
        with self._ledger(read_only=True) as unit:
            store = unit.ledger
            if action.record_class == RecordClass.LEDGER.value:
                name = f"ledger-{start:012d}-{end - 1:012d}.jsonl"
                lines = [
                    json.dumps(
                        {
                            "seq": e.seq,
                            "canonical": base64.b64encode(e.canonical or b"").decode(),
                            "leaf_hash": (e.leaf_hash or b"").hex(),
                        },
                        separators=(",", ":"),
                    )
                    for e in store.entries(tenant, start, end)
                ]
                path, digest = self._archive.write(tenant, name, lines)
                notes = [c.note for c in store.checkpoints(tenant) if c.size <= end]
                self._archive.write(tenant, f"ledger-{end - 1:012d}.checkpoints", notes)
            else:
                name = f"checkpoints-{start + 1:012d}-{end:012d}.notes"
                notes = [c.note for c in store.checkpoints(tenant) if start < c.size <= end]
                path, digest = self._archive.write(tenant, name, notes)
        with self._ledger() as unit:
            unit.ledger.append(
                AuditRecord(
                    type=EventType.RETENTION_ARCHIVED,
                    tenant=tenant,
                    at=self._clock.now(),
                    correlation_id=run_id,
                    actor=self._actor,
                    data=self._data(action.record_class, {})
                    | {"from": start, "to": end, "file": name, "sha256": digest},
                )
            )
        return PlannedAction(
            action.record_class,
            "archived",
            tenant,
            action.subject,
            {"file": path, "sha256": digest},
        )

    def _shred(self, action: PlannedAction, now: datetime, run_id: str) -> PlannedAction:
        del now

        def records(rows: Mapping[str, int], key_id: str) -> list[AuditRecord]:
            at = self._clock.now()
            deleted = self._data("tenant", rows)
            destroyed = {"kind": "tenant-data-key", "key_id": key_id, "rules_hash": self._hash}
            return [
                AuditRecord(
                    type=kind,
                    tenant=action.tenant,
                    at=at,
                    correlation_id=run_id,
                    actor=self._actor,
                    data=data,
                )
                for kind, data in (
                    (EventType.RETENTION_DELETED, deleted),
                    (EventType.KEY_DESTROYED, destroyed),
                )
            ]

        rows = self._store.shred_tenant(action.tenant, records)
        return PlannedAction("tenant", "shredded", action.tenant, "all", {"rows": dict(rows)})

    # -- helpers --------------------------------------------------------------------------

    def _event(
        self, action: PlannedAction, run_id: str, now: datetime, rows: Mapping[str, int]
    ) -> AuditRecord:
        del now
        return AuditRecord(
            type=EventType.RETENTION_DELETED,
            tenant=action.tenant,
            at=self._clock.now(),
            correlation_id=run_id,
            actor=self._actor,
            data=self._data(action.record_class, rows),
        )

    def _data(self, record_class: str, rows: Mapping[str, int]) -> dict[str, Any]:
        rule = self._rule_text(record_class)
        return {"class": record_class, "rule": rule, "rows": dict(rows), "rules_hash": self._hash}

    def _rule_text(self, record_class: str) -> str:
        if record_class == "tenant":
            return "offboarded tenant: delete rows, destroy data key"
        rule = self._rules.rules.rule(RecordClass(record_class))
        return f"{rule.action.value} after {rule.after.days} days"

    def _pseudonym(self, tenant: str, reference: str) -> str | None:
        return self._pseudonyms.reference(tenant, reference) if self._pseudonyms else None


_ARCHIVED_QUERY = EventQuery(type=EventType.RETENTION_ARCHIVED.value, limit=1000)


def _archived(entries: Iterable[Any]) -> dict[str, int]:
    """Per class, how far the tenant's ledger/checkpoints were archived (from the ledger)."""
    done: dict[str, int] = {}
    for entry in entries:
        data = entry.event().get("data", {})
        record_class, end = data.get("class"), data.get("to")
        if isinstance(record_class, str) and isinstance(end, int):
            done[record_class] = max(done.get(record_class, 0), end)
    return done
