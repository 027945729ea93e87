from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.bundle_entry_resource import BundleEntryResource





T = TypeVar("T", bound="BundleEntry")



@_attrs_define
class BundleEntry:
    """ One resource, cut to the read profile and tagged ``SUBSETTED``.

        Attributes:
            resource (BundleEntryResource):
     """

    resource: BundleEntryResource





    def to_dict(self) -> dict[str, Any]:
        from ..models.bundle_entry_resource import BundleEntryResource # noqa: PLC0415
        resource = self.resource.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "resource": resource,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.bundle_entry_resource import BundleEntryResource # noqa: PLC0415
        d = dict(src_dict)
        resource = BundleEntryResource.from_dict(d.pop("resource"))




        bundle_entry = cls(
            resource=resource,
        )

        return bundle_entry

