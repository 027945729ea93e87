from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.kill_switch import KillSwitch





T = TypeVar("T", bound="KillSwitches")



@_attrs_define
class KillSwitches:
    """ The switches that cover your tenant, and the recent history.

        Attributes:
            engaged (list[KillSwitch]):
            history (list[KillSwitch]):
     """

    engaged: list[KillSwitch]
    history: list[KillSwitch]





    def to_dict(self) -> dict[str, Any]:
        from ..models.kill_switch import KillSwitch # noqa: PLC0415
        engaged = []
        for engaged_item_data in self.engaged:
            engaged_item = engaged_item_data.to_dict()
            engaged.append(engaged_item)



        history = []
        for history_item_data in self.history:
            history_item = history_item_data.to_dict()
            history.append(history_item)




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "engaged": engaged,
            "history": history,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.kill_switch import KillSwitch # noqa: PLC0415
        d = dict(src_dict)
        engaged = []
        _engaged = d.pop("engaged")
        for engaged_item_data in (_engaged):
            engaged_item = KillSwitch.from_dict(engaged_item_data)



            engaged.append(engaged_item)


        history = []
        _history = d.pop("history")
        for history_item_data in (_history):
            history_item = KillSwitch.from_dict(history_item_data)



            history.append(history_item)


        kill_switches = cls(
            engaged=engaged,
            history=history,
        )

        return kill_switches

