"""Process the pending pedimento services on a range of pages."""

from __future__ import annotations

import getpass
import json
import logging
import os
import signal
import sys
import threading
from contextlib import ExitStack
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from pedimentos.conf import SUPPORTED_SERVICE_TYPES, ProcessingConfig
from pedimentos.logging import redact, register_secret
from pedimentos.models import Run
from pedimentos.runner import Progress, Runner
from pedimentos.summary import format_summary, summary_dict

EXIT_OK = 0
EXIT_ABORTED = 1
EXIT_USAGE = 2
EXIT_FAILURES = 3

TEST_MODE_PAGES = (1, 2)
TEST_MODE_WORKERS = 2

# Options that only filter what --retry-failed retries: option name -> dest.
RETRY_FILTERS = {"--run": "retry_run", "--error-kind": "error_kind", "--since": "since"}


class Command(BaseCommand):
    help = (
        "Fetch the complete pedimento from VUCEM for every pending service on pages "
        "START_PAGE to END_PAGE of the backend's list, upload each reply as an XML "
        "document and mark the service done or failed. Positional forms of the "
        "original tool work: '1 5' and '1 10 3 4' (pages, service type, workers)."
    )

    def add_arguments(self, parser):
        parser.add_argument("start_page", nargs="?", type=int,
                            help="First page of the pending list (default DEFAULT_START_PAGE).")
        parser.add_argument("end_page", nargs="?", type=int,
                            help="Last page, inclusive (default DEFAULT_END_PAGE).")
        parser.add_argument("service_type_pos", nargs="?", type=int, metavar="service_type",
                            help="Service type to process (default DEFAULT_SERVICE_TYPE).")
        parser.add_argument("workers_pos", nargs="?", type=int, metavar="workers",
                            help="Number of worker threads (default DEFAULT_MAX_WORKERS).")
        parser.add_argument("--workers", type=int, help="Number of worker threads.")
        parser.add_argument("--service-type", type=int, help="Service type to process (3 = pedimento completo).")
        parser.add_argument("--test", action="store_true",
                            help=f"Test mode: pages {TEST_MODE_PAGES[0]}-{TEST_MODE_PAGES[1]} with {TEST_MODE_WORKERS} workers.")
        parser.add_argument("--json", action="store_true",
                            help="Print one JSON object with the run's results on stdout; "
                                 "everything else goes to stderr.")
        parser.add_argument("--sandbox", action="store_true",
                            help="Start the built-in simulated backend and VUCEM on free loopback "
                                 "ports, seed them and run against them.")
        parser.add_argument("--sandbox-seed", type=int, default=1234,
                            help="Random seed of the sandbox's data (with --sandbox).")
        parser.add_argument("--no-progress", action="store_true", help="Never show a progress bar.")
        parser.add_argument("--retry-failed", action="store_true",
                            help="Retry services whose latest outcome failed, instead of reading pages.")
        parser.add_argument("--run", type=int, dest="retry_run", help="With --retry-failed: only failures of this run id.")
        parser.add_argument("--error-kind", help="With --retry-failed: only failures of this error kind.")
        parser.add_argument("--since", help="With --retry-failed: only failures recorded on or after this date (YYYY-MM-DD).")

    def handle(self, *args, **options):
        as_json = options["json"]
        out = self.stderr if as_json else self.stdout
        verbosity = options["verbosity"]
        self._check_option_combinations(options)
        start_page, end_page, service_type, workers = self._parse_range(options)
        self._configure_logging(verbosity)
        self._check_database()
        run_id = options["retry_run"]
        if run_id is not None and not Run.objects.filter(pk=run_id).exists():
            raise CommandError(f"Run {run_id} not found.", returncode=EXIT_USAGE)

        with ExitStack() as stack:
            overrides = {}
            if options["sandbox"]:
                overrides = self._start_sandbox(stack, options["sandbox_seed"], out, verbosity)
            try:
                config = ProcessingConfig.from_settings(**overrides)
            except ImproperlyConfigured as error:
                self.stderr.write(self.style.ERROR(str(error)))
                sys.exit(EXIT_ABORTED)
            _register_config_secrets(config)

            stop_event = threading.Event()
            stack.enter_context(_StopSignals(stop_event, self.stderr))
            progress, bar = self._progress(out, verbosity, as_json, options["no_progress"], service_type)
            stack.callback(bar.close if bar else (lambda: None))
            runner = Runner(config, workers=workers, service_type=service_type,
                            progress=progress, stop_event=stop_event)
            started_by = _started_by()
            if options["retry_failed"]:
                service_ids = self._plan_retry(options, runner, config, out, verbosity)
                result = runner.run_services(service_ids, started_by=started_by)
            else:
                if verbosity:
                    out.write(f"Processing pages {start_page}-{end_page} with service_type={service_type} "
                              f"and {workers} workers")
                result = runner.run_pages(start_page, end_page, started_by=started_by)

        run = result.run
        # redact() masks secrets that reached an error text, such as a
        # password inside API_URL quoted in a connection error.
        if as_json:
            self.stdout.write(redact(json.dumps(summary_dict(result), ensure_ascii=False)))
        if verbosity or not as_json:
            out.write(redact(format_summary(result)))
        if run.status == Run.Status.ABORTED:
            self.stderr.write(self.style.ERROR(redact(f"Run aborted: {run.message}")))
        sys.exit(_exit_status(run))

    # --- helpers ------------------------------------------------------------

    def _check_option_combinations(self, options):
        """Raise a usage error for options that the chosen mode would ignore."""
        positional = [
            str(options[dest])
            for dest in ("start_page", "end_page", "service_type_pos", "workers_pos")
            if options[dest] is not None
        ]
        filters = [name for name, dest in RETRY_FILTERS.items() if options[dest] is not None]
        if options["retry_failed"]:
            if positional:
                raise CommandError(
                    f"--retry-failed takes no page arguments (got {' '.join(positional)}): "
                    "it retries failed services by id, whatever page they were on.",
                    returncode=EXIT_USAGE,
                )
            if options["test"]:
                raise CommandError(
                    "--retry-failed and --test cannot be combined, because --test reads "
                    f"pages {TEST_MODE_PAGES[0]}-{TEST_MODE_PAGES[1]}.",
                    returncode=EXIT_USAGE,
                )
        elif filters:
            if len(filters) == 1:
                subject, verb, pronoun = filters[0], "filters", "it"
            else:
                subject = ", ".join(filters[:-1]) + " and " + filters[-1]
                verb, pronoun = "filter", "them"
            raise CommandError(
                f"{subject} only {verb} what --retry-failed retries; add --retry-failed "
                f"or remove {pronoun}.",
                returncode=EXIT_USAGE,
            )
        if options["test"] and positional:
            raise CommandError(
                f"--test sets pages {TEST_MODE_PAGES[0]}-{TEST_MODE_PAGES[1]} itself, so it "
                f"takes no page arguments (got {' '.join(positional)}).",
                returncode=EXIT_USAGE,
            )
        if options["retry_run"] is not None and options["retry_run"] < 1:
            raise CommandError(
                f"Invalid --run {options['retry_run']}: run ids are whole numbers from 1.",
                returncode=EXIT_USAGE,
            )

    def _check_database(self):
        """Exit with status 1 when the database is unreachable or not migrated."""
        try:
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError as error:
            self.stderr.write(self.style.ERROR(
                f"Cannot read the database: {str(error).strip()}\n"
                "Check DATABASE_URL and that the database server is running."
            ))
            sys.exit(EXIT_ABORTED)
        if plan:
            self.stderr.write(self.style.ERROR(
                "The database has unapplied migrations; run `python manage.py migrate` first."
            ))
            sys.exit(EXIT_ABORTED)

    def _parse_range(self, options):
        if options["test"]:
            start_page, end_page = TEST_MODE_PAGES
            workers = _first_given(options["workers"], TEST_MODE_WORKERS)
        else:
            start_page = _first_given(options["start_page"], settings.DEFAULT_START_PAGE)
            end_page = _first_given(options["end_page"], settings.DEFAULT_END_PAGE)
            workers = _first_given(options["workers"], options["workers_pos"], settings.DEFAULT_MAX_WORKERS)
        service_type = _first_given(
            options["service_type"], options["service_type_pos"], settings.DEFAULT_SERVICE_TYPE
        )

        if options["start_page"] is not None and options["end_page"] is None and not options["test"]:
            raise CommandError(
                f"END_PAGE is missing after START_PAGE {start_page}; give both, e.g. '1 3'.", returncode=EXIT_USAGE
            )
        if start_page < 1 or end_page < start_page:
            raise CommandError(
                f"Invalid page range {start_page}-{end_page}: pages start at 1 and END_PAGE "
                "must not be smaller than START_PAGE.", returncode=EXIT_USAGE,
            )
        if not 1 <= workers <= 64:
            raise CommandError(f"Invalid number of workers {workers}: use 1 to 64.", returncode=EXIT_USAGE)
        if service_type not in SUPPORTED_SERVICE_TYPES:
            supported = ", ".join(f"{key} ({name})" for key, name in SUPPORTED_SERVICE_TYPES.items())
            raise CommandError(
                f"Service type {service_type} is not supported; supported types: {supported}.",
                returncode=EXIT_USAGE,
            )
        return start_page, end_page, service_type, workers

    def _plan_retry(self, options, runner, config, out, verbosity) -> list[int]:
        """Return the failed services to retry, after the checks the admin action makes.

        A service is skipped when it succeeded in a later run, is being
        processed by another run, or is no longer failed in the backend
        (another tool or an operator finished it), so a retry never does a
        service twice.
        """
        from pedimentos.retrying import retry_plan
        from pedimentos.selectors import failed_outcomes

        try:
            outcomes = list(failed_outcomes(
                run_id=options["retry_run"], error_kind=options["error_kind"],
                since=options["since"],
            ))
        except ValidationError as error:
            raise CommandError(error.messages[0], returncode=EXIT_USAGE) from None

        plan = retry_plan(outcomes, backend=runner.backend, state_failed=config.state_failed,
                          max_services=None)
        if plan.backend_error:
            self.stderr.write(self.style.ERROR(str(plan.backend_error)))
            sys.exit(EXIT_ABORTED)
        for skipped in plan.skipped:
            out.write(f"Service {skipped.outcome.service_id} skipped: {skipped.reason}")
        if verbosity:
            out.write(f"Retrying {len(plan.service_ids)} failed services "
                      f"({len(plan.skipped)} skipped)")
        return plan.service_ids

    def _configure_logging(self, verbosity):
        level = {0: logging.WARNING, 1: None, 2: logging.DEBUG, 3: logging.DEBUG}.get(verbosity)
        if level is not None:
            logging.getLogger("pedimentos").setLevel(level)

    def _start_sandbox(self, stack, seed, out, verbosity):
        from pedimentos.sandbox import Sandbox, SandboxConfig

        sandbox = stack.enter_context(Sandbox(SandboxConfig(seed=seed)))
        if verbosity:
            out.write(f"Sandbox started: backend {sandbox.api_url}, VUCEM {sandbox.vucem_url}")
        return {"api_url": sandbox.api_url, "api_token": sandbox.api_token, "vucem_url": sandbox.vucem_url}

    def _progress(self, out, verbosity, as_json, no_progress, service_type):
        def page_started(page, worker):
            if verbosity >= 1:
                out.write(f"[{worker}] Processing page {page} with service_type={service_type}")

        def page_finished(page, worker, succeeded, total):
            if verbosity >= 1:
                out.write(f"✓ Page {page} completed by {worker}: {succeeded}/{total} successful")

        bar = None
        progress = Progress(page_started=page_started, page_finished=page_finished)
        if not no_progress and not as_json and verbosity >= 1 and sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=0, unit="service", file=sys.stderr, leave=False)

            def snapshot_taken(total):
                bar.total = total
                bar.refresh()

            progress.snapshot_taken = snapshot_taken
            progress.outcome_recorded = lambda outcome: bar.update(1)
        return progress, bar


