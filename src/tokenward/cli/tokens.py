"""``tokenward token ...`` and ``tokenward verify``: the token use cases, as root on the
database or with a credential on a server (``_backend.py``)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from tokenward.cli._backend import backend, tenant_for
from tokenward.cli._common import (
    EXIT_REFUSED,
    DatabaseUrlOption,
    DataDirOption,
    JsonOption,
    TenantOption,
    YesOption,
    note,
    print_json,
    print_record,
    print_table,
    warn,
    wire,
)
from tokenward.domain.roles import Role
from tokenward.domain.tokens import (
    Credits,
    RateLimit,
    Refill,
    RefillInterval,
    SortOrder,
    TokenChanges,
    TokenQuery,
    TokenSort,
    TokenSpec,
    TokenType,
)

if TYPE_CHECKING:
    from tokenward.client import Token, TokenWithSecret, UsageBucket

app = typer.Typer(no_args_is_help=True, help="Issue and manage tokens.")

_FROM_STDIN = "-"


class TokenRole(StrEnum):
    """The roles a token may be given (``TOKEN_ROLES``): root belongs to the bootstrap
    credential alone, so the help does not offer it."""

    VIEWER = Role.VIEWER.value
    EDITOR = Role.EDITOR.value
    ADMIN = Role.ADMIN.value


IdArgument = Annotated[int, typer.Argument(help="Token id", show_default=False)]


def _rfc3339(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not an RFC 3339 date and time, e.g. 2030-01-31T12:00:00Z"
        ) from exc
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{value!r} needs a UTC offset, e.g. Z or +02:00")
    return moment


RateLimitOption = Annotated[
    list[str] | None,
    typer.Option(
        "--rate-limit",
        metavar="NAME:LIMIT:SECONDS",
        help="At most LIMIT verifications in any SECONDS (repeatable)",
    ),
]
CreditsOption = Annotated[
    int | None, typer.Option(metavar="N", help="Verifications it may make (each spends its cost)")
]
RefillOption = Annotated[
    str | None,
    typer.Option(
        metavar="AMOUNT:daily|monthly", help="Set the credits back to AMOUNT each day/month"
    ),
]
IpAllowOption = Annotated[
    list[str] | None,
    typer.Option(
        "--ip-allow", metavar="CIDR", help="An address or range it may be used from (repeatable)"
    ),
]


def _rate_limits(values: list[str] | None) -> tuple[RateLimit, ...]:
    limits = []
    for value in values or ():
        name, _, rest = value.rpartition(":")
        name, _, limit = name.rpartition(":")
        try:
            limits.append(RateLimit(name, int(limit), int(rest)))
        except ValueError:
            raise typer.BadParameter(
                f"{value!r} is not NAME:LIMIT:SECONDS, e.g. burst:10:1"
            ) from None
    return tuple(limits)


def _credits(remaining: int | None, refill: str | None) -> Credits | None:
    if remaining is None:
        if refill is not None:
            raise typer.BadParameter("--refill needs --credits")
        return None
    if refill is None:
        return Credits(remaining)
    amount, _, interval = refill.partition(":")
    try:
        return Credits(remaining, Refill(int(amount), RefillInterval(interval)))
    except ValueError:
        raise typer.BadParameter(f"{refill!r} is not AMOUNT:daily or AMOUNT:monthly") from None


def _show_secret(issued: TokenWithSecret, tenant: str) -> None:
    """The secret alone on its own line, so that it is easy to copy; the advice on stderr."""
    typer.echo(f"\n    {issued.secret}\n")
    if issued.recoverable:
        note(
            f"The token is recoverable: 'tokenward token reveal {issued.id} "
            f"--tenant {tenant}' shows the secret again."
        )
    else:
        warn("this secret is shown only this once and is stored only as a hash; copy it now.")


def _when(moment: datetime | None) -> str | None:
    """A table's short form of an instant, in UTC to the minute."""
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%MZ")


