"""The console's pages: each reads its form, calls one service use case with the session's
actor, and renders a template. No rule is decided here: a button that the actor may not use
is hidden by asking the domain's rule (``domain/policy.py``), and the service refuses a
forged request by the same rule anyway."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tokenward.console import charts, csrf, forms, sessions
from tokenward.console.rendering import Renderer
from tokenward.domain import errors, policy
from tokenward.domain.actors import Actor
from tokenward.domain.audit import AuditQuery
from tokenward.domain.errors import Forbidden, Invalid, NotFound, TokenwardError
from tokenward.domain.lifecycle import EventType, OnIncident, Webhook
from tokenward.domain.roles import TOKEN_ROLES, Role
from tokenward.domain.tokens import (
    PageRequest,
    RefillInterval,
    SortOrder,
    Token,
    TokenQuery,
    TokenSort,
    TokenType,
)
from tokenward.service import audit, policies, tenants, tokens, usage, webhooks
from tokenward.service.core import Core

SESSION_COOKIE = "tw_console"
SIGN_IN_COOKIE = "tw_console_sign_in"
COOKIE_PATH = "/console"
PAGE_SIZES = (25, 50, 100)
AUDIT_PAGE_SIZE = 50
DELIVERY_PAGE_SIZE = 20
#: The token list's query parameters: the native API's filters and sorts.
TOKEN_FILTERS = (
    "q",
    "type",
    "principal",
    "role",
    "state",
    "owner",
    "user",
    "created_after",
    "created_before",
    "expires_after",
    "expires_before",
    "sort",
    "order",
)
TRAIL_SIZE = 20
EVENT_NAMES = [event.value for event in EventType]
#: The usage charts of the overview and the token page: (id, title, bucket, buckets).
CHARTS: tuple[tuple[str, str, usage.Bucket, int], ...] = (
    ("hourly", "Verifications per hour, last 24 hours", "hour", 24),
    ("daily", "Verifications per day, last 30 days", "day", 30),
)

T = TypeVar("T")


class SignInNeeded(Exception):
    """No live session: the browser goes to the sign-in page."""


class CsrfRefused(Exception):
    """A state-changing request without this session's token, or from another origin."""


class FormTooLarge(Exception):
    """The body was over ``TOKENWARD_MAX_BODY_BYTES``; the middleware kept it out."""


@dataclasses.dataclass(frozen=True, slots=True)
class Context:
    request: Request
    core: Core
    session: sessions.Session

    @property
    def actor(self) -> Actor:
        return self.session.actor

    async def call(self, use_case: Callable[..., T], /, **kwargs: Any) -> T:
        """A use case in a thread (they read the store), with this session's actor."""
        return await run_in_threadpool(use_case, self.core, self.actor, **kwargs)


