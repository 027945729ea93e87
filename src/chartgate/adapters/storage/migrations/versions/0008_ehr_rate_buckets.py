"""ehr_rate_buckets: the outbound rate governor's token buckets, one per tenant EHR

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02 01:30:00

A small table shared by every worker (``adapters/ehr/rate.py``): tokens, when they were last
counted, and until when the EHR asked every client to pause (``Retry-After``, ``RateLimit``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ehr_rate_buckets",
        sa.Column("bucket", sa.String(200), nullable=False),
        sa.Column("tokens", sa.Float(precision=53), nullable=False),
        sa.Column("updated_at", sa.Float(precision=53), nullable=False),
        sa.Column("blocked_until", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name="pk_ehr_rate_buckets"),
    )


def downgrade() -> None:
    op.drop_table("ehr_rate_buckets")
