"""Suite 5: secret hygiene (issue 5).

Tokens are issued through every face, every endpoint is exercised (errors too, with secrets
pasted where they do not belong), then these are searched for every issued secret, whole and
its random part alone: the SQLite file and its -wal file, a ``pg_dump`` of the PostgreSQL
database, the server's whole log output at debug level, and every response body and header
but those that exist to show a secret (create, rotate, reveal, Devo's get for its owner or an
admin, Query's ``/value`` and its ``PUT``, which issues a new secret as the product does).
Hits must be 0.

Two ways: in-process (the ASGI app, its loggers captured at DEBUG), and a real ``tokenward
serve`` process with ``TOKENWARD_LOG_LEVEL=debug`` whose stdout and stderr are captured.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from tests.e2e.server import Server
from tests.helpers import ROOT_HEADERS, ROOT_TOKEN, bearer
from tokenward.app import create_app
from tokenward.domain import secrets as secret_format
from tokenward.settings import Settings

# PostgreSQL too in a plain run: this face's share of the backend matrix (tests/conftest.py).
pytestmark = pytest.mark.postgres

TENANT = "hygiene"
CLIENT_LOGGERS = ("httpx", "httpcore")


@dataclass
class Exercise:
    """What one run issued, and every answer that must not show a secret."""

    http: httpx.Client
    secrets: list[str] = field(default_factory=list)
    quiet: list[tuple[str, str]] = field(default_factory=list)  # (label, body and headers)
    shown: int = 0
    calls: int = 0

    def call(self, label: str, method: str, url: str, *, shows: bool = False, **kw: Any) -> Any:
        answer = self.http.request(method, url, **kw)
        self.calls += 1
        assert answer.status_code < 500, (label, answer.status_code, answer.text[:300])
        if shows:
            self.shown += 1
        else:
            headers = " ".join(f"{k}: {v}" for k, v in answer.headers.items())
            self.quiet.append((f"{label} -> {answer.status_code}", f"{headers}\n{answer.text}"))
        return answer

    def keep(self, secret: str) -> str:
        assert secret_format.is_well_formed(secret), secret
        self.secrets.append(secret)
        return secret


def exercise(http: httpx.Client) -> Exercise:
    run = Exercise(http)
    root = ROOT_HEADERS
    run.call("create tenant", "POST", "/v1/tenants", json={"name": TENANT}, headers=root)
    base = f"/v1/tenants/{TENANT}/tokens"

    def native(label: str, headers: dict[str, str] = root, **body: Any) -> dict[str, Any]:
        made: dict[str, Any] = run.call(
            label, "POST", base, shows=True, json=body, headers=headers
        ).json()
        run.keep(made["secret"])
        return made

    admin = native("native admin", name="admin", role="admin", audience=["tokenward"], user="ada")
    editor = native("native editor", name="ed", role="editor", audience=["tokenward"], user="eddie")
    adm, edi = bearer(admin["secret"]), bearer(editor["secret"])
    plain = native("native plain", adm, name="plain", recoverable=True, audience=["billing"])
    owned = native("editor's own", edi, name="own", recoverable=True)
    rotated = run.call(
        "rotate",
        "POST",
        f"{base}/{plain['id']}/rotate",
        shows=True,
        json={"grace_seconds": 60},
        headers=adm,
    ).json()
    run.keep(rotated["secret"])
    run.call("reveal", "GET", f"{base}/{plain['id']}/secret", shows=True, headers=adm)
    run.call("reveal own", "GET", f"{base}/{owned['id']}/secret", shows=True, headers=edi)

    boomerang = run.call(
        "boomerang create",
        "POST",
        "/api/v2/token",
        shows=True,
        json={"type": "team", "name": "b", "principal": "team-1", "permissions": ["x/read"]},
        headers=adm,
    ).json()
    run.keep(boomerang["token"])
    query_made = run.call(
        "query create", "POST", "/_/token", shows=True, json={"name": "q1"}, headers=adm
    ).json()
    run.keep(query_made["data"][0]["token"])
    query_put = run.call(
        "query put", "PUT", "/_/token", shows=True, json={"name": "q1", "write": False}, headers=adm
    ).json()
    run.keep(query_put["data"][0]["token"])
    run.call("query value", "GET", "/_/token/value", shows=True, params={"name": "q1"}, headers=adm)
    devo_base = f"/v2/accounts/{TENANT}/tokens"
    devo = run.call(
        "devo create",
        "POST",
        devo_base,
        shows=True,
        json={"audience": "svc", "scopes": "a b"},
        headers=adm,
    ).json()
    run.keep(devo["token"])
    run.call("devo get (admin)", "GET", f"{devo_base}/{devo['id']}", shows=True, headers=adm)
    cedalo_base = f"/api/projects/{TENANT}/tokens"
    cedalo = run.call(
        "cedalo create",
        "POST",
        cedalo_base,
        shows=True,
        json={"name": "c1", "brokers": ["b1"]},
        headers=adm,
    ).json()
    run.keep(cedalo["token"])
    old = plain["secret"]  # rotated out, still in its grace period

    # Every other endpoint, as several callers; none of these answers may show a secret.
    ids = [admin["id"], editor["id"], plain["id"], owned["id"], int(devo["id"]), int(cedalo["id"])]
    for who, headers in (("root", root), ("admin", adm), ("editor", edi)):
        run.call(f"tenants {who}", "GET", "/v1/tenants", headers=headers)
        run.call(f"tenant {who}", "GET", f"/v1/tenants/{TENANT}", headers=headers)
        run.call(f"list {who}", "GET", base, params={"limit": 1000}, headers=headers)
        run.call(
            f"search {who}", "GET", base, params={"name": "o", "sort": "last_used"}, headers=headers
        )
        for token_id in ids:
            run.call(f"get {token_id} {who}", "GET", f"{base}/{token_id}", headers=headers)
        run.call(f"boomerang query {who}", "GET", "/api/v2/token/query", headers=headers)
        run.call(f"devo list {who}", "GET", devo_base, headers=headers)
        run.call(f"cedalo list {who}", "GET", cedalo_base, headers=headers)
    run.call("query list", "GET", "/_/token", headers=adm)
    run.call("devo get (non-owner editor)", "GET", f"{devo_base}/{devo['id']}", headers=edi)
    run.call("devo get of another's (editor)", "GET", f"{devo_base}/{plain['id']}", headers=edi)
    run.call("audit", "GET", "/v1/audit", params={"limit": 1000}, headers=root)
    run.call("audit admin", "GET", "/v1/audit", headers=adm)
    run.call("metrics", "GET", "/metrics", headers=root)
    run.call("patch", "PATCH", f"{base}/{owned['id']}", json={"description": "d"}, headers=edi)
    for action in ("disable", "enable"):
        run.call(action, "POST", f"{base}/{owned['id']}/{action}", headers=edi)
        run.call(f"devo {action}", "PUT", f"{devo_base}/{devo['id']}/{action}", headers=adm)
    run.call(
        "devo rename", "PUT", f"{devo_base}/{devo['id']}/rename", json={"value": "r"}, headers=adm
    )
    for secret in [*run.secrets, old]:
        for asked in ({}, {"audience": "billing"}, {"scopes": ["nope"]}, {"resource": "b9"}):
            run.call("verify", "POST", "/v1/verify", json={"token": secret, **asked})
        run.call("verify again (cached)", "POST", "/v1/verify", json={"token": secret})
        run.call("introspect", "POST", "/oauth2/introspect", data={"token": secret}, headers=adm)
        run.call(
            "introspect root", "POST", "/oauth2/introspect", data={"token": secret}, headers=root
        )
        # Secrets where they do not belong: a credential that cannot manage, a broken copy.
        run.call("as credential", "GET", base, headers=bearer(secret))
        run.call("broken credential", "GET", base, headers=bearer(secret[:-1]))
        run.call("verify broken", "POST", "/v1/verify", json={"token": secret + "x"})
        run.call(
            "bad json",
            "POST",
            base,
            content=f'{{"name": "{secret}"',
            headers={**adm, "content-type": "application/json"},
        )
        run.call("unknown field", "POST", base, json={"name": "n", "bogus": secret}, headers=adm)
        run.call("wrong type", "POST", base, json={"name": 1, "description": [secret]}, headers=adm)
        run.call(
            "devo bad lifetime",
            "POST",
            devo_base,
            json={"audience": "a", "expiresInSeconds": secret},
            headers=adm,
        )
        run.call("devo bad id", "GET", f"{devo_base}/{secret}", headers=adm)
        run.call(
            "cedalo bad date",
            "POST",
            cedalo_base,
            json={"name": "z", "valid_date": secret},
            headers=adm,
        )
        run.call(
            "boomerang bad permission",
            "POST",
            "/api/v2/token",
            json={"type": "global", "name": "z", "permissions": [secret]},
            headers=adm,
        )
        run.call("boomerang bad id", "DELETE", f"/api/v2/token/{secret}", headers=adm)
        run.call(
            "query bad date",
            "POST",
            "/_/token",
            json={"name": "z", "expiration_date": secret},
            headers=adm,
        )
        run.call("query unknown", "GET", "/_/token/value", params={"name": secret}, headers=adm)
        run.call(
            "revoke unknown", "POST", "/oauth2/revoke", data={"token": secret + "x"}, headers=adm
        )
        run.call("native bad id", "GET", f"{base}/{secret}", headers=adm)
        run.call("unknown path", "GET", f"/v1/{secret}", headers=adm)
    run.call("revoke", "POST", "/oauth2/revoke", data={"token": boomerang["token"]}, headers=adm)
    run.call("boomerang delete", "DELETE", f"/api/v2/token/{boomerang['id']}", headers=adm)
    run.call("query delete", "DELETE", "/_/token", json={"name": "q1"}, headers=adm)
    run.call("cedalo delete", "DELETE", f"{cedalo_base}/{cedalo['id']}", headers=adm)
    run.call("devo delete", "DELETE", f"{devo_base}/{devo['id']}", headers=adm)
    run.call("native delete", "DELETE", f"{base}/{owned['id']}", headers=edi)
    assert old in run.secrets
    assert len(set(run.secrets)) == len(run.secrets) == 10
    return run


def needles(secrets: list[str]) -> list[str]:
    """Each secret whole, and its random part alone (a secret logged without its prefix)."""
    found = []
    for secret in secrets:
        found += [secret, secret.split("_", 1)[1][: secret_format.RANDOM_LENGTH]]
    return found


def hits(haystack: str | bytes, secrets: list[str]) -> list[str]:
    text = haystack.decode("latin-1") if isinstance(haystack, bytes) else haystack
    return [n for n in needles(secrets) if n in text]


def database_text(database_url: str) -> dict[str, bytes]:
    """The database as stored: the SQLite file and its WAL, or a ``pg_dump`` of PostgreSQL."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        files = {"sqlite file": path.read_bytes()}
        wal = path.with_name(path.name + "-wal")
        files["sqlite -wal"] = wal.read_bytes() if wal.exists() else b""
        return files
    dump = subprocess.run(
        [
            "/usr/bin/pg_dump",
            "--no-owner",
            "-h",
            str(url.host),
            "-p",
            str(url.port or 5432),
            "-U",
            str(url.username),
            str(url.database),
        ],
        capture_output=True,
        check=True,
        timeout=60,
        env={"PGPASSWORD": url.password or "", "PATH": "/usr/bin:/bin"},
    )
    assert b"CREATE TABLE" in dump.stdout and b"COPY public.tokens" in dump.stdout
    return {"pg_dump": dump.stdout}


