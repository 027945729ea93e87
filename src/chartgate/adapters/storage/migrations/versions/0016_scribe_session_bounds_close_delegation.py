"""scribe_sessions: the encounter's end, who closed a session, the delegated launch token

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-02 07:40:00

Issue 17. A read window is bounded on both sides: ``encounter_end_at`` (the encounter's
``period.end`` read at opening; NULL while it is in progress) is the upper bound with the time
of the read. A session can be closed before it expires: ``closed_by`` says who did
(``closed_at`` exists since 0011). When a clinician opens a session with the access token of
their EHR launch (issued for the EHR), context reads use it: ``delegated_blob`` is that token,
AES-256-GCM under the tenant's data key bound to the row, and ``delegated_until`` the earlier of
the token's expiry and the session's (ADR 0027).
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None

UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("scribe_sessions") as batch:
        batch.add_column(sa.Column("encounter_end_at", UTC_TS))
        batch.add_column(sa.Column("closed_by", sa.String(200)))
        batch.add_column(sa.Column("delegated_blob", sa.LargeBinary))
        batch.add_column(sa.Column("delegated_until", UTC_TS))


def downgrade() -> None:
    with op.batch_alter_table("scribe_sessions") as batch:
        batch.drop_column("delegated_until")
        batch.drop_column("delegated_blob")
        batch.drop_column("closed_by")
        batch.drop_column("encounter_end_at")
