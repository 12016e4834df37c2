"""Upward settings: one file, driven by environment variables (django-environ).

With nothing set, Upward runs on the embedded default: an SQLite file, Celery on a
filesystem broker (no Redis), mail printed to the console. README.md lists every variable.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("UPWARD_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()


def _secret(name: str, default=None):
    """NAME from the environment, or from the file that NAME_FILE points at (container secrets)."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    if default is None:
        return env.str(name)
    return env.str(name, default=default)


PRODUCTION = env.bool("PRODUCTION", default=False)
DEBUG = env.bool("DEBUG", default=not PRODUCTION)

if PRODUCTION:
    SECRET_KEY = _secret("SECRET_KEY")
else:
    SECRET_KEY = _secret("SECRET_KEY", default="django-insecure-upward-development-key-not-for-production")

# Old keys after a rotation: sessions, password-reset links and erased people's fingerprints
# made with them keep working (mentoring.models.ErasedIdentity).
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "crispy_forms",
    "crispy_bootstrap5",
    "mentoring",
    "programs",
    "pairing",
    "sessions_log",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages compressed when the browser accepts it (a 300-pair review page: 805 KB of HTML).
    # Django pads gzip output at random ("Heal the BREACH") and masks the CSRF token per
    # response; WhiteNoise above serves static files already compressed.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "mentoring.middleware.NoStoreForSignedInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "mentoring.auth_policy.SessionTimeoutMiddleware",
    "mentoring.auth_policy.MFARequiredMiddleware",
    "mentoring.middleware.UserTimezoneMiddleware",
    # Last, so the page it renders in place of a blank 405 still gets the CSP and frame headers.
    "mentoring.middleware.FriendlyMethodNotAllowedMiddleware",
]

ROOT_URLCONF = "mentoring.urls"
WSGI_APPLICATION = "mentoring.wsgi.application"

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
                "django.template.context_processors.csp",
                "mentoring.context_processors.navigation",
            ],
        },
    },
]

# --- Data -------------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db_url_config(_secret("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'upward.sqlite3'}"))}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the web process and the Celery worker read while the other writes.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 20})
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = _secret("REDIS_URL", default="")

# The cache is shared by every process (rate limits and MFA replay protection live there):
# Redis when configured, otherwise a database table, never per-process memory.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env.str("CACHE_URL", default=REDIS_URL), "KEY_PREFIX": "upward"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "upward_cache"}}

SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Absolute: a session ends this long after sign-in, however active (mentoring.auth_policy).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 8)
# Idle: a session unused for this long ends; each request extends it.
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)

# --- Accounts -----------------------------------------------------------------------------
AUTH_USER_MODEL = "mentoring.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "mentoring.adapters.AccountAdapter"
ACCOUNT_FORMS = {
    "signup": "mentoring.account_forms.DirectorySignupForm",
    "change_password": "mentoring.account_forms.ChangePasswordForm",
    "reset_password_from_key": "mentoring.account_forms.ResetPasswordKeyForm",
}
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
# One address per login, the directory's: roster imports and SSO match people on it. allauth's
# page for adding addresses is replaced by one that explains this (mentoring.account_views);
# the limit keeps allauth's form refusing a second address should that page ever come back.
# ACCOUNT_CHANGE_EMAIL stays off (its default) for the same reason.
ACCOUNT_MAX_EMAIL_ADDRESSES = 1
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_PRESERVE_USERNAME_CASING = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Upward] "
# A reset asked for an address nobody has gets no email: Upward does not write to
# addresses that anyone can type in (the page says the same either way).
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
# Tell people by email when their password, address, authenticator or SSO link changes, so a
# change they did not make does not go unnoticed (templates/account/email/, mfa/email/).
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
# Behind a reverse proxy, how many proxies add to X-Forwarded-For: without it every login
# would share the proxy's address and one bucket of the per-IP rate limit.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Confirming it's you (before adding or removing an authenticator or seeing recovery codes)
# takes the password, an authenticator code or a code emailed to the login's address: allauth's
# default ACCOUNT_REAUTHENTICATION_METHODS, kept on purpose. The address is the directory's (no
# other can be added), so the code proves what a password reset proves, and people who sign in
# through SSO have no password to give.
MFA_TOTP_ISSUER = "Upward"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# People holding one of these roles must set up and use an authenticator app before they
# reach any page (mentoring.auth_policy). Empty ("MFA_REQUIRED_ROLES=") turns it off.
MFA_REQUIRED_ROLES = [r.strip() for r in env.list("MFA_REQUIRED_ROLES", default=["hr_admin", "executive"]) if r.strip()]
# Sign-up is open only to people in the org directory, or to these domains if set.
SIGNUP_ALLOWED_DOMAINS = [d.lower() for d in env.list("SIGNUP_ALLOWED_DOMAINS", default=[])]

