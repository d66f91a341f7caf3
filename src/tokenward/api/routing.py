"""What the faces share to route a request and read it: every face answers every error in its
own wire format.

FastAPI's exception handlers belong to the whole app, but five faces share the app. A face
builds its router with ``APIRouter(route_class=face_route(translate))``; ``translate`` (a
``tokenward.api.errors.Translator`` over the face's table) turns any exception raised while
handling one of its requests (bad JSON, validation, domain errors) and a body over the limit
(``BodyTooLarge``) into that face's response.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from tokenward.api.middleware import BodyTooLarge

Translate = Callable[[Request, Exception], Response]


def face_route(translate: Translate) -> type[APIRoute]:
    class FaceRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                limit = request.scope.get("state", {}).get("body_too_large")
                if limit is not None:
                    return translate(request, BodyTooLarge(limit))
                try:
                    return await handler(request)
                except Exception as exc:  # translated, not swallowed: unknown ones re-raise
                    return translate(request, exc)

            return handle

    return FaceRoute


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


def validation_messages(errors: Any) -> list[str]:
    """Where and what, never the offending input: pydantic's ``input`` could echo a secret,
    and so could the name of an unknown field, which is the last part of its ``loc`` (a
    secret pasted as a key): such errors name the object that holds it instead."""
    messages: list[str] = []
    for e in list(errors)[:10]:
        loc = tuple(e.get("loc", ()))
        if e.get("type") == "extra_forbidden":
            loc = loc[:-1]
        messages.append(f"{'.'.join(str(p) for p in loc)}: {e.get('msg', 'invalid')}")
    return list(dict.fromkeys(messages))  # several unknown fields: one message


def is_bad_json(errors: Any) -> bool:
    return any(e.get("type") == "json_invalid" for e in errors)


BEARER_CHALLENGE = 'Bearer realm="tokenward"'


def bearer_credential(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer <credential>`` header (the scheme in any
    case, the credential stripped); None without one. The one reading of the header, for
    the dependencies and for ``/v1/verify``'s fast path."""
    if not authorization:
        return None
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credential.strip() or None


async def _raw_body(request: Request) -> bytes:
    return await request.body()


#: The request body as bytes, for faces that parse it themselves (to answer bad JSON in the
#: product's words). Declared after the actor, so the credential is checked first.
RawBody = Annotated[bytes, Depends(_raw_body)]


def request_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as the JSON body of a route that parses it itself."""
    schema = model.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        # The document's refs point at its own root, so the model's local ones are inlined.
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    body = {"required": True, "content": {"application/json": {"schema": inline(schema)}}}
    return {"requestBody": body}


Model = TypeVar("Model", bound=BaseModel)


def json_body(model: type[Model], raw: bytes) -> Model:
    """The body as JSON whatever its ``Content-Type`` says, for the faces whose product's
    document names no media type (``curl -d`` sends a form type); errors carry no input."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False)) from None
