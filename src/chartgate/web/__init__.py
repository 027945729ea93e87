"""Reviewer page (server-rendered)."""
