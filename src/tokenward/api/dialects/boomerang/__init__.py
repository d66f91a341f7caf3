"""Boomerang Flow's token API (``/api/v2/token``)."""
