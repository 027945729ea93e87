from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="DraftItem")



@_attrs_define
class DraftItem:
    """ One line of a clinician's worklist.

        Attributes:
            created_at (str):
            encounter (str):
            id (str):
            patient (str):
            state (str):
            updated_at (str):
     """

    created_at: str
    encounter: str
    id: str
    patient: str
    state: str
    updated_at: str





    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        encounter = self.encounter

        id = self.id

        patient = self.patient

        state = self.state

        updated_at = self.updated_at


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "created_at": created_at,
            "encounter": encounter,
            "id": id,
            "patient": patient,
            "state": state,
            "updated_at": updated_at,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        created_at = d.pop("created_at")

        encounter = d.pop("encounter")

        id = d.pop("id")

        patient = d.pop("patient")

        state = d.pop("state")

        updated_at = d.pop("updated_at")

        draft_item = cls(
            created_at=created_at,
            encounter=encounter,
            id=id,
            patient=patient,
            state=state,
            updated_at=updated_at,
        )

        return draft_item

