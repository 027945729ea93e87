from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.note import Note
  from ..models.version_resources_item import VersionResourcesItem





T = TypeVar("T", bound="Version")



@_attrs_define
class Version:
    """ One saved version of a draft, with its content.

        Attributes:
            author (str):
            content_hash (str):
            created_at (str):
            note (Note): The narrative note: LOINC type, title, content type and text.
            number (int):
            resources (list[VersionResourcesItem]):
     """

    author: str
    content_hash: str
    created_at: str
    note: Note
    number: int
    resources: list[VersionResourcesItem]





    def to_dict(self) -> dict[str, Any]:
        from ..models.note import Note # noqa: PLC0415
        from ..models.version_resources_item import VersionResourcesItem # noqa: PLC0415
        author = self.author

        content_hash = self.content_hash

        created_at = self.created_at

        note = self.note.to_dict()

        number = self.number

        resources = []
        for resources_item_data in self.resources:
            resources_item = resources_item_data.to_dict()
            resources.append(resources_item)




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "author": author,
            "content_hash": content_hash,
            "created_at": created_at,
            "note": note,
            "number": number,
            "resources": resources,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.note import Note # noqa: PLC0415
        from ..models.version_resources_item import VersionResourcesItem # noqa: PLC0415
        d = dict(src_dict)
        author = d.pop("author")

        content_hash = d.pop("content_hash")

        created_at = d.pop("created_at")

        note = Note.from_dict(d.pop("note"))




        number = d.pop("number")

        resources = []
        _resources = d.pop("resources")
        for resources_item_data in (_resources):
            resources_item = VersionResourcesItem.from_dict(resources_item_data)



            resources.append(resources_item)


        version = cls(
            author=author,
            content_hash=content_hash,
            created_at=created_at,
            note=note,
            number=number,
            resources=resources,
        )

        return version

