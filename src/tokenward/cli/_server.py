"""The client of the server named by ``--url``, for commands that the backends
(``_backend.py``) do not carry: its errors become ``error: ...`` and an exit code, as theirs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tokenward.cli._backend import exit_code_of_answer
from tokenward.cli._common import EXIT_UNAVAILABLE, Remote, fail

if TYPE_CHECKING:
    from tokenward import client


@contextlib.contextmanager
def server_client(remote: Remote) -> Iterator[client.Client]:
    from tokenward.client import Client, TokenwardError, TransportError, Unauthorized

    try:
        with Client(remote.url, remote.token) as http:
            yield http
    except TransportError as exc:
        fail(
            f"cannot reach {remote.url}: {exc.message} (request id {exc.request_id})",
            EXIT_UNAVAILABLE,
        )
    except TokenwardError as exc:
        message = f"{exc.message} (request id {exc.request_id})"
        if isinstance(exc, Unauthorized) and remote.token is None:
            message += "; pass --token or set TOKENWARD_TOKEN"
        fail(message, exit_code_of_answer(exc))
