from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="Writeback")



@_attrs_define
class Writeback:
    """ One write-back's status: state, the EHR's resource and version, Provenance.

        Attributes:
            attempts (int):
            correlation_id (str):
            draft_id (str):
            ehr_resource (None | str):
            ehr_version (None | str):
            escalated (bool): A person was told it keeps failing.
            id (str):
            kind (str):
            last_reason (None | str):
            last_status (int | None):
            note_in_chart (bool): The note itself is in the chart.
            payload_hash (str):
            provenance (None | str):
            state (str):
            after (None | str | Unset): The write-back that must be settled before this one sends.
            part (int | Unset): 0: the note; 1, 2, ...: a structured resource, in write order. Default: 0.
            resource_type (str | Unset): What it writes: the note or its type. Default: 'DocumentReference'.
     """

    attempts: int
    correlation_id: str
    draft_id: str
    ehr_resource: None | str
    ehr_version: None | str
    escalated: bool
    id: str
    kind: str
    last_reason: None | str
    last_status: int | None
    note_in_chart: bool
    payload_hash: str
    provenance: None | str
    state: str
    after: None | str | Unset = UNSET
    part: int | Unset = 0
    resource_type: str | Unset = 'DocumentReference'





    def to_dict(self) -> dict[str, Any]:
        attempts = self.attempts

        correlation_id = self.correlation_id

        draft_id = self.draft_id

        ehr_resource: None | str
        ehr_resource = self.ehr_resource

        ehr_version: None | str
        ehr_version = self.ehr_version

        escalated = self.escalated

        id = self.id

        kind = self.kind

        last_reason: None | str
        last_reason = self.last_reason

        last_status: int | None
        last_status = self.last_status

        note_in_chart = self.note_in_chart

        payload_hash = self.payload_hash

        provenance: None | str
        provenance = self.provenance

        state = self.state

        after: None | str | Unset
        if isinstance(self.after, Unset):
            after = UNSET
        else:
            after = self.after

        part = self.part

        resource_type = self.resource_type


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "attempts": attempts,
            "correlation_id": correlation_id,
            "draft_id": draft_id,
            "ehr_resource": ehr_resource,
            "ehr_version": ehr_version,
            "escalated": escalated,
            "id": id,
            "kind": kind,
            "last_reason": last_reason,
            "last_status": last_status,
            "note_in_chart": note_in_chart,
            "payload_hash": payload_hash,
            "provenance": provenance,
            "state": state,
        })
        if after is not UNSET:
            field_dict["after"] = after
        if part is not UNSET:
            field_dict["part"] = part
        if resource_type is not UNSET:
            field_dict["resource_type"] = resource_type

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        attempts = d.pop("attempts")

        correlation_id = d.pop("correlation_id")

        draft_id = d.pop("draft_id")

        def _parse_ehr_resource(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        ehr_resource = _parse_ehr_resource(d.pop("ehr_resource"))


        def _parse_ehr_version(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        ehr_version = _parse_ehr_version(d.pop("ehr_version"))


        escalated = d.pop("escalated")

        id = d.pop("id")

        kind = d.pop("kind")

        def _parse_last_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        last_reason = _parse_last_reason(d.pop("last_reason"))


        def _parse_last_status(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        last_status = _parse_last_status(d.pop("last_status"))


        note_in_chart = d.pop("note_in_chart")

        payload_hash = d.pop("payload_hash")

        def _parse_provenance(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        provenance = _parse_provenance(d.pop("provenance"))


        state = d.pop("state")

        def _parse_after(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        after = _parse_after(d.pop("after", UNSET))


        part = d.pop("part", UNSET)

        resource_type = d.pop("resource_type", UNSET)

        writeback = cls(
            attempts=attempts,
            correlation_id=correlation_id,
            draft_id=draft_id,
            ehr_resource=ehr_resource,
            ehr_version=ehr_version,
            escalated=escalated,
            id=id,
            kind=kind,
            last_reason=last_reason,
            last_status=last_status,
            note_in_chart=note_in_chart,
            payload_hash=payload_hash,
            provenance=provenance,
            state=state,
            after=after,
            part=part,
            resource_type=resource_type,
        )

        return writeback

