"""reviewer_sessions/reviewer_logins: a SMART EHR launch's context, and logout by sid

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-02 04:40:00

The reviewer page opens inside the EHR by a SMART EHR launch (issue 16, ADR 0024): a session
keeps the launch's patient and encounter (from the token answer), a sign-in in flight the
tenant whose EHR launched it, and an identity provider's logout ends sessions by issuer and
``sid`` (indexed).
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reviewer_sessions") as batch:
        batch.add_column(sa.Column("launch_patient", sa.String(200)))
        batch.add_column(sa.Column("launch_encounter", sa.String(200)))
    op.create_index("ix_reviewer_sessions_sid", "reviewer_sessions", ["issuer", "sid"])
    with op.batch_alter_table("reviewer_logins") as batch:
        batch.add_column(sa.Column("launch_tenant", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("reviewer_logins") as batch:
        batch.drop_column("launch_tenant")
    op.drop_index("ix_reviewer_sessions_sid", table_name="reviewer_sessions")
    with op.batch_alter_table("reviewer_sessions") as batch:
        batch.drop_column("launch_encounter")
        batch.drop_column("launch_patient")
