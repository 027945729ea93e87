from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.writeback_item import WritebackItem





T = TypeVar("T", bound="WritebackWorklist")



@_attrs_define
class WritebackWorklist:
    """ A page of the operators' worklist.

        Attributes:
            next_cursor (None | str):
            writebacks (list[WritebackItem]):
     """

    next_cursor: None | str
    writebacks: list[WritebackItem]





    def to_dict(self) -> dict[str, Any]:
        from ..models.writeback_item import WritebackItem # noqa: PLC0415
        next_cursor: None | str
        next_cursor = self.next_cursor

        writebacks = []
        for writebacks_item_data in self.writebacks:
            writebacks_item = writebacks_item_data.to_dict()
            writebacks.append(writebacks_item)




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "next_cursor": next_cursor,
            "writebacks": writebacks,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.writeback_item import WritebackItem # noqa: PLC0415
        d = dict(src_dict)
        def _parse_next_cursor(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        next_cursor = _parse_next_cursor(d.pop("next_cursor"))


        writebacks = []
        _writebacks = d.pop("writebacks")
        for writebacks_item_data in (_writebacks):
            writebacks_item = WritebackItem.from_dict(writebacks_item_data)



            writebacks.append(writebacks_item)


        writeback_worklist = cls(
            next_cursor=next_cursor,
            writebacks=writebacks,
        )

        return writeback_worklist

