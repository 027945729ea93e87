"""The worker entry point (``python -m chartgate.worker`` = ``chartgate worker``)."""

from __future__ import annotations

from chartgate.cli.main import app


def main() -> None:
    """Run ``chartgate worker``."""
    app(["worker"])


if __name__ == "__main__":
    main()
