from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="WebhookBody")



@_attrs_define
class WebhookBody:
    """ ``POST /v1/admin/webhooks``: where to send, which secret (by name), which events.

        Attributes:
            secret (str): a name from webhook_secrets
            url (str):
            events (list[str] | None | Unset):
     """

    secret: str
    url: str
    events: list[str] | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        secret = self.secret

        url = self.url

        events: list[str] | None | Unset
        if isinstance(self.events, Unset):
            events = UNSET
        elif isinstance(self.events, list):
            events = self.events


        else:
            events = self.events


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "secret": secret,
            "url": url,
        })
        if events is not UNSET:
            field_dict["events"] = events

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        secret = d.pop("secret")

        url = d.pop("url")

        def _parse_events(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                events_type_0 = cast(list[str], data)

                return events_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        events = _parse_events(d.pop("events", UNSET))


        webhook_body = cls(
            secret=secret,
            url=url,
            events=events,
        )

        return webhook_body

