from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.approval import Approval
  from ..models.draft_baseline import DraftBaseline
  from ..models.finding import Finding
  from ..models.origin import Origin
  from ..models.structured_item import StructuredItem
  from ..models.version import Version
  from ..models.writeback import Writeback





T = TypeVar("T", bound="Draft")



@_attrs_define
class Draft:
    """ A draft with its versions; reads add findings, approvals and write-backs.

        Attributes:
            allowed_actions (list[str]):
            approved_version (int | None):
            baseline (DraftBaseline):
            correlation_id (str):
            created_at (str):
            current_version (int):
            doc_status (None | str):
            encounter (str):
            id (str):
            origin (Origin): Where the draft came from: model, prompt template and the transcript's hash.
            patient (str):
            state (str):
            versions (list[Version]):
            approvals (list[Approval] | None | Unset): On reads only.
            findings (list[Finding] | None | Unset): On reads only.
            structured (list[StructuredItem] | None | Unset): On reads only: each structured proposal, its fate and its
                write-back (issue 13: partial states are visible here).
            writebacks (list[Writeback] | None | Unset): On reads only: the note's write-backs.
     """

    allowed_actions: list[str]
    approved_version: int | None
    baseline: DraftBaseline
    correlation_id: str
    created_at: str
    current_version: int
    doc_status: None | str
    encounter: str
    id: str
    origin: Origin
    patient: str
    state: str
    versions: list[Version]
    approvals: list[Approval] | None | Unset = UNSET
    findings: list[Finding] | None | Unset = UNSET
    structured: list[StructuredItem] | None | Unset = UNSET
    writebacks: list[Writeback] | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.approval import Approval # noqa: PLC0415
        from ..models.draft_baseline import DraftBaseline # noqa: PLC0415
        from ..models.finding import Finding # noqa: PLC0415
        from ..models.origin import Origin # noqa: PLC0415
        from ..models.structured_item import StructuredItem # noqa: PLC0415
        from ..models.version import Version # noqa: PLC0415
        from ..models.writeback import Writeback # noqa: PLC0415
        allowed_actions = self.allowed_actions



        approved_version: int | None
        approved_version = self.approved_version

        baseline = self.baseline.to_dict()

        correlation_id = self.correlation_id

        created_at = self.created_at

        current_version = self.current_version

        doc_status: None | str
        doc_status = self.doc_status

        encounter = self.encounter

        id = self.id

        origin = self.origin.to_dict()

        patient = self.patient

        state = self.state

        versions = []
        for versions_item_data in self.versions:
            versions_item = versions_item_data.to_dict()
            versions.append(versions_item)



        approvals: list[dict[str, Any]] | None | Unset
        if isinstance(self.approvals, Unset):
            approvals = UNSET
        elif isinstance(self.approvals, list):
            approvals = []
            for approvals_type_0_item_data in self.approvals:
                approvals_type_0_item = approvals_type_0_item_data.to_dict()
                approvals.append(approvals_type_0_item)


        else:
            approvals = self.approvals

        findings: list[dict[str, Any]] | None | Unset
        if isinstance(self.findings, Unset):
            findings = UNSET
        elif isinstance(self.findings, list):
            findings = []
            for findings_type_0_item_data in self.findings:
                findings_type_0_item = findings_type_0_item_data.to_dict()
                findings.append(findings_type_0_item)


        else:
            findings = self.findings

        structured: list[dict[str, Any]] | None | Unset
        if isinstance(self.structured, Unset):
            structured = UNSET
        elif isinstance(self.structured, list):
            structured = []
            for structured_type_0_item_data in self.structured:
                structured_type_0_item = structured_type_0_item_data.to_dict()
                structured.append(structured_type_0_item)


        else:
            structured = self.structured

        writebacks: list[dict[str, Any]] | None | Unset
        if isinstance(self.writebacks, Unset):
            writebacks = UNSET
        elif isinstance(self.writebacks, list):
            writebacks = []
            for writebacks_type_0_item_data in self.writebacks:
                writebacks_type_0_item = writebacks_type_0_item_data.to_dict()
                writebacks.append(writebacks_type_0_item)


        else:
            writebacks = self.writebacks


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "allowed_actions": allowed_actions,
            "approved_version": approved_version,
            "baseline": baseline,
            "correlation_id": correlation_id,
            "created_at": created_at,
            "current_version": current_version,
            "doc_status": doc_status,
            "encounter": encounter,
            "id": id,
            "origin": origin,
            "patient": patient,
            "state": state,
            "versions": versions,
        })
        if approvals is not UNSET:
            field_dict["approvals"] = approvals
        if findings is not UNSET:
            field_dict["findings"] = findings
        if structured is not UNSET:
            field_dict["structured"] = structured
        if writebacks is not UNSET:
            field_dict["writebacks"] = writebacks

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.approval import Approval # noqa: PLC0415
        from ..models.draft_baseline import DraftBaseline # noqa: PLC0415
        from ..models.finding import Finding # noqa: PLC0415
        from ..models.origin import Origin # noqa: PLC0415
        from ..models.structured_item import StructuredItem # noqa: PLC0415
        from ..models.version import Version # noqa: PLC0415
        from ..models.writeback import Writeback # noqa: PLC0415
        d = dict(src_dict)
        allowed_actions = cast(list[str], d.pop("allowed_actions"))


        def _parse_approved_version(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        approved_version = _parse_approved_version(d.pop("approved_version"))


        baseline = DraftBaseline.from_dict(d.pop("baseline"))




        correlation_id = d.pop("correlation_id")

        created_at = d.pop("created_at")

        current_version = d.pop("current_version")

        def _parse_doc_status(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        doc_status = _parse_doc_status(d.pop("doc_status"))


        encounter = d.pop("encounter")

        id = d.pop("id")

        origin = Origin.from_dict(d.pop("origin"))




        patient = d.pop("patient")

        state = d.pop("state")

        versions = []
        _versions = d.pop("versions")
        for versions_item_data in (_versions):
            versions_item = Version.from_dict(versions_item_data)



            versions.append(versions_item)


        def _parse_approvals(data: object) -> list[Approval] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                approvals_type_0 = []
                _approvals_type_0 = data
                for approvals_type_0_item_data in (_approvals_type_0):
                    approvals_type_0_item = Approval.from_dict(approvals_type_0_item_data)



                    approvals_type_0.append(approvals_type_0_item)

                return approvals_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Approval] | None | Unset, data)

        approvals = _parse_approvals(d.pop("approvals", UNSET))


        def _parse_findings(data: object) -> list[Finding] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                findings_type_0 = []
                _findings_type_0 = data
                for findings_type_0_item_data in (_findings_type_0):
                    findings_type_0_item = Finding.from_dict(findings_type_0_item_data)



                    findings_type_0.append(findings_type_0_item)

                return findings_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Finding] | None | Unset, data)

        findings = _parse_findings(d.pop("findings", UNSET))


        def _parse_structured(data: object) -> list[StructuredItem] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                structured_type_0 = []
                _structured_type_0 = data
                for structured_type_0_item_data in (_structured_type_0):
                    structured_type_0_item = StructuredItem.from_dict(structured_type_0_item_data)



                    structured_type_0.append(structured_type_0_item)

                return structured_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[StructuredItem] | None | Unset, data)

        structured = _parse_structured(d.pop("structured", UNSET))


        def _parse_writebacks(data: object) -> list[Writeback] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                writebacks_type_0 = []
                _writebacks_type_0 = data
                for writebacks_type_0_item_data in (_writebacks_type_0):
                    writebacks_type_0_item = Writeback.from_dict(writebacks_type_0_item_data)



                    writebacks_type_0.append(writebacks_type_0_item)

                return writebacks_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Writeback] | None | Unset, data)

        writebacks = _parse_writebacks(d.pop("writebacks", UNSET))


        draft = cls(
            allowed_actions=allowed_actions,
            approved_version=approved_version,
            baseline=baseline,
            correlation_id=correlation_id,
            created_at=created_at,
            current_version=current_version,
            doc_status=doc_status,
            encounter=encounter,
            id=id,
            origin=origin,
            patient=patient,
            state=state,
            versions=versions,
            approvals=approvals,
            findings=findings,
            structured=structured,
            writebacks=writebacks,
        )

        return draft

