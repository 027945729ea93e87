from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.writeback import Writeback





T = TypeVar("T", bound="StructuredItem")



@_attrs_define
class StructuredItem:
    """ One structured proposal of the approved (or current) version and its fate.

    After an amendment (ADR 0031), also each resource the amendment removed from the chart
    (``index`` null, ``fate`` "removed by the amendment ...", its ``retraction``).

        Attributes:
            fate (str): "will be written" or why not, e.g. "not written to the chart (draft-only by policy)".
            index (int | None): Its place in the version's ``resources`` (null: removed by an amendment).
            resource_type (str):
            writeback (None | Writeback): The write-back that created it in the chart, once approved and queued.
            written (bool): Approval writes it to the chart.
            retraction (None | Unset | Writeback): Its entered-in-error write-back, queued with the note's retraction or
                with an amendment that removed it.
            update (None | Unset | Writeback): The newest amendment's change to it (kind structured-update: PUT with If-
                Match); null when no amendment changed it.
     """

    fate: str
    index: int | None
    resource_type: str
    writeback: None | Writeback
    written: bool
    retraction: None | Unset | Writeback = UNSET
    update: None | Unset | Writeback = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.writeback import Writeback # noqa: PLC0415
        fate = self.fate

        index: int | None
        index = self.index

        resource_type = self.resource_type

        writeback: dict[str, Any] | None
        if isinstance(self.writeback, Writeback):
            writeback = self.writeback.to_dict()
        else:
            writeback = self.writeback

        written = self.written

        retraction: dict[str, Any] | None | Unset
        if isinstance(self.retraction, Unset):
            retraction = UNSET
        elif isinstance(self.retraction, Writeback):
            retraction = self.retraction.to_dict()
        else:
            retraction = self.retraction

        update: dict[str, Any] | None | Unset
        if isinstance(self.update, Unset):
            update = UNSET
        elif isinstance(self.update, Writeback):
            update = self.update.to_dict()
        else:
            update = self.update


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "fate": fate,
            "index": index,
            "resource_type": resource_type,
            "writeback": writeback,
            "written": written,
        })
        if retraction is not UNSET:
            field_dict["retraction"] = retraction
        if update is not UNSET:
            field_dict["update"] = update

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.writeback import Writeback # noqa: PLC0415
        d = dict(src_dict)
        fate = d.pop("fate")

        def _parse_index(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        index = _parse_index(d.pop("index"))


        resource_type = d.pop("resource_type")

        def _parse_writeback(data: object) -> None | Writeback:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                writeback_type_0 = Writeback.from_dict(data)



                return writeback_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Writeback, data)

        writeback = _parse_writeback(d.pop("writeback"))


        written = d.pop("written")

        def _parse_retraction(data: object) -> None | Unset | Writeback:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                retraction_type_0 = Writeback.from_dict(data)



                return retraction_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | Writeback, data)

        retraction = _parse_retraction(d.pop("retraction", UNSET))


        def _parse_update(data: object) -> None | Unset | Writeback:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                update_type_0 = Writeback.from_dict(data)



                return update_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | Writeback, data)

        update = _parse_update(d.pop("update", UNSET))


        structured_item = cls(
            fate=fate,
            index=index,
            resource_type=resource_type,
            writeback=writeback,
            written=written,
            retraction=retraction,
            update=update,
        )

        return structured_item

