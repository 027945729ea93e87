"""key_registry, checkpoint_timestamps: which keys the deployment uses; RFC 3161 tokens

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 04:20:00

* ``key_registry``: one row per key-encryption key and ledger signing key ever made by
  ``chartgate keys init`` / ``keys rotate`` (docs/keys.md): purpose, non-secret key id,
  provider, the public verifier key of a signing key, and whether it is the current one.
  Every replica compares the keys it can reach against these rows at startup.
* ``checkpoint_timestamps``: the RFC 3161 timestamp token a TSA gave a signed checkpoint.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_registry",
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("public", sa.Text),
        sa.Column("current", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("purpose", "key_id", name=op.f("pk_key_registry")),
    )
    op.create_table(
        "checkpoint_timestamps",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token", sa.LargeBinary, nullable=False),
        sa.Column("tsa", sa.String(300), nullable=False),
        sa.Column("stamped_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "size", name=op.f("pk_checkpoint_timestamps")),
    )


def downgrade() -> None:
    op.drop_table("checkpoint_timestamps")
    op.drop_table("key_registry")
