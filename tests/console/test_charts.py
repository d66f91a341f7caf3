"""The usage charts' geometry (console/charts.py): whole buckets, stacked in a fixed order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tokenward.console import charts
from tokenward.service.usage import UsageBucket

NOW = datetime(2026, 12, 3, 14, 47, 12, tzinfo=UTC)


def test_the_span_is_whole_buckets_up_to_the_current_one() -> None:
    assert charts.span("hour", NOW, 24) == (
        datetime(2026, 12, 2, 15, tzinfo=UTC),
        datetime(2026, 12, 3, 15, tzinfo=UTC),
    )
    assert charts.span("day", NOW, 30) == (
        datetime(2026, 11, 4, tzinfo=UTC),
        datetime(2026, 12, 4, tzinfo=UTC),
    )


def test_buckets_left_out_are_zero_and_outcomes_stack_in_order() -> None:
    since, _ = charts.span("hour", NOW, 24)
    found = [
        UsageBucket(since + timedelta(hours=3), {"DISABLED": 2, "VALID": 6}),
        UsageBucket(since + timedelta(hours=23), {"RATE_LIMITED": 4}),
    ]
    chart = charts.build("hourly", "Per hour", found, bucket="hour", since=since, count=24)
    assert len(chart.columns) == 24 and chart.total == 12
    assert [c.total for c in chart.busy] == [8, 4]
    assert [code for code, _ in chart.codes] == ["VALID", "DISABLED", "RATE_LIMITED"]
    valid, disabled = chart.columns[3].segments
    assert (valid.code, disabled.code) == ("VALID", "DISABLED")
    assert disabled.y + disabled.height == valid.y  # stacked, VALID at the bottom
    assert valid.y + valid.height == chart.plot_bottom
    top = chart.ticks[-1]
    assert top.value == 10 and disabled.y > top.y  # the tallest bar stays under the axis' top
    assert "12 verifications (VALID 6, DISABLED 2, RATE_LIMITED 4)" in chart.description


def test_an_empty_span_draws_no_bar() -> None:
    since, _ = charts.span("day", NOW, 30)
    chart = charts.build("daily", "Per day", [], bucket="day", since=since, count=30)
    assert chart.total == 0 and chart.busy == [] and chart.codes == []
    assert all(not column.segments for column in chart.columns)
    assert chart.description.endswith("0 verifications.")


def test_the_axis_top_is_a_round_even_number_at_least_the_peak() -> None:
    assert [charts.nice_ceiling(n) for n in (0, 2, 3, 10, 11, 150, 2000)] == [
        2,
        2,
        10,
        10,
        20,
        200,
        2000,
    ]
