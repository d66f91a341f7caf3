"""Native API for leak reports (docs/lifecycle.md): ``POST /v1/leaks`` in GitHub's
secret-scanning partner format, and ``POST /v1/leaks/check`` by hash for ``tokenward scan``.
Translation only: ``service/leaks.py`` verifies the signature and decides."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tokenward.api.dependencies import ActorDep, CoreDep, client_address
from tokenward.api.native.errors import translate
from tokenward.api.native.schemas import ErrorBody
from tokenward.api.routing import face_route
from tokenward.service import leaks


class LeakVerdict(BaseModel):
    token_hash: str = Field(description="SHA-256 of the reported string, hex")
    token_type: str = Field(description="The type the report gave, echoed")
    label: str = Field(description="`true_positive` when it opens a token, else `false_positive`")


class LeakCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hashes: list[str] = Field(
        max_length=leaks.MAX_HASHES, description="SHA-256 (hex) of each secret found"
    )


class HashStatePublic(BaseModel):
    hash: str
    live: bool = Field(description="It opens a valid token of a tenant the caller sees")
    tenant: str | None
    token_id: int | None
    name: str | None


class LeakCheckAnswer(BaseModel):
    items: list[HashStatePublic]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "`INVALID_ARGUMENT`: not a JSON array of reports, or a bad hash",
        401: "`UNAUTHENTICATED`: no valid signature (reports) or credential (check)",
        422: "`VALIDATION_FAILED`",
        429: "`RATE_LIMITED`",
        503: "`UNAVAILABLE`",
    }
    return {s: {"model": ErrorBody, "description": text[s]} for s in sorted(statuses)}


def router(keys_file: Path | None) -> APIRouter:
    """The routes; ``POST /v1/leaks`` only with the partner's public keys, because an
    endpoint that could not verify a report must not take one (the keys file is read now, so
    a wrong one stops the server from starting)."""
    made = APIRouter(route_class=face_route(translate))
    made.add_api_route(
        "/v1/leaks/check",
        check_hashes,
        methods=["POST"],
        tags=["leaks"],
        summary="Whether secrets are live, by hash",
        description="For `tokenward scan`: the caller sends SHA-256 hashes, never secrets. "
        "Another tenant's token reads as not live.",
        responses=_errors(400, 401, 422, 429, 503),
    )
    if keys_file is not None:
        keys = leaks.LeakKeys.load(keys_file)

        async def report_leaks(
            request: Request,
            core: CoreDep,
            key_identifier: Annotated[
                str | None, Header(alias="Github-Public-Key-Identifier")
            ] = None,
            signature: Annotated[str | None, Header(alias="Github-Public-Key-Signature")] = None,
        ) -> list[LeakVerdict]:
            body = await request.body()
            # Before parsing: an unsigned body is not read at all.
            keys.verify(key_identifier, signature, body)
            reports = leaks.parse(body)
            verdicts = await run_in_threadpool(
                leaks.report, core, reports, client=client_address(request)
            )
            return [
                LeakVerdict(token_hash=v.token_hash, token_type=v.token_type, label=v.label)
                for v in verdicts
            ]

        made.add_api_route(
            "/v1/leaks",
            report_leaks,
            methods=["POST"],
            tags=["leaks"],
            summary="Report leaked secrets (GitHub secret-scanning partner format)",
            description="A JSON array of `{token, type, url, source}`, signed with ECDSA "
            "P-256 / SHA-256 by a key of `TOKENWARD_LEAK_PUBLIC_KEYS`. A token found live is "
            "disabled or only reported, per its tenant's `on_leak`.",
            responses=_errors(400, 401, 429, 503),
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "array"}}},
                }
            },
        )
    return made


def check_hashes(body: LeakCheck, core: CoreDep, actor: ActorDep) -> LeakCheckAnswer:
    states = leaks.check(core, actor, hashes=body.hashes)
    return LeakCheckAnswer(
        items=[
            HashStatePublic(
                hash=s.hash, live=s.live, tenant=s.tenant, token_id=s.token_id, name=s.name
            )
            for s in states
        ]
    )
