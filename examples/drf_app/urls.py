from __future__ import annotations

from django.urls import path

from drf_app import views

urlpatterns = [
    path("whoami", views.WhoAmI.as_view()),
    path("invoices", views.Invoices.as_view()),
    path("brokers/<str:broker>", views.Broker.as_view()),
]
