from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="Checkpoint")



@_attrs_define
class Checkpoint:
    """ A signed checkpoint (C2SP tlog-checkpoint) of the tenant's log.

        Attributes:
            note (str):
            origin (str):
            root (str):
            signed_at (str):
            size (int):
            vkey (str):
     """

    note: str
    origin: str
    root: str
    signed_at: str
    size: int
    vkey: str





    def to_dict(self) -> dict[str, Any]:
        note = self.note

        origin = self.origin

        root = self.root

        signed_at = self.signed_at

        size = self.size

        vkey = self.vkey


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "note": note,
            "origin": origin,
            "root": root,
            "signed_at": signed_at,
            "size": size,
            "vkey": vkey,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        note = d.pop("note")

        origin = d.pop("origin")

        root = d.pop("root")

        signed_at = d.pop("signed_at")

        size = d.pop("size")

        vkey = d.pop("vkey")

        checkpoint = cls(
            note=note,
            origin=origin,
            root=root,
            signed_at=signed_at,
            size=size,
            vkey=vkey,
        )

        return checkpoint

