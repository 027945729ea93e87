"""Drift in access: scopes granted, roles acting, approvals on care-team grants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chartgate.service.access_drift import access_drift
from chartgate.service.reports import LedgerEvent

T0 = datetime(2026, 11, 1, tzinfo=UTC)
BASELINE = (T0, T0 + timedelta(days=7))
WINDOW = (T0 + timedelta(days=7), T0 + timedelta(days=14))


def event(day: int, kind: str, actor: str, **data: object) -> LedgerEvent:
    return LedgerEvent(
        tenant="clinic-a",
        type=kind,
        at=T0 + timedelta(days=day, hours=1),
        draft_id="d",
        writeback_id=None,
        actor=actor,
        data=dict(data),
    )


def test_new_scopes_roles_and_grant_reliance_are_flagged_as_added() -> None:
    """A scope, a role and grant-based approvals first seen in the window are ``added``."""
    approve = "draft.approved"
    events = [
        event(1, approve, "clinician:p1", scopes=["chartgate/drafts.approve"], binding="launch"),
        event(2, "draft.received", "scribe:s1"),
        event(8, approve, "clinician:p1", scopes=["chartgate/drafts.approve"], binding="grant"),
        event(9, approve, "clinician:p2", scopes=["chartgate/admin"], binding="grant"),
        event(9, approve, "clinician:p2", scopes=["chartgate/admin"], binding="grant"),
        event(10, "killswitch.engaged", "admin:a1"),
        event(30, approve, "clinician:p9", scopes=["late/scope"], binding="grant"),  # outside
    ]
    lines = {(a.group, a.name): a for a in access_drift(events, baseline=BASELINE, window=WINDOW)}
    approve_scope = lines["scope", "chartgate/drafts.approve (approvals carrying it)"]
    assert (approve_scope.baseline, approve_scope.window, approve_scope.added) == (1, 1, False)
    admin_scope = lines["scope", "chartgate/admin (approvals carrying it)"]
    assert (admin_scope.baseline, admin_scope.window, admin_scope.added) == (0, 2, True)
    assert lines["role", "admin (distinct actors)"].added
    assert (lines["role", "clinician (distinct actors)"].window) == 2  # p1 and p2, once each
    assert not lines["role", "scribe (distinct actors)"].window
    grants = lines["grant", "approvals on a care-team grant"]
    assert (grants.baseline, grants.window) == (0, 3)
    assert lines["grant", "practitioners approving on a grant (distinct)"].window == 2
    assert ("scope", "late/scope (approvals carrying it)") not in lines
    first = access_drift(events, baseline=BASELINE, window=WINDOW)[0]
    assert first.added  # what a reviewer must look at comes first
