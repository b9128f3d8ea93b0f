"""Benchmark cases and the lower bound on the time each one can take."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One benchmark configuration: data size, workers, VUCEM latency and delay.

    ``latency`` is the simulated VUCEM's reply time L and ``delay`` the
    REQUEST_DELAY_SECONDS d, both in seconds. ``vucem_fault`` is the share
    of VUCEM requests that get a permanent S:Server SOAP fault.
    """

    name: str
    services: int
    workers: int
    latency: float
    delay: float
    page_size: int = 10
    vucem_fault: float = 0.0
    importers: int = 6
    with_baseline: bool = True

    @property
    def pages(self) -> int:
        """Pages that hold every seeded service: ceil(N / page size)."""
        return max(1, math.ceil(self.services / self.page_size))

    @property
    def bound_seconds(self) -> float:
        """Fastest possible time: max(N·d, N·L/W).

        Only one VUCEM request may start every d seconds, and W workers can
        have at most W requests of L seconds in flight.
        """
        n = self.services
        return max(n * self.delay, n * self.latency / self.workers)

    def sandbox_args(self) -> tuple[str, ...]:
        """Extra ``manage.py sandbox`` options for this case."""
        args = ["--importers", str(self.importers)]
        if self.vucem_fault:
            args += ["--vucem-fault", str(self.vucem_fault)]
        return tuple(args)


FULL_CASES = (
    Case("n200", services=200, workers=8, latency=0.15, delay=0.02),
    Case("n2000", services=2_000, workers=8, latency=0.15, delay=0.02),
    # The baseline at N = 20,000 would add about 4 minutes and shows nothing
    # that N = 2,000 does not.
    Case("n20000", services=20_000, workers=8, latency=0.15, delay=0.02,
         with_baseline=False),
    Case("w32", services=1_000, workers=32, latency=1.0, delay=0.05),
    # 10 % of the VUCEM requests get a permanent SOAP fault: each of those
    # services must cost one VUCEM request and end failed.
    Case("faults", services=200, workers=8, latency=0.15, delay=0.02, vucem_fault=0.1),
)

# Tiny cases for the CI smoke test: they check the counts, not the speed.
SMOKE_CASES = (
    Case("smoke", services=20, workers=4, latency=0.01, delay=0.005, importers=2),
    Case("smoke-faults", services=20, workers=4, latency=0.01, delay=0.005,
         vucem_fault=0.3, importers=2, with_baseline=False),
)
