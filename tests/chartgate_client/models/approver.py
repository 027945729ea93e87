from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="Approver")



@_attrs_define
class Approver:
    """ Who approved, and how strongly they had signed in.

        Attributes:
            acr (None | str):
            amr (list[str]):
            fhir_user (None | str):
            subject (str):
     """

    acr: None | str
    amr: list[str]
    fhir_user: None | str
    subject: str





    def to_dict(self) -> dict[str, Any]:
        acr: None | str
        acr = self.acr

        amr = self.amr



        fhir_user: None | str
        fhir_user = self.fhir_user

        subject = self.subject


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "acr": acr,
            "amr": amr,
            "fhir_user": fhir_user,
            "subject": subject,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_acr(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        acr = _parse_acr(d.pop("acr"))


        amr = cast(list[str], d.pop("amr"))


        def _parse_fhir_user(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        fhir_user = _parse_fhir_user(d.pop("fhir_user"))


        subject = d.pop("subject")

        approver = cls(
            acr=acr,
            amr=amr,
            fhir_user=fhir_user,
            subject=subject,
        )

        return approver