def report(run: Exercise, places: dict[str, str | bytes]) -> list[str]:
    found = []
    for place, text in places.items():
        found += [f"{place}: {n[:12]}..." for n in hits(text, run.secrets)]
    for label, body in run.quiet:
        found += [f"response {label}: {n[:12]}..." for n in hits(body, run.secrets)]
    print(
        f"\nsecret hygiene: {len(run.secrets)} secrets ({len(needles(run.secrets))} needles), "
        f"{run.calls} requests, {len(run.quiet)} bodies searched ({run.shown} that show a "
        f"secret left out), {len(places)} other places "
        f"({', '.join(f'{k} {len(v)} bytes' for k, v in places.items())}); hits: {len(found)}"
    )
    return found


def test_secret_hygiene_in_process(
    settings: Settings, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(settings)) as client:
        run = exercise(client)
        places: dict[str, str | bytes] = dict(database_text(database_url))
    places.update({f"{k} after shutdown": v for k, v in database_text(database_url).items()})
    # The server's loggers, not the test's own HTTP client (httpx logs the URLs it calls).
    server_records = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    log = "\n".join(f"{r.name} {r.getMessage()} {r.__dict__}" for r in server_records)
    assert log, "the app logged nothing at debug level"
    places["log records"] = log
    found = report(run, places)
    assert not found, "\n".join(found)


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    served = Server(
        tmp_path / "data",
        {
            "TOKENWARD_ADMIN_TOKEN": ROOT_TOKEN,
            "TOKENWARD_DATABASE_URL": database_url,
            "TOKENWARD_LOG_LEVEL": "debug",
        },
    )
    yield served
    served.stop()


def test_secret_hygiene_of_a_served_process(server: Server, database_url: str) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        run = exercise(http)
        places: dict[str, str | bytes] = dict(database_text(database_url))
    server.stop()
    places.update({f"{k} after shutdown": v for k, v in database_text(database_url).items()})
    output = server.output()
    assert "Application startup complete" in output, output[:2000]
    places["server stdout and stderr"] = output
    found = report(run, places)
    assert not found, "\n".join(found)
