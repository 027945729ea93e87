"""draft_versions.schema_stamp: what approving the version sends passed the FHIR schema

Revision ID: 0018
Revises: 0019
Create Date: 2026-12-02 12:50:00

Issue 20 (ADR 0032). At submit, save and rebase chartgate builds what approving the new
version would send (the DocumentReference and the Provenance preview) with placeholders for
the write-back id, the approver and the time, runs the FHIR schema over both, and keeps the
digest of the two templates, the policy and the validator's version when both pass. Approval
rebuilds the templates and, on a match, runs the schema over the approval-time values only.
NULL: not proven (rows written before 0018 too): approval runs the full check.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0019"  # given as 0015; 0019 (lead) reached main first
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("draft_versions") as batch:
        batch.add_column(sa.Column("schema_stamp", sa.String(80)))


def downgrade() -> None:
    with op.batch_alter_table("draft_versions") as batch:
        batch.drop_column("schema_stamp")
