"""What the measurement modules beside run.py take from it: run.py builds one ``Kit`` of its
own functions, so that a module needs no import of run.py (which runs as ``__main__``)."""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Kit:
    #: ``Results.add(group, what, figure, target="", ok=None)``: one row of the table.
    add: Callable[..., None]
    log: Callable[[str], None]
    #: ``wrk(url, script, seconds, *, env=...)``: one wrk run's figures (``rps``, ``p50_us``,
    #: ``p99_us``, ``requests``, ``non2xx``, ``socket_errors``).
    wrk: Callable[..., dict[str, Any]]
    fmt_http: Callable[[dict[str, Any]], str]
    #: ``tokenward_server(name, env, workers=2)``: a ``Server`` (a context manager).
    tokenward_server: Callable[..., Any]
    hello_server: Callable[[], Any]
    #: ``Server(name, argv, port, env=None, cwd=None, probe="/")``.
    server: Callable[..., Any]
    free_port: Callable[[], int]
    #: ``postgres_database()``: a context manager yielding the URL of a new, empty database.
    postgres_database: Callable[..., Any]
    work: Path
    venv_bin: Path
    bench: Path
    #: The root credential the servers are started with, as an ``Authorization`` header.
    auth: dict[str, str]
    #: Commands shown in RESULTS.md.
    commands: list[str]


#: A loaded machine can take minutes to start a server (seen: over 60 s at a load average of 30
#: on 2 cores); no figure rests on the start.
START_TIMEOUT = 300.0


def started(stack: contextlib.ExitStack, server: Any) -> Any:
    """``server`` started (with ``START_TIMEOUT``) and stopped when ``stack`` closes."""
    stack.callback(server.stop)
    server.start(timeout=START_TIMEOUT)
    return server


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]


def round_ratios(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> list[float]:
    """Throughput round by round: each of ours over the one of theirs run next to it."""
    return [o["rps"] / t["rps"] if t["rps"] else 0.0 for o, t in zip(ours, theirs, strict=True)]


def median_ratio(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.2f}x (median of {len(ratios)} rounds: " + (
        ", ".join(f"{r:.2f}" for r in ratios) + ")"
    )
