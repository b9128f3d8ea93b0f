"""Measure one program (the engine or the baseline) on one case, end to end."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

from .cases import Case
from .ledger import read_requested, request_delta, tally
from .procs import MANAGE, PYTHON, REPO_ROOT, SandboxProcess, child_env, run_measured

TOOL = "tool"
BASELINE = "baseline"
BASELINE_SCRIPT = str(REPO_ROOT / "bench" / "baseline.py")


def migrate_template(workdir: Path) -> Path:
    """Create a migrated SQLite file that each measurement of the engine copies."""
    path = workdir / "template.sqlite3"
    env = child_env(DATABASE_URL=f"sqlite:///{path}")
    subprocess.run(
        [PYTHON, MANAGE, "migrate", "--verbosity", "0"],
        env=env, cwd=REPO_ROOT, check=True,
    )
    return path


def measure(case: Case, program: str, *, workdir: Path, template_db: Path) -> dict:
    """Run ``program`` on a freshly seeded sandbox and return one result row."""
    casedir = workdir / f"{case.name}-{program}"
    casedir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(18)
    with SandboxProcess(services=case.services, latency=case.latency, token=token,
                        workdir=casedir, extra_args=case.sandbox_args()) as sandbox:
        requested = read_requested(sandbox, pages=case.pages, page_size=case.page_size)
        before = sandbox.stats()
        env = child_env(
            API_URL=sandbox.api_url,
            API_TOKEN=token,
            VUCEM_URL=sandbox.vucem_url,
            REQUEST_DELAY_SECONDS=case.delay,
            API_PAGE_SIZE=case.page_size,
        )
        if program == TOOL:
            database = casedir / "db.sqlite3"
            shutil.copyfile(template_db, database)
            env["DATABASE_URL"] = f"sqlite:///{database}"
            args = [PYTHON, MANAGE, "process_pedimentos", "1", str(case.pages),
                    "--workers", str(case.workers), "--json"]
        else:
            args = [PYTHON, BASELINE_SCRIPT, "1", str(case.pages),
                    "--workers", str(case.workers), "--delay", str(case.delay)]
        load_before = os.getloadavg()[0]
        usage = run_measured(args, env=env, workdir=casedir, name=program)
        load = max(load_before, os.getloadavg()[0])
        after = sandbox.stats()
        requests = request_delta(before, after)
        counts = tally(sandbox, requested, requests["vucem_by_number"])
    row = _row(case, program, usage, requests, counts, sandbox.cpu_seconds)
    # The 1-minute load average before or after the run, whichever is higher:
    # above the core count, other processes competed for the CPU.
    row["load_average"] = round(load, 2)
    return row


def _row(case, program, usage, requests, counts, sandbox_cpu) -> dict:
    n = case.services
    handled = counts.done + counts.failed
    summary = _last_json_line(usage.stdout)
    wall = usage.wall_seconds
    per_service = max(handled, 1)
    return {
        "case": case.name,
        "program": program,
        "services": n,
        "workers": case.workers,
        "delay": case.delay,
        "latency": case.latency,
        "page_size": case.page_size,
        "pages": case.pages,
        "returncode": usage.returncode,
        "wall_seconds": round(wall, 3),
        "run_seconds": summary.get("duration_seconds"),
        "bound_seconds": round(case.bound_seconds, 3),
        "efficiency": round(case.bound_seconds / wall, 3),
        "correct_per_second": round(counts.correct / wall, 2),
        "handled_per_second": round(handled / wall, 2),
        "cpu_seconds": round(usage.cpu_seconds, 3),
        "cpu_ms_per_service": round(1000 * usage.cpu_seconds / per_service, 3),
        "max_rss_mb": round(usage.max_rss_bytes / 2**20, 1),
        "sandbox_cpu_seconds": round(sandbox_cpu or 0.0, 3),
        "backend_requests": requests["backend"],
        "backend_per_service": round(
            (requests["backend_total"] - requests["pages"]) / per_service, 3
        ),
        "page_fetches": requests["pages"],
        "credential_fetches": requests["credentials"],
        "vucem_requests": requests["vucem_total"],
        "vucem_per_service": round(requests["vucem_total"] / per_service, 3),
        "vucem_outcomes": requests["vucem_outcomes"],
        "requested": counts.requested,
        "done": counts.done,
        "failed": counts.failed,
        "correct": counts.correct,
        "skipped": counts.skipped,
        "done_twice": counts.done_twice,
        "outside": counts.outside,
        "summary": summary,
    }


def _last_json_line(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}
