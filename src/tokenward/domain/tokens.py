"""The token record and the shapes used to create, change and search tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum, StrEnum
from typing import Any, Final, Generic, TypeVar

from tokenward.domain.roles import Role


class TokenType(StrEnum):
    """Whom a token stands for; every type but ``global`` names a principal."""

    GLOBAL = "global"
    USER = "user"
    TEAM = "team"
    WORKFLOW = "workflow"
    SESSION = "session"


class _Unset(Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: Marks a field that a partial update leaves as it is (``None`` clears it where allowed).
UNSET: Final = _Unset.UNSET
Unset = _Unset


class RefillInterval(StrEnum):
    """When a token's credits are set back to the refill amount: 00:00 UTC each day, or on
    the 1st of each month."""

    DAILY = "daily"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class Refill:
    amount: int
    interval: RefillInterval

    def period(self, now: datetime) -> int:
        """The refill period ``now`` falls in (UTC): days, or months, since year 1. A balance
        of an earlier period is replaced by ``amount``."""
        day = now.astimezone(UTC)
        if self.interval is RefillInterval.DAILY:
            return day.toordinal()
        return day.year * 12 + day.month - 1

    def next_at(self, now: datetime) -> datetime:
        """When the balance is next set back to ``amount``: 00:00 UTC of the next day, or of
        the 1st of the next month."""
        day = now.astimezone(UTC).date()
        if self.interval is RefillInterval.DAILY:
            start = date.fromordinal(day.toordinal() + 1)
        else:
            start = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return datetime(start.year, start.month, start.day, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Credits:
    """How many verifications a token has left (each spends its ``cost``), and how they come
    back. On a verification snapshot ``remaining`` is the value last set by a management call;
    the live balance is the credit ledger's (``verification/controls``)."""

    remaining: int
    refill: Refill | None = None


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``limit`` verifications in any span of ``window_seconds``."""

    name: str
    limit: int
    window_seconds: int


#: The sealed secret of a recoverable token whose sealed copy was not imported: never a
#: sealed form (those are 28 bytes or more), and not None, so that the token still says it
#: was created recoverable.
SEALED_COPY_NOT_IMPORTED = b""


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    tenant: str
    name: str
    description: str
    type: TokenType
    principal: str | None
    owner: str
    user: str
    role: Role
    scopes: tuple[str, ...]
    audience: tuple[str, ...]
    resources: tuple[str, ...]
    restricted: bool
    active: bool
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None
    secret_hash: str
    secret_hint: str
    sealed_secret: bytes | None = field(repr=False)
    metadata: Mapping[str, Any]
    # Controls at verification (issue 17). Defaults, so that every maker of a Token that
    # predates them keeps working; ``store/lookup.py`` sets them like every other field.
    rate_limits: tuple[RateLimit, ...] = ()
    credits: Credits | None = None
    ip_allowlist: tuple[str, ...] = ()

    @property
    def controlled(self) -> bool:
        """Whether verification must ask the controls: three reads, so that a token with none
        of them pays nothing more."""
        return bool(self.rate_limits or self.ip_allowlist) or self.credits is not None

    @property
    def recoverable(self) -> bool:
        return self.sealed_secret is not None

    @property
    def sealed_copy_missing(self) -> bool:
        """Created recoverable, but its sealed copy stayed behind: it was imported from an
        export written without ``--include-sealed``. It stays marked through further exports
        and imports, until a rotation seals the new secret."""
        return self.sealed_secret == SEALED_COPY_NOT_IMPORTED

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def is_valid(self, now: datetime) -> bool:
        return self.active and not self.is_expired(now)


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """What a caller asks for when issuing a token; the defaults are docs/api.md's."""

    name: str
    description: str = ""
    type: TokenType = TokenType.GLOBAL
    principal: str | None = None
    user: str | None = None
    role: Role = Role.VIEWER
    scopes: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    restricted: bool = False
    active: bool = True
    expires_at: datetime | None = None
    #: Alternative to ``expires_at``: a lifetime counted from the moment of issue.
    ttl_seconds: int | None = None
    #: No expiry was asked for in so many words (native ``"expires_at": null``, Devo
    #: ``expiresInSeconds: -1``). Without it, naming no expiry gives an expiring caller's
    #: token the caller's own expiry; with it, an expiring caller is refused.
    permanent: bool = False
    recoverable: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    rate_limits: tuple[RateLimit, ...] = ()
    credits: Credits | None = None
    ip_allowlist: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TokenChanges:
    """A partial update: ``UNSET`` leaves a field as it is."""

    name: str | Unset = UNSET
    description: str | Unset = UNSET
    role: Role | Unset = UNSET
    scopes: tuple[str, ...] | Unset = UNSET
    audience: tuple[str, ...] | Unset = UNSET
    resources: tuple[str, ...] | Unset = UNSET
    restricted: bool | Unset = UNSET
    active: bool | Unset = UNSET
    expires_at: datetime | Unset | None = UNSET
    metadata: Mapping[str, Any] | Unset = UNSET
    rate_limits: tuple[RateLimit, ...] | Unset = UNSET
    #: ``None`` removes the credits (unlimited).
    credits: Credits | Unset | None = UNSET
    ip_allowlist: tuple[str, ...] | Unset = UNSET

    def given(self) -> dict[str, Any]:
        return {
            name: value
            for name in self.__dataclass_fields__
            if (value := getattr(self, name)) is not UNSET
        }


class TokenSort(StrEnum):
    CREATED = "created"
    EXPIRES = "expires"
    NAME = "name"
    LAST_USED = "last_used"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True, slots=True)
class TokenQuery:
    """Filters combine with AND; ``None`` means no filter. Ranges are [after, before)."""

    types: tuple[TokenType, ...] | None = None
    principals: tuple[str, ...] | None = None
    owner: str | None = None
    user: str | None = None
    role: Role | None = None
    active: bool | None = None
    expired: bool | None = None
    name_contains: str | None = None
    name: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    expires_after: datetime | None = None
    expires_before: datetime | None = None
    sort: TokenSort = TokenSort.CREATED
    order: SortOrder = SortOrder.ASC


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageRequest:
    """``limit`` None asks for every match in one page."""

    page: int = 0
    limit: int | None = 50

    @property
    def offset(self) -> int:
        return 0 if self.limit is None else self.page * self.limit


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    total: int
    page: int
    limit: int | None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token together with its secret, which exists in plaintext only in this object."""

    token: Token
    secret: str = field(repr=False)
