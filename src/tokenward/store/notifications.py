"""PostgreSQL LISTEN/NOTIFY: tells a process at once that the change log has grown, and which
tokens changed.

The change log itself (``token_changes``) is the truth and is also polled; a notification only
makes the next read happen now instead of at the next poll. Its payload names the changed
tokens, so that a listener can drop their cached copies before that read: one round trip to
the database fewer between a commit and the refusals everywhere, which on a loaded machine was
a good part of the delay (docs/deploy.md). The listener holds its own connection and
reconnects with backoff when it loses it: nothing is lost meanwhile, because the poll goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

CHANNEL = "tokenward_changes"
#: A listening connection only reads: one that died without a reset (a host or a network
#: gone) would wait for notifications forever. TCP keepalive ends it within about 10 s, and
#: then ``connected`` clears and the process polls at its own interval again (app.py).
_KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}

log = logging.getLogger("tokenward.store.notifications")


#: Payloads are limited to 8,000 bytes; a longer list of ids is left out (the read of the
#: change log that every notification causes applies it).
_MAX_PAYLOAD = 7_000


def notify_statement(token_ids: Sequence[int | None]) -> str:
    """Run inside the changing transaction: PostgreSQL delivers it at commit, or never. The
    payload: the changed tokens' ids, ``*`` for every token, or nothing."""
    if None in token_ids:
        payload = "*"
    else:
        # Integers only, so nothing in it needs quoting.
        payload = ",".join(str(int(tid)) for tid in token_ids if tid is not None)
        if len(payload) > _MAX_PAYLOAD:
            payload = ""
    return f"NOTIFY {CHANNEL}, '{payload}'"


def changed_tokens(payload: str) -> list[int | None]:
    """The tokens a notification names (``[None]``: every token); empty when it names none,
    or when its payload is not one of ours."""
    if payload == "*":
        return [None]
    try:
        return [int(part) for part in payload.split(",") if part]
    except ValueError:
        return []


class ChangeListener:
    def __init__(self, database_url: str, on_change: Callable[[list[int | None]], object]) -> None:
        """``on_change`` is called with the tokens that a notification names (possibly none),
        and with none after each (re)connection, for what happened meanwhile."""
        self._conninfo = make_conninfo(
            make_url(database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False),
            **_KEEPALIVE,
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
                    self._on_change([])  # whatever happened while we were not listening
                    while not self._stopping.is_set():
                        for notify in conn.notifies(timeout=0.1, stop_after=1):
                            self._on_change(changed_tokens(notify.payload))
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
