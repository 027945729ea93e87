from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.mode import Mode
from ..models.scope import Scope
from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="EngageBody")



@_attrs_define
class EngageBody:
    """ ``POST /v1/admin/killswitches``: what to stop, where, and why (no patient data).

        Attributes:
            mode (Mode): What a switch stops.
            reason (str):
            scope (Scope): What a switch covers.
            value (None | str | Unset):
     """

    mode: Mode
    reason: str
    scope: Scope
    value: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        mode = self.mode.value

        reason = self.reason

        scope = self.scope.value

        value: None | str | Unset
        if isinstance(self.value, Unset):
            value = UNSET
        else:
            value = self.value


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "mode": mode,
            "reason": reason,
            "scope": scope,
        })
        if value is not UNSET:
            field_dict["value"] = value

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        mode = Mode(d.pop("mode"))




        reason = d.pop("reason")

        scope = Scope(d.pop("scope"))




        def _parse_value(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        value = _parse_value(d.pop("value", UNSET))


        engage_body = cls(
            mode=mode,
            reason=reason,
            scope=scope,
            value=value,
        )

        return engage_body

