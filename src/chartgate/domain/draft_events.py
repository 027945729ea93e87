"""Domain events: what a draft's own methods record when they change it (ADR 0033).

A method of ``Draft`` that changes it appends one of these to the draft's private list;
the unit of work that loaded or added the draft pulls them when it commits and turns each
into one ``AuditRecord`` in the same transaction (``service/event_records.py``). So a change
and its audit record commit together, a rolled-back change records nothing, and no use case
builds an audit dict by hand.

Events carry no PHI: versions, hashes, codes and chart versions only. Who acted, the
request, the time, the draft's state and the patient's keyed pseudonym are added by the
mapping in the service layer, which knows them; the domain does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from chartgate.domain.events import EventType


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftEvent:
    """Something that happened to one draft; ``type`` is its ledger event type."""

    type: ClassVar[EventType]


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftReceived(DraftEvent):
    """A scribe's draft arrived: version 1, what it proposes and which model made it."""

    type: ClassVar[EventType] = EventType.DRAFT_RECEIVED
    version: int
    content_hash: str
    note_type: str
    resource_types: tuple[str, ...]
    model: str
    model_version: str
    prompt_template: str
    transcript_sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionSaved(DraftEvent):
    """A clinician's edit became a new version."""

    type: ClassVar[EventType] = EventType.VERSION_SAVED
    version: int
    content_hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftRebased(DraftEvent):
    """After a conflict: a new version against the chart's new versions (reference: version)."""

    type: ClassVar[EventType] = EventType.DRAFT_REBASED
    version: int
    baseline: Mapping[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class DraftDiscarded(DraftEvent):
    """A draft that was never sent was discarded."""

    type: ClassVar[EventType] = EventType.DRAFT_DISCARDED
