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
    # Delivery (docs/email.md): pace, retries, claims, suppression.
    MAIL_RATE_PER_SECOND = float(os.environ.get("MAIL_RATE_PER_SECOND", "0"))  # per sender process; 0 = no limit
    MAIL_BATCH_SIZE = int(os.environ.get("MAIL_BATCH_SIZE", "200"))  # rows claimed at once, sent over one connection
    MAIL_CONNECTIONS = int(os.environ.get("MAIL_CONNECTIONS", "1"))  # SMTP connections (threads) per sender process
    MAIL_MAX_ATTEMPTS = int(os.environ.get("MAIL_MAX_ATTEMPTS", "10"))  # temporary failures before 'failed'
    MAIL_BACKOFF_BASE_SECONDS = int(os.environ.get("MAIL_BACKOFF_BASE_SECONDS", "60"))  # 1, 2, 4 … minutes
    MAIL_BACKOFF_MAX_SECONDS = int(os.environ.get("MAIL_BACKOFF_MAX_SECONDS", "21600"))
    MAIL_CLAIM_LEASE_SECONDS = int(os.environ.get("MAIL_CLAIM_LEASE_SECONDS", "120"))  # a crashed sender's rows return after this
    MAIL_TIMEOUT_SECONDS = int(os.environ.get("MAIL_TIMEOUT_SECONDS", "30"))  # SMTP connect/reply timeout
    MAIL_SUPPRESS_AFTER = int(os.environ.get("MAIL_SUPPRESS_AFTER", "3"))  # permanent refusals before an address is blocked

    SERVER_NAME = os.environ.get("SERVER_NAME")
    # Where links in emails point while SERVER_NAME is unset: the development server (`make run` sets
    # it to its own HOST:PORT, so the printed digests link to the port it actually serves on).
    DEV_SERVER = os.environ.get("DEV_SERVER", "127.0.0.1:5000")
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")

    SCHEDULER_ENABLED = _bool("SCHEDULER_ENABLED", True)
    MATCH_INTERVAL_MINUTES = int(os.environ.get("MATCH_INTERVAL_MINUTES", "15"))
    MAIL_INTERVAL_SECONDS = int(os.environ.get("MAIL_INTERVAL_SECONDS", "30"))
    # Jobs and operations (docs/deploy.md). MATCH_INTERVAL_SECONDS, when set, overrides the minutes
    # (fault tests and demos run matching every few seconds).
    MATCH_INTERVAL_SECONDS = int(os.environ["MATCH_INTERVAL_SECONDS"]) if os.environ.get("MATCH_INTERVAL_SECONDS") else None
    # A job run whose scheduler has not beaten its heartbeat for this long is taken to be dead.
    JOB_CLAIM_TIMEOUT_SECONDS = int(os.environ.get("JOB_CLAIM_TIMEOUT_SECONDS", "120"))
    JOB_HISTORY_DAYS = int(os.environ.get("JOB_HISTORY_DAYS", "30"))
    # /readyz fails when no scheduler has beaten its heartbeat for this long; 0 = do not check the scheduler.
    SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS = int(os.environ.get("SCHEDULER_HEARTBEAT_MAX_AGE_SECONDS", "120"))
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")  # text | json
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

    # Matching knobs (documented in README, "Matching settings").
    MATCH_MIN_COVERAGE = float(os.environ.get("MATCH_MIN_COVERAGE", "0.5"))
    MATCH_MIN_COVERAGE_WITH_TRAINING = float(os.environ.get("MATCH_MIN_COVERAGE_WITH_TRAINING", "0.3"))
    MATCH_CANDIDATES_PER_POSITION = int(os.environ.get("MATCH_CANDIDATES_PER_POSITION", "3"))
    MATCH_SHORTAGES_PER_CANDIDATE = int(os.environ.get("MATCH_SHORTAGES_PER_CANDIDATE", "3"))
    # Ranking tie-breaker for jobs that need less formal education (0 = off; matching/types.py).
    MATCH_LEVEL_EASE = float(os.environ.get("MATCH_LEVEL_EASE", "1.0"))
    # Scheduled runs are incremental (only pairs with a side changed since the last run); every
    # MATCH_FULL_INTERVAL_HOURS one run examines every pair, for what no timestamp records.
    MATCH_FULL_INTERVAL_HOURS = int(os.environ.get("MATCH_FULL_INTERVAL_HOURS", "24"))
    # An incremental run looks back this far before the last run started (writes in flight then).
    MATCH_INCREMENTAL_MARGIN_SECONDS = int(os.environ.get("MATCH_INCREMENTAL_MARGIN_SECONDS", "300"))
    # A shortage posted or edited on the site gets its candidates at once (the next run emails them).
    MATCH_ON_POST = _bool("MATCH_ON_POST", True)
    # A scheduled matching run computes at the lowest CPU priority (jobs.py): it takes what the web leaves.
    MATCH_IDLE_PRIORITY = _bool("MATCH_IDLE_PRIORITY", True)
    # Threads a big matching run's bounds may use (matching/bounds.py; at the run's priority):
    # by default every core. 1: the run stays in one thread.
    MATCH_WORKERS = int(os.environ.get("MATCH_WORKERS", "0") or 0) or (os.cpu_count() or 1)
    # Where a run's pairs that could pass are too many to hold (national size), keep this many per open
    # place of each shortage, the best; shortages that turn out to need more get more, round by round
    # (exact). 0: all.
    MATCH_STREAM_DEPTH = int(os.environ.get("MATCH_STREAM_DEPTH", "16"))
    # Instant candidates read by the candidate index (services/candidate_index.py) when this machine has
    # its files: written here (default: the instance folder's candidate-index/) every so many minutes
    # (0: never by the scheduler; `nlwerktdoor match index` writes one at any time).
    CANDIDATE_INDEX_DIR = os.environ.get("CANDIDATE_INDEX_DIR") or None
    CANDIDATE_INDEX_INTERVAL_MINUTES = int(os.environ.get("CANDIDATE_INDEX_INTERVAL_MINUTES", "60"))

    # Employers' CSV uploads (docs/csv.md, "Large files"; nlwerktdoor/services/uploads.py). A file
    # with up to IMPORT_INLINE_ROWS data rows is imported inside the request (errors shown at once);
    # a larger one is stored and imported by the `import_uploads` job, which the upload's status page
    # follows. The stored file is deleted once processed; the upload and its report after IMPORT_KEEP_DAYS.
    IMPORT_INLINE_ROWS = int(os.environ.get("IMPORT_INLINE_ROWS", "2000"))
    IMPORT_MAX_UPLOAD_MB = int(os.environ.get("IMPORT_MAX_UPLOAD_MB", "20"))  # ≈ 150,000 rows
    IMPORT_INTERVAL_SECONDS = int(os.environ.get("IMPORT_INTERVAL_SECONDS", "5"))  # how often the job looks
    IMPORT_PROGRESS_EVERY_ROWS = int(os.environ.get("IMPORT_PROGRESS_EVERY_ROWS", "1000"))  # progress written
    IMPORT_PROGRESS_EVERY_SECONDS = float(os.environ.get("IMPORT_PROGRESS_EVERY_SECONDS", "1"))  # … or this often
    # A 'running' upload whose job has not written progress for this long belongs to a dead process:
    # it is queued again (at most IMPORT_MAX_ATTEMPTS times in all, then 'failed').
    IMPORT_CLAIM_LEASE_SECONDS = int(os.environ.get("IMPORT_CLAIM_LEASE_SECONDS", "600"))
    IMPORT_MAX_ATTEMPTS = int(os.environ.get("IMPORT_MAX_ATTEMPTS", "3"))
    IMPORT_KEEP_DAYS = int(os.environ.get("IMPORT_KEEP_DAYS", "7"))
    # Shortages an import writes get their candidates at once, in file order, for this many seconds
    # (with MATCH_ON_POST); the rest at the next matching run.
    IMPORT_MATCH_SECONDS = float(os.environ.get("IMPORT_MATCH_SECONDS", "2"))

    CONSENT_VERSION = "2026-11-v1"
    # Retention (docs/privacy.md; nlwerktdoor/services/privacy.py). Days unless named otherwise.
    RETENTION_JOB_INTERVAL_MINUTES = int(os.environ.get("RETENTION_JOB_INTERVAL_MINUTES", "60"))
    RETENTION_POSTING_DAYS = int(os.environ.get("RETENTION_POSTING_DAYS", "90"))  # open posting not updated: closed
    RECONFIRM_EVERY_DAYS = int(os.environ.get("RECONFIRM_EVERY_DAYS", "56"))  # "still available?" every 8 weeks
    RECONFIRM_ANSWER_DAYS = int(os.environ.get("RECONFIRM_ANSWER_DAYS", "14"))  # no answer: paused
    WITHDRAWN_DELETE_DAYS = int(os.environ.get("WITHDRAWN_DELETE_DAYS", "30"))  # withdrawn profile: erased
    INACTIVE_ACCOUNT_DAYS = int(os.environ.get("INACTIVE_ACCOUNT_DAYS", "396"))  # 13 months without login: warned
    INACTIVE_DELETE_AFTER_DAYS = int(os.environ.get("INACTIVE_DELETE_AFTER_DAYS", "30"))  # after the warning: erased
    BABEL_DEFAULT_LOCALE = "nl"
    LANGUAGES = ("nl", "en")
    # Rate limits (Flask-Limiter). memory:// counts per process; production uses Redis so a limit
    # holds across every worker process (see ProductionConfig).
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    # Public figures every visitor asks for (Flask-Caching): the number of open shortages per postcode
    # area behind the public search, and the home page's totals, are counted at most once per
    # PUBLIC_COUNTS_SECONDS per process; the shortages listed are read live.
    # SimpleCache is per process; CACHE_TYPE=RedisCache with CACHE_REDIS_URL shares it between processes.
    CACHE_TYPE = os.environ.get("CACHE_TYPE", "SimpleCache")
    CACHE_REDIS_URL = os.environ.get("CACHE_REDIS_URL", "redis://127.0.0.1:6379/1")
    CACHE_KEY_PREFIX = "nlwerktdoor:"
    PUBLIC_COUNTS_SECONDS = int(os.environ.get("PUBLIC_COUNTS_SECONDS", "30"))
    # The rendered public search page for anonymous visitors, per language and query (caching.py):
    # a closed or new shortage shows there within this many seconds (the employer's own pages and
    # every logged-in page are live). With a postcode of the whole country a search is rarely asked
    # twice within 10 s; at 60 s about four in five searches find their page kept at 800 searches/s,
    # against two in three at 30 s, and a server then does about a quarter more searches
    # (bench/README.md, "Pages kept a minute").
    PUBLIC_PAGE_SECONDS = int(os.environ.get("PUBLIC_PAGE_SECONDS", "60"))
    # ... of which each web process keeps this many itself as well (about 9 kB each; 0 = none).
    PUBLIC_PAGE_LOCAL_ENTRIES = int(os.environ.get("PUBLIC_PAGE_LOCAL_ENTRIES", "2000"))
    # Accounts (nlwerktdoor/services/accounts.py). Login: per client address every attempt counts;
    # per account only failed attempts count, so a stranger cannot lock a person out for long.
    LOGIN_LIMIT_PER_ADDRESS = os.environ.get("LOGIN_LIMIT_PER_ADDRESS", "10 per minute; 100 per hour")
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "5 per minute; 20 per hour")
    SECOND_FACTOR_LIMIT = os.environ.get("SECOND_FACTOR_LIMIT", "5 per minute; 20 per hour")
    VERIFICATION_RESEND_LIMIT = os.environ.get("VERIFICATION_RESEND_LIMIT", "3 per hour")
    # Password hashing: argon2id with RFC 9106's "low memory" profile (64 MiB, 3 passes, 4 lanes),
    # above OWASP's minimum (19 MiB, 2 passes, 1 lane). Memory in KiB.
    ARGON2_TIME_COST = int(os.environ.get("ARGON2_TIME_COST", "3"))
    ARGON2_MEMORY_COST = int(os.environ.get("ARGON2_MEMORY_COST", "65536"))
    ARGON2_PARALLELISM = int(os.environ.get("ARGON2_PARALLELISM", "4"))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
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
    # Tests see every change at once; tests/test_growing.py checks the cached counts on purpose.
    PUBLIC_COUNTS_SECONDS = 0
    PUBLIC_PAGE_SECONDS = 0
    # Cheap hashing keeps the suite fast; tests/test_accounts.py checks the real settings separately.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 8
    ARGON2_PARALLELISM = 1


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = _bool("REMEMBER_COOKIE_SECURE", True)
    # Limits must hold across worker processes: Redis unless RATELIMIT_STORAGE_URI says otherwise
    # (memory:// there logs a warning at start). If Redis is down, each process falls back to
    # counting in memory instead of refusing every request.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379")
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    # The public search's counts and pages are shared by every worker process through the same Redis
    # (a database of its own). Short timeouts: when Redis is away, pages are rendered afresh (caching.py).
    CACHE_TYPE = os.environ.get("CACHE_TYPE", "RedisCache")
    CACHE_OPTIONS = {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "https")


configs = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
