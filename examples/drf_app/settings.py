"""Settings of the example: no database, DRF with tokenward's authentication and permission."""

from __future__ import annotations

import os

# Example only: a real project reads its secret key from the environment or a secret store.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "drf_app.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tokenward.integrations.drf.TokenwardAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tokenward.integrations.drf.TokenwardPermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

TOKENWARD = {
    "URL": os.environ.get("TOKENWARD_URL", "http://127.0.0.1:8080"),
    "TOKEN": os.environ.get("TOKENWARD_TOKEN"),
    "AUDIENCE": "billing",
    "CACHE_TTL": 5.0,
}
