from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.approver import Approver
  from ..models.diff import Diff





T = TypeVar("T", bound="Approval")



@_attrs_define
class Approval:
    """ One approval (approve, finalize, amend or retract).

        Attributes:
            approved_at (str):
            approver (Approver): Who approved, and how strongly they had signed in.
            content_hash (str):
            diff (Diff): What changed between two versions: unified text diff and RFC 6902 JSON Patch.
            id (str):
            kind (str):
            policy_hash (str):
            version (int):
            writeback_id (str):
     """

    approved_at: str
    approver: Approver
    content_hash: str
    diff: Diff
    id: str
    kind: str
    policy_hash: str
    version: int
    writeback_id: str





    def to_dict(self) -> dict[str, Any]:
        from ..models.approver import Approver # noqa: PLC0415
        from ..models.diff import Diff # noqa: PLC0415
        approved_at = self.approved_at

        approver = self.approver.to_dict()

        content_hash = self.content_hash

        diff = self.diff.to_dict()

        id = self.id

        kind = self.kind

        policy_hash = self.policy_hash

        version = self.version

        writeback_id = self.writeback_id


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "approved_at": approved_at,
            "approver": approver,
            "content_hash": content_hash,
            "diff": diff,
            "id": id,
            "kind": kind,
            "policy_hash": policy_hash,
            "version": version,
            "writeback_id": writeback_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.approver import Approver # noqa: PLC0415
        from ..models.diff import Diff # noqa: PLC0415
        d = dict(src_dict)
        approved_at = d.pop("approved_at")

        approver = Approver.from_dict(d.pop("approver"))




        content_hash = d.pop("content_hash")

        diff = Diff.from_dict(d.pop("diff"))




        id = d.pop("id")

        kind = d.pop("kind")

        policy_hash = d.pop("policy_hash")

        version = d.pop("version")

        writeback_id = d.pop("writeback_id")

        approval = cls(
            approved_at=approved_at,
            approver=approver,
            content_hash=content_hash,
            diff=diff,
            id=id,
            kind=kind,
            policy_hash=policy_hash,
            version=version,
            writeback_id=writeback_id,
        )

        return approval

