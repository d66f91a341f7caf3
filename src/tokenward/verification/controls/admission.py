"""The entry points of the controls: ``Controls.screen``, ``admit`` and ``judge``.

The verification engine asks them only of a token that has controls (``Token.controlled``).
The codes rank as docs/api.md lists them: the token's state (disabled, expired), then the IP
allowlist (``screen``, pure), the credits, the rate limits, and only then the request
(audience, scopes, resource). Yet a verification that fails for any reason spends nothing and
counts against no limit. The engine reconciles the two by judging the request first (it is
pure, so nothing shows the order): a request that passes is ``admit``-ted, which spends the
credits and counts the limits (a refusal by the limits gives the credits back); one that fails
is ``judge``-d, which answers what ``admit`` would, spending and counting nothing, so that a
token out of credits or over its limit says so whatever the request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from tokenward.domain.tokens import RateLimit, Token
from tokenward.domain.verification import VerifyCode
from tokenward.verification.controls.allowlist import compiled
from tokenward.verification.controls.windows import MemoryCounters, RateOutcome

_IP_DENIED = VerifyCode.IP_DENIED
_USAGE_EXCEEDED = VerifyCode.USAGE_EXCEEDED
_RATE_LIMITED = VerifyCode.RATE_LIMITED


class Counters(Protocol):
    """Where the rate-limit counts live: ``MemoryCounters`` (one process), ``SharedCounters``
    (the workers of one server) or ``RedisCounters`` (every server). ``hit`` judges every
    limit and counts the verification in all, or in none."""

    #: Whether a count waits on the network (Redis): then it belongs in a thread, not on an
    #: event loop, where one round trip at a time would be the worker's whole throughput.
    waits: bool

    def hit(self, token_id: int, limits: Sequence[RateLimit], now_ms: int) -> RateOutcome: ...

    def peek(self, token_id: int, limits: Sequence[RateLimit], now_ms: int) -> RateOutcome:
        """What ``hit`` would answer, counting nothing."""
        ...


class CreditLedger(Protocol):
    """Where the authoritative credit balances live (the store: ``verification/credits.py``)."""

    def spend(self, token_id: int, cost: int, period: int, amount: int) -> tuple[bool, int]:
        """Takes ``cost`` if the balance holds it: ``(spent, balance after or as it is)``.
        ``period``/``amount``: the refill's current period and amount (0, 0: no refill)."""
        ...

    def refund(self, token_id: int, cost: int, period: int) -> None: ...

    def balance(self, token_id: int, period: int, amount: int) -> int:
        """The balance a spend would find now (the refill's, once its period has begun)."""
        ...


class Admission(NamedTuple):
    #: None: admitted; else the code to answer.
    code: VerifyCode | None
    #: The answer's ``limits`` document: ``credits_remaining`` and ``rate_limits``.
    limits: Mapping[str, Any] | None = None
    retry_after_ms: int | None = None


class Controls:
    def __init__(self, ledger: CreditLedger, counters: Counters | None = None) -> None:
        self.ledger = ledger
        self.counters: Counters = counters if counters is not None else MemoryCounters()

    @staticmethod
    def screen(token: Token, client_ip: str | None) -> VerifyCode | None:
        """``IP_DENIED`` when the token has an allowlist that ``client_ip`` (missing
        included) is not within; pure."""
        if token.ip_allowlist and not compiled(token.ip_allowlist).allows(client_ip):
            return _IP_DENIED
        return None

    def blocks(self, token: Token) -> bool:
        """Whether admitting may wait on the store (credits) or on Redis (rate limits counted
        there): then it belongs in a thread, not on an event loop."""
        return token.credits is not None or (bool(token.rate_limits) and self.counters.waits)

    def admit(self, token: Token, now: datetime, client_ip: str | None, cost: int = 1) -> Admission:
        """Spends the credits and counts the rate limits, or refuses and does neither."""
        return self._admit(token, now, client_ip, cost, True)

    def judge(self, token: Token, now: datetime, client_ip: str | None, cost: int = 1) -> Admission:
        """What ``admit`` would answer now, spending and counting nothing: for a verification
        that another check refuses. (Concurrent ones may change the balance and the counts
        meanwhile; that only decides which refusal is answered.)"""
        return self._admit(token, now, client_ip, cost, False)

    def _admit(
        self, token: Token, now: datetime, client_ip: str | None, cost: int, spend: bool
    ) -> Admission:
        if token.ip_allowlist and not compiled(token.ip_allowlist).allows(client_ip):
            return Admission(_IP_DENIED)
        credits = token.credits
        remaining: int | None = None
        period = 0
        if credits is not None:
            refill = credits.refill
            if refill is not None:
                period = refill.period(now)
            amount = 0 if refill is None else refill.amount
            if spend:
                spent, remaining = self.ledger.spend(token.id, cost, period, amount)
            else:
                remaining = self.ledger.balance(token.id, period, amount)
                spent = remaining >= cost
            if not spent:
                return Admission(
                    _USAGE_EXCEEDED, {"credits_remaining": remaining, "rate_limits": []}
                )
        states: list[dict[str, Any]] = []
        if token.rate_limits:
            now_ms = int(now.timestamp() * 1000)
            counters = self.counters
            outcome = (counters.hit if spend else counters.peek)(
                token.id, token.rate_limits, now_ms
            )
            states = [
                {
                    "name": state.name,
                    "limit": state.limit,
                    "remaining": state.remaining,
                    "reset_at": None if state.reset_at_ms is None else _instant(state.reset_at_ms),
                }
                for state in outcome.states
            ]
            if not outcome.admitted:
                if spend and credits is not None and cost:
                    self.ledger.refund(token.id, cost, period)
                    assert remaining is not None
                    remaining += cost
                return Admission(
                    _RATE_LIMITED,
                    {"credits_remaining": remaining, "rate_limits": states},
                    max(outcome.retry_after_ms, 1),
                )
        return Admission(None, {"credits_remaining": remaining, "rate_limits": states})


def _instant(millis: int) -> str:
    """RFC 3339 in UTC, as the native API (pydantic) writes instants. A reset instant is the
    end of a bucket, the same for every verification within it: written once, then kept."""
    text = _INSTANTS.get(millis)
    if text is None:
        if len(_INSTANTS) >= 4096:
            _INSTANTS.clear()
        moment = datetime.fromtimestamp(millis // 1000, UTC)
        moment = moment.replace(microsecond=millis % 1000 * 1000)
        text = _INSTANTS[millis] = moment.isoformat().replace("+00:00", "Z")
    return text


_INSTANTS: dict[int, str] = {}
