"""FHIR schema validation over the ``fhir.resources`` R4B models (the one module that imports them).

``fhir.resources`` ships no R4 package; for every resource and data type chartgate sends,
R4B and R4 agree element by element, except ``Extension.value[x]``, where R4B adds
``CodeableReference`` and ``RatioRange`` (docs/decisions/0009-fhir-r4-models.md). So:
R4B models, plus a refusal of those two R4B-only choices, plus what the models accept but
FHIR JSON does not (a number or boolean sent as a string, which pydantic coerces).
Required bindings are *not* checked by the models; ``domain/bindings.py`` does that.

Messages name the element path and the rule broken, never the value sent.
"""

from __future__ import annotations

import decimal
import functools
import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from fhir.resources import __version__ as _models_version
from fhir.resources.R4B import get_fhir_model_class
from pydantic import BaseModel, ValidationError

from chartgate.domain.findings import Finding, Stage

R4B_ONLY_EXTENSION_VALUES: Final = frozenset({"valueCodeableReference", "valueRatioRange"})
"""``Extension.value[x]`` choices R4B added; an R4 server cannot read them."""

SUPPORTED: Final = frozenset(
    {
        "DocumentReference",
        "Provenance",
        "Composition",
        "Condition",
        "Observation",
        "MedicationRequest",
        "AllergyIntolerance",
        "Immunization",
        "Procedure",
        "ServiceRequest",
    }
)
"""Resource types checked field by field against R4 for the ADR (and tests/unit)."""

_TYPE_ERRORS: Final = frozenset(
    {
        "string_type",
        "int_type",
        "int_parsing",
        "int_from_float",
        "float_type",
        "float_parsing",
        "decimal_type",
        "decimal_parsing",
        "bool_type",
        "bool_parsing",
        "list_type",
        "dict_type",
        "model_type",
        "model_attributes_type",
        "bytes_type",
    }
)
_MAX_FINDINGS = 50
_RULES_DIGEST = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
_CHOICE_MISSING = "Value error, Expect any of field value from this list"


class R4BSchema:
    """The ``ResourceSchema`` port over ``fhir.resources.R4B`` models."""

    @property
    def version(self) -> str:
        """The models' package and version, and the digest of this module's own rules.

        Part of every schema stamp (ADR 0032): a stamp made under other rules is not proof
        under these. The digest is of this file's bytes, so no edit can forget to bump it.
        """
        return f"fhir.resources {_models_version} R4B; rules {_RULES_DIGEST}"

    def check(self, resource: Mapping[str, Any], *, location: str) -> list[Finding]:
        """Validate one resource's JSON; every problem is a ``fhir.*`` finding."""
        kind = resource.get("resourceType")
        if kind not in SUPPORTED:
            return [
                _finding(
                    "fhir.unsupported-type",
                    location,
                    f"resourceType {kind!r} is not one chartgate validates",
                )
            ]
        model = get_fhir_model_class(str(kind))
        body = {k: v for k, v in resource.items() if k != "resourceType"}
        findings = list(_r4b_only(resource, location))
        try:
            instance = model.model_validate(body)
        except ValidationError as exc:
            findings.extend(_from_pydantic(exc, location))
        except (TypeError, ValueError) as exc:  # a validator that raises outside pydantic
            findings.append(
                _finding("fhir.invalid-value", location, f"{type(exc).__name__} in the model")
            )
        else:
            findings.extend(_json_types(body, instance, location))
        return findings[:_MAX_FINDINGS]


def _finding(code: str, location: str, message: str) -> Finding:
    return Finding.error(code, location, message, stage=Stage.SUBMIT)


