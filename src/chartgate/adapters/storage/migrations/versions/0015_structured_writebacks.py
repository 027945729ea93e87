"""writebacks: one row per part of an approval (the note, then its structured resources)

Revision ID: 0015
Revises: 0016
Create Date: 2026-12-02 08:00:00

Issue 13 item 5: a clinician-approved Condition / AllergyIntolerance / Observation /
MedicationRequest is written after approval as its own write-back, in the approval's
transaction. The claim becomes one row per (approval, part): ``part`` 0 is the note,
1, 2, ... its structured resources in write order; ``after_id`` names the write-back that
must be settled before this one is sent; ``target_type`` is the resource type it writes, in
clear (a kill switch on a resource type holds its rows in SQL; NULL: a note's,
DocumentReference). Existing rows are part 0 with no predecessor.
SQLite cannot change a table constraint in place: the table is rebuilt (batch mode).
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0016"  # given as 0014; 0016 (context2) reached main first
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("writebacks") as batch:
        batch.add_column(sa.Column("part", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("after_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("target_type", sa.String(40), nullable=True))
        batch.drop_constraint("uq_writebacks_claim", type_="unique")
        batch.create_unique_constraint("uq_writebacks_claim", ["tenant", "approval_id", "part"])


def downgrade() -> None:
    # A downgrade keeps the notes' rows only: the structured parts cannot share the claim.
    op.execute("DELETE FROM writebacks WHERE part <> 0")
    with op.batch_alter_table("writebacks") as batch:
        batch.drop_constraint("uq_writebacks_claim", type_="unique")
        batch.create_unique_constraint("uq_writebacks_claim", ["tenant", "approval_id"])
        batch.drop_column("target_type")
        batch.drop_column("after_id")
        batch.drop_column("part")
