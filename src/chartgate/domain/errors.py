"""The one error tree of chartgate.

Every error the product raises on purpose is defined and drawn here, so that the API can
translate them through one table (``api/errors.py``) and nothing else leaks out; no other module
subclasses ``ChartgateError`` (``tests/unit/test_error_tree.py`` checks both)::

    ChartgateError
    ├── InputError               bad input from a caller (HTTP 400/422)
    │   ├── ValidationFailed     findings refuse a submission, save or approval (422)
    │   ├── PolicyDenied         the write-back matrix does not allow this (403)
    │   ├── PayloadTooLarge      the body is over the configured limit (413)
    │   ├── IdempotencyMismatch  same Idempotency-Key, different request (422)
    │   └── PolicyFileError      a policy file that fails its schema (CLI exit 2)
    ├── NotFound                 unknown id, or another tenant's id (404)
    │   └── OutsideBinding       a draft outside the launch context and grants (404, no oracle)
    ├── AuthError                no or bad credentials (401)
    │   ├── MissingCredentials   none were sent (401, bare challenge)
    │   └── Forbidden            authenticated but not allowed (403)
    │       └── StepUpRequired   needs a recent, stronger sign-in (401 + RFC 9470 challenge)
    ├── StateConflict            illegal lifecycle transition (409)
    │   ├── VersionMismatch      If-Match names a version that is not current (412)
    │   ├── IdempotencyInFlight  the same Idempotency-Key is being processed (409)
    │   ├── KillSwitchEngaged    an engaged kill switch refuses this action (409)
    │   └── ChartContextRefused  the EHR's Encounter/Patient refuse this note (409)
    ├── IntegrityError           what is about to be sent differs from what was approved
    │   └── LedgerDamaged        the stored audit log disagrees with itself: nothing is signed
    ├── EhrError                 the EHR could not be talked to
    │   ├── EhrUnreachable       the request never left (connect failed): safe to retry
    │   │   └── EhrNotAllowed    refused before sending: the vendor profile forbids it
    │   └── EhrAmbiguous         the request may have landed (timeout, dropped connection)
    ├── StoreUnavailable         the database is unreachable or dropped us (503, Retry-After)
    ├── SchemaNotCurrent         the store's schema is not this version's (refuse to start, exit 4)
    ├── KeyFileError             the KEK file is unsafe or malformed (refuse to start)
    ├── LedgerKeyError           the ledger signing key file is unsafe or not Ed25519
    ├── KeyCustodyError          a key is missing or not initialised (`chartgate keys init`)
    │   └── KeyMismatch          this process reaches other keys than the store records
    ├── SecretError              a secret reference is malformed, unsafe or unresolvable
    ├── DecryptionError          a ciphertext or wrapped key does not open (tampered, misplaced)
    ├── TracingConfigError       the configured trace exporter cannot be used (refuse to start)
    ├── TlsConfigError           a CA bundle or mTLS certificate/key cannot be loaded
    ├── RendererMissing          Graphviz `dot` is missing or failed (chartgate dataflow -f svg)
    └── ProcessorNotRegistered   a configured destination is under no processor (refuse to start)

Messages never carry PHI: they name ids, codes and states only; secrets never show either.
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


class OutsideBinding(NotFound):
    """A draft outside the caller's launch context and grants: answered exactly as a missing one.

    A 403 here would tell a clinician that a draft id exists in another encounter of the
    tenant (an existence oracle); the refusal is still recorded in the tenant's ledger.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, expression="id")


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


class KillSwitchEngaged(StateConflict):
    """An engaged kill switch refuses this action (the message names it and its reason)."""


class IntegrityError(ChartgateError):
    """The payload about to be sent does not hash to the approved content."""


class EhrError(ChartgateError):
    """Talking to the EHR failed."""

    def __init__(
        self, message: str, *, expression: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, expression=expression)
        self.retry_after = retry_after


class LedgerDamaged(IntegrityError):
    """The stored log disagrees with itself; nothing is signed until it is investigated."""


class StepUpRequired(Forbidden):
    """The action needs a recent, stronger authentication (RFC 9470)."""

    def __init__(self, message: str, *, max_age: int, acr_values: str | None) -> None:
        super().__init__(message, expression="Authorization")
        self.max_age = max_age
        self.acr_values = acr_values


class KeyFileError(ChartgateError):
    """The KEK file is unsafe (group/other permissions, not a regular file) or malformed.

    Refusing to start is the point: a world-readable KEK silently voids encryption at rest.
    """


class LedgerKeyError(ChartgateError):
    """The signing key file is unsafe (permissions, not a regular file) or not Ed25519."""


class KeyCustodyError(ChartgateError):
    """A key is missing, not initialised, or not the one the store records (docs/keys.md).

    Outside dev mode chartgate never creates a key itself: ``chartgate keys init`` does.
    """


class KeyMismatch(KeyCustodyError):
    """This process reaches other keys than the ones the store records (a replica's files)."""


class SecretError(ChartgateError):
    """A secret reference is malformed, unsafe or cannot be resolved (the value never shows)."""


class DecryptionError(ChartgateError):
    """A ciphertext or wrapped key failed to open: wrong tenant, wrong context, or tampered.

    Deliberately one undifferentiated error: telling a caller *why* a ciphertext failed
    (wrong key vs. wrong tag) helps an attacker more than it helps an operator.
    """


class ChartContextRefused(StateConflict):
    """The EHR says the note's encounter is missing, another patient's, or not documentable.

    Read from the EHR on approval and before the first send (``domain/patient_context.py``).
    """


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


class SchemaNotCurrent(ChartgateError):
    """The store's schema is not the one this version of chartgate was built for.

    Commands that need the store refuse to start (``chartgate db upgrade`` first).
    """


class TracingConfigError(ChartgateError):
    """The configured trace exporter cannot be used."""


class ProcessorNotRegistered(ChartgateError):
    """A configured outbound destination is not under any registered processor (refuse to start)."""


class TlsConfigError(ChartgateError):
    """A tenant's CA bundle or mTLS client certificate/key cannot be loaded (refuse to start)."""


class RendererMissing(ChartgateError):
    """Graphviz ``dot`` is not installed or failed (``chartgate dataflow -f svg``)."""