# --- Single sign-on: allauth's OpenID Connect and SAML providers ---------------------------
# Configured by the environment only; with nothing set there are no SSO buttons. Whatever the
# identity provider says, mentoring.adapters.SocialAccountAdapter lets in current employees
# of the directory only and never creates an account for anyone else.
SOCIALACCOUNT_ADAPTER = "mentoring.adapters.SocialAccountAdapter"
# The adapter marks the directory-matched address as verified (the company's IdP vouches for it).
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_PROVIDERS: dict = {}
if env.str("SSO_OIDC_SERVER_URL", default=""):
    _oidc_settings = {"server_url": env.str("SSO_OIDC_SERVER_URL")}
    if env.str("SSO_OIDC_TOKEN_AUTH_METHOD", default=""):
        _oidc_settings["token_auth_method"] = env.str("SSO_OIDC_TOKEN_AUTH_METHOD")
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [
            {
                "provider_id": env.str("SSO_OIDC_PROVIDER_ID", default="company"),
                "name": env.str("SSO_OIDC_NAME", default="Company single sign-on"),
                "client_id": env.str("SSO_OIDC_CLIENT_ID"),
                "secret": _secret("SSO_OIDC_CLIENT_SECRET"),
                "settings": _oidc_settings,
            }
        ],
    }
if env.str("SSO_SAML_IDP_ENTITY_ID", default=""):
    _idp = {"entity_id": env.str("SSO_SAML_IDP_ENTITY_ID")}
    if env.str("SSO_SAML_IDP_METADATA_URL", default=""):
        _idp["metadata_url"] = env.str("SSO_SAML_IDP_METADATA_URL")
    else:
        _idp["sso_url"] = env.str("SSO_SAML_IDP_SSO_URL")
        _idp["x509cert"] = _secret("SSO_SAML_IDP_X509CERT")
        if env.str("SSO_SAML_IDP_SLO_URL", default=""):
            _idp["slo_url"] = env.str("SSO_SAML_IDP_SLO_URL")
    _saml_settings = {
        "idp": _idp,
        # The NameID is the email address unless SSO_SAML_EMAIL_ATTRIBUTE names an attribute.
        "use_nameid_for_email": not env.str("SSO_SAML_EMAIL_ATTRIBUTE", default=""),
        "advanced": {
            "strict": True,
            # Only answers to our own requests: an unsolicited (IdP-initiated) response
            # could be replayed or injected (login CSRF), so it is refused.
            "reject_idp_initiated_sso": True,
            "want_assertion_signed": True,
            "reject_deprecated_algorithm": True,
        },
    }
    if env.str("SSO_SAML_EMAIL_ATTRIBUTE", default=""):
        _saml_settings["attribute_mapping"] = {
            "uid": ["urn:oasis:names:tc:SAML:attribute:subject-id"],
            "email": [env.str("SSO_SAML_EMAIL_ATTRIBUTE")],
        }
    if env.str("SSO_SAML_SP_ENTITY_ID", default=""):
        _saml_settings["sp"] = {"entity_id": env.str("SSO_SAML_SP_ENTITY_ID")}
    SOCIALACCOUNT_PROVIDERS["saml"] = {
        "APPS": [
            {
                "provider_id": _idp["entity_id"],
                "name": env.str("SSO_SAML_NAME", default="Company SAML sign-on"),
                # allauth's "organization slug": the SAML URLs are /accounts/saml/<slug>/...
                "client_id": env.str("SSO_SAML_ORGANIZATION", default="company"),
                "settings": _saml_settings,
            }
        ]
    }

