"""The sandbox: a simulated backend API and a simulated VUCEM on loopback."""

from __future__ import annotations

import logging
import threading

from .backend import SimulatedBackend
from .backend_api import BackendHandler
from .config import SandboxConfig
from .data import Importer, VucemRecord, build_world
from .httpserver import SandboxHTTPServer, is_loopback
from .vucem import SimulatedVucem, VucemHandler

logger = logging.getLogger(__name__)

# Seconds between checks for a shutdown request in each server loop. stop()
# waits up to this long.
POLL_INTERVAL = 0.02


class Sandbox:
    """Seeded simulated backend and VUCEM servers, started and stopped together.

    ``host`` must be a loopback address, because the servers accept any
    request that carries the sandbox token and the command prints that token.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        host: str = "127.0.0.1",
        backend_port: int = 0,
        vucem_port: int = 0,
    ):
        if not is_loopback(host):
            raise ValueError(f"Sandbox host must be a loopback address, got {host!r}")
        self.config = config or SandboxConfig()
        self.host = host
        self._ports = (backend_port, vucem_port)
        self._stop_event = threading.Event()
        self._servers: list[SandboxHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self._stopped = False

        self.world = build_world(self.config)
        self.vucem = SimulatedVucem(self.config)
        for importer in self.world.importers:
            self._register_importer(importer)
        for record in self.world.vucem_records:
            self.vucem.add_record(record)
        self.backend = SimulatedBackend(
            self.world,
            self.config,
            register_pedimento=self._register_pedimento,
            register_importer=self._register_importer,
        )

    # --- wiring between the two simulated servers ----------------------------

    def _register_pedimento(self, record: VucemRecord) -> None:
        self.vucem.add_record(record)

    def _register_importer(self, importer: Importer) -> None:
        self.vucem.set_credentials(importer.rfc, importer.vucem_password)

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> Sandbox:
        """Bind both servers and serve them from daemon threads; return self."""
        if self._servers or self._stopped:
            raise RuntimeError("A Sandbox can be started only once")
        backend_port, vucem_port = self._ports
        try:
            backend_server = SandboxHTTPServer(
                (self.host, backend_port),
                BackendHandler,
                state=self.backend,
                stop_event=self._stop_event,
            )
            backend_server.stats_provider = self.stats
            self._servers.append(backend_server)
            vucem_server = SandboxHTTPServer(
                (self.host, vucem_port),
                VucemHandler,
                state=self.vucem,
                stop_event=self._stop_event,
            )
            self._servers.append(vucem_server)
        except OSError:
            for server in self._servers:
                server.server_close()
            self._servers.clear()
            raise

        for server, name in zip(self._servers, ("backend", "vucem"), strict=True):
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": POLL_INTERVAL},
                name=f"sandbox-{name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        logger.info(
            "Sandbox started: backend %s, VUCEM %s, %d services",
            self.api_url,
            self.vucem_url,
            len(self.backend.services),
        )
        return self

    def stop(self) -> None:
        """Stop both servers, wake sleeping requests and close every socket."""
        if self._stopped:
            return
        self._stopped = True
        self._stop_event.set()
        # shutdown() blocks until the loop notices, so stop both at once.
        stoppers = [
            threading.Thread(target=server.shutdown) for server in self._servers
        ]
        for stopper in stoppers:
            stopper.start()
        for stopper, thread in zip(stoppers, self._threads, strict=True):
            stopper.join()
            thread.join()
        for server in self._servers:
            server.server_close()
            server.close_connections()
        logger.info("Sandbox stopped")

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- addresses and state -----------------------------------------------------

    def _base_url(self, index: int) -> str:
        if not self._servers:
            raise RuntimeError("The sandbox is not started")
        port = self._servers[index].server_port
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        """Base URL of the backend API, without a trailing slash."""
        return self._base_url(0) + "/api/v1"

    @property
    def vucem_url(self) -> str:
        """Base URL of the simulated VUCEM, without a trailing slash."""
        return self._base_url(1)

    @property
    def api_token(self) -> str:
        return self.config.api_token

    @property
    def cases(self) -> dict[str, list[int]]:
        """Service ids of each demo case ("wrong_key", "unknown_to_vucem", ...)."""
        return self.world.cases

    def stats(self) -> dict:
        """Return the request counts of both servers as a JSON-able dict."""
        return {"backend": self.backend.stats(), "vucem": self.vucem.stats()}
