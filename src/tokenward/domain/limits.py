"""Documented bounds on what a token may hold, and the field rules of issuing and changing
one; every face shares them through the service."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from tokenward.domain.errors import ErrorCode, Invalid
from tokenward.domain.roles import TOKEN_ROLES, Role
from tokenward.domain.tokens import (
    Credits,
    PageRequest,
    RateLimit,
    Refill,
    RefillInterval,
    TokenSpec,
    TokenType,
)

MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_IDENTITY = 200
MAX_LIST_ITEMS = 100
MAX_ITEM = 200
MAX_METADATA_BYTES = 8192
#: Levels of objects and arrays in metadata, the metadata object itself counting as one.
#: JSON writers stop far below what fits in 8 KiB (pydantic's at 255 levels, orjson's at
#: 255, Python's at the interpreter's recursion limit), so a deeper value once stored broke
#: every answer that held it.
MAX_METADATA_DEPTH = 32
MAX_TTL_SECONDS = 100 * 365 * 86400
#: Pages of a listing: at most so many items each, and numbered from 0 to MAX_PAGE (further
#: on, page times limit would near what the store's OFFSET takes, for pages no one reads).
MAX_PAGE_SIZE = 1000
MAX_PAGE = 10_000_000
#: The largest id the store can hold (its column is a signed 64-bit integer); ids start at 1.
#: Every face bounds the ids it reads with it: an import that keeps ids may bring any of them.
MAX_TOKEN_ID = 2**63 - 1

#: Digits only, no sign or space, and no more than MAX_TOKEN_ID's 19 (a longer string is not
#: handed to int(), whose cost grows with the length).
_TOKEN_ID_TEXT = re.compile(r"[0-9]{1,19}")


def token_id_of(text: str) -> int | None:
    """The token id a path's text names, or None when it can name no stored token; each face
    answers None as its own "not found"."""
    if _TOKEN_ID_TEXT.fullmatch(text) is None:
        return None
    token_id = int(text)
    return token_id if 1 <= token_id <= MAX_TOKEN_ID else None


#: Controls at verification (issue 17).
MAX_RATE_LIMITS = 10
MAX_RATE_WINDOW_SECONDS = 86400
MAX_RATE_NAME = 64
MAX_IP_ALLOWLIST = 100
#: Credits and costs stay far inside a signed 64-bit column, whatever is added to them.
MAX_CREDITS = 2**53
MAX_COST = 2**31


_TEXT_LIMITS = {
    "name": MAX_NAME,
    "description": MAX_DESCRIPTION,
    "principal": MAX_IDENTITY,
    "user": MAX_IDENTITY,
}


_NULLABLE = frozenset({"principal", "user", "expires_at", "ttl_seconds", "credits"})


def check_fields(fields: Mapping[str, Any]) -> None:
    """The limits of this module, for whichever fields a request sets (a ``TokenSpec``'s or
    ``TokenChanges.given()``'s names)."""
    for key, value in fields.items():
        if value is None:
            if key not in _NULLABLE:
                raise Invalid("must not be null", field=key)
        elif key in _TEXT_LIMITS:
            check_text(key, value, _TEXT_LIMITS[key], required=key != "description")
        elif key in ("scopes", "audience", "resources"):
            check_list(key, value)
        elif key == "metadata":
            check_metadata(value)
        elif key == "rate_limits":
            check_rate_limits(value)
        elif key == "credits":
            check_credits(value)
        elif key == "ip_allowlist":
            normal_allowlist(value)
        elif key == "role" and value not in TOKEN_ROLES:
            raise Invalid(f"must be one of {', '.join(TOKEN_ROLES)}", field="role")


def check_spec(spec: TokenSpec) -> None:
    """Everything about a new token that needs no store and no caller."""
    check_fields({f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)})
    if spec.type is TokenType.GLOBAL:
        if spec.principal:
            raise Invalid("a global token has no principal")
    elif not spec.principal:
        raise Invalid(f"a {spec.type} token needs a principal")
    check_restricted_role(spec.restricted, spec.role)
    if spec.expires_at is not None and spec.ttl_seconds is not None:
        raise Invalid("give expires_at or ttl_seconds, not both")
    if spec.ttl_seconds is not None and not 1 <= spec.ttl_seconds <= MAX_TTL_SECONDS:
        raise Invalid(f"must be between 1 and {MAX_TTL_SECONDS}", field="ttl_seconds")


def check_restricted_role(restricted: bool, role: Role) -> None:
    """A restricted token is bounded to its resources; an admin manages every token of its
    tenant, which no resource list bounds. Asked of a new token and of a changed one."""
    if restricted and role is Role.ADMIN:
        raise Invalid(
            "a restricted token cannot have the admin role", code=ErrorCode.RESTRICTED_ADMIN
        )


def check_page(page: PageRequest, *, whole: bool = False) -> None:
    """A page that a listing answers; ``whole``: the listing may also give every match at
    once (``limit`` None)."""
    if not 0 <= page.page <= MAX_PAGE:
        raise Invalid(f"counts from 0 and is at most {MAX_PAGE}", field="page")
    if page.limit is None:
        if not whole:
            raise Invalid(f"must be between 1 and {MAX_PAGE_SIZE}", field="limit")
    elif not 1 <= page.limit <= MAX_PAGE_SIZE:
        raise Invalid(f"must be between 1 and {MAX_PAGE_SIZE}", field="limit")


def check_text(field: str, value: str, limit: int, *, required: bool = False) -> None:
    if required and not value.strip():
        raise Invalid("must not be empty", field=field)
    if len(value) > limit:
        raise Invalid(f"is longer than {limit} characters", field=field)
    if "\x00" in value:
        raise Invalid("must not contain NUL characters", field=field)
    if not is_encodable(value):
        raise Invalid("must not contain unpaired surrogate characters", field=field)


def is_encodable(value: str) -> bool:
    """False for a string that UTF-8 cannot encode (a lone surrogate such as JSON's
    ``"\\ud800"``): no database column can store it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_list(field: str, values: Iterable[str]) -> None:
    items = list(values)
    if len(items) > MAX_LIST_ITEMS:
        raise Invalid(f"holds more than {MAX_LIST_ITEMS} items", field=field)
    for item in items:
        if not item:
            raise Invalid("must not contain empty strings", field=field)
        check_text(field, item, MAX_ITEM)


def check_metadata(metadata: Mapping[str, Any]) -> None:
    if not isinstance(metadata, Mapping):
        raise Invalid("must be a JSON object", field="metadata")
    # Before anything walks the value recursively (json.dumps, _integers_fit): a deep one
    # would raise RecursionError there.
    if _deeper_than(metadata, MAX_METADATA_DEPTH):
        raise Invalid(f"is nested deeper than {MAX_METADATA_DEPTH} levels", field="metadata")
    try:
        # Python's JSON reader takes NaN and Infinity; JSON, orjson and PostgreSQL do not.
        text = json.dumps(metadata, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise Invalid("numbers must be finite (no NaN or Infinity)", field="metadata") from exc
    except TypeError as exc:
        raise Invalid("must be a JSON object", field="metadata") from exc
    if "\\u0000" in text:
        raise Invalid("must not contain NUL characters", field="metadata")
    if not is_encodable(text):
        raise Invalid("must not contain unpaired surrogate characters", field="metadata")
    if len(text.encode("utf-8")) > MAX_METADATA_BYTES:
        raise Invalid(f"is larger than {MAX_METADATA_BYTES} bytes", field="metadata")
    if not _integers_fit(metadata):
        raise Invalid(
            f"integers must lie between {_INTEGERS.start} and {_INTEGERS.stop - 1}",
            field="metadata",
        )


#: What JSON parsers keep exact (orjson, which verification uses, and most others): a
#: larger integer would come back from a verification as a rounded float.
_INTEGERS = range(-(2**63), 2**64)


def _integers_fit(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return value in _INTEGERS
    if isinstance(value, Mapping):
        return all(_integers_fit(item) for item in value.values())
    if isinstance(value, list | tuple):
        return all(_integers_fit(item) for item in value)
    return True


def answerable_metadata(metadata: Mapping[str, Any]) -> Mapping[str, Any]:
    """``metadata`` as an answer may carry it: ``{}`` for a value nested deeper than
    ``MAX_METADATA_DEPTH``, which only a version without that bound can have stored. Such a
    value cannot be written as JSON by every face (it made lists and verifications of its
    token fail), and its owner can replace it with a PATCH."""
    if not metadata or not _deeper_than(metadata, MAX_METADATA_DEPTH):
        return metadata
    return {}


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects and arrays more than ``limit`` levels deep; one level
    at a time rather than recursively, so any depth is measured without RecursionError."""
    level = [value]
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, Mapping) else item
            below.extend(c for c in children if isinstance(c, Mapping | list | tuple))
        level = below
    return False


