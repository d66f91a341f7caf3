"""Documented bounds on what a token may hold; every face shares them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from tokenward.domain.errors import Invalid

MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_IDENTITY = 200
MAX_LIST_ITEMS = 100
MAX_ITEM = 200
MAX_METADATA_BYTES = 8192
MAX_TTL_SECONDS = 100 * 365 * 86400


def check_text(field: str, value: str, limit: int, *, required: bool = False) -> None:
    if required and not value.strip():
        raise Invalid(f"{field} must not be empty")
    if len(value) > limit:
        raise Invalid(f"{field} is longer than {limit} characters")
    if "\x00" in value:
        raise Invalid(f"{field} must not contain NUL characters")
    if not is_encodable(value):
        raise Invalid(f"{field} must not contain unpaired surrogate characters")


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
        raise Invalid(f"{field} holds more than {MAX_LIST_ITEMS} items")
    for item in items:
        if not item:
            raise Invalid(f"{field} must not contain empty strings")
        check_text(field, item, MAX_ITEM)


def check_metadata(metadata: Mapping[str, Any]) -> None:
    try:
        # Python's JSON reader takes NaN and Infinity; JSON, orjson and PostgreSQL do not.
        text = json.dumps(metadata, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise Invalid("metadata numbers must be finite (no NaN or Infinity)") from exc
    except TypeError as exc:
        raise Invalid("metadata must be a JSON object") from exc
    if "\\u0000" in text:
        raise Invalid("metadata must not contain NUL characters")
    if not is_encodable(text):
        raise Invalid("metadata must not contain unpaired surrogate characters")
    if len(text.encode("utf-8")) > MAX_METADATA_BYTES:
        raise Invalid(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    if not _integers_fit(metadata):
        raise Invalid(
            f"metadata integers must lie between {_INTEGERS.start} and {_INTEGERS.stop - 1}"
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
