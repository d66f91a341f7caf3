"""Wire models of Boomerang Flow's token API (docs/compat/boomerang.md; flow.services' models).

Requests are parsed here, into the core's shapes, and every refusal is raised in the product's
terms (``BoomerangError``). Responses are built from domain objects, never from store rows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from tokenward.api.dialects.boomerang.dates import (
    format_date,
    format_optional,
    from_millis,
    parse_date,
)
from tokenward.api.dialects.boomerang.errors import (
    QUERY_INVALID_FILTERS,
    TOKEN_INVALID_PERMISSION,
    TOKEN_INVALID_REQ,
    TOKEN_INVALID_SESSION_REQ,
    BoomerangError,
)
from tokenward.api.routing import validation_messages
from tokenward.domain import limits
from tokenward.domain.roles import Role
from tokenward.domain.tokens import (
    Page,
    PageRequest,
    SortOrder,
    Token,
    TokenQuery,
    TokenSort,
    TokenSpec,
    TokenType,
)

#: The product's secret prefixes, one per token type (flow.services ``TokenTypePrefix``).
SECRET_PREFIXES = {
    TokenType.GLOBAL: "bfg",
    TokenType.TEAM: "bft",
    TokenType.WORKFLOW: "bfw",
    TokenType.USER: "bfu",
    TokenType.SESSION: "bfs",
}

#: ``resource/action``: what the current UI sends (flow.web CreateToken/Form ``**/read``).
PERMISSION = re.compile(r"(\*\*|[0-9A-Za-z-]+)/(\*\*|read|write|action|delete)", re.IGNORECASE)
#: ``scope/principal/Action``: what the 2024 UI sends (flow.client.web release-4.0.0
#: CreateToken/Form ``**/<principal>/Read``) and the 2024 service checks (flow.services
#: TokenService ``TOKEN_PERMISSION_REGEX``; its captured answers also write ``READ``).
PERMISSION_2024 = re.compile(
    r"(\*\*|[0-9A-Za-z-]+)/(\*\*|[0-9A-Za-z-]+)/(\*\*|read|write|action|delete)",
    re.IGNORECASE,
)
#: The principal of a global token's permissions: every one (the current UI sends ``**``).
ANY_PRINCIPAL = "**"

#: The product's role names (flow.service.workflow ``RoleEnum``) and tokenward's own.
ROLES = {
    "reader": Role.VIEWER,
    "viewer": Role.VIEWER,
    "editor": Role.EDITOR,
    "owner": Role.ADMIN,
    "admin": Role.ADMIN,
}

BoomerangDate = Annotated[datetime, BeforeValidator(parse_date)]


class TokenCreateRequest(BaseModel):
    """Unknown fields are ignored, as Spring's Jackson does by default."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type: TokenType | None = None
    name: str | None = None
    principal: str | None = Field(default=None, description="Required unless type is global")
    description: str | None = None
    expiration_date: BoomerangDate | None = Field(
        default=None,
        alias="expirationDate",
        description="ISO-8601 with an offset, a date (its start, UTC), or epoch milliseconds; "
        "absent: never expires",
    )
    permissions: list[str] | None = Field(
        default=None,
        description="`resource/action` or `resource/principal/action`, action one of read, "
        "write, action, delete, **; required unless type is user",
    )
    role: Literal["reader", "editor", "owner", "viewer", "admin"] | None = Field(
        default=None,
        description="reader (or viewer), editor, owner (or admin); default reader",
    )


