"""Leak reports (docs/lifecycle.md): a secret-scanning partner (GitHub's format) reports
strings it found in public; each that opens a token is answered ``true_positive`` and acted on
per the tenant's ``on_leak``. Also the by-hash check behind ``tokenward scan``.

The report comes from outside any tenant and with no tokenward credential: it is trusted only
because its body is signed by one of the partner's published ECDSA P-256 keys
(``TOKENWARD_LEAK_PUBLIC_KEYS``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tokenward.domain import policy
from tokenward.domain import secrets as secret_format
from tokenward.domain.actors import Actor
from tokenward.domain.audit import AuditEntry
from tokenward.domain.errors import Invalid, Unauthenticated
from tokenward.domain.lifecycle import EventType
from tokenward.service import events, policies
from tokenward.service.core import Core

#: How the audit records name the reporter: no tokenward identity signs a leak report.
REPORTER = "secret-scanning"
#: Reported strings taken per request; GitHub sends far fewer in one.
MAX_REPORTS = 1000
#: Hashes taken per ``check`` call.
MAX_HASHES = 1000
#: The longest URL and source kept in the audit record; the rest is cut.
MAX_TEXT = 2048

Label = Literal["true_positive", "false_positive"]


@dataclass(frozen=True, slots=True)
class Reported:
    """One match a partner found: the string, its type (the partner's name for our pattern),
    where it was found, and the kind of place (``content``, ``commit``, ``gist``...)."""

    token: str
    type: str
    url: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    token_hash: str
    token_type: str
    label: Label


class LeakKeys:
    """The partner's public keys by identifier, loaded from the JSON it publishes:
    ``{"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}``. Keys that are no
    longer current still verify: a report signed just before a rotation is still a report."""

    def __init__(self, keys: Mapping[str, ec.EllipticCurvePublicKey]) -> None:
        if not keys:
            raise ValueError("no public keys: leak reports could never be verified")
        self._keys = dict(keys)

    @classmethod
    def load(cls, path: Path) -> LeakKeys:
        """Raises ``ValueError`` naming the problem when the file is unreadable or wrong: a
        server configured for leak reports must not start without being able to take them."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read leak report keys from {path}: {error}") from None
        entries = document.get("public_keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ValueError(f"{path}: expected {{'public_keys': [...]}}")
        keys: dict[str, ec.EllipticCurvePublicKey] = {}
        for entry in entries:
            if not isinstance(entry, dict):
                raise ValueError(f"{path}: each public key must be an object")
            identifier, pem = entry.get("key_identifier"), entry.get("key")
            if not isinstance(identifier, str) or not isinstance(pem, str):
                raise ValueError(f"{path}: each public key needs key_identifier and key")
            try:
                key = serialization.load_pem_public_key(pem.encode("ascii"))
            except (ValueError, UnicodeEncodeError) as error:
                raise ValueError(f"{path}: key {identifier!r} is not a PEM key: {error}") from None
            if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
                raise ValueError(f"{path}: key {identifier!r} is not an ECDSA P-256 key")
            keys[identifier] = key
        return cls(keys)

    def verify(self, identifier: str | None, signature: str | None, body: bytes) -> None:
        """Raises ``Unauthenticated`` unless ``signature`` (base64 DER, as GitHub sends it)
        is the key ``identifier``'s ECDSA P-256 / SHA-256 signature of ``body``. Every failure
        reads the same."""
        refused = Unauthenticated("the leak report's signature does not verify")
        key = self._keys.get(identifier or "")
        if key is None or not signature:
            raise refused
        try:
            der = base64.b64decode(signature, validate=True)
            key.verify(der, body, ec.ECDSA(hashes.SHA256()))
        except (binascii.Error, ValueError, InvalidSignature):
            raise refused from None


def parse(body: bytes) -> list[Reported]:
    """The partner's JSON array of ``{"token", "type", "url", "source"}``; ``Invalid`` when it
    is not one."""
    try:
        document = json.loads(body)
    except ValueError:
        raise Invalid("the body must be a JSON array of reports", field="body") from None
    if not isinstance(document, list):
        raise Invalid("the body must be a JSON array of reports", field="body")
    if len(document) > MAX_REPORTS:
        raise Invalid(f"at most {MAX_REPORTS} reports per request", field="body")
    reports = []
    for item in document:
        if not isinstance(item, dict) or not isinstance(item.get("token"), str):
            raise Invalid("each report needs a string token", field="token")
        texts = {k: item.get(k, "") for k in ("type", "url", "source")}
        if not all(isinstance(v, str) for v in texts.values()):
            raise Invalid("type, url and source must be strings", field="body")
        reports.append(
            Reported(
                token=item["token"],
                type=str(texts["type"]),
                url=str(texts["url"])[:MAX_TEXT],
                source=str(texts["source"])[:MAX_TEXT],
            )
        )
    return reports


def report(core: Core, reports: Sequence[Reported], *, client: str | None = None) -> list[Verdict]:
    """Answers each reported string (in order) and acts on the true ones.

    A string without our format and checksum is a false positive with no database read. One
    that opens a token (its current secret, or a rotated-out one still in its grace) is a
    true positive: audited as ``token.leak`` with where it was found, announced as
    ``token.leaked``, and the token disabled when the tenant's ``on_leak`` says so. A
    rotated-out secret past its grace, or an unknown one, opens nothing: a false positive,
    and a dead copy must not take the live credential down.
    """
    verdicts = []
    for item in reports:
        secret_hash = secret_format.hash_secret(item.token)
        label: Label = "false_positive"
        if secret_format.is_well_formed(item.token) and _act(core, secret_hash, item, client):
            label = "true_positive"
        verdicts.append(Verdict(token_hash=secret_hash, token_type=item.type, label=label))
    return verdicts


def _act(core: Core, secret_hash: str, item: Reported, client: str | None) -> bool:
    now = core.clock()
    with core.uow() as reading:  # a well-formed stranger costs a read, not a write lock
        found = reading.tokens.get_by_secret_hash(secret_hash, live_at=now)
    if found is None:
        return False
    with core.uow(write=True) as uow:
        # The tenant's lock first, as every writer of its tokens takes it; then the row,
        # found again: it may have been rotated or deleted since the read.
        if uow.tenants.get(found[0].tenant, lock="share") is None:
            return False
        found = uow.tokens.get_by_secret_hash(secret_hash, live_at=now)
        if found is None:
            return False
        token = found[0]
        current = uow.tokens.get(token.tenant, token.id, for_update=True)
        if current is None:  # deleted meanwhile: nothing left to act on
            return False
        after, action = policies.respond(
            uow, current, policies.of(uow, current.tenant).on_leak, now
        )
        uow.audit.add(
            AuditEntry(
                at=now,
                tenant=current.tenant,
                actor=REPORTER,
                action="token.leak",
                token_id=current.id,
                client=client,
                detail={
                    "url": item.url,
                    "source": item.source,
                    "type": item.type,
                    "action": action,
                },
            )
        )
        events.announce(
            uow, EventType.LEAKED, after, now, url=item.url, source=item.source, action=action
        )
        core.commit_change(uow, [current.id], at=now)
    return True


@dataclass(frozen=True, slots=True)
class HashState:
    """What ``check`` tells about one secret hash: ``live`` when it opens a valid token of a
    tenant the caller sees, with that token's id and name."""

    hash: str
    live: bool
    tenant: str | None = None
    token_id: int | None = None
    name: str | None = None


def check(core: Core, actor: Actor, *, hashes: Sequence[str]) -> list[HashState]:
    """Whether each secret hash opens a valid token, for ``tokenward scan``, which never sends
    the secret. Another tenant's token reads as unknown (no oracle); a hash is only useful to
    someone who holds the secret it came from."""
    if len(hashes) > MAX_HASHES:
        raise Invalid(f"at most {MAX_HASHES} hashes per request", field="hashes")
    for value in hashes:
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise Invalid("each hash must be a SHA-256 in lower-case hex", field="hashes")
    now = core.clock()
    states = []
    with core.uow() as uow:
        for value in hashes:
            found = uow.tokens.get_by_secret_hash(value, live_at=now)
            token = found[0] if found is not None else None
            if token is None or not policy.sees_tenant(actor, token.tenant):
                states.append(HashState(hash=value, live=False))
            else:
                states.append(
                    HashState(
                        hash=value,
                        live=token.is_valid(now),
                        tenant=token.tenant,
                        token_id=token.id,
                        name=token.name,
                    )
                )
    return states
