"""SQL storage behind the service's repository interface: SQLite and PostgreSQL."""
