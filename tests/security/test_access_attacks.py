"""Valid tokens used beyond their rights: wrong role, weak authentication, wrong encounter.

Each attack is refused with the status the issue names (403 for "not allowed", 401 with an
RFC 9470 step-up challenge for "authenticate again, more strongly") and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from builders import submission
from chartgate.sandbox.idp import MFA_ACR
from security.conftest import (
    GRANTED_PRACTITIONER,
    TENANT_A,
    TwoTenants,
    random_id,
    refused,
    unchanged_world,
)

EDIT = {"note": submission()["note"], "resources": []}
Call = Callable[[TwoTenants, dict[str, str]], httpx.Response]

CALLS: dict[str, Call] = {
    "submit": lambda s, h: s.api.post("/v1/drafts", json=submission(), headers=h),
    "read": lambda s, h: s.api.get(f"/v1/drafts/{s.drafts.a}", headers=h),
    "diff": lambda s, h: s.api.get(f"/v1/drafts/{s.drafts.a}/diff", headers=h),
    "edit": lambda s, h: s.api.put(
        f"/v1/drafts/{s.drafts.a}", json=EDIT, headers={**h, "If-Match": 'W/"1"'}
    ),
    "approve": lambda s, h: s.api.post(
        f"/v1/drafts/{s.drafts.a}/approve", headers={**h, "If-Match": 'W/"1"'}
    ),
    "discard": lambda s, h: s.api.post(f"/v1/drafts/{s.drafts.a}/discard", headers=h),
    "finalize": lambda s, h: s.api.post(f"/v1/drafts/{s.drafts.a_committed}/finalize", headers=h),
    "amend": lambda s, h: s.api.post(
        f"/v1/writebacks/{s.drafts.a_writeback}/amend",
        json=EDIT,
        headers={**h, "If-Match": 'W/"1"'},
    ),
    "retract": lambda s, h: s.api.post(
        f"/v1/writebacks/{s.drafts.a_writeback}/retract",
        json={"reason": "clinical-error"},
        headers=h,
    ),
    "rebase": lambda s, h: s.api.post(
        f"/v1/drafts/{s.drafts.a}/rebase",
        json={"baseline": {"DocumentReference/doc-9": "3"}},
        headers=h,
    ),
}
AUDIT_READS: dict[str, Call] = {
    "audit-events": lambda s, h: s.api.get("/v1/audit/events", headers=h),
    "audit-checkpoint": lambda s, h: s.api.get("/v1/audit/checkpoint", headers=h),
}

Token = Callable[[TwoTenants], str]
ROLE_ATTACKS: list[tuple[str, Token, str]] = [
    *[("scribe", lambda s: s.scribe_token(), verb) for verb in sorted(set(CALLS) - {"submit"})],
    (
        "scribe-with-fhir-write-scopes",
        lambda s: s.scribe_token(
            scopes=["chartgate/drafts.submit", "user/DocumentReference.cu", "system/*.cruds"]
        ),
        "approve",
    ),
    *[("admin", lambda s: s.role_token("admin"), verb) for verb in sorted(CALLS)],
    *[("auditor", lambda s: s.role_token("auditor"), verb) for verb in sorted(CALLS)],
    ("clinician", lambda s: s.clinician_token(), "submit"),
    *[
        (who, token, audit)
        for who, token in (
            ("clinician", lambda s: s.clinician_token()),
            ("scribe", lambda s: s.scribe_token()),
            ("admin", lambda s: s.role_token("admin")),
        )
        for audit in sorted(AUDIT_READS)
    ],
]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("who", "token", "verb"), ROLE_ATTACKS, ids=[f"{w}-{v}" for w, _, v in ROLE_ATTACKS]
)
def test_a_role_cannot_use_another_roles_verbs(
    two_tenants: TwoTenants, who: str, token: Token, verb: str
) -> None:
    """Scribes only submit, admins and auditors never touch drafts, clinicians never submit."""
    del who
    call = CALLS.get(verb) or AUDIT_READS[verb]
    refused(call(two_tenants, two_tenants.bearer(token(two_tenants))), 403)


def step_up_challenge(answer: httpx.Response) -> dict[str, str]:
    """The RFC 9470 challenge's parameters (asserting it is one)."""
    body = refused(answer, 401)
    assert body["issue"][0]["code"] == "login"
    challenge = answer.headers["www-authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    params = {}
    for part in challenge.removeprefix("Bearer ").split(", "):
        name, _, value = part.partition("=")
        params[name] = value.strip('"')
    return params


STRENGTH_ATTACKS: dict[str, tuple[str, dict[str, Any]]] = {
    "approve-password-only": ("approve", {"amr": ("pwd",)}),
    "approve-no-amr": ("approve", {"amr": ()}),
    "finalize-password-only": ("finalize", {"amr": ("pwd",)}),
    "finalize-stale-auth-time": ("finalize", {"auth_time": int(time.time()) - 3600}),
    "finalize-auth-time-just-past-window": ("finalize", {"auth_time": int(time.time()) - 330}),
    "finalize-wrong-acr": ("finalize", {"acr": "urn:chartgate:acr:pwd"}),
    "finalize-no-acr": ("finalize", {"acr": None}),
    "retract-stale-auth-time": ("retract", {"auth_time": int(time.time()) - 3600}),
    "retract-password-only": ("retract", {"amr": ("pwd",)}),
    "amend-password-only": ("amend", {"amr": ("pwd",)}),
}


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("name", sorted(STRENGTH_ATTACKS))
def test_weak_or_stale_authentication_gets_a_step_up_challenge(
    two_tenants: TwoTenants, name: str
) -> None:
    """No second factor, an old auth_time or the wrong acr: 401 insufficient_user_authentication."""
    verb, claims = STRENGTH_ATTACKS[name]
    if name == "finalize-auth-time-just-past-window":
        claims = {"auth_time": int(time.time()) - 330}
    answer = CALLS[verb](two_tenants, two_tenants.bearer(two_tenants.clinician_token(**claims)))
    params = step_up_challenge(answer)
    if verb in {"finalize", "retract"} and "amr" not in claims:
        assert params["max_age"] == "300"
        assert params["acr_values"] == MFA_ACR


ENCOUNTER_ATTACKS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "approve-outside-launch-encounter": ("a_other_encounter", "approve", {}),
    "read-outside-launch-encounter": ("a_other_encounter", "read", {}),
    "edit-outside-launch-encounter": ("a_other_encounter", "edit", {}),
    "diff-outside-launch-encounter": ("a_other_encounter", "diff", {}),
    "discard-outside-launch-encounter": ("a_other_encounter", "discard", {}),
    "approve-without-any-launch-context": ("a", "approve", {"encounter": None, "patient": None}),
    "read-without-any-launch-context": ("a", "read", {"encounter": None, "patient": None}),
    "finalize-without-any-launch-context": (
        "a_committed",
        "finalize",
        {"encounter": None, "patient": None},
    ),
    "approve-with-patient-only-launch": ("a", "approve", {"encounter": None}),
    "approve-launch-patient-mismatch": ("a", "approve", {"patient": "pat-999"}),
    "granted-practitioner-outside-grant": (
        "a",
        "approve",
        {"encounter": None, "patient": None, "fhir_user": GRANTED_PRACTITIONER},
    ),
    "grant-of-another-practitioner": (
        "a_granted",
        "approve",
        {"encounter": None, "patient": None},
    ),
    "smart-scopes-read-only-approve": (
        "a",
        "approve",
        {"scopes": ["openid", "chartgate/drafts.approve", "user/DocumentReference.rs"]},
    ),
    "smart-scopes-create-only-finalize": (
        "a_committed",
        "finalize",
        {"scopes": ["openid", "chartgate/drafts.approve", "user/DocumentReference.c"]},
    ),
}


