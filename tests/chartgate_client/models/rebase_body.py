from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.rebase_body_baseline import RebaseBodyBaseline





T = TypeVar("T", bound="RebaseBody")



@_attrs_define
class RebaseBody:
    """ ``POST /v1/drafts/{id}/rebase``: the chart versions the new version is made against.

        Attributes:
            baseline (RebaseBodyBaseline):
     """

    baseline: RebaseBodyBaseline





    def to_dict(self) -> dict[str, Any]:
        from ..models.rebase_body_baseline import RebaseBodyBaseline # noqa: PLC0415
        baseline = self.baseline.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "baseline": baseline,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.rebase_body_baseline import RebaseBodyBaseline # noqa: PLC0415
        d = dict(src_dict)
        baseline = RebaseBodyBaseline.from_dict(d.pop("baseline"))




        rebase_body = cls(
            baseline=baseline,
        )

        return rebase_body

