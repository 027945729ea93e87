from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.status_status import StatusStatus






T = TypeVar("T", bound="Status")



@_attrs_define
class Status:
    """ Liveness or readiness.

        Attributes:
            status (StatusStatus):
     """

    status: StatusStatus





    def to_dict(self) -> dict[str, Any]:
        status = self.status.value


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "status": status,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        status = StatusStatus(d.pop("status"))




        status = cls(
            status=status,
        )

        return status

