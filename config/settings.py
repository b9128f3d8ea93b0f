"""Django settings for the pedimentos project.

Every value comes from the environment or an optional ``.env`` file beside
``manage.py``; ``.env.example`` lists each one with its default and meaning.
"""

import math
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Reading typed values ---------------------------------------------------
# A bad value raises ImproperlyConfigured naming the setting, the value and
# what is expected, instead of a bare ValueError from int() or float(). An
# empty value counts as unset, like a line ``NAME=`` copied from .env.example.

BOOLEAN_TRUE = ("true", "yes", "on", "1")
BOOLEAN_FALSE = ("false", "no", "off", "0")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Schemes the error message names. django-environ 0.14 accepts more, all
# listed in environ.Env.DB_SCHEMES, and database_config() checks against those.
COMMON_DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "mysql")
# Settings whose value an error message must never show.
SECRET_SETTINGS = ("SECRET_KEY", "API_TOKEN")


def _invalid(name: str, value: str, expected: str) -> ImproperlyConfigured:
    shown = "(hidden)" if name in SECRET_SETTINGS else repr(value)
    return ImproperlyConfigured(f"Invalid setting {name}={shown}: expected {expected}.")


def env_int(name: str, default: int) -> int:
    """Read an integer setting from the environment."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise _invalid(name, value, "a whole number, e.g. " + str(default)) from None


def env_float(name: str, default: float) -> float:
    """Read a finite number setting (seconds, usually) from the environment."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise _invalid(name, value, f"a number, e.g. {default:g}")
    return number


def env_bool(name: str, default: bool) -> bool:
    """Read a true/false setting from the environment."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if value.lower() in BOOLEAN_TRUE:
        return True
    if value.lower() in BOOLEAN_FALSE:
        return False
    raise _invalid(name, value, "true or false (or yes/no, on/off, 1/0)")


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def database_config(url: str) -> dict:
    """Return Django's DATABASES entry for a database URL, checking its scheme."""
    scheme = urlsplit(url).scheme if "://" in url else ""
    if scheme not in environ.Env.DB_SCHEMES:
        raise _invalid(
            "DATABASE_URL",
            _without_password(url),
            "a database URL such as sqlite:////path/to/db.sqlite3 or "
            "postgres://user:password@host:5432/name, with a scheme "
            f"django-environ supports ({', '.join(COMMON_DATABASE_SCHEMES)}, ...)",
        )
    return environ.Env.db_url_config(url)


