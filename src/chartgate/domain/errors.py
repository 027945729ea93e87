"""The one error tree of chartgate.

Every error the product raises on purpose is drawn here, so that the API can translate
them through one table (``api/errors.py``) and nothing else leaks out::

    ChartgateError
    ├── InputError               bad input from a caller (HTTP 400/422)
    │   ├── ValidationFailed     findings refuse a submission, save or approval (422)
    │   ├── PolicyDenied         the write-back matrix does not allow this (403)
    │   ├── PayloadTooLarge      the body is over the configured limit (413)
    │   ├── IdempotencyMismatch  same Idempotency-Key, different request (422)
    │   └── PolicyFileError      a policy file that fails its schema (CLI exit 2)
    ├── NotFound                 unknown id, or another tenant's id (404)
    ├── AuthError                no or bad credentials (401)
    │   ├── MissingCredentials   none were sent (401, bare challenge)
    │   └── Forbidden            authenticated but not allowed (403)
    ├── StateConflict            illegal lifecycle transition (409)
    │   ├── VersionMismatch      If-Match names a version that is not current (412)
    │   └── IdempotencyInFlight  the same Idempotency-Key is being processed (409)
    ├── IntegrityError           what is about to be sent differs from what was approved
    └── EhrError                 the EHR could not be talked to
        ├── EhrUnreachable       the request never left (connect failed): safe to retry
        │   └── EhrNotAllowed    refused before sending: the vendor profile forbids it
        └── EhrAmbiguous         the request may have landed (timeout, dropped connection)

Messages never carry PHI: they name ids, codes and states only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chartgate.domain.findings import Finding


class ChartgateError(Exception):
    """Base of every error chartgate raises on purpose."""

    def __init__(self, message: str, *, expression: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expression = expression


class InputError(ChartgateError):
    """The caller sent something malformed or unacceptable."""


class ValidationFailed(InputError):
    """Validation findings refuse this submission, save or approval (see domain/findings.py)."""

    def __init__(
        self, message: str, *, findings: Sequence[Finding], expression: str | None = None
    ) -> None:
        super().__init__(message, expression=expression)
        self.findings = tuple(findings)


class PolicyDenied(InputError):
    """The write-back matrix denies this resource, note type or action."""


class PayloadTooLarge(InputError):
    """The request body is over the configured limit."""


class IdempotencyMismatch(InputError):
    """An Idempotency-Key was reused with a different request."""


class PolicyFileError(InputError):
    """A policy file failed to parse or validate."""


class NotFound(ChartgateError):
    """The thing does not exist for this tenant (another tenant's id looks the same)."""


class AuthError(ChartgateError):
    """Missing, malformed, expired or untrusted credentials."""


class MissingCredentials(AuthError):
    """No credentials at all: the answer is a bare challenge (RFC 6750 section 3.1)."""


class Forbidden(AuthError):
    """The principal is authenticated but may not do this."""


class StateConflict(ChartgateError):
    """The draft's lifecycle does not allow this action now."""


class VersionMismatch(StateConflict):
    """The version named in If-Match is not the draft's current version."""


class IdempotencyInFlight(StateConflict):
    """A request with the same Idempotency-Key has not finished yet."""


class IntegrityError(ChartgateError):
    """The payload about to be sent does not hash to the approved content."""


class EhrError(ChartgateError):
    """Talking to the EHR failed."""

    def __init__(
        self, message: str, *, expression: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, expression=expression)
        self.retry_after = retry_after


class EhrUnreachable(EhrError):
    """The request never reached the EHR (connection refused, DNS): nothing can have landed."""


class EhrNotAllowed(EhrUnreachable):
    """Refused by chartgate before sending: the tenant's vendor profile does not allow it.

    A configuration problem (a type the EHR cannot take, a note too large for it, a search it
    cannot answer), never a transient one; nothing was sent, so nothing can have landed.
    """


class EhrAmbiguous(EhrError):
    """The request may have reached the EHR but no answer came back: it may have landed."""


class StoreUnavailable(ChartgateError):
    """The database could not be reached or dropped the connection: nothing was half-written.

    The transaction rolled back (or, if the connection died during COMMIT, its outcome is
    unknown and a retry with the same Idempotency-Key is answered from the store). Retryable:
    the API answers 503 with Retry-After.
    """
