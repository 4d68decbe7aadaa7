"""Admin pages for the outbox: failed and suppressed mail, retry."""
from . import bp  # noqa: F401
