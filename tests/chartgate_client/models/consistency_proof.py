from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.checkpoint import Checkpoint





T = TypeVar("T", bound="ConsistencyProof")



@_attrs_define
class ConsistencyProof:
    """ RFC 9162 consistency proof between two signed checkpoints.

        Attributes:
            from_ (Checkpoint): A signed checkpoint (C2SP tlog-checkpoint) of the tenant's log.
            proof (list[str]):
            to (Checkpoint): A signed checkpoint (C2SP tlog-checkpoint) of the tenant's log.
     """

    from_: Checkpoint
    proof: list[str]
    to: Checkpoint





    def to_dict(self) -> dict[str, Any]:
        from ..models.checkpoint import Checkpoint # noqa: PLC0415
        from_ = self.from_.to_dict()

        proof = self.proof



        to = self.to.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "from": from_,
            "proof": proof,
            "to": to,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.checkpoint import Checkpoint # noqa: PLC0415
        d = dict(src_dict)
        from_ = Checkpoint.from_dict(d.pop("from"))




        proof = cast(list[str], d.pop("proof"))


        to = Checkpoint.from_dict(d.pop("to"))




        consistency_proof = cls(
            from_=from_,
            proof=proof,
            to=to,
        )

        return consistency_proof

