"""The one settings module for every environment; differences come from environment variables.

Default (nothing set): a SQLite file under var/ and Celery on kombu's filesystem transport, so the
product runs with no server installed. Production: DATABASE_URL (PostgreSQL), CELERY_BROKER_URL
(Redis), SECRET_KEY and FIELD_ENCRYPTION_KEYS are required; DEBUG is off unless set.
The README's table lists every variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state of the embedded default: the SQLite file, the broker folder, collected statics.
VAR_DIR = BASE_DIR / env.str("INVENTORY_HUB_VAR_DIR", default="var")  # absolute paths stay absolute

# Dev-only fallbacks, accepted only with DEBUG on; the deploy checks refuse them.
DEV_SECRET_KEY = "django-insecure-inventory-hub-development-only-key-never-use-in-production"  # noqa: S105
DEV_FIELD_ENCRYPTION_KEY = "ZGV2LW9ubHktZmllbGQta2V5LWRvLW5vdC11c2UtIT0="


# --- Django core -----------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set (or DEBUG=1 for local development).")
    SECRET_KEY = DEV_SECRET_KEY
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "django_celery_beat",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "template_partials",
    "inventory_hub.core",
    "inventory_hub.inventory",
    "inventory_hub.connectors",
    "inventory_hub.observations",
    "inventory_hub.reconciliation",
    "inventory_hub.tracing",
    "inventory_hub.dashboard",
    "inventory_hub.api",
    "inventory_hub.reports",
    "inventory_hub.webhooks",
    "inventory_hub.sandbox",  # the simulated retailer (its own management command only)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "inventory_hub.core.middleware.HtmxLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # axes must come last: it turns a lockout raised by its backend into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "inventory_hub.urls"
WSGI_APPLICATION = "inventory_hub.wsgi.application"

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
                "inventory_hub.dashboard.context_processors.csp_nonce",
                "inventory_hub.dashboard.context_processors.navigation",
            ],
        },
    }
]


# --- Database --------------------------------------------------------------------------------

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'inventory_hub.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("application_name", "inventory_hub")
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the web server read while a poll's transaction writes; the busy timeout makes a
    # second writer wait instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    # A file (not :memory:) so a real Celery worker process sees the test database.
    DATABASES["default"].setdefault("TEST", {})
    DATABASES["default"]["TEST"].setdefault("NAME", str(VAR_DIR / "test_inventory_hub.sqlite3"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- Authentication --------------------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first, so a locked-out user is refused early
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0) or None
AXES_ENABLE_RETRY_AFTER_HEADER = True


# --- HTTPS, cookies, headers -----------------------------------------------------------------

# Cookies are HTTPS-only unless DEBUG; set SECURE_SSL_REDIRECT=0 only behind a proxy that
# already redirects.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
# The preload directive only allows submission to the browsers' list; submitting is manual.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

SESSION_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "sessionid" if DEBUG else "__Secure-sessionid"
SESSION_COOKIE_AGE = 8 * 3600
CSRF_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_HTTPONLY = True  # HTMX reads the token from <body hx-headers>, not the cookie
CSRF_COOKIE_NAME = "csrftoken" if DEBUG else "__Secure-csrftoken"

# django-csp 4: the nonce covers our own <script> tags; nothing inline runs without it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}


# --- Internationalisation and time -----------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # stored and computed in UTC; pages convert to each location's time zone
USE_I18N = True
USE_TZ = True


# --- Static files ----------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
if STATIC_ROOT.is_relative_to(VAR_DIR):
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "inventory_hub.core.staticfiles.VendorFinder",  # plotly.min.js from the pinned plotly package
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env.bool("STATIC_MANIFEST", default=True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}


# --- Caches ----------------------------------------------------------------------------------

# Shared across processes when CACHE_URL points at Redis (axes counters, DRF throttles).
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://inventory-hub")}


# --- Secrets at rest -------------------------------------------------------------------------

# Newest key first; older keys still decrypt until `rotate_connector_keys` has re-encrypted.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be set: one or more Fernet keys, newest first "
            "(generate one with `python manage.py generate_encryption_key`)."
        )
    FIELD_ENCRYPTION_KEYS = [DEV_FIELD_ENCRYPTION_KEY]


# --- Celery ----------------------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    # kombu's filesystem transport: a folder of message files shared by every process on this
    # machine. It needs no server, which is all the embedded default asks for.
    _broker_dir = VAR_DIR / "celery-broker"
    for _folder in ("out", "processed"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest hard time limit, so a running task is never redelivered.
        "visibility_timeout": 3600,
        # Redelivery after a worker crash in about visibility_timeout + 10 s, not + 100 s.
        "unacked_restore_throttle": 1,
        "socket_timeout": 30,
        "health_check_interval": 25,
    }
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_EXTENDED = False
CELERY_TASK_IGNORE_RESULT = True  # outcomes are recorded in the database (PollRun, …)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
# A worker process killed mid-task (OOM, deploy) re-runs the task as a retry, so it counts
# against max_retries and a task that kills its worker cannot loop forever.
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_TASK_RETRY_ON_WORKER_LOST = True
CELERY_TASK_DEFAULT_MAX_RETRIES = 5
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int("CELERY_WORKER_MAX_MEMORY_KIB", default=512_000)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 30
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    # The one polling entry: it enqueues a poll for each enabled connector whose own interval
    # (an admin-edited field) has elapsed. Expires so a backlog of fan-outs never piles up.
    "connectors-poll-due": {
        "task": "inventory_hub.connectors.tasks.connectors_poll_due_task",
        "schedule": env.int("POLL_FANOUT_SECONDS", default=10),
        "options": {"expires": 10},
    },
    # The full reconciliation sweep: repairs whatever the per-poll incremental runs missed.
    "reconciliation-sweep": {
        "task": "inventory_hub.reconciliation.tasks.reconciliation_sweep_task",
        "schedule": env.int("RECONCILIATION_SWEEP_SECONDS", default=900),
        "options": {"expires": 900},
    },
    # Orders checked for oversells once every WMS poll after them is in (tracing/detection.py).
    "oversells-detect-due": {
        "task": "inventory_hub.tracing.tasks.oversells_detect_due_task",
        "schedule": env.int("OVERSELL_DETECT_SECONDS", default=60),
        "options": {"expires": 60},
    },
    # Frees the claim of a poll whose worker was killed mid-poll.
    "poll-runs-expire": {
        "task": "inventory_hub.connectors.tasks.poll_runs_expire_task",
        "schedule": 600,
        "options": {"expires": 600},
    },
    # Lets the connectors page say whether any worker is alive.
    "worker-heartbeat": {
        "task": "inventory_hub.core.tasks.worker_heartbeat_task",
        "schedule": 60,
        "options": {"expires": 60},
    },
}


# --- REST API (/api/v1/) ------------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: an anonymous API call gets 401 with "WWW-Authenticate: Token", not a bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",  # other tools: "Authorization: Token …"
        "rest_framework.authentication.SessionAuthentication",  # the browser, with its CSRF token
    ],
    # Never AllowAny: every endpoint answers to a role's permission (inventory_hub/api/permissions.py).
    "DEFAULT_PERMISSION_CLASSES": ["inventory_hub.api.permissions.RolePermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON in as well as out, as the schema says (a form encoding cannot say null or nest a list).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "inventory_hub.api.pagination.IdCursorPagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=100),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="30/minute"),
        "user": env.str("API_THROTTLE_USER", default="1200/minute"),
    },
}
# After a webhook secret is rotated the sender may sign with the old one for a while (Shopify:
# "up to an hour"): both verify for this long after the rotation.
WEBHOOK_SECRET_OVERLAP_MINUTES = env.int("WEBHOOK_SECRET_OVERLAP_MINUTES", default=120)
# Settled deliveries (applied, duplicate, stale, ignored, rejected) are kept this long for the audit.
WEBHOOK_KEEP_DAYS = env.int("WEBHOOK_KEEP_DAYS", default=30)
CELERY_BEAT_SCHEDULE |= {
    "webhook-deliveries-purge": {
        "task": "inventory_hub.webhooks.tasks.webhook_deliveries_purge_task",
        "schedule": 6 * 3600,
        "options": {"expires": 3600},
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Inventory Hub API",
    "DESCRIPTION": (
        "What the WMS, ERP and storefront say about stock per location and SKU, the discrepancies "
        "between them, oversells traced to their count events, hop lags, pools and allocation rules, "
        "and the expected ATP a storefront should pull instead of a lagged ERP figure."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["inventory_hub.api.permissions.RolePermission"],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # JSON bodies only: a form encoding cannot say null or nest a list (boundary entries).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # DRF's error responses (400/401/403/404/415/429) on every operation, documented once.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "inventory_hub.api.schema.add_error_responses",
    ],
    # Swagger UI from the pinned sidecar package: no CDN (the CSP allows only our own origin).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "DiscrepancyClassEnum": "inventory_hub.reconciliation.models.DiscrepancyClass",
        "HopEnum": "inventory_hub.reconciliation.models.Hop",
        "RootCauseEnum": "inventory_hub.tracing.models.RootCause",
        "SystemEnum": "inventory_hub.connectors.models.Role",
    },
}


# --- Logging ---------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "inventory_hub.core.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # httpx logs every request at INFO: one line per page of every poll is noise.
    "loggers": {"axes": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}
DEFAULT_EXCEPTION_REPORTER_FILTER = "inventory_hub.core.logging.HubExceptionReporterFilter"

ADMINS = [("Admin", a) for a in env.list("ADMIN_EMAILS", default=[])]
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="inventory-hub@localhost")


# --- Reports (CSV / XLSX exports) ------------------------------------------------------------

# Where export files are written; every process that runs a worker or serves downloads needs it.
REPORTS_DIR = Path(env.str("REPORTS_DIR", default=str(VAR_DIR / "reports")))
REPORTS_MAX_RANGE_DAYS = env.int("REPORTS_MAX_RANGE_DAYS", default=366)
REPORTS_PROGRESS_EVERY = env.int("REPORTS_PROGRESS_EVERY", default=5000)  # rows between progress writes
REPORTS_KEEP_DAYS = env.int("REPORTS_KEEP_DAYS", default=30)
REPORTS_MAX_ATTACHMENT_BYTES = env.int("REPORTS_MAX_ATTACHMENT_BYTES", default=10 * 1024 * 1024)
CELERY_BEAT_SCHEDULE |= {
    # Runs the scheduled reports whose send time has come (each schedule is claimed once per period).
    "report-schedules-due": {
        "task": "inventory_hub.reports.tasks.report_schedules_due_task",
        "schedule": env.int("REPORT_SCHEDULES_SECONDS", default=300),
        "options": {"expires": 300},
    },
    "report-files-purge": {
        "task": "inventory_hub.reports.tasks.report_files_purge_task",
        "schedule": 6 * 3600,
        "options": {"expires": 3600},
    },
}
