"""Three ``tokenward serve`` processes (two workers each) on one PostgreSQL and one Redis,
behind a real HAProxy (issue 21, section 1), under a mixed load of verifications, creates,
rotations and revocations from client threads:

- ``kill -9`` of one server: the failed verifications before and after HAProxy marks it down
  are counted (after: none), and how long the marking took is measured; no acknowledged write
  is lost; the server restarts and rejoins;
- a revocation made through one server is refused by every other one, and the time that
  takes is measured (p99 at most 100 ms);
- a rolling restart, ``SIGTERM`` to each server in turn: no request fails at all.

The figures are printed (``-s``) and recorded in docs/deploy.md.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import multiprocessing
import os
import random
import shutil
import signal
import statistics
import subprocess
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.helpers import ROOT_HEADERS, ROOT_TOKEN, TOKENWARD, free_port
from tokenward.store.engine import make_engine

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
TEMPLATE = Path(__file__).with_name("haproxy.cfg.template")
REDIS_URL = os.environ.get("TOKENWARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKENS = "/v1/tenants/default/tokens"
DRAIN_SECONDS = 2.0
SECRET_KEY = "topology-test-key-0123456789abcdefghijklmnop"
#: Revocations timed, without and with the load: enough for a p99 that is not just the maximum.
REVOCATIONS = 100
#: The revocation p99 (issue 21: at most 100 ms) is asserted unless other work loaded the
#: machine this many times over its cores before the test began (its 1-minute load average),
#: as on a development machine shared by several sessions; it is printed either way. Alone on
#: a machine, as in CI, the test's own load is what it measures under.
SHARED_LOAD = 2.0


class Node:
    """One ``tokenward serve`` on a fixed port, in its own process group so that ``kill -9``
    takes its workers with it, as a machine or container dying would."""

    def __init__(self, name: str, port: int, workdir: Path, database_url: str, prefix: str):
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}"
        self.data_dir = workdir / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / f"{name}.log"
        self.env = {
            **os.environ,
            "TOKENWARD_DATA_DIR": str(self.data_dir),
            "TOKENWARD_DATABASE_URL": database_url,
            "TOKENWARD_ADMIN_TOKEN": ROOT_TOKEN,
            "TOKENWARD_SECRET_KEY": SECRET_KEY,
            "TOKENWARD_REDIS_URL": REDIS_URL,
            "TOKENWARD_REDIS_PREFIX": prefix,
            "TOKENWARD_DRAIN_SECONDS": str(DRAIN_SECONDS),
            # The counts' check waits for the running servers' next flush, not five seconds.
            "TOKENWARD_USAGE_FLUSH_SECONDS": "1",
            "TOKENWARD_LOG_LEVEL": "warning",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.spawn()
        self.wait_until_ready()

    def spawn(self) -> None:
        command = [str(TOKENWARD), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*command, "--workers", "2"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not become ready")

    def kill(self) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)

    def terminate_and_wait(self) -> None:
        """SIGTERM to the server's main process only, as ``KillMode=mixed`` does."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


