"""Built-in sandbox: a simulated backend API and a simulated VUCEM.

``Sandbox(SandboxConfig(...)).start()`` serves both on loopback ports with
seeded data, so the tool, its tests and benchmarks run without network
access. ``python manage.py sandbox`` serves them until interrupted.
"""

from .config import BackendFaults, SandboxConfig, VucemFaults
from .sandbox import Sandbox

__all__ = ["BackendFaults", "Sandbox", "SandboxConfig", "VucemFaults"]
