"""No escalation, one rule on every path (docs/permissions.md): a caller never comes to hold,
hand out or put back in force a credential more powerful than its own.

A property test generates callers, target tokens and operations on every face, and checks the
*outcome* in the store after every call that succeeded, with its own statement of the rule
(``_beyond`` and ``_widened`` below, written from docs/permissions.md, not from
``domain/policy.py``). Then one regression test for each finding of issue 13, part 1.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.bounds import scaled
from tests.helpers import ROOT_HEADERS, bearer, tenant
from tokenward.domain import secrets as secret_format
from tokenward.domain.actors import Actor
from tokenward.domain.roles import Role
from tokenward.domain.tokens import Token, TokenSpec, TokenType
from tokenward.service import tokens
from tokenward.service.core import Core

TENANT = "acme"
NATIVE = f"/v1/tenants/{TENANT}/tokens"
DEVO = f"/v2/accounts/{TENANT}/tokens"
CEDALO = f"/api/projects/{TENANT}/tokens"
QUERY = "/_/token"
BOOMERANG = "/api/v2/token"

RANK = {"viewer": 1, "editor": 2, "admin": 3}
SCOPES = ("s1", "s2", "s3")
AUDIENCES = ("tokenward", "billing", "payroll")
RESOURCES = ("r1", "r2", "r3")
USERS = ("alice", "bob")
_names = itertools.count()


def _core(client: TestClient) -> Core:
    core: Core = client.app_state["core"]
    return core


def _tenant(client: TestClient) -> None:
    tenant(client, TENANT, exist_ok=True)


def _made_by_root(
    core: Core, *, lifetime: timedelta | None = None, owner: str | None = None, **fields: Any
) -> tuple[Token, str]:
    """A token made by root in the tenant. A negative ``lifetime`` makes it already expired:
    it is issued on a clock moved back by twice that much."""
    fields.setdefault("name", f"t{next(_names)}")
    now = datetime.now(UTC)
    at = core
    if lifetime is not None:
        if lifetime < timedelta(0):
            back = now + 2 * lifetime
            at = Core(
                uow=core.uow,
                sealer=core.sealer,
                changes=core.changes,
                secrets=core.secrets,
                clock=lambda: back,
            )
            lifetime = -lifetime
        fields["ttl_seconds"] = int(lifetime.total_seconds())
    issued = tokens.issue(at, Actor.root(), tenant=TENANT, spec=TokenSpec(**fields), owner=owner)
    return _stored(core, issued.token.id), issued.secret  # as stored: expiry to the millisecond


def _stored(core: Core, token_id: int) -> Token:
    with core.uow() as uow:
        token = uow.tokens.get(TENANT, token_id)
    assert token is not None
    return token


def _holding(core: Core, secret: str) -> Token:
    """The token a secret in the caller's hands opens."""
    with core.uow() as uow:
        found = uow.tokens.get_by_secret_hash(secret_format.hash_secret(secret))
    assert found is not None
    return found[0]


# The rule, restated from docs/permissions.md.


def _beyond(caller: Token, credential: Token) -> list[str]:
    """Every way ``credential`` is more powerful than ``caller``, a management token."""
    found = []
    admin = caller.role is Role.ADMIN
    if RANK[credential.role] > RANK[caller.role]:
        found.append("role")
    if not admin and any(s not in caller.scopes for s in credential.scopes):
        found.append("scopes")
    if not admin and any(a not in caller.audience for a in credential.audience if a != "tokenward"):
        found.append("audience")
    if caller.restricted and (
        not credential.restricted or any(r not in caller.resources for r in credential.resources)
    ):
        found.append("resources")
    if caller.expires_at is not None and (
        credential.expires_at is None or credential.expires_at > caller.expires_at
    ):
        found.append("expiry")
    if not admin and credential.user != caller.user:
        found.append("user")
    return found


def _widened(before: Token, after: Token) -> bool:
    """Whether a change gave the token any power it did not have."""
    lifted = before.restricted and (
        not after.restricted or any(r not in before.resources for r in after.resources)
    )
    later = before.expires_at is not None and (
        after.expires_at is None or after.expires_at > before.expires_at
    )
    return (
        RANK[after.role] > RANK[before.role]
        or any(s not in before.scopes for s in after.scopes)
        or any(a not in before.audience for a in after.audience)
        or lifted
        or (after.active and not before.active)
        or later
    )


