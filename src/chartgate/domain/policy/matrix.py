"""The matrix as a flat table: one row per note type, one per other resource type.

What ``chartgate policy show`` prints; strings only.
"""

from __future__ import annotations

from typing import NamedTuple

from chartgate.domain.policy.schema import WritebackPolicy
from chartgate.domain.policy.terms import Mode


class MatrixRow(NamedTuple):
    """One display row of the matrix (strings only, ready for a table)."""

    resource_type: str
    note_type: str
    display: str
    mode: str
    auth: str
    finalize_auth: str
    rollback: str
    ehr_profiles: str


def matrix_rows(policy: WritebackPolicy) -> list[MatrixRow]:
    """Flatten the matrix for display: one row per note type, one per other resource type."""
    rows: list[MatrixRow] = []
    for resource_type, rule in policy.resources.items():
        rollback = ", ".join(rule.rollback)
        vendors = ", ".join(rule.ehr_profiles)
        if rule.note_types is not None:
            rows.extend(
                MatrixRow(
                    resource_type,
                    code,
                    note.display,
                    note.mode,
                    note.auth,
                    note.finalize_auth,
                    rollback,
                    "" if note.mode is Mode.DRAFT_ONLY else vendors,
                )
                for code, note in rule.note_types.items()
            )
        else:
            rows.append(
                MatrixRow(
                    resource_type,
                    "",
                    "",
                    rule.mode or "",
                    rule.auth or "",
                    "",
                    rollback,
                    "" if rule.mode is Mode.DRAFT_ONLY else vendors,
                )
            )
    return rows
