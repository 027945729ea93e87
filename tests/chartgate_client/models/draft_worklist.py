from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.draft_item import DraftItem





T = TypeVar("T", bound="DraftWorklist")



@_attrs_define
class DraftWorklist:
    """ A page of a clinician's worklist.

        Attributes:
            drafts (list[DraftItem]):
            next_cursor (None | str):
     """

    drafts: list[DraftItem]
    next_cursor: None | str





    def to_dict(self) -> dict[str, Any]:
        from ..models.draft_item import DraftItem # noqa: PLC0415
        drafts = []
        for drafts_item_data in self.drafts:
            drafts_item = drafts_item_data.to_dict()
            drafts.append(drafts_item)



        next_cursor: None | str
        next_cursor = self.next_cursor


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "drafts": drafts,
            "next_cursor": next_cursor,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.draft_item import DraftItem # noqa: PLC0415
        d = dict(src_dict)
        drafts = []
        _drafts = d.pop("drafts")
        for drafts_item_data in (_drafts):
            drafts_item = DraftItem.from_dict(drafts_item_data)



            drafts.append(drafts_item)


        def _parse_next_cursor(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        next_cursor = _parse_next_cursor(d.pop("next_cursor"))


        draft_worklist = cls(
            drafts=drafts,
            next_cursor=next_cursor,
        )

        return draft_worklist

