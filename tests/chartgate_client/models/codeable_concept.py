from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.coding import Coding





T = TypeVar("T", bound="CodeableConcept")



@_attrs_define
class CodeableConcept:
    """ A FHIR CodeableConcept.

        Attributes:
            coding (list[Coding] | None | Unset):
     """

    coding: list[Coding] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.coding import Coding # noqa: PLC0415
        coding: list[dict[str, Any]] | None | Unset
        if isinstance(self.coding, Unset):
            coding = UNSET
        elif isinstance(self.coding, list):
            coding = []
            for coding_type_0_item_data in self.coding:
                coding_type_0_item = coding_type_0_item_data.to_dict()
                coding.append(coding_type_0_item)


        else:
            coding = self.coding


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
        })
        if coding is not UNSET:
            field_dict["coding"] = coding

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.coding import Coding # noqa: PLC0415
        d = dict(src_dict)
        def _parse_coding(data: object) -> list[Coding] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                coding_type_0 = []
                _coding_type_0 = data
                for coding_type_0_item_data in (_coding_type_0):
                    coding_type_0_item = Coding.from_dict(coding_type_0_item_data)



                    coding_type_0.append(coding_type_0_item)

                return coding_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Coding] | None | Unset, data)

        coding = _parse_coding(d.pop("coding", UNSET))


        codeable_concept = cls(
            coding=coding,
        )


        codeable_concept.additional_properties = d
        return codeable_concept

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
