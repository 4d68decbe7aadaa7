"""Settings as classes that read the environment (see DESIGN.md, "Settings")."""
import os


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "ja", "on"}


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # None means: a SQLite file in the instance folder (filled in by create_app).
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_USE_TLS = _bool("MAIL_USE_TLS")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "nlwerktdoor <noreply@nlwerktdoor.nl>")
    # smtp | console | memory; empty = smtp when MAIL_SERVER is set, else console.
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "")

    SERVER_NAME = os.environ.get("SERVER_NAME")
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")

    SCHEDULER_ENABLED = _bool("SCHEDULER_ENABLED", True)
    MATCH_INTERVAL_MINUTES = int(os.environ.get("MATCH_INTERVAL_MINUTES", "15"))
    MAIL_INTERVAL_SECONDS = int(os.environ.get("MAIL_INTERVAL_SECONDS", "30"))

    # Matching knobs (documented in README, "Matching settings").
    MATCH_MIN_COVERAGE = float(os.environ.get("MATCH_MIN_COVERAGE", "0.5"))
    MATCH_MIN_COVERAGE_WITH_TRAINING = float(os.environ.get("MATCH_MIN_COVERAGE_WITH_TRAINING", "0.3"))
    MATCH_CANDIDATES_PER_POSITION = int(os.environ.get("MATCH_CANDIDATES_PER_POSITION", "3"))
    MATCH_SHORTAGES_PER_CANDIDATE = int(os.environ.get("MATCH_SHORTAGES_PER_CANDIDATE", "3"))

    CONSENT_VERSION = "2026-11-v1"
    BABEL_DEFAULT_LOCALE = "nl"
    LANGUAGES = ("nl", "en")
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session; HR forms stay open for hours


class DevelopmentConfig(Config):
    DEBUG = True
    SECRET_KEY = Config.SECRET_KEY or "dev-only-not-secret"


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    MAIL_BACKEND = "memory"
    SERVER_NAME = "nlwerktdoor.test"
    RATELIMIT_ENABLED = False
    SCHEDULER_ENABLED = False


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "https")


configs = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
