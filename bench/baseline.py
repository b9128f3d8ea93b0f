"""A re-creation of the original tool's algorithm, to compare the engine with.

It follows what the original multithreaded script's documentation describes,
on purpose including its flaws, and uses only requests and string templates
(no Django), like that script:

* one task per page on a pool of W threads, each thread taking the next page
  number and fetching that page only when it reaches it. Services marked done
  leave the pending list, so later pages have shifted by then, and services
  are skipped (or, when a page is read while another thread is still working
  on an overlapping one, done twice);
* the importer's credentials fetched again for every service;
* every request tried up to 3 times, at once, whatever the error was;
* a fixed sleep of ``--delay`` seconds after every service, in each thread,
  so W threads together may start W VUCEM requests within one delay.

Usage (reads API_URL, API_TOKEN and VUCEM_URL from the environment)::

    python bench/baseline.py START_PAGE END_PAGE --workers 8 --delay 0.02

It prints one JSON object with its counts on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import string
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from xml.sax.saxutils import escape

import requests

ATTEMPTS = 3
SERVICES_PATH = "customs/procesamientopedimentos/"
CREDENTIALS_PATH = "vucem/vucem/"
DOCUMENTS_PATH = "record/documents/"
VUCEM_PATH = "/ventanilla-ws-pedimentos/ConsultarPedimentoCompletoService"
PENDING, FAILED, DONE = 1, 2, 3
DOCUMENT_TYPE = 2

ENVELOPE = string.Template("""\
<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" \
xmlns:con="http://www.ventanillaunica.gob.mx/pedimentos/ws/oxml/consultarpedimentocompleto" \
xmlns:com="http://www.ventanillaunica.gob.mx/pedimentos/ws/oxml/comunes">
<soapenv:Header>
<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
<wsse:UsernameToken>
<wsse:Username>$username</wsse:Username>
<wsse:Password>$password</wsse:Password>
</wsse:UsernameToken>
</wsse:Security>
</soapenv:Header>
<soapenv:Body>
<con:consultarPedimentoCompletoPeticion>
<con:peticion>
<com:aduana>$aduana</com:aduana>
<com:patente>$patente</com:patente>
<com:pedimento>$pedimento</com:pedimento>
</con:peticion>
</con:consultarPedimentoCompletoPeticion>
</soapenv:Body>
</soapenv:Envelope>""")


class Baseline:
    """The original page-per-thread loop, against one backend and one VUCEM."""

    def __init__(self, *, api_url: str, token: str, vucem_url: str, page_size: int,
                 delay: float, timeout: float = 60.0):
        self.api_url = api_url.rstrip("/") + "/"
        self.token = token
        self.vucem_url = vucem_url.rstrip("/") + VUCEM_PATH
        self.page_size = page_size
        self.delay = delay
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self.counts = {"pages": 0, "services": 0, "succeeded": 0, "failed": 0}

    def run(self, start_page: int, end_page: int, workers: int) -> dict:
        """Process pages ``start_page``..``end_page`` with ``workers`` threads."""
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="Baseline") as pool:
            list(pool.map(self.process_page, range(start_page, end_page + 1)))
        return {**self.counts, "duration_seconds": round(time.monotonic() - started, 3)}

    def process_page(self, page: int) -> None:
        """Fetch a page as it is now and process each of its services in turn."""
        response = self._try(lambda: self._session().get(
            self.api_url + SERVICES_PATH,
            params={"page": page, "page_size": self.page_size,
                    "estado": PENDING, "servicio": 3},
            timeout=self.timeout,
        ), accept=(200, 404))
        if response is None or response.status_code != 200:
            return
        self._add("pages")
        for service in response.json()["results"]:
            self.process_service(service)
            time.sleep(self.delay)

    def process_service(self, service: dict) -> None:
        """Query VUCEM, upload the reply and mark the service done or failed."""
        self._add("services")
        pedimento = service["pedimento"]
        credentials = self._try(lambda: self._session().get(
            self.api_url + CREDENTIALS_PATH,
            params={"usuario": pedimento["contribuyente"]}, timeout=self.timeout,
        ))
        reply = None
        if credentials is not None and credentials.json():
            first = credentials.json()[0]
            envelope = ENVELOPE.substitute(
                username=escape(first["usuario"]),
                password=escape(first["password"]),
                aduana=escape(str(pedimento["aduana"]).zfill(3)),
                patente=escape(str(pedimento["patente"])),
                pedimento=escape(str(pedimento["pedimento"])),
            ).encode("utf-8")
            reply = self._try(lambda: self._session().post(
                self.vucem_url, data=envelope, timeout=self.timeout,
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
            ))
        uploaded = reply is not None and self._upload(service, reply.content)
        estado = DONE if uploaded else FAILED
        self._try(lambda: self._session().put(
            f"{self.api_url}{SERVICES_PATH}{service['id']}/",
            json={"estado": estado, "pedimento": pedimento["id"],
                  "servicio": service["servicio"],
                  "tipo_procesamiento": service["tipo_procesamiento"],
                  "organizacion": service["organizacion"]},
            timeout=self.timeout,
        ))
        self._add("succeeded" if uploaded else "failed")

    def _upload(self, service: dict, content: bytes) -> bool:
        pedimento = service["pedimento"]
        form = {
            "organizacion": service["organizacion"],
            "pedimento": pedimento["id"],
            "extension": "xml",
            "document_type": str(DOCUMENT_TYPE),
            "size": str(len(content)),
        }
        name = f"pedimento_completo_{pedimento['pedimento']}.xml"
        response = self._try(lambda: self._session().post(
            self.api_url + DOCUMENTS_PATH, data=form, timeout=self.timeout,
            files={"archivo": (name, content, "application/xml")},
        ), accept=(201,))
        return response is not None

    def _try(self, send, accept=(200,)):
        """Send up to ATTEMPTS times without waiting; return the response or None."""
        for _ in range(ATTEMPTS):
            try:
                response = send()
            except requests.RequestException:
                continue
            if response.status_code in accept:
                return response
        return None

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Authorization"] = f"Token {self.token}"
            self._local.session = session
        return session

    def _add(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("start_page", type=int, help="First page of the pending list.")
    parser.add_argument("end_page", type=int, help="Last page, inclusive.")
    parser.add_argument("--workers", type=int, default=4, help="Number of threads.")
    parser.add_argument("--delay", type=float, default=0.5,
                        help="Seconds each thread sleeps after every service.")
    args = parser.parse_args(argv)
    try:
        baseline = Baseline(
            api_url=os.environ["API_URL"],
            token=os.environ["API_TOKEN"],
            vucem_url=os.environ["VUCEM_URL"],
            page_size=int(os.environ.get("API_PAGE_SIZE", "10")),
            delay=args.delay,
        )
    except KeyError as error:
        parser.error(f"the environment variable {error.args[0]} is missing")
    result = baseline.run(args.start_page, args.end_page, args.workers)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