class Balancer:
    def __init__(self, workdir: Path, nodes: list[Node]) -> None:
        self.port, self.stats_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        servers = "\n".join(f"    server {n.name} 127.0.0.1:{n.port}" for n in nodes)
        self.config = workdir / "haproxy.cfg"
        self.config.write_text(
            TEMPLATE.read_text().format(
                frontend_port=self.port, stats_port=self.stats_port, servers=servers
            )
        )
        self.log = workdir / "haproxy.log"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [HAPROXY, "-db", "-f", str(self.config)], stdout=out, stderr=subprocess.STDOUT
            )

    def status(self) -> dict[str, str]:
        """Each server's state as HAProxy sees it (``UP``, ``DOWN``, ``UP 1/2``...)."""
        try:
            answer = httpx.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=2)
        except httpx.TransportError:  # not listening yet
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            return {}
        rows = csv.DictReader(io.StringIO(answer.text.lstrip("# ")))
        return {r["svname"]: r["status"] for r in rows if r["pxname"] == "tokenward"}

    def wait_for(self, name: str, state: str, timeout: float = 30) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.status().get(name) == state:
                return time.monotonic()
            time.sleep(0.02)
        raise AssertionError(f"HAProxy did not mark {name} {state}: {self.status()}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


@dataclass
class Tracked:
    id: int
    secret: str
    revoked: bool = False
    busy: bool = False
    #: A rotation or revocation failed without an answer: it may or may not have applied, so
    #: the token is left out of the load and of the final check's verdicts.
    uncertain: bool = False

    @property
    def usable(self) -> bool:
        """Verifies, and may be picked: not revoked, not in a write, not uncertain."""
        return not (self.revoked or self.busy or self.uncertain)


@dataclass
class Counted:
    """A token verified only during the rolling restart, with what the client saw."""

    id: int
    secret: str
    valid: int = 0
    last_sent: datetime | None = None


@dataclass
class Load:
    """Client threads on the load balancer; every failure is recorded with its time."""

    url: str
    tokens: list[Tracked]
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    verify_failures: list[tuple[float, str]] = field(default_factory=list)
    write_failures: list[tuple[float, str]] = field(default_factory=list)
    verifications: int = 0
    writes: int = 0

    def verifier(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while not self.stop.is_set():
                with self.lock:
                    live = [t for t in self.tokens if t.usable]
                    token = rng.choice(live)
                    secret = token.secret
                try:
                    answer = http.post("/v1/verify", json={"token": secret})
                    ok = answer.status_code == 200
                    valid = ok and answer.json()["valid"]
                except httpx.HTTPError as exc:
                    ok, valid, answer_text = False, False, repr(exc)
                else:
                    answer_text = f"{answer.status_code} {answer.text[:120]}"
                with self.lock:
                    self.verifications += 1
                    # A token picked while live may have been rotated or revoked since, or be
                    # in a write whose answer its writer has not yet recorded.
                    changed = not token.usable or token.secret != secret
                    if not ok or (not valid and not changed):
                        self.verify_failures.append((time.monotonic(), answer_text))

    def writer(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.url, headers=ROOT_HEADERS, timeout=10) as http:
            while not self.stop.is_set():
                op = rng.choice(["create", "create", "rotate", "revoke"])
                with self.lock:
                    idle = [t for t in self.tokens if t.usable]
                    token = rng.choice(idle) if op != "create" and len(idle) > 20 else None
                    if token is not None:
                        token.busy = True
                    else:
                        op = "create"
                try:
                    self._write(http, op, token)
                except (httpx.HTTPError, AssertionError) as exc:
                    with self.lock:
                        self.write_failures.append((time.monotonic(), f"{op}: {exc!r}"))
                        if token is not None:
                            token.uncertain = True
                finally:
                    if token is not None:
                        token.busy = False

    def _write(self, http: httpx.Client, op: str, token: Tracked | None) -> None:
        if token is None:
            answer = http.post(TOKENS, json={"name": "topology"})
            assert answer.status_code == 201, answer.text
            body = answer.json()
            with self.lock:
                self.tokens.append(Tracked(body["id"], body["secret"]))
                self.writes += 1
            return
        path = f"{TOKENS}/{token.id}"
        if op == "rotate":
            answer = http.post(f"{path}/rotate", json={"grace_seconds": 0})
            assert answer.status_code == 200, answer.text
            with self.lock:
                token.secret = answer.json()["secret"]
                self.writes += 1
        else:
            answer = http.post(f"{path}/disable")
            assert answer.status_code == 200, answer.text
            with self.lock:
                token.revoked = True
                self.writes += 1

    def counter(self, counted: list[Counted], stop: threading.Event) -> None:
        """Verifies ``counted`` in turn and counts the VALID answers: what the servers'
        usage counts, last-use times and credits must show afterwards."""
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while not stop.is_set():
                for token in counted:
                    sent = datetime.now(UTC)
                    try:
                        answer = http.post("/v1/verify", json={"token": token.secret})
                        valid = answer.status_code == 200 and answer.json()["valid"]
                        answer_text = f"{answer.status_code} {answer.text[:120]}"
                    except httpx.HTTPError as exc:
                        valid, answer_text = False, repr(exc)
                    with self.lock:
                        self.verifications += 1
                        if valid:
                            token.valid += 1
                            token.last_sent = sent
                        else:
                            self.verify_failures.append((time.monotonic(), answer_text))

    def failures_between(self, start: float, end: float) -> tuple[int, int]:
        with self.lock:
            verify = sum(1 for t, _ in self.verify_failures if start <= t < end)
            write = sum(1 for t, _ in self.write_failures if start <= t < end)
        return verify, write


@pytest.fixture
def load_before() -> float:
    """The machine's 1-minute load average per core before the topology starts (requested
    first)."""
    return os.getloadavg()[0] / (os.cpu_count() or 1)


@pytest.fixture
def topology(postgres_url: str, tmp_path: Path) -> Iterator[tuple[list[Node], Balancer]]:
    prefix = f"tokenward-topology-{uuid.uuid4().hex[:8]}:"
    nodes = [Node(f"s{i}", free_port(), tmp_path, postgres_url, prefix) for i in range(1, 4)]
    balancer: Balancer | None = None
    try:
        for node in nodes:
            node.spawn()
        for node in nodes:
            node.wait_until_ready()
        balancer = Balancer(tmp_path, nodes)
        for node in nodes:
            balancer.wait_for(node.name, "UP")
        yield nodes, balancer
    finally:
        if balancer is not None:
            balancer.stop()
        for node in nodes:
            if node.process is not None:
                node.kill()


def _start_load(load: Load) -> list[threading.Thread]:
    threads = [threading.Thread(target=load.verifier, args=(i,)) for i in range(3)]
    threads += [threading.Thread(target=load.writer, args=(100 + i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    return threads


#: One new connection per request (so that requests reach both workers of a server), without
#: a new client each time: ``httpx.post`` builds an SSL context per call, about 65 ms of this
#: process's time on the loaded test machine, which the measurement used to count as the
#: revocation's.
_FRESH_CONNECTIONS = httpx.Limits(max_keepalive_connections=0)


def _refused_after(client: httpx.Client, secret: str, acknowledged: float) -> float:
    """Asks one server until it refuses ``secret`` three times in a row, each on a new
    connection: seconds from ``acknowledged`` to the answer of the first of those three."""
    refusals, first = 0, 0.0
    while refusals < 3:
        valid = client.post("/v1/verify", json={"token": secret}).json()["valid"]
        answered = time.monotonic() - acknowledged
        if valid:
            refusals = 0
            assert answered < 5, "revocation never reached"
        else:
            if refusals == 0:
                first = answered
            refusals += 1
    return first


def _refusal_times(urls: list[str], samples: int) -> list[float]:
    """Revokes through one server a token that every other one has just answered VALID (so it
    is in their caches), then asks the others, all at once, until each refuses it: seconds
    from the revocation's acknowledgement to the last of their first refusals, answers' round
    trips included.

    Run in a process of its own (``_measure_revocations``): in the test's process the load's
    client threads would hold the GIL for part of each of its waits."""
    clients = [httpx.Client(base_url=url, limits=_FRESH_CONNECTIONS) for url in urls]
    times: list[float] = []
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            for i in range(samples):
                origin = i % len(urls)
                others = [c for j, c in enumerate(clients) if j != origin]
                with httpx.Client(base_url=urls[origin], headers=ROOT_HEADERS, timeout=10) as http:
                    created = http.post(TOKENS, json={"name": "revocation"}).json()
                    secret = created["secret"]
                    for other in others:
                        for _ in range(4):  # new connections reach both workers
                            verdict = other.post("/v1/verify", json={"token": secret}).json()
                            assert verdict["valid"]
                    assert http.post(f"{TOKENS}/{created['id']}/disable").status_code == 200
                    acknowledged = time.monotonic()
                asked = functools.partial(_refused_after, secret=secret, acknowledged=acknowledged)
                times.append(max(pool.map(asked, others)))
    finally:
        for client in clients:
            client.close()
    return times


def _measure_revocations(nodes: list[Node], samples: int) -> list[float]:
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    with ProcessPoolExecutor(1, mp_context=context) as process:
        return process.submit(_refusal_times, [n.url for n in nodes], samples).result()


def _check_acknowledged(url: str, tokens: list[Tracked]) -> None:
    """Every acknowledged create exists, its last acknowledged secret verifies unless it was
    revoked, and every acknowledged revocation holds (of a token whose last write failed, only
    that it exists)."""
    with httpx.Client(base_url=url, headers=ROOT_HEADERS, timeout=10) as http:
        for token in tokens:
            found = http.get(f"{TOKENS}/{token.id}")
            assert found.status_code == 200, f"token {token.id} lost"
            if token.uncertain:
                continue
            verdict = http.post("/v1/verify", json={"token": token.secret}).json()
            assert verdict["valid"] is not token.revoked, f"token {token.id}: {verdict}"


#: Credits of the counted token that has some: more than the rolling restart can spend.
CREDITS = 1_000_000


def _counted_tokens(url: str) -> list[Counted]:
    """Two plain tokens and one with credits."""
    made = []
    with httpx.Client(base_url=url, headers=ROOT_HEADERS, timeout=10) as http:
        for fields in ({}, {}, {"credits": {"remaining": CREDITS}}):
            answer = http.post(TOKENS, json={"name": "counted", **fields})
            assert answer.status_code == 201, answer.text
            made.append(Counted(answer.json()["id"], answer.json()["secret"]))
    return made


def _check_counts(url: str, counted: list[Counted]) -> None:
    """Every VALID answer of the rolling restart is in the store: as many usage counts (which
    the stopped servers could only have written at their SIGTERM), the last use no earlier
    than the last answer's request, and as many credits spent."""
    with httpx.Client(base_url=url, headers=ROOT_HEADERS, timeout=10) as http:

        def usage(token: Counted) -> int:
            buckets = http.get(f"{TOKENS}/{token.id}/usage").json()["buckets"]
            return sum(b["counts"].get("VALID", 0) for b in buckets)

        deadline = time.monotonic() + 15  # the running servers' next flush
        while time.monotonic() < deadline and any(usage(t) < t.valid for t in counted):
            time.sleep(0.5)
        for token in counted:
            assert token.valid > 0 and token.last_sent is not None
            assert usage(token) == token.valid, f"token {token.id}: {usage(token)} counted"
            found = http.get(f"{TOKENS}/{token.id}").json()
            last_used = datetime.fromisoformat(found["last_used_at"])
            assert last_used >= token.last_sent, (last_used, token.last_sent)
            if found["credits"] is not None:
                assert found["credits"]["remaining"] == CREDITS - token.valid, found["credits"]
    print(
        "  counted "
        + ", ".join(f"token {t.id}: {t.valid} VALID = {t.valid} counted" for t in counted)
    )


def _percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile: of 100 values, p99 is the 99th smallest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _database_connections(database_url: str) -> int:
    """Connections to the test's database, the test's own one included."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            return int(conn.execute(text(query)).scalar_one())
    finally:
        engine.dispose()


def _summary(seconds: list[float]) -> str:
    return (
        f"p50 {statistics.median(seconds) * 1000:.1f} ms,"
        f" p99 {_percentile(seconds, 0.99) * 1000:.1f} ms, max {max(seconds) * 1000:.1f} ms"
    )


def test_kill_rolling_restart_and_revocation(
    load_before: float, topology: tuple[list[Node], Balancer], postgres_url: str
) -> None:
    nodes, balancer = topology
    seed: list[Tracked] = []
    with httpx.Client(base_url=balancer.url, headers=ROOT_HEADERS, timeout=10) as http:
        # A verification in flight with a secret that a rotation (grace 0) has just retired
        # presents a kept copy: reported (docs/lifecycle.md, reuse detection), not acted on,
        # or the token would be disabled and the load's next verifications of it refused.
        policy = http.put("/v1/tenants/default/policy", json={"on_reuse": "notify"})
        assert policy.status_code == 200, policy.text
        for _ in range(40):
            body = http.post(TOKENS, json={"name": "seed"}).json()
            seed.append(Tracked(body["id"], body["secret"]))
    quiet = _measure_revocations(nodes, REVOCATIONS)  # no other load
    load = Load(balancer.url, seed)
    threads = _start_load(load)
    try:
        time.sleep(3)
        connections = _database_connections(postgres_url)
        quiet_start = time.monotonic()
        revocations = _measure_revocations(nodes, REVOCATIONS)  # under the mixed load

        # kill -9 one server
        victim = nodes[1]
        killed = time.monotonic()
        victim.kill()
        marked = balancer.wait_for(victim.name, "DOWN")
        time.sleep(3)
        after_down = time.monotonic()
        victim.start()
        rejoined = balancer.wait_for(victim.name, "UP")
        time.sleep(3)
        rejoin_end = time.monotonic()

        # rolling restart: SIGTERM each in turn, wait for it to rejoin before the next; the
        # counted tokens are verified meanwhile, by every server in turn
        counted = _counted_tokens(balancer.url)
        counting = threading.Event()
        counter = threading.Thread(target=load.counter, args=(counted, counting))
        counter.start()
        rolling_start = time.monotonic()
        for node in nodes:
            node.terminate_and_wait()
            node.start()
            balancer.wait_for(node.name, "UP")
        time.sleep(2)
        counting.set()
        counter.join(timeout=30)
        rolling_end = time.monotonic()
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=30)

    before_kill = load.failures_between(quiet_start, killed)
    before_marked = load.failures_between(killed, marked)
    after_marked = load.failures_between(marked, after_down)
    after_rejoin = load.failures_between(after_down, rejoin_end)
    rolling = load.failures_between(rolling_start, rolling_end)
    print(
        f"\ntopology: {load.verifications} verifications, {load.writes} acknowledged writes;"
        f"\n  kill -9: marked down after {marked - killed:.2f} s; failed (verify, write):"
        f" before the kill {before_kill}, kill..marked {before_marked},"
        f" marked..restart {after_marked}, restart..rejoined+3 s {after_rejoin};"
        f" rejoined {rejoined - after_down:.2f} s after its restart began"
        f"\n  rolling restart ({rolling_end - rolling_start:.1f} s): failed {rolling}"
        f"\n  revocation refused by every other server, no load: {_summary(quiet)};"
        f" under the load: {_summary(revocations)}"
        f"\n  PostgreSQL connections under load: {connections} for 3 servers of 2 workers"
        f" (and the test's own)"
        f"\n  failures (s after the kill, answer): verifications"
        f" {[(round(t - killed, 2), a[:90]) for t, a in load.verify_failures[:20]]};"
        f" writes {[(round(t - killed, 2), a[:90]) for t, a in load.write_failures[:20]]}"
    )
    assert after_marked[0] == 0 and after_rejoin[0] == 0, load.verify_failures
    assert after_rejoin == (0, 0), (load.verify_failures, load.write_failures)
    assert rolling == (0, 0), (load.verify_failures, load.write_failures)
    _check_acknowledged(balancer.url, load.tokens)
    _check_counts(balancer.url, counted)
    if load_before > SHARED_LOAD:
        # Every process of the path (the changing server, PostgreSQL's backends, the other
        # servers' workers, the measuring client) then waits its turn for a core among many.
        warnings.warn(
            f"revocation p99 not asserted: the machine was loaded {load_before:.1f} times over"
            f" its cores before the test began; measured {_summary(quiet)} without the"
            f" test's load and {_summary(revocations)} under it",
            stacklevel=1,
        )
        return
    assert _percentile(quiet, 0.99) <= 0.1, quiet
    assert _percentile(revocations, 0.99) <= 0.1, revocations
