"""Command line (Typer), thin over the same use cases as the API."""