def _state(public: Token) -> str:
    if not public.active:
        return "disabled"
    return "expired" if public.expired else "active"


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Label of the token", show_default=False)],
    tenant: TenantOption = None,
    description: Annotated[str, typer.Option(help="Free text")] = "",
    type_: Annotated[
        TokenType, typer.Option("--type", help="Whom the token stands for")
    ] = TokenType.GLOBAL,
    principal: Annotated[
        str | None, typer.Option(help="Id of the user/team/workflow/session (not for global)")
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="On whose behalf it acts (default: the owner)")
    ] = None,
    owner: Annotated[
        str | None, typer.Option(help="Identity recorded as creator (default: root)")
    ] = None,
    role: Annotated[TokenRole, typer.Option(help="Role of the token")] = TokenRole.VIEWER,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="A scope it grants (repeatable)")
    ] = None,
    audience: Annotated[
        list[str] | None, typer.Option("--audience", help="A service that accepts it (repeatable)")
    ] = None,
    resource: Annotated[
        list[str] | None, typer.Option("--resource", help="An allowed resource (repeatable)")
    ] = None,
    restricted: Annotated[
        bool, typer.Option("--restricted", help="Limit it to its resources")
    ] = False,
    inactive: Annotated[bool, typer.Option("--inactive", help="Create it disabled")] = False,
    expires_at: Annotated[
        datetime | None,
        typer.Option(parser=_rfc3339, metavar="RFC3339", help="Expiry, e.g. 2030-01-31T12:00:00Z"),
    ] = None,
    ttl: Annotated[
        int | None, typer.Option(metavar="SECONDS", help="Lifetime instead of --expires-at")
    ] = None,
    recoverable: Annotated[
        bool,
        typer.Option(
            "--recoverable", help="Keep the secret sealed so that 'token reveal' can show it"
        ),
    ] = False,
    rate_limit: RateLimitOption = None,
    credits: CreditsOption = None,
    refill: RefillOption = None,
    ip_allow: IpAllowOption = None,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Issue a token and print its secret (shown once unless --recoverable)."""
    spec = TokenSpec(
        name=name,
        description=description,
        type=type_,
        principal=principal,
        user=user,
        role=Role(role),
        scopes=tuple(scope or ()),
        audience=tuple(audience or ()),
        resources=tuple(resource or ()),
        restricted=restricted,
        active=not inactive,
        expires_at=expires_at,
        ttl_seconds=ttl,
        recoverable=recoverable,
        rate_limits=_rate_limits(rate_limit),
        credits=_credits(credits, refill),
        ip_allowlist=tuple(ip_allow or ()),
    )
    with backend(ctx, database_url, data_dir) as tw:
        tenant = tenant_for(tw, tenant)
        result = tw.issue_token(tenant, spec, owner=owner)
    if as_json:
        print_json(result)
        return
    expiry = result.expires_at.isoformat() if result.expires_at else "never"
    typer.echo(
        f"created token {result.id} {result.name!r} in tenant {result.tenant} "
        f"(role {result.role}, expires {expiry}); its secret:"
    )
    _show_secret(result, tenant)


@app.command("list")
def list_(
    ctx: typer.Context,
    tenant: TenantOption = None,
    type_: Annotated[
        list[TokenType] | None, typer.Option("--type", help="Only these types (repeatable)")
    ] = None,
    principal: Annotated[
        list[str] | None, typer.Option("--principal", help="Only these principals (repeatable)")
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Only tokens created by this identity")] = None,
    user: Annotated[str | None, typer.Option(help="Only tokens acting for this user")] = None,
    role: Annotated[TokenRole | None, typer.Option(help="Only tokens of this role")] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Only enabled / disabled tokens")
    ] = None,
    expired: Annotated[
        bool | None,
        typer.Option("--expired/--not-expired", help="Only expired / unexpired tokens"),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Only names containing this text, ignoring case")
    ] = None,
    sort: Annotated[TokenSort, typer.Option(help="Sort key")] = TokenSort.CREATED,
    order: Annotated[SortOrder, typer.Option(help="Sort order")] = SortOrder.ASC,
    page: Annotated[int, typer.Option(help="Page, counted from 0")] = 0,
    limit: Annotated[int, typer.Option(help="Tokens per page")] = 50,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List the tokens of a tenant (metadata only; never a secret)."""
    query = TokenQuery(
        types=tuple(type_) if type_ else None,
        principals=tuple(principal) if principal else None,
        owner=owner,
        user=user,
        role=None if role is None else Role(role),
        active=active,
        expired=expired,
        name_contains=name,
        sort=sort,
        order=order,
    )
    with backend(ctx, database_url, data_dir) as tw:
        tenant = tenant_for(tw, tenant)
        found = tw.search_tokens(tenant, query, page=page, limit=limit)
    items = found.items
    if as_json:
        print_json(found)
        return
    first = found.page * limit
    caption = f"{found.total} token(s) in tenant {tenant}"
    if items:
        caption += f"; showing {first + 1}-{first + len(items)}"
    if first + len(items) < found.total:
        caption += f"; next: --page {found.page + 1}"
    rows = [
        (
            *(t.id, t.name, t.type, t.principal, t.role, _state(t)),
            *(_when(t.expires_at) or "never", _when(t.last_used_at), t.secret_hint),
        )
        for t in items
    ]
    print_table(
        ("id", "name", "type", "principal", "role", "state", "expires", "last used", "hint"),
        rows,
        caption=caption,
        no_wrap=("id", "type", "role", "state", "hint"),
    )