def draft_call(stack: TwoTenants, draft: str, verb: str, headers: dict[str, str]) -> httpx.Response:
    draft_id = getattr(stack.drafts, draft)
    if verb == "read":
        return stack.api.get(f"/v1/drafts/{draft_id}", headers=headers)
    if verb == "diff":
        return stack.api.get(f"/v1/drafts/{draft_id}/diff", headers=headers)
    if verb == "edit":
        return stack.api.put(
            f"/v1/drafts/{draft_id}", json=EDIT, headers={**headers, "If-Match": 'W/"1"'}
        )
    if verb == "approve":
        return stack.approve(draft_id, headers["Authorization"].removeprefix("Bearer "))
    return stack.api.post(f"/v1/drafts/{draft_id}/{verb}", headers=headers)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("name", sorted(ENCOUNTER_ATTACKS))
def test_encounters_outside_launch_context_and_grants_are_refused(
    two_tenants: TwoTenants, name: str
) -> None:
    """Encounter binding: outside it a draft answers 404 exactly as an unknown id would.

    SMART scopes that do not allow the write stay a 403: the draft is visible to the caller.
    """
    draft, verb, claims = ENCOUNTER_ATTACKS[name]
    headers = two_tenants.bearer(two_tenants.clinician_token(**claims))
    if name.startswith("smart-scopes"):
        refused(draft_call(two_tenants, draft, verb, headers), 403)
        return
    body = refused(draft_call(two_tenants, draft, verb, headers), 404)
    real = getattr(two_tenants.drafts, draft)
    setattr(two_tenants.drafts, draft, random_id())
    try:
        unknown = refused(draft_call(two_tenants, draft, verb, headers), 404)
    finally:
        setattr(two_tenants.drafts, draft, real)
    assert body == unknown


