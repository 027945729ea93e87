"""The ONE error table: exception -> HTTP status -> FHIR issue code, for the API and the page.

The API answers with it (``api/errors.py`` shapes an OperationOutcome); the reviewer page
(``web/actions.py``) uses the same status for the page it shows. Most specific first: the
first matching row wins. Issue codes: http://hl7.org/fhir/R4/valueset-issue-type.html.
"""

from __future__ import annotations

from chartgate.domain import errors as e
from chartgate.service.authz import StepUpRequired

ERROR_TABLE: tuple[tuple[type[e.ChartgateError], int, str], ...] = (
    (StepUpRequired, 401, "login"),
    (e.Forbidden, 403, "forbidden"),
    (e.AuthError, 401, "login"),
    (e.PolicyDenied, 403, "business-rule"),
    (e.PayloadTooLarge, 413, "too-costly"),
    (e.IdempotencyMismatch, 422, "conflict"),
    (e.PolicyFileError, 422, "invalid"),
    (e.ValidationFailed, 422, "invalid"),  # one issue per finding
    (e.InputError, 422, "invalid"),
    (e.NotFound, 404, "not-found"),
    (e.VersionMismatch, 412, "conflict"),
    (e.IdempotencyInFlight, 409, "conflict"),
    (e.StateConflict, 409, "business-rule"),
    (e.IntegrityError, 409, "conflict"),
    (e.EhrError, 502, "transient"),
    (e.StoreUnavailable, 503, "transient"),
)


def status_and_code(error: e.ChartgateError) -> tuple[int, str]:
    """The HTTP status and issue code of ``error`` (500 ``exception`` when no row matches)."""
    for kind, status, code in ERROR_TABLE:
        if isinstance(error, kind):
            return status, code
    return 500, "exception"
