from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.retract_body_reason import RetractBodyReason






T = TypeVar("T", bound="RetractBody")



@_attrs_define
class RetractBody:
    """ ``POST /v1/writebacks/{id}/retract``: why (a code, never free text).

        Attributes:
            reason (RetractBodyReason):
     """

    reason: RetractBodyReason





    def to_dict(self) -> dict[str, Any]:
        reason = self.reason.value


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "reason": reason,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        reason = RetractBodyReason(d.pop("reason"))




        retract_body = cls(
            reason=reason,
        )

        return retract_body

