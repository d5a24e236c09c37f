"""Rolegate settings, read from the environment (see README "Configuration").

Defaults make ``make demo`` work on a fresh machine: SQLite and a broker that needs no server,
both under ``var/``. ``ROLEGATE_ENV=production`` turns on the secure defaults and makes the
secrets mandatory.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

import django_stubs_ext
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from portal.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
    env_url,
    private_directory,
    private_file,
    read_or_create_secret,
)
from portal.logs import FORMATS, logging_config

django_stubs_ext.monkeypatch()

PORTAL_DIR = Path(__file__).resolve().parent  # templates and static ship inside this package
BASE_DIR = PORTAL_DIR.parent
# The demo's state directory: ./var of a checkout; for an installed package (BASE_DIR is then
# site-packages) ./var of the working directory. Production keeps nothing there.
_default_var = BASE_DIR / "var" if (BASE_DIR / "manage.py").exists() else Path.cwd() / "var"
VAR_DIR = Path(env_str("ROLEGATE_VAR_DIR", str(_default_var))).resolve()

ROLEGATE_ENV = env_choice("ROLEGATE_ENV", "demo", ("demo", "dev", "test", "production"))
PRODUCTION = ROLEGATE_ENV == "production"
if not PRODUCTION:
    private_directory(VAR_DIR)  # secrets, the SQLite database and the broker live here

DEBUG = env_bool("DEBUG", ROLEGATE_ENV in ("demo", "dev"))
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when ROLEGATE_ENV=production")

_secret = env_secret("SECRET_KEY", "")
if not _secret:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when ROLEGATE_ENV=production (or SECRET_KEY_FILE)"
        )
    _secret = read_or_create_secret(VAR_DIR / "secret_key")
SECRET_KEY = _secret

ROLEGATE_PUBLIC_URL = env_url("ROLEGATE_PUBLIC_URL", "http://127.0.0.1:8000")
ROLEGATE_CLUSTER_NAME = env_str("ROLEGATE_CLUSTER_NAME", "rolegate")
ROLEGATE_DEFAULT_REGION = env_str("ROLEGATE_DEFAULT_REGION", "us-east-1")
ROLEGATE_PROFILE_SYNC_INTERVAL = env_int("ROLEGATE_PROFILE_SYNC_INTERVAL", 300, minimum=30)
# How long an access request waits for reviewers before it expires unreviewed (seconds).
ROLEGATE_ACCESS_REQUEST_REVIEW_TTL = env_int(
    "ROLEGATE_ACCESS_REQUEST_REVIEW_TTL", 24 * 3600, minimum=60, maximum=30 * 24 * 3600
)
# Client-side pacing per Roles Anywhere quota family (AWS default: 1 request/s); 0 = off.
ROLEGATE_PROFILE_SYNC_RATE = env_float("ROLEGATE_PROFILE_SYNC_RATE", 1.0, minimum=0)
ROLEGATE_PROFILE_SYNC_TIMEOUT = env_int("ROLEGATE_PROFILE_SYNC_TIMEOUT", 10, minimum=1)
ROLEGATE_PROFILE_SYNC_MAX_ATTEMPTS = env_int("ROLEGATE_PROFILE_SYNC_MAX_ATTEMPTS", 5, minimum=1)
ROLEGATE_PROFILE_SYNC_TIME_LIMIT = env_int("ROLEGATE_PROFILE_SYNC_TIME_LIMIT", 900, minimum=60)
# Tag reads of one integration that may overlap (opt-in: a throttled run was once not marked
# transient with 4 readers, so the default stays one at a time).
ROLEGATE_PROFILE_SYNC_TAG_WORKERS = env_int("ROLEGATE_PROFILE_SYNC_TAG_WORKERS", 4, minimum=1)
# The whole CreateSession step of one issuance (retries and backoff included), in seconds: with
# the console's sign-in token step (2 x 5 s at most) it stays under the web server's worker
# timeout (gunicorn: 30 s), so a slow AWS answers as an error instead of a killed worker.
ROLEGATE_ISSUANCE_TIMEOUT = env_float("ROLEGATE_ISSUANCE_TIMEOUT", 15.0, minimum=1, maximum=300)
# A sync that would remove more than this share of an integration's apps (or all of them) stops
# with ERROR and removes nothing; `sync_profiles NAME --allow-mass-delete` confirms a large one.
ROLEGATE_PROFILE_SYNC_MAX_DELETE_SHARE = env_float(
    "ROLEGATE_PROFILE_SYNC_MAX_DELETE_SHARE", 0.5, minimum=0, maximum=1
)

# The CA private key is encrypted at rest under this key (comma-separated: first encrypts, all
# decrypt, for key rotation); production must set it (check rolegate.E010), the demo makes one.
ROLEGATE_CA_ENCRYPTION_KEY = env_str("ROLEGATE_CA_ENCRYPTION_KEY", "")
ROLEGATE_CA_ENCRYPTION_KEY_FILE = env_str("ROLEGATE_CA_ENCRYPTION_KEY_FILE", "")
if not PRODUCTION and not ROLEGATE_CA_ENCRYPTION_KEY and not ROLEGATE_CA_ENCRYPTION_KEY_FILE:
    ROLEGATE_CA_ENCRYPTION_KEY_FILE = str(VAR_DIR / "ca_encryption_key")
    read_or_create_secret(Path(ROLEGATE_CA_ENCRYPTION_KEY_FILE))
# The audit chain's HMAC keys (apps/audit/keys.py): "KEY_ID:SECRET" entries, comma-separated,
# the first seals; never stored in the database. Production must set one (check rolegate.E030);
# the demo, dev and tests generate one under var/.
ROLEGATE_AUDIT_KEY = env_str("ROLEGATE_AUDIT_KEY", "")
ROLEGATE_AUDIT_KEY_FILE = env_str("ROLEGATE_AUDIT_KEY_FILE", "")
if not PRODUCTION and not ROLEGATE_AUDIT_KEY and not ROLEGATE_AUDIT_KEY_FILE:
    ROLEGATE_AUDIT_KEY_FILE = str(VAR_DIR / "audit_key")
    read_or_create_secret(Path(ROLEGATE_AUDIT_KEY_FILE))
# Seal each audit event right after its transaction commits (off only to measure the cost).
ROLEGATE_AUDIT_SEAL_ON_COMMIT = env_bool("ROLEGATE_AUDIT_SEAL_ON_COMMIT", True)
# Webhooks (issue 25): attempts per delivery, the first retry's delay (doubling after), the HTTP
# timeout, and how many deliveries failing in a row disable an endpoint.
ROLEGATE_WEBHOOK_MAX_ATTEMPTS = env_int("ROLEGATE_WEBHOOK_MAX_ATTEMPTS", 6, minimum=1, maximum=20)
ROLEGATE_WEBHOOK_BACKOFF_SECONDS = env_int(
    "ROLEGATE_WEBHOOK_BACKOFF_SECONDS", 30, minimum=1, maximum=3600
)
ROLEGATE_WEBHOOK_TIMEOUT = env_int("ROLEGATE_WEBHOOK_TIMEOUT", 5, minimum=1, maximum=60)
ROLEGATE_WEBHOOK_DISABLE_AFTER = env_int(
    "ROLEGATE_WEBHOOK_DISABLE_AFTER", 5, minimum=1, maximum=1000
)
# A trusted CA expiring within this many days is announced daily (ca.expiry_warned).
ROLEGATE_CA_EXPIRY_WARNING_DAYS = env_int(
    "ROLEGATE_CA_EXPIRY_WARNING_DAYS", 30, minimum=1, maximum=3650
)
# Signed checkpoints of the chain, written by beat to the log and to these sinks.
ROLEGATE_AUDIT_CHECKPOINT_INTERVAL = env_int(
    "ROLEGATE_AUDIT_CHECKPOINT_INTERVAL", 300, minimum=10, maximum=86400
)
ROLEGATE_AUDIT_CHECKPOINT_FILE = env_str(
    "ROLEGATE_AUDIT_CHECKPOINT_FILE",
    str(VAR_DIR / "audit-checkpoints.jsonl") if ROLEGATE_ENV in ("demo", "dev") else "",
)
ROLEGATE_AUDIT_CHECKPOINT_URL = env_str("ROLEGATE_AUDIT_CHECKPOINT_URL", "")
if ROLEGATE_AUDIT_CHECKPOINT_URL:
    ROLEGATE_AUDIT_CHECKPOINT_URL = env_url("ROLEGATE_AUDIT_CHECKPOINT_URL", "")
ROLEGATE_CA_KEY_TYPE = env_choice(
    "ROLEGATE_CA_KEY_TYPE", "ecdsa-p256", ("ecdsa-p256", "rsa-2048", "rsa-3072")
)
ROLEGATE_CA_VALIDITY_DAYS = env_int("ROLEGATE_CA_VALIDITY_DAYS", 3650, minimum=30, maximum=36500)

_public_host = ROLEGATE_PUBLIC_URL.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
ALLOWED_HOSTS = env_list(
    "ROLEGATE_ALLOWED_HOSTS",
    [_public_host] if PRODUCTION else [_public_host, "127.0.0.1", "localhost", "testserver"],
)
CSRF_TRUSTED_ORIGINS = env_list("ROLEGATE_CSRF_TRUSTED_ORIGINS", [ROLEGATE_PUBLIC_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "csp",
    "apps.core",
    "apps.accounts",
    "apps.audit",
    "apps.authority",
    "apps.integrations",
    "apps.resources",
    "apps.access",
    "apps.api",
    "apps.webhooks",
    "apps.demo",
]

MIDDLEWARE = [
    # Probes first: they answer any Host (pod IPs) without touching sessions or the TLS redirect.
    "apps.core.probes.ProbeMiddleware",
    # Outside everything that may audit: seals what the request committed once its response
    # has been sent (apps/audit/middleware.py).
    "apps.audit.middleware.SealAfterResponseMiddleware",
    "apps.core.middleware.ProxyHeadersMiddleware",
    "apps.api.middleware.ResponseHygieneMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "apps.accounts.middleware.LegacyBackendPathMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "apps.core.middleware.RequestContextMiddleware",
    "apps.audit.input_guard.JsonInputGuardMiddleware",
    "apps.core.logcontext.LogContextMiddleware",
]

# Request bodies above this size are refused with 413 (JSON under /api/).
ROLEGATE_MAX_REQUEST_BYTES = env_int(
    "ROLEGATE_MAX_REQUEST_BYTES", 1024 * 1024, minimum=64 * 1024, maximum=100 * 1024 * 1024
)
DATA_UPLOAD_MAX_MEMORY_SIZE = ROLEGATE_MAX_REQUEST_BYTES

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PORTAL_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.rolegate",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        "DATABASE_URL", env_secret("DATABASE_URL", f"sqlite:///{VAR_DIR / 'rolegate.sqlite3'}")
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Session keys live in the database: never world-readable (WAL files follow its mode).
    private_file(Path(str(DATABASES["default"]["NAME"])))
    # The demo runs a web server and a Celery worker on one SQLite file: WAL and a busy timeout
    # keep the worker's writes from failing while a page reads.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
# A database that stops answering fails requests in seconds (see README "Timeouts"): a bounded
# connect, a server-side statement timeout, and a client-side watchdog for a frozen server.
ROLEGATE_DB_CONNECT_TIMEOUT = env_int("ROLEGATE_DB_CONNECT_TIMEOUT", 5, minimum=1, maximum=300)
ROLEGATE_DB_STATEMENT_TIMEOUT = env_int(
    "ROLEGATE_DB_STATEMENT_TIMEOUT", 20, minimum=0, maximum=24 * 3600
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "apps.core.postgres"
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    assert isinstance(_db_options, dict)
    _db_options.setdefault("connect_timeout", ROLEGATE_DB_CONNECT_TIMEOUT)
    if ROLEGATE_DB_STATEMENT_TIMEOUT:
        _db_options["options"] = (
            f"{_db_options.get('options', '')} "
            f"-c statement_timeout={ROLEGATE_DB_STATEMENT_TIMEOUT * 1000}"
        ).strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if ROLEGATE_ENV == "test":
    # Hashing dominates test time; production keeps Django's default PBKDF2.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [PORTAL_DIR / "static"]
# Where `collectstatic` writes and whitenoise serves from. An installed Rolegate keeps it in its
# own prefix (the virtualenv or image), filled once at install or image build time.
_default_static_root = VAR_DIR / "staticfiles"
if PRODUCTION and not (BASE_DIR / "manage.py").exists():
    _default_static_root = Path(sys.prefix) / "share" / "rolegate" / "static"
STATIC_ROOT = Path(env_str("ROLEGATE_STATIC_ROOT", str(_default_static_root)))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names (cached for a year by browsers) and gzip/brotli copies, served by whitenoise.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
if PRODUCTION:
    # Static files right after security, as whitenoise documents (no session, no CSRF); the
    # demo's runserver serves them itself.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )

# Sessions: absolute lifetime plus an idle timeout enforced by middleware.
SESSION_COOKIE_AGE = env_int("ROLEGATE_SESSION_MAX_AGE", 12 * 3600, minimum=300)
SESSION_COOKIE_HTTPONLY = True
ROLEGATE_SESSION_IDLE_TIMEOUT = env_int("ROLEGATE_SESSION_IDLE_TIMEOUT", 3600, minimum=0)
# Reverse proxies (apps/core/proxies.py): either the number of trusted proxy hops in front of
# Rolegate, or the networks trusted proxies connect from (not both). The client address is read
# from X-Forwarded-For as the trusted proxies wrote it (from the right), never from the left.
ROLEGATE_TRUSTED_PROXY_HOPS = env_int("ROLEGATE_TRUSTED_PROXY_HOPS", 0, minimum=0, maximum=10)
ROLEGATE_TRUSTED_PROXIES = env_list("ROLEGATE_TRUSTED_PROXIES", [])
for _network in ROLEGATE_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"ROLEGATE_TRUSTED_PROXIES: {_network!r} is not an IP network (e.g. 10.0.0.0/8)"
        ) from None
if ROLEGATE_TRUSTED_PROXY_HOPS and ROLEGATE_TRUSTED_PROXIES:
    raise ImproperlyConfigured(
        "Set ROLEGATE_TRUSTED_PROXY_HOPS or ROLEGATE_TRUSTED_PROXIES, not both"
    )
# Deprecated (check rolegate.W030): the old boolean now means "one trusted hop".
ROLEGATE_TRUST_X_FORWARDED_FOR = env_bool("ROLEGATE_TRUST_X_FORWARDED_FOR", False)
if ROLEGATE_TRUST_X_FORWARDED_FOR and not ROLEGATE_TRUSTED_PROXIES:
    ROLEGATE_TRUSTED_PROXY_HOPS = ROLEGATE_TRUSTED_PROXY_HOPS or 1
if ROLEGATE_TRUSTED_PROXY_HOPS or ROLEGATE_TRUSTED_PROXIES:
    # Only a trusted proxy may say the client connected over TLS (ProxyHeadersMiddleware
    # drops the header from untrusted peers when networks are configured).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if PRODUCTION:
    # __Host- cookies are only accepted over https, for path /, without a Domain: no subdomain
    # or plain-http page can set or shadow them.
    SESSION_COOKIE_NAME = "__Host-rolegate_session"
    CSRF_COOKIE_NAME = "__Host-rolegate_csrftoken"
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("ROLEGATE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("ROLEGATE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    },
}

# Cache: Redis when configured (shared across processes), local memory otherwise.
REDIS_URL = env_secret("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Test processes share one Redis: each gets its own key space (see tests/conftest.py).
            "KEY_PREFIX": env_str("ROLEGATE_CACHE_PREFIX", "rolegate")
            + (f"-test-{os.getpid()}" if ROLEGATE_ENV == "test" else ""),
            # A hung Redis must not hang page views: callers treat cache errors as "no cache".
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: JSON only; a filesystem broker under var/ by default so the demo needs no server.
_default_broker = "filesystem://"
CELERY_BROKER_URL = env_secret("CELERY_BROKER_URL", _default_broker)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery"
    if not PRODUCTION:  # production refuses this broker (rolegate.E002) and writes no local state
        for _sub in ("out", "processed", "control"):
            (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcast (pidbox) state, which kombu would otherwise write to ./control.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A sync can take minutes; the visibility timeout must exceed the longest task so Redis
        # does not hand the same message to a second worker while the first still runs.
        "visibility_timeout": env_int("ROLEGATE_CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60),
    }
# Publishing never holds a web request hostage: short socket timeouts and one quick retry
# (the worker's blocking read waits 1 s at a time, under the socket timeout).
ROLEGATE_BROKER_TIMEOUT = env_float("ROLEGATE_BROKER_TIMEOUT", 2.0, minimum=0.1, maximum=60)
if not CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        {
            "socket_connect_timeout": ROLEGATE_BROKER_TIMEOUT,
            "socket_timeout": max(ROLEGATE_BROKER_TIMEOUT, 5.0),
        }
    )
CELERY_BROKER_CONNECTION_TIMEOUT = ROLEGATE_BROKER_TIMEOUT
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0.2,
    "interval_step": 0,
    "interval_max": 0.2,
}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("ROLEGATE_CELERY_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Django's LOGGING (JSON or plain, with the task context) applies in workers too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # celery-redbeat keeps the schedule in Redis and holds a lock there: any number of beat
    # processes can run, one schedules and the others wait to take over, so no tick is doubled.
    CELERY_BEAT_SCHEDULER = "redbeat.RedBeatScheduler"
    CELERY_REDBEAT_REDIS_URL = env_secret("ROLEGATE_REDBEAT_REDIS_URL", CELERY_BROKER_URL)
    CELERY_REDBEAT_KEY_PREFIX = env_str("ROLEGATE_REDBEAT_KEY_PREFIX", "rolegate:redbeat:")
    # A beat that dies holds the lock this long before another takes over (seconds).
    CELERY_REDBEAT_LOCK_TIMEOUT = env_int("ROLEGATE_BEAT_LOCK_TIMEOUT", 60, minimum=5)
    CELERY_BEAT_MAX_LOOP_INTERVAL = max(CELERY_REDBEAT_LOCK_TIMEOUT // 5, 1)

EMAIL_BACKEND = env_str(
    "ROLEGATE_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("ROLEGATE_EMAIL_FROM", "rolegate@localhost")

LOGGING = logging_config(
    env_str("ROLEGATE_LOG_LEVEL", "INFO"),
    env_choice("ROLEGATE_LOG_FORMAT", "plain", FORMATS),
)
# /metrics answers only with `Authorization: Bearer <token>`; unset, it is off (404).
ROLEGATE_METRICS_TOKEN = env_secret("ROLEGATE_METRICS_TOKEN", "")
# Celery workers serve their own /metrics on this port when the token is set (0 = off).
ROLEGATE_WORKER_METRICS_PORT = env_int(
    "ROLEGATE_WORKER_METRICS_PORT", 9808, minimum=0, maximum=65535
)
ROLEGATE_PASSWORD_LOGIN = env_bool("ROLEGATE_PASSWORD_LOGIN", True)
# Rate limits per minute (0 = off), shared by every process through the cache: credential
# issuances per user (console and CLI), CLI device-login starts per client address.
ROLEGATE_ISSUANCE_RATE_LIMIT = env_int("ROLEGATE_ISSUANCE_RATE_LIMIT", 60, minimum=0)
ROLEGATE_DEVICE_LOGIN_RATE_LIMIT = env_int("ROLEGATE_DEVICE_LOGIN_RATE_LIMIT", 10, minimum=0)

# Single sign-on (OpenID Connect): on when an issuer is set. The provider's discovery document
# is fetched lazily at first use (apps/accounts/oidc/provider.py), so start-up never depends on
# the IdP.
ROLEGATE_OIDC_ISSUER = env_str("ROLEGATE_OIDC_ISSUER", "").strip().rstrip("/")
ROLEGATE_OIDC_ENABLED = bool(ROLEGATE_OIDC_ISSUER)
if ROLEGATE_OIDC_ENABLED:
    ROLEGATE_OIDC_ISSUER = env_url("ROLEGATE_OIDC_ISSUER", "")
ROLEGATE_OIDC_CLIENT_ID = env_str("ROLEGATE_OIDC_CLIENT_ID", "")
ROLEGATE_OIDC_CLIENT_SECRET = env_secret("ROLEGATE_OIDC_CLIENT_SECRET", "")
if ROLEGATE_OIDC_ENABLED and not ROLEGATE_OIDC_CLIENT_ID:
    raise ImproperlyConfigured("ROLEGATE_OIDC_CLIENT_ID is required with ROLEGATE_OIDC_ISSUER")
if PRODUCTION and ROLEGATE_OIDC_ENABLED and not ROLEGATE_OIDC_ISSUER.startswith("https://"):
    raise ImproperlyConfigured("ROLEGATE_OIDC_ISSUER must be https when ROLEGATE_ENV=production")
ROLEGATE_OIDC_SCOPES = env_str("ROLEGATE_OIDC_SCOPES", "openid email profile").split()
if ROLEGATE_OIDC_ENABLED and "openid" not in ROLEGATE_OIDC_SCOPES:
    raise ImproperlyConfigured("ROLEGATE_OIDC_SCOPES must include openid")
ROLEGATE_OIDC_USERNAME_CLAIM = env_str("ROLEGATE_OIDC_USERNAME_CLAIM", "preferred_username")
ROLEGATE_OIDC_ALLOWED_EMAIL_DOMAINS = env_list("ROLEGATE_OIDC_ALLOWED_EMAIL_DOMAINS", [])
ROLEGATE_OIDC_CLAIMS_ALLOWLIST = env_list("ROLEGATE_OIDC_CLAIMS_ALLOWLIST", [])
ROLEGATE_OIDC_CLOCK_SKEW = env_int("ROLEGATE_OIDC_CLOCK_SKEW", 60, minimum=0, maximum=600)
ROLEGATE_OIDC_CONNECTOR = env_str("ROLEGATE_OIDC_CONNECTOR", "oidc")
# The password backend refuses every attempt when ROLEGATE_PASSWORD_LOGIN=false (web, API, admin).
AUTHENTICATION_BACKENDS = [
    "apps.accounts.oidc.backend.PasswordBackend",
    "apps.accounts.oidc.backend.OidcBackend",
]
