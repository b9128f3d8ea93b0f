"""Serve the simulated backend API and VUCEM on loopback until interrupted."""

from __future__ import annotations

import dataclasses
import errno
import secrets
import signal
import socket
import threading

from django.core.management.base import BaseCommand, CommandError

from pedimentos.sandbox import BackendFaults, Sandbox, SandboxConfig, VucemFaults
from pedimentos.sandbox.httpserver import is_loopback

EXIT_USAGE = 2
MAX_PORT = 65535

# Command-line option -> VucemFaults field, for the share knobs.
VUCEM_SHARE_OPTIONS = {
    "vucem_503": "http_503",
    "vucem_502": "html_502",
    "vucem_drop": "drop",
    "vucem_hang": "hang",
    "vucem_429": "rate_limited",
    "vucem_fault": "soap_fault",
    "vucem_multipart": "multipart",
}


class Command(BaseCommand):
    help = (
        "Serve a simulated backend API and a simulated VUCEM on loopback ports, "
        "seeded with pending services, until Ctrl-C or SIGTERM. Point API_URL, "
        "API_TOKEN and VUCEM_URL at them to try process_pedimentos without "
        "network access."
    )
    # The sandbox keeps its data in memory and never touches the database.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--host",
            default="127.0.0.1",
            help="Loopback address to listen on (127.0.0.1, ::1 or localhost).",
        )
        parser.add_argument(
            "--backend-port",
            type=int,
            default=8800,
            help="TCP port of the backend API (0 = any free port).",
        )
        parser.add_argument(
            "--vucem-port",
            type=int,
            default=8801,
            help="TCP port of the simulated VUCEM (0 = any free port).",
        )

        parser.add_argument(
            "--services",
            type=int,
            default=45,
            help="Number of pending services (type 3) to create.",
        )
        parser.add_argument(
            "--importers",
            type=int,
            default=6,
            help="Number of distinct importer RFCs.",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=1234,
            help="Random seed: the same seed gives the same data and fault decisions.",
        )
        parser.add_argument(
            "--token",
            help="API token the backend accepts (default: a new random one per start).",
        )

        parser.add_argument(
            "--no-failures",
            action="store_true",
            help="Seed only valid data and inject no faults unless a knob below asks.",
        )
        parser.add_argument(
            "--latency",
            type=float,
            default=0.0,
            help="Seconds the simulated VUCEM waits before each reply.",
        )
        parser.add_argument(
            "--latency-jitter",
            type=float,
            default=0.0,
            help="Up to this many extra seconds of VUCEM latency, drawn per request.",
        )
        parser.add_argument(
            "--hang-seconds",
            type=float,
            default=30.0,
            help="Seconds a hanging VUCEM request sleeps before the normal response.",
        )

        share_help = {
            "vucem_503": "HTTP 503 with an HTML page",
            "vucem_502": "HTTP 502 with an HTML maintenance page",
            "vucem_drop": "connection closed without a response",
            "vucem_hang": "request hangs for --hang-seconds",
            "vucem_429": "HTTP 429 with Retry-After: 1",
            "vucem_fault": "S:Server SOAP fault",
            "vucem_multipart": "success sent as MTOM multipart/related",
        }
        for dest, text in share_help.items():
            parser.add_argument(
                "--" + dest.replace("_", "-"),
                dest=dest,
                type=float,
                default=None,
                help=f"Share (0..1) of VUCEM requests that get: {text}.",
            )

        parser.add_argument(
            "--backend-latency",
            type=float,
            default=0.0,
            help="Seconds the backend API waits before each response.",
        )
        parser.add_argument(
            "--backend-5xx",
            type=float,
            default=0.0,
            help="Share (0..1) of list, update and upload requests that get HTTP 500.",
        )

    def handle(self, *args, **options):
        host = options["host"]
        if not is_loopback(host):
            raise CommandError(
                f"Invalid --host {host!r}: use a loopback address (127.0.0.1, ::1 "
                "or localhost). The sandbox is a test server that prints its "
                "token, so it must not be reachable from other machines.",
                returncode=EXIT_USAGE,
            )
        ports = {
            "--backend-port": options["backend_port"],
            "--vucem-port": options["vucem_port"],
        }
        self._check_ports(ports)
        config = self._build_config(options)
        sandbox = Sandbox(
            config,
            host=host,
            backend_port=options["backend_port"],
            vucem_port=options["vucem_port"],
        )
        try:
            sandbox.start()
        except OSError as error:
            raise CommandError(_listen_error(host, ports, error)) from error

        stop = threading.Event()
        previous = {
            signum: signal.signal(signum, lambda *_: stop.set())
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self._print_banner(sandbox)
            while not stop.wait(0.5):
                pass
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            sandbox.stop()
        self.stdout.write("Sandbox stopped.")

    def _build_config(self, options) -> SandboxConfig:
        default_mix = not options["no_failures"]
        chosen = {
            field: options[dest]
            for dest, field in VUCEM_SHARE_OPTIONS.items()
            if options[dest] is not None
        }
        base = VucemFaults.demo() if default_mix else VucemFaults()
        share = options["backend_5xx"]
        try:
            vucem = dataclasses.replace(
                base,
                **chosen,
                latency=options["latency"],
                latency_jitter=options["latency_jitter"],
                hang_seconds=options["hang_seconds"],
            )
            backend = BackendFaults(
                latency=options["backend_latency"],
                upload_5xx=share,
                update_5xx=share,
                page_5xx=share,
            )
            return SandboxConfig(
                seed=options["seed"],
                services=options["services"],
                importers=options["importers"],
                api_token=options["token"] or secrets.token_urlsafe(24),
                vucem=vucem,
                backend=backend,
                default_mix=default_mix,
            )
        except ValueError as error:
            raise CommandError(
                f"Invalid sandbox option: {error}", returncode=EXIT_USAGE
            ) from error

    def _check_ports(self, ports: dict[str, int]) -> None:
        """Raise a usage error for a port out of range or used twice."""
        for option, port in ports.items():
            if not 0 <= port <= MAX_PORT:
                raise CommandError(
                    f"Invalid {option} {port}: use a TCP port from 1 to {MAX_PORT}, "
                    "or 0 for any free port.",
                    returncode=EXIT_USAGE,
                )
        backend_port, vucem_port = ports.values()
        if backend_port and backend_port == vucem_port:
            raise CommandError(
                f"--backend-port and --vucem-port are both {backend_port}: the two "
                "servers need different ports (0 = any free port).",
                returncode=EXIT_USAGE,
            )

    def _print_banner(self, sandbox: Sandbox) -> None:
        config = sandbox.config
        self.stdout.write(
            self.style.SUCCESS(
                f"Sandbox running: {len(sandbox.backend.services)} pending services "
                f"(type 3) for {config.importers} importers, seed {config.seed}."
            )
        )
        self.stdout.write(f"API_URL={sandbox.api_url}")
        # The token is printed on purpose: it only opens this local sandbox.
        self.stdout.write(f"API_TOKEN={sandbox.api_token}")
        self.stdout.write(f"VUCEM_URL={sandbox.vucem_url}")
        self.stdout.write(
            "Put these three lines in .env (or export them), then run "
            "'python manage.py process_pedimentos 1 3' in another terminal."
        )
        if sandbox.cases:
            cases = "; ".join(
                f"{case} {', '.join(map(str, ids))}"
                for case, ids in sorted(sandbox.cases.items())
            )
            self.stdout.write(f"Service ids seeded to fail on purpose: {cases}.")
        self.stdout.write("Press Ctrl-C to stop.")
        self.stdout.flush()


def _listen_error(host: str, ports: dict[str, int], error: OSError) -> str:
    """Return the message for a failed bind, naming the busy port when known."""
    if error.errno == errno.EADDRINUSE:
        # The OSError does not say which server failed, so try each port again.
        busy = [
            (option, port)
            for option, port in ports.items()
            if port and not _can_bind(host, port)
        ]
        if busy:
            option, port = busy[0]
            return (
                f"Port {port} on {host} is already in use (another sandbox or "
                f"server may be running). Pick another one with {option}, or use "
                f"{option} 0 for any free port."
            )
    return (
        f"Cannot listen on {host}: {error}. Pick other ports with "
        "--backend-port and --vucem-port (0 = any free port)."
    )


def _can_bind(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # The sandbox servers set SO_REUSEADDR too, so a port in TIME_WAIT
        # does not count as busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
