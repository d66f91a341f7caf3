"""A Django project with one DRF endpoint guarded by djangorestframework-api-key.

By default it is the project ``django-admin startproject`` makes (its apps and middleware),
with DEBUG off: the deployment that the issue's reference figures describe (measured here:
0.036 of the raw hello's throughput in one run, against the issue's 1,100 / 32,000 = 0.034).
``BENCH_DRF_MINIMAL=1`` strips it to the apps the endpoint needs and no middleware (0.046
of the hello): reported too, as the fastest DRF this endpoint can be.
"""

from __future__ import annotations

import os

SECRET_KEY = "bench-only-not-a-secret"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
STATIC_URL = "static/"
if os.environ.get("BENCH_DRF_MINIMAL"):
    INSTALLED_APPS = [
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "rest_framework",
        "rest_framework_api_key",
    ]
    MIDDLEWARE = []
ROOT_URLCONF = "benchdrf.urls"
WSGI_APPLICATION = "benchdrf.wsgi.application"
# BENCH_DRF_PG_NAME (a database on the local PostgreSQL) puts the reference on PostgreSQL;
# otherwise SQLite at BENCH_DRF_DB. Connections persist across requests either way.
if os.environ.get("BENCH_DRF_PG_NAME"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ["BENCH_DRF_PG_NAME"],
            "USER": "postgres",
            "HOST": "127.0.0.1",
            "PORT": "5432",
            "CONN_MAX_AGE": None,
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_DRF_DB", "/tmp/bench-drf.sqlite3"),  # noqa: S108
            "CONN_MAX_AGE": None,
        }
    }
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework_api_key.permissions.HasAPIKey"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
LOGGING = {"version": 1, "disable_existing_loggers": True}
