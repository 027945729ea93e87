from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.draft_submission_baseline import DraftSubmissionBaseline
  from ..models.draft_submission_resources_item import DraftSubmissionResourcesItem
  from ..models.note import Note
  from ..models.origin import Origin





T = TypeVar("T", bound="DraftSubmission")



@_attrs_define
class DraftSubmission:
    """ ``POST /v1/drafts``: one encounter's proposed note.

        Attributes:
            encounter (str):
            note (Note): The narrative note: LOINC type, title, content type and text.
            origin (Origin): Where the draft came from: model, prompt template and the transcript's hash.
            patient (str):
            baseline (DraftSubmissionBaseline | Unset):
            resources (list[DraftSubmissionResourcesItem] | Unset):
     """

    encounter: str
    note: Note
    origin: Origin
    patient: str
    baseline: DraftSubmissionBaseline | Unset = UNSET
    resources: list[DraftSubmissionResourcesItem] | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.draft_submission_baseline import DraftSubmissionBaseline # noqa: PLC0415
        from ..models.draft_submission_resources_item import DraftSubmissionResourcesItem # noqa: PLC0415
        from ..models.note import Note # noqa: PLC0415
        from ..models.origin import Origin # noqa: PLC0415
        encounter = self.encounter

        note = self.note.to_dict()

        origin = self.origin.to_dict()

        patient = self.patient

        baseline: dict[str, Any] | Unset = UNSET
        if not isinstance(self.baseline, Unset):
            baseline = self.baseline.to_dict()

        resources: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.resources, Unset):
            resources = []
            for resources_item_data in self.resources:
                resources_item = resources_item_data.to_dict()
                resources.append(resources_item)




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "encounter": encounter,
            "note": note,
            "origin": origin,
            "patient": patient,
        })
        if baseline is not UNSET:
            field_dict["baseline"] = baseline
        if resources is not UNSET:
            field_dict["resources"] = resources

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.draft_submission_baseline import DraftSubmissionBaseline # noqa: PLC0415
        from ..models.draft_submission_resources_item import DraftSubmissionResourcesItem # noqa: PLC0415
        from ..models.note import Note # noqa: PLC0415
        from ..models.origin import Origin # noqa: PLC0415
        d = dict(src_dict)
        encounter = d.pop("encounter")

        note = Note.from_dict(d.pop("note"))




        origin = Origin.from_dict(d.pop("origin"))




        patient = d.pop("patient")

        _baseline = d.pop("baseline", UNSET)
        baseline: DraftSubmissionBaseline | Unset
        if isinstance(_baseline,  Unset):
            baseline = UNSET
        else:
            baseline = DraftSubmissionBaseline.from_dict(_baseline)




        _resources = d.pop("resources", UNSET)
        resources: list[DraftSubmissionResourcesItem] | Unset = UNSET
        if _resources is not UNSET:
            resources = []
            for resources_item_data in _resources:
                resources_item = DraftSubmissionResourcesItem.from_dict(resources_item_data)



                resources.append(resources_item)


        draft_submission = cls(
            encounter=encounter,
            note=note,
            origin=origin,
            patient=patient,
            baseline=baseline,
            resources=resources,
        )

        return draft_submission