def _first_given(*values):
    return next(value for value in values if value is not None)


def _exit_status(run: Run) -> int:
    if run.status in (Run.Status.ABORTED, Run.Status.INTERRUPTED):
        return EXIT_ABORTED
    if run.failed:
        return EXIT_FAILURES
    return EXIT_OK


def _started_by() -> str:
    # Whether stdin is a terminal separates an interactive shell from cron, a
    # pipe or a service manager, but not which of those it is.
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry
        user = "?"
    terminal = "terminal" if sys.stdin and sys.stdin.isatty() else "no terminal"
    return f"command (user {user}, {terminal})"


def _register_config_secrets(config: ProcessingConfig) -> None:
    """Register the API token and any password inside API_URL or VUCEM_URL for masking."""
    register_secret(config.api_token)
    for url in (config.api_url, config.vucem_url):
        password = urlsplit(url).password
        if password:
            # Error texts may quote the URL as written or percent-decoded.
            register_secret(password)
            register_secret(unquote(password))


class _StopSignals:
    """Turn the first SIGINT or SIGTERM into a graceful stop; a second one exits at once."""

    def __init__(self, stop_event: threading.Event, stderr):
        self.stop_event = stop_event
        self.stderr = stderr
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame):
        if self.stop_event.is_set():
            self.stderr.write("Second stop signal: exiting now.")
            os._exit(EXIT_ABORTED)
        self.stop_event.set()
        self.stderr.write(
            f"Received {signal.Signals(signum).name}: no new services will start; "
            "waiting for those in flight."
        )
