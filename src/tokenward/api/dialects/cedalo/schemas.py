"""Wire models of Cedalo's project tokens, and the one place that reads ``valid_date``.

Dates on the wire are numbers of epoch milliseconds (the product's ``issue_date``,
``valid_date`` and ``last_used_date``); the create body's ``valid_date`` is a string in the
product's document and is read in the forms listed in ``read_valid_date``.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from tokenward.domain import clock
from tokenward.domain.roles import Role
from tokenward.domain.tokens import IssuedToken, Token

CreateRole = Literal["admin", "editor", "viewer"]
TokenKind = Literal["restricted", "unrestricted"]

RESTRICTED: TokenKind = "restricted"
UNRESTRICTED: TokenKind = "unrestricted"

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MILLIS_TEXT = re.compile(r"[0-9]{1,15}")
_MAX_DATE_TEXT = 64
_UNREADABLE = (
    "valid_date must be an ISO-8601 date-time with an offset, a date YYYY-MM-DD, "
    "or epoch milliseconds"
)


def _end_of_day(day: date) -> datetime:
    """A date means "valid through that day": the token expires at its last UTC millisecond."""
    return datetime.combine(day, time(23, 59, 59, 999_000), tzinfo=UTC)


def _from_millis(millis: int) -> datetime:
    if not 0 <= millis <= clock.LAST_MILLIS:
        raise ValueError("valid_date in epoch milliseconds is out of range")
    return clock.from_millis(millis)


def read_valid_date(value: Any) -> datetime | None:
    """``null`` or absent: permanent. Otherwise one of, as an aware UTC instant:

    - epoch milliseconds, as a JSON number or a string of digits (``"1893456000000"``);
    - a date ``YYYY-MM-DD``: through the end of that day, UTC;
    - an ISO-8601 date-time with an offset (``2030-01-01T12:00:00Z``, ``...+02:00``).

    A date-time without an offset is refused rather than guessed in some time zone. Messages
    never repeat the value: what a caller pasted here could be anything.
    """
    if value is None:
        return None
    if isinstance(value, bool):  # JSON true/false; bool is an int to Python
        raise ValueError(_UNREADABLE)
    if isinstance(value, int):
        return _from_millis(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(_UNREADABLE)
        return _from_millis(math.floor(value))
    if not isinstance(value, str) or len(value) > _MAX_DATE_TEXT:
        raise ValueError(_UNREADABLE)
    text = value.strip()
    if _MILLIS_TEXT.fullmatch(text):
        return _from_millis(int(text))
    try:
        if _DAY.fullmatch(text):
            return _end_of_day(date.fromisoformat(text))
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(_UNREADABLE) from exc
    if moment.tzinfo is None:
        raise ValueError("valid_date needs an offset (Z or +hh:mm), or must be a plain date")
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("valid_date is out of range") from exc


ValidDate = Annotated[
    datetime | None,
    BeforeValidator(read_valid_date, json_schema_input_type=str | int | None),
]


class CedaloTokenCreate(BaseModel):
    """The product's create body. Unknown fields are ignored, as a product client may send
    fields tokenward has no use for."""

    model_config = ConfigDict(extra="ignore")

    name: str
    role: CreateRole = "viewer"
    brokers: list[str] = Field(default_factory=list)
    type: TokenKind = UNRESTRICTED
    valid_date: ValidDate = Field(
        default=None,
        description=(
            "Epoch milliseconds (number or digit string), YYYY-MM-DD (through the end of that "
            "day, UTC), or ISO-8601 with an offset; absent or null: never expires"
        ),
    )

    @property
    def restricted(self) -> bool:
        return self.type == RESTRICTED


def _millis(moment: datetime | None) -> int | None:
    return None if moment is None else clock.to_millis(moment)


class CedaloToken(BaseModel):
    id: str
    project_id: str
    role_id: Role
    issuer: str
    name: str
    hash: str | None = Field(
        description="SHA-256 of the secret, hex; null in a viewer's list (see docs/compat)"
    )
    issue_date: int = Field(description="Epoch milliseconds")
    valid_date: int | None = Field(description="Epoch milliseconds; null: never expires")
    last_used_date: int | None = Field(description="Epoch milliseconds; null: never used")
    brokers: list[str]
    type: TokenKind

    @classmethod
    def of(cls, token: Token, *, show_hash: bool = True) -> CedaloToken:
        return cls(
            id=str(token.id),
            project_id=token.tenant,
            role_id=token.role,
            issuer=token.owner,
            name=token.name,
            hash=token.secret_hash if show_hash else None,
            issue_date=clock.to_millis(token.created_at),
            valid_date=_millis(token.expires_at),
            last_used_date=_millis(token.last_used_at),
            brokers=list(token.resources),
            type=RESTRICTED if token.restricted else UNRESTRICTED,
        )


class CedaloTokenCreated(CedaloToken):
    token: str = Field(description="The secret; shown only in this answer")

    @classmethod
    def issued(cls, issued: IssuedToken) -> CedaloTokenCreated:
        return cls(**CedaloToken.of(issued.token).model_dump(), token=issued.secret)


class CedaloError(BaseModel):
    message: str
    code: str
    status: int
    info: dict[str, Any] = Field(default_factory=dict)


__all__ = [
    "CedaloError",
    "CedaloToken",
    "CedaloTokenCreate",
    "CedaloTokenCreated",
    "read_valid_date",
]
