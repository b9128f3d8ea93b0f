"""HTTP server plumbing shared by the simulated backend and VUCEM.

Both servers are ``http.server.ThreadingHTTPServer`` instances speaking
HTTP/1.1 with keep-alive. Every response has a Content-Length. The server
tracks its open connections and handler threads so that ``stop()`` can close
idle keep-alive sockets and wait for the handlers instead of leaving them
running.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger(__name__)

# Largest request body either server reads; larger requests get HTTP 413.
MAX_BODY_BYTES = 64 * 1024 * 1024


def is_loopback(host: str) -> bool:
    """Return True if ``host`` is "localhost" or a loopback IP address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that can close its connections on stop."""

    daemon_threads = True
    allow_reuse_address = True
    # 32+ clients may connect at once; a short backlog would drop SYNs and
    # cost each of them a one-second retransmission.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler_class, *, state, stop_event):
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.state = state
        self.stop_event = stop_event
        self._tracking_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        super().__init__(address, handler_class)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() resolves the host name with getfqdn(),
        # which can wait on DNS. The sandbox only needs the address.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host
        self.server_port = port

    def process_request_thread(self, request, client_address) -> None:
        with self._tracking_lock:
            self._connections.add(request)
            self._handler_threads.add(threading.current_thread())
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._tracking_lock:
                self._connections.discard(request)
                self._handler_threads.discard(threading.current_thread())

    def close_connections(self, timeout: float = 2.0) -> None:
        """Shut down open client sockets and wait up to ``timeout`` for handlers."""
        with self._tracking_lock:
            connections = list(self._connections)
            threads = list(self._handler_threads)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in threads:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning(
                    "Sandbox handler thread %s still running after stop", thread.name
                )


class SandboxHandler(BaseHTTPRequestHandler):
    """Base request handler: quiet logging, body reading and response helpers."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes. Without TCP_NODELAY the
    # client's delayed ACK can stall each response by about 40 ms.
    disable_nagle_algorithm = True
    # Seconds an idle keep-alive connection is kept open.
    timeout = 120

    # --- logging ------------------------------------------------------------

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib name)
        logger.debug(
            "%s %s: " + format, self.server.server_port, self.address_string(), *args
        )

    # --- dispatch -----------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        self.response_started = False
        body = self.read_body()
        if body is None:
            return
        try:
            self.handle_request(body)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug(
                "Client closed the connection during %s %s", self.command, self.path
            )
            self.close_connection = True
        except Exception:
            logger.exception("Sandbox handler failed on %s %s", self.command, self.path)
            if self.response_started:
                self.close_connection = True
            else:
                self.send_json(500, {"detail": "Sandbox internal error."})

    def handle_request(self, body: bytes) -> None:
        raise NotImplementedError

    # --- request helpers ----------------------------------------------------

    def read_body(self) -> bytes | None:
        """Read the request body (Content-Length or chunked); None if rejected."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_text = self.headers.get("Content-Length")
        if not length_text:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self.send_json(400, {"detail": f"Invalid Content-Length {length_text!r}."})
            return None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self.send_json(
                413, {"detail": f"Request body above {MAX_BODY_BYTES} bytes."}
            )
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        parts = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                self.send_json(400, {"detail": "Invalid chunked request body."})
                return None
            if size == 0:
                # Skip trailer lines up to the blank line.
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                self.close_connection = True
                self.send_json(
                    413, {"detail": f"Request body above {MAX_BODY_BYTES} bytes."}
                )
                return None
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    # --- response helpers ---------------------------------------------------

    def send_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Send a complete response with a Content-Length."""
        self.response_started = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(
        self, status: int, payload, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_bytes(status, body, "application/json", headers)

    def drop_connection(self) -> None:
        """Close the connection without sending any response."""
        self.close_connection = True
        self.response_started = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the sandbox stops first; True if stopping."""
        if seconds <= 0:
            return self.server.stop_event.is_set()
        return self.server.stop_event.wait(seconds)
