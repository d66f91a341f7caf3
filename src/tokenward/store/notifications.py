"""PostgreSQL LISTEN/NOTIFY: tells a process at once that the change log has grown.

The change log itself (``token_changes``) is the truth and is also polled; a notification only
makes the next read happen now instead of at the next poll. The listener holds its own
connection and reconnects with backoff when it loses it: nothing is lost meanwhile, because
the poll goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

CHANNEL = "tokenward_changes"

log = logging.getLogger("tokenward.store.notifications")


def notify_statement() -> str:
    """Run inside the changing transaction: PostgreSQL delivers it at commit, or never."""
    return f"NOTIFY {CHANNEL}"


class ChangeListener:
    def __init__(self, database_url: str, on_change: Callable[[], object]) -> None:
        self._conninfo = (
            make_url(database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self._on_change = on_change
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tokenward-listener", daemon=True)
        self.connected = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        backoff = 0.1
        failing = False
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    backoff = 0.1
                    if failing:
                        failing = False
                        log.warning("change listener reconnected")
                    self._on_change()  # whatever happened while we were not listening
                    while not self._stopping.is_set():
                        if any(True for _ in conn.notifies(timeout=0.1, stop_after=1)):
                            self._on_change()
            except Exception as exc:  # any failure: wait, reconnect; the poll covers the gap
                self.connected.clear()
                # Once per loss, not once per retry: an outage is many retries. The driver's
                # error names no secret, but its kind is all the operator needs here.
                log.log(
                    logging.DEBUG if failing else logging.WARNING,
                    "change listener lost its connection (%s); reconnecting",
                    type(exc).__name__,
                )
                failing = True
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
