"""Logging: JSON lines in production, readable lines elsewhere; never slow.

Tracebacks are rendered plainly (no local variables): a pretty renderer that
walks locals can block the event loop for seconds on a large error.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog


def configure_logging(*, json_logs: bool) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_logs
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    processors: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if json_logs:
        processors.append(structlog.processors.format_exc_info)
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )
