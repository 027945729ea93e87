"""How a write-back looks on the wire: its state and, for a draft, each structured item's.

Split from ``api/models.py`` (issue 13: structured write-backs); ``Out`` is every answer
model's base.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    """An answer model: unknown fields are a bug, never passed on."""

    model_config = ConfigDict(extra="forbid")


class Writeback(Out):
    """One write-back's status: state, the EHR's resource and version, Provenance."""

    id: str
    draft_id: str
    kind: str
    state: str
    attempts: int
    escalated: bool = Field(description="A person was told it keeps failing.")
    note_in_chart: bool = Field(description="The note itself is in the chart.")
    ehr_resource: str | None
    ehr_version: str | None
    provenance: str | None
    last_status: int | None
    last_reason: str | None
    correlation_id: str
    payload_hash: str
    part: int = Field(
        default=0, description="0: the note; 1, 2, ...: a structured resource, in write order."
    )
    resource_type: str = Field(
        default="DocumentReference", description="What it writes: the note or its type."
    )
    after: str | None = Field(
        default=None, description="The write-back that must be settled before this one sends."
    )


class StructuredItem(Out):
    """One structured proposal of the approved (or current) version and its fate.

    After an amendment (ADR 0031), also each resource the amendment removed from the chart
    (``index`` null, ``fate`` "removed by the amendment ...", its ``retraction``).
    """

    index: int | None = Field(
        description="Its place in the version's ``resources`` (null: removed by an amendment)."
    )
    resource_type: str
    written: bool = Field(description="Approval writes it to the chart.")
    fate: str = Field(
        description='"will be written" or why not, e.g. "not written to the chart'
        ' (draft-only by policy)".'
    )
    writeback: Writeback | None = Field(
        description="The write-back that created it in the chart, once approved and queued."
    )
    update: Writeback | None = Field(
        default=None,
        description=(
            "The newest amendment's change to it (kind structured-update: PUT with If-Match);"
            " null when no amendment changed it."
        ),
    )
    retraction: Writeback | None = Field(
        default=None,
        description=(
            "Its entered-in-error write-back, queued with the note's retraction or with an"
            " amendment that removed it."
        ),
    )
