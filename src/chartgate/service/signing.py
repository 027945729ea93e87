"""Final-only EHRs: where notes can only be written signed, approving is signing.

Some EHRs take a note only as ``final`` (Oracle Health Millennium R4 creates with
``docStatus = final``; the fail-safe profile assumes it too): there is no unsigned draft in the
chart for a later "Finalize". The vendor profile says so (``accepts_preliminary = no``), and
there approve and finalize are ONE clinician act, with the step-up that finalizing needs. A
plain approve is refused with an OperationOutcome that says what to do instead; the reviewer
page says it before the click and offers the one-step button.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chartgate.domain.errors import StateConflict

if TYPE_CHECKING:
    from chartgate.domain.principal import Principal
    from chartgate.service.context import Context

__all__ = ["SIGN_REQUIRED", "final_only", "signed_approval"]

SIGN_REQUIRED = (
    "this EHR takes signed notes only: approve and sign in one step (step-up sign-in,"
    ' request body {"sign": true})'
)


def final_only(ctx: Context, tenant: str) -> bool:
    """Whether the tenant's EHR takes signed (``final``) notes only."""
    return not ctx.ehr.profile(tenant).accepts_preliminary


def signed_approval(ctx: Context, principal: Principal, *, sign: bool) -> str:
    """The ``docStatus`` an approval writes; refuse what the tenant's EHR cannot take.

    ``sign`` needs the step-up authentication finalizing needs. Without it, an EHR that takes
    signed notes only refuses the approval (HTTP 409, ``business-rule``).
    """
    if not sign:
        if final_only(ctx, principal.tenant):
            raise StateConflict(SIGN_REQUIRED, expression="sign")
        return "preliminary"
    ctx.access.require_strength(principal, "step-up")
    return "final"
