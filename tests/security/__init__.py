"""The attack suite (see README.md): a package so its conftest's helpers import by name."""
