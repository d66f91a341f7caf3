"""File modes of the data that tokenward keeps on disk (database files, key)."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

log = logging.getLogger("tokenward.store")


def tighten(path: Path, mode: int) -> None:
    """Takes from ``path`` every permission beyond ``mode`` (group and others); says so."""
    try:
        found = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if found & ~mode:
        try:
            path.chmod(found & mode)
        except OSError as exc:  # a read-only file system, someone else's file: say so, go on
            log.warning(
                "could not tighten the permissions of %s (mode %o): %s", path, found, exc.strerror
            )
            return
        log.warning(
            "tightened the permissions of %s from %o to %o: it holds token data",
            path,
            found,
            found & mode,
        )
