from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="LedgerKey")



@_attrs_define
class LedgerKey:
    """ A checkpoint verifier key to pin.

        Attributes:
            key_id (str):
            name (str):
            vkey (str):
     """

    key_id: str
    name: str
    vkey: str





    def to_dict(self) -> dict[str, Any]:
        key_id = self.key_id

        name = self.name

        vkey = self.vkey


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "key_id": key_id,
            "name": name,
            "vkey": vkey,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        key_id = d.pop("key_id")

        name = d.pop("name")

        vkey = d.pop("vkey")

        ledger_key = cls(
            key_id=key_id,
            name=name,
            vkey=vkey,
        )

        return ledger_key

