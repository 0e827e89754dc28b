"""Logging: JSON lines in production, readable lines elsewhere; never slow.

Tracebacks are rendered plainly (no local variables): a pretty renderer that
walks locals can block the event loop for seconds on a large error. Loggers are
not cached, so a reconfiguration (and a test capturing the output) applies to
every logger at once. What is logged never holds a secret: requests are logged by
route template (never the raw path, query or headers), principals by tenant slug.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog


def _stdout_logger(*_: Any) -> structlog.PrintLogger:
    return structlog.PrintLogger(sys.stdout)  # the current stdout, also once redirected


def readable(_: Any, __: str, event: MutableMapping[str, Any]) -> str:
    """``<time> [<level>] <event> key=value …``, then the traceback, if any, on the
    lines below: a plain renderer (several times cheaper than structlog's console
    renderer, which matters at one line per request)."""
    exception = event.pop("exception", None)
    head = f"{event.pop('timestamp', '')} [{event.pop('level', '')}] {event.pop('event', '')}"
    line = " ".join([head, *(f"{key}={value}" for key, value in event.items())])
    return f"{line}\n{exception}" if exception else line


def configure_logging(*, json_logs: bool) -> None:
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer() if json_logs else readable,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=_stdout_logger,
        cache_logger_on_first_use=False,
    )


def log_failure(logger: Any, event: str, exc: BaseException, **fields: Any) -> None:
    """Log one failure as one entry: while the database is unreachable a warning naming
    the outage (a traceback per request or per tick would bury the log), otherwise an
    error with its traceback."""
    from wowsino.kernel.db import database_unavailable

    if database_unavailable(exc):
        logger.warning(event, error=f"database unavailable ({type(exc).__name__})", **fields)
    else:
        logger.error(event, exc_info=exc, **fields)
