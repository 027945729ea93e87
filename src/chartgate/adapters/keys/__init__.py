"""Envelope encryption of clinical content under per-tenant data keys."""