def _print_token(public: Token, as_json: bool) -> None:
    if as_json:
        print_json(public)
    else:
        print_record(wire(public))


@app.command()
def show(
    ctx: typer.Context,
    token_id: IdArgument,
    tenant: TenantOption = None,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show one token's metadata."""
    with backend(ctx, database_url, data_dir) as tw:
        tenant = tenant_for(tw, tenant)
        _print_token(tw.get_token(tenant, token_id), as_json)


@app.command()
def enable(
    ctx: typer.Context,
    token_id: IdArgument,
    tenant: TenantOption = None,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Enable a token: it verifies again."""
    with backend(ctx, database_url, data_dir) as tw:
        tenant = tenant_for(tw, tenant)
        _report(tw.enable_token(tenant, token_id), as_json, "enabled")


@app.command()
def disable(
    ctx: typer.Context,
    token_id: IdArgument,
    tenant: TenantOption = None,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Disable a token: it stops verifying until enabled."""
    with backend(ctx, database_url, data_dir) as tw:
        tenant = tenant_for(tw, tenant)
        _report(tw.disable_token(tenant, token_id), as_json, "disabled")


@app.command()
def rename(
    ctx: typer.Context,
    token_id: IdArgument,
    name: Annotated[str, typer.Argument(help="New name", show_default=False)],
    tenant: TenantOption = None,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Give a token a new name."""
    with backend(ctx, database_url, data_dir) as tw:
        tenant = tenant_for(tw, tenant)
        token = tw.rename_token(tenant, token_id, name)
        _report(token, as_json, f"renamed to {token.name!r}")


@app.command()
def update(
    ctx: typer.Context,
    token_id: IdArgument,
    tenant: TenantOption = None,
    name: Annotated[str | None, typer.Option(help="New name")] = None,
    description: Annotated[str | None, typer.Option(help="New description")] = None,
    role: Annotated[TokenRole | None, typer.Option(help="New role")] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="Replace the scopes with these (repeatable)"),
    ] = None,
    no_scopes: Annotated[bool, typer.Option("--no-scopes", help="Remove every scope")] = False,
    audience: Annotated[
        list[str] | None,
        typer.Option("--audience", help="Replace the audience with these (repeatable)"),
    ] = None,
    no_audience: Annotated[
        bool, typer.Option("--no-audience", help="Remove every audience")
    ] = False,
    resource: Annotated[
        list[str] | None,
        typer.Option("--resource", help="Replace the resources with these (repeatable)"),
    ] = None,
    no_resources: Annotated[
        bool, typer.Option("--no-resources", help="Remove every resource")
    ] = False,
    restricted: Annotated[
        bool | None,
        typer.Option("--restricted/--unrestricted", help="Limit it to its resources, or not"),
    ] = None,
    expires_at: Annotated[
        datetime | None,
        typer.Option(parser=_rfc3339, metavar="RFC3339", help="New expiry"),
    ] = None,
    ttl: Annotated[
        int | None, typer.Option(metavar="SECONDS", help="Expire this many seconds from now")
    ] = None,
    never_expires: Annotated[
        bool, typer.Option("--never-expires", help="Remove the expiry")
    ] = False,
    rate_limit: RateLimitOption = None,
    no_rate_limits: Annotated[
        bool, typer.Option("--no-rate-limits", help="Remove every rate limit")
    ] = False,
    credits: CreditsOption = None,
    refill: RefillOption = None,
    unlimited: Annotated[
        bool, typer.Option("--unlimited", help="Remove the credits: any number of uses")
    ] = False,
    ip_allow: IpAllowOption = None,
    no_ip_allowlist: Annotated[
        bool, typer.Option("--no-ip-allowlist", help="Allow any address")
    ] = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Change a token's name, description, role, scopes, audience, resources or expiry; only
    the options given change (the native API's PATCH)."""
    given: dict[str, object] = {}
    for key, value in (("name", name), ("description", description)):
        if value is not None:
            given[key] = value
    if role is not None:
        given["role"] = Role(role)
    for key, values, clear in (
        ("scopes", scope, no_scopes),
        ("audience", audience, no_audience),
        ("resources", resource, no_resources),
    ):
        if values and clear:
            raise typer.BadParameter(f"give values for {key} or clear them, not both")
        if values or clear:
            given[key] = tuple(values or ())
    if restricted is not None:
        given["restricted"] = restricted
    expiries = [expires_at is not None, ttl is not None, never_expires]
    if sum(expiries) > 1:
        raise typer.BadParameter("give one of --expires-at, --ttl and --never-expires")
    if expires_at is not None:
        given["expires_at"] = expires_at
    elif ttl is not None:
        given["expires_at"] = datetime.now(UTC) + timedelta(seconds=ttl)
    elif never_expires:
        given["expires_at"] = None
    if rate_limit or no_rate_limits:
        if rate_limit and no_rate_limits:
            raise typer.BadParameter("give --rate-limit or --no-rate-limits, not both")
        given["rate_limits"] = _rate_limits(rate_limit)
    if ip_allow or no_ip_allowlist:
        if ip_allow and no_ip_allowlist:
            raise typer.BadParameter("give --ip-allow or --no-ip-allowlist, not both")
        given["ip_allowlist"] = tuple(ip_allow or ())
    if credits is not None or refill is not None or unlimited:
        if unlimited and (credits is not None or refill is not None):
            raise typer.BadParameter("give --credits or --unlimited, not both")
        given["credits"] = _credits(credits, refill)
    if not given:
        raise typer.BadParameter("nothing to change: give at least one option (see --help)")
    changes = TokenChanges(**given)  # type: ignore[arg-type]
    with backend(ctx, database_url, data_dir) as tw:
        tenant = tenant_for(tw, tenant)
        token = tw.update_token(tenant, token_id, changes)
    _report(token, as_json, "updated")


def _report(token: Token, as_json: bool, done: str) -> None:
    if as_json:
        print_json(token)
    else:
        typer.echo(f"token {token.id} {done}")


@app.command()
def rotate(
    ctx: typer.Context,
    token_id: IdArgument,
    tenant: TenantOption = None,
    grace: Annotated[
        int, typer.Option(metavar="SECONDS", help="How long the old secret keeps working")
    ] = 0,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Give a token a new secret and print it."""
    with backend(ctx, database_url, data_dir) as tw:
        tenant = tenant_for(tw, tenant)
        result = tw.rotate_token(tenant, token_id, grace_seconds=grace)
    if as_json:
        print_json(result)
        return
    old = f"keeps working for {grace} s" if grace else "stopped working"
    typer.echo(f"rotated token {result.id} {result.name!r}; the old secret {old}. New secret:")
    _show_secret(result, tenant)


@app.command()
def delete(
    ctx: typer.Context,
    token_id: IdArgument,
    tenant: TenantOption = None,
    yes: YesOption = False,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Delete a token: it stops verifying at once."""
    with backend(ctx, database_url, data_dir) as tw:
        tenant = tenant_for(tw, tenant)
        if not yes:
            token = tw.get_token(tenant, token_id)
            typer.confirm(
                f"Delete token {token.id} {token.name!r} of tenant {tenant}?", abort=True, err=True
            )
        tw.delete_token(tenant, token_id)
    if as_json:
        print_json({"id": token_id, "tenant": tenant, "deleted": True})
    else:
        typer.echo(f"deleted token {token_id}")


@app.command()
def reveal(
    ctx: typer.Context,
    token_id: IdArgument,
    tenant: TenantOption = None,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print the secret of a recoverable token (audited)."""
    with backend(ctx, database_url, data_dir) as tw:
        tenant = tenant_for(tw, tenant)
        revealed = tw.reveal_secret(tenant, token_id)
    if as_json:
        print_json(revealed)
    else:
        typer.echo(revealed.secret)


def verify(
    ctx: typer.Context,
    secret: Annotated[str, typer.Argument(help="The secret to check, or - to read it from stdin")],
    audience: Annotated[str | None, typer.Option(help="Audience the token must have")] = None,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="A scope the token must hold (repeatable)")
    ] = None,
    resource: Annotated[str | None, typer.Option(help="Resource it must be allowed")] = None,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Verify a secret and print the verdict code; exit 0 when valid, 1 when not."""
    if secret == _FROM_STDIN:
        secret = sys.stdin.readline().strip()
    with backend(ctx, database_url, data_dir) as tw:
        result = tw.verify(secret, audience=audience, scopes=scope or (), resource=resource)
    token = result.token
    if as_json:
        print_json(result)
    else:
        typer.echo(result.code)
        if token is not None:
            typer.echo(f"token {token.id} {token.name!r} of tenant {token.tenant}", err=True)
    if not result.valid:
        raise typer.Exit(EXIT_REFUSED)


@app.command("credits")
def credits_(
    ctx: typer.Context,
    token_id: IdArgument,
    tenant: TenantOption = None,
    set_to: Annotated[int | None, typer.Option("--set", help="The new balance")] = None,
    add: Annotated[int | None, typer.Option("--add", help="Added to the balance")] = None,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Set a token's credit balance, or add to it (audited as token.credits)."""
    if (set_to is None) == (add is None):
        raise typer.BadParameter("give --set or --add")
    with backend(ctx, database_url, data_dir) as tw:
        tenant = tenant_for(tw, tenant)
        token = tw.adjust_credits(tenant, token_id, set_to=set_to, add=add)
    if as_json:
        print_json(token)
        return
    remaining = None if token.credits is None else token.credits["remaining"]
    typer.echo(f"token {token.id} has {remaining} credits")


class UsageBucketName(StrEnum):
    HOUR = "hour"
    DAY = "day"


@app.command("usage")
def usage_(
    ctx: typer.Context,
    token_id: IdArgument,
    tenant: TenantOption = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            parser=_rfc3339, metavar="RFC3339", help="From (default: a day or 30 days ago)"
        ),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(parser=_rfc3339, metavar="RFC3339", help="Until (default: now)"),
    ] = None,
    bucket: Annotated[UsageBucketName, typer.Option(help="hour or day")] = UsageBucketName.HOUR,
    as_json: JsonOption = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """A token's verifications per hour or day, as a small chart (counts are written by each
    server every few seconds)."""
    with backend(ctx, database_url, data_dir) as tw:
        tenant = tenant_for(tw, tenant)
        buckets = tw.token_usage(tenant, token_id, since=since, until=until, bucket=bucket.value)
    if as_json:
        print_json({"buckets": buckets})
        return
    usage_chart(buckets, bucket.value)


#: Width of the longest bar of ``token usage``.
_BAR = 40


def usage_chart(buckets: list[UsageBucket], bucket: str) -> None:
    """One line a bucket: its start, a bar of valid (green) and refused (red) verifications,
    and the counts by code."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    if not buckets:
        console.print("no verifications in this span")
        return
    totals = [sum(b.counts.values()) for b in buckets]
    scale = _BAR / max(max(totals), 1)
    table = Table(box=None, show_header=True, pad_edge=False)
    table.add_column(bucket)
    table.add_column("verifications")
    table.add_column("total", justify="right")
    table.add_column("by code")
    form = "%Y-%m-%d %H:00Z" if bucket == "hour" else "%Y-%m-%d"
    for item, total in zip(buckets, totals, strict=True):
        valid = item.counts.get("VALID", 0)
        bar = Text("█" * round(valid * scale), style="green")
        bar.append("█" * round((total - valid) * scale), style="red")
        codes = ", ".join(f"{code} {count}" for code, count in sorted(item.counts.items()))
        table.add_row(item.start.strftime(form), bar, str(total), codes)
    console.print(table)
