"""Worklists: ``GET /v1/drafts`` (clinician) and ``GET /v1/writebacks`` (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from chartgate.api.deps import AppDep, MetaDep, PrincipalDep
from chartgate.service.worklists import MAX_PAGE

router = APIRouter(prefix="/v1", tags=["worklists"])

StateQuery = Annotated[str | None, Query(max_length=200, description="one state or a comma list")]
CursorQuery = Annotated[str | None, Query(max_length=400, description="next_cursor of a page")]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@router.get("/drafts")
def draft_worklist(
    app: AppDep,
    principal: PrincipalDep,
    meta: MetaDep,
    state: StateQuery = None,
    encounter: Annotated[str | None, Query(max_length=200)] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> JSONResponse:
    """Clinician: drafts of the encounters you may see (awaiting review unless ``state``)."""
    page = app.worklists.drafts(
        principal,
        state=state,
        encounter=encounter,
        cursor=cursor,
        limit=limit,
        request_id=meta.request_id,
    )
    return JSONResponse(
        {"drafts": [item.public() for item in page.items], "next_cursor": page.next_cursor}
    )


@router.get("/writebacks")
def writeback_worklist(
    app: AppDep,
    principal: PrincipalDep,
    state: StateQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> JSONResponse:
    """Admin: write-backs that need a person; ids and states only, no patient data.

    Without ``state``: conflict, needs_person, partial, ambiguous, held and escalated.
    """
    page = app.worklists.writebacks(principal, state=state, cursor=cursor, limit=limit)
    return JSONResponse(
        {"writebacks": [item.public() for item in page.items], "next_cursor": page.next_cursor}
    )
