"""The malformed-request corpus: for each compatible face, requests that must answer a 4xx.

Each case is one request that is wrong in one way: broken JSON, a field of the wrong type, a
number too large or negative or zero, unicode or NUL bytes or SQL/path metacharacters where
the face cannot take them, a string far over its limit. The tests send each case as root (so
the refusal is about the request, not the credential) and check the status and that the body
is in the face's own error format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

LONG = "x" * 100_000
HUGE_INT = "9" * 5000  # more digits than Python converts by default (4300)
DEEP = "[" * 20_000  # deeper than Python's JSON parser recurses, under the body limit


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    body: bytes | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


#: Bodies that are not a JSON object at all; every face that reads a body refuses them.
BAD_JSON: dict[str, bytes] = {
    "truncated": b'{"name": "a"',
    "not-json": b"not json",
    "trailing-comma": b'{"name": "a",}',
    "invalid-utf8": b'{"name": "\xff\xfe"}',
    "empty": b"",
    "null": b"null",
    "array": b"[]",
    "string": b'"name"',
    "number": b"42",
    "two-documents": b'{"name": "a"}{"name": "b"}',
    "deep-nesting": DEEP.encode(),
    "deep-object": b'{"name": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_000 + b"}",
    "nul-byte-raw": b'{"name": "a\x00b"}',
    "huge-int-digits": b'{"name": ' + HUGE_INT.encode() + b"}",
    "single-quotes": b"{'name': 'a'}",
}


def _bodies(method: str, path: str, fields: dict[str, Any]) -> list[Case]:
    """The bad-JSON bodies, then each case of ``fields``: a body with one wrong value (raw
    bytes where JSON cannot say it, such as ``NaN``)."""
    cases = [Case(f"{method} {path} json:{k}", method, path, v) for k, v in BAD_JSON.items()]
    return cases + [
        Case(
            f"{method} {path} {label}",
            method,
            path,
            body if isinstance(body, bytes) else _json(body),
        )
        for label, body in fields.items()
    ]


def boomerang() -> list[Case]:
    good = {"type": "global", "name": "n", "permissions": ["flows/read"]}
    fields = {
        "name-int": {**good, "name": 5},
        "name-list": {**good, "name": ["a"]},
        "name-nul": {**good, "name": "a\x00b"},
        "name-surrogate": {**good, "name": "\ud800"},
        "name-long": {**good, "name": LONG},
        "type-unknown": {**good, "type": "root'; DROP TABLE tokens; --"},
        "type-int": {**good, "type": 1},
        "type-session": {**good, "type": "session", "principal": "p"},
        "permissions-string": {**good, "permissions": "flows/read"},
        "permissions-bad-action": {**good, "permissions": ["flows/../etc"]},
        "permissions-nul": {**good, "permissions": ["flows\x00/read"]},
        "permissions-many": {**good, "permissions": [f"r{i}/read" for i in range(5000)]},
        "expiration-number": {**good, "expirationDate": 10**30},
        "expiration-huge-year": {**good, "expirationDate": "99999-01-01T00:00:00Z"},
        "expiration-past": {**good, "expirationDate": "1970-01-01T00:00:00Z"},
        "expiration-garbage": {**good, "expirationDate": "'; SELECT 1; --"},
        "principal-missing": {**good, "type": "user"},
        "role-object": {**good, "role": {"a": 1}},
        "name-nan": b'{"type": "global", "name": NaN, "permissions": ["flows/read"]}',
        "unicode-type": {**good, "type": "glöbal"},
    }
    cases = _bodies("POST", "/api/v2/token", fields)
    query = "/api/v2/token/query"
    params: dict[str, dict[str, Any]] = {
        "limit-zero": {"limit": 0},
        "limit-negative": {"limit": -1},
        "limit-huge": {"limit": 10**30},
        "limit-text": {"limit": "ten"},
        "page-negative": {"page": -1},
        "page-huge": {"page": 10**30},
        "page-float": {"page": 1.5},
        "order-sql": {"order": "ASC; DROP TABLE tokens"},
        "from-date-text": {"fromDate": "yesterday"},
        "from-date-huge": {"fromDate": 10**30},
        "to-date-negative-huge": {"toDate": -(10**30)},
        "types-unknown": {"types": "global,root"},
        "types-nul": {"types": "global\x00"},
        "limit-unicode-digits": {"limit": "\u0661\u0660"},
    }
    cases += [Case(f"GET query {k}", "GET", query, None, v) for k, v in params.items()]
    return cases


def query() -> list[Case]:
    path = "/_/token"
    create = {
        "name-missing": {"expiration_date": 10**13},
        "name-int": {"name": 5},
        "name-null": {"name": None},
        "name-empty": {"name": ""},
        "name-nul": {"name": "a\x00b"},
        "name-surrogate": {"name": "\udfff"},
        "name-long": {"name": LONG},
        "expiration-text": {"name": "n", "expiration_date": "tomorrow"},
        "expiration-zero": {"name": "n", "expiration_date": 0},
        "expiration-negative": {"name": "n", "expiration_date": -1},
        "expiration-huge": {"name": "n", "expiration_date": 10**30},
        "expiration-float-huge": {"name": "n", "expiration_date": 1e308},
        "expiration-past": {"name": "n", "expiration_date": 1_000_000_000_000},
        "active-text": {"name": "n", "active": "yes'; --"},
        "write-list": {"name": "n", "write": [True]},
        "name-nan": b'{"name": NaN}',
        "expiration-infinity": b'{"name": "fresh", "expiration_date": Infinity}',
    }
    cases = _bodies("POST", path, create)
    update = {
        "name-missing": {"active": False},
        "name-int": {"name": 5},
        "name-unknown-sql": {"name": "' OR '1'='1"},
        "name-unknown-path": {"name": "../../etc/passwd"},
        "expiration-negative": {"name": "n", "expiration_date": -5},
        "expiration-huge": {"name": "n", "expiration_date": 10**30},
    }
    cases += _bodies("PUT", path, update)
    delete = {"name-int": {"name": 5}, "name-missing": {}, "name-list": {"name": ["a"]}}
    cases += _bodies("DELETE", path, delete)
    cases += [
        Case("GET value without name", "GET", f"{path}/value"),
        Case("PATCH collection", "PATCH", path, b"{}"),
        Case("POST value", "POST", f"{path}/value", b"{}"),
    ]
    return cases


ACCOUNT = "fuzz@multitenant"


def devo() -> list[Case]:
    base = f"/v2/accounts/{ACCOUNT}/tokens"
    create = {
        "audience-missing": {"name": "n"},
        "audience-int": {"audience": 5},
        "audience-empty": {"audience": ""},
        "name-int": {"audience": "a", "name": 5},
        "name-nul": {"audience": "a", "name": "a\x00b"},
        "name-surrogate": {"audience": "a", "name": "\ud800x"},
        "name-long": {"audience": "a", "name": LONG},
        "scopes-nul": {"audience": "a", "scopes": "read\x00"},
        "audience-long": {"audience": LONG},
        "expires-zero": {"audience": "a", "expiresInSeconds": 0},
        "expires-negative": {"audience": "a", "expiresInSeconds": -2},
        "expires-huge": {"audience": "a", "expiresInSeconds": 10**30},
        "expires-float-huge": {"audience": "a", "expiresInSeconds": 1e308},
        "expires-text": {"audience": "a", "expiresInSeconds": "1 day"},
        "expires-nan": b'{"audience": "a", "expiresInSeconds": NaN}',
        "owner-object": {"audience": "a", "owner": {"$ne": None}},
    }
    cases = _bodies("POST", base, create)
    rename = {
        "value-int": {"value": 5},
        "value-nul": {"value": "a\x00"},
        "value-long": {"value": LONG},
        "value-list": {"value": ["a"]},
        "value-nan": b'{"value": NaN}',
        "value-surrogate": {"value": "\udc00"},
    }
    cases += _bodies("PUT", f"{base}/{{id}}/rename", rename)
    ids = {
        "id-text": "abc",
        "id-negative": "-1",
        "id-zero": "0",
        "id-huge": "9" * 40,
        "id-sql": "1;DROP TABLE tokens",
        "id-sql-quote": "1' OR '1'='1",
        "id-path-dots": "..%2F..%2Fetc",
        "id-unicode": "\u0661\u0662",
        "id-nul": "1%00",
        "id-float": "1.5",
    }
    for label, token_id in ids.items():
        cases.append(Case(f"GET {label}", "GET", f"{base}/{token_id}"))
        cases.append(Case(f"PUT enable {label}", "PUT", f"{base}/{token_id}/enable"))
        cases.append(Case(f"DELETE {label}", "DELETE", f"{base}/{token_id}"))
    accounts = {
        "account-sql": "acme';--",
        "account-unicode": "ácme",
        "account-nul": "acme%00",
        "account-long": "a" * 5000,
        "account-percent": "%25",
    }
    for label, account in accounts.items():
        cases.append(Case(f"GET list {label}", "GET", f"/v2/accounts/{account}/tokens"))
    cases.append(Case("PATCH one", "PATCH", f"{base}/{{id}}", b"{}"))
    cases.append(Case("GET list account nul", "GET", "/v2/accounts/a%00/tokens"))
    return cases


PROJECT = "fuzz-project"


def cedalo() -> list[Case]:
    base = f"/api/projects/{PROJECT}/tokens"
    good = {"name": "n", "role": "viewer", "type": "unrestricted", "brokers": []}
    create = {
        "name-missing": {k: v for k, v in good.items() if k != "name"},
        "name-int": {**good, "name": 5},
        "name-empty": {**good, "name": ""},
        "name-nul": {**good, "name": "a\x00b"},
        "name-surrogate": {**good, "name": "\ud800"},
        "name-long": {**good, "name": LONG},
        "role-unknown": {**good, "role": "root"},
        "role-sql": {**good, "role": "admin' --"},
        "type-unknown": {**good, "type": "semi"},
        "restricted-admin": {**good, "type": "restricted", "role": "admin"},
        "brokers-string": {**good, "brokers": "b1"},
        "brokers-nul": {**good, "brokers": ["b\x00"]},
        "brokers-many": {**good, "brokers": [f"b{i}" for i in range(5000)]},
        "valid-date-garbage": {**good, "valid_date": "not a date"},
        "valid-date-negative": {**good, "valid_date": -1},
        "valid-date-zero": {**good, "valid_date": 0},
        "valid-date-huge": {**good, "valid_date": 10**30},
        "valid-date-past": {**good, "valid_date": "2001-01-01"},
        "valid-date-year-huge": {**good, "valid_date": "99999-01-01"},
        "valid-date-nan": b'{"name": "n", "role": "viewer", "valid_date": NaN}',
    }
    # A delete of an id that names no token answers 200 ``false`` (the product's), not a 4xx,
    # so malformed ids go to an unknown project instead.
    cases = _bodies("POST", base, create)
    for label, token_id in {"id-sql": "1 OR 1=1", "id-huge": "9" * 40, "id-nul": "%00"}.items():
        cases.append(Case(f"DELETE {label}", "DELETE", f"/api/projects/p'--/tokens/{token_id}"))
    projects = {
        "project-sql": "p';--",
        "project-unicode": "πρότζεκτ",
        "project-long": "p" * 5000,
        "project-nul": "p%00",
    }
    for label, project in projects.items():
        cases.append(Case(f"GET {label}", "GET", f"/api/projects/{project}/tokens"))
    cases.append(Case("PUT collection", "PUT", base, b"{}"))
    cases.append(Case("PATCH one", "PATCH", f"{base}/1", b"{}"))
    return cases


def native() -> list[Case]:
    base = "/v1/tenants/default/tokens"
    create = {
        "name-missing": {},
        "name-int": {"name": 5},
        "name-nul": {"name": "a\x00b"},
        "name-surrogate": {"name": "\ud800"},
        "name-long": {"name": LONG},
        "ttl-zero": {"name": "n", "ttl_seconds": 0},
        "ttl-negative": {"name": "n", "ttl_seconds": -1},
        "ttl-huge": {"name": "n", "ttl_seconds": 10**30},
        "expires-huge-year": {"name": "n", "expires_at": "99999-01-01T00:00:00Z"},
        "expires-naive": {"name": "n", "expires_at": "2999-01-01T00:00:00"},
        "scopes-string": {"name": "n", "scopes": "read"},
        "metadata-list": {"name": "n", "metadata": []},
        "metadata-nul": {"name": "n", "metadata": {"a": "\x00"}},
        "metadata-large": {"name": "n", "metadata": {"a": "x" * 10_000}},
        "role-sql": {"name": "n", "role": "admin' --"},
        "unknown-field": {"name": "n", "secret_hash": "00"},
    }
    cases = _bodies("POST", base, create)
    cases += _bodies("POST", "/v1/verify", {"token-int": {"token": 5}, "token-missing": {}})
    params = {
        "limit-zero": {"limit": 0},
        "limit-negative": {"limit": -1},
        "limit-huge": {"limit": 10**30},
        "page-negative": {"page": -1},
        "page-huge": {"page": 10**30},
        "sort-sql": {"sort": "name; DROP TABLE tokens"},
        "created-after-naive": {"created_after": "2020-01-01T00:00:00"},
        "created-after-garbage": {"created_after": "' OR 1=1"},
    }
    cases += [Case(f"GET list {k}", "GET", base, None, v) for k, v in params.items()]
    for label, token_id in {"id-text": "abc", "id-huge": "9" * 40, "id-sql": "1 OR 1=1"}.items():
        cases.append(Case(f"GET {label}", "GET", f"{base}/{token_id}"))
    cases.append(Case("GET tenant sql", "GET", "/v1/tenants/x';--"))
    cases.append(Case("GET tenant nul", "GET", "/v1/tenants/x%00/tokens"))
    cases.append(
        Case("GET list owner nul", "GET", "/v1/tenants/x%00/tokens", None, {"owner": "\x00"})
    )
    cases.append(Case("GET audit token id huge", "GET", "/v1/audit", None, {"token_id": 10**30}))
    cases.append(
        Case(
            "POST rotate grace negative",
            "POST",
            f"{base}/{{id}}/rotate",
            _json({"grace_seconds": -1}),
        )
    )
    cases.append(Case("PATCH name surrogate", "PATCH", f"{base}/{{id}}", _json({"name": "\ud800"})))
    cases.append(
        Case(
            "PATCH metadata surrogate",
            "PATCH",
            f"{base}/{{id}}",
            _json({"metadata": {"\ud800": 1}}),
        )
    )
    cases.append(Case("POST tenant unicode", "POST", "/v1/tenants", _json({"name": "ácme"})))
    cases.append(Case("POST tenant nul", "POST", "/v1/tenants", _json({"name": "a\x00"})))
    return cases
