from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.kill_switch import KillSwitch





T = TypeVar("T", bound="KillSwitchReleased")



@_attrs_define
class KillSwitchReleased:
    """ The released switch.

        Attributes:
            switch (KillSwitch): One kill switch, engaged or released.
     """

    switch: KillSwitch





    def to_dict(self) -> dict[str, Any]:
        from ..models.kill_switch import KillSwitch # noqa: PLC0415
        switch = self.switch.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "switch": switch,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.kill_switch import KillSwitch # noqa: PLC0415
        d = dict(src_dict)
        switch = KillSwitch.from_dict(d.pop("switch"))




        kill_switch_released = cls(
            switch=switch,
        )

        return kill_switch_released

