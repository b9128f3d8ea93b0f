"""Django settings for the pedimentos project.

Every value comes from the environment or an optional ``.env`` file beside
``manage.py``; ``.env.example`` lists each one with its default and meaning.
"""

import os
import tempfile
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Django -----------------------------------------------------------------

# The default key is for local use and the sandbox only. Set SECRET_KEY in
# production; it signs admin sessions.
SECRET_KEY = env.str("SECRET_KEY", default="insecure-local-only-set-SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "pedimentos",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# An empty DATABASE_URL counts as unset, so `DATABASE_URL= make test` uses SQLite.
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": environ.Env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several worker threads write outcomes at once. WAL lets readers and one
    # writer work together, IMMEDIATE transactions take the write lock up
    # front (so two writers queue instead of failing on an upgrade), and the
    # timeout is how long a writer waits for the lock, in seconds.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests use a file database too: an in-memory one is shared between
    # threads through SQLite's shared cache, which locks whole tables. The
    # process id keeps concurrent test runs apart.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"pedimentos-test-{os.getpid()}.sqlite3"),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="es-mx")
LANGUAGES = [("es-mx", "Español (México)"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="America/Mexico_City")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Backend API (the broker's Django REST Framework service) ---------------

API_URL = env.str("API_URL", default="http://localhost:8000/api/v1")
API_TOKEN = env.str("API_TOKEN", default="")
API_PAGE_SIZE = env.int("API_PAGE_SIZE", default=10)
API_SERVICES_PATH = env.str("API_SERVICES_PATH", default="customs/procesamientopedimentos/")
API_CREDENTIALS_PATH = env.str("API_CREDENTIALS_PATH", default="vucem/vucem/")
API_DOCUMENTS_PATH = env.str("API_DOCUMENTS_PATH", default="record/documents/")
API_CONNECT_TIMEOUT = env.float("API_CONNECT_TIMEOUT", default=5.0)
API_READ_TIMEOUT = env.float("API_READ_TIMEOUT", default=60.0)

SERVICE_STATE_PENDING = env.int("SERVICE_STATE_PENDING", default=1)
SERVICE_STATE_DONE = env.int("SERVICE_STATE_DONE", default=3)
SERVICE_STATE_FAILED = env.int("SERVICE_STATE_FAILED", default=2)
DOCUMENT_TYPE_PEDIMENTO_COMPLETO = env.int("DOCUMENT_TYPE_PEDIMENTO_COMPLETO", default=2)

# --- VUCEM ------------------------------------------------------------------

VUCEM_URL = env.str("VUCEM_URL", default="https://www.ventanillaunica.gob.mx")
VUCEM_CONNECT_TIMEOUT = env.float("VUCEM_CONNECT_TIMEOUT", default=30.0)
# VUCEM can take minutes at peak hours; integrators use 400 to 600 seconds.
VUCEM_READ_TIMEOUT = env.float("VUCEM_READ_TIMEOUT", default=400.0)
# OpenSSL security level for VUCEM connections only. Production VUCEM offers
# DH parameters that level 2 (OpenSSL 3's default) rejects as "dh key too
# small". Certificate verification stays on at every level.
VUCEM_TLS_SECURITY_LEVEL = env.int("VUCEM_TLS_SECURITY_LEVEL", default=1)
VUCEM_MAX_REPLY_BYTES = env.int("VUCEM_MAX_REPLY_BYTES", default=20 * 1024 * 1024)

# --- Processing -------------------------------------------------------------

REQUEST_DELAY_SECONDS = env.float("REQUEST_DELAY_SECONDS", default=0.5)
MAX_RETRIES = env.int("MAX_RETRIES", default=3)
RETRY_BACKOFF_SECONDS = env.float("RETRY_BACKOFF_SECONDS", default=2.0)
RETRY_BACKOFF_MAX_SECONDS = env.float("RETRY_BACKOFF_MAX_SECONDS", default=60.0)
RETRY_AFTER_MAX_SECONDS = env.float("RETRY_AFTER_MAX_SECONDS", default=120.0)
DEFAULT_START_PAGE = env.int("DEFAULT_START_PAGE", default=1)
DEFAULT_END_PAGE = env.int("DEFAULT_END_PAGE", default=3)
DEFAULT_SERVICE_TYPE = env.int("DEFAULT_SERVICE_TYPE", default=3)
DEFAULT_MAX_WORKERS = env.int("DEFAULT_MAX_WORKERS", default=2)
# A run stops taking new services after this many services in a row failed
# to reach VUCEM (connection errors, timeouts, 5xx), so an outage or a wrong
# VUCEM_URL fails a handful of services instead of the whole range. 0 turns
# the check off.
VUCEM_MAX_CONSECUTIVE_FAILURES = env.int("VUCEM_MAX_CONSECUTIVE_FAILURES", default=5)
# How long in-flight services may take to finish after Ctrl-C or SIGTERM.
SHUTDOWN_GRACE_SECONDS = env.float("SHUTDOWN_GRACE_SECONDS", default=30.0)
# How long a run's claim on a service lasts before another run may take it.
# It must outlast the slowest service: every attempt's read timeout plus the
# backoff between attempts.
CLAIM_LEASE_SECONDS = env.float("CLAIM_LEASE_SECONDS", default=3600.0)

# --- Logging ----------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FILE = env.str("LOG_FILE", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_secrets": {"()": "pedimentos.logging.RedactSecretsFilter"},
    },
    "formatters": {
        "threaded": {
            "format": "%(asctime)s [%(threadName)s] %(levelname)s %(name)s: %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "threaded",
            "filters": ["redact_secrets"],
        },
    },
    # Libraries (requests, urllib3, zeep) log through the root logger, so it
    # gets the redacting handler too.
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "pedimentos": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "zeep": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
if LOG_FILE:
    LOGGING["handlers"]["file"] = {
        "class": "logging.handlers.WatchedFileHandler",
        "filename": LOG_FILE,
        "formatter": "threaded",
        "filters": ["redact_secrets"],
    }
    LOGGING["root"]["handlers"].append("file")
    for logger in LOGGING["loggers"].values():
        logger["handlers"].append("file")
