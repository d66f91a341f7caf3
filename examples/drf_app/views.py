"""``request.auth`` is the token's ``Identity``; the permission class checks the scopes."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tokenward.integrations import Identity


class WhoAmI(APIView):
    def get(self, request: Request) -> Response:
        who: Identity = request.auth
        return Response(
            {
                "tenant": who.tenant,
                "principal": who.principal,
                "user": who.user,
                "role": who.role,
                "scopes": sorted(who.scopes),
                "token_id": who.token_id,
            }
        )


class Invoices(APIView):
    required_scopes = {"GET": ["invoices:read"], "POST": ["invoices:write"]}

    def get(self, request: Request) -> Response:
        return Response({"tenant": request.auth.tenant, "invoices": [{"id": 1, "amount": 42}]})

    def post(self, request: Request) -> Response:
        return Response({"created_by": request.user.username, "id": 2}, status=201)


class Broker(APIView):
    # A restricted token passes only for the brokers it lists.
    tokenward_resource_kwarg = "broker"

    def get(self, request: Request, broker: str, **kwargs: Any) -> Response:
        return Response({"broker": broker, "tenant": request.auth.tenant})
