"""A PostgreSQL outage seen by a running app: logged once when it begins and once when it
ends, counted in ``/metrics``, with no traceback per poll."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from tests.helpers import ROOT_HEADERS, ROOT_TOKEN
from tokenward.app import create_app
from tokenward.settings import Settings


class Cable:
    """A TCP relay between the app and PostgreSQL that the test can cut: listener and every
    connection closed, as a database host that goes away (then comes back)."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self.port = 0
        self.connect()

    def connect(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self.port = server.getsockname()[1]
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            assert self._server is not None
            doomed, self._sockets = [self._server, *self._sockets], []
            self._server = None
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def cable(postgres_url: str) -> Iterator[Cable]:
    url = make_url(postgres_url)
    made = Cable(url.host or "127.0.0.1", url.port or 5432)
    yield made
    with contextlib.suppress(AssertionError):
        made.cut()


def _scrape(client: TestClient, name: str) -> float:
    for line in client.get("/metrics", headers=ROOT_HEADERS).text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_an_outage_is_logged_once_and_counted(
    postgres_url: str, cable: Cable, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    through = make_url(postgres_url).set(host="127.0.0.1", port=cable.port)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=through.render_as_string(hide_password=False),
        admin_token=ROOT_TOKEN,
        metrics_public=False,
    )
    with TestClient(create_app(settings)) as client:
        before = _scrape(client, "tokenward_store_outages_total")
        assert _scrape(client, "tokenward_store_up") == 1
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="tokenward"):
            cable.cut()
            time.sleep(1.5)  # about 30 polls of the change log
            assert _scrape_while_down(client) == 0
            cable.connect()
            deadline = time.monotonic() + 10
            while _scrape(client, "tokenward_store_up") == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
        assert _scrape(client, "tokenward_store_up") == 1
        assert _scrape(client, "tokenward_store_outages_total") == before + 1
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    began = [r for r in warnings if "database is not available" in r.getMessage()]
    ended = [r for r in warnings if "database is available again" in r.getMessage()]
    assert (len(began), len(ended)) == (1, 1), [r.getMessage() for r in warnings]
    traced = [r for r in caplog.records if r.name.startswith("tokenward") and r.exc_info]
    assert not traced, [(r.name, r.getMessage()) for r in traced]
    # The listener says once that it lost its connection, and once that it is back.
    lost = [r for r in warnings if "change listener lost" in r.getMessage()]
    assert len(lost) == 1, [r.getMessage() for r in warnings]


def _scrape_while_down(client: TestClient) -> float:
    """``/metrics`` needs root, which takes a database read: during the outage, read the
    collector directly, as a scrape would."""
    from tokenward import metrics

    return 0 if metrics.STORE_OUTAGES.down else 1
