"""Settings for the live-video platform.

With no environment at all the app runs on SQLite with in-process channel layer and stores
(the embedded default). ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis;
every process started with the same ``REDIS_URL`` is part of one deployment. The real-time
platform's settings (``REALTIME``, ``PRESENCE``) are made in ``livevideo/realtime_settings.py``;
docs/operations.md lists the environment variables.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONCE

from livevideo import realtime_settings
from livevideo.env import env_bool, env_float, env_int, env_list

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-dev-key-only-for-the-embedded-default"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]

INSTALLED_APPS = [
    "livevideo.apps.DaphneRunserverConfig",  # daphne's runserver; before staticfiles' own
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
    "loadtest",  # manage.py loadtest: the load tool, not product code
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
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
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
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
    if env_int("DB_POOL_SIZE", 0):
        # Production: an ASGI server runs each sync view in a new thread, so without a pool
        # every request opens a PostgreSQL connection (most of a request's time under load).
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": env_int("DB_POOL_SIZE", 0),
            # Seconds a request waits for a connection: a refused database answers 503 as
            # soon as without a pool (the connect timeout above), not after psycopg's 30 s.
            "timeout": env_float("DB_POOL_TIMEOUT", 3),
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
# The ASGI application serves /static/ itself (livevideo/staticfiles.py), DEBUG or not,
# straight from the app folders: one process is a whole site and collectstatic is never a
# required step. Seconds browsers and proxies may keep a static file.
STATIC_MAX_AGE = env_int("STATIC_MAX_AGE", 3600)

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
    "DEFAULT_PARSER_CLASSES": [
        "livevideo.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
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
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

# Content-Security-Policy (django-csp): what the pages load, and nothing else. Scripts and
# styles come from /static/ (the two inline module scripts carry the request's nonce); the
# stream is same-origin; video may also come from CSP_MEDIA_SOURCES (space-separated origins:
# the media server's HLS, fetched by the player and played from blob: URLs). The API's
# browsable pages and docs (DRF, Swagger UI) use inline scripts of their own: not covered.
# Where viewers fetch video (the media server or a CDN; the app's own /media/ by default).
LIVE_VIDEO_PUBLIC_URL = os.environ.get("LIVE_VIDEO_PUBLIC_URL", "/media/")
_media_origin = urlsplit(LIVE_VIDEO_PUBLIC_URL)
CSP_MEDIA_SOURCES = os.environ.get("CSP_MEDIA_SOURCES", "https:").split() + (
    [f"{_media_origin.scheme}://{_media_origin.netloc}"] if _media_origin.netloc else []
)
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/api/"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "media-src": ["'self'", "blob:", *CSP_MEDIA_SOURCES],
        "connect-src": ["'self'", *CSP_MEDIA_SOURCES],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Permissions-Policy (django-permissions-policy): the pages use none of these features.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer", "camera", "geolocation", "gyroscope", "magnetometer", "microphone",
        "payment", "usb", "display-capture", "serial", "hid",
    )
}  # fmt: skip
PERMISSIONS_POLICY["fullscreen"] = ["self"]  # the video player's full-screen button
PERMISSIONS_POLICY["autoplay"] = ["self"]  # muted live video starts by itself

# Proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated): the
# client address every per-address limit uses (realtime/clientaddress.py). Empty: none.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")

# Who may read /metrics (addresses or networks, comma-separated): the scraper, on the process's
# own port. By default this machine only.
METRICS_ALLOWED = env_list("METRICS_ALLOWED", "127.0.0.1,::1")

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Django's own console handler would print each of its lines a second time (and the
    # development server's request lines) next to the root's.
    "loggers": {"django": {"handlers": [], "propagate": True}},
}

# --- Real-time platform (realtime/, presence/: livevideo/realtime_settings.py) ---------------
# Regions (docs/scale-out.md, "Regions"): this process's region and every region's name.
REALTIME_REGION = os.environ.get("REALTIME_REGION", "")
REALTIME_REGIONS = env_list("REALTIME_REGIONS", REALTIME_REGION)
REALTIME = realtime_settings.realtime(
    redis_url=REDIS_URL, region=REALTIME_REGION, regions=REALTIME_REGIONS
)
PRESENCE = realtime_settings.presence(redis_url=REDIS_URL, region=REALTIME_REGION)

# --- Rate limits and moderation (livevideo/ratelimit/, read by livevideo.ratelimit.conf) -----
RATE_LIMITS = {
    "BACKEND": (
        "livevideo.ratelimit.redis.RedisRateLimiter"
        if REDIS_URL
        else "livevideo.ratelimit.memory.MemoryRateLimiter"
    ),
    "OPTIONS": {"url": REDIS_URL} if REDIS_URL else {},
    # (hits, seconds) per user and broadcast; sign-in per username and per client address.
    "COMMENT": (env_int("RATE_COMMENTS", 5), 10.0),
    "REACTION": (env_int("RATE_REACTIONS", 20), 1.0),
    # Failed sign-ins per (account, client address) per 5 minutes (livevideo/signin.py).
    "SIGN_IN": (env_int("RATE_SIGN_IN", 10), 300.0),
    "SIGN_IN_KNOWN_FOR": 30 * 24 * 3600.0,  # an address an account signed in from stays its own
    # Per client address, every account and broadcast together (livevideo/abuse.py); 0: off.
    "ADDRESS_SIGN_UP": (env_int("RATE_ADDRESS_SIGN_UPS", 5), 3600.0),
    "ADDRESS_COMMENT": (env_int("RATE_ADDRESS_COMMENTS", 30), 10.0),
    "ADDRESS_REACTION": (env_int("RATE_ADDRESS_REACTIONS", 100), 1.0),
}

# REST reactions and comments are stored in batches per broadcast (livevideo/api/writepath.py,
# read by livevideo.conf): a batch starts this many seconds after the one before at the least.
REST_WRITE_BATCH_GAP = env_float("REST_WRITE_BATCH_GAP", 0.01)

# Comment rules against spam (livevideo/abuse.py): seconds; 0 turns a rule off.
COMMENT_RULES = {
    "MIN_ACCOUNT_AGE": env_int("COMMENT_MIN_ACCOUNT_AGE", 0),
    "DUPLICATE_WINDOW": env_int("COMMENT_DUPLICATE_WINDOW", 300),
}

# --- Live video (livevideo/video/; docs/operations.md "Media server") ---------------------
# Read once, by livevideo.video.config. ROOT is the media server's run directory (its config,
# logs, live HLS, recordings, replays and stills): the app and `manage.py mediaserver` share it.
LIVE_VIDEO = {
    "ROOT": os.environ.get("LIVE_VIDEO_ROOT", str(BASE_DIR / "var" / "media")),
    # Where nginx-rtmp listens for encoders (RTMP) and serves hls/, vod/ and thumbs/ (HTTP).
    "RTMP_LISTEN": os.environ.get("LIVE_VIDEO_RTMP_LISTEN", "127.0.0.1:1935"),
    "HTTP_LISTEN": os.environ.get("LIVE_VIDEO_HTTP_LISTEN", "127.0.0.1:8080"),
    # What broadcasters and viewers are told: the ingest base (+ "/<stream key>") and the base
    # URL under which hls/, vod/ and thumbs/ are served (media server, CDN, or this app in DEBUG).
    "INGEST_URL": os.environ.get("LIVE_VIDEO_INGEST_URL", "rtmp://127.0.0.1:1935/live"),
    "PUBLIC_URL": LIVE_VIDEO_PUBLIC_URL,
    # Where the media server reaches this app's publish hooks, and the secret it shows them.
    "HOOK_URL": os.environ.get("LIVE_VIDEO_HOOK_URL", "http://127.0.0.1:8000/media-hooks/"),
    "HOOK_SECRET": os.environ.get("LIVE_VIDEO_HOOK_SECRET", ""),
    # Seconds a disconnected encoder has to come back before the broadcast ends by itself.
    "RECONNECT_GRACE": env_float("LIVE_VIDEO_RECONNECT_GRACE", 60),
    # Seconds without a new live playlist before a publish counts as gone (a missed hook).
    "STALE_AFTER": env_float("LIVE_VIDEO_STALE_AFTER", 15),
    "SWEEP_INTERVAL": env_float("LIVE_VIDEO_SWEEP_INTERVAL", 2),
    "NGINX": os.environ.get("LIVE_VIDEO_NGINX", "/usr/sbin/nginx"),
    "RTMP_MODULE": os.environ.get(
        "LIVE_VIDEO_RTMP_MODULE", "/usr/lib/nginx/modules/ngx_rtmp_module.so"
    ),
    # The app serves hls/, vod/ and thumbs/ itself at /media/ (the embedded default only:
    # in production nginx or a CDN does, at PUBLIC_URL).
    "SERVE_FILES": env_bool("LIVE_VIDEO_SERVE_FILES", DEBUG),
    # The embedded default: seed_demo's live broadcast is fed by a synthetic ffmpeg source.
    "DEMO_SOURCE": env_bool("LIVE_VIDEO_DEMO_SOURCE", DEBUG),
}

# Django's cache: short-lived counters shared by a deployment's processes (the audience's
# latency reports, livevideo/video/latency.py).
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
