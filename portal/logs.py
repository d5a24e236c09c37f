"""Log formats: plain text for people, or one JSON object per line (`ROLEGATE_LOG_FORMAT=json`).

Every line written while serving a request carries its request id (the one stored in the audit
rows) and the user; every line written by a Celery task carries the task id and, for a sync, the
integration. The fields come from context variables set by `apps.core.logcontext`.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

LOG_FORMAT_ENV = "ROLEGATE_LOG_FORMAT"
FORMATS = ("plain", "json")
# The attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_CONTEXT_FIELDS = ("request_id", "user", "task_id", "task_name", "integration")
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", *_CONTEXT_FIELDS}


class ContextFilter(logging.Filter):
    """Copy the request or task context onto each record (empty strings outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from apps.core.logcontext import current_log_fields

        fields = current_log_fields()
        for name in _CONTEXT_FIELDS:
            if not getattr(record, name, None):
                setattr(record, name, fields.get(name, ""))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, then any extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, "")
            if value:
                entry[name] = value
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """The classic text line, with the request id or task id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{name}={getattr(record, name)}"
            for name in _CONTEXT_FIELDS
            if getattr(record, name, "")
        )
        return f"{line} [{context}]" if context else line


def log_format(environ: dict[str, str] | None = None) -> str:
    """The configured format; a bad value is refused by settings (ImproperlyConfigured)."""
    source = os.environ if environ is None else environ
    return (source.get(LOG_FORMAT_ENV) or "plain").strip().lower()


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """Django's LOGGING dict for the chosen format."""
    formatter = "json" if fmt == "json" else "plain"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "portal.logs.ContextFilter"}},
        "formatters": {
            "plain": {
                "()": "portal.logs.PlainFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            },
            "json": {"()": "portal.logs.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": formatter,
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "WARNING"}},
    }


def gunicorn_logconfig() -> dict[str, Any] | None:
    """gunicorn's own and access lines in JSON too, when JSON is asked for."""
    if log_format() != "json":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "portal.logs.JsonFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["console"], "level": "INFO"},
    }