# What the property test generates.


@dataclass(frozen=True)
class Who:
    role: str
    scopes: tuple[str, ...]
    audience: tuple[str, ...]
    restricted: bool
    resources: tuple[str, ...]
    lifetime: timedelta | None
    user: str
    active: bool = True
    owner: str | None = None


def _subset(items: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(items), unique=True).map(tuple)


def _words(draw: st.DrawFn, held: tuple[str, ...], every: tuple[str, ...]) -> tuple[str, ...]:
    """Half the time words the caller holds, so that many calls are allowed and their
    outcome is checked; otherwise any words, so that many are attempts to escalate."""
    return draw(_subset(held if held and draw(st.booleans()) else every))


_LIFETIMES = st.sampled_from([None, timedelta(minutes=10), timedelta(hours=2), timedelta(days=2)])
#: A negative lifetime: a token that has already expired.
_TARGET_LIFETIMES = st.sampled_from(
    [None, timedelta(minutes=5), timedelta(days=1), -timedelta(minutes=5)]
)


@st.composite
def callers(draw: st.DrawFn) -> Who:
    role = draw(st.sampled_from(["viewer", "editor", "editor", "admin", "admin"]))
    restricted = role != "admin" and draw(st.booleans())
    return Who(
        role=role,
        scopes=draw(_subset(SCOPES)),
        audience=("tokenward", *draw(_subset(AUDIENCES[1:]))),
        restricted=restricted,
        resources=draw(_subset(RESOURCES)),
        lifetime=draw(_LIFETIMES),
        user=draw(st.sampled_from(USERS)),
    )


@st.composite
def targets(draw: st.DrawFn, caller: Who) -> Who:
    role = draw(st.sampled_from(["viewer", "editor", "admin"]))
    return Who(
        role=role,
        scopes=_words(draw, caller.scopes, SCOPES),
        audience=_words(draw, caller.audience, AUDIENCES),
        restricted=role != "admin" and draw(st.booleans()),
        resources=_words(draw, caller.resources, RESOURCES),
        lifetime=draw(_TARGET_LIFETIMES),
        user=draw(st.sampled_from((caller.user, caller.user, *USERS, "root"))),
        active=draw(st.booleans()),
        owner=draw(st.sampled_from((caller.user, *USERS, None))),
    )


def _spec_of(who: Who, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "role": Role(who.role),
        "scopes": who.scopes,
        "audience": who.audience,
        "restricted": who.restricted,
        "resources": who.resources,
        "user": who.user,
        "active": who.active,
        "recoverable": True,
    }


_EXPIRY = st.sampled_from(["absent", "null", "+1m", "+1h", "+3d"])


def _instant(choice: str) -> datetime:
    return datetime.now(UTC) + {"+1m": timedelta(minutes=1), "+1h": timedelta(hours=1)}.get(
        choice, timedelta(days=3)
    )


def _native_expiry(choice: str) -> dict[str, Any]:
    if choice == "absent":
        return {}
    return {"expires_at": None if choice == "null" else _instant(choice).isoformat()}


@st.composite
def native_bodies(draw: st.DrawFn, caller: Who) -> dict[str, Any]:
    return {
        "role": draw(st.sampled_from(list(RANK))),
        "scopes": list(_words(draw, caller.scopes, SCOPES)),
        "audience": list(_words(draw, caller.audience, AUDIENCES)),
        "restricted": draw(st.booleans()),
        "resources": list(_words(draw, caller.resources, RESOURCES)),
        **({"user": draw(st.sampled_from(USERS))} if draw(st.booleans()) else {}),
        **_native_expiry(draw(_EXPIRY)),
    }


@st.composite
def patches(draw: st.DrawFn, caller: Who) -> dict[str, Any]:
    whole = draw(native_bodies(caller))
    whole.setdefault("expires_at", None)
    keys = draw(st.lists(st.sampled_from(sorted(whole)), min_size=1, unique=True))
    return {key: whole[key] for key in keys if key != "user"} or {"name": "renamed"}


@dataclass(frozen=True)
class Call:
    """One request; what it puts in the caller's hands is read from its answer."""

    face: str
    method: str
    url: str
    body: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    changes_target: bool = False


