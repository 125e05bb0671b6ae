"""The one settings module. Everything that differs between machines comes from the environment.

DATABASE_URL       dj-database-url syntax; absent -> a SQLite file in the project (var/db.sqlite3)
CELERY_BROKER_URL  absent -> tasks run eagerly in-process, right after the commit
SECRET_KEY         required unless DEBUG
DEBUG              "1"/"true"/"yes" means true
ALLOWED_HOSTS      comma-separated
EMAIL_URL-ish      EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD,
                   EMAIL_USE_TLS, DEFAULT_FROM_EMAIL (console backend by default)
API_SCHEMA_PUBLIC  "1" opens the API schema and docs to anonymous visitors (default: staff only)
AXES_FAILURE_LIMIT, AXES_COOLOFF_MINUTES, TRUSTED_PROXIES
                   sign-in throttling: failures per username and address, how long they lock
                   (0: until reset), and how many proxies append to X-Forwarded-For
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable to a long random "
            "string (or DEBUG=1 for local development only)."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG"  # noqa: S105

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
if DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "players",
    "scoring",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin, API docs) from our own process, also under gunicorn.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pointagram_site.urls"

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

WSGI_APPLICATION = "pointagram_site.wsgi.application"
ASGI_APPLICATION = "pointagram_site.asgi.application"

SQLITE_DEFAULT = f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or SQLITE_DEFAULT,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The embedded default: web requests and eager tasks share one file; wait for the lock.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Statements are prepared only where the code asks (the webhook's INSERT); Django's own
    # queries bind client-side and are never prepared.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"  # `make web` collects here; WhiteNoise serves it
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]  # the site's own: the admin's stylesheet, the favicon
# Also serve straight from the apps' static folders, so the admin and the API docs work
# without a collectstatic step (make run, tests).
WHITENOISE_USE_FINDERS = True

# Email: console by default, so invitations show up in the terminal of `make run`.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "points@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"secrets": {"()": "pointagram_site.logging_filters.RedactWebhookSecrets"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["secrets"]}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django logs 4xx/5xx with the path, and runserver every request: both go through the
        # redacting handler only.
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# --- Sign-in throttling (django-axes) ------------------------------------------------------
# Every sign-in with a password (the admin login is the only one) counts failures per username
# and client address; AXES_FAILURE_LIMIT of them lock that pair for AXES_COOLOFF_MINUTES (each
# further try restarts the wait). Only the pair: an attacker elsewhere cannot lock a colleague
# out. Unlock at once with `manage.py axes_reset_username NAME` (README, Security).
AXES_ENABLED = True
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
_cooloff_minutes = env_int("AXES_COOLOFF_MINUTES", 15)
AXES_COOLOFF_TIME = timedelta(minutes=_cooloff_minutes) if _cooloff_minutes > 0 else None
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a colleague's occasional typo never adds up to a lock
AXES_LOCKOUT_CALLABLE = "pointagram_site.login_lockout.locked_out"
AXES_CLIENT_IP_CALLABLE = "pointagram_site.login_lockout.client_ip"
# Failures are kept (that is the lock); successful sign-ins are not logged with their address.
AXES_DISABLE_ACCESS_LOG = True
# Proxies in front of the site that each append the address they saw to X-Forwarded-For; 0
# (the default) means the site is reached directly and REMOTE_ADDR is the client.
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)

# --- Production security (`manage.py check --deploy` passes with DEBUG off) ----------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_TLS_PROXY"):
    # The proxy terminates TLS and says so in this header (set it only behind such a proxy).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["pointagram_site.api.StaffReadsScoringAdminWrites"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "pointagram_site.api.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Points API",
    "DESCRIPTION": "Players, score series, the ledger, leaderboards, configuration, and add "
    "score (the Custom integration). Token auth: `Authorization: Token <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page's JavaScript and CSS come from our own static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Schema and docs: staff only, like reading the API, unless API_SCHEMA_PUBLIC.
    "SERVE_PERMISSIONS": ["pointagram_site.api.SchemaReaders"],
}
# Open /api/v1/schema/ and /api/v1/docs/ to anonymous visitors (the API itself stays shut).
API_SCHEMA_PUBLIC = env_bool("API_SCHEMA_PUBLIC")

# --- Webhooks -------------------------------------------------------------------------------
# Raw payloads (body and headers) of events older than this are pruned by a beat task; the
# event's status and outcome, and the ledger, are kept.
EVENT_PAYLOAD_DAYS = env_int("EVENT_PAYLOAD_DAYS", 30)
# Where deliveries are spooled while the database is down (fsynced local files), per machine.
WEBHOOK_SPOOL_DIR = os.environ.get("WEBHOOK_SPOOL_DIR") or str(BASE_DIR / "var" / "spool")
WEBHOOK_SPOOL_MAX_BYTES = env_int("WEBHOOK_SPOOL_MAX_BYTES", 1024**3)
# An event whose processing keeps failing (the source's API down, a crash) is marked failed
# after this many attempts.
EVENT_MAX_ATTEMPTS = env_int("EVENT_MAX_ATTEMPTS", 8)
# A drain task takes up to EVENT_BATCH_SIZE pending events into one transaction, and holds them
# for EVENT_CLAIM_SECONDS (then another drain may take them; the sweeper ignores the claim).
EVENT_BATCH_SIZE = env_int("EVENT_BATCH_SIZE", 100)
EVENT_CLAIM_SECONDS = env_int("EVENT_CLAIM_SECONDS", 120)
# Largest webhook body accepted, in bytes. Pipedrive and HubSpot deliveries are a few KB (a
# HubSpot batch of 100 events is ~30 KB); 1 MiB leaves room for generic sources with big records.
WEBHOOK_MAX_BODY_BYTES = env_int("WEBHOOK_MAX_BODY_BYTES", 1024 * 1024)
# The most changes (items of a JSON array) one delivery may hold; a source that documents its
# own limit (HubSpot: 100) keeps to that. Above it the delivery is refused (413), nothing stored:
# a delivery's changes are applied in one transaction, by one worker.
WEBHOOK_MAX_CHANGES = env_int("WEBHOOK_MAX_CHANGES", 1000)

# --- Outbound calls ------------------------------------------------------------------------
# Calls to a source's API go over https to its own hosts only (integrations/sources/outbound.py).
# These hosts ("host" or "host:port", comma-separated) may be reached too, over http as well,
# whatever address they resolve to, loopback included: local stand-ins of source APIs, tests.
OUTBOUND_ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("OUTBOUND_ALLOWED_HOSTS", "").split(",") if h.strip()
]

# --- Celery ---------------------------------------------------------------------------------
# Read by pointagram_site/celery.py with namespace "CELERY"; tests/test_celery_config.py checks
# that every CELERY_* name here is a real Celery setting (misspelled ones are silently ignored).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Without a broker a processing error must never change the webhook's HTTP answer.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged only when it has finished, and handed back if its worker dies: a
# crash mid-task means the task runs again (tasks are idempotent), never that it is lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Each worker process reserves one task at a time, so a slow task does not hold others back.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# No task may outlive the broker's visibility timeout, or Redis would hand the still-running
# task to a second worker: hard limit 10 min < visibility timeout 15 min.
CELERY_TASK_SOFT_TIME_LIMIT = 540
CELERY_TASK_TIME_LIMIT = 600
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 900}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "pointagram")
CELERY_TIMEZONE = TIME_ZONE
# Celery beat (`make beat`): the sweeper queues events stored while the broker was down; the
# sync pulls users and recent changes from every integration that has an API token.
SYNC_EVERY_MINUTES = env_int("SYNC_EVERY_MINUTES", 60)
# The sweeper queues events still pending SWEEP_AFTER_SECONDS after they arrived (stored while
# the broker was down, or handed to a worker that died), every EVENTS_SWEEP_SECONDS.
EVENTS_SWEEP_SECONDS = env_int("EVENTS_SWEEP_SECONDS", 60)
SWEEP_AFTER_SECONDS = env_int("SWEEP_AFTER_SECONDS", 60)
SPOOL_REPLAY_SECONDS = env_int("SPOOL_REPLAY_SECONDS", 30)
# Competition rounds start, end (standings frozen, winners recorded) and recur this often.
COMPETITIONS_BEAT_SECONDS = env_int("COMPETITIONS_BEAT_SECONDS", 60)
CELERY_BEAT_SCHEDULE = {
    "competitions-advance": {
        "task": "scoring.competitions_advance",
        "schedule": float(COMPETITIONS_BEAT_SECONDS),
    },
    "events-sweep": {"task": "integrations.events_sweep", "schedule": float(EVENTS_SWEEP_SECONDS)},
    "events-prune": {"task": "integrations.events_prune", "schedule": 3600.0},
    "spool-replay": {"task": "integrations.spool_replay", "schedule": float(SPOOL_REPLAY_SECONDS)},
    "syncs-schedule": {
        "task": "integrations.syncs_schedule",
        "schedule": 60.0 * SYNC_EVERY_MINUTES,
    },
}
