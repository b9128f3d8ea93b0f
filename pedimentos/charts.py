"""Server-rendered SVG chart of recent runs for the admin's runs list.

Each run is one stacked bar (succeeded, failed and skipped services) with
its success rate drawn as a line on a 0-100 % scale, so a night with many
failures stands out without any JavaScript. Bars are labelled with the run
number ("#5", or "#4 R" for a retry run). Runs that stopped early have a
solid red outline and their status written above the bar. Retry runs stay
out of the rate line, because they only hold services that failed before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from .models import Run

WIDTH = 960
HEIGHT = 256
MARGIN_LEFT = 52
MARGIN_RIGHT = 52
MARGIN_TOP = 34
MARGIN_BOTTOM = 54
# Fewer runs than this still get bars of the same width, so two runs do
# not turn into two wide blocks.
MIN_SLOTS = 12

COLOR_SUCCEEDED = "#3a8d4f"
COLOR_FAILED = "#c63d2f"
COLOR_SKIPPED = "#a0a7ad"
COLOR_RATE = "#1d5a96"
COLOR_GRID = "#d9dde1"
COLOR_TEXT = "#4a5056"

# Estimated width in px of one character of a bold 10 px bar label.
LABEL_CHAR_WIDTH = 6.5
# Statuses of runs that stopped before finishing their pages or list.
STOPPED_STATUSES = (Run.Status.ABORTED, Run.Status.INTERRUPTED, Run.Status.ABANDONED)


@dataclass(frozen=True)
class _Bar:
    run: Run
    x: float
    width: float


def runs_chart_svg(runs: list[Run], *, link_for=None) -> SafeString:
    """Render the runs (oldest first) as an SVG bar chart with a rate line.

    ``link_for(run)`` returns the URL a bar links to, or None for no link.
    """
    if not runs:
        empty = escape(_("No runs yet."))
        return mark_safe(f'<p class="pedimentos-chart-empty">{empty}</p>')

    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_width / max(len(runs), MIN_SLOTS)
    bars = [
        _Bar(run=run, x=MARGIN_LEFT + index * slot + slot * 0.15, width=slot * 0.7)
        for index, run in enumerate(runs)
    ]
    max_services = max(_total(run) for run in runs) or 1
    scale_max = _nice_ceiling(max_services)

    title = _("Last %(count)d runs: services per run and success rate") % {
        "count": len(runs)
    }
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="pedimentos-chart" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{escape(title)}" '
        f'style="max-width:{WIDTH}px;font-family:sans-serif;font-size:11px">',
        f"<title>{escape(title)}</title>",
    ]
    parts += _grid(scale_max, plot_height)
    parts += _legend()
    for bar in bars:
        parts.append(_bar_svg(bar, scale_max, plot_height, link_for))
    parts.append(_rate_line(bars, plot_height))
    parts += _x_labels(bars)
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _total(run: Run) -> int:
    return run.succeeded + run.failed + run.skipped


def _nice_ceiling(value: int) -> int:
    """Round up to 1, 2 or 5 times a power of ten, for a readable axis."""
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _y(fraction: float, plot_height: float) -> float:
    return MARGIN_TOP + plot_height * (1 - fraction)


def _tick_count(scale_max: int) -> int:
    """Return how many intervals split 0..scale_max into whole numbers."""
    for count in (4, 5, 2):
        if scale_max >= count and scale_max % count == 0:
            return count
    return 1


def _grid(scale_max: int, plot_height: float) -> list[str]:
    right = WIDTH - MARGIN_RIGHT
    parts = []
    ticks = _tick_count(scale_max)
    for step in range(ticks + 1):
        fraction = step / ticks
        y = _y(fraction, plot_height)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" '
            f'stroke="{COLOR_GRID}" stroke-width="1"/>'
        )
        services = scale_max * step // ticks
        parts.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="{COLOR_TEXT}">{services}</text>'
        )
        parts.append(
            f'<text x="{right + 6}" y="{y + 4:.1f}" fill="{COLOR_RATE}">'
            f"{round(fraction * 100)} %</text>"
        )
    # Axis titles: services on the left, success rate on the right.
    services_title = escape(_("services"))
    rate_title = escape(_("success"))
    parts.append(
        f'<text x="{MARGIN_LEFT - 6}" y="{MARGIN_TOP - 10}" text-anchor="end" '
        f'fill="{COLOR_TEXT}">{services_title}</text>'
    )
    parts.append(
        f'<text x="{right + 6}" y="{MARGIN_TOP - 10}" fill="{COLOR_RATE}">'
        f"{rate_title}</text>"
    )
    return parts


def _legend() -> list[str]:
    entries = [
        (COLOR_SUCCEEDED, _("succeeded")),
        (COLOR_FAILED, _("failed")),
        (COLOR_SKIPPED, _("skipped")),
        (COLOR_RATE, _("success rate")),
    ]
    parts = []
    x = MARGIN_LEFT + 60
    for color, label in entries:
        parts.append(
            f'<rect x="{x}" y="8" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14}" y="17" fill="{COLOR_TEXT}">{escape(label)}</text>'
        )
        x += 24 + 7 * len(label)
    return parts


def _bar_svg(bar: _Bar, scale_max: int, plot_height: float, link_for) -> str:
    run = bar.run
    segments = [
        (run.succeeded, COLOR_SUCCEEDED),
        (run.failed, COLOR_FAILED),
        (run.skipped, COLOR_SKIPPED),
    ]
    parts = [f"<title>{escape(_bar_tooltip(run))}</title>"]

    base = 0
    for count, color in segments:
        if not count:
            continue
        top = _y((base + count) / scale_max, plot_height)
        height = plot_height * count / scale_max
        parts.append(
            f'<rect x="{bar.x:.1f}" y="{top:.1f}" width="{bar.width:.1f}" '
            f'height="{height:.1f}" fill="{color}"/>'
        )
        base += count

    if run.status != Run.Status.COMPLETED:
        # Runs that did not complete get an outline, and an empty run still
        # gets a visible mark at the baseline. A run still going is dashed
        # grey; a run that stopped early is solid red and names its status.
        top = _y(base / scale_max, plot_height)
        height = max(plot_height * base / scale_max, 2)
        if run.status in STOPPED_STATUSES:
            stroke = f'stroke="{COLOR_FAILED}" stroke-width="2"'
        else:
            stroke = f'stroke="{COLOR_SKIPPED}" stroke-width="2" stroke-dasharray="4 2"'
        parts.append(
            f'<rect x="{bar.x:.1f}" y="{top - (2 if not base else 0):.1f}" '
            f'width="{bar.width:.1f}" height="{height:.1f}" fill="none" {stroke}/>'
        )

    parts += _bar_marks(bar, _y(base / scale_max, plot_height))

    # A transparent full-height rectangle makes the whole slot clickable and
    # shows the tooltip even where the bar is short.
    parts.append(
        f'<rect x="{bar.x:.1f}" y="{MARGIN_TOP}" width="{bar.width:.1f}" '
        f'height="{plot_height:.1f}" fill="transparent"/>'
    )

    body = "".join(parts)
    url = link_for(run) if link_for else None
    if url:
        return f'<a href="{escape(url)}" class="pedimentos-chart-bar">{body}</a>'
    return f'<g class="pedimentos-chart-bar">{body}</g>'


def _bar_marks(bar: _Bar, top: float) -> list[str]:
    """Write the marks above a bar: "R" for a retry run, the status of a run
    that stopped early. They show even where the run number under the bar is
    left out for lack of room.
    """
    # NOTE: with 30 runs a slot is about 28 px wide, so the status labels of
    # two neighbouring stopped runs can overlap.
    run = bar.run
    marks = []
    if run.kind == Run.Kind.RETRY:
        marks.append((_("R"), COLOR_TEXT))
    if run.status in STOPPED_STATUSES:
        marks.append((run.get_status_display().lower(), COLOR_FAILED))
    parts = []
    y = top - 6
    for text, color in marks:
        parts.append(
            f'<text x="{bar.x + bar.width / 2:.1f}" y="{y:.1f}" '
            f'text-anchor="middle" font-size="9" fill="{color}">{escape(text)}</text>'
        )
        y -= 11
    return parts


def _bar_tooltip(run: Run) -> str:
    started = date_format(timezone.localtime(run.started_at), "SHORT_DATETIME_FORMAT")
    rate = run.success_rate
    rate_text = _("no services processed") if rate is None else f"{rate:.1f} %"
    if run.kind == Run.Kind.RETRY:
        text = _(
            "Retry run %(id)s (%(status)s), %(started)s: %(succeeded)d succeeded, "
            "%(failed)d failed, %(skipped)d skipped; success rate %(rate)s, left "
            "out of the rate line"
        )
    else:
        text = _(
            "Run %(id)s (%(status)s), %(started)s: %(succeeded)d succeeded, "
            "%(failed)d failed, %(skipped)d skipped; success rate %(rate)s"
        )
    return text % {
        "id": run.pk,
        "status": run.get_status_display(),
        "started": started,
        "succeeded": run.succeeded,
        "failed": run.failed,
        "skipped": run.skipped,
        "rate": rate_text,
    }


def _rate_line(bars: list[_Bar], plot_height: float) -> str:
    points = []
    markers = []
    for bar in bars:
        rate = bar.run.success_rate
        if rate is None or bar.run.kind == Run.Kind.RETRY:
            continue
        x = bar.x + bar.width / 2
        y = _y(rate / 100, plot_height)
        points.append(f"{x:.1f},{y:.1f}")
        markers.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#fff" '
            f'stroke="{COLOR_RATE}" stroke-width="2"/>'
        )
    line = ""
    if len(points) > 1:
        line = (
            f'<polyline points="{" ".join(points)}" fill="none" '
            f'stroke="{COLOR_RATE}" stroke-width="2"/>'
        )
    # pointer-events off, so the bars underneath keep their links.
    return f'<g pointer-events="none">{line}{"".join(markers)}</g>'


def run_label(run: Run) -> str:
    """Return the bar label of a run: '#5', or '#4 R' for a retry run."""
    if run.kind == Run.Kind.RETRY:
        return _("#%(id)s R") % {"id": run.pk}
    return f"#{run.pk}"


def _x_labels(bars: list[_Bar]) -> list[str]:
    # Dates take about 60 px, so with many runs only every few bars get one;
    # run numbers are shorter and are written under every bar that fits them.
    every = max(1, math.ceil(len(bars) / 10))
    slot = bars[0].width / 0.7
    widest = max(len(run_label(bar.run)) for bar in bars) * LABEL_CHAR_WIDTH
    label_every = 1 if widest + 4 <= slot else every
    y = HEIGHT - MARGIN_BOTTOM + 14
    parts = []
    for index, bar in enumerate(bars):
        x = bar.x + bar.width / 2
        last = index == len(bars) - 1
        if index % label_every == 0 or last:
            parts.append(
                f'<text x="{x:.1f}" y="{y}" text-anchor="middle" font-size="10" '
                f'font-weight="bold" fill="{COLOR_TEXT}">'
                f"{escape(run_label(bar.run))}</text>"
            )
        if index % every and not last:
            continue
        started = timezone.localtime(bar.run.started_at)
        parts.append(
            f'<text x="{x:.1f}" y="{y + 14}" text-anchor="middle" fill="{COLOR_TEXT}">'
            f"{escape(date_format(started, 'SHORT_DATE_FORMAT'))}</text>"
            f'<text x="{x:.1f}" y="{y + 27}" text-anchor="middle" '
            f'fill="{COLOR_TEXT}">{escape(date_format(started, "TIME_FORMAT"))}</text>'
        )
    return parts
