from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="WebhookEndpoint")



@_attrs_define
class WebhookEndpoint:
    """ A webhook endpoint and where its cursor stands (the secret's name, never its value).

        Attributes:
            created_at (str):
            created_by (str):
            delivered (int):
            disabled_at (None | str):
            events (list[str]):
            failures (int):
            id (str):
            last_seq (int):
            next_attempt_at (None | str):
            secret (str):
            url (str):
     """

    created_at: str
    created_by: str
    delivered: int
    disabled_at: None | str
    events: list[str]
    failures: int
    id: str
    last_seq: int
    next_attempt_at: None | str
    secret: str
    url: str





    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        created_by = self.created_by

        delivered = self.delivered

        disabled_at: None | str
        disabled_at = self.disabled_at

        events = self.events



        failures = self.failures

        id = self.id

        last_seq = self.last_seq

        next_attempt_at: None | str
        next_attempt_at = self.next_attempt_at

        secret = self.secret

        url = self.url


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "created_at": created_at,
            "created_by": created_by,
            "delivered": delivered,
            "disabled_at": disabled_at,
            "events": events,
            "failures": failures,
            "id": id,
            "last_seq": last_seq,
            "next_attempt_at": next_attempt_at,
            "secret": secret,
            "url": url,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        created_at = d.pop("created_at")

        created_by = d.pop("created_by")

        delivered = d.pop("delivered")

        def _parse_disabled_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        disabled_at = _parse_disabled_at(d.pop("disabled_at"))


        events = cast(list[str], d.pop("events"))


        failures = d.pop("failures")

        id = d.pop("id")

        last_seq = d.pop("last_seq")

        def _parse_next_attempt_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        next_attempt_at = _parse_next_attempt_at(d.pop("next_attempt_at"))


        secret = d.pop("secret")

        url = d.pop("url")

        webhook_endpoint = cls(
            created_at=created_at,
            created_by=created_by,
            delivered=delivered,
            disabled_at=disabled_at,
            events=events,
            failures=failures,
            id=id,
            last_seq=last_seq,
            next_attempt_at=next_attempt_at,
            secret=secret,
            url=url,
        )

        return webhook_endpoint

