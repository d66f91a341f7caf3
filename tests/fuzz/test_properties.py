"""Hypothesis properties of the domain that the unit suites do not already state.

- the secret format round trip (tests/unit/test_secrets.py has the checksum's single-character
  property and fixed prefixes; here: any valid prefix, any random part);
- expiry arithmetic through the API: ``ttl_seconds`` lands exactly ``ttl`` after creation;
- paging on a real store (SQLite and PostgreSQL): for random page sizes, filters, sorts and
  orders, the pages together are the unpaged listing, each token exactly once, in order.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.bounds import scaled
from tests.helpers import ROOT_HEADERS, issue
from tokenward.domain import limits, secrets

PREFIXES = st.from_regex(r"[a-z][a-z0-9]{0,15}", fullmatch=True)
RANDOM_PARTS = st.text(
    alphabet=secrets.ALPHABET, min_size=secrets.RANDOM_LENGTH, max_size=secrets.RANDOM_LENGTH
)


@settings(max_examples=scaled(300, 3000))
@given(PREFIXES)
def test_generated_secret_round_trips_through_the_format(prefix: str) -> None:
    secret = secrets.generate(prefix)
    assert secrets.is_well_formed(secret)
    assert secrets.prefix_of(secret) == prefix
    body = secret[len(prefix) + 1 :]
    assert len(body) == secrets.RANDOM_LENGTH + secrets.CHECKSUM_LENGTH
    assert set(body) <= set(secrets.ALPHABET)
    head = secret[: -secrets.CHECKSUM_LENGTH]
    # The checksum digits decode to the CRC32 of everything before them.
    assert secrets._decode(body[secrets.RANDOM_LENGTH :]) == zlib.crc32(head.encode())
    assert secrets._encode_checksum(zlib.crc32(head.encode())) == body[secrets.RANDOM_LENGTH :]
    hint = secrets.hint(secret)
    assert hint == f"{prefix}_...{secret[-secrets.HINT_LENGTH :]}"
    assert secrets.prefix_of(hint) == prefix


@settings(max_examples=scaled(300, 3000))
@given(PREFIXES, RANDOM_PARTS)
def test_any_random_part_with_its_checksum_is_well_formed(prefix: str, random_part: str) -> None:
    head = f"{prefix}_{random_part}"
    secret = head + secrets._encode_checksum(zlib.crc32(head.encode()))
    assert secrets.is_well_formed(secret)
    assert secrets.prefix_of(secret) == prefix
    # Swapping the random part for another keeps the form but not the checksum (unless equal).
    other = f"{prefix}_{random_part[::-1]}" + secret[-secrets.CHECKSUM_LENGTH :]
    assert secrets.is_well_formed(other) == (
        zlib.crc32(other[: -secrets.CHECKSUM_LENGTH].encode()) == zlib.crc32(head.encode())
    )


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_ttl_lands_exactly_ttl_after_creation(client: TestClient) -> None:
    @settings(max_examples=scaled(15, 100), deadline=None)
    @given(st.integers(min_value=1, max_value=limits.MAX_TTL_SECONDS))
    def check(ttl: int) -> None:
        token = issue(client, name="ttl", ttl_seconds=ttl)
        created, expires = _parse(token["created_at"]), _parse(token["expires_at"])
        assert expires - created == timedelta(seconds=ttl)
        assert token["expired"] is False

    check()


SORTS = ["created", "expires", "name", "last_used"]


def _population(client: TestClient) -> None:
    """31 tokens with repeated names, some expired-to-be, disabled, used, of several types."""
    types = [("global", None), ("user", "alice"), ("team", "blue")]
    for i in range(31):
        kind, principal = types[i % 3]
        fields: dict[str, Any] = {
            "name": f"n{i % 4}",
            "type": kind,
            "role": ["viewer", "editor", "admin"][i % 3],
            "active": i % 5 != 0,
        }
        if principal:
            fields["principal"] = principal
        if i % 2:
            fields["ttl_seconds"] = 3600 * (1 + i % 3)  # ties in the expiry sort too
        token = issue(client, **fields)
        if i % 7 == 0 and fields["active"]:
            answer = client.post("/v1/verify", json={"token": token["secret"]})
            assert answer.json()["valid"] is True


FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "type": st.lists(st.sampled_from(["global", "user", "team"]), min_size=1, max_size=2),
        "role": st.sampled_from(["viewer", "editor", "admin"]),
        "active": st.sampled_from(["true", "false"]),
        "name": st.sampled_from(["n1", "N2", "n", "zz"]),
        "principal": st.sampled_from(["alice", "blue"]),
    },
)


def test_pages_cover_every_token_exactly_once(client: TestClient) -> None:
    _population(client)
    base = "/v1/tenants/default/tokens"

    def listing(params: dict[str, Any]) -> dict[str, Any]:
        answer = client.get(base, params=params, headers=ROOT_HEADERS)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    @settings(
        max_examples=scaled(25, 300),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        size=st.integers(min_value=1, max_value=12),
        filters=FILTERS,
        sort=st.sampled_from(SORTS),
        order=st.sampled_from(["asc", "desc"]),
    )
    def check(size: int, filters: dict[str, Any], sort: str, order: str) -> None:
        params = {**filters, "sort": sort, "order": order}
        everything = listing({**params, "limit": 1000})
        expected = [t["id"] for t in everything["items"]]
        assert everything["total"] == len(expected)
        if not filters:
            assert len(expected) == 31, "the unfiltered listing lost or repeated a token"
        seen: list[int] = []
        page = 0
        while True:
            body = listing({**params, "limit": size, "page": page})
            assert body["total"] == len(expected)
            assert len(body["items"]) <= size
            if not body["items"]:
                break
            seen += [t["id"] for t in body["items"]]
            page += 1
        assert page == -(-len(expected) // size)
        assert len(seen) == len(set(seen)), "a token on two pages"
        assert seen == expected, "pages differ from the unpaged listing"

    check()