def _ms(choice: str) -> dict[str, Any]:
    if choice in ("absent", "null"):
        return {}
    return {"expiration_date": int(_instant(choice).timestamp() * 1000)}


@st.composite
def calls(draw: st.DrawFn, caller: Who, target_id: int, target_name: str) -> Call:
    one = f"{NATIVE}/{target_id}"
    kind = draw(
        st.sampled_from(
            [
                "native create",
                "native patch",
                "native enable",
                "native rotate",
                "native reveal",
                "devo create",
                "devo get",
                "devo enable",
                "devo rename",
                "query create",
                "query put",
                "query value",
                "cedalo create",
                "boomerang create",
            ]
        )
    )
    name = f"n{next(_names)}"
    expiry = draw(_EXPIRY)
    if kind == "native create":
        return Call(kind, "POST", NATIVE, {"name": name, **draw(native_bodies(caller))})
    if kind == "native patch":
        return Call(kind, "PATCH", one, draw(patches(caller)), changes_target=True)
    if kind in ("native enable", "native rotate"):
        return Call(kind, "POST", f"{one}/{kind.split()[1]}", changes_target=True)
    if kind == "native reveal":
        return Call(kind, "GET", f"{one}/secret")
    if kind == "devo create":
        body: dict[str, Any] = {
            "name": name,
            "audience": " ".join(_words(draw, caller.audience, AUDIENCES)) or "billing",
            "scopes": " ".join(_words(draw, caller.scopes, SCOPES)),
        }
        lifetimes = {"absent": None, "null": -1, "+1m": 60, "+1h": 3600, "+3d": 259200}
        if lifetimes[expiry] is not None:
            body["expiresInSeconds"] = lifetimes[expiry]
        if draw(st.booleans()):
            body["user"] = draw(st.sampled_from(USERS))
        return Call(kind, "POST", DEVO, body)
    if kind == "devo get":
        return Call(kind, "GET", f"{DEVO}/{target_id}")
    if kind == "devo enable":
        return Call(kind, "PUT", f"{DEVO}/{target_id}/enable", changes_target=True)
    if kind == "devo rename":
        return Call(kind, "PUT", f"{DEVO}/{target_id}/rename", {"value": name}, changes_target=True)
    if kind == "query create":
        return Call(
            kind, "POST", QUERY, {"name": name, "write": draw(st.booleans()), **_ms(expiry)}
        )
    if kind == "query put":
        body = {"name": target_name, **_ms(expiry)}
        for key in ("write", "active"):
            if draw(st.booleans()):
                body[key] = draw(st.booleans())
        return Call(kind, "PUT", QUERY, body, changes_target=True)
    if kind == "query value":
        return Call(kind, "GET", f"{QUERY}/value", params={"name": target_name})
    if kind == "cedalo create":
        body = {
            "name": name,
            "role": draw(st.sampled_from(list(RANK))),
            "brokers": list(_words(draw, caller.resources, RESOURCES)),
            "type": draw(st.sampled_from(["restricted", "unrestricted"])),
        }
        if expiry not in ("absent", "null"):
            body["valid_date"] = _instant(expiry).isoformat()
        return Call(kind, "POST", CEDALO, body)
    body = {
        "type": "global",
        "name": name,
        "permissions": list(_words(draw, caller.scopes, SCOPES)),
    }
    if expiry not in ("absent", "null"):
        body["expirationDate"] = _instant(expiry).isoformat()
    return Call(kind, "POST", BOOMERANG, body)


def _secrets_in(call: Call, answer: httpx.Response) -> list[str]:
    """The working secrets an answer puts in the caller's hands (a Devo mask is none)."""
    body = answer.json() if answer.content else {}
    if call.face.startswith("query") and isinstance(body, dict) and "data" in body:
        return [item["token"] for item in body["data"] if "token" in item]
    for key in ("secret", "token"):
        if isinstance(body, dict) and isinstance(body.get(key), str):
            value: str = body[key]
            return [] if value.startswith("tk.") else [value]
    return []


