"""Token use cases: issue, read, search, change, rotate, delete, reveal."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tokenward.domain import clock, limits, policy
from tokenward.domain import secrets as secret_format
from tokenward.domain.actors import Actor
from tokenward.domain.audit import AuditEntry
from tokenward.domain.errors import Conflict, ErrorCode, Invalid, NotFound, Resource
from tokenward.domain.roles import Role
from tokenward.domain.tokens import (
    Credits,
    IssuedToken,
    Page,
    PageRequest,
    Token,
    TokenChanges,
    TokenQuery,
    TokenSpec,
)
from tokenward.service import events, policies, tenants
from tokenward.service.core import Core
from tokenward.service.ports import UnitOfWork

MAX_GRACE_SECONDS = 30 * 86400


def issue(
    core: Core,
    actor: Actor,
    *,
    tenant: str,
    spec: TokenSpec,
    owner: str | None = None,
    secret_prefix: str = secret_format.DEFAULT_PREFIX,
    unique_name: bool = False,
    excluding_audience: str | None = None,
) -> IssuedToken:
    """Mints a token in ``tenant``. ``owner`` defaults to the caller; an admin names another of
    its tenant, root anyone.

    ``unique_name`` is for faces that identify tokens by name: an existing name is a conflict.
    ``excluding_audience``: for a face that does not see tokens whose audience holds it (as in
    ``find_by_name``), their names are not taken: a conflict would tell that they exist.
    """
    policy.require_tenant(actor, tenant)
    policy.require_role(actor, Role.EDITOR, "issuing a token")
    now = core.clock()
    limits.check_spec(spec)
    expires_at = _expiry(spec, now)
    if expires_at is None and not spec.permanent:
        # Naming no expiry is not asking to outlive the caller: the token ends when it does.
        expires_at = actor.expires_at
    owner = _owner_for(actor, owner)
    secret = secret_format.generate(secret_prefix)
    secret_hash = secret_format.hash_secret(secret)
    draft = Token(
        id=0,
        tenant=tenant,
        name=spec.name,
        description=spec.description,
        type=spec.type,
        principal=spec.principal,
        owner=owner,
        user=spec.user or owner,
        role=spec.role,
        scopes=tuple(dict.fromkeys(spec.scopes)),
        audience=tuple(dict.fromkeys(spec.audience)),
        resources=tuple(dict.fromkeys(spec.resources)),
        restricted=spec.restricted,
        active=spec.active,
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
        last_used_at=None,
        secret_hash=secret_hash,
        secret_hint=secret_format.hint(secret),
        sealed_secret=core.sealer.seal(secret, bound_to=secret_hash) if spec.recoverable else None,
        metadata=dict(spec.metadata),
        rate_limits=tuple(spec.rate_limits),
        credits=spec.credits,
        ip_allowlist=limits.normal_allowlist(spec.ip_allowlist),
    )
    policy.check_within(actor, draft)
    with core.uow(write=True) as uow:
        # Held to the commit: a deletion of the tenant waits, or this finds it gone.
        tenants.existing(uow, tenant, lock="share")
        if unique_name:
            uow.tokens.lock_name(tenant, spec.name)  # two creates of one name: one waits
        if unique_name and _named(uow, tenant, spec.name, now, excluding_audience):
            raise Conflict("a token of this name already exists", code=ErrorCode.NAME_TAKEN)
        draft = policies.on_issue(uow, draft, now, permanent=spec.permanent)
        token = uow.tokens.add(draft, now=now)
        _audit(uow, actor, "token.issue", token, now)
        events.announce(uow, "token.issue", token, now)
        core.commit_change(uow, [token.id], at=now)  # others learn that the secret exists
    return IssuedToken(token, secret)


def get(core: Core, actor: Actor, *, tenant: str, token_id: int) -> Token:
    policy.require_tenant(actor, tenant)
    with core.uow() as uow:
        return _load(uow, tenant, token_id)


def get_many(
    core: Core, actor: Actor, *, tenant: str, token_ids: Sequence[int]
) -> dict[int, Token]:
    """The tenant's tokens of these ids, in one read (a list that names many tokens, such as
    the most verified ones, must not read them one by one); an id not found is left out."""
    policy.require_tenant(actor, tenant)
    if len(token_ids) > limits.MAX_PAGE_SIZE:
        raise Invalid(f"at most {limits.MAX_PAGE_SIZE} ids", field="token_ids")
    with core.uow() as uow:
        return uow.tokens.get_many(tenant, token_ids)


def search(
    core: Core,
    actor: Actor,
    *,
    tenant: str,
    query: TokenQuery = TokenQuery(),
    page: PageRequest = PageRequest(),
) -> Page[Token]:
    policy.require_tenant(actor, tenant)
    limits.check_page(page, whole=True)
    with core.uow(may_lag=True) as uow:
        tenants.existing(uow, tenant)
        return uow.tokens.search(tenant, query, page, core.clock())


def find_by_name(
    core: Core, actor: Actor, *, tenant: str, name: str, excluding_audience: str | None = None
) -> Token | None:
    """The one token called ``name``; two of that name are a conflict, not a guess.

    ``excluding_audience``: tokens whose audience holds it are not there at all (Query's face
    keeps tokenward's own management tokens out of its reach).
    """
    limit = 2 if excluding_audience is None else None
    found = [
        token
        for token in search(
            core, actor, tenant=tenant, query=TokenQuery(name=name), page=PageRequest(0, limit)
        ).items
        if excluding_audience is None or excluding_audience not in token.audience
    ]
    if len(found) > 1:
        raise Conflict("more than one token has this name", code=ErrorCode.NAME_AMBIGUOUS)
    return found[0] if found else None


def update(core: Core, actor: Actor, *, tenant: str, token_id: int, changes: TokenChanges) -> Token:
    token, _ = _change(core, actor, tenant, token_id, "token.update", _given(changes))
    return token


def update_and_rotate(
    core: Core, actor: Actor, *, tenant: str, token_id: int, changes: TokenChanges
) -> IssuedToken:
    """Changes and a new secret in one transaction: all of it happens, or none.

    For faces whose product issues a new secret on every update (Query's ``PUT``).
    """
    token, secret = _change(
        core, actor, tenant, token_id, "token.update", _given(changes), rotate_grace=0
    )
    assert secret is not None
    return IssuedToken(token, secret)


def enable(core: Core, actor: Actor, *, tenant: str, token_id: int) -> Token:
    token, _ = _change(core, actor, tenant, token_id, "token.enable", {"active": True})
    return token


def disable(core: Core, actor: Actor, *, tenant: str, token_id: int) -> Token:
    token, _ = _change(core, actor, tenant, token_id, "token.disable", {"active": False})
    return token


def rotate(
    core: Core, actor: Actor, *, tenant: str, token_id: int, grace_seconds: int = 0
) -> IssuedToken:
    """A new secret; the old one keeps working for ``grace_seconds`` (0: stops at once)."""
    token, secret = _change(
        core, actor, tenant, token_id, "token.rotate", {}, rotate_grace=grace_seconds
    )
    assert secret is not None
    return IssuedToken(token, secret)


def delete(core: Core, actor: Actor, *, tenant: str, token_id: int) -> Token:
    """Deletes the token and returns it as it was."""
    policy.require_tenant(actor, tenant)
    now = core.clock()
    with core.uow(write=True) as uow:
        token = _load(uow, tenant, token_id, for_update=True)
        policy.check_change(actor, token)
        uow.tokens.delete(token.id)
        _audit(uow, actor, "token.delete", token, now)
        events.announce(uow, "token.delete", token, now)
        core.commit_change(uow, [token.id], at=now)
    return token


def reveal(core: Core, actor: Actor, *, tenant: str, token_id: int) -> str:
    """The secret of a recoverable token, opened from its sealed form; audited."""
    policy.require_tenant(actor, tenant)
    now = core.clock()
    with core.uow(write=True) as uow:
        token = _load(uow, tenant, token_id)
        policy.check_reveal(actor, token)
        if token.sealed_secret is None:
            raise Conflict(
                "this token was not created recoverable; its secret cannot be shown again",
                code=ErrorCode.NOT_RECOVERABLE,
            )
        if token.sealed_copy_missing:
            raise Conflict(
                "this token was created recoverable, but its sealed copy was not imported "
                "(it was exported without --include-sealed); rotate it for a new secret",
                code=ErrorCode.NOT_RECOVERABLE,
            )
        secret = core.sealer.open(token.sealed_secret, bound_to=token.secret_hash)
        _audit(uow, actor, "token.reveal", token, now)
        uow.commit()
    return secret


def get_with_secret(
    core: Core, actor: Actor, *, tenant: str, token_id: int
) -> tuple[Token, str | None]:
    """The token, with its secret when this caller would be shown it (``policy.shows_secret``)
    and None otherwise: for faces that show the secret where they can and a mask elsewhere.

    Deciding is a read; only a secret actually shown goes through ``reveal``, with its write
    transaction and its audit record.
    """
    token = get(core, actor, tenant=tenant, token_id=token_id)
    if not policy.shows_secret(actor, token):
        return token, None
    return token, reveal(core, actor, tenant=tenant, token_id=token_id)


def _given(changes: TokenChanges) -> dict[str, Any]:
    given = changes.given()
    limits.check_fields(given)
    return given


def _change(
    core: Core,
    actor: Actor,
    tenant: str,
    token_id: int,
    action: str,
    given: dict[str, Any],
    *,
    rotate_grace: int | None = None,
) -> tuple[Token, str | None]:
    """Applies ``given`` and, when ``rotate_grace`` is set, a new secret, in one transaction.

    The no-escalation rule is asked of the resulting token: a change that only narrows needs
    the right to change the token; one that widens anything (docs/permissions.md), and every
    rotation, which hands the caller a working credential, needs the whole result within the
    caller.
    """
    policy.require_tenant(actor, tenant)
    now = core.clock()
    if rotate_grace is not None and not 0 <= rotate_grace <= MAX_GRACE_SECONDS:
        raise Invalid(f"must be between 0 and {MAX_GRACE_SECONDS}", field="grace_seconds")
    if given.get("expires_at") is not None:
        given["expires_at"] = _future_instant(given["expires_at"], now)
    for key in ("scopes", "audience", "resources"):
        if key in given:
            given[key] = tuple(dict.fromkeys(given[key]))
    if "ip_allowlist" in given:
        given["ip_allowlist"] = limits.normal_allowlist(given["ip_allowlist"])
    if "rate_limits" in given:
        given["rate_limits"] = tuple(given["rate_limits"])
    with core.uow(write=True) as uow:
        token = _load(uow, tenant, token_id, for_update=True)
        policy.check_change(actor, token)
        after = dataclasses.replace(token, **given)
        policy.check_enabling(actor, token, after)
        if rotate_grace is not None or policy.widens(token, after):
            policy.check_within(actor, after, existing=True)
        limits.check_restricted_role(after.restricted, after.role)
        policies.check(uow, after, now, action)
        if given:
            uow.tokens.update(token.id, {**given, "updated_at": now})
            token = _load(uow, tenant, token.id)
            _audit(uow, actor, action, token, now, fields=sorted(given))
            events.announce(uow, action, token, now)
        secret = None
        if rotate_grace is not None:
            secret = _replace_secret(core, uow, actor, token, now, rotate_grace)
            token = _load(uow, tenant, token.id)
            _audit(uow, actor, "token.rotate", token, now, grace_seconds=rotate_grace)
            events.announce(uow, "token.rotate", token, now)
        core.commit_change(uow, [token.id], at=now)
    return token, secret


def adjust_credits(
    core: Core,
    actor: Actor,
    *,
    tenant: str,
    token_id: int,
    set_to: int | None = None,
    add: int | None = None,
) -> Token:
    """Sets the token's credit balance, or adds to it (``token.credits`` in the audit).

    Under the rules of a change: lowering the balance is an editor's; raising it gives the
    token more uses, so the caller must be able to mint the token with the raised balance
    (``policy.widens``). Setting a balance on a token without credits (unlimited) gives it
    credits without a refill, which narrows it; adding to one is a conflict.
    """
    if (set_to is None) == (add is None):
        raise Invalid("give set or add, not both")
    if set_to is not None:
        limits.check_credit_count("set", set_to, low=0)
    if add is not None:
        limits.check_credit_count("add", add, low=0)
    policy.require_tenant(actor, tenant)
    now = core.clock()
    with core.uow(write=True) as uow:
        token = _load(uow, tenant, token_id, for_update=True)
        policy.check_change(actor, token)
        credits = token.credits
        if credits is None:
            if add is not None:
                raise Conflict(
                    "this token has no credits (unlimited): set them first",
                    code=ErrorCode.NO_CREDITS,
                )
            credits = Credits(0)  # a balance where there was none narrows the token
        if set_to is not None:
            remaining = set_to
        else:
            assert add is not None
            remaining = min(credits.remaining + add, limits.MAX_CREDITS)
        after = dataclasses.replace(
            token, credits=dataclasses.replace(credits, remaining=remaining)
        )
        if policy.widens(token, after):
            policy.check_within(actor, after, existing=True)
        if set_to is not None:
            # Through the token's row: a token that had no credits gains them on its snapshot.
            uow.tokens.update(token.id, {"credits": after.credits, "updated_at": now})
        else:
            assert add is not None
            refill = credits.refill
            uow.credits.add(
                token.id,
                add,
                0 if refill is None else refill.period(now),
                0 if refill is None else refill.amount,
            )
        token = _load(uow, tenant, token.id)
        _audit(
            uow,
            actor,
            "token.credits",
            token,
            now,
            **({"set": set_to} if add is None else {"add": add}),
        )
        core.commit_change(uow, [token.id], at=now)
    return token


def _replace_secret(
    core: Core, uow: UnitOfWork, actor: Actor, token: Token, now: datetime, grace_seconds: int
) -> str:
    # The new secret is a credential in the caller's hands: `_change` has asked that the whole
    # token be within the caller (below admin, acting for no one else) before this runs.
    # The hint keeps the prefix: a Boomerang `bft_` token stays a `bft_` token.
    secret = secret_format.generate(secret_format.prefix_of(token.secret_hint))
    secret_hash = secret_format.hash_secret(secret)
    uow.tokens.replace_secret(
        token.id,
        secret_hash=secret_hash,
        secret_hint=secret_format.hint(secret),
        sealed_secret=core.sealer.seal(secret, bound_to=secret_hash) if token.recoverable else None,
        old_retires_at=now + timedelta(seconds=grace_seconds) if grace_seconds else None,
        now=now,
    )
    return secret


def _load(uow: UnitOfWork, tenant: str, token_id: int, *, for_update: bool = False) -> Token:
    token = uow.tokens.get(tenant, token_id, for_update=for_update)
    if token is None:
        # Which of the two is missing, asked in this unit of work: a face that words them
        # apart (Devo's account) needs no call of its own. The message stays the token's.
        missing: Resource = "token" if uow.tenants.get(tenant) is not None else "tenant"
        raise NotFound(f"token {token_id} not found", resource=missing)
    return token


def _named(
    uow: UnitOfWork, tenant: str, name: str, now: datetime, excluding_audience: str | None
) -> bool:
    if excluding_audience is None:
        return bool(uow.tokens.search(tenant, TokenQuery(name=name), PageRequest(0, 1), now).total)
    found = uow.tokens.search(tenant, TokenQuery(name=name), PageRequest(0, None), now).items
    return any(excluding_audience not in token.audience for token in found)


def _owner_for(actor: Actor, owner: str | None) -> str:
    if owner is None or owner == actor.identity:
        return actor.identity
    policy.check_owner(actor, owner)
    limits.check_text("owner", owner, limits.MAX_IDENTITY, required=True)
    return owner


def _expiry(spec: TokenSpec, now: datetime) -> datetime | None:
    if spec.ttl_seconds is not None:
        return now + timedelta(seconds=spec.ttl_seconds)
    return None if spec.expires_at is None else _future_instant(spec.expires_at, now)


def _future_instant(moment: datetime, now: datetime) -> datetime:
    """An expiry as stored: to the millisecond, in the future, at most the longest lifetime."""
    try:
        stored = clock.truncate(moment)
    except (OverflowError, ValueError) as exc:  # e.g. 9999-12-31T23:00-05:00 is past year 9999
        raise Invalid("is out of range", field="expires_at") from exc
    if stored <= now:
        raise Invalid("must be in the future", field="expires_at")
    if stored > now + timedelta(seconds=limits.MAX_TTL_SECONDS):
        raise Invalid(
            f"is more than {limits.MAX_TTL_SECONDS // 86400} days away", field="expires_at"
        )
    return stored


def _audit(
    uow: UnitOfWork, actor: Actor, action: str, token: Token, now: datetime, **detail: Any
) -> None:
    uow.audit.add(
        AuditEntry(
            at=now,
            tenant=token.tenant,
            actor=actor.label,
            action=action,
            token_id=token.id,
            client=actor.client,
            detail=detail,
        )
    )


def revoke(core: Core, actor: Actor, *, secret: str) -> bool:
    """RFC 7009: disables the token that ``secret`` opens. True when it did.

    An unknown or malformed secret, or another tenant's token, changes nothing and says
    nothing (False); within its tenant the caller needs the rights to change the token.
    A rotated-out secret revokes only within its grace, while it still opens the token: a
    dead one, leaked, must not take the live credential down.
    """
    if not secret_format.is_well_formed(secret):
        return False
    with core.uow() as uow:
        found = uow.tokens.get_by_secret_hash(
            secret_format.hash_secret(secret), live_at=core.clock()
        )
    if found is None:
        return False
    token = found[0]
    if not policy.sees_tenant(actor, token.tenant):
        return False
    try:
        _change(core, actor, token.tenant, token.id, "token.revoke", {"active": False})
    except NotFound:  # deleted meanwhile: revoked all the same
        return False
    return True


def restore(core: Core, actor: Actor, *, token: Token, keep_id: bool = False) -> Token:
    """Stores a token exported from another installation as it was, secret hash included, so
    that its secret keeps verifying; root only. ``keep_id``: under its own id, which must be
    free (``ID_TAKEN`` otherwise); else the store gives it a new one.

    A secret hash that is already stored is a conflict: importing twice adds nothing.
    """
    policy.require_root(actor, "importing tokens")
    limits.check_fields(
        {
            "name": token.name,
            "description": token.description,
            "principal": token.principal,
            "user": token.user,
            "role": token.role,
            "scopes": token.scopes,
            "audience": token.audience,
            "resources": token.resources,
            "metadata": token.metadata,
            "rate_limits": token.rate_limits,
            "credits": token.credits,
            "ip_allowlist": token.ip_allowlist,
        }
    )
    if len(token.secret_hash) != 64 or not set(token.secret_hash) <= set("0123456789abcdef"):
        raise Invalid("must be 64 lower-case hex digits", field="secret_hash")
    policy.check_within(actor, token)  # holds for root; asked so that no path goes without it
    if keep_id and not 1 <= token.id <= limits.MAX_TOKEN_ID:
        raise Invalid("must be a positive 64-bit integer", field="id")
    now = core.clock()
    with core.uow(write=True) as uow:
        tenants.existing(uow, token.tenant, lock="share")
        if uow.tokens.get_by_secret_hash(token.secret_hash) is not None:
            raise Conflict(
                "a token with this secret is already stored", code=ErrorCode.ALREADY_STORED
            )
        if keep_id:
            if uow.tokens.secret_hashes_of([token.id]):
                raise Conflict(f"token id {token.id} is taken", code=ErrorCode.ID_TAKEN)
            stored = uow.tokens.add_with_id(token, now=now)
        else:
            stored = uow.tokens.add(token, now=now)
        _audit(uow, actor, "token.import", stored, now)
        events.announce(uow, "token.import", stored, now)
        core.commit_change(uow, [stored.id], at=now)
    return stored


#: Ids asked about in one statement by ``stored_secret_hashes``.
_ID_BATCH = 500


def stored_secret_hashes(core: Core, actor: Actor, *, ids: Sequence[int]) -> dict[int, str]:
    """Which of these token ids are stored (in any tenant), with their current secret hash:
    what an import checks before keeping ids. Root only."""
    policy.require_root(actor, "importing tokens")
    found: dict[int, str] = {}
    with core.uow() as uow:
        for start in range(0, len(ids), _ID_BATCH):
            found |= uow.tokens.secret_hashes_of(ids[start : start + _ID_BATCH])
    return found
