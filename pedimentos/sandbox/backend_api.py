"""HTTP request handler of the simulated backend API.

Routes, authentication, pagination and form parsing live here. The state
and its validation live in ``backend.SimulatedBackend``.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from urllib.parse import parse_qs, urlencode, urlsplit

from .backend import SERVICE_NOT_FOUND, SimulatedBackend, parse_int, parse_uuid
from .httpserver import SandboxHandler
from .replies import html_page

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
SERVICES_PATH = "customs/procesamientopedimentos/"
CREDENTIALS_PATH = "vucem/vucem/"
DOCUMENTS_PATH = "record/documents/"
STATS_PATHS = ("/_sandbox/stats", "/_sandbox/stats/")

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
INVALID_PAGE = "Invalid page."

_SERVICE_DETAIL = re.compile(r"^customs/procesamientopedimentos/(\d+)/$")


class BackendHandler(SandboxHandler):
    """Request handler of the simulated backend API."""

    server_version = "SandboxBackend/1.0"

    @property
    def backend(self) -> SimulatedBackend:
        return self.server.state

    def handle_request(self, body: bytes) -> None:
        backend = self.backend
        if backend.down:
            backend.request_counts["down"] += 1
            if backend.faults.down_mode == "close":
                self.drop_connection()
            else:
                page = html_page("503 Service Unavailable", "The backend is down.")
                self.send_bytes(503, page.encode(), "text/html; charset=utf-8")
            return
        if self.wait(backend.faults.latency):
            self.drop_connection()
            return

        if not self._authenticated():
            backend.request_counts["401"] += 1
            self.send_json(
                401, {"detail": "Invalid token."}, {"WWW-Authenticate": "Token"}
            )
            return

        split = urlsplit(self.path)
        try:
            self.query = parse_qs(split.query, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            self.send_json(400, {"detail": "The query string is not valid UTF-8."})
            return
        self.body = body
        self._route(split.path)

    def _authenticated(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "token" or not token.strip():
            return False
        expected = self.backend.api_token.encode("utf-8")
        return hmac.compare_digest(token.strip().encode("utf-8"), expected)

    def _route(self, path: str) -> None:
        route = path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else None
        detail = _SERVICE_DETAIL.match(route) if route else None
        if path in STATS_PATHS:
            handlers = {"GET": self._stats}
        elif route == SERVICES_PATH:
            handlers = {"GET": self._list_services}
        elif detail:
            service_id = int(detail.group(1))
            handlers = {
                "GET": lambda: self._get_service(service_id),
                "PUT": lambda: self._update_service(service_id),
            }
        elif route == CREDENTIALS_PATH:
            handlers = {"GET": self._list_credentials}
        elif route == DOCUMENTS_PATH:
            handlers = {"GET": self._list_documents, "POST": self._upload_document}
        else:
            self._not_found()
            return

        handler = handlers.get(self.command)
        if handler is None:
            self.backend.request_counts["405"] += 1
            self.send_json(
                405,
                {"detail": f'Method "{self.command}" not allowed.'},
                {"Allow": ", ".join(handlers)},
            )
            return
        handler()

    def _not_found(self) -> None:
        self.backend.request_counts["404"] += 1
        self.send_json(404, {"detail": "Not found."})

    def _query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    # --- pagination -----------------------------------------------------------

    def _page_url(self, page: int) -> str:
        host = (
            self.headers.get("Host")
            or f"{self.server.server_name}:{self.server.server_port}"
        )
        query = dict(self.query)
        if page == 1:
            query.pop("page", None)
        else:
            query["page"] = [str(page)]
        text = urlencode(sorted(query.items()), doseq=True)
        path = urlsplit(self.path).path
        return f"http://{host}{path}" + (f"?{text}" if text else "")

    def _paginate(
        self, count: int, page_slice: Callable[[int, int], list[dict]], render
    ) -> None:
        size = parse_int(self._query_value("page_size") or "")
        if size is None or size < 1:
            size = DEFAULT_PAGE_SIZE
        size = min(size, MAX_PAGE_SIZE)
        pages = max(1, -(-count // size))

        page_text = self._query_value("page") or "1"
        page = pages if page_text == "last" else parse_int(page_text)
        if page is None or page < 1 or page > pages:
            self.send_json(404, {"detail": INVALID_PAGE})
            return

        start = (page - 1) * size
        payload = {
            "count": count,
            "next": self._page_url(page + 1) if page < pages else None,
            "previous": self._page_url(page - 1) if page > 1 else None,
            "results": [render(item) for item in page_slice(start, start + size)],
        }
        self.send_json(200, payload)

    def _int_filters(self, *names: str) -> dict | None:
        """Parse integer filters; send 400 and return None if one is invalid."""
        filters = {}
        for name in names:
            text = self._query_value(name)
            if text in (None, ""):
                continue
            value = parse_int(text)
            if value is None:
                self.send_json(400, {name: ["Enter a whole number."]})
                return None
            filters[name] = value
        return filters

    def _uuid_filter(self, filters: dict, name: str) -> bool:
        text = self._query_value(name)
        if text in (None, ""):
            return True
        value = parse_uuid(text)
        if value is None:
            self.send_json(400, {name: ["Enter a valid UUID."]})
            return False
        filters[name] = value
        return True

    # --- endpoints ------------------------------------------------------------

    def _stats(self) -> None:
        self.send_json(200, self.server.stats_provider())

    def _list_services(self) -> None:
        backend = self.backend
        backend.request_counts["GET services"] += 1
        filters = self._int_filters("estado", "servicio")
        if filters is None or not self._uuid_filter(filters, "pedimento"):
            return
        if backend.inject_fault(backend.faults.page_5xx):
            self._send_server_error("page_5xx")
            return
        page = self._query_value("page")
        if backend.faults.invalid_page and page == str(backend.faults.invalid_page):
            backend.request_counts["injected invalid_page"] += 1
            self.send_json(200, {"detail": "Injected by the sandbox.", "items": []})
            return
        count, page_slice = backend.list_services(filters)
        self._paginate(count, page_slice, lambda service: service)

    def _get_service(self, service_id: int) -> None:
        self.backend.request_counts["GET service"] += 1
        service = self.backend.services.get(service_id)
        if service is None:
            self.send_json(404, {"detail": SERVICE_NOT_FOUND})
        else:
            self.send_json(200, service)

    def _update_service(self, service_id: int) -> None:
        backend = self.backend
        backend.request_counts["PUT service"] += 1
        data = self._parse_data()
        if data is None:
            return
        refused = backend.refused_updates.get(service_id)
        if refused is not None:
            self.send_json(
                refused, {"detail": "You do not have permission to perform this action."}
            )
            return
        if service_id in backend.services and backend.inject_fault(
            backend.faults.update_5xx
        ):
            self._send_server_error("update_5xx")
            return
        status, payload = backend.update_service(service_id, data)
        if status == 200:
            backend.request_counts["PUT service ok"] += 1
            # The hook runs before the response is sent, so services it adds
            # are already listed when the client receives the 200.
            hook = backend.on_update
            if hook is not None:
                try:
                    hook(service_id, payload["estado"])
                except Exception:
                    logger.exception(
                        "Sandbox on_update hook failed for service %s", service_id
                    )
        self.send_json(status, payload)

    def _parse_data(self) -> dict | None:
        """Parse a JSON or form body into a dict; on error send 400/415, return None."""
        content_type = (
            self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        )
        if content_type == "application/json":
            try:
                data = json.loads(self.body.decode("utf-8") or "null")
            except (UnicodeDecodeError, ValueError) as error:
                self.send_json(400, {"detail": f"JSON parse error - {error}"})
                return None
            if not isinstance(data, dict):
                self.send_json(
                    400, {"non_field_errors": ["Invalid data. Expected a dictionary."]}
                )
                return None
            return data
        if content_type == "application/x-www-form-urlencoded":
            form = parse_qs(
                self.body.decode("utf-8", "replace"), keep_blank_values=True
            )
            return {name: values[-1] for name, values in form.items()}
        self.send_json(
            415, {"detail": f'Unsupported media type "{content_type}" in request.'}
        )
        return None

    def _list_credentials(self) -> None:
        backend = self.backend
        backend.request_counts["GET credentials"] += 1
        usuario = self._query_value("usuario")
        self.send_json(200, backend.credentials_for(usuario))

    def _upload_document(self) -> None:
        backend = self.backend
        backend.request_counts["POST document"] += 1
        fields, file = self._parse_upload()
        if backend.inject_fault(backend.faults.upload_5xx):
            self._send_server_error("upload_5xx")
            return
        status, payload = backend.add_document(fields, file)
        if status == 201:
            payload = self._document_json(payload)
            if self.wait(backend.faults.upload_slow_seconds):
                self.drop_connection()
                return
        self.send_json(status, payload)

    def _parse_upload(self) -> tuple[dict, tuple[str, bytes] | None]:
        """Return the form fields and the ``archivo`` file (name, bytes) of a POST."""
        content_type = self.headers.get("Content-Type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            return {}, None
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode(
            "latin-1"
        )
        message = BytesParser(policy=policy.HTTP).parsebytes(head + self.body)
        if not message.is_multipart():
            return {}, None

        fields: dict[str, str] = {}
        file = None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if name == "archivo" and filename is not None:
                file = (filename, payload)
            elif name:
                fields[name] = payload.decode("utf-8", "replace")
        return fields, file

    def _document_json(self, document: dict) -> dict:
        host = (
            self.headers.get("Host")
            or f"{self.server.server_name}:{self.server.server_port}"
        )
        return {
            "id": document["id"],
            "pedimento": document["pedimento"],
            "organizacion": document["organizacion"],
            "document_type": document["document_type"],
            "extension": document["extension"],
            "size": document["size"],
            "archivo": f"http://{host}/media/documents/{document['organizacion']}/"
            f"{document['filename']}",
            "created_at": document["created_at"],
        }

    def _list_documents(self) -> None:
        self.backend.request_counts["GET documents"] += 1
        filters = self._int_filters("document_type")
        if filters is None or not self._uuid_filter(filters, "pedimento"):
            return
        count, page_slice = self.backend.list_documents(filters)
        self._paginate(count, page_slice, self._document_json)

    def _send_server_error(self, kind: str) -> None:
        self.backend.request_counts[f"injected {kind}"] += 1
        page = html_page("Server Error (500)", "Injected by the sandbox.")
        self.send_bytes(500, page.encode(), "text/html; charset=utf-8")
