from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.ledger_entry import LedgerEntry





T = TypeVar("T", bound="AuditEvents")



@_attrs_define
class AuditEvents:
    """ A page of the tenant's ledger.

        Attributes:
            events (list[LedgerEntry]):
            next_after_seq (int | None):
            origin (str):
     """

    events: list[LedgerEntry]
    next_after_seq: int | None
    origin: str





    def to_dict(self) -> dict[str, Any]:
        from ..models.ledger_entry import LedgerEntry # noqa: PLC0415
        events = []
        for events_item_data in self.events:
            events_item = events_item_data.to_dict()
            events.append(events_item)



        next_after_seq: int | None
        next_after_seq = self.next_after_seq

        origin = self.origin


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "events": events,
            "next_after_seq": next_after_seq,
            "origin": origin,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.ledger_entry import LedgerEntry # noqa: PLC0415
        d = dict(src_dict)
        events = []
        _events = d.pop("events")
        for events_item_data in (_events):
            events_item = LedgerEntry.from_dict(events_item_data)



            events.append(events_item)


        def _parse_next_after_seq(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        next_after_seq = _parse_next_after_seq(d.pop("next_after_seq"))


        origin = d.pop("origin")

        audit_events = cls(
            events=events,
            next_after_seq=next_after_seq,
            origin=origin,
        )

        return audit_events

