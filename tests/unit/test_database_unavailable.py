"""Which failures mean "the database is unreachable" (503, safe to retry) and which
are bugs (500)."""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from wowsino.kernel.db import database_unavailable


def wrapped(orig: BaseException, *, invalidated: bool = False) -> DBAPIError:
    error = DBAPIError("SELECT 1", {}, orig, connection_invalidated=invalidated)
    error.__cause__ = orig
    return error


def test_connection_failures_are_an_outage() -> None:
    for exc in (ConnectionRefusedError(111, "refused"), ConnectionResetError(), TimeoutError(),
                OSError("Multiple exceptions: [Errno 111] Connect call failed"),
                asyncpg.CannotConnectNowError("the database system is starting up"),
                asyncpg.ConnectionDoesNotExistError("connection was closed"),
                asyncpg.InterfaceError("connection is closed"),
                asyncpg.AdminShutdownError("terminating connection"),
                asyncpg.TooManyConnectionsError("too many clients"),
                PoolTimeout("QueuePool limit reached"),
                wrapped(RuntimeError("lost"), invalidated=True),
                InterfaceError("SELECT 1", {}, asyncpg.InterfaceError("connection is closed")),
                OperationalError("SELECT 1", {}, asyncpg.CannotConnectNowError("starting"))):
        assert database_unavailable(exc), exc


def test_bugs_and_bad_input_are_not_an_outage() -> None:
    for exc in (RuntimeError("boom"), ValueError("bad"), KeyError("x"),
                FileNotFoundError("template.html"), PermissionError("denied"),
                asyncpg.DataError("invalid input for query argument $1"),
                wrapped(asyncpg.DataError("invalid input")),
                asyncpg.UniqueViolationError("duplicate key"),
                asyncpg.DeadlockDetectedError("deadlock"),
                wrapped(asyncpg.UniqueViolationError("duplicate key"))):
        assert not database_unavailable(exc), exc
