"""kesu's own persistence: SQLite by default, PostgreSQL by URL."""