def check_rate_limits(rate_limits: Iterable[RateLimit]) -> None:
    items = list(rate_limits)
    if len(items) > MAX_RATE_LIMITS:
        raise Invalid(f"rate_limits holds more than {MAX_RATE_LIMITS} limits")
    names: set[str] = set()
    for item in items:
        if not isinstance(item, RateLimit):
            raise Invalid("rate_limits holds objects of name, limit and window_seconds")
        check_text("rate_limits name", item.name, MAX_RATE_NAME, required=True)
        if item.name in names:
            raise Invalid("rate_limits names must be unique")
        names.add(item.name)
        if not _whole(item.limit) or not 1 <= item.limit <= MAX_CREDITS:
            raise Invalid(f"a rate limit's limit must be between 1 and {MAX_CREDITS}")
        if not _whole(item.window_seconds) or not (
            1 <= item.window_seconds <= MAX_RATE_WINDOW_SECONDS
        ):
            raise Invalid(
                f"a rate limit's window_seconds must be between 1 and {MAX_RATE_WINDOW_SECONDS}"
            )


def check_credits(credits: Credits) -> None:
    if not isinstance(credits, Credits):
        raise Invalid("credits is an object of remaining and refill, or null")
    check_credit_count("credits remaining", credits.remaining, low=0)
    refill = credits.refill
    if refill is not None:
        if not isinstance(refill, Refill) or not isinstance(refill.interval, RefillInterval):
            raise Invalid("credits refill is an object of amount and interval, or null")
        check_credit_count("credits refill amount", refill.amount, low=1)


def check_credit_count(field: str, value: int, *, low: int) -> None:
    if not _whole(value) or not low <= value <= MAX_CREDITS:
        raise Invalid(f"{field} must be between {low} and {MAX_CREDITS}")


def check_cost(cost: int) -> None:
    if not _whole(cost) or not 0 <= cost <= MAX_COST:
        raise Invalid(f"cost must be between 0 and {MAX_COST}")


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def normal_allowlist(entries: Iterable[str]) -> tuple[str, ...]:
    """The allowlist as stored: each entry an address or a CIDR range in its canonical form
    (``10.1.2.3/24`` is ``10.1.2.0/24``: the range it names, not an error), duplicates
    dropped. The standard library parses them: no hand-written address syntax."""
    items = list(entries)
    if len(items) > MAX_IP_ALLOWLIST:
        raise Invalid(f"ip_allowlist holds more than {MAX_IP_ALLOWLIST} entries")
    normal: dict[str, None] = {}
    for item in items:
        if not isinstance(item, str) or len(item) > 64:
            raise Invalid("ip_allowlist holds IPv4 or IPv6 addresses or CIDR ranges")
        try:
            network = ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            # Not the entry itself: a value pasted by mistake may be a secret.
            raise Invalid("ip_allowlist holds IPv4 or IPv6 addresses or CIDR ranges") from None
        if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
            # ::ffff:10.0.0.0/104 is 10.0.0.0/8: clients are compared as IPv4 too.
            mapped = network.network_address.ipv4_mapped
            assert mapped is not None
            network = ipaddress.IPv4Network((mapped, network.prefixlen - 96))
        normal[network.with_prefixlen] = None
    return tuple(normal)


_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
