from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="ApproveBody")



@_attrs_define
class ApproveBody:
    """ Optional body of approve and validate: the warnings the clinician acknowledges.

        Attributes:
            acknowledge (list[str] | Unset): Warnings overridden, as 'code@location'.
            sign (bool | Unset): Approve: approve and sign in one act (step-up sign-in), written as final. Required where
                the EHR takes signed notes only (vendor profile accepts_preliminary = no). Default: False.
     """

    acknowledge: list[str] | Unset = UNSET
    sign: bool | Unset = False





    def to_dict(self) -> dict[str, Any]:
        acknowledge: list[str] | Unset = UNSET
        if not isinstance(self.acknowledge, Unset):
            acknowledge = self.acknowledge



        sign = self.sign


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if acknowledge is not UNSET:
            field_dict["acknowledge"] = acknowledge
        if sign is not UNSET:
            field_dict["sign"] = sign

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        acknowledge = cast(list[str], d.pop("acknowledge", UNSET))


        sign = d.pop("sign", UNSET)

        approve_body = cls(
            acknowledge=acknowledge,
            sign=sign,
        )

        return approve_body

