"""The SVG chart of recent runs."""

from datetime import timedelta

from django.utils import timezone

import re

from django.utils import translation
from django.utils.formats import date_format

from pedimentos.charts import _nice_ceiling, _tick_count, run_label, runs_chart_svg
from pedimentos.models import Run


def _run(pk, *, succeeded, failed, skipped=0, status=Run.Status.COMPLETED,
         kind=Run.Kind.PAGES):
    started = timezone.now() - timedelta(hours=pk)
    return Run(pk=pk, status=status, kind=kind, started_at=started, service_type=3,
               workers=2,
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


def test_chart_outlines_stopped_run_solid():
    runs = [_run(2, succeeded=3, failed=0, status=Run.Status.ABORTED)]
    with translation.override("en"):
        svg = runs_chart_svg(runs)
    assert f'stroke="{"#c63d2f"}" stroke-width="2"/>' in svg
    assert "stroke-dasharray" not in svg
    assert ">aborted</text>" in svg


def test_chart_outlines_running_run_dashed():
    runs = [_run(2, succeeded=3, failed=0, status=Run.Status.RUNNING)]
    svg = runs_chart_svg(runs)
    assert 'stroke-dasharray="4 2"' in svg


def test_chart_labels_run_numbers():
    runs = [_run(5, succeeded=3, failed=0), _run(4, succeeded=1, failed=1,
                                                 kind=Run.Kind.RETRY)]
    with translation.override("en"):
        svg = runs_chart_svg(runs)
    assert ">#5</text>" in svg
    assert ">#4 R</text>" in svg


def test_run_label_marks_retry():
    assert run_label(_run(7, succeeded=0, failed=0)) == "#7"
    assert run_label(_run(7, succeeded=0, failed=0, kind=Run.Kind.RETRY)) == "#7 R"


def test_chart_rate_line_skips_retry():
    runs = [_run(4, succeeded=10, failed=0), _run(3, succeeded=1, failed=1,
                                                  kind=Run.Kind.RETRY),
            _run(2, succeeded=1, failed=1)]
    svg = runs_chart_svg(runs)
    assert svg.count("<circle") == 2


def test_chart_y_ticks_are_whole():
    for services in (1, 2, 3, 7, 10, 13, 48, 160):
        with translation.override("en"):
            svg = runs_chart_svg([_run(1, succeeded=services, failed=0)])
        ticks = re.findall(r'text-anchor="end" fill="#4a5056">([^<]+)</text>', svg)
        numbers = [t for t in ticks if t != "services"]
        assert numbers, services
        for tick in numbers:
            assert tick.isdigit(), (services, tick)


def test_tick_count_divides_scale():
    for scale in (1, 2, 5, 10, 20, 50, 100, 200):
        assert scale % _tick_count(scale) == 0, scale


def test_chart_dates_follow_locale():
    run = _run(1, succeeded=2, failed=0)
    started = timezone.localtime(run.started_at)
    for language in ("es-mx", "en"):
        with translation.override(language):
            svg = runs_chart_svg([run])
            expected = date_format(started, "SHORT_DATE_FORMAT")
        assert f">{expected}</text>" in svg, language
    with translation.override("es-mx"):
        assert date_format(started, "SHORT_DATE_FORMAT") == started.strftime("%d/%m/%Y")


def test_chart_is_well_formed_xml():
    from xml.etree import ElementTree

    runs = [_run(i, succeeded=i, failed=1) for i in range(1, 31)]
    ElementTree.fromstring(str(runs_chart_svg(runs)))


def test_nice_ceiling():
    assert [_nice_ceiling(v) for v in (1, 3, 7, 10, 11, 48, 160)] == [1, 5, 10, 10, 20, 50, 200]
