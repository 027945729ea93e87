from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="WritebackItem")



@_attrs_define
class WritebackItem:
    """ One write-back of the operators' worklist: ids and states only.

        Attributes:
            attempts (int):
            created_at (str):
            draft_id (str):
            escalated (bool):
            held (bool):
            id (str):
            kind (str):
            last_status (int | None):
            state (str):
            updated_at (str):
     """

    attempts: int
    created_at: str
    draft_id: str
    escalated: bool
    held: bool
    id: str
    kind: str
    last_status: int | None
    state: str
    updated_at: str





    def to_dict(self) -> dict[str, Any]:
        attempts = self.attempts

        created_at = self.created_at

        draft_id = self.draft_id

        escalated = self.escalated

        held = self.held

        id = self.id

        kind = self.kind

        last_status: int | None
        last_status = self.last_status

        state = self.state

        updated_at = self.updated_at


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "attempts": attempts,
            "created_at": created_at,
            "draft_id": draft_id,
            "escalated": escalated,
            "held": held,
            "id": id,
            "kind": kind,
            "last_status": last_status,
            "state": state,
            "updated_at": updated_at,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        attempts = d.pop("attempts")

        created_at = d.pop("created_at")

        draft_id = d.pop("draft_id")

        escalated = d.pop("escalated")

        held = d.pop("held")

        id = d.pop("id")

        kind = d.pop("kind")

        def _parse_last_status(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        last_status = _parse_last_status(d.pop("last_status"))


        state = d.pop("state")

        updated_at = d.pop("updated_at")

        writeback_item = cls(
            attempts=attempts,
            created_at=created_at,
            draft_id=draft_id,
            escalated=escalated,
            held=held,
            id=id,
            kind=kind,
            last_status=last_status,
            state=state,
            updated_at=updated_at,
        )

        return writeback_item

