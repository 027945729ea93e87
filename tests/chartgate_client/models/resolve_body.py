from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.resolve_body_action import ResolveBodyAction
from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="ResolveBody")



@_attrs_define
class ResolveBody:
    """ ``POST /v1/writebacks/{id}/resolve``: a person's decision on a parked write-back.

        Attributes:
            action (ResolveBodyAction):
            document (None | str | Unset):
     """

    action: ResolveBodyAction
    document: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        action = self.action.value

        document: None | str | Unset
        if isinstance(self.document, Unset):
            document = UNSET
        else:
            document = self.document


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "action": action,
        })
        if document is not UNSET:
            field_dict["document"] = document

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        action = ResolveBodyAction(d.pop("action"))




        def _parse_document(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        document = _parse_document(d.pop("document", UNSET))


        resolve_body = cls(
            action=action,
            document=document,
        )

        return resolve_body

