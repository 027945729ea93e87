"""Reading the right patient and encounter from the EHR before a note is approved or sent.

The reads are the minimum necessary (``domain/patient_context.py``): an ``_id`` search with
``_elements`` where the vendor profile says the EHR supports it, else a plain read. What comes
back is judged in the domain; a refusal is ``ChartContextRefused`` (HTTP 409 on the API), a
read that fails is an ``EhrError`` (502 on the API, a retry in the worker). The result is held
in memory for the page or the check, never stored and never logged.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from chartgate.domain.errors import ChartContextRefused, ChartgateError, EhrError
from chartgate.domain.outcomes import Decision
from chartgate.domain.patient_context import (
    ENCOUNTER_ELEMENTS,
    LOCATION_ELEMENTS,
    PATIENT_ELEMENTS,
    ContextProblem,
    PatientContext,
    judge_context,
    reference_id,
)
from chartgate.service.ehr_channel import Ended, Stop

if TYPE_CHECKING:
    from chartgate.domain.drafts import Draft
    from chartgate.domain.vendor_profile import VendorProfile
    from chartgate.domain.writeback import Writeback
    from chartgate.service.ports import EhrDirectory, EhrGateway, JsonObject

__all__ = [
    "check_context",
    "confirm_before_send",
    "read_encounter_context",
    "read_patient_context",
    "with_location_name",
]

_GONE = frozenset({404, 410})


def read_patient_context(
    ehr: EhrDirectory, draft: Draft, *, request_id: str
) -> PatientContext | ContextProblem:
    """Read the draft's Encounter and Patient from its tenant's EHR and judge them.

    Raises ``EhrError`` when the EHR cannot be read (a failed read proves nothing).
    """
    return read_encounter_context(
        ehr,
        draft.tenant,
        patient_ref=draft.patient,
        encounter_ref=draft.encounter,
        request_id=request_id,
    )


def read_encounter_context(
    ehr: EhrDirectory, tenant: str, *, patient_ref: str, encounter_ref: str, request_id: str
) -> PatientContext | ContextProblem:
    """Read one Encounter and its Patient from ``tenant``'s EHR and judge them (a draft's pair).

    Raises ``EhrError`` when the EHR cannot be read (a failed read proves nothing).
    """
    profile = ehr.profile(tenant)
    gateway = ehr.gateway(tenant)
    encounter = _fetch(gateway, profile, encounter_ref, ENCOUNTER_ELEMENTS, request_id)
    patient = None
    if encounter is not None:
        patient = _fetch(gateway, profile, patient_ref, PATIENT_ELEMENTS, request_id)
    return judge_context(
        patient_ref=patient_ref,
        encounter_ref=encounter_ref,
        patient=patient,
        encounter=encounter,
        documentable=profile.documentable_encounter_statuses,
        mrn_system=ehr.mrn_system(tenant),
    )


def with_location_name(
    ehr: EhrDirectory, tenant: str, context: PatientContext, *, request_id: str
) -> PatientContext:
    """``context`` with its location's name, read from the EHR when the Encounter gave none.

    For the banner only (approval never needs it): the Location's ``name`` alone
    (``LOCATION_ELEMENTS``, ``_elements`` where the EHR supports it). A failed or refused read
    leaves the location unnamed; it never fails the page.
    """
    if context.location is not None or context.location_ref is None:
        return context
    profile = ehr.profile(tenant)
    try:
        found = _fetch(
            ehr.gateway(tenant), profile, context.location_ref, LOCATION_ELEMENTS, request_id
        )
    except ChartgateError:  # an EHR error, or a type the gateway will not read
        return context
    name = found.get("name") if found is not None else None
    return replace(context, location=name) if isinstance(name, str) and name else context


def check_context(ehr: EhrDirectory, draft: Draft, *, request_id: str) -> PatientContext:
    """The draft's patient context, or ``ChartContextRefused`` naming what is wrong."""
    judged = read_patient_context(ehr, draft, request_id=request_id)
    if isinstance(judged, ContextProblem):
        raise ChartContextRefused(judged.value, expression="encounter")
    return judged


def confirm_before_send(ehr: EhrDirectory, draft: Draft, record: Writeback) -> None:
    """The executor's check before a note is first sent: ``Stop`` unless the context holds.

    The approval read the context already; this catches an encounter cancelled, deleted or
    moved to another patient while the write-back waited. A failed read retries (it proves
    nothing); a refusal ends the write-back as rejected, before anything was sent.
    """
    try:
        check_context(ehr, draft, request_id=record.correlation_id)
    except ChartContextRefused as refused:
        reason = f"patient context: {refused.message}"
        raise Stop(Ended(Decision.REJECT, reason=reason)) from None
    except EhrError as exc:
        reason = "patient context read failed"
        raise Stop(Ended(Decision.RETRY, reason=reason, retry_after=exc.retry_after)) from None


def _fetch(
    gateway: EhrGateway,
    profile: VendorProfile,
    reference: str,
    elements: tuple[str, ...],
    request_id: str,
) -> JsonObject | None:
    """The resource at ``reference`` (only ``elements`` where the EHR can), None if absent."""
    resource_type, _, resource_id = reference_id(reference).partition("/")
    if profile.elements_search:
        found = gateway.search(
            resource_type,
            {"_id": resource_id, "_elements": ",".join(elements)},
            request_id=request_id,
        )
        matching = [r for r in found if r.get("id") == resource_id]
        return matching[0] if matching else None
    answer = gateway.read(resource_type, resource_id, request_id=request_id)
    if answer.status in _GONE:
        return None
    if not answer.ok or answer.resource is None:
        raise EhrError(
            f"{resource_type} read answered {answer.status}", retry_after=answer.retry_after
        )
    return answer.resource
