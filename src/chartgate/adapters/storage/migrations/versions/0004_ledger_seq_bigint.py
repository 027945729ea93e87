"""ledger positions as 8-byte integers

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:00:00

``audit_events.seq`` (and every column holding a ledger position or count: the head's
``next_seq``, a checkpoint's ``size``, the audit sink's ``last_seq`` and ``pushed``) was a
4-byte integer on PostgreSQL: a tenant's log would stop at 2^31 entries, and an auditor
asking for a position above it got a 500 instead of an empty answer. SQLite's INTEGER is
8 bytes already, so only PostgreSQL changes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = (
    ("audit_events", "seq"),
    ("ledger_heads", "next_seq"),
    ("ledger_checkpoints", "size"),
    ("audit_sink_cursors", "last_seq"),
    ("audit_sink_cursors", "pushed"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
