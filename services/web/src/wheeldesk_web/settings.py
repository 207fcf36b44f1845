"""Django settings, derived from `WebSettings` (the environment) in one place."""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from wheeldesk_web.config import SETTINGS as ENV

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = ENV.django_secret_key.get_secret_value()
DEBUG = ENV.django_debug
ALLOWED_HOSTS = [h.strip() for h in ENV.allowed_hosts.split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in ENV.csrf_trusted_origins.split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "wheeldesk_web.core",
    "wheeldesk_web.market",
    "wheeldesk_web.watchlist",
    "wheeldesk_web.signals",
    "wheeldesk_web.preferences",
    "wheeldesk_web.live",
    "wheeldesk_web.orders",
    "wheeldesk_web.ledger",
    "wheeldesk_web.alerts",
    "wheeldesk_web.discover",
    "wheeldesk_web.dashboard",
    "wheeldesk_web.worker",
]

MIDDLEWARE = [
    # First: the container healthcheck and the private network's Prometheus, before the Host
    # check and the HTTPS redirect; /metrics is 404 to anyone else.
    "wheeldesk_web.core.middleware.InternalProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After authentication: refuses a locked-out sign-in with the lockout page.
    "axes.middleware.AxesMiddleware",
    # Innermost and sync-only on purpose: one thread hop per request under ASGI.
    "wheeldesk_web.core.middleware.SyncChainMiddleware",
]

ROOT_URLCONF = "wheeldesk_web.urls"
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
                "wheeldesk_web.core.context_processors.layout",
            ],
        },
    },
]
ASGI_APPLICATION = "wheeldesk_web.asgi.application"
WSGI_APPLICATION = "wheeldesk_web.wsgi.application"

ENV.data_dir.mkdir(parents=True, exist_ok=True)
# Pages run on long-lived threads (asgi.py): each keeps its connection rather than opening one
# per request (opening a SQLite connection and its PRAGMAs cost more than the page's queries).
DATABASES = {
    "default": dj_database_url.parse(ENV.database_url, conn_max_age=600, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A web process and a worker write at once: WAL, a busy timeout, immediate transactions.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's own mail (password reset) goes through the notifier, the only holder of the key, in
# every mode: never Django's SMTP default (a reset would be a 500) nor a console/file backend
# that would silently keep production mail on the server.
EMAIL_BACKEND = "wheeldesk_web.alerts.mail.NotifierEmailBackend"

# Brute force. Sign-in: django-axes locks a username from one address after AXES_FAILURE_LIMIT
# wrong passwords for AXES_COOLOFF_TIME (the page says so; even the right password is refused
# meanwhile). The address is the socket's own (REMOTE_ADDR): a forged X-Forwarded-For must
# not give each guess a new address. Behind the TLS proxy every client shares the proxy's
# address, so the lock is then per username. Password reset: core.views.throttled_reset.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
AXES_VERBOSE = False
# Counters every uvicorn worker process shares (LocMem is per process): files in DATA_DIR.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(ENV.data_dir / "throttle"),
    },
}

# Content-Security-Policy: scripts and styles only from our own static files (no inline script
# or style anywhere in the templates; htmx's own indicator <style> is off, app.css has it).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "America/New_York"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = ENV.data_dir / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # No manifest: `make run` and the test stack serve straight from the app's static dirs
    # (WhiteNoise finders), so a missing `collectstatic` can never turn a page into a 500.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_SECURE = ENV.secure_cookies
CSRF_COOKIE_SECURE = ENV.secure_cookies

# Production (DEMO_MODE=false) is served over HTTPS by a TLS proxy (Coolify's Traefik, Caddy…)
# that sets X-Forwarded-Proto; `manage.py check --deploy` is clean with these. ALLOWED_HOSTS is
# exactly what is configured: the container healthcheck (plain http://127.0.0.1:8000/healthz)
# and Prometheus are answered by InternalProbeMiddleware before the Host check.
if not ENV.demo_mode:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
}
