"""merkle ledger: canonical bytes, leaf hashes, compact ranges, signed checkpoints

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:00:00

Every audit row gets the exact RFC 8785 bytes that were hashed and its RFC 9162 leaf hash;
each tenant's head row keeps its compact range; checkpoints get an append-only table. Rows
written before this revision (1-based seq, no bytes) are sealed now, renumbered from 0 so
that seq is the leaf index. On PostgreSQL TRUNCATE is refused too, and a role
``chartgate_app`` without UPDATE/DELETE/TRUNCATE on the ledger tables is created when the
migrating user may create roles (docs/ledger.md, "The app role").
"""

import json

import sqlalchemy as sa
from alembic import op

from chartgate.ledger.merkle import CompactRange
from chartgate.ledger.seal import seal

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APP_ROLE = "chartgate_app"
LEDGER_TABLES = ("audit_events", "ledger_checkpoints")
OTHER_TABLES = (
    "drafts",
    "draft_versions",
    "approvals",
    "writebacks",
    "idempotency_keys",
    "tenant_keys",
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("canonical", sa.LargeBinary(), nullable=True))
    op.add_column("audit_events", sa.Column("leaf_hash", sa.LargeBinary(32), nullable=True))
    op.add_column("audit_events", sa.Column("patient", sa.String(length=80), nullable=True))
    op.create_index("ix_audit_events_patient", "audit_events", ["tenant", "patient"])
    op.create_index("ix_audit_events_at", "audit_events", ["tenant", "at"])
    op.add_column("ledger_heads", sa.Column("compact_range", sa.LargeBinary(), nullable=True))
    op.create_table(
        "ledger_checkpoints",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("compact_range", sa.LargeBinary(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "size", name=op.f("pk_ledger_checkpoints")),
    )
    _drop_append_only("audit_events")
    _seal_existing_rows()
    for table in LEDGER_TABLES:
        _append_only(table)
    if not _sqlite():
        _app_role()


def downgrade() -> None:
    _drop_append_only("audit_events")
    _drop_append_only("ledger_checkpoints")
    op.drop_table("ledger_checkpoints")
    op.drop_index("ix_audit_events_at", table_name="audit_events")
    op.drop_index("ix_audit_events_patient", table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("patient")
        batch.drop_column("leaf_hash")
        batch.drop_column("canonical")
    with op.batch_alter_table("ledger_heads") as batch:
        batch.drop_column("compact_range")
    _append_only("audit_events", truncate=False)


def _seal_existing_rows() -> None:
    """Seal rows written before this revision; renumber each tenant's rows from 0."""
    conn = op.get_bind()
    events = sa.table(
        "audit_events",
        *(
            sa.column(name)
            for name in (
                "tenant",
                "seq",
                "type",
                "at",
                "correlation_id",
                "request_id",
                "actor",
                "draft_id",
                "writeback_id",
            )
        ),
        sa.column("event", sa.JSON()),
        sa.column("canonical", sa.LargeBinary()),
        sa.column("leaf_hash", sa.LargeBinary()),
    )
    heads = sa.table(
        "ledger_heads",
        sa.column("tenant"),
        sa.column("next_seq"),
        sa.column("compact_range", sa.LargeBinary()),
    )
    tenants = [row[0] for row in conn.execute(sa.select(heads.c.tenant))]
    for tenant in tenants:
        rows = [
            dict(row)
            for row in conn.execute(
                sa.select(events).where(events.c.tenant == tenant).order_by(events.c.seq)
            ).mappings()
        ]
        conn.execute(sa.delete(events).where(events.c.tenant == tenant))
        tree = CompactRange()
        for index, row in enumerate(rows):
            event = row["event"] if isinstance(row["event"], dict) else json.loads(row["event"])
            for name in ("type", "correlation_id", "request_id", "actor", "draft_id"):
                event.setdefault(name, row[name])  # the columns the verifier cross-checks
            event.setdefault("writeback_id", row["writeback_id"])
            entry = seal(event, tenant=tenant, seq=index)
            tree.append(entry.leaf_hash)
            conn.execute(
                sa.insert(events).values(
                    {
                        **row,
                        "seq": index,
                        "canonical": entry.canonical,
                        "leaf_hash": entry.leaf_hash,
                    }
                )
            )
        conn.execute(
            sa.update(heads)
            .where(heads.c.tenant == tenant)
            .values(next_seq=len(rows), compact_range=b"".join(tree.hashes))
        )


def _drop_append_only(table: str) -> None:
    if _sqlite():
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        return
    op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")


def _append_only(table: str, *, truncate: bool = True) -> None:
    """The store refuses UPDATE and DELETE (and on PostgreSQL TRUNCATE) on a ledger table."""
    if _sqlite():
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION chartgate_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql"
    )
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION chartgate_append_only()"
    )
    if truncate:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION chartgate_append_only()"
        )


def _app_role() -> None:
    """Create ``chartgate_app`` when allowed, and grant it no UPDATE/DELETE on the ledger.

    Roles are cluster-wide: the role may already exist (another database), or the
    migrating user may lack CREATEROLE; both are fine, the grants follow when it exists.
    """
    op.execute(
        f"""
        DO $$
        BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            CREATE ROLE {APP_ROLE} NOLOGIN;
          END IF;
        EXCEPTION
          WHEN insufficient_privilege THEN
            RAISE NOTICE 'chartgate: no privilege to create role {APP_ROLE}';
          WHEN duplicate_object OR unique_violation THEN
            NULL;
        END $$
        """  # noqa: S608 - constants only, no input
    )
    ledger = ", ".join(LEDGER_TABLES)
    others = ", ".join(OTHER_TABLES)
    op.execute(
        f"""
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO {APP_ROLE}', current_schema());
            REVOKE ALL ON {ledger}, ledger_heads FROM {APP_ROLE};
            GRANT SELECT, INSERT ON {ledger} TO {APP_ROLE};
            GRANT SELECT, INSERT, UPDATE ON ledger_heads TO {APP_ROLE};
            GRANT SELECT, INSERT, UPDATE, DELETE ON {others} TO {APP_ROLE};
            GRANT SELECT ON alembic_version TO {APP_ROLE};
          END IF;
        END $$
        """  # noqa: S608 - constants only, no input
    )
