"""Wire models of Query's ``/_/token`` endpoint, and the time conversions it needs.

The endpoint as tokenward speaks it: docs/compat/query.md.

The product reads its bodies with serde: unknown fields are ignored, a field of the wrong JSON
type is refused, ``null`` is the same as an absent field. The models are strict for the same
reason: ``"true"`` is not a boolean and ``1.5`` is not a millisecond count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr

from tokenward.domain import clock
from tokenward.domain.errors import Invalid
from tokenward.domain.roles import Role
from tokenward.domain.tokens import Token

#: Below this a number can only be seconds: 10^11 ms is March 1973, 10^11 s is the year 5138.
SECONDS_BELOW = 10**11


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class TokenCreate(_Request):
    name: StrictStr
    expiration_date: StrictInt | None = None
    active: StrictBool | None = None
    write: StrictBool | None = None


class TokenUpdate(_Request):
    """Keyed by ``name``; every other field absent (or null) keeps the token's value."""

    name: StrictStr
    expiration_date: StrictInt | None = None
    active: StrictBool | None = None
    write: StrictBool | None = None


class TokenDelete(_Request):
    name: StrictStr


class TokenValue(BaseModel):
    token: str


class TokenValueList(BaseModel):
    """``{"data": [{"token": ...}]}``: the answer of ``/value``, of create and of update."""

    data: list[TokenValue]

    @classmethod
    def of(cls, secret: str | None) -> TokenValueList:
        return cls(data=[] if secret is None else [TokenValue(token=secret)])


class TokenPublic(BaseModel):
    """One row of the list, as the product writes its SQLite row: ``active`` and ``write`` are
    the numbers 1 and 0 (its own ``hurl/token/list.hurl`` asserts ``active == 1``)."""

    id: int
    name: str
    expiration_date: int | None
    active: Literal[0, 1]
    write: Literal[0, 1]
    created_at: int
    updated_at: int

    @classmethod
    def of(cls, token: Token) -> TokenPublic:
        return cls(
            id=token.id,
            name=token.name,
            expiration_date=None if token.expires_at is None else clock.to_millis(token.expires_at),
            active=1 if token.active else 0,
            write=1 if is_write(token.role) else 0,
            created_at=clock.to_millis(token.created_at),
            updated_at=clock.to_millis(token.updated_at),
        )


class TokenList(BaseModel):
    data: list[TokenPublic]


def is_write(role: Role) -> bool:
    """``write: true`` is any role that may change tokens; an admin token writes too."""
    return role.at_least(Role.EDITOR)


def role_for(write: bool) -> Role:
    return Role.EDITOR if write else Role.VIEWER


def expiry_of(number: int) -> datetime:
    """The document says milliseconds; the product itself writes seconds. A number that can
    only be seconds is read as seconds."""
    millis = number * 1000 if abs(number) < SECONDS_BELOW else number
    if not 0 <= millis <= clock.LAST_MILLIS:
        raise Invalid("expiration_date is out of range")
    return clock.from_millis(millis)
