"""Migrates the reference's database, makes an API key, and times ``is_valid`` in process.

Prints one JSON line: {"key": ..., "is_valid_us_p50": ..., "is_valid_us_p99": ...}.
Run with bench/.venv-drf/bin/python from bench/drf.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchdrf.settings")


def main() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from rest_framework_api_key.models import APIKey

    _, key = APIKey.objects.create_key(name="bench")
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    assert APIKey.objects.is_valid(key)
    samples = []
    for _ in range(iterations):
        t0 = time.perf_counter_ns()
        ok = APIKey.objects.is_valid(key)
        samples.append(time.perf_counter_ns() - t0)
        assert ok
    samples.sort()
    print(
        json.dumps(
            {
                "key": key,
                "is_valid_us_p50": statistics.median(samples) / 1000,
                "is_valid_us_p99": samples[int(len(samples) * 0.99) - 1] / 1000,
            }
        )
    )


if __name__ == "__main__":
    main()
