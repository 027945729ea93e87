"""reviewer_sessions, reviewer_logins: the reviewer page's sessions and sign-ins in the store

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-02 04:10:00

Sessions were in one process's memory (ADR 0013); behind a proxy over several ``serve``
replicas every replica must know them (ADR 0020). Session ids and OAuth states are stored
as SHA-256 hashes; the access and CSRF tokens as ciphertext under the tenant's data key.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviewer_sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("sid", sa.String(200)),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("secret_blob", sa.LargeBinary, nullable=False),
        sa.Column("created", sa.Float(precision=53), nullable=False),
        sa.Column("last_seen", sa.Float(precision=53), nullable=False),
        sa.Column("notices", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_reviewer_sessions")),
    )
    op.create_index("ix_reviewer_sessions_subject", "reviewer_sessions", ["tenant", "subject"])
    op.create_table(
        "reviewer_logins",
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("browser", sa.String(64), nullable=False),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("verifier", sa.String(128), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("return_to", sa.String(200), nullable=False),
        sa.Column("step_up", sa.Boolean, nullable=False),
        sa.Column("created", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_reviewer_logins")),
    )
    op.create_index("ix_reviewer_logins_created", "reviewer_logins", ["created"])


def downgrade() -> None:
    op.drop_index("ix_reviewer_logins_created", table_name="reviewer_logins")
    op.drop_table("reviewer_logins")
    op.drop_index("ix_reviewer_sessions_subject", table_name="reviewer_sessions")
    op.drop_table("reviewer_sessions")
