"""Operations endpoints: liveness and readiness (open, no PHI) and metrics (an admin token).

``/healthz`` only says the process answers (cheap: a liveness probe restarts on failure).
``/readyz`` says whether this instance can do its work: the store answers, its schema is
the one this version needs, and the key files can be read; with ``readyz_check_ehr`` also
that each tenant's EHR answers ``GET [base]/metadata`` (``ehr:<tenant>``). Its body names
which check failed, never a path, URL or error text.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from chartgate.adapters.ehr.metadata_probe import EhrMetadataProbe
from chartgate.adapters.storage.schema_state import head_revision, schema_state
from chartgate.api.deps import AppDep, PrincipalDep
from chartgate.bootstrap import Application
from chartgate.bootstrap.keys import key_files
from chartgate.domain.principal import Role
from chartgate.service.authz import require_role

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> JSONResponse:
    """The process is up."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
def readyz(app: AppDep, request: Request) -> JSONResponse:
    """The store answers at the current schema and the keys are readable."""
    checks = readiness(app, request)
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


def readiness(app: Application, request: Request | None = None) -> dict[str, str]:
    """Each check's verdict: ``ok`` or a short word saying what is wrong."""
    checks = {"store": "ok", "schema": "ok", "keys": "ok"}
    head = getattr(request.app.state, "schema_head", None) if request is not None else None
    try:
        if head is None:
            head = head_revision(app.engine)
            if request is not None:
                request.app.state.schema_head = head
        state = schema_state(app.engine)
    except SQLAlchemyError:
        checks["store"] = "unreachable"
        checks["schema"] = "unknown"
    else:
        if state.current != head:
            checks["schema"] = "not-migrated" if state.current is None else "behind"
    if not all(_readable(path) for path in key_files(app.settings)):
        checks["keys"] = "unreadable"
    if app.settings.readyz_check_ehr and request is not None:
        probe = getattr(request.app.state, "ehr_probe", None)
        if probe is None:
            probe = EhrMetadataProbe({t.id: t for t in app.settings.tenants}, gate=app.gate)
            request.app.state.ehr_probe = probe
        checks.update({f"ehr:{tenant}": v for tenant, v in probe.check().items()})
    return checks


def _readable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.R_OK)


@router.get("/metrics")
def metrics(request: Request, principal: PrincipalDep) -> Response:
    """Prometheus metrics (an admin's bearer token): no patient, user or draft in any label.

    Request counts and latencies by route say what a service is doing and how often it
    refuses; they are not for anyone on the network (``bearer_token_file`` in Prometheus).
    """
    require_role(principal, Role.ADMIN)
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
