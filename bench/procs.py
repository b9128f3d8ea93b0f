"""Child processes of the benchmark: the sandbox server and the measured program.

Each measured program runs in its own process so that its CPU time and peak
resident set size come from the kernel's resource usage of that process
(``os.wait4`` in ``bench/launch.py``), apart from the sandbox and from this
script.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MANAGE = str(REPO_ROOT / "manage.py")
LAUNCHER = str(REPO_ROOT / "bench" / "launch.py")

# Seconds to wait for the sandbox to print its URLs. Seeding 20,000 services
# takes a few seconds on a slow machine.
SANDBOX_START_TIMEOUT = 120.0


@dataclass(frozen=True)
class ChildUsage:
    """Wall time and kernel resource usage of one finished child process."""

    returncode: int
    wall_seconds: float
    cpu_seconds: float
    max_rss_bytes: int
    stdout: str
    stderr: str


def run_measured(args: list[str], *, env: dict[str, str], workdir: Path,
                 name: str) -> ChildUsage:
    """Run ``args`` to completion and return its wall time, CPU and peak RSS.

    The program runs under ``bench/launch.py``, which measures it with
    ``os.wait4``. Output goes to files in ``workdir`` rather than pipes, so a
    chatty program never blocks on a full pipe.
    """
    out_path = workdir / f"{name}.stdout"
    err_path = workdir / f"{name}.stderr"
    usage_path = workdir / f"{name}.usage.json"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        subprocess.run(
            [PYTHON, LAUNCHER, str(usage_path), *args],
            stdout=out, stderr=err, env=env, cwd=REPO_ROOT, check=True,
        )
    usage = json.loads(usage_path.read_text(encoding="utf-8"))
    return ChildUsage(
        returncode=usage["returncode"],
        wall_seconds=usage["wall_seconds"],
        cpu_seconds=usage["cpu_seconds"],
        max_rss_bytes=usage["max_rss_bytes"],
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
        stderr=err_path.read_text(encoding="utf-8", errors="replace"),
    )


def child_env(**values) -> dict[str, str]:
    """Return this process's environment with ``values`` added, as strings."""
    env = dict(os.environ)
    env.update({key: str(value) for key, value in values.items()})
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    env["PYTHONUNBUFFERED"] = "1"
    return env


class SandboxProcess:
    """A ``manage.py sandbox`` server in its own process, on free loopback ports."""

    def __init__(self, *, services: int, latency: float, token: str, workdir: Path,
                 extra_args: tuple[str, ...] = ()):
        self.args = [
            PYTHON, MANAGE, "sandbox",
            "--services", str(services),
            "--latency", str(latency),
            "--no-failures",
            "--token", token,
            "--backend-port", "0",
            "--vucem-port", "0",
            *extra_args,
        ]
        self.token = token
        self.workdir = workdir
        self.api_url = ""
        self.vucem_url = ""
        self.process: subprocess.Popen | None = None
        self.cpu_seconds: float | None = None

    def start(self) -> SandboxProcess:
        """Start the server and read its URLs from the banner it prints."""
        self._log = (self.workdir / "sandbox.stderr").open("wb")
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=self._log, cwd=REPO_ROOT,
            env=child_env(), text=True,
        )
        deadline = time.monotonic() + SANDBOX_START_TIMEOUT
        while not (self.api_url and self.vucem_url):
            line = self.process.stdout.readline()
            if not line:
                self.stop()
                raise RuntimeError(
                    "The sandbox exited before printing its URLs; see "
                    f"{self.workdir / 'sandbox.stderr'}"
                )
            if line.startswith("API_URL="):
                self.api_url = line.split("=", 1)[1].strip()
            elif line.startswith("VUCEM_URL="):
                self.vucem_url = line.split("=", 1)[1].strip()
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The sandbox printed no URLs in {SANDBOX_START_TIMEOUT:g} s")
        return self

    @property
    def base_url(self) -> str:
        """Backend origin without the API prefix, where ``/_sandbox/stats`` lives."""
        return self.api_url.split("/api/", 1)[0]

    def stats(self) -> dict:
        """Return the request counts from ``GET /_sandbox/stats``."""
        return self.get_json(self.base_url + "/_sandbox/stats")

    def get_json(self, url: str):
        """GET ``url`` from the backend with the sandbox token and decode the JSON."""
        request = urllib.request.Request(url, headers={"Authorization": f"Token {self.token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    def stop(self) -> None:
        """Stop the server with SIGTERM and record the CPU time it used."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            _, status, usage = _wait4_with_timeout(self.process.pid, 30.0)
        except TimeoutError:
            self.process.kill()
            _, status, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self.cpu_seconds = usage.ru_utime + usage.ru_stime
        self.process.stdout.close()
        self._log.close()

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _wait4_with_timeout(pid: int, timeout: float) -> tuple[int, int, resource.struct_rusage]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reaped, status, usage = os.wait4(pid, os.WNOHANG)
        if reaped:
            return reaped, status, usage
        time.sleep(0.05)
    raise TimeoutError(f"Process {pid} did not exit within {timeout:g} s")
