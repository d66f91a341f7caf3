"""tokenward: issue, manage and verify API tokens for other services."""

__version__ = "0.1.0"
