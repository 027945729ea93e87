"""Command line (Typer), thin over the same handlers as the API."""
