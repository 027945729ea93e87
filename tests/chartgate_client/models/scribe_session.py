from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="ScribeSession")



@_attrs_define
class ScribeSession:
    """ An open scribe session (issue 17): the scribe names ``id`` on every context read.

        Attributes:
            encounter (str):
            expires_at (str):
            id (str):
            patient (str):
            scribe_client (str):
            template (str):
     """

    encounter: str
    expires_at: str
    id: str
    patient: str
    scribe_client: str
    template: str





    def to_dict(self) -> dict[str, Any]:
        encounter = self.encounter

        expires_at = self.expires_at

        id = self.id

        patient = self.patient

        scribe_client = self.scribe_client

        template = self.template


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "encounter": encounter,
            "expires_at": expires_at,
            "id": id,
            "patient": patient,
            "scribe_client": scribe_client,
            "template": template,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        encounter = d.pop("encounter")

        expires_at = d.pop("expires_at")

        id = d.pop("id")

        patient = d.pop("patient")

        scribe_client = d.pop("scribe_client")

        template = d.pop("template")

        scribe_session = cls(
            encounter=encounter,
            expires_at=expires_at,
            id=id,
            patient=patient,
            scribe_client=scribe_client,
            template=template,
        )

        return scribe_session

