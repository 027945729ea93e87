"""Pure business rules: no IO, no clock, no random ids, no settings."""
