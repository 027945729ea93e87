"""Validation of the AI Transparency IG's rules on what chartgate sends (field by field).

HL7 AI Transparency on FHIR, as reconciled (https://build.fhir.org/ig/HL7/aitransparency-ig/):
the note and its Provenance carry the security label ``AIAST``; the Provenance follows the
``AI-Provenance`` profile (``target 1..*``; ``reason`` AIReason = AIAST; ``agent`` AIagent
``1..*`` whose ``who`` is an AI-Device, ``type 1..1`` and ``role`` fixed to
``AIdeviceTypeCS#Artificial-Intelligence``; the ``modelCard`` and ``inputPrompt`` entities in
role ``derivation``); none of the codes HL7 removed in reconciliation (FHIR-54801 "Remove code
AIRPT", FHIR-57918 "Remove experimental provenance codes") appears anywhere: the only AI code
of v3-ObservationValue is AIAST, and of the IG's own code systems only AIdeviceTypeCS and
AIinputsCS remain. These check chartgate's own output: a failure is chartgate's bug, and it
blocks the write like the US Core checks in ``validation.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from chartgate.domain import fhir_codes as fc
from chartgate.domain.findings import Finding

__all__ = ["check_ai_label", "check_ai_provenance", "removed_code_findings"]


def check_ai_label(resource: Mapping[str, Any], *, where: str) -> list[Finding]:
    """The resource carries ``AIAST`` in ``meta.security`` and no removed AI code anywhere."""
    out = list(removed_code_findings(resource, where))
    if not _has_coding(
        _map(resource.get("meta")).get("security"), fc.V3_OBSERVATION_VALUE, fc.AI_ASSERTED
    ):
        out.append(
            Finding.error(
                "ai.label-missing",
                f"{where}.meta.security",
                "meta.security must carry v3-ObservationValue#AIAST (AI Transparency IG)",
            )
        )
    return out


def check_ai_provenance(provenance: Mapping[str, Any]) -> list[Finding]:
    """Every AI-Provenance element rule chartgate relies on, one finding per broken rule."""
    where = "Provenance"
    out = check_ai_label(provenance, where=where)

    def need(ok: object, code: str, element: str, message: str) -> None:
        if not ok:
            out.append(Finding.error(code, f"{where}.{element}", message))

    need(_list(provenance.get("target")), "ai.target", "target", "target is required (1..*)")
    need(
        _has_coding(provenance.get("reason"), fc.V3_OBSERVATION_VALUE, fc.AI_ASSERTED),
        "ai.reason",
        "reason",
        "reason must include v3-ObservationValue#AIAST (slice AIReason)",
    )
    devices = {
        f"#{r.get('id')}": r
        for r in map(_map, _list(provenance.get("contained")))
        if r.get("resourceType") == "Device"
    }
    ai_agents = [
        (index, agent)
        for index, agent in enumerate(map(_map, _list(provenance.get("agent"))))
        if _is_ai_device(devices.get(str(_map(agent.get("who")).get("reference"))))
    ]
    need(ai_agents, "ai.agent", "agent", "an agent must be the AI as an AI-Device (AIagent)")
    for index, agent in ai_agents:
        need(
            len(_list(_map(agent.get("type")).get("coding"))) == 1,
            "ai.agent-type",
            f"agent[{index}].type",
            "the AI agent needs exactly one type: how the AI was used",
        )
        need(
            _has_coding(agent.get("role"), fc.AI_DEVICE_TYPE, fc.ARTIFICIAL_INTELLIGENCE),
            "ai.agent-role",
            f"agent[{index}].role",
            "the AI agent's role must be AIdeviceTypeCS#Artificial-Intelligence",
        )
    need(
        any(
            _has_coding([_map(a).get("type")], fc.PARTICIPANT_TYPE, "verifier")
            and str(_map(_map(a).get("who")).get("reference", "")).startswith("Practitioner/")
            for a in _list(provenance.get("agent"))
        ),
        "ai.verifier",
        "agent",
        "the approving clinician must be a verifier agent (a Practitioner)",
    )
    for index, item in enumerate(map(_map, _list(provenance.get("entity")))):
        what = _map(item.get("what"))
        if _map(what.get("identifier")).get("system") == fc.PROMPT_TEMPLATE_SYSTEM:
            need(
                item.get("role") == "derivation",
                "ai.input-prompt",
                f"entity[{index}].role",
                "the input prompt entity's role must be derivation",
            )
    return out


def removed_code_findings(node: Any, where: str) -> Iterator[Finding]:  # noqa: ANN401 - JSON
    """A finding for every Coding the current AI Transparency IG no longer defines.

    One walk over the resource that names a path only where it finds something (the path of
    every node was built before: a measurable share of an approval's CPU, issue 20).
    """
    found: list[Finding] = []
    trail: list[str] = [where]

    def walk(node: Any) -> None:  # noqa: ANN401 - JSON
        if isinstance(node, dict):
            system, code = node.get("system"), node.get("code")
            if isinstance(system, str) and isinstance(code, str) and _removed(system, code):
                found.append(
                    Finding.error(
                        "ai.removed-code",
                        "".join(trail) + ".code",
                        f"{code} is not a current AI Transparency IG code; label AI content AIAST",
                    )
                )
            for key, value in node.items():
                if not isinstance(value, str):  # a string holds no Coding
                    trail.append(f".{key}")
                    walk(value)
                    trail.pop()
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if not isinstance(value, str):  # a string holds no Coding
                    trail.append(f"[{index}]")
                    walk(value)
                    trail.pop()
        elif isinstance(node, Mapping):  # any other mapping: the same rules
            walk(dict(node))

    walk(node)
    return iter(found)


def _removed(system: str, code: str) -> bool:
    if system == fc.V3_OBSERVATION_VALUE:
        return code.startswith("AI") and code != fc.AI_ASSERTED
    return system.startswith(f"{fc.AIT_BASE}/CodeSystem/") and (
        system not in fc.CURRENT_AI_CODE_SYSTEMS
    )


def _is_ai_device(device: Mapping[str, Any] | None) -> bool:
    return device is not None and _has_coding(
        [device.get("type")], fc.AI_DEVICE_TYPE, fc.ARTIFICIAL_INTELLIGENCE
    )


def _has_coding(concepts: Any, system: str, code: str) -> bool:  # noqa: ANN401 - JSON
    """Whether a list of Codings or of CodeableConcepts holds ``system|code``."""
    for item in _list(concepts):
        item_map = _map(item)
        codings = _list(item_map.get("coding")) if "coding" in item_map else [item_map]
        if any(_map(c).get("system") == system and _map(c).get("code") == code for c in codings):
            return True
    return False


def _list(value: Any) -> list[Any]:  # noqa: ANN401 - JSON
    return value if isinstance(value, list) else []


def _map(value: Any) -> Mapping[str, Any]:  # noqa: ANN401 - JSON
    return value if isinstance(value, Mapping) else {}