def build_router(
    renderer: Renderer, lifetimes: sessions.Lifetimes, *, https_only: bool = False
) -> APIRouter:
    """``https_only``: the console is reached over HTTPS (``TOKENWARD_PUBLIC_URL``) even when
    the request seen here is plain HTTP from a proxy: cookies are ``Secure`` always."""
    router = APIRouter()

    def set_cookie(
        request: Request, response: Response, name: str, value: str, *, max_age: int | None = None
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=https_only or request.url.scheme == "https",
        )

    async def context(request: Request) -> Context:
        core: Core = request.state.core
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id:
            raise SignInNeeded
        session = await run_in_threadpool(
            sessions.resume,
            core,
            request.state.console_sessions,
            session_id,
            lifetimes,
            client=client_address(request),
        )
        if session is None:
            raise SignInNeeded
        # For the request's log line (api/observability.py): who acted, in which tenant.
        request.state.actor = session.actor.label
        request.state.tenant = session.actor.tenant
        return Context(request, core, session)

    async def posted(request: Request, ctx: Context | None = None) -> dict[str, str]:
        """The form of a state-changing request, once its origin and CSRF token pass."""
        origin = request.headers.get("origin")
        # "null" is what a browser sends under Referrer-Policy: no-referrer (ours): it names
        # no site, so the token decides. A named other site is refused outright.
        if origin not in (None, "null") and urlsplit(origin).netloc != request.url.netloc:
            raise CsrfRefused
        if request.scope.get("state", {}).get("body_too_large"):  # api/middleware.py
            raise FormTooLarge
        form = await request.form()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        expected = csrf.for_session(ctx.session.id) if ctx else request.cookies.get(SIGN_IN_COOKIE)
        if not csrf.matches(expected, fields.get("csrf")):
            raise CsrfRefused
        return fields

    def page(
        ctx: Context | None,
        template: str,
        *,
        status: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        if ctx is not None:
            values.setdefault("actor", ctx.actor)
            values.setdefault("csrf_token", csrf.for_session(ctx.session.id))
            values.setdefault("may", Permissions(ctx.actor))
        return HTMLResponse(renderer.render(template, **values), status_code=status)

    # -- signing in and out ---------------------------------------------------------------

    @router.get("/")
    async def home(request: Request) -> Response:
        ctx = await context(request)
        return RedirectResponse(f"/console/t/{ctx.actor.home_tenant}/", status_code=303)

    @router.get("/sign-in")
    async def sign_in_form(request: Request) -> Response:
        return sign_in_page(request)

    def sign_in_page(request: Request, *, error: str | None = None, status: int = 200) -> Response:
        token = csrf.new_sign_in_token()
        response = HTMLResponse(
            renderer.render("sign_in.html", csrf_token=token, error=error), status_code=status
        )
        set_cookie(request, response, SIGN_IN_COOKIE, token, max_age=3600)
        return response

    @router.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        form = await posted(request)
        credential = form.get("credential", "").strip()
        try:
            session = await run_in_threadpool(
                sessions.sign_in,
                request.state.core,
                request.state.console_sessions,
                credential,
                client=client_address(request),
            )
        except TokenwardError as exc:
            status = status_of(exc)
            message = (
                "That credential is not valid: paste the root credential or a token whose "
                "audience includes tokenward."
                if status == 401
                else exc.message
            )
            return sign_in_page(request, error=message, status=status)
        response = RedirectResponse(f"/console/t/{session.actor.home_tenant}/", status_code=303)
        set_cookie(request, response, SESSION_COOKIE, session.id)
        response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
        return response

    @router.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        ctx = await context(request)
        await posted(request, ctx)
        await run_in_threadpool(sessions.sign_out, request.state.console_sessions, ctx.session.id)
        response = RedirectResponse("/console/sign-in", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
        return response

    # -- overview -------------------------------------------------------------------------

    @router.get("/t/{tenant}/")
    async def overview(request: Request, tenant: str) -> Response:
        ctx = await context(request)
        now = ctx.core.clock()

        async def count(**filters: Any) -> int:
            found = await ctx.call(
                tokens.search,
                tenant=tenant,
                query=TokenQuery(**filters),
                page=PageRequest(0, 1),
            )
            return found.total

        counts = {
            "active": await count(active=True, expired=False),
            "disabled": await count(active=False),
            "expired": await count(active=True, expired=True),
        }
        expiring = {
            days: await ctx.call(
                tokens.search,
                tenant=tenant,
                query=TokenQuery(
                    expired=False,
                    expires_after=now,
                    expires_before=now + timedelta(days=days),
                    sort=TokenSort.EXPIRES,
                ),
                page=PageRequest(0, 10),
            )
            for days in (7, 30)
        }
        return page(
            ctx,
            "overview.html",
            tenant=tenant,
            counts=counts,
            total=sum(counts.values()),
            expiring=expiring,
            tenants_seen=await tenant_names(ctx),
            **await tenant_charts(ctx, tenant),
        )

    # -- tokens ---------------------------------------------------------------------------

    @router.get("/t/{tenant}/tokens")
    async def token_list(request: Request, tenant: str) -> Response:
        ctx = await context(request)
        params = request.query_params
        query, filters = token_query(params)
        limit = forms.integer(params.get("limit", ""), "the page size", default=PAGE_SIZES[0])
        if limit not in PAGE_SIZES:
            limit = PAGE_SIZES[0]
        number = max(0, forms.integer(params.get("page", ""), "the page number"))
        found = await ctx.call(
            tokens.search, tenant=tenant, query=query, page=PageRequest(number, limit)
        )
        values: dict[str, Any] = {
            "tenant": tenant,
            "found": found,
            "filters": filters,
            "limit": limit,
            "page_sizes": PAGE_SIZES,
            "link": lambda **changes: "?" + urlencode({**filters, "limit": limit, **changes}),
            "types": list(TokenType),
            "roles": TOKEN_ROLES,
            "sorts": list(TokenSort),
            "tenants_seen": await tenant_names(ctx),
        }
        if request.headers.get("x-console-partial") == "results":
            return page(ctx, "token_results.html", **values)
        return page(ctx, "tokens.html", **values)

    @router.get("/t/{tenant}/tokens/new")
    async def new_token(request: Request, tenant: str) -> Response:
        ctx = await context(request)
        await ctx.call(tenants.get, name=tenant)  # another tenant: not found, as in the API
        return page(
            ctx, "token_form.html", tenant=tenant, token=None, form={"active": "on"}, **choices()
        )

    @router.post("/t/{tenant}/tokens/new")
    async def create_token(request: Request, tenant: str) -> Response:
        ctx = await context(request)
        form = await posted(request, ctx)
        try:
            spec = forms.spec(form)
            issued = await ctx.call(tokens.issue, tenant=tenant, spec=spec)
        except (Invalid, Forbidden) as exc:
            return page(
                ctx,
                "token_form.html",
                status=status_of(exc),
                tenant=tenant,
                token=None,
                form=form,
                error=exc.message,
                **choices(),
            )
        return page(
            ctx,
            "secret.html",
            tenant=tenant,
            token=issued.token,
            secret=issued.secret,
            why="created",
        )

    @router.get("/t/{tenant}/tokens/{token_id}")
    async def token_page(request: Request, tenant: str, token_id: str) -> Response:
        ctx = await context(request)
        token = await ctx.call(tokens.get, tenant=tenant, token_id=parse_id(token_id))
        trail = None
        if Permissions(ctx.actor).read_audit:
            trail = await ctx.call(
                audit.search,
                query=AuditQuery(tenant=tenant, token_id=token.id),
                page=PageRequest(0, TRAIL_SIZE),
            )
        return page(
            ctx,
            "token.html",
            tenant=tenant,
            token=token,
            trail=trail,
            now=ctx.core.clock(),
            charts=await token_charts(ctx, tenant, token.id),
        )

    @router.get("/t/{tenant}/tokens/{token_id}/edit")
    async def edit_form(request: Request, tenant: str, token_id: str) -> Response:
        ctx = await context(request)
        token = await ctx.call(tokens.get, tenant=tenant, token_id=parse_id(token_id))
        return page(
            ctx,
            "token_form.html",
            tenant=tenant,
            token=token,
            form=token_fields(token),
            **choices(),
        )

    @router.post("/t/{tenant}/tokens/{token_id}/edit")
    async def edit(request: Request, tenant: str, token_id: str) -> Response:
        ctx = await context(request)
        form = await posted(request, ctx)
        token = await ctx.call(tokens.get, tenant=tenant, token_id=parse_id(token_id))
        try:
            await ctx.call(
                tokens.update, tenant=tenant, token_id=token.id, changes=forms.changes(form, token)
            )
        except (Invalid, Forbidden) as exc:
            return page(
                ctx,
                "token_form.html",
                status=status_of(exc),
                tenant=tenant,
                token=token,
                form=form,
                error=exc.message,
                **choices(),
            )
        return RedirectResponse(f"/console/t/{tenant}/tokens/{token.id}", status_code=303)

    @router.post("/t/{tenant}/tokens/{token_id}/enable")
    async def enable(request: Request, tenant: str, token_id: str) -> Response:
        ctx = await context(request)
        await posted(request, ctx)
        await ctx.call(tokens.enable, tenant=tenant, token_id=parse_id(token_id))
        return RedirectResponse(f"/console/t/{tenant}/tokens/{token_id}", status_code=303)

    @router.post("/t/{tenant}/tokens/{token_id}/disable")
    async def disable(request: Request, tenant: str, token_id: str) -> Response:
        ctx = await context(request)
        await posted(request, ctx)
        await ctx.call(tokens.disable, tenant=tenant, token_id=parse_id(token_id))
        return RedirectResponse(f"/console/t/{tenant}/tokens/{token_id}", status_code=303)

    @router.post("/t/{tenant}/tokens/{token_id}/credits")
    async def adjust_credits(request: Request, tenant: str, token_id: str) -> Response:
        ctx = await context(request)
        form = await posted(request, ctx)
        amount = forms.integer(forms.text(form, "amount"), "the number of credits")
        how = forms.text(form, "how")
        if how not in ("set", "add"):
            raise Invalid("set the balance or add to it")
        await ctx.call(
            tokens.adjust_credits,
            tenant=tenant,
            token_id=parse_id(token_id),
            set_to=amount if how == "set" else None,
            add=amount if how == "add" else None,
        )
        return RedirectResponse(f"/console/t/{tenant}/tokens/{token_id}", status_code=303)

    @router.post("/t/{tenant}/tokens/{token_id}/rotate")
    async def rotate(request: Request, tenant: str, token_id: str) -> Response:
        ctx = await context(request)
        form = await posted(request, ctx)
        grace = forms.integer(forms.text(form, "grace_seconds"), "the grace period")
        issued = await ctx.call(
            tokens.rotate, tenant=tenant, token_id=parse_id(token_id), grace_seconds=grace
        )
        return page(
            ctx,
            "secret.html",
            tenant=tenant,
            token=issued.token,
            secret=issued.secret,
            why="rotated",
            grace=grace,
        )

    @router.post("/t/{tenant}/tokens/{token_id}/reveal")
    async def reveal(request: Request, tenant: str, token_id: str) -> Response:
        ctx = await context(request)
        await posted(request, ctx)
        number = parse_id(token_id)
        secret = await ctx.call(tokens.reveal, tenant=tenant, token_id=number)
        token = await ctx.call(tokens.get, tenant=tenant, token_id=number)
        return page(ctx, "secret.html", tenant=tenant, token=token, secret=secret, why="revealed")

    @router.get("/t/{tenant}/tokens/{token_id}/delete")
    async def confirm_delete(request: Request, tenant: str, token_id: str) -> Response:
        ctx = await context(request)
        token = await ctx.call(tokens.get, tenant=tenant, token_id=parse_id(token_id))
        return page(
            ctx,
            "confirm.html",
            tenant=tenant,
            title=f"Delete token {token.name}",
            question=(
                f"Delete the token “{token.name}” (id {token.id})? Its secret stops "
                "working at once; this cannot be undone."
            ),
            action=f"/console/t/{tenant}/tokens/{token.id}/delete",
            cancel=f"/console/t/{tenant}/tokens/{token.id}",
            button="Delete the token",
        )

    @router.post("/t/{tenant}/tokens/{token_id}/delete")
    async def delete_token(request: Request, tenant: str, token_id: str) -> Response:
        ctx = await context(request)
        await posted(request, ctx)
        await ctx.call(tokens.delete, tenant=tenant, token_id=parse_id(token_id))
        return RedirectResponse(f"/console/t/{tenant}/tokens", status_code=303)

    # -- tenants --------------------------------------------------------------------------

    @router.get("/tenants")
    async def tenant_list(request: Request) -> Response:
        ctx = await context(request)
        found = await run_in_threadpool(tenants.list_all, ctx.core, ctx.actor)
        return page(ctx, "tenants.html", tenants=found)

    @router.post("/tenants")
    async def create_tenant(request: Request) -> Response:
        ctx = await context(request)
        form = await posted(request, ctx)
        try:
            await ctx.call(tenants.create, name=forms.text(form, "name"))
        except (Invalid, Forbidden) as exc:
            found = await run_in_threadpool(tenants.list_all, ctx.core, ctx.actor)
            return page(
                ctx,
                "tenants.html",
                status=status_of(exc),
                tenants=found,
                error=exc.message,
                name=forms.text(form, "name"),
            )
        return RedirectResponse("/console/tenants", status_code=303)

    @router.get("/tenants/go")
    async def go_to_tenant(request: Request) -> Response:
        await context(request)
        name = request.query_params.get("tenant", "")
        return RedirectResponse(f"/console/t/{quote(name, safe='')}/", status_code=303)

    @router.get("/tenants/{name}/delete")
    async def confirm_tenant_delete(request: Request, name: str) -> Response:
        ctx = await context(request)
        await ctx.call(tenants.get, name=name)
        return page(
            ctx,
            "confirm.html",
            tenant=None,
            title=f"Delete tenant {name}",
            question=(
                f"Delete the tenant “{name}” with all its tokens? Every one of them stops "
                "working at once; this cannot be undone."
            ),
            action=f"/console/tenants/{name}/delete",
            cancel="/console/tenants",
            button="Delete the tenant",
        )

    @router.post("/tenants/{name}/delete")
    async def delete_tenant(request: Request, name: str) -> Response:
        ctx = await context(request)
        await posted(request, ctx)
        await ctx.call(tenants.delete, name=name)
        return RedirectResponse("/console/tenants", status_code=303)

    # -- tenant policy (admins and root) ---------------------------------------------------

    @router.get("/t/{tenant}/policy")
    async def policy_page(request: Request, tenant: str) -> Response:
        ctx = await context(request)
        chosen = await ctx.call(policies.get, tenant=tenant)
        return policy_form(ctx, tenant, forms.policy_fields(chosen.as_stored()))

    def policy_form(
        ctx: Context, tenant: str, form: dict[str, str], *, status: int = 200, **values: Any
    ) -> HTMLResponse:
        return page(
            ctx,
            "policy.html",
            status=status,
            tenant=tenant,
            form=form,
            incidents=[choice.value for choice in OnIncident],
            **values,
        )

    @router.post("/t/{tenant}/policy")
    async def put_policy(request: Request, tenant: str) -> Response:
        ctx = await context(request)
        form = await posted(request, ctx)
        try:
            await ctx.call(policies.put, tenant=tenant, values=forms.policy_values(form))
        except (Invalid, Forbidden) as exc:
            return policy_form(ctx, tenant, form, status=status_of(exc), error=exc.message)
        return RedirectResponse(f"/console/t/{tenant}/policy", status_code=303)

    # -- webhooks (admins and root) -------------------------------------------------------

    @router.get("/t/{tenant}/webhooks")
    async def webhook_list(request: Request, tenant: str) -> Response:
        ctx = await context(request)
        return await webhooks_page(ctx, tenant, {"events": []})

    async def webhooks_page(
        ctx: Context, tenant: str, form: dict[str, Any], *, status: int = 200, **values: Any
    ) -> HTMLResponse:
        found = await ctx.call(webhooks.list_all, tenant=tenant)
        return page(
            ctx,
            "webhooks.html",
            status=status,
            tenant=tenant,
            webhooks=found,
            form=form,
            event_names=EVENT_NAMES,
            **values,
        )

    @router.post("/t/{tenant}/webhooks")
    async def create_webhook(request: Request, tenant: str) -> Response:
        ctx = await context(request)
        form: dict[str, Any] = dict(await posted(request, ctx))
        form["events"] = forms.event_types(await request.form())
        try:
            webhook, secret = await ctx.call(
                webhooks.create,
                tenant=tenant,
                url=forms.text(form, "url"),
                events=form["events"],
                description=forms.text(form, "description"),
            )
        except (Invalid, Forbidden, errors.Conflict) as exc:
            return await webhooks_page(ctx, tenant, form, status=status_of(exc), error=exc.message)
        return page(ctx, "webhook_secret.html", tenant=tenant, webhook=webhook, secret=secret)

    @router.get("/t/{tenant}/webhooks/{webhook_id}")
    async def webhook_page(request: Request, tenant: str, webhook_id: str) -> Response:
        ctx = await context(request)
        webhook = await ctx.call(webhooks.get, tenant=tenant, webhook_id=parse_id(webhook_id))
        number = max(0, forms.integer(request.query_params.get("page", ""), "the page number"))
        return await webhook_detail(ctx, tenant, webhook, webhook_fields(webhook), number=number)

    async def webhook_detail(
        ctx: Context,
        tenant: str,
        webhook: Webhook,
        form: dict[str, Any],
        *,
        status: int = 200,
        number: int = 0,
        **values: Any,
    ) -> HTMLResponse:
        sent = await ctx.call(
            webhooks.deliveries,
            tenant=tenant,
            webhook_id=webhook.id,
            page=PageRequest(number, DELIVERY_PAGE_SIZE),
        )
        return page(
            ctx,
            "webhook.html",
            status=status,
            tenant=tenant,
            webhook=webhook,
            deliveries=sent,
            form=form,
            event_names=EVENT_NAMES,
            **values,
        )

    @router.post("/t/{tenant}/webhooks/{webhook_id}/edit")
    async def edit_webhook(request: Request, tenant: str, webhook_id: str) -> Response:
        ctx = await context(request)
        form: dict[str, Any] = dict(await posted(request, ctx))
        form["events"] = forms.event_types(await request.form())
        webhook = await ctx.call(webhooks.get, tenant=tenant, webhook_id=parse_id(webhook_id))
        # Only what the form changes, so the audit names exactly what the admin changed.
        wanted = {
            "url": forms.text(form, "url"),
            "events": form["events"],
            "description": forms.text(form, "description"),
            "active": form.get("active") == "on",
        }
        shown = webhook_fields(webhook) | {"active": webhook.active}
        changed = {key: value for key, value in wanted.items() if value != shown[key]}
        try:
            await ctx.call(webhooks.update, tenant=tenant, webhook_id=webhook.id, **changed)
        except (Invalid, Forbidden) as exc:
            return await webhook_detail(
                ctx, tenant, webhook, form, status=status_of(exc), error=exc.message
            )
        return RedirectResponse(f"/console/t/{tenant}/webhooks/{webhook.id}", status_code=303)

    @router.get("/t/{tenant}/webhooks/{webhook_id}/delete")
    async def confirm_webhook_delete(request: Request, tenant: str, webhook_id: str) -> Response:
        ctx = await context(request)
        webhook = await ctx.call(webhooks.get, tenant=tenant, webhook_id=parse_id(webhook_id))
        return page(
            ctx,
            "confirm.html",
            tenant=tenant,
            title="Delete a webhook",
            question=(
                f"Delete the webhook to “{webhook.url}” with its deliveries? No more events "
                "are sent to it; this cannot be undone."
            ),
            action=f"/console/t/{tenant}/webhooks/{webhook.id}/delete",
            cancel=f"/console/t/{tenant}/webhooks/{webhook.id}",
            button="Delete the webhook",
        )

    @router.post("/t/{tenant}/webhooks/{webhook_id}/delete")
    async def delete_webhook(request: Request, tenant: str, webhook_id: str) -> Response:
        ctx = await context(request)
        await posted(request, ctx)
        await ctx.call(webhooks.delete, tenant=tenant, webhook_id=parse_id(webhook_id))
        return RedirectResponse(f"/console/t/{tenant}/webhooks", status_code=303)

    @router.post("/t/{tenant}/webhooks/{webhook_id}/deliveries/{delivery_id}/retry")
    async def retry_delivery(
        request: Request, tenant: str, webhook_id: str, delivery_id: str
    ) -> Response:
        ctx = await context(request)
        await posted(request, ctx)
        number = parse_id(webhook_id)
        await ctx.call(
            webhooks.retry, tenant=tenant, webhook_id=number, delivery_id=parse_id(delivery_id)
        )
        return RedirectResponse(f"/console/t/{tenant}/webhooks/{number}", status_code=303)

    # -- audit ----------------------------------------------------------------------------

    @router.get("/audit")
    async def audit_log(request: Request) -> Response:
        ctx = await context(request)
        params = request.query_params
        filters = {
            key: params.get(key, "").strip()
            for key in ("tenant", "actor", "action", "token_id", "since", "until")
        }
        query = AuditQuery(
            tenant=filters["tenant"] or None,
            actor=filters["actor"] or None,
            action=filters["action"] or None,
            token_id=parse_id(filters["token_id"]) if filters["token_id"] else None,
            since=forms.instant(filters["since"], "since"),
            until=forms.instant(filters["until"], "until"),
        )
        number = max(0, forms.integer(params.get("page", ""), "the page number"))
        found = await ctx.call(audit.search, query=query, page=PageRequest(number, AUDIT_PAGE_SIZE))
        return page(
            ctx,
            "audit.html",
            tenant=None,
            found=found,
            filters=filters,
            link=lambda **changes: "?" + urlencode({**filters, **changes}),
        )

    async def tenant_charts(ctx: Context, tenant: str) -> dict[str, Any]:
        """The tenant's verifications per hour (a day) and per day (a month), by outcome."""
        now = ctx.core.clock()
        drawn = []
        top: list[tuple[int, int]] = []
        for key, title, bucket, count in CHARTS:
            since, until = charts.span(bucket, now, count)
            found = await ctx.call(
                usage.of_tenant, tenant=tenant, since=since, until=until, bucket=bucket
            )
            drawn.append(
                charts.build(key, title, found.buckets, bucket=bucket, since=since, count=count)
            )
            top = found.top_tokens  # the last, the month's
        known = await ctx.call(
            tokens.get_many, tenant=tenant, token_ids=[token_id for token_id, _ in top]
        )
        named = []
        for token_id, verifications in top:
            found_token = known.get(token_id)
            if found_token is None:  # deleted since: its counts stay
                name = f"token {token_id} (deleted)"
            else:
                name = found_token.name or f"token {token_id}"
            named.append((token_id, name, verifications))
        return {"charts": drawn, "top_tokens": named}

    async def token_charts(ctx: Context, tenant: str, token_id: int) -> list[charts.Chart]:
        now = ctx.core.clock()
        drawn = []
        for key, title, bucket, count in CHARTS:
            since, until = charts.span(bucket, now, count)
            found = await ctx.call(
                usage.of_token,
                tenant=tenant,
                token_id=token_id,
                since=since,
                until=until,
                bucket=bucket,
            )
            drawn.append(charts.build(key, title, found, bucket=bucket, since=since, count=count))
        return drawn

    async def tenant_names(ctx: Context) -> list[str]:
        found = await run_in_threadpool(tenants.list_all, ctx.core, ctx.actor)
        return [t.name for t in found]

    return router


class Permissions:
    """What the page offers: asked of the domain's rules, never decided here."""

    def __init__(self, actor: Actor) -> None:
        self._actor = actor

    def _passes(self, rule: Callable[..., None], *args: Any) -> bool:
        try:
            rule(self._actor, *args)
        except TokenwardError:
            return False
        return True

    @property
    def create(self) -> bool:
        return self._passes(policy.require_role, Role.EDITOR, "issuing a token")

    @property
    def manage_tenants(self) -> bool:
        return self._passes(policy.require_root, "creating a tenant")

    @property
    def administer(self) -> bool:
        """The tenant's policy and webhooks: its admins' and root's (service/policies.py,
        service/webhooks.py ask the same rule)."""
        return self._passes(policy.require_role, Role.ADMIN, "managing the tenant")

    @property
    def read_audit(self) -> bool:
        return self._passes(policy.require_role, Role.ADMIN, "reading the audit trail")

    def change(self, token: Token) -> bool:
        return self._passes(policy.check_change, token)

    def reveal(self, token: Token) -> bool:
        return token.recoverable and self._passes(policy.check_reveal, token)


def token_query(params: Mapping[str, str]) -> tuple[TokenQuery, dict[str, str]]:
    """The native API's filters of a token listing, as the list page's form sends them."""
    filters = {key: params.get(key, "").strip() for key in TOKEN_FILTERS}
    state = filters["state"]

    def moment(key: str) -> datetime | None:
        return forms.instant(filters[key], key.replace("_", " "))

    try:
        query = TokenQuery(
            name_contains=filters["q"] or None,
            types=(TokenType(filters["type"]),) if filters["type"] else None,
            principals=(filters["principal"],) if filters["principal"] else None,
            role=Role(filters["role"]) if filters["role"] else None,
            owner=filters["owner"] or None,
            user=filters["user"] or None,
            active={"active": True, "disabled": False}.get(state),
            expired={"active": False, "expired": True}.get(state),
            sort=TokenSort(filters["sort"]) if filters["sort"] else TokenSort.CREATED,
            order=SortOrder(filters["order"]) if filters["order"] else SortOrder.DESC,
            created_after=moment("created_after"),
            created_before=moment("created_before"),
            expires_after=moment("expires_after"),
            expires_before=moment("expires_before"),
        )
    except ValueError:
        raise Invalid("unknown filter value") from None
    return query, filters


def token_fields(token: Token) -> dict[str, str]:
    return {
        "name": token.name,
        "description": token.description,
        "role": token.role,
        "scopes": "\n".join(token.scopes),
        "audience": "\n".join(token.audience),
        "resources": "\n".join(token.resources),
        "restricted": "on" if token.restricted else "",
        "expires_at": forms.form_instant(token.expires_at),
        "metadata": json.dumps(dict(token.metadata), indent=2) if token.metadata else "",
        "rate_limits": forms.rate_limit_lines(token.rate_limits),
        "ip_allowlist": "\n".join(token.ip_allowlist),
        **forms.credit_fields(token.credits),
    }


def webhook_fields(webhook: Webhook) -> dict[str, Any]:
    return {
        "url": webhook.url,
        "description": webhook.description,
        "events": list(webhook.events),
        "active": "on" if webhook.active else "",
    }


def choices() -> dict[str, Any]:
    return {
        "types": list(TokenType),
        "roles": TOKEN_ROLES,
        "units": list(forms.LIFETIME_UNITS),
        "intervals": [interval.value for interval in RefillInterval],
    }


def parse_id(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise NotFound("token not found") from None
    if not 1 <= number < 2**63:
        raise NotFound("token not found")
    return number


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


#: Each error of the one tree (domain/errors.py) as the status of the page that shows it.
STATUSES: dict[type[TokenwardError], int] = {
    errors.Invalid: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.RateLimited: 429,
    errors.Unavailable: 503,
}


def status_of(exc: TokenwardError) -> int:
    for cls, status in STATUSES.items():
        if isinstance(exc, cls):
            return status
    return 500
