"""Query's token endpoint (``/_/token``)."""