def _check(client: TestClient, caller: Who, target: Who, call_of: Any) -> bool:
    """Makes the caller and the target, runs the call; True when it succeeded."""
    core = _core(client)
    me, my_secret = _made_by_root(
        core, **_spec_of(caller, f"c{next(_names)}"), lifetime=caller.lifetime, owner=caller.user
    )
    # A management token: the generated audience always names tokenward (a restricted admin
    # cannot exist, so `callers` never draws one).
    before, _ = _made_by_root(
        core, **_spec_of(target, f"t{next(_names)}"), lifetime=target.lifetime, owner=target.owner
    )
    call: Call = call_of(before)
    answer = client.request(
        call.method, call.url, json=call.body, params=call.params, headers=bearer(my_secret)
    )
    assert answer.status_code < 500, (call, answer.text)
    if not 200 <= answer.status_code < 300:
        return False
    for secret in _secrets_in(call, answer):
        held = _holding(core, secret)
        assert not _beyond(me, held), (call, _beyond(me, held), me, held)
    if call.changes_target:
        after = _stored(core, before.id)
        if _widened(before, after):
            assert not _beyond(me, after), (call, _beyond(me, after), me, before, after)
        # Only an admin puts a disabled token back in force; a restricted caller changes only
        # restricted tokens within its resources.
        assert before.active or not after.active or me.role is Role.ADMIN, (call, me)
        assert not me.restricted or (
            before.restricted and set(before.resources) <= set(me.resources)
        ), (call, me, before)
    return True