def _path(location: str, loc: tuple[int | str, ...]) -> str:
    out = location
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _from_pydantic(exc: ValidationError, location: str) -> Iterator[Finding]:
    for error in exc.errors(include_input=False, include_url=False):
        kind = error["type"]
        where = _path(location, tuple(error["loc"]))
        if kind == "extra_forbidden":
            yield _finding("fhir.unknown-element", where, "not an element of this FHIR type")
        elif kind == "missing":
            yield _finding("fhir.missing-element", where, "a required element is missing")
        elif kind in _TYPE_ERRORS:
            yield _finding("fhir.wrong-type", where, f"wrong JSON type: {error['msg']}")
        elif str(error["msg"]).startswith(_CHOICE_MISSING):
            # fhir.resources reports a required choice (medication[x]) as a root value error.
            message = str(error["msg"]).removeprefix(_CHOICE_MISSING).strip(" .")
            yield _finding("fhir.missing-element", where, f"one of {message} is required")
        else:
            message = str(error["msg"]).removeprefix("Value error, ")[:200]
            yield _finding("fhir.invalid-value", where, message)


def _r4b_only(node: Any, where: str) -> Iterator[Finding]:  # noqa: ANN401 - JSON
    """Every R4B-only ``Extension.value[x]`` choice; a path is named only where one is found."""
    found: list[Finding] = []
    trail: list[str] = [where]

    def walk(node: Any) -> None:  # noqa: ANN401 - JSON
        if isinstance(node, list):
            for index, child in enumerate(node):
                if isinstance(child, Mapping | list):
                    trail.append(f"[{index}]")
                    walk(child)
                    trail.pop()
            return
        for key, child in node.items():
            if key in R4B_ONLY_EXTENSION_VALUES:
                found.append(
                    _finding(
                        "fhir.r4b-only",
                        f"{''.join(trail)}.{key}",
                        f"Extension.{key} exists in R4B, not in FHIR R4",
                    )
                )
            elif isinstance(child, Mapping | list):
                trail.append(f".{key}")
                walk(child)
                trail.pop()

    if isinstance(node, Mapping | list):
        walk(node)
    return iter(found)


_NUMBERS: Final = (int, float, decimal.Decimal)


def _json_types(sent: Any, parsed: Any, where: str) -> Iterator[Finding]:  # noqa: ANN401 - JSON
    """Compare the JSON sent with what the model made of it: coercion means a wrong type.

    FHIR JSON carries integers and decimals as numbers and booleans as ``true``/``false``
    (http://hl7.org/fhir/R4/json.html#primitive); pydantic turns ``"5"`` into 5 silently.
    One walk that names a path only where it finds a wrong type (issue 20: building every
    node's path was a third of a schema check).
    """
    found: list[Finding] = []
    trail: list[str] = [where]

    def walk(sent: Any, parsed: Any) -> None:  # noqa: ANN401 - JSON
        if isinstance(parsed, BaseModel) and isinstance(sent, Mapping):
            fields, by_alias = _fields_of(type(parsed))
            for key, value in sent.items():
                name = str(by_alias.get(key, key))
                if name in fields:
                    trail.append(f".{key}")
                    walk(value, getattr(parsed, name))
                    trail.pop()
            return
        if isinstance(parsed, list) and isinstance(sent, list):
            for index, (item, parsed_item) in enumerate(zip(sent, parsed, strict=False)):
                trail.append(f"[{index}]")
                walk(item, parsed_item)
                trail.pop()
            return
        if isinstance(parsed, str) and isinstance(sent, str):
            return  # the common case, decided at once
        wrong = (
            (isinstance(parsed, bool) and not isinstance(sent, bool))
            or (
                isinstance(parsed, _NUMBERS)
                and not isinstance(parsed, bool)
                and (not isinstance(sent, int | float) or isinstance(sent, bool))
            )
            or (isinstance(parsed, str) and not isinstance(sent, str))
        )
        if wrong:
            found.append(
                _finding(
                    "fhir.wrong-type",
                    "".join(trail),
                    f"wrong JSON type: FHIR JSON sends this as a {_json_name(parsed)}",
                )
            )

    walk(sent, parsed)
    return iter(found)


@functools.cache
def _fields_of(model: type[BaseModel]) -> tuple[Mapping[str, Any], dict[str, str]]:
    """A model's fields and its JSON names (aliases) to field names, once per model class."""
    fields = model.model_fields
    return fields, {(info.alias or name): name for name, info in fields.items()}


def _json_name(parsed: object) -> str:
    if isinstance(parsed, bool):
        return "boolean"
    if isinstance(parsed, _NUMBERS):
        return "number"
    return "string"
