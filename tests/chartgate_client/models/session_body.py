from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="SessionBody")



@_attrs_define
class SessionBody:
    """ What a clinician names to open a scribe session.

        Attributes:
            encounter (str):
            patient (str):
            scribe_client (str):
            template (str):
            ttl_seconds (int | None | Unset):
     """

    encounter: str
    patient: str
    scribe_client: str
    template: str
    ttl_seconds: int | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        encounter = self.encounter

        patient = self.patient

        scribe_client = self.scribe_client

        template = self.template

        ttl_seconds: int | None | Unset
        if isinstance(self.ttl_seconds, Unset):
            ttl_seconds = UNSET
        else:
            ttl_seconds = self.ttl_seconds


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "encounter": encounter,
            "patient": patient,
            "scribe_client": scribe_client,
            "template": template,
        })
        if ttl_seconds is not UNSET:
            field_dict["ttl_seconds"] = ttl_seconds

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        encounter = d.pop("encounter")

        patient = d.pop("patient")

        scribe_client = d.pop("scribe_client")

        template = d.pop("template")

        def _parse_ttl_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        ttl_seconds = _parse_ttl_seconds(d.pop("ttl_seconds", UNSET))


        session_body = cls(
            encounter=encounter,
            patient=patient,
            scribe_client=scribe_client,
            template=template,
            ttl_seconds=ttl_seconds,
        )

        return session_body

