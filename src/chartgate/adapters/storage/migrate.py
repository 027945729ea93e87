"""Schema migrations (Alembic), run the same way on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest)."""
    config = alembic_config(engine)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        raw = connection.connection.driver_connection if sqlite else None
        if raw is not None:
            # A table rebuild (batch mode) drops the old table; with enforcement on, SQLite
            # checks every row that references it and refuses. The pragma only takes effect
            # outside a transaction, so it goes to the driver connection (autocommit) before
            # SQLAlchemy begins one; the whole database is checked before it comes back on.
            raw.execute("PRAGMA foreign_keys=OFF")
        if not sqlite:
            # A migration may rewrite a large table: no per-statement bound for it.
            connection.exec_driver_sql("SET statement_timeout = 0")
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()
        if not sqlite:
            connection.exec_driver_sql("RESET statement_timeout")  # the pooled connection
            connection.commit()
        if raw is not None:
            broken = raw.execute("PRAGMA foreign_key_check").fetchall()
            raw.execute("PRAGMA foreign_keys=ON")
            if broken:
                raise RuntimeError(f"the migration broke {len(broken)} foreign keys")
