"""HealthNet settings, read from the environment (see .env.example and docs/deploy.md).

Two runtimes share this one file (docs/design.md §10):
- the embedded default: SQLite, Celery on kombu's filesystem transport, no servers needed;
- production (HEALTHNET_ENV=production): PostgreSQL via DATABASE_URL, Redis via CELERY_BROKER_URL
  and CACHE_URL. Production refuses to start with DEBUG on, any development secret, or an
  embedded stand-in (SQLite, in-process cache, filesystem broker, logging SMS gateway): see
  production_problems() at the end.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HEALTHNET_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# --- environment and secrets -------------------------------------------------------------------

HEALTHNET_ENV = env_str("HEALTHNET_ENV", "development")
if HEALTHNET_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured("HEALTHNET_ENV must be development, test or production")
IS_PRODUCTION = HEALTHNET_ENV == "production"

# Development defaults: fine on a laptop, refused in production (see check below).
DEVELOPMENT_SECRET_KEY = "django-insecure-healthnet-development-only-do-not-use-in-production"  # noqa: S105
DEVELOPMENT_FIELD_ENCRYPTION_KEY = "aGVhbHRobmV0LWRldmVsb3BtZW50LWtleS0zMmJ5dGU="

SECRET_KEY = env_str("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
# 32 bytes, base64: encrypts national IDs at rest and keys their lookup hash (see
# healthnet/encryption.py).
FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY", DEVELOPMENT_FIELD_ENCRYPTION_KEY)
DEBUG = env_bool("DEBUG", not IS_PRODUCTION)
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if IS_PRODUCTION else ["127.0.0.1", "localhost", "[::1]"]
)


def field_encryption_key_problem(value: str) -> str | None:
    """Why FIELD_ENCRYPTION_KEY cannot encrypt (None = usable). Checked at startup in every
    environment: a malformed key must stop the process, not fail every resident read later."""
    try:
        decoded = base64.b64decode(value, validate=True)
    except ValueError:
        return "FIELD_ENCRYPTION_KEY must be base64 (32 random bytes, base64-encoded)"
    if len(decoded) != 32:
        return f"FIELD_ENCRYPTION_KEY must decode to 32 bytes, not {len(decoded)}"
    return None


if _key_problem := field_encryption_key_problem(FIELD_ENCRYPTION_KEY):
    raise ImproperlyConfigured(_key_problem)

# --- applications ------------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # serves its Swagger UI assets itself (no CDN: clinics may be offline)
    "django_htmx",
    "healthnet",
    "signing",
    "referrals",
    "healthcodes",
    "reports",
    "portal",
    "demo",  # above every domain app: demo data and logins; no domain app imports it
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "healthnet.middleware.RequestIdMiddleware",
    "healthnet.middleware.ResponseHeadersMiddleware",  # no-store, Content-Security-Policy
    "config.api_errors.ApiErrorMiddleware",  # framework errors under /api/ in the API's format
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "healthnet.middleware.SessionLimitsMiddleware",  # idle and absolute session limits
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "healthnet.User"
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.session_limits",
            ],
        },
    },
]

# --- database and cache ------------------------------------------------------------------------

VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'healthnet.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the Celery worker write while the web process reads; a busy timeout instead of
    # "database is locked" errors when both write at once.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL and (_xdist_worker := os.environ.get("PYTEST_XDIST_WORKER", "")):
    # Parallel test workers each get their own Redis database, so one worker's cache.clear()
    # cannot wipe another's rate-limit or replay state.
    CACHE_URL = CACHE_URL.rstrip("/0123456789") + "/" + str(2 + int(_xdist_worker.lstrip("gw")))
if CACHE_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ------------------------------------------------------------------------------------
# Unset CELERY_BROKER_URL = kombu's filesystem transport under var/celery: a worker and beat run
# with no server at all (make run). Production points it at Redis (or RabbitMQ).

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_DIR = VAR_DIR / "celery"
if CELERY_BROKER_URL == "filesystem://":
    for _folder in ("out", "processed", "control"):
        (CELERY_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "out"),
        "data_folder_out": str(CELERY_BROKER_DIR / "out"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = "Asia/Shanghai"
# Publishing must not hang a web request when the broker is down: fail fast, the outbox sweep
# delivers later (healthnet/outbox.py).
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The periodic jobs; each app's tasks are idempotent (running one twice changes nothing more).
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "outbox-sweep": {"task": "healthnet.tasks.outbox_sweep", "schedule": 60.0},
    "outbox-purge": {"task": "healthnet.tasks.outbox_purge", "schedule": 24 * 3600.0},
    "signing-renewal-due": {"task": "signing.tasks.contracts_mark_renewal_due", "schedule": 3600.0},
    "signing-expire": {"task": "signing.tasks.contracts_expire", "schedule": 3600.0},
    "signing-followup-reminders": {
        "task": "signing.tasks.followup_reminders_send",
        "schedule": 6 * 3600.0,
    },
    "healthcode-keys-rotate": {
        "task": "healthcodes.tasks.healthcode_keys_rotate_task",
        "schedule": 3600.0,
    },
    "referrals-escalate-overdue": {
        "task": "referrals.tasks.referrals_escalate_overdue",
        "schedule": 300.0,
    },
    "referrals-auto-close": {"task": "referrals.tasks.referrals_auto_close", "schedule": 3600.0},
}

# Referral deadlines (docs/design.md §4), in minutes. Decision by urgency (emergency = green
# channel).
REFERRAL_DEADLINES = {
    "decision": {"emergency": 30, "urgent": 4 * 60, "routine": 48 * 60},
    "booking": 7 * 24 * 60,  # accepted → scheduled, and the appointment within it
    "no_show_notify": 24 * 60,  # rebook or cancel a no-show, and tell the referrer, within a day
    "feedback": 3 * 24 * 60,  # arrived → completed (feedback to the referrer)
    "acknowledge": 3 * 24 * 60,  # completed → closed by the referrer, else automatically
}

# --- notifications (outbox channels) -----------------------------------------------------------

NOTIFICATION_CHANNELS = {
    "log": "healthnet.channels.LogChannel",
    "email": "healthnet.channels.EmailChannel",
    "sms": "healthnet.channels.SmsChannel",
}
# The SMS provider's adapter (healthnet.channels.SmsGateway). The default only logs, with the
# number masked; production refuses it: name the provider's adapter, or
# healthnet.channels.DisabledSmsGateway to send no SMS at all (each one then fails, visibly).
LOGGING_SMS_GATEWAY = "healthnet.channels.LoggingSmsGateway"
SMS_GATEWAY = env_str("SMS_GATEWAY", LOGGING_SMS_GATEWAY)
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8)
# Sent and failed messages keep their recipient (a phone number, an address) and text this long,
# then the daily outbox-purge job blanks them; the row stays as a record that something was sent.
OUTBOX_RETENTION_DAYS = env_int("OUTBOX_RETENTION_DAYS", 30)
# After the broker refuses a publish, a web process skips publishing for this long instead of
# paying the connect timeout on every message; the minute sweep delivers meanwhile.
OUTBOX_PUBLISH_PAUSE_SECONDS = env_int("OUTBOX_PUBLISH_PAUSE_SECONDS", 30)
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "healthnet@localhost")

# --- auth --------------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if "API_TOKEN_LIFETIME_DAYS" in os.environ:
    raise ImproperlyConfigured(
        "API_TOKEN_LIFETIME_DAYS was replaced by API_TOKEN_LIFETIME_SECONDS and "
        "API_TOKEN_IDLE_SECONDS (see docs/security.md)"
    )
# Limits suited to a clinic shift on a shared PC (docs/security.md): a login lasts at most a
# shift and ends after half an hour untouched. Tokens likewise; an integration asks for a new
# one when it gets 401.
API_TOKEN_LIFETIME_SECONDS = env_int("API_TOKEN_LIFETIME_SECONDS", 12 * 3600)
API_TOKEN_IDLE_SECONDS = env_int("API_TOKEN_IDLE_SECONDS", 30 * 60)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600)  # absolute, from the login
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 30 * 60)

# Login throttling (healthnet/login_throttle.py): every attempt is counted before the password
# is checked. Per client address + username, per address across usernames (password spraying)
# and per username across addresses (except from an address it logged in from before), each
# with its own number of free attempts in a window; past it, one attempt is let through per
# delay, the delay doubling from LOGIN_DELAY_BASE_SECONDS up to LOGIN_DELAY_MAX_SECONDS.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 20)
LOGIN_USERNAME_FAILURE_LIMIT = env_int("LOGIN_USERNAME_FAILURE_LIMIT", 50)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900)
LOGIN_DELAY_BASE_SECONDS = env_int("LOGIN_DELAY_BASE_SECONDS", 2)
LOGIN_DELAY_MAX_SECONDS = env_int("LOGIN_DELAY_MAX_SECONDS", 300)
LOGIN_KNOWN_ADDRESS_DAYS = env_int("LOGIN_KNOWN_ADDRESS_DAYS", 30)
# ID-number lookups and registrations refused as duplicates, per user (healthnet/rate_limits.py):
# each tells whether a number belongs to a resident, so a script could enumerate them.
RESIDENT_LOOKUP_LIMIT = env_int("RESIDENT_LOOKUP_LIMIT", 60)
RESIDENT_LOOKUP_WINDOW_SECONDS = env_int("RESIDENT_LOOKUP_WINDOW_SECONDS", 3600)
# How many reverse proxies in front of the web processes append to X-Forwarded-For. 0 = none:
# the connecting address is the client. Behind one nginx, 1. Never more than there are: a
# client could then choose its own address by sending the header.
TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 0)

# The well-known demo password (README): refused at login in production whatever DEMO_PASSWORD
# says, as is DEMO_PASSWORD itself.
DEFAULT_DEMO_PASSWORD = "healthnet-demo"  # noqa: S105 (public by design, refused in production)
DEMO_PASSWORD = env_str("DEMO_PASSWORD", DEFAULT_DEMO_PASSWORD)

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", IS_PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
if IS_PRODUCTION:
    # TLS ends at the reverse proxy, which must send X-Forwarded-Proto (docs/deploy.md).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer probes over plain HTTP
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

# Portal pages (HTML) may load scripts, styles, fonts and images from this site only: no inline
# script or style, no other origin (healthnet/middleware.py adds the header).
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
)
# The API documentation (/api/v1/docs and its OpenAPI document): public, or only for signed-in
# staff (any role but resident).
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", not IS_PRODUCTION)

# --- i18n and time -----------------------------------------------------------------------------

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# whitenoise (MIDDLEWARE) serves the static files. Production serves what `collectstatic` wrote:
# names carry a content hash (cached for a year) with compressed copies beside them. Elsewhere
# the files are read from the apps directly, so no collectstatic is needed to develop or test.
# Each backend: BACKEND and, for some, OPTIONS (a dict); imports adds one below.
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not IS_PRODUCTION

# --- logging -----------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- network data ------------------------------------------------------------------------------

NETWORK_DATA_FILE = env_str("NETWORK_DATA_FILE", str(BASE_DIR / "data" / "wuhai.yaml"))
API_PAGE_SIZE_DEFAULT = 50
API_PAGE_SIZE_MAX = 200
# A request body (file uploads aside) larger than this is refused with 413 before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)


# --- what production refuses -------------------------------------------------------------------


def production_problems() -> list[str]:
    """What stops this configuration from running in production (empty = fine). Each is a way
    the system would run but not safely: known secrets, per-process state where several
    processes must share it, or a stand-in that writes personal data to the log."""
    problems = []
    if DEBUG:
        problems.append("DEBUG must be off")
    if SECRET_KEY == DEVELOPMENT_SECRET_KEY or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        # Django's own bar (check --deploy, security.W009).
        problems.append("SECRET_KEY must be set to a random value of at least 50 characters")
    if FIELD_ENCRYPTION_KEY == DEVELOPMENT_FIELD_ENCRYPTION_KEY:
        problems.append("FIELD_ENCRYPTION_KEY must be set (32 random bytes, base64)")
    if not ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must list the host names served")
    if "*" in ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must name the hosts served, not '*'")
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        problems.append("DATABASE_URL must point at PostgreSQL, not the embedded SQLite file")
    if CACHES["default"]["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        # Each worker would keep its own login counters and health-code replay set.
        problems.append("CACHE_URL must point at Redis (shared by every web worker)")
    if CELERY_BROKER_URL == "filesystem://":
        problems.append("CELERY_BROKER_URL must point at Redis or RabbitMQ, not the filesystem")
    if SMS_GATEWAY == LOGGING_SMS_GATEWAY:
        problems.append(
            "SMS_GATEWAY must name the SMS provider's adapter (or "
            "healthnet.channels.DisabledSmsGateway), not the logging stand-in"
        )
    return problems


if IS_PRODUCTION and (_problems := production_problems()):
    raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(_problems))

# --- contract import jobs (signing/importer; issue 9 items 5, 6, 17; portal issue 10) ----------
# An uploaded file waits here for its Celery task, and the task writes the per-row error report
# here. One machine: var/imports. Web and workers on several machines: a shared volume, or an
# object store through a storage backend (docs/signing.md). The limits are in
# signing/importer/limits.py, each overridable here by its name.

STORAGES["imports"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": env_str("SIGNING_IMPORT_DIR", str(VAR_DIR / "imports"))},
}
SIGNING_IMPORT_SYNC_MAX_BYTES = env_int("SIGNING_IMPORT_SYNC_MAX_BYTES", 2 * 1024 * 1024)
SIGNING_IMPORT_MAX_BYTES = env_int("SIGNING_IMPORT_MAX_BYTES", 64 * 1024 * 1024)
CELERY_BEAT_SCHEDULE["signing-import-jobs-sweep"] = {
    "task": "signing.tasks.contract_import_jobs_sweep",
    "schedule": 300.0,
}

# Bureau reports (docs/reports.md, "How it runs"): the rollups of the current and the previous
# month (late data lands) are rebuilt every hour; older ones with `manage.py rebuild_reports`.
CELERY_BEAT_SCHEDULE["reports-rebuild-recent"] = {
    "task": "reports.tasks.reports_rebuild_recent",
    "schedule": 3600.0,
}
# A team-level figure counting fewer records than this is suppressed in the exports and flagged
# in the API (small cells could identify people).
REPORTS_SMALL_CELL = env_int("REPORTS_SMALL_CELL", 5)
