"""Minimum-necessary context for scribes: sessions, narrowed EHR reads, every read audited.

A clinician (bound to the encounter by launch context or care-team grant) opens a scribe
session naming the scribe client and the note template. Inside a live session the scribe asks
``GET /v1/context``; chartgate checks the request against the template's read profile
(``domain/minimum_necessary.py``), reads the EHR with the tenant's own backend credentials,
checks and cuts the answer, and records the read in the ledger as a BALP PatientRead or
PatientQuery with the purpose of use. A refused request is recorded too, then refused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chartgate.domain.drafts import Draft
from chartgate.domain.errors import (
    ChartgateError,
    EhrError,
    Forbidden,
    NotFound,
    PolicyDenied,
    StateConflict,
)
from chartgate.domain.events import AuditRecord, EventType
from chartgate.domain.minimum_necessary import (
    ContextRequest,
    ReadPlan,
    check_size,
    plan_read,
    refuse,
    shape,
)
from chartgate.domain.policy import ReadProfile
from chartgate.domain.principal import Principal, Role
from chartgate.domain.scribe_session import ScribeSession, delegation, session_expiry
from chartgate.service import authz
from chartgate.service.context import Context
from chartgate.service.ports import EhrGateway, JsonObject

SESSION_MISSING = "scribe session not found"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRequest:
    """What a clinician asks to open: whose context, for which scribe and template."""

    patient: str
    encounter: str
    template: str
    scribe_client: str
    ttl: timedelta | None = None


def scribe_client_of(principal: Principal) -> str:
    """The OAuth client a scribe token speaks for (its ``client_id``, else its subject)."""
    return principal.client_id or principal.subject


class ContextService:
    """Open scribe sessions and answer context reads inside them."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def open_session(
        self,
        principal: Principal,
        request: SessionRequest,
        *,
        request_id: str | None,
        token: str | None = None,
    ) -> ScribeSession:
        """A clinician bound to the encounter lets one scribe client read its context.

        ``token`` is the clinician's bearer token: when it is the access token of an EHR
        launch on this very encounter, issued for the tenant's EHR and unexpired, the
        session keeps it (encrypted) and reads with it until it expires (``delegation``).
        """
        ctx = self._ctx
        authz.require_role(principal, Role.CLINICIAN)
        access = ctx.access.rules(principal.tenant)
        now = ctx.clock.now()
        basis = authz.require_encounter(
            principal,
            request.encounter,
            patient=request.patient,
            grants=access.grants,
            now=now,
            base=access.ehr_base,
            missing="encounter not found",
        )
        if request.template not in self._ctx.policy.policy.read_profiles:
            raise PolicyDenied(
                f"note template {request.template!r} has no read profile", expression="template"
            )
        start, end = self._period(principal.tenant, request, request_id or session_id(now))
        expires_at = session_expiry(now, request.ttl)
        delegated, why = delegation(
            principal, token, basis=basis, ehr_base=access.ehr_base, now=now
        )
        session = ScribeSession(
            id=self._ctx.ids.new_id(),
            tenant=principal.tenant,
            patient=request.patient,
            encounter=request.encounter,
            template=request.template,
            scribe_client=request.scribe_client,
            opened_by=f"{principal.role.value}:{principal.subject}",
            opened_at=now,
            expires_at=expires_at,
            anchor_at=start,
            encounter_end=end,
            delegated_token=delegated,
            delegated_until=(
                min(expires_at, principal.expires_at)
                if delegated and principal.expires_at
                else None
            ),
        )
        with self._ctx.uow() as uow:
            uow.context.add_session(session)
            uow.audit.append(
                self._record(
                    EventType.CONTEXT_SESSION_OPENED,
                    session,
                    principal,
                    request_id,
                    {
                        "template": session.template,
                        "scribe_client": session.scribe_client,
                        "expires_at": session.expires_at.isoformat(),
                        "encounter": self._pseudonym(session.tenant, session.encounter),
                        "credentials": "delegated" if delegated else "backend",
                        "delegation": why,
                        "delegated_until": (
                            session.delegated_until.isoformat() if session.delegated_until else None
                        ),
                    },
                )
            )
        return session

    def close_session(
        self, principal: Principal, session_id: str, *, request_id: str | None
    ) -> ScribeSession:
        """End a session before it expires: its scribe, or a clinician bound to its encounter.

        Every later read in it is refused (it is no longer live) and its delegated token, if
        any, is forgotten. A session that is unknown, another client's or outside the
        clinician's encounters answers as not found; one that has already ended is a conflict.
        """
        ctx = self._ctx
        authz.require_role(principal, Role.CLINICIAN, Role.SCRIBE)
        now = ctx.clock.now()
        actor = f"{principal.role.value}:{principal.subject}"
        with ctx.uow() as uow:
            session = self._may_close(principal, uow.context.session(principal.tenant, session_id))
            if not uow.context.close_session(session.tenant, session.id, at=now, by=actor):
                raise StateConflict("the scribe session has already ended", expression="session")
            uow.audit.append(
                self._record(
                    EventType.CONTEXT_SESSION_CLOSED,
                    session,
                    principal,
                    request_id,
                    {
                        "template": session.template,
                        "scribe_client": session.scribe_client,
                        "expires_at": session.expires_at.isoformat(),
                        "closed_early_by": principal.role.value,
                    },
                )
            )
        return replace(
            session, closed_at=now, closed_by=actor, delegated_token=None, delegated_until=None
        )

    def _may_close(self, principal: Principal, session: ScribeSession | None) -> ScribeSession:
        """The session, if ``principal`` may end it (else 404, as for an unknown id)."""
        if session is None:
            raise NotFound(SESSION_MISSING, expression="session")
        if principal.role is Role.SCRIBE:
            if session.scribe_client != scribe_client_of(principal):
                raise NotFound(SESSION_MISSING, expression="session")
            return session
        access = self._ctx.access.rules(principal.tenant)
        authz.require_encounter(
            principal,
            session.encounter,
            patient=session.patient,
            grants=access.grants,
            now=self._ctx.clock.now(),
            base=access.ehr_base,
            missing=SESSION_MISSING,
        )
        return session

    def sessions(self, draft: Draft) -> list[ScribeSession]:
        """The scribe sessions of ``draft``'s encounter, newest first (no tokens).

        For the reviewer page, whose view has already checked the principal's access.
        """
        with self._ctx.uow(read_only=True) as uow:
            return uow.context.sessions_for(draft.tenant, draft.encounter)

    def live_session(self, principal: Principal, session_id: str) -> ScribeSession:
        """The caller's live session ``session_id`` (``Forbidden`` otherwise)."""
        return live_session(self._ctx, principal, session_id)

    def read(
        self,
        principal: Principal,
        session_id: str,
        request: ContextRequest,
        *,
        request_id: str | None,
    ) -> JsonObject:
        """Answer one context request as a searchset Bundle, or refuse it (both audited)."""
        session = self.live_session(principal, session_id)
        profile = self._ctx.policy.policy.read_profiles[session.template]
        gateway, credentials = self._gateway(session)
        asked = {**_asked(request), "credentials": credentials}
        try:
            plan = plan_read(profile, session, request, now=self._ctx.clock.now())
            bundle = self._fetch(plan, session, gateway, request_id)
            check_size(bundle, profile)
        except (PolicyDenied, Forbidden) as refusal:
            self._audit_refusal(session, principal, request_id, profile, asked, refusal)
            raise
        entries = bundle["entry"]
        event = EventType.CONTEXT_READ if plan.resource_id else EventType.CONTEXT_QUERY
        with self._ctx.uow() as uow:
            uow.audit.append(
                self._record(
                    event,
                    session,
                    principal,
                    request_id,
                    {
                        **asked,
                        "template": session.template,
                        "purpose_of_use": profile.purpose_of_use,
                        "resource_type": plan.resource_type,
                        "elements": list(plan.elements),
                        "since": plan.since.isoformat() if plan.since else None,
                        "until": plan.until.isoformat(),
                        "results": len(entries),
                    },
                )
            )
        return bundle

    def _gateway(self, session: ScribeSession) -> tuple[EhrGateway, str]:
        """The clinician's delegated token while it serves, else the narrowed backend one."""
        token = session.delegated(self._ctx.clock.now())
        if token is not None:
            return self._ctx.ehr.delegated_reader(session.tenant, token), "delegated"
        profile = self._ctx.policy.policy.read_profiles[session.template]
        return self._ctx.ehr.reader(session.tenant, profile.smart_scopes()), "backend"

    def _fetch(
        self, plan: ReadPlan, session: ScribeSession, gateway: EhrGateway, request_id: str | None
    ) -> JsonObject:
        rid = request_id or session.id
        if plan.resource_id is not None:
            answer = gateway.read(plan.resource_type, plan.resource_id, request_id=rid)
            found = shape(answer.resource or {}, plan) if answer.ok else None
            if found is None:  # absent, another patient's, outside the window or category
                raise refuse(
                    f"the referenced {plan.resource_type} is not in this session's context",
                    "reference",
                )
            return _bundle([found])
        raw = gateway.search(plan.resource_type, plan.search_params(), request_id=rid)
        kept = [item for item in (shape(r, plan) for r in raw) if item is not None]
        return _bundle(kept[: plan.count])

    def _period(
        self, tenant: str, request: SessionRequest, request_id: str
    ) -> tuple[datetime, datetime | None]:
        """The encounter's start and end, read from the EHR; it must be the named patient's.

        The start anchors every window's lower bound; the end (None while the encounter is in
        progress) is its upper bound.
        """
        kind, _, encounter_id = request.encounter.partition("/")
        if kind != "Encounter" or not encounter_id:
            raise PolicyDenied("encounter must be Encounter/<id>", expression="encounter")
        try:
            answer = self._ctx.ehr.gateway(tenant).read(
                "Encounter", encounter_id, request_id=request_id
            )
        except EhrError as exc:
            raise PolicyDenied(
                "the EHR could not confirm the encounter", expression="encounter"
            ) from exc
        resource = answer.resource or {}
        subject = (resource.get("subject") or {}).get("reference")
        if not answer.ok or subject != request.patient:
            raise PolicyDenied(
                "the encounter is not the named patient's in the EHR", expression="encounter"
            )
        period = resource.get("period") or {}
        start = _instant(period.get("start")) or self._ctx.clock.now()
        end = _instant(period.get("end"))
        return start, end if end is None or end >= start else start

    def _audit_refusal(
        self,
        session: ScribeSession,
        principal: Principal,
        request_id: str | None,
        profile: ReadProfile,
        asked: dict[str, Any],
        refusal: ChartgateError,
    ) -> None:
        with self._ctx.uow() as uow:
            uow.audit.append(
                self._record(
                    EventType.CONTEXT_REFUSED,
                    session,
                    principal,
                    request_id,
                    {
                        **asked,
                        "template": session.template,
                        "purpose_of_use": profile.purpose_of_use,
                        "reason": refusal.message,
                        "rule": refusal.expression,
                    },
                )
            )

    def _record(
        self,
        event: EventType,
        session: ScribeSession,
        principal: Principal,
        request_id: str | None,
        data: JsonObject,
    ) -> AuditRecord:
        return AuditRecord(
            type=event,
            tenant=session.tenant,
            at=self._ctx.clock.now(),
            correlation_id=session.id,
            actor=f"{principal.role.value}:{principal.subject}",
            request_id=request_id,
            data={"session": session.id, **data},
            patient=self._pseudonym(session.tenant, session.patient),
        )

    def _pseudonym(self, tenant: str, reference: str) -> str | None:
        return self._ctx.pseudonym(tenant, reference)


