"""write-back aggregate: follow-ups may be approved again; escalation is a timestamp

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:00:00

* ``uq_approvals_once`` was UNIQUE (tenant, draft_id, version, kind): after a refused
  finalize the clinician could never finalize again (a second ``finalize`` approval of the
  same version hit the constraint: HTTP 500). It becomes a partial unique index on
  (tenant, draft_id, version) WHERE kind = 'approve': one approval per version for the chart,
  any number of follow-up approvals (each still owns exactly one outbox row).
* ``writebacks.escalated_at``: when a person was told that a write-back keeps failing. The
  retries go on at their own pace; escalation no longer parks the row for the backoff cap.

SQLite cannot drop a table constraint: the table is rebuilt (Alembic batch mode), with
foreign-key enforcement off for the rebuild (``migrate.py``), as SQLite's ALTER TABLE docs
prescribe (https://www.sqlite.org/lang_altertable.html#otheralter).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

WHERE = sa.text("kind = 'approve'")


def upgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.drop_constraint("uq_approvals_once", type_="unique")
    op.create_index(
        "uq_approvals_once",
        "approvals",
        ["tenant", "draft_id", "version"],
        unique=True,
        sqlite_where=WHERE,
        postgresql_where=WHERE,
    )
    with op.batch_alter_table("writebacks") as batch:
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("writebacks") as batch:
        batch.drop_column("escalated_at")
    op.drop_index("uq_approvals_once", table_name="approvals")
    with op.batch_alter_table("approvals") as batch:
        batch.create_unique_constraint(
            "uq_approvals_once", ["tenant", "draft_id", "version", "kind"]
        )
