"""SQLAlchemy tables, tenant-scoped repositories and the unit of work."""
