from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.readiness_status import ReadinessStatus
from typing import cast

if TYPE_CHECKING:
  from ..models.readiness_checks import ReadinessChecks





T = TypeVar("T", bound="Readiness")



@_attrs_define
class Readiness:
    """ Readiness: each check's verdict (``ok`` or a short word saying what is wrong).

        Attributes:
            checks (ReadinessChecks):
            status (ReadinessStatus):
     """

    checks: ReadinessChecks
    status: ReadinessStatus





    def to_dict(self) -> dict[str, Any]:
        from ..models.readiness_checks import ReadinessChecks # noqa: PLC0415
        checks = self.checks.to_dict()

        status = self.status.value


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "checks": checks,
            "status": status,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.readiness_checks import ReadinessChecks # noqa: PLC0415
        d = dict(src_dict)
        checks = ReadinessChecks.from_dict(d.pop("checks"))




        status = ReadinessStatus(d.pop("status"))




        readiness = cls(
            checks=checks,
            status=status,
        )

        return readiness