def live_session(ctx: Context, principal: Principal, session_id: str) -> ScribeSession:
    """The scribe's live session ``session_id`` (``Forbidden`` otherwise, as for an unknown id)."""
    authz.require_role(principal, Role.SCRIBE)
    with ctx.uow(read_only=True) as uow:
        session = uow.context.session(principal.tenant, session_id)
    if session is None:
        raise Forbidden(
            "no live scribe session with this id for this client: ask the clinician to"
            " open one for the encounter",
            expression="session",
        )
    session.ensure_usable(scribe_client_of(principal), ctx.clock.now())
    return session


def session_id(now: datetime) -> str:
    """A request id for the session-opening read when the caller sent none."""
    return f"session-open-{int(now.timestamp())}"


def _instant(value: object) -> datetime | None:
    """An EHR dateTime as an aware instant (a date-only value counts from midnight UTC)."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _asked(request: ContextRequest) -> dict[str, Any]:
    """What was asked, for the ledger: types, counts and names only, no references.

    The patient and encounter a scribe named are not copied (they may be another patient's);
    whether they differed from the session's is what the refusal records.
    """
    return {
        "interaction": "read" if request.reference else "search-type",
        "asked_type": request.resource_type or (request.reference or "").partition("/")[0],
        "asked_elements": list(request.elements) if request.elements is not None else None,
        "asked_count": request.count,
        "asked_category": request.category,
        "asked_since": request.since.isoformat() if request.since else None,
        "asked_until": request.until.isoformat() if request.until else None,
        "unknown_parameters": list(request.unknown),
    }


def _bundle(resources: list[JsonObject]) -> JsonObject:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": resource} for resource in resources],
    }
