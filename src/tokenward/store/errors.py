"""The driver's errors as the service's: translated where they arise."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from tokenward.domain.errors import Unavailable


def unavailable(exc: BaseException) -> Unavailable:
    """A lost connection, a server gone away, a lock not granted in time: retry later. The
    message names the driver's error, never its parameters."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    return Unavailable(f"the database is not available ({type(cause).__name__})")
