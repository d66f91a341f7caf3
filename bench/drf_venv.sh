#!/usr/bin/env bash
# Builds bench/.venv-drf: Django REST framework + djangorestframework-api-key + gunicorn, the
# reference that tokenward's verification is compared with. Idempotent: a finished venv is kept.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv-drf"
stamp="$venv/.installed"
python="${PYTHON:-python3}"
if [[ -f "$stamp" && "$stamp" -nt "$0" ]]; then
    exit 0
fi
test -x "$venv/bin/python" || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet \
    "django>=4.2,<6" "djangorestframework>=3.14" "djangorestframework-api-key>=3.0" \
    "gunicorn>=21" "psycopg[binary]>=3.1"
touch "$stamp"
