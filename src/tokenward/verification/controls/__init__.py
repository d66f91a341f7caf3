"""Controls at verification (issue 17): IP allowlists, usage credits and rate limits.

A small interface for the verification engine: ``Controls.admit`` and ``Controls.judge`` (and
``Controls.screen`` for the allowlist alone), which answer an ``Admission``; the counters
behind the ``Counters`` protocol (``MemoryCounters`` for one process, ``SharedCounters`` for
the workers of one server, ``RedisCounters`` for every server); the credit balances behind
``CreditLedger``. Pure but for those two: no store, no service, no web framework (an
import-linter contract says so).
"""

from tokenward.verification.controls.admission import Admission, Controls, Counters, CreditLedger
from tokenward.verification.controls.allowlist import Allowlist
from tokenward.verification.controls.windows import LimitState, MemoryCounters, RateOutcome

__all__ = [
    "Admission",
    "Allowlist",
    "Controls",
    "Counters",
    "CreditLedger",
    "LimitState",
    "MemoryCounters",
    "RateOutcome",
]
