"""Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 of
``<webhook-id>.<webhook-timestamp>.<body>`` under the secret's bytes, base64, after ``v1,``."""

from __future__ import annotations

import base64
import hashlib
import hmac

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)


def signature(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: str, msg_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The three headers of a delivery; ``msg_id`` is the event's, the same on every attempt,
    so a receiver can drop a repeat."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }
