"""Shared fixtures: a sandbox on loopback and a run config aimed at it."""

import pytest

from pedimentos.conf import ProcessingConfig
from pedimentos.retry import RetryPolicy


@pytest.fixture
def make_sandbox():
    """Start sandboxes on free loopback ports; stop them after the test."""
    from pedimentos.sandbox import Sandbox, SandboxConfig

    started = []

    def make(**options):
        options.setdefault("default_mix", False)
        sandbox = Sandbox(SandboxConfig(**options)).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


def sandbox_config(sandbox, **overrides) -> ProcessingConfig:
    """Return a run config aimed at the sandbox, with fast retries and no delay."""
    values = {
        "api_url": sandbox.api_url,
        "api_token": sandbox.api_token,
        "vucem_url": sandbox.vucem_url,
        "request_delay": 0.0,
        "retry_policy": RetryPolicy(max_attempts=3, backoff=0.01, backoff_max=0.05,
                                    retry_after_max=0.05, jitter=0),
        "vucem_read_timeout": 5.0,
        "api_read_timeout": 5.0,
        "shutdown_grace": 5.0,
    }
    values.update(overrides)
    return ProcessingConfig.from_settings(**values)


@pytest.fixture
def sandbox_settings(settings):
    """Point Django settings at a sandbox (for code that reads settings itself)."""

    def apply(sandbox):
        settings.API_URL = sandbox.api_url
        settings.API_TOKEN = sandbox.api_token
        settings.VUCEM_URL = sandbox.vucem_url
        settings.REQUEST_DELAY_SECONDS = 0.0
        settings.RETRY_BACKOFF_SECONDS = 0.01
        settings.RETRY_BACKOFF_MAX_SECONDS = 0.05
        settings.RETRY_AFTER_MAX_SECONDS = 0.05
        settings.VUCEM_READ_TIMEOUT = 5.0
        settings.API_READ_TIMEOUT = 5.0
        return settings

    return apply