def test_a_care_team_grant_lets_its_practitioner_approve(two_tenants: TwoTenants) -> None:
    """Positive control: the granted practitioner, with no launch context, may approve."""
    token = two_tenants.clinician_token(
        encounter=None, patient=None, fhir_user=GRANTED_PRACTITIONER, subject="dr-granted"
    )
    draft = two_tenants.submit(TENANT_A, encounter="Encounter/enc-777")["id"]
    answer = two_tenants.approve(draft, token)
    assert answer.status_code == 202, answer.text
    approver = answer.json()["draft"]
    assert approver["state"] == "queued"


def test_a_replayed_approval_for_a_changed_version_is_refused(two_tenants: TwoTenants) -> None:
    """After an edit made v2, replaying "approve v1" under a new Idempotency-Key is a 412."""
    draft = two_tenants.submit(TENANT_A)["id"]
    token = two_tenants.clinician_token()
    edited = two_tenants.api.put(
        f"/v1/drafts/{draft}",
        json=EDIT,
        headers={**two_tenants.bearer(token), "If-Match": 'W/"1"', "Idempotency-Key": "edit-1"},
    )
    assert edited.status_code == 200, edited.text
    with unchanged_world(two_tenants):
        refused(two_tenants.approve(draft, token, 1, **{"Idempotency-Key": "replay-2"}), 412)


def test_a_replayed_approval_of_an_approved_draft_is_refused(two_tenants: TwoTenants) -> None:
    """A captured approval replayed under another key cannot queue a second write-back."""
    draft = two_tenants.submit(TENANT_A)["id"]
    token = two_tenants.clinician_token()
    first = two_tenants.approve(draft, token, 1, **{"Idempotency-Key": "first-approval"})
    assert first.status_code == 202, first.text
    with unchanged_world(two_tenants):
        refused(two_tenants.approve(draft, token, 1, **{"Idempotency-Key": "second-key"}), 409)
    replay = two_tenants.approve(draft, token, 1, **{"Idempotency-Key": "first-approval"})
    assert replay.status_code == 202
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
