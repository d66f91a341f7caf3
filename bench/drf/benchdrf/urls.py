from __future__ import annotations

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class Verify(APIView):
    """Answers only when HasAPIKey let the request through."""

    def post(self, request: Request) -> Response:
        return Response({"valid": True})


urlpatterns = [path("verify/", Verify.as_view())]
