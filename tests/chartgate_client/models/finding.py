from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.finding_severity import FindingSeverity






T = TypeVar("T", bound="Finding")



@_attrs_define
class Finding:
    """ One validation finding (``code@location`` is its ``key``).

        Attributes:
            code (str):
            key (str):
            location (str):
            message (str):
            severity (FindingSeverity):
            stage (str):
     """

    code: str
    key: str
    location: str
    message: str
    severity: FindingSeverity
    stage: str





    def to_dict(self) -> dict[str, Any]:
        code = self.code

        key = self.key

        location = self.location

        message = self.message

        severity = self.severity.value

        stage = self.stage


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "code": code,
            "key": key,
            "location": location,
            "message": message,
            "severity": severity,
            "stage": stage,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        code = d.pop("code")

        key = d.pop("key")

        location = d.pop("location")

        message = d.pop("message")

        severity = FindingSeverity(d.pop("severity"))




        stage = d.pop("stage")

        finding = cls(
            code=code,
            key=key,
            location=location,
            message=message,
            severity=severity,
            stage=stage,
        )

        return finding

