"""Check the targets and render the results as Markdown."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import time
from pathlib import Path

from .measure import BASELINE, TOOL
from .procs import REPO_ROOT

START_MARK = "<!-- bench:results:start -->"
END_MARK = "<!-- bench:results:end -->"

EFFICIENCY_TARGET = 0.9
SPEEDUP_TARGET = 1.5
RSS_LIMIT_MB = 150.0
RSS_GROWTH_LIMIT = 0.2
CPU_LIMIT_MS = 2.0
BACKEND_LIMIT = 2.1


def check_smoke(rows: list[dict], cases) -> list[str]:
    """Return what is wrong with the smoke rows (an empty list when all is right)."""
    problems = []
    by_name = {case.name: case for case in cases}
    for row in rows:
        case = by_name[row["case"]]
        label = f"{row['case']}/{row['program']}"
        if row["program"] == BASELINE:
            # The baseline's counts depend on thread timing; it only has to run.
            if row["returncode"] != 0:
                problems.append(f"{label}: exit status {row['returncode']}")
            continue
        n = case.services
        expected_status = 3 if case.vucem_fault else 0
        if row["returncode"] != expected_status:
            problems.append(f"{label}: exit status {row['returncode']}, expected {expected_status}")
        if row["done"] + row["failed"] != n or row["correct"] != n:
            problems.append(f"{label}: {row['correct']} of {n} services processed once")
        if row["skipped"] or row["done_twice"] or row["outside"]:
            problems.append(f"{label}: {row['skipped']} skipped, {row['done_twice']} done "
                            f"twice, {row['outside']} outside the requested pages")
        if row["vucem_requests"] != n:
            problems.append(f"{label}: {row['vucem_requests']} VUCEM requests for {n} services")
        if row["page_fetches"] != case.pages:
            problems.append(f"{label}: {row['page_fetches']} page fetches, expected {case.pages}")
        backend = row["backend_requests"]
        if backend.get("POST document", 0) != row["done"]:
            problems.append(f"{label}: {backend.get('POST document', 0)} uploads for "
                            f"{row['done']} services done")
        if backend.get("PUT service", 0) != n:
            problems.append(f"{label}: {backend.get('PUT service', 0)} state updates for {n}")
        if row["credential_fetches"] > case.importers:
            problems.append(f"{label}: {row['credential_fetches']} credential fetches for "
                            f"{case.importers} importers")
        failed_by_vucem = row["vucem_outcomes"].get("fault", 0)
        if row["failed"] != failed_by_vucem:
            problems.append(f"{label}: {row['failed']} failed, but VUCEM sent "
                            f"{failed_by_vucem} faults")
    return problems


def check_targets(rows: list[dict]) -> list[tuple[str, bool | None, str]]:
    """Return (target, met, detail) for each target; met is None when not measured."""
    tool = {row["case"]: row for row in rows if row["program"] == TOOL}
    baseline = {row["case"]: row for row in rows if row["program"] == BASELINE}
    results = []

    measured = [tool[name] for name in ("n2000", "n20000") if name in tool]
    results.append((
        f"Efficiency >= {EFFICIENCY_TARGET} at N = 2,000 and 20,000",
        _all(row["efficiency"] >= EFFICIENCY_TARGET for row in measured),
        ", ".join(f"{row['efficiency']:.3f} at N={row['services']}" for row in measured),
    ))

    pairs = [(tool[name], baseline[name]) for name in tool if name in baseline]
    ratios = [(t, b, t["correct_per_second"] / max(b["correct_per_second"], 1e-9))
              for t, b in pairs]
    clean = all(t["skipped"] == 0 and t["done_twice"] == 0 for t, _ in pairs)
    results.append((
        f"Throughput >= {SPEEDUP_TARGET}x the baseline, nothing skipped or done twice",
        _all(ratio >= SPEEDUP_TARGET for _, _, ratio in ratios) if ratios else None,
        "; ".join(
            f"{t['case']}: {ratio:.2f}x (baseline skipped {b['skipped']}, done twice "
            f"{b['done_twice']})" for t, b, ratio in ratios
        ) + ("" if clean else "; the engine skipped or repeated services"),
    ))

    if "n20000" in tool and "n2000" in tool:
        big, small = tool["n20000"]["max_rss_mb"], tool["n2000"]["max_rss_mb"]
        growth = big / small - 1
        met = big <= RSS_LIMIT_MB and growth <= RSS_GROWTH_LIMIT
        detail = f"{big:.0f} MB at N=20,000, {small:.0f} MB at N=2,000 ({growth:+.0%})"
    else:
        met, detail = None, "needs the n2000 and n20000 cases"
    results.append((
        f"Peak RSS <= {RSS_LIMIT_MB:.0f} MB at N = 20,000, within "
        f"{RSS_GROWTH_LIMIT:.0%} of N = 2,000", met, detail,
    ))

    results.append((
        f"<= {CPU_LIMIT_MS:g} ms of CPU per service (N = 2,000 and 20,000)",
        _all(row["cpu_ms_per_service"] <= CPU_LIMIT_MS for row in measured),
        ", ".join(f"{row['cpu_ms_per_service']:.2f} ms at N={row['services']}"
                  for row in measured) + _marginal_cpu(tool),
    ))

    clean_rows = [row for row in tool.values() if not row["vucem_outcomes"].get("fault")]
    fault_rows = [row for row in tool.values() if row["vucem_outcomes"].get("fault")]
    vucem_ok = all(row["vucem_requests"] == row["services"] for row in tool.values())
    results.append((
        "VUCEM requests per service = 1.0; a permanent failure costs one request",
        vucem_ok if tool else None,
        ", ".join(f"{row['case']}: {row['vucem_per_service']:.3f}" for row in clean_rows)
        + "".join(f"; {row['case']}: {row['vucem_requests']} requests for "
                  f"{row['services']} services, {row['failed']} failed permanently"
                  for row in fault_rows),
    ))

    results.append((
        f"Backend requests per service <= {BACKEND_LIMIT} plus the page fetches",
        _all(row["backend_per_service"] <= BACKEND_LIMIT for row in tool.values()),
        ", ".join(f"{row['case']}: {row['backend_per_service']:.3f}"
                  for row in tool.values()),
    ))
    return results


def _all(values) -> bool | None:
    values = list(values)
    return all(values) if values else None


def _marginal_cpu(tool: dict) -> str:
    if "n2000" not in tool or "n20000" not in tool:
        return ""
    big, small = tool["n20000"], tool["n2000"]
    extra = (big["cpu_seconds"] - small["cpu_seconds"]) / (big["services"] - small["services"])
    return f"; {1000 * extra:.2f} ms for each service beyond the first 2,000"


def machine() -> dict:
    """Return the CPU model, cores, RAM, Python version and date of this run."""
    cpu = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        cpu = found.group(1).strip() if found else cpu
    except OSError:
        pass
    ram = ""
    try:
        found = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
        ram = f"{int(found.group(1)) / 2**20:.1f} GiB" if found else ""
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
        capture_output=True, text=True, check=False,
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram": ram,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "commit": commit,
    }


def render(rows: list[dict], targets) -> str:
    """Return the Markdown results section: machine, tables and targets."""
    info = machine()
    lines = [
        f"Measured on {info['date']} on {info['cpu']}, {info['cores']} cores, "
        f"{info['ram']} RAM, {info['os']}, Python {info['python']}, commit "
        f"{info['commit'] or 'unknown'} (uncommitted changes may be included). The "
        "sandbox and the measured program share these cores.",
        "",
        "### The engine",
        "",
        "| case | N | W | L s | d s | wall s | run s | services/s | bound s | efficiency "
        "| CPU ms/service | peak RSS MB | backend req/service | page fetches "
        "| VUCEM req/service | correct | skipped | done twice | load |",
        "|" + " --- |" * 19,
    ]
    for row in rows:
        if row["program"] != TOOL:
            continue
        lines.append(
            f"| {row['case']} | {row['services']} | {row['workers']} | {row['latency']:g} "
            f"| {row['delay']:g} | {row['wall_seconds']:.1f} | {row['run_seconds'] or 0:.1f} "
            f"| {row['handled_per_second']:.1f} | {row['bound_seconds']:.1f} "
            f"| {row['efficiency']:.3f} | {row['cpu_ms_per_service']:.2f} "
            f"| {row['max_rss_mb']:.0f} | {row['backend_per_service']:.3f} "
            f"| {row['page_fetches']} | {row['vucem_per_service']:.3f} "
            f"| {row['correct']} | {row['skipped']} | {row['done_twice']} "
            f"| {row['load_average']:.1f} |"
        )

    pairs = [
        (tool, base)
        for tool in rows if tool["program"] == TOOL
        for base in rows if base["program"] == BASELINE and base["case"] == tool["case"]
    ]
    if pairs:
        lines += [
            "",
            "### The engine against the baseline",
            "",
            "Throughput counts only services processed correctly: requested, "
            "handled once, with one VUCEM request.",
            "",
            "| case | N | W | d s | program | wall s | correct | skipped | done twice "
            "| VUCEM requests | correct/s | ratio | CPU ms/service | peak RSS MB |",
            "|" + " --- |" * 14,
        ]
        for tool, base in pairs:
            ratio = tool["correct_per_second"] / max(base["correct_per_second"], 1e-9)
            for row, ratio_text in ((tool, f"{ratio:.2f}x"), (base, "1.00x")):
                lines.append(
                    f"| {row['case']} | {row['services']} | {row['workers']} "
                    f"| {row['delay']:g} | {row['program']} | {row['wall_seconds']:.1f} "
                    f"| {row['correct']} | {row['skipped']} | {row['done_twice']} "
                    f"| {row['vucem_requests']} | {row['correct_per_second']:.1f} "
                    f"| {ratio_text} | {row['cpu_ms_per_service']:.2f} "
                    f"| {row['max_rss_mb']:.0f} |"
                )

    lines += ["", "### Targets", ""]
    for target, met, detail in targets:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[met]
        lines.append(f"- **{verdict}**: {target}. Measured: {detail or 'n/a'}.")
    return "\n".join(lines) + "\n"


def write_docs(path: Path, section: str) -> None:
    """Replace the results section of ``path`` between its markers (or append it)."""
    block = f"{START_MARK}\n{section}{END_MARK}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    if START_MARK in text and END_MARK in text:
        head, rest = text.split(START_MARK, 1)
        tail = rest.split(END_MARK, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")
