from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="KillSwitch")



@_attrs_define
class KillSwitch:
    """ One kill switch, engaged or released.

        Attributes:
            engaged (bool):
            id (str):
            mode (str):
            reason (str):
            release_reason (None | str):
            released_at (None | str):
            released_by (None | str):
            scope (str):
            set_at (str):
            set_by (str):
            tenant (str): A tenant id, or "*" for every tenant.
            value (None | str):
     """

    engaged: bool
    id: str
    mode: str
    reason: str
    release_reason: None | str
    released_at: None | str
    released_by: None | str
    scope: str
    set_at: str
    set_by: str
    tenant: str
    value: None | str





    def to_dict(self) -> dict[str, Any]:
        engaged = self.engaged

        id = self.id

        mode = self.mode

        reason = self.reason

        release_reason: None | str
        release_reason = self.release_reason

        released_at: None | str
        released_at = self.released_at

        released_by: None | str
        released_by = self.released_by

        scope = self.scope

        set_at = self.set_at

        set_by = self.set_by

        tenant = self.tenant

        value: None | str
        value = self.value


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "engaged": engaged,
            "id": id,
            "mode": mode,
            "reason": reason,
            "release_reason": release_reason,
            "released_at": released_at,
            "released_by": released_by,
            "scope": scope,
            "set_at": set_at,
            "set_by": set_by,
            "tenant": tenant,
            "value": value,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        engaged = d.pop("engaged")

        id = d.pop("id")

        mode = d.pop("mode")

        reason = d.pop("reason")

        def _parse_release_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        release_reason = _parse_release_reason(d.pop("release_reason"))


        def _parse_released_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        released_at = _parse_released_at(d.pop("released_at"))


        def _parse_released_by(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        released_by = _parse_released_by(d.pop("released_by"))


        scope = d.pop("scope")

        set_at = d.pop("set_at")

        set_by = d.pop("set_by")

        tenant = d.pop("tenant")

        def _parse_value(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        value = _parse_value(d.pop("value"))


        kill_switch = cls(
            engaged=engaged,
            id=id,
            mode=mode,
            reason=reason,
            release_reason=release_reason,
            released_at=released_at,
            released_by=released_by,
            scope=scope,
            set_at=set_at,
            set_by=set_by,
            tenant=tenant,
            value=value,
        )

        return kill_switch