def log_level(name: str, default: str) -> str:
    """Read a logging level name from the environment."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if value.upper() not in LOG_LEVELS:
        raise _invalid(name, value, "one of " + ", ".join(LOG_LEVELS))
    return value.upper()


def log_file(name: str) -> str:
    """Read the path of an optional log file, checking that it can be written."""
    value = os.environ.get(name, "").strip()
    if not value:
        return ""
    path = Path(value)
    if not path.parent.is_dir():
        expected = f"a file in an existing directory ({path.parent} is not one)"
        raise _invalid(name, value, expected)
    if path.is_dir():
        raise _invalid(name, value, "a file path, not a directory")
    writable = path if path.exists() else path.parent
    if not os.access(writable, os.W_OK):
        expected = f"a file this user can write ({writable} is not writable)"
        raise _invalid(name, value, expected)
    return value


# --- Django -----------------------------------------------------------------

# The default key is for local use and the sandbox only. Set SECRET_KEY in
# production; it signs admin sessions.
SECRET_KEY = env.str("SECRET_KEY", default="insecure-local-only-set-SECRET_KEY")
DEBUG = env_bool("DEBUG", default=False)
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
DATABASES = {"default": database_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several worker threads write outcomes at once. WAL lets readers and one
    # writer work together, IMMEDIATE transactions take the write lock up
    # front (so two writers queue instead of failing on an upgrade), and the
    # timeout is how long a writer waits for the lock, in seconds. Each
    # worker thread has its own connection, and SQLite's default page cache
    # of 2 MiB per connection grew a 16-thread run by about 30 MB once the
    # database outgrew it. The queries are indexed lookups, so 512 KiB do.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-512;"
            ),
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
API_PAGE_SIZE = env_int("API_PAGE_SIZE", default=10)
API_SERVICES_PATH = env.str("API_SERVICES_PATH", default="customs/procesamientopedimentos/")
API_CREDENTIALS_PATH = env.str("API_CREDENTIALS_PATH", default="vucem/vucem/")
API_DOCUMENTS_PATH = env.str("API_DOCUMENTS_PATH", default="record/documents/")
API_CONNECT_TIMEOUT = env_float("API_CONNECT_TIMEOUT", default=5.0)
API_READ_TIMEOUT = env_float("API_READ_TIMEOUT", default=60.0)

SERVICE_STATE_PENDING = env_int("SERVICE_STATE_PENDING", default=1)
SERVICE_STATE_DONE = env_int("SERVICE_STATE_DONE", default=3)
SERVICE_STATE_FAILED = env_int("SERVICE_STATE_FAILED", default=2)
DOCUMENT_TYPE_PEDIMENTO_COMPLETO = env_int("DOCUMENT_TYPE_PEDIMENTO_COMPLETO", default=2)

# --- VUCEM ------------------------------------------------------------------

VUCEM_URL = env.str("VUCEM_URL", default="https://www.ventanillaunica.gob.mx")
VUCEM_CONNECT_TIMEOUT = env_float("VUCEM_CONNECT_TIMEOUT", default=30.0)
# VUCEM can take minutes at peak hours; integrators use 400 to 600 seconds.
VUCEM_READ_TIMEOUT = env_float("VUCEM_READ_TIMEOUT", default=400.0)
# OpenSSL security level for VUCEM connections only. Production VUCEM offers
# DH parameters that level 2 (OpenSSL 3's default) rejects as "dh key too
# small". Certificate verification stays on at every level.
VUCEM_TLS_SECURITY_LEVEL = env_int("VUCEM_TLS_SECURITY_LEVEL", default=1)
VUCEM_MAX_REPLY_BYTES = env_int("VUCEM_MAX_REPLY_BYTES", default=20 * 1024 * 1024)

# --- Processing -------------------------------------------------------------

REQUEST_DELAY_SECONDS = env_float("REQUEST_DELAY_SECONDS", default=0.5)
MAX_RETRIES = env_int("MAX_RETRIES", default=3)
RETRY_BACKOFF_SECONDS = env_float("RETRY_BACKOFF_SECONDS", default=2.0)
RETRY_BACKOFF_MAX_SECONDS = env_float("RETRY_BACKOFF_MAX_SECONDS", default=60.0)
RETRY_AFTER_MAX_SECONDS = env_float("RETRY_AFTER_MAX_SECONDS", default=120.0)
DEFAULT_START_PAGE = env_int("DEFAULT_START_PAGE", default=1)
DEFAULT_END_PAGE = env_int("DEFAULT_END_PAGE", default=3)
DEFAULT_SERVICE_TYPE = env_int("DEFAULT_SERVICE_TYPE", default=3)
DEFAULT_MAX_WORKERS = env_int("DEFAULT_MAX_WORKERS", default=2)
# A run stops taking new services after this many services in a row failed
# to reach VUCEM (connection errors, timeouts, 5xx), so an outage or a wrong
# VUCEM_URL fails a handful of services instead of the whole range. 0 turns
# the check off.
VUCEM_MAX_CONSECUTIVE_FAILURES = env_int("VUCEM_MAX_CONSECUTIVE_FAILURES", default=5)
# How long in-flight services may take to finish after Ctrl-C or SIGTERM.
SHUTDOWN_GRACE_SECONDS = env_float("SHUTDOWN_GRACE_SECONDS", default=30.0)
# How long a run's claim on a service lasts before another run may take it.
# It must outlast the slowest service: every attempt's read timeout plus the
# backoff between attempts.
CLAIM_LEASE_SECONDS = env_float("CLAIM_LEASE_SECONDS", default=3600.0)

# --- Logging ----------------------------------------------------------------

LOG_LEVEL = log_level("LOG_LEVEL", default="INFO")
LOG_FILE = log_file("LOG_FILE")

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
