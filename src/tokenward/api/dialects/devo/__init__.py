"""Devo's account tokens (``/v2/accounts/{accountName}/tokens``)."""