# --- Mail: every message is an outbox row first (mentoring.mail) -------------------------
# Django's EMAIL_BACKEND writes to the outbox in the caller's transaction; Celery drains it
# through OUTBOX_DELIVERY_BACKEND, configured by EMAIL_URL.
_email = env.email_url("EMAIL_URL", default="consolemail://")
OUTBOX_DELIVERY_BACKEND = _email["EMAIL_BACKEND"]
for _key in ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS", "EMAIL_USE_SSL", "EMAIL_FILE_PATH"):
    if _key in _email:
        globals()[_key] = _email[_key]
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
EMAIL_BACKEND = "mentoring.mail.OutboxEmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Upward <upward@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)
OUTBOX_LEASE_SECONDS = env.int("OUTBOX_LEASE_SECONDS", default=300)
# First retry wait after a failed delivery; it doubles per attempt, capped at an hour.
OUTBOX_BACKOFF_SECONDS = env.int("OUTBOX_BACKOFF_SECONDS", default=30)

# --- Celery -------------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    # Embedded mode: a broker in a folder, so a worker and beat run without Redis.
    _broker_dir = VAR_DIR / "celery-broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Files --------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Outside production whitenoise serves straight from the source folders, so the demo runs
# with DEBUG off (the product's own error pages) without a collectstatic step.
WHITENOISE_USE_FINDERS = not PRODUCTION
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    # Uploads go to a configurable storage (e.g. storages.backends.s3.S3Storage) so that
    # several web processes on several machines see the same files.
    "default": {"BACKEND": env.str("MEDIA_STORAGE", default="django.core.files.storage.FileSystemStorage")},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Match runs for pools up to this size are solved in the request (well under a second);
# larger ones go to Celery and the review page shows progress.
PAIRING_SYNC_MAX_PEOPLE = env.int("PAIRING_SYNC_MAX_PEOPLE", default=400)
# Publishing tells both sides of every pair by email: up to this many pairs in the request,
# more by a Celery task right after (rendering 5,000 emails takes seconds). Completing a
# program ends its live pairs (meetings cancelled, both told) under the same limit.
PAIRING_PUBLISH_SYNC_MAX_PAIRS = env.int("PAIRING_PUBLISH_SYNC_MAX_PAIRS", default=100)
ROSTER_IMPORT_MAX_BYTES = env.int("ROSTER_IMPORT_MAX_BYTES", default=5 * 1024 * 1024)
RESOURCE_MAX_BYTES = env.int("RESOURCE_MAX_BYTES", default=50 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Internationalisation and time ---------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English")]
# One date style everywhere ("3 Dec 2026"): mentoring/formats/en/formats.py.
FORMAT_MODULE_PATH = ["mentoring.formats"]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- UI -----------------------------------------------------------------------------------
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# --- Security ------------------------------------------------------------------------------
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Celery (read by mentoring/celery.py through the CELERY_ namespace) -----------------------
from celery.schedules import crontab  # noqa: E402
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A web request must never hang on a broker outage: publish once, fail fast, and let the
# periodic sweep pick the work up from the database later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY = False
# The after-commit nudge (mentoring.queue) tries its own connection once, for at most this long.
CELERY_NUDGE_CONNECT_TIMEOUT = env.float("CELERY_NUDGE_CONNECT_TIMEOUT", default=0.5)
CELERY_TIMEZONE = "UTC"
# Every minute by default; the fault-injection tests run beat faster.
BEAT_INTERVAL_SECONDS = env.float("BEAT_INTERVAL_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE = {
    "drain-outbox": {"task": "mentoring.tasks.drain_outbox", "schedule": BEAT_INTERVAL_SECONDS},
    "resume-match-runs": {"task": "pairing.tasks.resume_match_runs", "schedule": BEAT_INTERVAL_SECONDS},
    "sweep-reminders": {"task": "sessions_log.tasks.sweep_reminders", "schedule": BEAT_INTERVAL_SECONDS},
    "nightly-metric-snapshots": {"task": "programs.tasks.snapshot_all_programs", "schedule": crontab(hour=2, minute=30)},
}
