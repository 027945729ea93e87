from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.writeback import Writeback





T = TypeVar("T", bound="Resolved")



@_attrs_define
class Resolved:
    """ ``POST /v1/writebacks/{id}/resolve``: the write-back after a person's decision.

        Attributes:
            writeback (Writeback): One write-back's status: state, the EHR's resource and version, Provenance.
     """

    writeback: Writeback





    def to_dict(self) -> dict[str, Any]:
        from ..models.writeback import Writeback # noqa: PLC0415
        writeback = self.writeback.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "writeback": writeback,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.writeback import Writeback # noqa: PLC0415
        d = dict(src_dict)
        writeback = Writeback.from_dict(d.pop("writeback"))




        resolved = cls(
            writeback=writeback,
        )

        return resolved

