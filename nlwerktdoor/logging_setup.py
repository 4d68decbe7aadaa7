"""Log lines of the `nlwerktdoor` loggers: plain text, or one JSON object per line (LOG_FORMAT=json).

Jobs log one line per run and the send job one per mail batch; their `extra` fields (job, slot,
status, duration_ms, counts…) become JSON keys, so a log collector can count and alert on them.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from flask import Flask

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def make_formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format.strip().lower() == "json" else logging.Formatter(TEXT_FORMAT)


def init_app(app: Flask) -> None:
    """One stderr handler on the `nlwerktdoor` logger (once per process; tests keep pytest's capture)."""
    if app.testing:
        return
    logger = logging.getLogger("nlwerktdoor")
    handler = next((h for h in logger.handlers if getattr(h, "_nlwerktdoor", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler._nlwerktdoor = True
        logger.addHandler(handler)
    handler.setFormatter(make_formatter(app.config.get("LOG_FORMAT", "text")))
    logger.setLevel(str(app.config.get("LOG_LEVEL", "INFO")).upper())
    logger.propagate = False  # not twice when gunicorn or Flask also configured the root logger
