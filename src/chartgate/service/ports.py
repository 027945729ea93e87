"""Ports: the small Protocols the service layer needs from the outside world.

Adapters implement them; unit tests use the fakes in ``tests/fakes.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

from chartgate.domain.writeback import CreateGuard, Writeback

if TYPE_CHECKING:
    from chartgate.domain.consent import ConsentRecord
    from chartgate.domain.draft_events import DraftEvent
    from chartgate.domain.drafts import Approval, Draft
    from chartgate.domain.events import AuditRecord
    from chartgate.domain.killswitch import Switch
    from chartgate.domain.scribe_session import ScribeSession
    from chartgate.domain.vendor_profile import VendorProfile

JsonObject = dict[str, Any]
SearchParams = Mapping[str, str | tuple[str, ...]]
"""FHIR search parameters; a tuple repeats the parameter (``date=ge…&date=le…``)."""


@dataclass(frozen=True, slots=True)
class EhrAnswer:
    """What a FHIR server answered to one request, reduced to what write-back decides on.

    ``resource_id``/``version_id`` come from the body when there is one, else from the
    ``Location`` and ``ETag`` headers (Epic answers with an empty body unless asked).
    """

    status: int
    resource: JsonObject | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    version_id: str | None = None
    etag: str | None = None
    location: str | None = None
    retry_after: float | None = None
    outcome: JsonObject | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True for any 2xx answer."""
        return 200 <= self.status < 300  # noqa: PLR2004 - HTTP class bounds


class EhrGateway(Protocol):
    """One tenant's FHIR R4 server, as the write-back executor sees it.

    Raises ``EhrUnreachable`` when the request cannot have left, ``EhrAmbiguous`` when it
    may have landed without an answer. Every HTTP answer (2xx or not) comes back as an
    ``EhrAnswer``; deciding what it means is the executor's job.
    """

    def create(
        self, resource: JsonObject, *, if_none_exist: str | None, request_id: str
    ) -> EhrAnswer:
        """POST the resource (conditionally when ``if_none_exist`` is given)."""
        ...

    def update(self, resource: JsonObject, *, if_match: str, request_id: str) -> EhrAnswer:
        """PUT the resource with ``If-Match: W/"<if_match>"``."""
        ...

    def create_with_id(self, resource: JsonObject, *, request_id: str) -> EhrAnswer:
        """PUT the resource at its own (client-assigned) id with ``If-None-Match: *``.

        Race-free create: a second attempt answers 412 (or 304) instead of making a copy.
        """
        ...

    def read(self, resource_type: str, resource_id: str, *, request_id: str) -> EhrAnswer:
        """GET the current version of one resource."""
        ...

    def vread(
        self, resource_type: str, resource_id: str, version_id: str, *, request_id: str
    ) -> EhrAnswer:
        """GET one earlier version of a resource (``Type/id/_history/vid``)."""
        ...

    def with_provenance(self, provenance: JsonObject) -> EhrGateway:
        """This gateway, its writes carrying ``provenance`` in the ``X-Provenance`` header."""
        ...

    def transaction(self, bundle: JsonObject, *, request_id: str) -> EhrAnswer:
        """POST a transaction Bundle: every entry lands, or none does."""
        ...

    def search(
        self, resource_type: str, params: SearchParams, *, request_id: str
    ) -> list[JsonObject]:
        """Search and return the matching resources (``searchset`` entries).

        A parameter with a tuple of values is sent once per value (FHIR: all must match).
        """
        ...


class Clock(Protocol):
    """Where the time comes from (the domain never reads a clock)."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        ...


class IdSource(Protocol):
    """Where new ids come from (the domain never calls uuid4)."""

    def new_id(self) -> str:
        """Return a new unguessable id (UUIDv4 text)."""
        ...


class Cipher(Protocol):
    """Envelope encryption of clinical content under the tenant's data key."""

    def encrypt(self, tenant: str, plaintext: bytes, *, aad: bytes) -> bytes:
        """Encrypt; ``aad`` binds the ciphertext to its row."""
        ...

    def decrypt(self, tenant: str, blob: bytes, *, aad: bytes) -> bytes:
        """Decrypt, or raise if the blob was moved, altered or belongs to another tenant."""
        ...


WritebackRecord = Writeback
"""The outbox row as the service layer sees it: the domain's write-back aggregate."""


