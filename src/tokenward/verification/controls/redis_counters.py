"""The rate-limit counters in Redis, shared by every worker and server: one round trip per
verification, a Lua script that judges every limit of the token and counts the verification
in all of them, or in none, atomically (``windows.py`` describes the algorithm).

A Redis that fails (refused, timed out, gone) is not asked again for ``RETRY_SECONDS``, so
that an outage costs one timeout per interval rather than one per verification; meanwhile
``failure_mode`` decides: ``closed`` (the default) refuses rate-limited tokens as
``RATE_LIMITED``, ``open`` admits them uncounted. The outage is logged once, counted in
``failures`` (exported on ``/metrics``), and its end is logged when Redis answers again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import redis

from tokenward.domain.tokens import RateLimit
from tokenward.verification.controls.windows import (
    SUB_BUCKETS,
    LimitState,
    RateOutcome,
    bucket_ms,
)

log = logging.getLogger("tokenward")

#: Seconds between two tries of a Redis that failed.
RETRY_SECONDS = 1.0
#: A verification waits no longer than this for Redis; after it the failure mode decides.
SOCKET_TIMEOUT = 0.25

# KEYS: one hash per limit (bucket number -> count). ARGV: now_ms, SUB_BUCKETS, whether to
# count (1, a hit) or only judge (0, a peek), then limit and bucket_ms of each limit. Answers:
# admitted (1/0), retry_after_ms, then counted and reset_at_ms per limit.
_SCRIPT = """
local now = tonumber(ARGV[1])
local n = #KEYS
local subs = tonumber(ARGV[2])
local counting = tonumber(ARGV[3])
local admitted = 1
local retry = 0
local counted = {}
local resets = {}
local currents = {}
for i = 1, n do
  local limit = tonumber(ARGV[2 * i + 2])
  local size = tonumber(ARGV[2 * i + 3])
  local current = math.floor(now / size)
  currents[i] = current
  local fields = redis.call('HGETALL', KEYS[i])
  local buckets = {}
  local count = 0
  for j = 1, #fields, 2 do
    local number = tonumber(fields[j])
    if number < current - subs then
      redis.call('HDEL', KEYS[i], fields[j])
    else
      local c = tonumber(fields[j + 1])
      count = count + c
      buckets[#buckets + 1] = {number, c}
    end
  end
  table.sort(buckets, function(a, b) return a[1] < b[1] end)
  counted[i] = count
  if #buckets > 0 then
    resets[i] = (buckets[1][1] + subs + 1) * size
  else
    resets[i] = now
  end
  if count + 1 > limit then
    admitted = 0
    local needed = count + 1 - limit
    local freed = 0
    for _, bucket in ipairs(buckets) do
      freed = freed + bucket[2]
      if freed >= needed then
        local wait = (bucket[1] + subs + 1) * size - now
        if wait > retry then retry = wait end
        break
      end
    end
  end
end
local answer = {admitted, retry}
for i = 1, n do
  local size = tonumber(ARGV[2 * i + 3])
  if admitted == 1 and counting == 1 then
    if counted[i] == 0 then
      resets[i] = (currents[i] + subs + 1) * size
    end
    redis.call('HINCRBY', KEYS[i], currents[i], 1)
    redis.call('PEXPIRE', KEYS[i], (subs + 2) * size)
    counted[i] = counted[i] + 1
  end
  answer[#answer + 1] = counted[i]
  answer[#answer + 1] = resets[i]
end
return answer
"""


class RedisCounters:
    waits = True  # a round trip to Redis a count

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "tokenward:",
        failure_mode: str = "closed",
        monotonic: Any = time.monotonic,
    ) -> None:
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            # A connection that the server dropped is replaced, not reported as an outage.
            retry_on_timeout=False,
        )
        self._script = self._client.register_script(_SCRIPT)
        self._prefix = prefix
        self.fail_open = failure_mode == "open"
        self._monotonic = monotonic
        self._down_until = 0.0
        self._down = False
        self._lock = threading.Lock()
        #: Verifications that met a failed Redis (including those answered while it rests).
        self.failures = 0
        #: Round trips to Redis made (the script is one each).
        self.round_trips = 0

    def key(self, token_id: int, rate: RateLimit) -> str:
        # The braces make every key of one token hash to one Redis Cluster slot, which a
        # script that touches several keys needs.
        return f"{self._prefix}{{{token_id}}}:{bucket_ms(rate)}:{rate.name}"

    def hit(self, token_id: int, limits: Sequence[RateLimit], now_ms: int) -> RateOutcome:
        return self._judge(token_id, limits, now_ms, True)

    def peek(self, token_id: int, limits: Sequence[RateLimit], now_ms: int) -> RateOutcome:
        """What ``hit`` would answer, counting nothing (one round trip too)."""
        return self._judge(token_id, limits, now_ms, False)

    def _judge(
        self, token_id: int, limits: Sequence[RateLimit], now_ms: int, count: bool
    ) -> RateOutcome:
        if self._down and self._monotonic() < self._down_until:
            return self._failed(limits)
        args: list[int] = [now_ms, SUB_BUCKETS, int(count)]
        for rate in limits:
            args += [rate.limit, bucket_ms(rate)]
        try:
            self.round_trips += 1
            answer = self._script(keys=[self.key(token_id, rate) for rate in limits], args=args)
        except redis.RedisError as exc:
            with self._lock:
                if not self._down:
                    log.warning(
                        "Redis is not answering (%s): rate-limited verifications fail %s",
                        type(exc).__name__,
                        "open" if self.fail_open else "closed",
                    )
                self._down = True
                self._down_until = self._monotonic() + RETRY_SECONDS
            return self._failed(limits)
        if self._down:
            with self._lock:
                if self._down:
                    self._down = False
                    log.warning("Redis answers again: rate limits are counted again")
        admitted = int(answer[0]) == 1
        states = tuple(
            LimitState(
                rate.name,
                rate.limit,
                max(rate.limit - int(answer[2 + 2 * i]), 0),
                int(answer[3 + 2 * i]),
            )
            for i, rate in enumerate(limits)
        )
        return RateOutcome(admitted, states, int(answer[1]))

    def _failed(self, limits: Sequence[RateLimit]) -> RateOutcome:
        self.failures += 1
        states = tuple(LimitState(rate.name, rate.limit, None, None) for rate in limits)
        if self.fail_open:
            return RateOutcome(True, states)
        wait = max(int((self._down_until - self._monotonic()) * 1000), 1)
        return RateOutcome(False, states, wait)

    @property
    def available(self) -> bool:
        return not self._down

    def close(self) -> None:
        self._client.close()
