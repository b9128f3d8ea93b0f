"""Smoke test of the benchmark: tiny cases, checked counts, no timing."""

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_bench_smoke_counts(tmp_path):
    out = tmp_path / "smoke.json"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "run.py"), "--smoke", "--json-out", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    rows = {(row["case"], row["program"]): row for row in json.loads(out.read_text())}
    assert set(rows) == {("smoke", "tool"), ("smoke", "baseline"), ("smoke-faults", "tool")}

    clean = rows[("smoke", "tool")]
    assert clean["correct"] == clean["services"] == 20
    assert clean["skipped"] == 0
    assert clean["done_twice"] == 0
    assert clean["vucem_requests"] == 20
    assert clean["page_fetches"] == 2
    assert clean["backend_requests"]["POST document"] == 20
    assert clean["backend_requests"]["PUT service"] == 20
    assert clean["max_rss_mb"] > 0
    assert clean["cpu_seconds"] > 0

    faults = rows[("smoke-faults", "tool")]
    assert faults["failed"] > 0
    assert faults["failed"] == faults["vucem_outcomes"]["fault"]
    assert faults["vucem_requests"] == 20
    assert faults["done"] + faults["failed"] == 20

    baseline = rows[("smoke", "baseline")]
    assert baseline["returncode"] == 0
    assert baseline["correct"] + baseline["skipped"] + baseline["done_twice"] <= 20
