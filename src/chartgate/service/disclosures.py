"""Ledger events of the processor registry: refused disclosures (BAA not in force, unlisted).

A refusal is a disclosure that did not happen, and an auditor asks about exactly those: who
was about to receive PHI without a business associate agreement in force. Each refusal is
one ``processor.disclosure_refused`` event in the ledger of every tenant the refused client
sent for, exported as a DICOM *Export* AuditEvent with outcome "serious failure"
(``ledger/export.py``). The event names the processor, the destination's origin (scheme,
host, port: never a path, query or body) and the BAA status; nothing about a patient.
"""

from __future__ import annotations

from typing import Protocol

from chartgate.domain.events import AuditRecord, EventType
from chartgate.service.audit import LedgerUnitFactory
from chartgate.service.ports import Clock, IdSource


class RefusalFacts(Protocol):
    """What the gate knows about one refused request (``adapters/ehr/gate.Refusal``)."""

    @property
    def tenants(self) -> tuple[str, ...]:
        """Tenants the refused client sends for."""
        ...

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` of the destination."""
        ...

    @property
    def processor(self) -> str | None:
        """The registered processor's id (None: unregistered)."""
        ...

    @property
    def status(self) -> str:
        """The BAA status, or "unregistered"."""
        ...

    @property
    def purpose(self) -> str:
        """What the client is for: ehr, audit-sink, webhook, identity."""
        ...


class DisclosureAudit:
    """Records refused disclosures, each in its own transaction."""

    def __init__(self, *, ledger: LedgerUnitFactory, clock: Clock, ids: IdSource) -> None:
        self._ledger = ledger
        self._clock = clock
        self._ids = ids

    def refused(self, refusal: RefusalFacts) -> None:
        """One ``processor.disclosure_refused`` event per tenant the client sends for."""
        correlation_id = self._ids.new_id()
        for tenant in refusal.tenants:
            with self._ledger() as unit:
                unit.ledger.append(
                    AuditRecord(
                        type=EventType.PROCESSOR_REFUSED,
                        tenant=tenant,
                        at=self._clock.now(),
                        correlation_id=correlation_id,
                        actor="system:processor-gate",
                        data={
                            "processor": refusal.processor,
                            "destination": refusal.origin,
                            "baa_status": refusal.status,
                            "what": refusal.purpose,
                        },
                    )
                )
