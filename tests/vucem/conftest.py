"""A throwaway HTTP server on 127.0.0.1 for the VUCEM transport tests."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class LoopbackServer:
    """An HTTP server whose reply is set per test with ``respond_with``."""

    def __init__(self):
        self.requests = []
        # Set at teardown so that handlers left waiting by a test end.
        self.release = threading.Event()
        self.respond = None
        self.handlers_done = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def respond_with(self, function):
        """Reply to each POST by calling ``function(handler)``."""
        self.respond = function

    def start(self):
        self._thread.start()

    def stop(self):
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                server.requests.append((self.path, dict(self.headers), body))
                try:
                    server.respond(self)
                finally:
                    server.handlers_done.set()

            def log_message(self, format, *args):
                pass

        return Handler


@pytest.fixture
def loopback():
    server = LoopbackServer()
    server.start()
    yield server
    server.stop()
