"""Admin pages for scheduled jobs: the job-run history."""
from . import bp  # noqa: F401
