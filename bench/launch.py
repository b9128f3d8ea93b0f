"""Run a command, wait for it and write its wall time and resource usage as JSON.

Usage: ``python bench/launch.py RESULT.json PROGRAM [ARGS...]``

The benchmark starts each measured program through this small process.
On fork and exec, Linux counts the resident set of the forking process into
the new program's ``ru_maxrss``. The benchmark's own process grows with the
size of the case, so the program is forked from here instead, where the
resident set is about 10 MB.
"""

import json
import os
import subprocess
import sys
import time


def main() -> int:
    result_path, args = sys.argv[1], sys.argv[2:]
    started = time.monotonic()
    process = subprocess.Popen(args)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    returncode = os.waitstatus_to_exitcode(status)
    with open(result_path, "w", encoding="utf-8") as result:
        json.dump({
            "returncode": returncode,
            "wall_seconds": wall,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            # Linux reports ru_maxrss in KiB.
            "max_rss_bytes": usage.ru_maxrss * 1024,
        }, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
