from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.checkpoint import Checkpoint





T = TypeVar("T", bound="InclusionProof")



@_attrs_define
class InclusionProof:
    """ RFC 9162 inclusion proof of one entry in a signed checkpoint.

        Attributes:
            canonical (str):
            checkpoint (Checkpoint): A signed checkpoint (C2SP tlog-checkpoint) of the tenant's log.
            leaf_hash (str):
            proof (list[str]):
            seq (int):
            tree_size (int):
     """

    canonical: str
    checkpoint: Checkpoint
    leaf_hash: str
    proof: list[str]
    seq: int
    tree_size: int





    def to_dict(self) -> dict[str, Any]:
        from ..models.checkpoint import Checkpoint # noqa: PLC0415
        canonical = self.canonical

        checkpoint = self.checkpoint.to_dict()

        leaf_hash = self.leaf_hash

        proof = self.proof



        seq = self.seq

        tree_size = self.tree_size


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "canonical": canonical,
            "checkpoint": checkpoint,
            "leaf_hash": leaf_hash,
            "proof": proof,
            "seq": seq,
            "tree_size": tree_size,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.checkpoint import Checkpoint # noqa: PLC0415
        d = dict(src_dict)
        canonical = d.pop("canonical")

        checkpoint = Checkpoint.from_dict(d.pop("checkpoint"))




        leaf_hash = d.pop("leaf_hash")

        proof = cast(list[str], d.pop("proof"))


        seq = d.pop("seq")

        tree_size = d.pop("tree_size")

        inclusion_proof = cls(
            canonical=canonical,
            checkpoint=checkpoint,
            leaf_hash=leaf_hash,
            proof=proof,
            seq=seq,
            tree_size=tree_size,
        )

        return inclusion_proof

