"""IO at the edges, one port each."""
