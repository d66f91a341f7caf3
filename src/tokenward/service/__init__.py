"""Use cases: the only place that changes state. Each takes the calling actor explicitly."""
