"""The console's token list at size (issue 19): a tenant of 1,000,000 tokens, the list page
filtered and sorted, rendered by a real ``tokenward serve``; the target is 50 ms of server
time at the median.

Server time is the ``duration_ms`` of the server's own request log line (from the first byte
in to the last byte out), for the page ``/console/t/default/tokens?type=user&sort=name&
order=desc``: a session resumed (its credential opened and authenticated), the tenant list,
a page of 50 and its total, and the template. Run by ``make bench``; prints one line.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seed import seed_sqlite

from tokenward.store.engine import make_engine
from tokenward.store.migrate import upgrade

TOKENS = int(os.environ.get("BENCH_CONSOLE_TOKENS", "1000000"))
REQUESTS = 40
TARGET_MS = 50.0
ADMIN = "bench-console-root-credential-0123456789abcdef"
PAGE = "/console/t/default/tokens?type=user&sort=name&order=desc&limit=50"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    # BENCH_CONSOLE_DIR: a directory that an earlier run seeded, kept to run again quickly.
    kept = os.environ.get("BENCH_CONSOLE_DIR")
    work = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="tokenward-console-bench-"))
    database = work / "tokenward.db"
    url = f"sqlite+pysqlite:///{database}"
    if not database.exists():
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        t0 = time.perf_counter()
        for start in range(1, TOKENS + 1, 250_000):
            seed_sqlite(str(database), start, min(250_000, TOKENS + 1 - start))
        print(f"seeded {TOKENS:,} tokens in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    port = free_port()
    log = work / "serve.log"
    env = {
        **os.environ,
        "TOKENWARD_DATA_DIR": str(work),
        "TOKENWARD_DATABASE_URL": url,
        "TOKENWARD_ADMIN_TOKEN": ADMIN,
        "TOKENWARD_LOG_FORMAT": "json",
    }
    tokenward = Path(sys.executable).parent / "tokenward"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(tokenward), "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                print(log.read_text(errors="replace"), file=sys.stderr)
                return 2
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=30) as http:
            form = http.get("/console/sign-in").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form)
            assert csrf is not None
            http.post("/console/sign-in", data={"csrf": csrf[1], "credential": ADMIN})
            for i in range(REQUESTS + 5):
                page = http.get(f"{PAGE}&page={i % 5}")
                assert page.status_code == 200 and page.text.count("<tr>") == 51, page.text
        time.sleep(0.5)  # the last log lines
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    durations = [
        record["duration_ms"]
        for line in log.read_text().splitlines()
        if line.startswith("{")
        and (record := json.loads(line)).get("route") == "/console/t/{tenant}/tokens"
    ][5:]  # the first few warm the caches
    p50 = statistics.median(durations)
    verdict = "PASS" if p50 <= TARGET_MS else "FAIL"
    print(
        f"console token list, {TOKENS:,} tokens, type=user sort=name desc, page of 50: "
        f"p50 {p50:.1f} ms, max {max(durations):.1f} ms server time over {len(durations)} "
        f"requests (target <= {TARGET_MS:.0f} ms): {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
