from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.diff_with_findings_json_patch_item import DiffWithFindingsJsonPatchItem
  from ..models.finding import Finding





T = TypeVar("T", bound="DiffWithFindings")



@_attrs_define
class DiffWithFindings:
    """ ``GET /v1/drafts/{id}/diff``: the diff and the current version's findings.

        Attributes:
            changed (bool):
            findings (list[Finding]):
            from_version (int):
            json_patch (list[DiffWithFindingsJsonPatchItem]):
            lines_added (int):
            lines_removed (int):
            to_version (int):
            unified (str):
     """

    changed: bool
    findings: list[Finding]
    from_version: int
    json_patch: list[DiffWithFindingsJsonPatchItem]
    lines_added: int
    lines_removed: int
    to_version: int
    unified: str





    def to_dict(self) -> dict[str, Any]:
        from ..models.diff_with_findings_json_patch_item import DiffWithFindingsJsonPatchItem # noqa: PLC0415
        from ..models.finding import Finding # noqa: PLC0415
        changed = self.changed

        findings = []
        for findings_item_data in self.findings:
            findings_item = findings_item_data.to_dict()
            findings.append(findings_item)



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
            "findings": findings,
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
        from ..models.diff_with_findings_json_patch_item import DiffWithFindingsJsonPatchItem # noqa: PLC0415
        from ..models.finding import Finding # noqa: PLC0415
        d = dict(src_dict)
        changed = d.pop("changed")

        findings = []
        _findings = d.pop("findings")
        for findings_item_data in (_findings):
            findings_item = Finding.from_dict(findings_item_data)



            findings.append(findings_item)


        from_version = d.pop("from_version")

        json_patch = []
        _json_patch = d.pop("json_patch")
        for json_patch_item_data in (_json_patch):
            json_patch_item = DiffWithFindingsJsonPatchItem.from_dict(json_patch_item_data)



            json_patch.append(json_patch_item)


        lines_added = d.pop("lines_added")

        lines_removed = d.pop("lines_removed")

        to_version = d.pop("to_version")

        unified = d.pop("unified")

        diff_with_findings = cls(
            changed=changed,
            findings=findings,
            from_version=from_version,
            json_patch=json_patch,
            lines_added=lines_added,
            lines_removed=lines_removed,
            to_version=to_version,
            unified=unified,
        )

        return diff_with_findings

