"""The reviewer app's admin page: the post-launch report and drift with charts, for an admin.

``GET /review/admin/report?start=…&end=…`` shows what ``chartgate report --html`` writes and,
below it, what ``chartgate drift --html`` writes for the same window against the 28 days
before it (``web/charts.py`` renders all three), for the signed-in admin's own tenant only.
An admin signs in through the same OpenID Connect flow as a clinician, asking for
``chartgate/admin`` (``signin.begin_login``); a clinician's session gets a 403 page. The page
is one HTML file with inline SVG and no script, so it carries its own stricter policy:
nothing may load, no script may run, only its inline styles apply.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from chartgate.adapters.keys.envelope import EnvelopeCipher
from chartgate.adapters.keys.local import LocalKeyProvider
from chartgate.adapters.keys.pseudonyms import KeyedPseudonyms
from chartgate.adapters.storage.data_keys import SqlDataKeyStore
from chartgate.adapters.storage.report_source import SqlReportSource
from chartgate.domain.principal import Role
from chartgate.service.reports import Drift, Report, build_drift, build_report
from chartgate.web.charts import admin_html
from chartgate.web.reviewer import (
    Reviewer,
    authenticated,
    reviewer_of,
    show_message,
    to_login,
)
from chartgate.web.session import SessionEnded

ADMIN_PREFIX = "/review/admin/"
REPORT_PATH = ADMIN_PREFIX + "report"
ADMIN_SCOPE = "openid chartgate/admin"
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)

BASELINE = timedelta(days=28)  # the drift baseline before the window, as ``chartgate drift``

router = APIRouter(prefix="/review/admin", include_in_schema=False)


def _moment(text: str | None, default: datetime) -> datetime | None:
    if not text:
        return default
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _figures(
    reviewer: Reviewer, tenant: str, start: datetime, end: datetime
) -> tuple[Report, Drift]:
    application = reviewer.application
    engine = application.engine
    cipher = EnvelopeCipher(
        LocalKeyProvider(application.settings.key_file), SqlDataKeyStore(engine)
    )
    pseudonyms = KeyedPseudonyms(cipher.derive_key)

    def clinician(tenant_id: str, actor: str) -> str:
        return "clin-" + pseudonyms.reference(tenant_id, actor).rsplit(":", 1)[1][:8]

    source = SqlReportSource(engine)
    events = source.events(start - BASELINE, tenant=tenant)
    origins = source.origins(events)
    report = build_report(events, origins, start=start, end=end, clinician=clinician)
    drift = build_drift(
        events,
        origins,
        baseline=(start - BASELINE, start),
        window=(start, end),
        clinician=clinician,
    )
    return report, drift


@router.get("/report")
async def report_page(
    request: Request, start: str | None = None, end: str | None = None
) -> Response:
    """The tenant's report and drift with charts (admin only); ``?start=&end=``: ISO times."""
    reviewer = reviewer_of(request)
    try:
        _, principal = await run_in_threadpool(authenticated, reviewer, request)
    except SessionEnded:
        return to_login(REPORT_PATH)
    if principal.role is not Role.ADMIN:
        return show_message(
            reviewer, 403, "Admins only", "This page is for your organisation's administrators."
        )
    now = datetime.now(UTC)
    until = _moment(end, now)
    since = _moment(start, (until or now) - timedelta(days=7))
    if until is None or since is None or since >= until:
        return show_message(
            reviewer, 400, "Bad window", "start and end are ISO dates, start before end."
        )
    report, drift = await run_in_threadpool(_figures, reviewer, principal.tenant, since, until)
    page = admin_html(
        report,
        drift,
        tenant=principal.tenant,
        baseline=f"{since - BASELINE:%Y-%m-%d %H:%M}..{since:%Y-%m-%d %H:%M} UTC",
        window=f"{since:%Y-%m-%d %H:%M}..{until:%Y-%m-%d %H:%M} UTC",
    )
    return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_POLICY})