class DraftStore(Protocol):
    """Drafts and versions of one tenant at a time."""

    def add(self, draft: Draft) -> None:
        """Insert a new draft."""
        ...

    def get(
        self, tenant: str, draft_id: str, *, for_update: bool = False, known: Draft | None = None
    ) -> Draft:
        """Load a draft (NotFound: missing or foreign); ``known`` itself if unchanged since."""
        ...

    def save(self, draft: Draft, *, at: datetime) -> None:
        """Persist state and new versions."""
        ...


class ApprovalStore(Protocol):
    """Approvals, immutable."""

    def add(self, tenant: str, approval: Approval) -> None:
        """Insert one approval."""
        ...

    def get(self, tenant: str, approval_id: str) -> Approval:
        """Load one approval."""
        ...

    def for_draft(self, tenant: str, draft_id: str) -> list[Approval]:
        """All approvals of a draft."""
        ...


class WritebackStore(Protocol):
    """The outbox."""

    def add(self, record: WritebackRecord) -> None:
        """Insert an outbox row."""
        ...

    def get(self, tenant: str, writeback_id: str) -> WritebackRecord:
        """Load one write-back."""
        ...

    def for_draft(self, tenant: str, draft_id: str) -> list[WritebackRecord]:
        """All write-backs of a draft."""
        ...

    def due(
        self, now: datetime, *, limit: int = 10, tenant: str | None = None
    ) -> list[tuple[str, str]]:
        """Write-backs a worker may take now (of one ``tenant`` only, when given)."""
        ...

    def claim(
        self, tenant: str, writeback_id: str, *, owner: str, now: datetime, lease_until: datetime
    ) -> str | None:
        """Take the lease; return the prior state or None when another worker won."""
        ...

    def save_progress(
        self,
        record: WritebackRecord,
        *,
        now: datetime,
        owner: str | None = None,
        lease_until: datetime | None = None,
    ) -> bool:
        """Persist progress; ``owner``: only while it holds the lease (renewed: ``lease_until``)."""
        ...

    def renew_lease(
        self, tenant: str, writeback_id: str, *, owner: str, now: datetime, lease_until: datetime
    ) -> bool:
        """Extend the lease while ``owner`` still holds it."""
        ...


class AuditStore(Protocol):
    """The tenant's append-only audit trail."""

    def append(self, record: AuditRecord) -> int:
        """Sequence and store one event."""
        ...

    def by_correlation(self, tenant: str, correlation_id: str) -> list[JsonObject]:
        """Every event of one correlation id."""
        ...


class IdempotencyStore(Protocol):
    """Stored answers for Idempotency-Key."""

    def find(self, tenant: str, principal: str, key: str) -> JsonObject | None:
        """The stored record, or None."""
        ...

    def begin(
        self, tenant: str, principal: str, key: str, request_hash: str, now: datetime
    ) -> None:
        """Mark a key in flight."""
        ...

    def settle(
        self,
        tenant: str,
        principal: str,
        key: str,
        began: datetime,
        status_code: int,
        response: JsonObject,
    ) -> bool:
        """Store the answer if the attempt begun at ``began`` still holds the key."""
        ...

    def forget(self, tenant: str, principal: str, key: str, began: datetime | None = None) -> None:
        """Drop an in-flight key (only the attempt begun at ``began``, when given)."""
        ...


class KillSwitchStore(Protocol):
    """Kill switches, read in the transaction of the action they guard."""

    def engaged(self, tenant: str | None = None, *, guard: bool = False) -> list[Switch]:
        """Engaged switches of ``tenant`` and of every tenant (all when None)."""
        ...

    def history(self, tenant: str | None = None, *, limit: int = 50) -> list[Switch]:
        """Switches newest first, engaged or released."""
        ...

    def get(self, switch_id: str) -> Switch | None:
        """One switch by id."""
        ...

    def bump_epoch(self) -> None:
        """Order this change after every guard that already read the switches."""
        ...

    def add(self, switch: Switch) -> None:
        """Store an engaged switch."""
        ...

    def release(self, switch_id: str, *, by: str, reason: str, at: datetime) -> bool:
        """Release an engaged switch; False when it was not engaged."""
        ...

    def in_flight(self, now: datetime) -> list[tuple[str, str, int]]:
        """(tenant, id, attempt) of write-backs a worker holds at ``now``."""
        ...

    def origin(self, tenant: str, draft_id: str) -> JsonObject | None:
        """A draft's origin (model, prompt template), stored in clear."""
        ...


