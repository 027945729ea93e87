from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="WebhookDelivery")



@_attrs_define
class WebhookDelivery:
    """ One delivery attempt (no payload).

        Attributes:
            at (str):
            attempt (int):
            error (None | str):
            event_id (str):
            status (int | None):
            type_ (str):
     """

    at: str
    attempt: int
    error: None | str
    event_id: str
    status: int | None
    type_: str





    def to_dict(self) -> dict[str, Any]:
        at = self.at

        attempt = self.attempt

        error: None | str
        error = self.error

        event_id = self.event_id

        status: int | None
        status = self.status

        type_ = self.type_


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "at": at,
            "attempt": attempt,
            "error": error,
            "event_id": event_id,
            "status": status,
            "type": type_,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        at = d.pop("at")

        attempt = d.pop("attempt")

        def _parse_error(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        error = _parse_error(d.pop("error"))


        event_id = d.pop("event_id")

        def _parse_status(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        status = _parse_status(d.pop("status"))


        type_ = d.pop("type")

        webhook_delivery = cls(
            at=at,
            attempt=attempt,
            error=error,
            event_id=event_id,
            status=status,
            type_=type_,
        )

        return webhook_delivery

