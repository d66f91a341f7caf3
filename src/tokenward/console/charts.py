"""Usage charts drawn on the server: stacked bars of verifications per bucket and outcome.

The geometry is computed here and the template (``usage_chart.html``) writes it as inline SVG:
no chart library and no script, so the page works under the console's strict
Content-Security-Policy. Every chart carries a title and a description for assistive
technology, and the same figures as a table, so no number is only in the picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tokenward.domain.verification import VerifyCode
from tokenward.service.usage import Bucket, UsageBucket

WIDTH = 720
HEIGHT = 220
#: Room for the axis labels around the plot.
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 28

#: One colour per outcome, each with at least 3:1 contrast on white (WCAG 1.4.11); the
#: legend and the table name the outcome, so colour is never the only cue.
COLOURS: dict[str, str] = {
    VerifyCode.VALID: "#1d6b2c",
    VerifyCode.EXPIRED: "#a3161a",
    VerifyCode.DISABLED: "#5a5a5a",
    VerifyCode.RATE_LIMITED: "#b35900",
    VerifyCode.USAGE_EXCEEDED: "#7a3e9d",
    VerifyCode.IP_DENIED: "#0b4f9c",
    VerifyCode.NOT_FOUND: "#8a6100",
    VerifyCode.MALFORMED: "#6b4226",
    VerifyCode.AUDIENCE_MISMATCH: "#00707a",
    VerifyCode.INSUFFICIENT_SCOPE: "#b0306a",
    VerifyCode.RESOURCE_DENIED: "#3d5a80",
}
OTHER_COLOUR = "#333333"
#: Outcomes in a fixed order, so a colour stays in the same place in the stack.
ORDER = [str(code) for code in VerifyCode]


@dataclass(frozen=True, slots=True)
class Segment:
    code: str
    count: int
    x: float
    y: float
    width: float
    height: float
    colour: str


@dataclass(frozen=True, slots=True)
class Column:
    start: datetime
    label: str
    counts: dict[str, int]
    total: int
    segments: list[Segment]


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True, slots=True)
class XLabel:
    x: float
    text: str


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    title: str
    description: str
    columns: list[Column]
    codes: list[tuple[str, str]]  # (outcome, colour) seen in the span, in ORDER
    total: int
    ticks: list[Tick]
    x_labels: list[XLabel]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_bottom: int = HEIGHT - BOTTOM
    plot_right: int = WIDTH - RIGHT

    @property
    def busy(self) -> list[Column]:
        """The buckets with verifications: the rows of the table."""
        return [column for column in self.columns if column.total]


def span(bucket: Bucket, now: datetime, count: int) -> tuple[datetime, datetime]:
    """The ``count`` whole buckets up to and including the one ``now`` is in."""
    now = now.astimezone(UTC)
    if bucket == "hour":
        current = now.replace(minute=0, second=0, microsecond=0)
        step = timedelta(hours=1)
    else:
        current = now.replace(hour=0, minute=0, second=0, microsecond=0)
        step = timedelta(days=1)
    return current - step * (count - 1), current + step


def build(
    key: str,
    title: str,
    buckets: Sequence[UsageBucket],
    *,
    bucket: Bucket,
    since: datetime,
    count: int,
) -> Chart:
    """A chart of ``count`` buckets from ``since``; buckets the service left out are zero."""
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    by_start = {b.start.astimezone(UTC): b.counts for b in buckets}
    starts = [since.astimezone(UTC) + step * i for i in range(count)]
    seen = {code for counts in by_start.values() for code, n in counts.items() if n}
    codes = [c for c in ORDER if c in seen] + sorted(seen - set(ORDER))
    totals = [sum(by_start.get(start, {}).values()) for start in starts]
    peak = max(totals, default=0)
    scale_top = nice_ceiling(peak)
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / count
    bar = max(slot * 0.8, 1.0)
    columns = []
    for index, start in enumerate(starts):
        counts = {code: n for code, n in by_start.get(start, {}).items() if n}
        x = LEFT + index * slot + (slot - bar) / 2
        base = float(HEIGHT - BOTTOM)
        segments = []
        for code in codes:
            n = counts.get(code, 0)
            if not n:
                continue
            height = n / scale_top * plot_height
            base -= height
            segments.append(
                Segment(
                    code,
                    n,
                    round(x, 2),
                    round(base, 2),
                    round(bar, 2),
                    round(height, 2),
                    COLOURS.get(code, OTHER_COLOUR),
                )
            )
        columns.append(Column(start, label(start, bucket), counts, totals[index], segments))
    ticks = [
        Tick(round(HEIGHT - BOTTOM - value / scale_top * plot_height, 2), value)
        for value in (0, scale_top // 2, scale_top)
    ]
    every = 6 if bucket == "hour" else 7
    x_labels = [
        XLabel(round(LEFT + i * slot + slot / 2, 2), columns[i].label)
        for i in range(0, count, every)
    ]
    total = sum(totals)
    unit = "hour" if bucket == "hour" else "day"
    described = ", ".join(f"{code} {sum(c.counts.get(code, 0) for c in columns)}" for code in codes)
    description = (
        f"Stacked bars, one per {unit}, from {columns[0].label} to {columns[-1].label} UTC: "
        f"{total} verifications" + (f" ({described})." if described else ".")
    )
    return Chart(
        key=key,
        title=title,
        description=description,
        columns=columns,
        codes=[(code, COLOURS.get(code, OTHER_COLOUR)) for code in codes],
        total=total,
        ticks=ticks,
        x_labels=x_labels,
    )


def label(start: datetime, bucket: Bucket) -> str:
    return start.strftime("%m-%d %H:00") if bucket == "hour" else start.strftime("%Y-%m-%d")


def nice_ceiling(peak: int) -> int:
    """The axis' top: an even number at least ``peak`` (and 2 when nothing was counted), of
    the form 1, 2 or 5 times a power of ten where that is possible, so ticks read easily."""
    if peak <= 2:
        return 2
    power = 1
    while True:
        for factor in (1, 2, 5):
            candidate = factor * power
            if candidate >= peak and candidate % 2 == 0:
                return candidate
        power *= 10