def parse_create(raw: bytes) -> TokenSpec:
    """The request body as a TokenSpec, checked in the product's order: session tokens first,
    then required fields (1010), then each permission (1012)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise BoomerangError(TOKEN_INVALID_REQ, "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BoomerangError(TOKEN_INVALID_REQ, "the request body must be a JSON object")
    if data.get("type") == TokenType.SESSION.value:
        # Session tokens are the product's login sessions; only its own filter makes them.
        raise BoomerangError(
            TOKEN_INVALID_SESSION_REQ, "session tokens cannot be created through the API"
        )
    try:
        body = TokenCreateRequest.model_validate(data)
    except ValidationError as exc:
        message = "; ".join(validation_messages(exc.errors(include_input=False)))
        raise BoomerangError(TOKEN_INVALID_REQ, message) from None
    if body.type is None:
        raise BoomerangError(TOKEN_INVALID_REQ, "type is required")
    if not body.name:
        raise BoomerangError(TOKEN_INVALID_REQ, "name is required")
    principal = None
    if body.type is not TokenType.GLOBAL:
        if body.principal is None or not body.principal.strip():
            raise BoomerangError(TOKEN_INVALID_REQ, f"a {body.type} token needs a principal")
        principal = body.principal
    # A global token has no principal: the product drops one that is sent, and so does this.
    permissions = body.permissions or []
    if body.type is not TokenType.USER and not permissions:
        raise BoomerangError(TOKEN_INVALID_REQ, f"a {body.type} token needs permissions")
    scopes = tuple(
        dict.fromkeys(scope_of(permission, body.type, principal) for permission in permissions)
    )
    return TokenSpec(
        name=body.name,
        description=body.description or "",
        type=body.type,
        principal=principal,
        role=ROLES[body.role] if body.role else Role.VIEWER,
        scopes=scopes,
        expires_at=body.expiration_date,
    )


def scope_of(permission: str, kind: TokenType, principal: str | None) -> str:
    """The scope a permission of either UI generation grants; never wider than it asked.

    ``resource/action`` is stored as sent (the action in lower case). The 2024 form
    ``resource/principal/Action`` names the principal the permission is for: on a team or
    workflow token it must be the token's own (the 2024 service refuses another, 1012), and as
    the token's principal already binds it, it is stored as ``resource/action``; ``**`` on a
    global token (which has no principal) is every principal, stored the same way. Any other
    principal stays in the scope (``resource/principal/action``), so the token is no wider
    than the request.
    """
    two = PERMISSION.fullmatch(permission)
    if two is not None:
        return f"{two[1]}/{two[2].lower()}"
    three = PERMISSION_2024.fullmatch(permission)
    if three is None:
        raise BoomerangError(
            TOKEN_INVALID_PERMISSION,
            "a permission is `resource/action` or `resource/principal/action` with action "
            "one of read, write, action, delete or **",
        )
    resource, bound, action = three[1], three[2], three[3].lower()
    if bound == (principal or ANY_PRINCIPAL):
        return f"{resource}/{action}"
    if kind in (TokenType.TEAM, TokenType.WORKFLOW):
        raise BoomerangError(
            TOKEN_INVALID_PERMISSION, f"a {kind} token's permissions are for its own principal"
        )
    return f"{resource}/{bound}/{action}"


class TokenCreateResponse(BaseModel):
    id: str
    type: TokenType
    token: str = Field(description="The secret; shown this once")
    expirationDate: str | None

    @classmethod
    def of(cls, token: Token, secret: str) -> TokenCreateResponse:
        return cls(
            id=str(token.id),
            type=token.type,
            token=secret,
            expirationDate=format_optional(token.expires_at),
        )


class ResolvedPermissions(BaseModel):
    """The product's ``ResolvedPermissions`` (boomerang-io/docs flow/apis/models): what the
    current UI reads (flow.web TokenSection ``TokenPermissions``: ``actions.map``)."""

    scope: str = Field(description="The token's type")
    principal: str = Field(description="The principal the actions are for; ** for every one")
    actions: list[str] = Field(description="`resource/action` grants")

    @classmethod
    def of(cls, token: Token) -> list[ResolvedPermissions]:
        """One entry per principal, in the order the scopes first name it. A scope
        ``resource/principal/action`` is for that principal; any other is for the token's
        (``**`` when it has none)."""
        grouped: dict[str, list[str]] = {}
        for scope in token.scopes:
            parts = scope.split("/")
            if len(parts) == 3:
                principal, action = parts[1], f"{parts[0]}/{parts[2]}"
            else:
                principal, action = token.principal or ANY_PRINCIPAL, scope
            grouped.setdefault(principal, []).append(action)
        return [
            cls(scope=token.type.value, principal=principal, actions=actions)
            for principal, actions in grouped.items()
        ]


class TokenPublic(BaseModel):
    """The product's ``Token``: metadata only, never the secret."""

    id: str
    type: TokenType
    name: str
    description: str | None
    creationDate: str
    expirationDate: str | None
    valid: bool = Field(description="Active and not expired")
    principal: str | None
    permissions: list[ResolvedPermissions]

    @classmethod
    def of(cls, token: Token, now: datetime) -> TokenPublic:
        return cls(
            id=str(token.id),
            type=token.type,
            name=token.name,
            description=token.description or None,
            creationDate=format_date(token.created_at),
            expirationDate=format_optional(token.expires_at),
            valid=token.is_valid(now),
            principal=token.principal,
            permissions=ResolvedPermissions.of(token),
        )


class SortPublic(BaseModel):
    """Spring Data's ``Sort`` as Jackson writes it."""

    empty: bool
    sorted: bool
    unsorted: bool


