from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.issue_severity import IssueSeverity
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.codeable_concept import CodeableConcept





T = TypeVar("T", bound="Issue")



@_attrs_define
class Issue:
    """ One ``OperationOutcome.issue``.

        Attributes:
            code (str):
            severity (IssueSeverity):
            details (CodeableConcept | None | Unset):
            diagnostics (None | str | Unset):
            expression (list[str] | None | Unset):
     """

    code: str
    severity: IssueSeverity
    details: CodeableConcept | None | Unset = UNSET
    diagnostics: None | str | Unset = UNSET
    expression: list[str] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.codeable_concept import CodeableConcept # noqa: PLC0415
        code = self.code

        severity = self.severity.value

        details: dict[str, Any] | None | Unset
        if isinstance(self.details, Unset):
            details = UNSET
        elif isinstance(self.details, CodeableConcept):
            details = self.details.to_dict()
        else:
            details = self.details

        diagnostics: None | str | Unset
        if isinstance(self.diagnostics, Unset):
            diagnostics = UNSET
        else:
            diagnostics = self.diagnostics

        expression: list[str] | None | Unset
        if isinstance(self.expression, Unset):
            expression = UNSET
        elif isinstance(self.expression, list):
            expression = self.expression


        else:
            expression = self.expression


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "code": code,
            "severity": severity,
        })
        if details is not UNSET:
            field_dict["details"] = details
        if diagnostics is not UNSET:
            field_dict["diagnostics"] = diagnostics
        if expression is not UNSET:
            field_dict["expression"] = expression

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.codeable_concept import CodeableConcept # noqa: PLC0415
        d = dict(src_dict)
        code = d.pop("code")

        severity = IssueSeverity(d.pop("severity"))




        def _parse_details(data: object) -> CodeableConcept | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                details_type_0 = CodeableConcept.from_dict(data)



                return details_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CodeableConcept | None | Unset, data)

        details = _parse_details(d.pop("details", UNSET))


        def _parse_diagnostics(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        diagnostics = _parse_diagnostics(d.pop("diagnostics", UNSET))


        def _parse_expression(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                expression_type_0 = cast(list[str], data)

                return expression_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        expression = _parse_expression(d.pop("expression", UNSET))


        issue = cls(
            code=code,
            severity=severity,
            details=details,
            diagnostics=diagnostics,
            expression=expression,
        )


        issue.additional_properties = d
        return issue

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
