"""The SVG chart of recent runs."""

from datetime import timedelta

from django.utils import timezone

from pedimentos.charts import _nice_ceiling, runs_chart_svg
from pedimentos.models import Run


def _run(pk, *, succeeded, failed, skipped=0, status=Run.Status.COMPLETED):
    started = timezone.now() - timedelta(hours=pk)
    return Run(pk=pk, status=status, started_at=started, service_type=3, workers=2,
               succeeded=succeeded, failed=failed, skipped=skipped,
               processed=succeeded + failed)


def test_chart_empty():
    assert "svg" not in runs_chart_svg([])


def test_chart_bars_and_links():
    runs = [_run(3, succeeded=40, failed=0), _run(2, succeeded=5, failed=35)]
    svg = runs_chart_svg(runs, link_for=lambda run: f"/outcomes/?run={run.pk}")
    assert svg.count('class="pedimentos-chart-bar"') == 2
    assert 'href="/outcomes/?run=3"' in svg
    assert 'href="/outcomes/?run=2"' in svg
    assert "12.5 %" in svg  # tooltip of the bad run


def test_chart_rate_line_points():
    runs = [_run(4, succeeded=10, failed=0), _run(3, succeeded=0, failed=0),
            _run(2, succeeded=1, failed=1)]
    svg = runs_chart_svg(runs)
    # A run without processed services has no rate, so no point.
    assert svg.count("<circle") == 2
    assert "<polyline" in svg


def test_chart_marks_unfinished_runs():
    runs = [_run(2, succeeded=3, failed=0, status=Run.Status.ABORTED)]
    assert 'stroke-dasharray="4 2"' in runs_chart_svg(runs)


def test_chart_is_well_formed_xml():
    from xml.etree import ElementTree

    runs = [_run(i, succeeded=i, failed=1) for i in range(1, 31)]
    ElementTree.fromstring(str(runs_chart_svg(runs)))


def test_nice_ceiling():
    assert [_nice_ceiling(v) for v in (1, 3, 7, 10, 11, 48, 160)] == [1, 5, 10, 10, 20, 50, 200]
