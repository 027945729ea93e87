from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
from typing import Literal, cast

if TYPE_CHECKING:
  from ..models.bundle_entry import BundleEntry





T = TypeVar("T", bound="ContextBundle")



@_attrs_define
class ContextBundle:
    """ A FHIR ``searchset`` Bundle of minimum-necessary context.

        Attributes:
            entry (list[BundleEntry]):
            resource_type (Literal['Bundle']):
            total (int):
            type_ (Literal['searchset']):
     """

    entry: list[BundleEntry]
    resource_type: Literal['Bundle']
    total: int
    type_: Literal['searchset']





    def to_dict(self) -> dict[str, Any]:
        from ..models.bundle_entry import BundleEntry # noqa: PLC0415
        entry = []
        for entry_item_data in self.entry:
            entry_item = entry_item_data.to_dict()
            entry.append(entry_item)



        resource_type = self.resource_type

        total = self.total

        type_ = self.type_


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "entry": entry,
            "resourceType": resource_type,
            "total": total,
            "type": type_,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.bundle_entry import BundleEntry # noqa: PLC0415
        d = dict(src_dict)
        entry = []
        _entry = d.pop("entry")
        for entry_item_data in (_entry):
            entry_item = BundleEntry.from_dict(entry_item_data)



            entry.append(entry_item)


        resource_type = cast(Literal['Bundle'] , d.pop("resourceType"))
        if resource_type != 'Bundle':
            raise ValueError(f"resourceType must match const 'Bundle', got '{resource_type}'")

        total = d.pop("total")

        type_ = cast(Literal['searchset'] , d.pop("type"))
        if type_ != 'searchset':
            raise ValueError(f"type must match const 'searchset', got '{type_}'")

        context_bundle = cls(
            entry=entry,
            resource_type=resource_type,
            total=total,
            type_=type_,
        )

        return context_bundle