class PageablePublic(BaseModel):
    pageNumber: int
    pageSize: int
    sort: SortPublic
    offset: int
    paged: bool
    unpaged: bool


class PageToken(BaseModel):
    """Spring Data's ``PageImpl`` as Jackson writes it, with counts of the right collection."""

    content: list[TokenPublic]
    pageable: PageablePublic
    last: bool
    totalElements: int
    totalPages: int
    size: int
    number: int
    sort: SortPublic
    first: bool
    numberOfElements: int
    empty: bool

    @classmethod
    def of(cls, found: Page[Token], now: datetime) -> PageToken:
        content = [TokenPublic.of(t, now) for t in found.items]
        # Every answer is sorted (creationDate by default), so the sort is never "unsorted".
        sort = SortPublic(empty=False, sorted=True, unsorted=False)
        count = len(content)
        if found.limit is None:
            # As Spring's PageImpl over an unpaged request: one page holding every match.
            size, number, total_pages, offset = count, 0, 1, 0
        else:
            size, number = found.limit, found.page
            total_pages = -(-found.total // found.limit)
            offset = found.page * found.limit
        return cls(
            content=content,
            pageable=PageablePublic(
                pageNumber=number,
                pageSize=size,
                sort=sort,
                offset=offset,
                paged=found.limit is not None,
                unpaged=found.limit is None,
            ),
            last=number + 1 >= total_pages,
            totalElements=found.total,
            totalPages=total_pages,
            size=size,
            number=number,
            sort=sort,
            first=number == 0,
            numberOfElements=count,
            empty=count == 0,
        )


#: The sort fields a client may name; Token fields the core can order by.
SORT_FIELDS = {
    "creationDate": TokenSort.CREATED,
    "expirationDate": TokenSort.EXPIRES,
    "name": TokenSort.NAME,
}


@dataclass(frozen=True, slots=True)
class SearchRequest:
    query: TokenQuery
    page: PageRequest


def parse_search(
    *,
    types: list[str] | None,
    principals: list[str] | None,
    limit: str | None,
    page: str | None,
    order: str | None,
    sort: str | None,
    from_date: str | None,
    to_date: str | None,
) -> SearchRequest:
    """The query string of ``/api/v2/token/query``; a bad value answers 1001, naming the
    parameter but never repeating what was sent."""
    type_names = _listed(types)
    try:
        wanted_types = None if type_names is None else tuple(TokenType(t) for t in type_names)
    except ValueError:
        raise _bad_filter("types must be among session, user, team, workflow and global") from None
    size = _integer("limit", limit)
    # The service's bounds (limits.check_page), asked here to answer in the product's code.
    if size is not None and not 1 <= size <= limits.MAX_PAGE_SIZE:
        raise _bad_filter(f"limit must be between 1 and {limits.MAX_PAGE_SIZE}")
    number = _integer("page", page) or 0
    if not 0 <= number <= limits.MAX_PAGE:
        raise _bad_filter(f"page must be between 0 and {limits.MAX_PAGE}")
    direction = (order or "ASC").strip().upper()
    if direction not in ("ASC", "DESC"):
        raise _bad_filter("order must be ASC or DESC")
    return SearchRequest(
        query=TokenQuery(
            types=wanted_types,
            principals=_listed(principals),
            created_after=_moment("fromDate", from_date),
            created_before=_moment("toDate", to_date),
            # An unknown field sorts nothing in the product (MongoDB orders by a field that no
            # token has, leaving creation order); its own example sends `sort=0`. So here.
            sort=SORT_FIELDS.get((sort or "").strip(), TokenSort.CREATED),
            order=SortOrder.DESC if direction == "DESC" else SortOrder.ASC,
        ),
        page=PageRequest(number, size),
    )


def _listed(values: list[str] | None) -> tuple[str, ...] | None:
    """Repeated or comma-separated values; none at all (``types=``) is no filter, as in Spring."""
    if values is None:
        return None
    items = tuple(
        dict.fromkeys(item.strip() for value in values for item in value.split(",") if item.strip())
    )
    return items or None


def _integer(name: str, value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    if re.fullmatch(r"-?[0-9]{1,18}", value.strip()) is None:
        raise _bad_filter(f"{name} must be an integer")
    return int(value)


def _moment(name: str, value: str | None) -> datetime | None:
    millis = _integer(name, value)
    if millis is None:
        return None
    try:
        return from_millis(millis)
    except ValueError:
        raise _bad_filter(f"{name} is out of range") from None


def _bad_filter(message: str) -> BoomerangError:
    return BoomerangError(QUERY_INVALID_FILTERS, message)
