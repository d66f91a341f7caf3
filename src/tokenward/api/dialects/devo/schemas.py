"""Wire models of Devo's account tokens, and the one place that writes Devo's dates.

Devo speaks of a token's audience and scopes as one string of space-separated words
(``"apiv2-admin aggregations apiv2"``); the create body reads that string, or a list of
strings, and the answers write the string. Dates are ``2024-11-26T14:38:18.000+0000``:
UTC, milliseconds, an offset without a colon.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
)

from tokenward.domain.tokens import IssuedToken, Token

DEFAULT_NAME = "Unnamed"
DEFAULT_SCOPES = ("default",)
DEFAULT_EXPIRES_IN_SECONDS = 86400
#: ``expiresInSeconds`` and ``expires_in_seconds`` of a token that never expires.
PERMANENT = -1

#: How many hex digits of the secret's SHA-256 the masked form shows.
MASK_HASH_LENGTH = 8
#: How many trailing characters of the secret the masked form shows (those of the hint).
MASK_TAIL_LENGTH = 5

_WORDS = "must be a string of space-separated words or a list of strings"


def devo_date(moment: datetime | None) -> str | None:
    """``2024-11-26T14:38:18.000+0000``; ``None`` stays ``None`` (a permanent expiration)."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}+0000"


def lifetime_seconds(token: Token) -> int:
    """The lifetime the token has: its expiry less its creation, or -1 when permanent."""
    if token.expires_at is None:
        return PERMANENT
    return (token.expires_at - token.created_at) // timedelta(seconds=1)


def masked(token: Token) -> str:
    """``tk.<hash>.<last 5>``: what a caller that may not reveal the secret sees instead.

    ``<hash>`` is the start of the secret's SHA-256 (the product's document does not say); the
    last characters are the hint's, which are checksum digits and tell nothing of the secret.
    """
    return f"tk.{token.secret_hash[:MASK_HASH_LENGTH]}.{token.secret_hint[-MASK_TAIL_LENGTH:]}"


def read_words(value: Any) -> tuple[str, ...] | None:
    """A string of space-separated words, or a list of such strings; ``None`` stays absent."""
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(word for item in value for word in item.split())
    raise ValueError(_WORDS)


def _required(words: tuple[str, ...] | None) -> tuple[str, ...]:
    if not words:
        raise ValueError("is required: one or more space-separated words")
    return words


Words = Annotated[
    tuple[str, ...] | None,
    BeforeValidator(read_words, json_schema_input_type=str | list[str] | None),
]
RequiredWords = Annotated[
    tuple[str, ...] | None,
    BeforeValidator(read_words, json_schema_input_type=str | list[str]),
    AfterValidator(_required),
]


def _lifetime(seconds: int | None) -> int | None:
    if seconds is not None and seconds != PERMANENT and seconds < 1:
        raise ValueError("must be -1 (permanent) or a positive number of seconds")
    return seconds


def _blank_is_absent(value: str | None) -> str | None:
    return None if value is None or not value.strip() else value


class DevoTokenCreate(BaseModel):
    """The product's create payload. Unknown fields are ignored: a product client may send
    fields tokenward has no use for. ``null`` is read as absent, and so is a blank ``name``,
    ``owner`` or ``user``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=False)

    name: StrictStr | None = Field(default=None, description='Default "Unnamed"')
    owner: StrictStr | None = Field(default=None, description="Root only; default: the caller")
    user: StrictStr | None = Field(default=None, description="Default: the owner")
    audience: RequiredWords = Field(
        description="Required: space-separated words (or a list of strings)"
    )
    scopes: Words = Field(
        default=None, description='Space-separated words (or a list); default "default"'
    )
    expires_in_seconds: Annotated[StrictInt | None, AfterValidator(_lifetime)] = Field(
        default=None,
        alias="expiresInSeconds",
        description="Lifetime in seconds, default 86400; -1: permanent",
    )

    @property
    def token_name(self) -> str:
        return _blank_is_absent(self.name) or DEFAULT_NAME

    @property
    def owner_name(self) -> str | None:
        return _blank_is_absent(self.owner)

    @property
    def user_name(self) -> str | None:
        return _blank_is_absent(self.user)

    @property
    def scope_words(self) -> tuple[str, ...]:
        """Absent or null: "default". An empty string is present: no scopes at all."""
        return DEFAULT_SCOPES if self.scopes is None else self.scopes

    @property
    def ttl_seconds(self) -> int | None:
        """``None`` for a permanent token; the service bounds the rest."""
        seconds = self.expires_in_seconds
        if seconds is None:
            return DEFAULT_EXPIRES_IN_SECONDS
        return None if seconds == PERMANENT else seconds


class DevoRename(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: StrictStr | None = Field(
        default=None, description="The new name; empty or null leaves the name as it is"
    )

    @property
    def new_name(self) -> str | None:
        return _blank_is_absent(self.value)


def _words(values: Iterable[str]) -> str:
    return " ".join(values)


class DevoToken(BaseModel):
    name: str
    id: int
    scope: str = Field(description="Space-separated scopes")
    owner: str
    user: str
    audience: str = Field(description="Space-separated audience")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (the scheme, not a secret)
    active: bool
    expiration: str | None = Field(description="2024-11-26T14:38:18.000+0000; null: permanent")
    account: str
    created: str
    updated: str
    expires_in_seconds: int = Field(description="Lifetime in seconds; -1: permanent")

    @classmethod
    def of(cls, token: Token) -> DevoToken:
        return cls(**_fields(token))


class DevoTokenWithSecret(DevoToken):
    token: str = Field(
        description="The secret; tk.<hash>.<last 5> for a caller that may not reveal it"
    )

    @classmethod
    def revealed(cls, token: Token, secret: str) -> DevoTokenWithSecret:
        return cls(**_fields(token), token=secret)

    @classmethod
    def issued(cls, issued: IssuedToken) -> DevoTokenWithSecret:
        return cls.revealed(issued.token, issued.secret)


def _fields(token: Token) -> dict[str, Any]:
    created = devo_date(token.created_at)
    updated = devo_date(token.updated_at)
    assert created is not None and updated is not None
    return {
        "name": token.name,
        "id": token.id,
        "scope": _words(token.scopes),
        "owner": token.owner,
        "user": token.user,
        "audience": _words(token.audience),
        "active": token.active,
        "expiration": devo_date(token.expires_at),
        "account": token.tenant,
        "created": created,
        "updated": updated,
        "expires_in_seconds": lifetime_seconds(token),
    }


class DevoErrorDetail(BaseModel):
    code: int = Field(description="The HTTP status")
    message: str


class DevoError(BaseModel):
    error: DevoErrorDetail


__all__ = [
    "DevoError",
    "DevoRename",
    "DevoToken",
    "DevoTokenCreate",
    "DevoTokenWithSecret",
    "devo_date",
    "lifetime_seconds",
    "masked",
    "read_words",
]
