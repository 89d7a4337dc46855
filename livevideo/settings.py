"""Settings for the live-video platform.

With no environment at all the app runs on SQLite with in-process channel layer and stores
(the embedded default). ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis;
every process started with the same ``REDIS_URL`` is part of one deployment.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-dev-key-only-for-the-embedded-default"

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
if not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "realtime",
    "presence",
    "livevideo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "livevideo.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "livevideo.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "livevideo.asgi.application"

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

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so a server process started by a test sees the test data.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("TEST_DB_NAME") or str(BASE_DIR / "test_db.sqlite3")
    }
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
else:
    # Fail fast while PostgreSQL is down: requests get a 503, not a hang.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
    if int(os.environ.get("DB_POOL_SIZE", "0")):
        # Production: an ASGI server runs each sync view in a new thread, so without a pool
        # every request opens a PostgreSQL connection (most of a request's time under load).
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": int(os.environ["DB_POOL_SIZE"]),
            "timeout": 10,
        }
    if os.environ.get("TEST_DB_NAME"):
        DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DB_NAME"]}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

if os.environ.get("LIVEVIDEO_FAST_PASSWORD_HASHER"):
    # Tests only: PBKDF2 would spend most of the suite's time hashing test passwords.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# The ASGI application serves /static/ itself (livevideo/asgi.py), DEBUG or not, straight from
# the app folders: one process is a whole site and collectstatic is never a required step.

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

REST_FRAMEWORK = {
    # Token first: DRF takes the WWW-Authenticate challenge from the first class, so
    # unauthenticated requests get 401 (Session alone would make them 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "livevideo.api.errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Live video API",
    "DESCRIPTION": "Broadcasts, reactions, comments, viewers and presence.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Django's own console handler would print each of its lines a second time (and the
    # development server's request lines) next to the root's.
    "loggers": {"django": {"handlers": [], "propagate": True}},
}

# --- Real-time platform (realtime/) -------------------------------------------------------
REALTIME = {
    # Bounded per-topic history for recovery after a reconnect.
    "HISTORY_BACKEND": (
        "realtime.history.redis.RedisHistory"
        if REDIS_URL
        else "realtime.history.memory.MemoryHistory"
    ),
    "HISTORY_SIZE": int(os.environ.get("REALTIME_HISTORY_SIZE", "1000")),
    # Seconds a topic's history (in Redis) outlives its last event.
    "HISTORY_TTL": int(os.environ.get("REALTIME_HISTORY_TTL", str(24 * 3600))),
    "REDIS_URL": REDIS_URL,
    "KEY_PREFIX": "rt",  # Redis keys rt:{topic}:seq, :log, :start; channels rt:<db>:{topic}
    # Latest-wins snapshots (reaction totals) go out at most this often per topic.
    "SNAPSHOT_INTERVAL": float(os.environ.get("REALTIME_SNAPSHOT_INTERVAL", "0.25")),
    # A broadcast's events go out at most this often per process: what arrives in between
    # waits and goes in the same frame (fewer socket writes under load; see realtime/hub.py).
    "FLUSH_INTERVAL": float(os.environ.get("REALTIME_FLUSH_INTERVAL", "0.05")),
    # A reconnect storm: while about this many viewers a second join a process, its fan-out
    # takes at most STORM_FANOUT_SHARE of the event loop, so they get back sooner.
    "STORM_JOINS": int(os.environ.get("REALTIME_STORM_JOINS", "200")),
    "STORM_FANOUT_SHARE": float(os.environ.get("REALTIME_STORM_FANOUT_SHARE", "0.1")),
    # A connection whose unsent backlog passes this many events is closed; it can resume.
    "MAX_BACKLOG": int(os.environ.get("REALTIME_MAX_BACKLOG", "1000")),
    # Seconds of silence before a keep-alive (WebSocket event, SSE comment).
    "KEEPALIVE_INTERVAL": float(os.environ.get("REALTIME_KEEPALIVE_INTERVAL", "15")),
    "SSE_RETRY_MS": 2000,  # the reconnect delay SSE clients are told
}

# --- Presence (presence/) -----------------------------------------------------------------
# A connection counts from its first heartbeat; it and its user lapse HEARTBEAT_INTERVAL +
# GRACE_PERIOD after the last one (a process that died). A closed connection stops counting at
# once, but its user stays online GRACE_PERIOD longer, so a reconnect shows no offline at all.
PRESENCE = {
    "BACKEND": (
        "presence.backends.redis.RedisPresenceStore"
        if REDIS_URL
        else "presence.backends.memory.MemoryPresenceStore"
    ),
    "OPTIONS": {"url": REDIS_URL} if REDIS_URL else {},
    "HEARTBEAT_INTERVAL": float(os.environ.get("PRESENCE_HEARTBEAT_INTERVAL", "15")),
    "GRACE_PERIOD": float(os.environ.get("PRESENCE_GRACE_PERIOD", "10")),
    # `viewers` and `presence` events go out at most this often per topic.
    "DEBOUNCE": float(os.environ.get("PRESENCE_DEBOUNCE", "1.0")),
    # Above this many users joining plus leaving in one event, it carries counts only.
    "MAX_LISTED_USERS": int(os.environ.get("PRESENCE_MAX_LISTED_USERS", "50")),
}

# --- Rate limits and moderation (livevideo/ratelimit/) ------------------------------------
RATE_LIMITS = {
    "BACKEND": (
        "livevideo.ratelimit.redis.RedisRateLimiter"
        if REDIS_URL
        else "livevideo.ratelimit.memory.MemoryRateLimiter"
    ),
    "OPTIONS": {"url": REDIS_URL} if REDIS_URL else {},
    # (hits, seconds) per user and broadcast; sign-in per username and per client address.
    "COMMENT": (int(os.environ.get("RATE_COMMENTS", "5")), 10.0),
    "REACTION": (int(os.environ.get("RATE_REACTIONS", "20")), 1.0),
    "SIGN_IN": (int(os.environ.get("RATE_SIGN_IN", "10")), 300.0),
}
