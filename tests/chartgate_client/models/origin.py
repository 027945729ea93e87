from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.model_ref import ModelRef





T = TypeVar("T", bound="Origin")



@_attrs_define
class Origin:
    """ Where the draft came from: model, prompt template and the transcript's hash.

        Attributes:
            generated_at (datetime.datetime):
            model (ModelRef): The AI model that produced the draft.
            prompt_template (str):
            transcript_sha256 (str):
     """

    generated_at: datetime.datetime
    model: ModelRef
    prompt_template: str
    transcript_sha256: str





    def to_dict(self) -> dict[str, Any]:
        from ..models.model_ref import ModelRef # noqa: PLC0415
        generated_at = self.generated_at.isoformat()

        model = self.model.to_dict()

        prompt_template = self.prompt_template

        transcript_sha256 = self.transcript_sha256


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "generated_at": generated_at,
            "model": model,
            "prompt_template": prompt_template,
            "transcript_sha256": transcript_sha256,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.model_ref import ModelRef # noqa: PLC0415
        d = dict(src_dict)
        generated_at = datetime.datetime.fromisoformat(d.pop("generated_at"))




        model = ModelRef.from_dict(d.pop("model"))




        prompt_template = d.pop("prompt_template")

        transcript_sha256 = d.pop("transcript_sha256")

        origin = cls(
            generated_at=generated_at,
            model=model,
            prompt_template=prompt_template,
            transcript_sha256=transcript_sha256,
        )

        return origin

