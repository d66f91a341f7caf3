"""The verification engine: the hot path, run once for every request a protected service
receives, and everything it keeps between requests (the cache, the known-secrets filter, the
change feed, the buffered writers)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from tokenward.domain import clock as domain_clock
from tokenward.domain import policy
from tokenward.domain import secrets as secret_format
from tokenward.domain.actors import Actor
from tokenward.domain.errors import Unavailable
from tokenward.domain.tokens import Token
from tokenward.domain.verification import (
    VALID,
    Verification,
    VerifyCode,
    judge,
    judge_request,
    judge_state,
)
from tokenward.service.ports import UnitOfWorkFactory
from tokenward.verification.buffers import BufferedWriters, LastUseBuffer, UsageBuffer
from tokenward.verification.cache import MISSING, CachedSecret, VerificationCache
from tokenward.verification.changes import ChangeFeed
from tokenward.verification.controls import Controls
from tokenward.verification.credits import StoreCreditLedger
from tokenward.verification.known_secrets import MIN_CAPACITY, KnownSecrets, Presence
from tokenward.verification.ports import (
    Lookup,
    NoObserver,
    ReuseReporter,
    SecretLookup,
    VerificationObserver,
)
from tokenward.verification.reuse import RetiredSecrets

_MAX_SECRET_LENGTH = 256
_MALFORMED = Verification(VerifyCode.MALFORMED)
_NOT_FOUND = Verification(VerifyCode.NOT_FOUND)
# An Enum member read through its class goes through EnumType.__getattr__ on Python 3.11, a
# cost the hot path avoids by reading these names instead (bench/RESULTS.md).
_HIT, _MISS, _FILTERED = Lookup.HIT, Lookup.MISS, Lookup.FILTERED
_ABSENT, _OUTDATED = Presence.ABSENT, Presence.OUTDATED
#: ``(client_ip, cost, may_block)`` of one verification, for the token's controls.
_Asked = tuple[str | None, int, bool]
_UNASKED_BLOCKING: _Asked = (None, 1, True)


class Engine:
    """One per process. The faces verify through it; the service's use cases tell it of the
    changes they commit (``changed``, the ``ChangeSink`` port) and authenticate through its
    uncached ``find`` (the ``SecretFinder`` port); they never touch its cache."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        lookup: SecretLookup,
        cache: VerificationCache | None = None,
        observer: VerificationObserver | None = None,
        clock: Callable[[], datetime] = domain_clock.utcnow,
        filter_min_capacity: int = MIN_CAPACITY,
        controls: Controls | None = None,
    ) -> None:
        """``filter_min_capacity``: the fewest hashes the known-secrets filter is sized for
        (a test makes it small, to saturate it soon). ``controls``: rate limits, credits and
        IP allowlists (issue 17); by default counted in this process, the credits in the
        store (the composition root wires Redis counters when configured)."""
        self._lookup = lookup
        self.clock = clock
        #: Read by tests and the metrics endpoint (its sizes); written by the engine only.
        self.cache = cache if cache is not None else VerificationCache()
        self.known_secrets = KnownSecrets(lookup, min_capacity=filter_min_capacity)
        #: Rotated-out secrets, asked on the ``NOT_FOUND`` answers that the known-secrets
        #: filter did not give (it holds the rotated-out hashes too): reuse detection.
        self.retired = RetiredSecrets(clock)
        self.observer: VerificationObserver = observer if observer is not None else NoObserver()
        self.controls = controls if controls is not None else Controls(StoreCreditLedger(uow))
        self.last_use = LastUseBuffer()
        #: Verifications per token, hour and code, for usage analytics.
        self.usage = UsageBuffer()
        self._writers = BufferedWriters(uow, [self.last_use, self.usage])
        self._usage_writer = BufferedWriters(uow, [self.usage])
        self._feed = ChangeFeed(uow, lookup, self.cache, self.known_secrets, self.retired, clock)

    # ---------------------------------------------------------------- verification

    def verify(
        self,
        secret: str,
        *,
        audience: str | None = None,
        scopes: Iterable[str] = (),
        resource: str | None = None,
        client_ip: str | None = None,
        cost: int = 1,
    ) -> Verification:
        """Malformed secrets are refused before any database read; a valid answer notes the
        use. May read the store and wait for it: on the event loop, call
        ``verify_without_blocking`` first. ``client_ip`` and ``cost``: what the token's
        controls judge (its IP allowlist, its credits)."""
        started = time.perf_counter()
        result, source = self._verify(secret, audience, scopes, resource, (client_ip, cost, True))
        self.observer.verified(result.code, time.perf_counter() - started, source)
        return result

    def verify_without_blocking(
        self,
        secret: str,
        *,
        audience: str | None = None,
        scopes: Iterable[str] = (),
        resource: str | None = None,
        client_ip: str | None = None,
        cost: int = 1,
    ) -> Verification | None:
        """The answer when it needs no wait: a malformed secret, a cached one, one the
        known-secrets filter rules out, or one read from a store that reads locally (SQLite);
        None when only ``verify``, in a thread, can give it (PostgreSQL, a filter to bring up
        to date first). Safe to call on the event loop.

        A local read is cheaper inline than the hand-off to a thread would be (the figures
        are in bench/RESULTS.md); unknown secrets mostly stop at the filter.
        """
        started = time.perf_counter()
        asked = (client_ip, cost, False)
        result, source, secret_hash, outdated = self._without_store(
            secret, audience, scopes, resource, asked
        )
        if result is None:
            if outdated or not self._lookup.reads_locally:
                return None
            result, source = self._from_store(secret_hash, False, audience, scopes, resource, asked)
            if result is None:  # the token's credits wait on the store: a thread's work
                return None
        self.observer.verified(result.code, time.perf_counter() - started, source)
        return result

    def introspect(self, actor: Actor, secret: str) -> Token | None:
        """RFC 7662: the token when the secret is valid now and the caller may see its tenant.

        Anything else, another tenant's token included, is just "not active" (no oracle).
        """
        result, _ = self._verify(secret, None, (), None, _UNASKED_BLOCKING)
        if not result.valid or result.token is None:
            return None
        if not policy.sees_tenant(actor, result.token.tenant):
            return None
        return result.token

    def find(self, secret_hash: str) -> tuple[Token, datetime | None] | None:
        """The token a secret belongs to and when that secret retires, read from the store,
        never from the cache: authentication of management calls uses it, where a revoked
        token must stop working at once, in every process."""
        return self._lookup.find(secret_hash)

    # ---------------------------------------------------------------- changes

    def changed(self, token_ids: Sequence[int | None]) -> None:
        """These tokens' change was committed (None: every token): drops this process's cached
        copies. Called after the commit, so that no reader re-caches the old state; other
        processes learn of it from the change log (``sync``)."""
        self._feed.forget(token_ids)

    def sync(self, *, wait: bool = True) -> int:
        """Applies what other processes logged since the last sync; see ``ChangeFeed.sync``."""
        return self._feed.sync(wait=wait)

    def changes_may_be_pending(self) -> bool:
        """Cheap enough for the event loop: whether a ``sync`` could find anything."""
        return self._feed.may_be_pending()

    def prune_changes(self, keep_seconds: float) -> None:
        self._feed.prune(keep_seconds)

    @property
    def change_seq(self) -> int:
        """The last entry of the change log that this process has applied."""
        return self._feed.applied

    # ---------------------------------------------------------------- reuse

    def reuses_pending(self) -> bool:
        """Cheap enough for the event loop: whether ``report_reuses`` has anything to do."""
        return self.retired.pending()

    def report_reuses(self, report: ReuseReporter) -> int:
        """Hands the secrets that verifications refused and that may be rotated-out copies to
        ``report`` (the service decides, with one read each), off the requests' path;
        returns how many it reported. What an unavailable store leaves is tried again next
        time; a hash whose report fails otherwise is dropped, not retried forever."""
        taken = self.retired.take()
        reported = 0
        not_reported: list[str] = []
        try:
            for done, secret_hash in enumerate(taken):
                try:
                    if report(secret_hash):
                        reported += 1
                    else:
                        not_reported.append(secret_hash)
                except Unavailable:
                    self.retired.requeue(taken[done:])
                    raise
                except Exception:
                    self.retired.requeue(taken[done + 1 :])
                    raise
        finally:
            self.retired.forget(not_reported)
        return reported

    # ---------------------------------------------------------------- life

    def start(self) -> None:
        """Starts following the change log from its end and loads the known-secrets filter:
        what a server worker does before it serves (it reads the store, so in a thread)."""
        self._feed.start()

    def flush(self) -> int:
        """Writes what the buffered writers gathered (last-use times, usage counts) in one
        transaction; returns how many records."""
        return self._writers.flush()

    def flush_usage(self) -> int:
        """Writes the usage counts alone (their own interval, ``TOKENWARD_USAGE_FLUSH_SECONDS``)."""
        return self._usage_writer.flush()

    def close(self) -> None:
        """Releases the store's hot-path connections and, last, the SQLite WAL index's map:
        call it after the database engine is disposed of (see ``SqlSecretLookup.close``)."""
        self._lookup.close()

    # ---------------------------------------------------------------- the hot path

    def _verify(
        self,
        secret: str,
        audience: str | None,
        scopes: Iterable[str],
        resource: str | None,
        asked: _Asked,
    ) -> tuple[Verification, Lookup | None]:
        result, source, secret_hash, outdated = self._without_store(
            secret, audience, scopes, resource, asked
        )
        if result is None:
            result, source = self._from_store(
                secret_hash, outdated, audience, scopes, resource, asked
            )
        assert result is not None  # only a caller that may not block is deferred
        return result, source

    def _without_store(
        self,
        secret: str,
        audience: str | None,
        scopes: Iterable[str],
        resource: str | None,
        asked: _Asked,
    ) -> tuple[Verification | None, Lookup | None, str, bool]:
        """The verdict without a store read, or None; how it was found; the secret's hash for
        the store read; and whether the known-secrets filter lacks it but is out of date. Only
        well-formed secrets ever enter the cache, so a hit needs no format check; a miss is
        checked."""
        if len(secret) > _MAX_SECRET_LENGTH:
            return _MALFORMED, None, "", False
        secret_hash = secret_format.hash_secret(secret)
        cached = self.cache.get(secret_hash)
        if cached is None:
            if not secret_format.is_well_formed(secret):
                return _MALFORMED, None, secret_hash, False
            presence = self.known_secrets.presence(secret_hash)
            if presence is _ABSENT:
                # Not a kept copy either: the filter holds the rotated-out hashes too.
                return _NOT_FOUND, _FILTERED, secret_hash, False
            return None, None, secret_hash, presence is _OUTDATED
        if cached is MISSING:
            self.retired.suspect(secret_hash)  # reuse detection: a kept copy replayed
            return _NOT_FOUND, _HIT, secret_hash, False
        result = self._conclude(cached, audience, scopes, resource, asked)
        if result is _NOT_FOUND:  # a secret rotated out, its grace over
            self.retired.suspect(secret_hash)
        # None: the controls must wait on the store; "outdated" sends the caller to a thread.
        return result, _HIT, secret_hash, result is None

    def _from_store(
        self,
        secret_hash: str,
        outdated: bool,
        audience: str | None,
        scopes: Iterable[str],
        resource: str | None,
        asked: _Asked,
    ) -> tuple[Verification | None, Lookup]:
        if outdated:
            # Something was committed since the filter's last sync: catching up costs one read
            # of the change log, and may spare this and the following unknown secrets theirs.
            self._feed.sync(wait=False)
            if self.known_secrets.presence(secret_hash) is _ABSENT:
                return _NOT_FOUND, _FILTERED
        cache = self.cache
        generation = cache.begin()
        found = self._lookup.find(secret_hash)
        if found is None:
            cache.put_missing(secret_hash, generation)
            self.retired.suspect(secret_hash)  # reuse detection: a kept copy presented
            return _NOT_FOUND, _MISS
        token, retires_at = found
        entry = cache.put(secret_hash, token, retires_at, generation)
        result = self._conclude(entry, audience, scopes, resource, asked)
        if result is _NOT_FOUND:  # a secret rotated out, its grace over
            self.retired.suspect(secret_hash)
        return result, _MISS

    def _conclude(
        self,
        entry: CachedSecret,
        audience: str | None,
        scopes: Iterable[str],
        resource: str | None,
        asked: _Asked,
    ) -> Verification | None:
        """The verdict on a found token; None only for a caller that may not block, when the
        token's controls must wait on the store (its credits)."""
        now = self.clock()
        if secret_format.retired(entry.retires_at, now):
            return _NOT_FOUND
        token = entry.token
        if token.controlled:  # only a token with controls pays for them
            if not asked[2] and self.controls.blocks(token):
                return None
            return self._controlled(token, now, audience, scopes, resource, asked)
        code = judge(token, now, audience=audience, scopes=scopes, resource=resource)
        self.usage.note(token, code, now)
        if code is VALID:
            self.last_use.note(token.id, now)
            return entry.valid
        return Verification(code, token)

    def _controlled(
        self,
        token: Token,
        now: datetime,
        audience: str | None,
        scopes: Iterable[str],
        resource: str | None,
        asked: _Asked,
    ) -> Verification:
        """The codes rank: state, IP allowlist, credits, rate limits, then the request
        (docs/api.md); yet only a verification that passes everything spends credits and
        counts against limits. The request is judged first (pure, so the order does not
        show): if it passes, ``admit`` spends and counts; if not, ``judge`` tells whether
        the controls would have refused first, spending and counting nothing
        (``controls/admission.py``)."""
        client_ip, cost, _ = asked
        code = judge_state(token, now)
        if code is VALID:
            code = self.controls.screen(token, client_ip) or VALID
        if code is not VALID:
            self.usage.note(token, code, now)
            return Verification(code, token)
        request = judge_request(token, audience=audience, scopes=scopes, resource=resource)
        if request is VALID:
            admission = self.controls.admit(token, now, client_ip, cost)
            code = admission.code or VALID
        else:
            admission = self.controls.judge(token, now, client_ip, cost)
            code = admission.code or request
        self.usage.note(token, code, now)
        if code is VALID:
            self.last_use.note(token.id, now)
        elif admission.code is None:  # the request's refusal: the controls were not reached
            return Verification(code, token)
        return Verification(code, token, admission.limits, admission.retry_after_ms)
