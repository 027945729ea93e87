"""The one error table (service/error_table.py): the status each error in the tree gets."""

from __future__ import annotations

import pytest

from chartgate.domain import errors as e
from chartgate.service.error_table import ERROR_TABLE, status_and_code


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (e.StepUpRequired("sign in again", max_age=300, acr_values=None), (401, "login")),
        (e.Forbidden("not yours"), (403, "forbidden")),
        (e.MissingCredentials("none"), (401, "login")),
        (e.ValidationFailed("refused", findings=()), (422, "invalid")),
        (e.OutsideBinding("no such draft"), (404, "not-found")),
        (e.VersionMismatch("stale"), (412, "conflict")),
        (e.KillSwitchEngaged("held"), (409, "business-rule")),
        (e.LedgerDamaged("damaged"), (409, "conflict")),
        (e.EhrNotAllowed("profile forbids"), (502, "transient")),
        (e.StoreUnavailable("down"), (503, "transient")),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)
def test_each_error_gets_the_status_of_its_most_specific_row(
    error: e.ChartgateError, expected: tuple[int, str]
) -> None:
    """A subclass with a row of its own gets it, not its parent's (step-up is 401, not 403)."""
    assert status_and_code(error) == expected


def test_an_error_without_a_row_is_a_500_exception() -> None:
    """A startup-only error that reaches a request is a server fault, never a 4xx guess."""
    assert status_and_code(e.KeyFileError("unsafe key file")) == (500, "exception")


def test_no_row_is_shadowed_by_an_earlier_row_of_its_parent() -> None:
    """Most specific first: a later row whose class an earlier row already matches is dead."""
    for later, (kind, _, _) in enumerate(ERROR_TABLE):
        earlier = [row[0] for row in ERROR_TABLE[:later]]
        assert not any(issubclass(kind, parent) for parent in earlier), kind.__name__