class ContextStore(Protocol):
    """Scribe sessions and consent records (issue 17)."""

    def add_session(self, session: ScribeSession) -> None:
        """Insert a newly opened session."""
        ...

    def session(self, tenant: str, session_id: str) -> ScribeSession | None:
        """One session of ``tenant`` (None for an unknown or foreign id)."""
        ...

    def close_session(self, tenant: str, session_id: str, *, at: datetime, by: str) -> bool:
        """End a live session at ``at`` and forget its delegated token (False: not live)."""
        ...

    def sessions_for(self, tenant: str, encounter: str) -> list[ScribeSession]:
        """The encounter's sessions, newest first, without their delegated tokens."""
        ...

    def add_consent(self, record: ConsentRecord) -> None:
        """Insert a consent record (stored encrypted)."""
        ...

    def consent_for(self, tenant: str, encounter: str) -> ConsentRecord | None:
        """The latest consent record of an encounter, or None."""
        ...


class Transaction(Protocol):
    """One transaction: commit on a clean exit of the ``with`` block, roll back on an error."""

    def __enter__(self) -> Self:
        """Begin."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Commit or roll back."""
        ...


class EventRecorder(Protocol):
    """Turns a draft's domain event into its audit record (``service/event_records.py``)."""

    def __call__(self, draft: Draft, event: DraftEvent) -> AuditRecord:
        """The audit record, as the draft is at commit."""
        ...


class UnitOfWork(Transaction, Protocol):
    """One transaction with its repositories; commit on clean exit, roll back on error.

    It remembers each draft it loaded, added or saved; just before committing it appends the
    audit record of every new event of theirs (ADR 0033), so a rollback drops both.
    """

    def recording(self, recorder: EventRecorder) -> None:
        """Record the new events of the drafts this unit saw with ``recorder`` on commit."""
        ...

    @property
    def drafts(self) -> DraftStore:
        """Drafts."""
        ...

    @property
    def approvals(self) -> ApprovalStore:
        """Approvals."""
        ...

    @property
    def writebacks(self) -> WritebackStore:
        """The outbox."""
        ...

    @property
    def audit(self) -> AuditStore:
        """The audit trail."""
        ...

    @property
    def idempotency(self) -> IdempotencyStore:
        """Idempotency keys."""
        ...

    @property
    def killswitches(self) -> KillSwitchStore:
        """Kill switches."""
        ...

    @property
    def context(self) -> ContextStore:
        """Scribe sessions and consent records."""
        ...


class UnitOfWorkFactory(Protocol):
    """Opens units of work."""

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work."""
        ...


class EhrDirectory(Protocol):
    """Finds each tenant's EHR gateway and what its vendor supports."""

    def gateway(self, tenant: str) -> EhrGateway:
        """The tenant's EHR gateway."""
        ...

    def reader(self, tenant: str, scope: str) -> EhrGateway:
        """The tenant's gateway for context reads, its backend token asking only ``scope``."""
        ...

    def delegated_reader(self, tenant: str, token: str) -> EhrGateway:
        """The tenant's EHR, read with a clinician's own (EHR-launch) access token."""
        ...

    def profile(self, tenant: str) -> VendorProfile:
        """The tenant's vendor profile: every fact chartgate obeys for its EHR."""
        ...

    def create_guard(self, tenant: str) -> CreateGuard:
        """What the tenant's EHR offers to make a create safe to resend."""
        ...

    def note_content_type(self, tenant: str, requested: str) -> str:
        """The attachment content type the tenant's EHR takes for a note."""
        ...

    def vendor(self, tenant: str) -> str:
        """The vendor profile name of the tenant's EHR."""
        ...

    def supports_amendment(self, tenant: str) -> bool:
        """Whether amendments can be written over FHIR (relatesTo = replaces)."""
        ...

    def marks_superseded(self, tenant: str) -> bool:
        """Whether the replaced document may be marked ``superseded`` after an amendment."""
        ...

    def mrn_system(self, tenant: str) -> str | None:
        """The identifier system of the tenant's MRNs (None: the identifier typed ``MR``)."""
        ...

    def settle_seconds(self, tenant: str) -> float:
        """How long a request may still be acted on by the EHR after we stopped waiting."""
        ...