def test_no_caller_comes_to_hold_more_than_itself(client: TestClient) -> None:
    _tenant(client)
    ran = {"calls": 0, "succeeded": 0}

    @settings(
        max_examples=scaled(60, 600),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(caller=callers(), data=st.data())
    def run(caller: Who, data: st.DataObject) -> None:
        target = data.draw(targets(caller), label="target")

        def call_of(before: Token) -> Call:
            drawn: Call = data.draw(calls(caller, before.id, before.name), label="call")
            return drawn

        ran["calls"] += 1
        ran["succeeded"] += _check(client, caller, target, call_of)

    run()
    print(f"\nno escalation: {ran['calls']} calls, {ran['succeeded']} succeeded, 0 escalated")
    assert ran["calls"] >= 10


# One regression test for each finding of issue 13, part 1.


def _manager(core: Core, role: str, **fields: Any) -> tuple[Token, dict[str, str]]:
    """A management token made by root, and the headers that present it."""
    fields.setdefault("audience", ("tokenward",))
    lifetime = fields.pop("lifetime", None)
    token, secret = _made_by_root(core, role=Role(role), lifetime=lifetime, **fields)
    return token, bearer(secret)


def _code(answer: httpx.Response) -> str:
    assert answer.status_code == 403, answer.text
    code: str = answer.json()["error"]["code"]
    return code


def test_an_expiring_admin_reveals_no_longer_lived_secret_on_any_face(client: TestClient) -> None:
    _tenant(client)
    core = _core(client)
    _, admin = _manager(core, "admin", lifetime=timedelta(minutes=10))
    _, boss = _manager(core, "admin")
    # The finding's targets: a Devo token made with -1 and a Query token made with no expiry.
    devo = client.post(DEVO, json={"audience": "apiv2", "expiresInSeconds": -1}, headers=boss)
    devo = devo.json()
    made = client.post(QUERY, json={"name": "forever"}, headers=boss)
    assert made.status_code == 201
    query_secret = made.json()["data"][0]["token"]
    forever = _holding(core, query_secret)
    for target, secret in ((devo["id"], devo["token"]), (forever.id, query_secret)):
        answer = client.get(f"{NATIVE}/{target}/secret", headers=admin)
        assert _code(answer) == "EXPIRY_ESCALATION" and secret not in answer.text
        shown = client.get(f"{DEVO}/{target}", headers=admin)
        assert shown.status_code == 200 and shown.json()["token"].startswith("tk.")
        assert secret not in shown.text
    value = client.get(f"{QUERY}/value", params={"name": "forever"}, headers=admin)
    assert value.status_code == 403 and query_secret not in value.text
    # Rotating is refused the same way; a token that ends before the admin is shown.
    assert _code(client.post(f"{NATIVE}/{forever.id}/rotate", headers=admin)) == (
        "EXPIRY_ESCALATION"
    )
    brief, brief_secret = _made_by_root(core, lifetime=timedelta(minutes=5), recoverable=True)
    shown = client.get(f"{NATIVE}/{brief.id}/secret", headers=admin)
    assert shown.status_code == 200 and shown.json()["secret"] == brief_secret


def test_an_editor_neither_revives_nor_extends_a_token_beyond_itself(client: TestClient) -> None:
    _tenant(client)
    core = _core(client)
    _, editor = _manager(core, "editor", user="eddie", scopes=("s1",))
    rich = {"scopes": ("s1", "billing:admin"), "user": "eddie"}
    expired, expired_secret = _made_by_root(core, lifetime=-timedelta(minutes=5), **rich)
    timed, _ = _made_by_root(core, lifetime=timedelta(hours=1), **rich)
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    for token in (expired, timed):
        for expiry in (None, later):
            answer = client.patch(
                f"{NATIVE}/{token.id}", json={"expires_at": expiry}, headers=editor
            )
            assert _code(answer) == "SCOPE_ESCALATION"
            assert "billing" not in answer.text  # the request's words are not repeated
            assert _stored(core, token.id).expires_at == token.expires_at
    verdict = client.post("/v1/verify", json={"token": expired_secret}).json()
    assert verdict["code"] == "EXPIRED"
    # Narrowing needs no more than the right to change the token: an earlier expiry is fine.
    sooner = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    shortened = client.patch(f"{NATIVE}/{timed.id}", json={"expires_at": sooner}, headers=editor)
    assert shortened.status_code == 200, shortened.text
    narrowed = client.patch(f"{NATIVE}/{timed.id}", json={"scopes": []}, headers=editor)
    assert narrowed.status_code == 200, narrowed.text


def test_restriction_binds_a_restricted_caller(client: TestClient) -> None:
    _tenant(client)
    core = _core(client)
    me, editor = _manager(core, "editor", user="eddie", restricted=True, resources=("b1", "b2"))
    # It does not lift its own restriction, nor that of an admin-made token.
    lift = client.patch(f"{NATIVE}/{me.id}", json={"restricted": False}, headers=editor)
    assert _code(lift) == "RESOURCE_ESCALATION"
    theirs, _ = _made_by_root(core, user="eddie", restricted=True, resources=("b1",))
    lift = client.patch(f"{NATIVE}/{theirs.id}", json={"restricted": False}, headers=editor)
    assert _code(lift) == "RESOURCE_ESCALATION"
    wider = client.patch(f"{NATIVE}/{theirs.id}", json={"resources": ["b1", "b9"]}, headers=editor)
    assert _code(wider) == "RESOURCE_ESCALATION"
    assert _stored(core, theirs.id).restricted and _stored(core, me.id).restricted
    # It mints only restricted tokens within its own resources: native and Cedalo.
    for body in ({"name": "u"}, {"name": "o", "restricted": True, "resources": ["b3"]}):
        assert _code(client.post(NATIVE, json=body, headers=editor)) == "RESOURCE_ESCALATION"
    cedalo = client.post(CEDALO, json={"name": "u", "type": "unrestricted"}, headers=editor)
    assert cedalo.status_code == 403 and cedalo.json()["info"]["reason"] == "RESOURCE_ESCALATION"
    within = {"name": "w", "restricted": True, "resources": ["b1"]}
    assert client.post(NATIVE, json=within, headers=editor).status_code == 201
    made = client.post(
        CEDALO, json={"name": "w2", "type": "restricted", "brokers": ["b2"]}, headers=editor
    )
    assert made.status_code == 200, made.text
    narrowing = client.patch(f"{NATIVE}/{theirs.id}", json={"resources": []}, headers=editor)
    assert narrowing.status_code == 200


def test_an_editor_grants_only_audiences_it_holds(client: TestClient) -> None:
    _tenant(client)
    core = _core(client)
    _, plain = _manager(core, "editor", user="eddie")
    _, billing = _manager(core, "editor", user="eddie", audience=("tokenward", "billing"))
    _, admin = _manager(core, "admin")
    answer = client.post(NATIVE, json={"name": "b", "audience": ["billing"]}, headers=plain)
    assert _code(answer) == "AUDIENCE_ESCALATION" and "billing" not in answer.text
    devo = client.post(DEVO, json={"audience": "billing", "scopes": ""}, headers=plain)
    assert devo.status_code == 403
    for headers in (billing, admin):
        made = client.post(NATIVE, json={"name": "b", "audience": ["billing"]}, headers=headers)
        assert made.status_code == 201, made.text
    # `tokenward` is management power, bounded by the role: granted by any editor.
    managing = {"name": "m", "role": "editor", "audience": ["tokenward"]}
    own = client.post(NATIVE, json=managing, headers=plain)
    assert own.status_code == 201
    added = client.patch(
        f"{NATIVE}/{own.json()['id']}", json={"audience": ["tokenward", "billing"]}, headers=plain
    )
    assert _code(added) == "AUDIENCE_ESCALATION"


def test_an_editor_does_not_widen_a_token_acting_for_someone_else(client: TestClient) -> None:
    _tenant(client)
    core = _core(client)
    _, editor = _manager(core, "editor", user="eddie")
    bobs, bobs_secret = _made_by_root(core, user="bob")
    raised = client.patch(
        f"{NATIVE}/{bobs.id}", json={"role": "editor", "audience": ["tokenward"]}, headers=editor
    )
    assert _code(raised) == "USER_NOT_ALLOWED"
    assert client.get(f"{NATIVE}", headers=bearer(bobs_secret)).status_code == 401
    # Its own token it may raise, up to itself.
    mine, _ = _made_by_root(core, user="eddie")
    raised = client.patch(
        f"{NATIVE}/{mine.id}", json={"role": "editor", "audience": ["tokenward"]}, headers=editor
    )
    assert raised.status_code == 200, raised.text


def test_an_editor_does_not_reveal_its_token_acting_for_someone_else(client: TestClient) -> None:
    _tenant(client)
    core = _core(client)
    _, editor = _manager(core, "editor", user="eddie")
    owned, secret = _made_by_root(core, owner="eddie", user="bob", recoverable=True)
    answer = client.get(f"{NATIVE}/{owned.id}/secret", headers=editor)
    assert _code(answer) == "USER_NOT_ALLOWED" and secret not in answer.text
    shown = client.get(f"{DEVO}/{owned.id}", headers=editor)
    assert shown.status_code == 200 and secret not in shown.text
    assert _code(client.post(f"{NATIVE}/{owned.id}/rotate", headers=editor)) == "USER_NOT_ALLOWED"


def test_an_admin_issues_for_another_owner_and_user_of_its_tenant(client: TestClient) -> None:
    _tenant(client)
    core = _core(client)
    _, admin = _manager(core, "admin", user="ada")
    _, editor = _manager(core, "editor", user="eddie")
    body = {"name": "for bob", "owner": "bob", "user": "bob"}
    made = client.post(NATIVE, json=body, headers=admin)
    assert made.status_code == 201 and made.json()["owner"] == made.json()["user"] == "bob"
    assert _code(client.post(NATIVE, json=body, headers=editor)) == "OWNER_NOT_ALLOWED"
    only_user = client.post(NATIVE, json={"name": "u", "user": "bob"}, headers=editor)
    assert _code(only_user) == "USER_NOT_ALLOWED"


def test_an_expiring_caller_naming_no_expiry_gets_its_own(client: TestClient) -> None:
    _tenant(client)
    core = _core(client)
    me, admin = _manager(core, "admin", lifetime=timedelta(hours=1))
    assert me.expires_at is not None
    made = client.post(NATIVE, json={"name": "n"}, headers=admin)
    assert made.status_code == 201
    assert datetime.fromisoformat(made.json()["expires_at"]) == me.expires_at
    cedalo = client.post(CEDALO, json={"name": "c"}, headers=admin)
    assert cedalo.status_code == 200
    assert _holding(core, cedalo.json()["token"]).expires_at == me.expires_at
    # The other faces that can name no expiry: Query, Boomerang (both without a field).
    query = client.post(QUERY, json={"name": "q"}, headers=admin)
    assert query.status_code == 201
    assert _holding(core, query.json()["data"][0]["token"]).expires_at == me.expires_at
    boomerang = client.post(
        BOOMERANG, json={"type": "global", "name": "b", "permissions": ["**/read"]}, headers=admin
    )
    assert boomerang.status_code == 200, boomerang.text
    assert _holding(core, boomerang.json()["token"]).expires_at == me.expires_at
    # Devo's absent lifetime is the product's default of a day, not "none": later than the
    # caller, so refused (docs/compat/devo.md), as is asking for a permanent token.
    devo_default = client.post(DEVO, json={"audience": "x"}, headers=admin)
    assert devo_default.status_code == 403
    # Asking for a permanent token in so many words is refused.
    permanent = client.post(NATIVE, json={"name": "p", "expires_at": None}, headers=admin)
    assert _code(permanent) == "EXPIRY_ESCALATION"
    devo = client.post(DEVO, json={"audience": "x", "expiresInSeconds": -1}, headers=admin)
    assert devo.status_code == 403


def test_a_root_made_editor_takes_over_no_other_root_made_token(client: TestClient) -> None:
    """Every token root makes without naming a user acts for `root`, a root-made editor too:
    the identity `root` is no one's own, so such an editor neither rotates (takes over) nor
    puts back in force another service's root-made token, as it already could not reveal it."""
    _tenant(client)
    core = _core(client)
    me, editor = _manager(core, "editor", scopes=("s1",))
    sibling, sibling_secret = _manager(core, "editor", scopes=("s1",))
    viewer, _ = _made_by_root(core, recoverable=True)
    assert me.user == sibling.user == viewer.user == "root"
    for target in (sibling, viewer):
        rotated = client.post(f"{NATIVE}/{target.id}/rotate", headers=editor)
        assert _code(rotated) == "USER_NOT_ALLOWED"
    assert client.get(NATIVE, headers=sibling_secret).status_code == 200  # still its holder's
    widened = client.patch(f"{NATIVE}/{viewer.id}", json={"scopes": ["s1"]}, headers=editor)
    assert _code(widened) == "USER_NOT_ALLOWED"
    client.post(f"{NATIVE}/{viewer.id}/disable", headers=ROOT_HEADERS)
    # Enabling is an admin's anyway (the later review's finding): refused all the same.
    assert client.post(f"{NATIVE}/{viewer.id}/enable", headers=editor).status_code == 403
    devo = client.put(f"{DEVO}/{viewer.id}/enable", headers=editor)
    assert devo.status_code == 403 and not _stored(core, viewer.id).active
    # It still narrows them, mints tokens and rotates its own credential.
    narrowed = client.patch(f"{NATIVE}/{sibling.id}", json={"scopes": []}, headers=editor)
    assert narrowed.status_code == 200, narrowed.text
    assert client.post(NATIVE, json={"name": "mine"}, headers=editor).status_code == 201
    own = client.post(f"{NATIVE}/{me.id}/rotate", headers=editor)
    assert own.status_code == 200, own.text


def test_a_rotation_without_grace_stops_every_older_secret(client: TestClient) -> None:
    """A secret still in the grace of an earlier rotation stopped neither at a rotation with
    `grace_seconds: 0`, the answer to a leak, nor at a shorter grace: whoever held it kept a
    working credential, management ones included, for up to 30 days."""
    _tenant(client)
    core = _core(client)
    token, first = _manager(core, "editor", user="eddie")
    native = f"{NATIVE}/{token.id}/rotate"
    second = client.post(native, json={"grace_seconds": 86400}, headers=ROOT_HEADERS).json()
    assert client.get(NATIVE, headers=first).status_code == 200  # in its grace, and cached
    third = client.post(native, json={"grace_seconds": 60}, headers=ROOT_HEADERS).json()
    # The shorter grace binds the older secret too: no secret outlives the newest rotation's.
    for old in (first, bearer(second["secret"])):
        found = _secret_row(core, old)
        assert found is not None and found[1] is not None
        assert found[1] <= datetime.now(UTC) + timedelta(seconds=61)
    warm = client.post("/v1/verify", json={"token": first["Authorization"][7:]}).json()
    assert warm["code"] == "VALID"  # now in the verification cache
    client.post(native, json={"grace_seconds": 0}, headers=ROOT_HEADERS)
    for old in (first, bearer(second["secret"]), bearer(third["secret"])):
        assert client.get(NATIVE, headers=old).status_code == 401
        secret = old["Authorization"].removeprefix("Bearer ")
        verdict = client.post("/v1/verify", json={"token": secret}).json()
        assert verdict["code"] == "NOT_FOUND"


def _secret_row(core: Core, headers: dict[str, str]) -> tuple[Token, datetime | None] | None:
    secret = headers["Authorization"].removeprefix("Bearer ")
    with core.uow() as uow:
        return uow.tokens.get_by_secret_hash(secret_format.hash_secret(secret))


# One regression test for each finding of the later attacker's review.


def test_below_admin_no_token_stands_for_another_user(client: TestClient) -> None:
    """An editor named any principal on a ``user`` token: a credential that is that user at
    the consuming service (Boomerang; the ``sub`` of OAuth 2.0 introspection)."""
    _tenant(client)
    core = _core(client)
    _, editor = _manager(core, "editor", user="eddie")
    for kind in ("user", "session"):
        body = {"name": "as-bob", "type": kind, "principal": "bob"}
        answer = client.post(NATIVE, json=body, headers=editor)
        assert _code(answer) == "USER_NOT_ALLOWED" and "bob" not in answer.text
        own = client.post(NATIVE, json={**body, "principal": "eddie"}, headers=editor)
        assert own.status_code == 201, own.text
    # Nor does it take over one an admin made for it: rotation hands over bob's credential.
    bobs, _ = _made_by_root(
        core, user="eddie", type=TokenType.USER, principal="bob", recoverable=True
    )
    assert _code(client.post(f"{NATIVE}/{bobs.id}/rotate", headers=editor)) == "USER_NOT_ALLOWED"
    assert _code(client.get(f"{NATIVE}/{bobs.id}/secret", headers=editor)) == "USER_NOT_ALLOWED"
    _, admin = _manager(core, "admin", user="ada")
    made = client.post(
        NATIVE, json={"name": "b", "type": "user", "principal": "bob"}, headers=admin
    )
    assert made.status_code == 201, made.text


def test_an_editor_does_not_enable_what_was_disabled(client: TestClient) -> None:
    """An editor re-enabled a token of its own that an admin had disabled, a leaked one say:
    putting a disabled token back in force is an admin's, on every face."""
    _tenant(client)
    core = _core(client)
    _, editor = _manager(core, "editor", user="eddie", scopes=("s1",))
    _, admin = _manager(core, "admin", user="ada")
    made = client.post(NATIVE, json={"name": "mine", "scopes": ["s1"]}, headers=editor).json()
    one = f"{NATIVE}/{made['id']}"
    assert client.post(f"{one}/disable", headers=admin).status_code == 200
    for answer in (
        client.post(f"{one}/enable", headers=editor),
        client.put(f"{DEVO}/{made['id']}/enable", headers=editor),
    ):
        assert answer.status_code == 403, answer.text
    assert not _stored(core, made["id"]).active
    verdict = client.post("/v1/verify", json={"token": made["secret"]}).json()
    assert verdict["code"] == "DISABLED"
    # The editor still disables, and the admin enables.
    assert client.post(f"{one}/enable", headers=admin).status_code == 200
    assert client.post(f"{one}/disable", headers=editor).status_code == 200
    assert client.put(f"{DEVO}/{made['id']}/enable", headers=admin).status_code == 200


def test_a_restricted_caller_manages_only_tokens_within_its_resources(client: TestClient) -> None:
    """A restricted editor narrowed, disabled, deleted and rotated tokens outside its own
    resources, though it could mint none of them."""
    _tenant(client)
    core = _core(client)
    _, editor = _manager(core, "editor", user="eddie", restricted=True, resources=("b1", "b2"))
    free, _ = _made_by_root(core, user="eddie")
    other, _ = _made_by_root(core, user="eddie", restricted=True, resources=("b1", "b3"))
    for target in (free, other):
        one = f"{NATIVE}/{target.id}"
        for answer in (
            client.patch(one, json={"name": "renamed"}, headers=editor),
            client.post(f"{one}/disable", headers=editor),
            client.post(f"{one}/rotate", headers=editor),
            client.delete(one, headers=editor),
        ):
            assert _code(answer) == "RESOURCE_ESCALATION"
        assert client.put(f"{DEVO}/{target.id}/disable", headers=editor).status_code == 403
        assert client.delete(f"{BOOMERANG}/{target.id}", headers=editor).status_code == 403
        assert client.delete(f"{CEDALO}/{target.id}", headers=editor).status_code == 403
        assert _stored(core, target.id) == target
    # Within its resources it manages as before.
    within, _ = _made_by_root(core, user="eddie", restricted=True, resources=("b2",))
    one = f"{NATIVE}/{within.id}"
    assert client.patch(one, json={"name": "renamed"}, headers=editor).status_code == 200
    assert client.post(f"{one}/rotate", headers=editor).status_code == 200
    assert client.delete(one, headers=editor).status_code == 204
