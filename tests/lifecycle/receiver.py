"""A real HTTP receiver of webhooks on 127.0.0.1, in a thread, that records what it gets and
verifies each delivery with the ``standardwebhooks`` library, unchanged."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook as StandardWebhook


@dataclass
class Received:
    headers: dict[str, str]
    body: str
    path: str

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


class Receiver:
    """``status`` decides each answer (called with the number of requests so far, from 1);
    ``hang`` seconds of delay before answering."""

    def __init__(self, port: int = 0, status: Callable[[int], int] = lambda n: 200) -> None:
        self.received: list[Received] = []
        self.status = status
        self.hang = 0.0
        self.location = "http://127.0.0.1:1/elsewhere"
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length).decode()
                with receiver._lock:
                    receiver.received.append(
                        Received({k.lower(): v for k, v in self.headers.items()}, body, self.path)
                    )
                    count = len(receiver.received)
                if receiver.hang:
                    time.sleep(receiver.hang)
                code = receiver.status(count)
                self.send_response(code)
                if 300 <= code < 400:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout: float = 20.0
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                seen = list(self.received)
            if predicate(seen):
                return seen
            time.sleep(0.05)
        raise AssertionError(f"not received in {timeout} s; got {[r.body for r in seen]}")

    def of_type(self, event_type: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.payload["type"] == event_type]


def verified(secret: str, item: Received) -> dict[str, Any]:
    """The payload, as ``standardwebhooks`` verifies it (raises if the signature is wrong)."""
    payload: dict[str, Any] = StandardWebhook(secret).verify(item.body, item.headers)
    return payload
