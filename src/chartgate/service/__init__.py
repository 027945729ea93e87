"""Use cases: one handler per command, each owning its transaction."""
