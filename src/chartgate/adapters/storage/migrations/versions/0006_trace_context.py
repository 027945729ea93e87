"""trace context: the W3C traceparent carried from the scribe's submit to the EHR write

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:30:00

``drafts.traceparent`` holds the span context of the submit request (the scribe's own
``traceparent`` when it sent one); ``writebacks.traceparent`` the one the worker continues.
Both NULL when tracing is off (docs/ops/tracing.md). A traceparent is 55 characters:
``00-<32 hex trace id>-<16 hex span id>-<2 hex flags>``; it names no person or content.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("drafts", sa.Column("traceparent", sa.String(length=55), nullable=True))
    op.add_column("writebacks", sa.Column("traceparent", sa.String(length=55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("writebacks") as batch:
        batch.drop_column("traceparent")
    with op.batch_alter_table("drafts") as batch:
        batch.drop_column("traceparent")
