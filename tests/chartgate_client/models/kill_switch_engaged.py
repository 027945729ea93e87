from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.kill_switch import KillSwitch





T = TypeVar("T", bound="KillSwitchEngaged")



@_attrs_define
class KillSwitchEngaged:
    """ The answer to engage: the switch, and whether it holds yet.

        Attributes:
            acknowledged (bool): Nothing that could have missed it is in flight.
            created (bool): false when the same switch was already engaged.
            drained (int):
            still_in_flight (int):
            switch (KillSwitch): One kill switch, engaged or released.
     """

    acknowledged: bool
    created: bool
    drained: int
    still_in_flight: int
    switch: KillSwitch





    def to_dict(self) -> dict[str, Any]:
        from ..models.kill_switch import KillSwitch # noqa: PLC0415
        acknowledged = self.acknowledged

        created = self.created

        drained = self.drained

        still_in_flight = self.still_in_flight

        switch = self.switch.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "acknowledged": acknowledged,
            "created": created,
            "drained": drained,
            "still_in_flight": still_in_flight,
            "switch": switch,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.kill_switch import KillSwitch # noqa: PLC0415
        d = dict(src_dict)
        acknowledged = d.pop("acknowledged")

        created = d.pop("created")

        drained = d.pop("drained")

        still_in_flight = d.pop("still_in_flight")

        switch = KillSwitch.from_dict(d.pop("switch"))




        kill_switch_engaged = cls(
            acknowledged=acknowledged,
            created=created,
            drained=drained,
            still_in_flight=still_in_flight,
            switch=switch,
        )

        return kill_switch_engaged

