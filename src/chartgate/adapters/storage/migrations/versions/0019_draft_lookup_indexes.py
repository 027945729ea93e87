"""writebacks and approvals: an index on (tenant, draft_id)

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-02 12:45:00

Every draft page, every API read of a draft and every worklist line asks for a draft's
approvals and write-backs by ``(tenant, draft_id)``. Neither table had an index that answers
it (their keys are ``(tenant, id)``; ``uq_approvals_once`` covers approvals of kind
``approve`` only), so each read scanned the tenant's rows: fine in a test, seconds for a
tenant with years of notes.
"""

from alembic import op

revision = "0019"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_writebacks_draft", "writebacks", ["tenant", "draft_id"])
    op.create_index("ix_approvals_draft", "approvals", ["tenant", "draft_id"])


def downgrade() -> None:
    op.drop_index("ix_approvals_draft", table_name="approvals")
    op.drop_index("ix_writebacks_draft", table_name="writebacks")
