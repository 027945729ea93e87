from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.note import Note
  from ..models.version_edit_resources_item import VersionEditResourcesItem





T = TypeVar("T", bound="VersionEdit")



@_attrs_define
class VersionEdit:
    """ ``PUT /v1/drafts/{id}``: the clinician's edited content (a new version).

        Attributes:
            note (Note): The narrative note: LOINC type, title, content type and text.
            resources (list[VersionEditResourcesItem] | Unset):
     """

    note: Note
    resources: list[VersionEditResourcesItem] | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.note import Note # noqa: PLC0415
        from ..models.version_edit_resources_item import VersionEditResourcesItem # noqa: PLC0415
        note = self.note.to_dict()

        resources: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.resources, Unset):
            resources = []
            for resources_item_data in self.resources:
                resources_item = resources_item_data.to_dict()
                resources.append(resources_item)




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "note": note,
        })
        if resources is not UNSET:
            field_dict["resources"] = resources

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.note import Note # noqa: PLC0415
        from ..models.version_edit_resources_item import VersionEditResourcesItem # noqa: PLC0415
        d = dict(src_dict)
        note = Note.from_dict(d.pop("note"))




        _resources = d.pop("resources", UNSET)
        resources: list[VersionEditResourcesItem] | Unset = UNSET
        if _resources is not UNSET:
            resources = []
            for resources_item_data in _resources:
                resources_item = VersionEditResourcesItem.from_dict(resources_item_data)



                resources.append(resources_item)


        version_edit = cls(
            note=note,
            resources=resources,
        )

        return version_edit

