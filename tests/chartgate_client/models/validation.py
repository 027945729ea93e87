from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.finding import Finding





T = TypeVar("T", bound="Validation")



@_attrs_define
class Validation:
    """ ``POST /v1/drafts/{id}/validate``: would approval pass now, and why not.

        Attributes:
            accepted (bool):
            acknowledged (list[str]):
            blocking (list[str]):
            draft_id (str):
            findings (list[Finding]):
            version (int):
     """

    accepted: bool
    acknowledged: list[str]
    blocking: list[str]
    draft_id: str
    findings: list[Finding]
    version: int





    def to_dict(self) -> dict[str, Any]:
        from ..models.finding import Finding # noqa: PLC0415
        accepted = self.accepted

        acknowledged = self.acknowledged



        blocking = self.blocking



        draft_id = self.draft_id

        findings = []
        for findings_item_data in self.findings:
            findings_item = findings_item_data.to_dict()
            findings.append(findings_item)



        version = self.version


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "accepted": accepted,
            "acknowledged": acknowledged,
            "blocking": blocking,
            "draft_id": draft_id,
            "findings": findings,
            "version": version,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.finding import Finding # noqa: PLC0415
        d = dict(src_dict)
        accepted = d.pop("accepted")

        acknowledged = cast(list[str], d.pop("acknowledged"))


        blocking = cast(list[str], d.pop("blocking"))


        draft_id = d.pop("draft_id")

        findings = []
        _findings = d.pop("findings")
        for findings_item_data in (_findings):
            findings_item = Finding.from_dict(findings_item_data)



            findings.append(findings_item)


        version = d.pop("version")

        validation = cls(
            accepted=accepted,
            acknowledged=acknowledged,
            blocking=blocking,
            draft_id=draft_id,
            findings=findings,
            version=version,
        )

        return validation

