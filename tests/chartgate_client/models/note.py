from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.note_content_type import NoteContentType
from ..types import UNSET, Unset






T = TypeVar("T", bound="Note")



@_attrs_define
class Note:
    """ The narrative note: LOINC type, title, content type and text.

        Attributes:
            text (str):
            title (str):
            type_ (str):
            content_type (NoteContentType | Unset):  Default: NoteContentType.TEXTPLAIN.
     """

    text: str
    title: str
    type_: str
    content_type: NoteContentType | Unset = NoteContentType.TEXTPLAIN





    def to_dict(self) -> dict[str, Any]:
        text = self.text

        title = self.title

        type_ = self.type_

        content_type: str | Unset = UNSET
        if not isinstance(self.content_type, Unset):
            content_type = self.content_type.value



        field_dict: dict[str, Any] = {}

        field_dict.update({
            "text": text,
            "title": title,
            "type": type_,
        })
        if content_type is not UNSET:
            field_dict["content_type"] = content_type

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        text = d.pop("text")

        title = d.pop("title")

        type_ = d.pop("type")

        _content_type = d.pop("content_type", UNSET)
        content_type: NoteContentType | Unset
        if isinstance(_content_type,  Unset):
            content_type = UNSET
        else:
            content_type = NoteContentType(_content_type)




        note = cls(
            text=text,
            title=title,
            type_=type_,
            content_type=content_type,
        )

        return note

