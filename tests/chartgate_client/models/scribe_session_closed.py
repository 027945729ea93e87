from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="ScribeSessionClosed")



@_attrs_define
class ScribeSessionClosed:
    """ A scribe session ended before its expiry: every later read in it is refused.

        Attributes:
            closed_at (str):
            closed_by (str):
            id (str):
     """

    closed_at: str
    closed_by: str
    id: str





    def to_dict(self) -> dict[str, Any]:
        closed_at = self.closed_at

        closed_by = self.closed_by

        id = self.id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "closed_at": closed_at,
            "closed_by": closed_by,
            "id": id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        closed_at = d.pop("closed_at")

        closed_by = d.pop("closed_by")

        id = d.pop("id")

        scribe_session_closed = cls(
            closed_at=closed_at,
            closed_by=closed_by,
            id=id,
        )

        return scribe_session_closed

