"""Benchmark the engine against its physical limit and the original algorithm.

Each measurement starts a fresh ``manage.py sandbox`` process, runs
``manage.py process_pedimentos`` (or ``bench/baseline.py``) in another
process, reads its CPU time and peak RSS from ``os.wait4`` (in
``bench/launch.py``), and reads the request counts from the sandbox's
``/_sandbox/stats``. See docs/benchmarks.md for the method and the latest
results.

    python bench/run.py                  # every case, rewrites docs/benchmarks.md
    python bench/run.py --cases n200 w32 # some cases, table on stdout only
    python bench/run.py --smoke          # tiny cases that check the counts (CI)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make "bench" importable from the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cases import FULL_CASES, SMOKE_CASES
from bench.measure import BASELINE, TOOL, measure, migrate_template
from bench.procs import REPO_ROOT
from bench.report import check_smoke, check_targets, render, write_docs

DOCS_PATH = REPO_ROOT / "docs" / "benchmarks.md"
RESULTS_DIR = REPO_ROOT / "bench" / "results"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark process_pedimentos.")
    parser.add_argument("--smoke", action="store_true",
                        help="Run the tiny smoke cases and check the counts; exit 1 "
                             "if one is wrong. Writes no documentation.")
    parser.add_argument("--cases", nargs="+", metavar="NAME",
                        help="Run only these cases: "
                             + ", ".join(case.name for case in FULL_CASES) + ".")
    parser.add_argument("--no-baseline", action="store_true",
                        help="Measure the engine only.")
    parser.add_argument("--json-out", type=Path,
                        help="Write the raw result rows to this JSON file "
                             "(default bench/results/<time>.json).")
    parser.add_argument("--docs", type=Path, default=None,
                        help="Markdown file whose results section is rewritten "
                             "(default docs/benchmarks.md when every case runs).")
    args = parser.parse_args(argv)

    cases = SMOKE_CASES if args.smoke else FULL_CASES
    if args.cases:
        known = {case.name: case for case in FULL_CASES + SMOKE_CASES}
        unknown = [name for name in args.cases if name not in known]
        if unknown:
            parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(known)}")
        cases = tuple(known[name] for name in args.cases)

    rows = []
    with tempfile.TemporaryDirectory(prefix="pedimentos-bench-") as tmp:
        workdir = Path(tmp)
        template_db = migrate_template(workdir)
        for case in cases:
            programs = [TOOL]
            if case.with_baseline and not args.no_baseline:
                programs.append(BASELINE)
            for program in programs:
                print(f"{case.name}: {program}, N={case.services} W={case.workers} "
                      f"L={case.latency:g} s d={case.delay:g} s, bound "
                      f"{case.bound_seconds:.1f} s ...", file=sys.stderr, flush=True)
                row = measure(case, program, workdir=workdir, template_db=template_db)
                rows.append(row)
                print(f"  wall {row['wall_seconds']:.1f} s, efficiency "
                      f"{row['efficiency']:.2f}, correct {row['correct']}/{row['requested']}, "
                      f"CPU {row['cpu_ms_per_service']:.2f} ms/service, "
                      f"RSS {row['max_rss_mb']:.0f} MB", file=sys.stderr, flush=True)

    json_out = args.json_out or RESULTS_DIR / time.strftime("%Y%m%d-%H%M%S.json")
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(rows, indent=2), encoding="utf-8")

    if args.smoke:
        problems = check_smoke(rows, cases)
        for problem in problems:
            print(f"SMOKE FAILED: {problem}", file=sys.stderr)
        return 1 if problems else 0

    section = render(rows, check_targets(rows))
    print(section)
    docs = args.docs or (DOCS_PATH if not args.cases else None)
    if docs is not None:
        write_docs(docs, section)
        print(f"Results written to {docs}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
