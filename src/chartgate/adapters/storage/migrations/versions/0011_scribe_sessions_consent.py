"""scribe_sessions and consent_records: minimum-necessary context and consent evidence

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 04:30:00

Issue 17. A scribe session is a clinician's grant of chart context for one encounter to one
scribe client (ids, references and times, in clear like drafts). A consent record keeps the
consent evidence encrypted under the tenant's data key; only its digest and time are in clear
(ADR 0025).
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scribe_sessions",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("patient", sa.String(200), nullable=False),
        sa.Column("encounter", sa.String(200), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("scribe_client", sa.String(200), nullable=False),
        sa.Column("opened_by", sa.String(200), nullable=False),
        sa.Column("opened_at", UTC_TS, nullable=False),
        sa.Column("expires_at", UTC_TS, nullable=False),
        sa.Column("anchor_at", UTC_TS, nullable=False),
        sa.Column("closed_at", UTC_TS),
        sa.PrimaryKeyConstraint("tenant", "id", name="pk_scribe_sessions"),
    )
    op.create_table(
        "consent_records",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("encounter", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("record_blob", sa.LargeBinary, nullable=False),
        sa.Column("recorded_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "id", name="pk_consent_records"),
    )
    op.create_index(
        "ix_consent_records_encounter", "consent_records", ["tenant", "encounter", "recorded_at"]
    )
    # The consent record an approval relied on (its digest goes into the Provenance).
    op.add_column("approvals", sa.Column("consent_digest", sa.String(80), nullable=True))
    # The hash of the text chartgate appended to the note (consent paragraph, disclosure line).
    op.add_column("approvals", sa.Column("system_text_hash", sa.String(80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("system_text_hash")
        batch.drop_column("consent_digest")
    op.drop_index("ix_consent_records_encounter", table_name="consent_records")
    op.drop_table("consent_records")
    op.drop_table("scribe_sessions")
