from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.ledger_key import LedgerKey





T = TypeVar("T", bound="LedgerKeys")



@_attrs_define
class LedgerKeys:
    """ ``/.well-known/chartgate-ledger-keys``.

        Attributes:
            checkpoint_format (str):
            hashing (str):
            keys (list[LedgerKey]):
            origin_template (str):
     """

    checkpoint_format: str
    hashing: str
    keys: list[LedgerKey]
    origin_template: str





    def to_dict(self) -> dict[str, Any]:
        from ..models.ledger_key import LedgerKey # noqa: PLC0415
        checkpoint_format = self.checkpoint_format

        hashing = self.hashing

        keys = []
        for keys_item_data in self.keys:
            keys_item = keys_item_data.to_dict()
            keys.append(keys_item)



        origin_template = self.origin_template


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "checkpoint_format": checkpoint_format,
            "hashing": hashing,
            "keys": keys,
            "origin_template": origin_template,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.ledger_key import LedgerKey # noqa: PLC0415
        d = dict(src_dict)
        checkpoint_format = d.pop("checkpoint_format")

        hashing = d.pop("hashing")

        keys = []
        _keys = d.pop("keys")
        for keys_item_data in (_keys):
            keys_item = LedgerKey.from_dict(keys_item_data)



            keys.append(keys_item)


        origin_template = d.pop("origin_template")

        ledger_keys = cls(
            checkpoint_format=checkpoint_format,
            hashing=hashing,
            keys=keys,
            origin_template=origin_template,
        )

        return ledger_keys

