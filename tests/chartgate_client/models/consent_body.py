from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.consent_method import ConsentMethod
from ..models.consenter import Consenter
from ..models.recording_scope import RecordingScope
from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="ConsentBody")



@_attrs_define
class ConsentBody:
    """ Consent evidence for one encounter.

        Attributes:
            captured_by (str):
            consented_at (datetime.datetime):
            consenter (Consenter): Who gave consent.
            encounter (str):
            jurisdiction (str):
            method (ConsentMethod): How consent was given.
            patient (str):
            scope (list[RecordingScope]):
            session (None | str | Unset):
     """

    captured_by: str
    consented_at: datetime.datetime
    consenter: Consenter
    encounter: str
    jurisdiction: str
    method: ConsentMethod
    patient: str
    scope: list[RecordingScope]
    session: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        captured_by = self.captured_by

        consented_at = self.consented_at.isoformat()

        consenter = self.consenter.value

        encounter = self.encounter

        jurisdiction = self.jurisdiction

        method = self.method.value

        patient = self.patient

        scope = []
        for scope_item_data in self.scope:
            scope_item = scope_item_data.value
            scope.append(scope_item)



        session: None | str | Unset
        if isinstance(self.session, Unset):
            session = UNSET
        else:
            session = self.session


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "captured_by": captured_by,
            "consented_at": consented_at,
            "consenter": consenter,
            "encounter": encounter,
            "jurisdiction": jurisdiction,
            "method": method,
            "patient": patient,
            "scope": scope,
        })
        if session is not UNSET:
            field_dict["session"] = session

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        captured_by = d.pop("captured_by")

        consented_at = datetime.datetime.fromisoformat(d.pop("consented_at"))




        consenter = Consenter(d.pop("consenter"))




        encounter = d.pop("encounter")

        jurisdiction = d.pop("jurisdiction")

        method = ConsentMethod(d.pop("method"))




        patient = d.pop("patient")

        scope = []
        _scope = d.pop("scope")
        for scope_item_data in (_scope):
            scope_item = RecordingScope(scope_item_data)



            scope.append(scope_item)


        def _parse_session(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        session = _parse_session(d.pop("session", UNSET))


        consent_body = cls(
            captured_by=captured_by,
            consented_at=consented_at,
            consenter=consenter,
            encounter=encounter,
            jurisdiction=jurisdiction,
            method=method,
            patient=patient,
            scope=scope,
            session=session,
        )

        return consent_body

