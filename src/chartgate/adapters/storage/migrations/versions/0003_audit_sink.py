"""audit sink: per-tenant cursor of the AuditEvents pushed to a FHIR endpoint

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 13:00:00

The ledger is the durable outbox of the audit sink (docs/audit-export.md): nothing is
queued in memory. One row per (tenant, sink URL) remembers the last ledger seq the sink
has acknowledged, and a lease so that many workers do not push the same range at once.
A crash between a PUT and the cursor update re-sends; the AuditEvent id is derived from
(origin, seq), so a re-sent event updates itself in the sink instead of duplicating.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

APP_ROLE = "chartgate_app"


def upgrade() -> None:
    op.create_table(
        "audit_sink_cursors",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("sink", sa.String(length=500), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("pushed", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "sink", name=op.f("pk_audit_sink_cursors")),
    )
    if op.get_bind().dialect.name != "sqlite":
        op.execute(
            f"""
            DO $$
            BEGIN
              IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                GRANT SELECT, INSERT, UPDATE ON audit_sink_cursors TO {APP_ROLE};
              END IF;
            END $$
            """  # noqa: S608 - constants only, no input
        )


def downgrade() -> None:
    op.drop_table("audit_sink_cursors")
