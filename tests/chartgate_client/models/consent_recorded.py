from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="ConsentRecorded")



@_attrs_define
class ConsentRecorded:
    """ A stored consent record: its id and the digest approvals and Provenance carry.

        Attributes:
            digest (str):
            id (str):
            recorded_at (str):
     """

    digest: str
    id: str
    recorded_at: str





    def to_dict(self) -> dict[str, Any]:
        digest = self.digest

        id = self.id

        recorded_at = self.recorded_at


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "digest": digest,
            "id": id,
            "recorded_at": recorded_at,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        digest = d.pop("digest")

        id = d.pop("id")

        recorded_at = d.pop("recorded_at")

        consent_recorded = cls(
            digest=digest,
            id=id,
            recorded_at=recorded_at,
        )

        return consent_recorded

