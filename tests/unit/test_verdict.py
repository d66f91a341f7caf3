"""The verdict on a found token, and expiry arithmetic."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.support import NOW, token
from tokenward.domain import clock
from tokenward.domain.verification import VerifyCode, judge


def test_valid_and_each_refusal() -> None:
    base = dataclasses.replace(
        token(), audience=("billing",), scopes=("read", "write"), resources=("b1",)
    )
    assert judge(base, NOW) is VerifyCode.VALID
    assert judge(dataclasses.replace(base, active=False), NOW) is VerifyCode.DISABLED
    expired = dataclasses.replace(base, expires_at=NOW)
    assert judge(expired, NOW) is VerifyCode.EXPIRED
    assert judge(base, NOW, audience="billing") is VerifyCode.VALID
    assert judge(base, NOW, audience="other") is VerifyCode.AUDIENCE_MISMATCH
    assert judge(base, NOW, scopes=["read"]) is VerifyCode.VALID
    assert judge(base, NOW, scopes=["read", "admin"]) is VerifyCode.INSUFFICIENT_SCOPE
    assert judge(base, NOW, resource="b2") is VerifyCode.VALID  # not restricted
    restricted = dataclasses.replace(base, restricted=True)
    assert judge(restricted, NOW, resource="b1") is VerifyCode.VALID
    assert judge(restricted, NOW, resource="b2") is VerifyCode.RESOURCE_DENIED


def test_token_without_audience_passes_only_when_none_is_asked() -> None:
    plain = token()
    assert judge(plain, NOW) is VerifyCode.VALID
    assert judge(plain, NOW, audience="billing") is VerifyCode.AUDIENCE_MISMATCH


@given(st.integers(min_value=-10_000_000, max_value=10_000_000))
def test_expiry_boundary(offset_ms: int) -> None:
    expires = NOW + timedelta(milliseconds=offset_ms)
    subject = dataclasses.replace(token(), expires_at=expires)
    assert subject.is_expired(NOW) is (offset_ms <= 0)
    assert (judge(subject, NOW) is VerifyCode.EXPIRED) is (offset_ms <= 0)


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1), timezones=st.just(UTC)
    )
)
def test_millisecond_round_trip(moment: datetime) -> None:
    truncated = clock.truncate(moment)
    assert clock.from_millis(clock.to_millis(truncated)) == truncated
    assert timedelta(0) <= moment - truncated < timedelta(milliseconds=1)
