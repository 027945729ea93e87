from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.ledger_entry_event import LedgerEntryEvent





T = TypeVar("T", bound="LedgerEntry")



@_attrs_define
class LedgerEntry:
    """ One sealed ledger event: position, RFC 9162 leaf hash, the event.

        Attributes:
            event (LedgerEntryEvent):
            leaf_hash (str):
            seq (int):
     """

    event: LedgerEntryEvent
    leaf_hash: str
    seq: int





    def to_dict(self) -> dict[str, Any]:
        from ..models.ledger_entry_event import LedgerEntryEvent # noqa: PLC0415
        event = self.event.to_dict()

        leaf_hash = self.leaf_hash

        seq = self.seq


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "event": event,
            "leaf_hash": leaf_hash,
            "seq": seq,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.ledger_entry_event import LedgerEntryEvent # noqa: PLC0415
        d = dict(src_dict)
        event = LedgerEntryEvent.from_dict(d.pop("event"))




        leaf_hash = d.pop("leaf_hash")

        seq = d.pop("seq")

        ledger_entry = cls(
            event=event,
            leaf_hash=leaf_hash,
            seq=seq,
        )

        return ledger_entry

