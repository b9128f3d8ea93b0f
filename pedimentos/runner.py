"""The run engine: snapshot the pending pages, then process them in threads.

"Pages 1 to 3" means the services on pages 1 to 3 of the pending list when
the run starts. Marking a service done removes it from that list and other
systems add new services at the top, so the list shifts while the run
works. The runner therefore reads every requested page first, stores those
services as queued outcomes, and only then starts processing them: each
service of the snapshot is processed once, and nothing else is touched.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import close_old_connections, connections
from django.utils import timezone

from . import services
from .backend import BackendClient
from .conf import ProcessingConfig
from .exceptions import (
    BackendAuthError,
    BackendError,
    BackendTransientError,
    PedimentosError,
    RunAborted,
)
from .models import Run, ServiceOutcome
from .processing import CredentialStore, RunContext, outcome_row, process_outcome
from .ratelimit import RateLimiter
from .vucem import VucemClient

logger = logging.getLogger(__name__)

THREAD_NAME_PREFIX = "PedimentoWorker"
# Pool threads per VUCEM slot (see ``_execute``).
THREADS_PER_WORKER = 2
HEARTBEAT_SECONDS = 30.0
# A running run on another host whose heartbeat is older than this is dead.
STALE_RUN_AFTER = timedelta(minutes=10)


@dataclass
class Progress:
    """Callbacks through which the runner reports progress (all optional)."""

    page_started: object = None  # (page, worker)
    page_finished: object = None  # (page, worker, succeeded, total)
    run_started: object = None  # (run), before the snapshot is read
    snapshot_taken: object = None  # (total_services)
    outcome_recorded: object = None  # (outcome)

    def emit(self, name, *args):
        callback = getattr(self, name)
        if callback is not None:
            callback(*args)


@dataclass
class RunResult:
    """Results the command needs to print a summary and choose an exit status."""

    run: Run
    errors: list[ServiceOutcome] = field(default_factory=list)
    errors_by_kind: dict[str, int] = field(default_factory=dict)


class Runner:
    """Process pending services with a pool of named worker threads."""

    def __init__(self, config: ProcessingConfig, *, workers: int, service_type: int,
                 progress: Progress | None = None, stop_event: threading.Event | None = None,
                 backend: BackendClient | None = None, vucem=None):
        self.config = config
        self.workers = workers
        self.service_type = service_type
        self.progress = progress or Progress()
        self.stop_event = stop_event or threading.Event()
        self.backend = backend or BackendClient(
            api_url=config.api_url,
            token=config.api_token,
            paths=config.api_paths,
            connect_timeout=config.api_connect_timeout,
            read_timeout=config.api_read_timeout,
            retry_policy=config.retry_policy,
            sleep=lambda seconds: not self.stop_event.wait(seconds),
        )
        self.vucem = vucem or VucemClient(
            base_url=config.vucem_url,
            connect_timeout=config.vucem_connect_timeout,
            read_timeout=config.vucem_read_timeout,
            max_reply_bytes=config.vucem_max_reply_bytes,
            tls_security_level=config.vucem_tls_security_level,
        )
        self.page_errors: list[str] = []

    # --- entry points -------------------------------------------------------

    def run_pages(self, start_page: int, end_page: int, *, started_by: str = "") -> RunResult:
        """Process the services on pages ``start_page``..``end_page`` of the pending list."""
        services.runs_mark_abandoned(stale_after=STALE_RUN_AFTER)
        run = services.run_start(
            kind=Run.Kind.PAGES, service_type=self.service_type, workers=self.workers,
            start_page=start_page, end_page=end_page, page_size=self.config.api_page_size,
            started_by=started_by,
        )
        logger.info("Run %s started: pages %d-%d, service type %d, %d workers",
                    run.pk, start_page, end_page, self.service_type, self.workers)
        self.progress.emit("run_started", run)
        return self._execute(run, lambda pool: self._snapshot_pages(run, pool, start_page, end_page))

    def run_services(self, service_ids: list[int], *, started_by: str = "") -> RunResult:
        """Re-read the given services from the backend and process them (a retry run)."""
        services.runs_mark_abandoned(stale_after=STALE_RUN_AFTER)
        run = services.run_start(
            kind=Run.Kind.RETRY, service_type=self.service_type, workers=self.workers,
            started_by=started_by,
        )
        logger.info("Retry run %s started for %d services by %s", run.pk, len(service_ids), started_by or "?")
        self.progress.emit("run_started", run)
        return self._execute(run, lambda pool: self._snapshot_services(run, pool, service_ids))

    # --- phases -------------------------------------------------------------

    def _execute(self, run: Run, take_snapshot) -> RunResult:
        """Take the snapshot, process it, and close the run whatever happens."""
        ctx = RunContext(
            run=run, config=self.config, backend=self.backend, vucem=self.vucem,
            limiter=RateLimiter(self.config.request_delay, stop_event=self.stop_event),
            credentials=CredentialStore(self.backend), stop_event=self.stop_event,
            vucem_slots=threading.BoundedSemaphore(self.workers),
        )
        heartbeat = _Heartbeat(run)
        heartbeat.start()
        # ``workers`` is how many VUCEM requests may be in flight at once. The
        # pool has twice as many threads, so while one thread waits for VUCEM
        # another uploads and records the service it has just fetched. With
        # exactly ``workers`` threads, the upload and database time of each
        # service would be added to every VUCEM slot.
        pool = ThreadPoolExecutor(
            max_workers=self.workers * THREADS_PER_WORKER,
            thread_name_prefix=THREAD_NAME_PREFIX,
            initializer=_name_worker,
        )

        status, message, pages_done = Run.Status.ABORTED, "", 0
        try:
            pages_done = self._snapshot_and_process(run, ctx, pool, take_snapshot)
            status, message = self._final_status(ctx)
        except (BackendAuthError, RunAborted) as error:
            message = str(error)
        except BackendError as error:
            message = f"The pending list could not be read: {error}"
        except BaseException as error:
            # Recorded as aborted, then raised to the caller.
            message = f"Unexpected {type(error).__name__}: {error}"
            raise
        finally:
            heartbeat.stop()
            self._close_run(run, pool, status, message, pages_done)

        logger.info("Run %s %s: %d succeeded, %d failed, %d skipped", run.pk, run.status,
                    run.succeeded, run.failed, run.skipped)
        return self._result(run)

    def _snapshot_and_process(self, run: Run, ctx: RunContext, pool, take_snapshot) -> int:
        """Store the run's snapshot, process it, and return how many pages were finished."""
        # Stamped before the first page is read: a service that another run
        # finishes while the pages are being read may still appear in them,
        # and claim_acquire skips it by comparing with this time.
        run.snapshot_at = timezone.now()
        run.save(update_fields=["snapshot_at"])
        pages = take_snapshot(pool)

        total = run.outcomes.count()
        self.progress.emit("snapshot_taken", total)
        logger.info("Run %s: %d services to process on %d page(s)", run.pk, total, len(pages))
        return self._process_pages(run, ctx, pool, pages)

    def _final_status(self, ctx: RunContext) -> tuple[str, str]:
        """Return the status and message of a run whose pages were all handed out."""
        if ctx.abort_error is not None:
            return Run.Status.ABORTED, str(ctx.abort_error)
        if ctx.vucem_outage is not None:
            return Run.Status.ABORTED, ctx.vucem_outage
        if self.stop_event.is_set():
            return Run.Status.INTERRUPTED, "Stopped by a signal before every service ran."
        return Run.Status.COMPLETED, ""

    def _close_run(self, run: Run, pool, status: str, message: str, pages_done: int) -> None:
        """Stop the pool, record the run's end, and close the network clients."""
        finished = self._shutdown(pool)
        if not finished and status == Run.Status.COMPLETED:
            status = Run.Status.INTERRUPTED
        self._close_unfinished(run)
        if self.page_errors:
            message = "; ".join(filter(None, [message, *self.page_errors]))
        services.run_finish(run, status=status, message=message, pages_processed=pages_done)
        self.backend.close()
        self.vucem.close()

    def _snapshot_pages(self, run: Run, pool, start_page: int, end_page: int) -> list[int]:
        """Read the requested pages and store their services as queued outcomes.

        The first page is read alone: its ``count`` gives the number of pages
        in the list, so a range past the end costs no requests. The other pages
        are read in parallel, and each is stored as soon as it arrives, so
        memory does not grow with the number of pages. A page that cannot be
        read because the backend is unreachable aborts the run before any
        service changes. A page of the wrong shape is reported and skipped.
        """
        first = self._fetch_page(run, start_page)
        if first is None:
            return []
        stored = [self._store_page(run, start_page, first)]
        if first is _UNUSABLE:
            # Without the first page's count, read on until the list ends.
            for page in range(start_page + 1, end_page + 1):
                data = self._fetch_page(run, page)
                if data is None:
                    break
                stored.append(self._store_page(run, page, data))
        else:
            last_page = min(end_page, self._last_page(first))
            del first
            futures = [
                pool.submit(self._fetch_and_store_page, run, page)
                for page in range(start_page + 1, last_page + 1)
            ]
            stored.extend(future.result() for future in as_completed(futures))
        if self.stop_event.is_set():
            return []
        return sorted(page for page in stored if page is not None)

    def _fetch_and_store_page(self, run: Run, page: int) -> int | None:
        return self._store_page(run, page, self._fetch_page(run, page))

    def _store_page(self, run: Run, page: int, data) -> int | None:
        """Queue a page's services; return the page number, or None if it had none to queue."""
        if data is None or data is _UNUSABLE:
            return None
        rows = []
        for position, service in enumerate(data.results):
            if not isinstance(service, dict) or _int_id(service) is None:
                self._page_error(run, f"Page {page} has an entry without a numeric 'id'; it was ignored")
                continue
            rows.append(outcome_row(service, page=page, position=position))
        try:
            services.outcomes_queue(run, rows)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connections.close_all()
        return page

    def _fetch_page(self, run: Run, page: int):
        """Return one page of the pending list.

        Return None past the end of the list or when the run is stopping,
        and ``_UNUSABLE`` for a page whose JSON has the wrong shape.
        """
        if self.stop_event.is_set():
            return None
        try:
            data = self.backend.list_pending(
                page=page, page_size=self.config.api_page_size,
                state=self.config.state_pending, service_type=self.service_type,
            )
        except BackendTransientError as error:
            raise RunAborted(f"The backend is unreachable, so page {page} could not be read: {error}") from error
        except BackendAuthError:
            raise
        except PedimentosError as error:
            self._page_error(run, str(error))
            return _UNUSABLE
        if data is None:
            logger.info("Run %s: page %d is past the end of the pending list", run.pk, page)
        return data

    def _last_page(self, first) -> int:
        """Return the last page number of the list as it is now."""
        if not first.has_next:
            return first.number
        page_size = max(1, len(first.results), self.config.api_page_size)
        return max(first.number, -(-first.count // page_size))

    def _page_error(self, run: Run, text: str) -> None:
        self.page_errors.append(text)
        logger.error("Run %s: %s", run.pk, text)

    def _snapshot_services(self, run: Run, pool, service_ids: list[int]) -> list[int]:
        rows = []
        for position, service_id in enumerate(service_ids):
            try:
                service = self.backend.get_service(service_id)
            except BackendAuthError:
                raise
            except PedimentosError as error:
                self.page_errors.append(f"Service {service_id} could not be read: {error}")
                continue
            rows.append(outcome_row(service, page=0, position=position))
        services.outcomes_queue(run, rows)
        return [0] if rows else []

    def _process_pages(self, run: Run, ctx: RunContext, pool, pages: list[int]) -> int:
        """Process the pages in the pool; return how many were finished."""
        futures = [pool.submit(self._process_page, run, ctx, page) for page in pages]
        return sum(1 for future in as_completed(futures) if future.result())

    def _process_page(self, run: Run, ctx: RunContext, page: int) -> bool:
        """Process one page's queued services in order; return True if all ran."""
        worker = threading.current_thread().name
        close_old_connections()
        try:
            if self.stop_event.is_set():
                return False
            if page:
                self.progress.emit("page_started", page, worker)
            outcomes = list(run.outcomes.filter(page=page, status=ServiceOutcome.Status.QUEUED)
                            .select_related("run").order_by("position"))
            succeeded = 0
            for outcome in outcomes:
                if self.stop_event.is_set():
                    return False
                process_outcome(outcome, ctx, worker=worker)
                succeeded += outcome.status == ServiceOutcome.Status.SUCCEEDED
                self.progress.emit("outcome_recorded", outcome)
            if page:
                self.progress.emit("page_finished", page, worker, succeeded, len(outcomes))
            return True
        finally:
            connections.close_all()

    def _shutdown(self, pool: ThreadPoolExecutor) -> bool:
        """Stop the pool; wait for in-flight services up to the grace period."""
        pool.shutdown(wait=False, cancel_futures=True)
        threads = list(getattr(pool, "_threads", ()))
        deadline = self.config.shutdown_grace if self.stop_event.is_set() else None
        if deadline is None:
            for thread in threads:
                thread.join()
            return True
        end = timezone.now() + timedelta(seconds=deadline)
        for thread in threads:
            remaining = (end - timezone.now()).total_seconds()
            thread.join(max(0.0, remaining))
        alive = [t.name for t in threads if t.is_alive()]
        if alive:
            logger.warning("Workers still busy after %.0f s: %s", deadline, ", ".join(alive))
        return not alive

    def _close_unfinished(self, run: Run) -> None:
        now = timezone.now()
        run.outcomes.filter(status=ServiceOutcome.Status.QUEUED).update(
            status=ServiceOutcome.Status.SKIPPED, finished_at=now,
            error_message="Not started: the run stopped first. The service is still pending.",
        )
        run.outcomes.filter(status=ServiceOutcome.Status.RUNNING).update(
            status=ServiceOutcome.Status.SKIPPED, finished_at=now,
            error_message="Still in flight when the run stopped; check its state in the backend.",
        )

    def _result(self, run: Run) -> RunResult:
        failed = run.outcomes.filter(status=ServiceOutcome.Status.FAILED)
        by_kind = Counter(failed.values_list("error_kind", flat=True))
        return RunResult(
            run=run,
            errors=list(failed.order_by("page", "position")[:10]),
            errors_by_kind=dict(sorted(by_kind.items())),
        )


# Marks a page that was read but could not be used (JSON of the wrong shape).
_UNUSABLE = object()


def _name_worker() -> None:
    # ThreadPoolExecutor names threads "<prefix>_<n>"; the original tool's
    # logs, which operators grep, use "PedimentoWorker-<n>".
    thread = threading.current_thread()
    thread.name = thread.name.replace(f"{THREAD_NAME_PREFIX}_", f"{THREAD_NAME_PREFIX}-", 1)


def _int_id(service: dict):
    try:
        return int(service.get("id"))
    except (TypeError, ValueError):
        return None


class _Heartbeat:
    """Update the run's heartbeat from a background thread."""

    def __init__(self, run: Run, interval: float = HEARTBEAT_SECONDS):
        self.run = run
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="RunHeartbeat", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _loop(self):
        try:
            while not self._stop.wait(self.interval):
                services.run_heartbeat(self.run)
        finally:
            connections.close_all()
