"""Console sessions on real ``tokenward serve`` processes: the failed-sign-in limit, a
restart, several workers on one PostgreSQL database."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.console.conftest import ADMIN, ROOT, Server


def signed_in(server: Server, credential: str = ADMIN) -> httpx.Client:
    """A client holding a console session, signed in through the form like a browser."""
    http = httpx.Client(base_url=server.url, timeout=10)
    form = http.get("/console/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text
    answer = http.post("/console/sign-in", data={"csrf": token[1], "credential": credential})
    assert answer.status_code == 303, answer.text
    return http


def sign_in_status(server: Server, credential: str) -> int:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        token = re.search(r'name="csrf" value="([^"]+)"', http.get("/console/sign-in").text)
        assert token
        return http.post(
            "/console/sign-in", data={"csrf": token[1], "credential": credential}
        ).status_code


def test_failed_sign_ins_count_towards_the_auth_failure_limit(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", TOKENWARD_AUTH_FAILURE_LIMIT="3")
    try:
        for _ in range(3):
            assert sign_in_status(server, "not-the-root-credential-0123456789abcdef") == 401
        # The address is now refused, with the right credential too, in the console and
        # in the API alike: one limit.
        assert sign_in_status(server, ADMIN) == 429
        with server.api() as http:
            assert http.get("/v1/tenants", headers=ROOT).status_code == 429
    finally:
        server.stop()
    assert ADMIN not in server.output()


def test_a_session_survives_a_restart_and_its_secrets_are_not_on_disk(tmp_path: Path) -> None:
    server = Server(tmp_path / "data")
    try:
        http = signed_in(server)
        session_id = http.cookies["tw_console"]
        assert http.get("/console/t/default/").status_code == 200
        server.stop()
        stored = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("tokenward.db*"))
        assert session_id.encode() not in stored
        assert ADMIN.encode() not in stored
        server.start()
        page = http.get("/console/t/default/")
        assert page.status_code == 200 and "Overview of tenant default" in page.text
        http.close()
    finally:
        server.stop()
    log = server.output()
    assert ADMIN not in log and session_id not in log
    # Console requests are logged under their full route, not mistaken for API routes.
    assert '"route": "/console/t/{tenant}/"' in log and '"route": "/t/' not in log


def test_sessions_work_on_every_worker_and_server_over_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    """A session made through one worker of one server is found by the other worker and by
    a second server on the same database (with the same key-encryption key)."""
    shared = {"TOKENWARD_DATABASE_URL": postgres_url, "TOKENWARD_SECRET_KEY": "k" * 64}
    server = Server(tmp_path / "data-a", TOKENWARD_WORKERS="2", **shared)
    other: Server | None = None
    try:
        other = Server(tmp_path / "data-b", **shared)
        http = signed_in(server)
        session_id = http.cookies["tw_console"]
        http.close()
        # A new connection each time: the two workers share the listening socket, so the
        # requests land on both; each must find the session in the database.
        for url in [server.url] * 12 + [other.url] * 4:
            page = httpx.get(
                f"{url}/console/t/default/tokens", cookies={"tw_console": session_id}, timeout=10
            )
            assert page.status_code == 200 and "Tokens of tenant default" in page.text
    finally:
        server.stop()
        if other is not None:
            other.stop()
