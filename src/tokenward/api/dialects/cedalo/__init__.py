"""Cedalo's project tokens (``/api/projects/{projectId}/tokens``)."""
