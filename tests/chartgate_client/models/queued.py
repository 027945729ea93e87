from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.draft import Draft
  from ..models.writeback import Writeback





T = TypeVar("T", bound="Queued")



@_attrs_define
class Queued:
    """ Approve, finalize, amend, retract: the draft and the write-back now queued.

        Attributes:
            draft (Draft): A draft with its versions; reads add findings, approvals and write-backs.
            writeback (Writeback): One write-back's status: state, the EHR's resource and version, Provenance.
     """

    draft: Draft
    writeback: Writeback





    def to_dict(self) -> dict[str, Any]:
        from ..models.draft import Draft # noqa: PLC0415
        from ..models.writeback import Writeback # noqa: PLC0415
        draft = self.draft.to_dict()

        writeback = self.writeback.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "draft": draft,
            "writeback": writeback,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.draft import Draft # noqa: PLC0415
        from ..models.writeback import Writeback # noqa: PLC0415
        d = dict(src_dict)
        draft = Draft.from_dict(d.pop("draft"))




        writeback = Writeback.from_dict(d.pop("writeback"))




        queued = cls(
            draft=draft,
            writeback=writeback,
        )

        return queued

