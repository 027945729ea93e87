from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.diff_json_patch_item import DiffJsonPatchItem





T = TypeVar("T", bound="Diff")



@_attrs_define
class Diff:
    """ What changed between two versions: unified text diff and RFC 6902 JSON Patch.

        Attributes:
            changed (bool):
            from_version (int):
            json_patch (list[DiffJsonPatchItem]):
            lines_added (int):
            lines_removed (int):
            to_version (int):
            unified (str):
     """

    changed: bool
    from_version: int
    json_patch: list[DiffJsonPatchItem]
    lines_added: int
    lines_removed: int
    to_version: int
    unified: str





    def to_dict(self) -> dict[str, Any]:
        from ..models.diff_json_patch_item import DiffJsonPatchItem # noqa: PLC0415
        changed = self.changed

        from_version = self.from_version

        json_patch = []
        for json_patch_item_data in self.json_patch:
            json_patch_item = json_patch_item_data.to_dict()
            json_patch.append(json_patch_item)



        lines_added = self.lines_added

        lines_removed = self.lines_removed

        to_version = self.to_version

        unified = self.unified


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "changed": changed,
            "from_version": from_version,
            "json_patch": json_patch,
            "lines_added": lines_added,
            "lines_removed": lines_removed,
            "to_version": to_version,
            "unified": unified,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.diff_json_patch_item import DiffJsonPatchItem # noqa: PLC0415
        d = dict(src_dict)
        changed = d.pop("changed")

        from_version = d.pop("from_version")

        json_patch = []
        _json_patch = d.pop("json_patch")
        for json_patch_item_data in (_json_patch):
            json_patch_item = DiffJsonPatchItem.from_dict(json_patch_item_data)



            json_patch.append(json_patch_item)


        lines_added = d.pop("lines_added")

        lines_removed = d.pop("lines_removed")

        to_version = d.pop("to_version")

        unified = d.pop("unified")

        diff = cls(
            changed=changed,
            from_version=from_version,
            json_patch=json_patch,
            lines_added=lines_added,
            lines_removed=lines_removed,
            to_version=to_version,
            unified=unified,
        )

        return diff

