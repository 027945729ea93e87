"""kill switch, webhooks: switches, their epoch row, the note type in clear, webhook tables

Revision ID: 0007
Revises: 0008
Create Date: 2026-12-02 02:00:00

* ``kill_switches``: one row per engaged (or released) switch; never deleted.
* ``kill_switch_epoch``: one row that engaging/releasing updates and every guarded action
  reads ``FOR SHARE`` (PostgreSQL), so a switch is acknowledged only once every action that
  read the switches before it has committed (docs/kill-switch.md).
* ``writebacks.note_type``: the note's LOINC code in clear, so ``due()`` can leave rows a
  note-type switch holds in the queue without decrypting anything.
* ``webhook_endpoints`` (with the cursor into the ledger, which is the outbox) and
  ``webhook_deliveries`` (every attempt: the admin's delivery log).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kill_switches",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(30), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(30), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True)),
        sa.Column("released_by", sa.String(200)),
        sa.Column("release_reason", sa.Text),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kill_switches")),
    )
    op.create_index("ix_kill_switches_engaged", "kill_switches", ["released_at", "tenant"])
    epoch = op.create_table(
        "kill_switch_epoch",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kill_switch_epoch")),
    )
    op.bulk_insert(epoch, [{"id": 1, "epoch": 0}])
    with op.batch_alter_table("writebacks") as batch:
        batch.add_column(sa.Column("note_type", sa.String(40), nullable=True))
    ts = sa.DateTime(timezone=True)
    seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # ledger positions (0004)
    op.create_table(
        "webhook_endpoints",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("secret_name", sa.String(100), nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("disabled_at", ts),
        sa.Column("last_seq", seq, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", ts, nullable=False),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("lease_until", ts),
        sa.Column("delivered", seq, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("endpoint_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("error", sa.String(200)),
        sa.Column("at", ts, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint", "webhook_deliveries", ["tenant", "endpoint_id", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_endpoint", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
    with op.batch_alter_table("writebacks") as batch:
        batch.drop_column("note_type")
    op.drop_table("kill_switch_epoch")
    op.drop_index("ix_kill_switches_engaged", table_name="kill_switches")
    op.drop_table("kill_switches")
