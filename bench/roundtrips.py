"""Round trips to PostgreSQL, counted on the wire.

``RoundTripCounter`` is a TCP relay between a client and the server that reads
the client's side of the PostgreSQL protocol and counts every message that asks
the server for an answer and waits for it: ``Sync`` (which ends an extended-query
exchange: parse, bind, execute) and ``Query`` (a simple-protocol statement, such
as ``BEGIN`` or ``COMMIT``). One of either is one round trip, whatever the driver
or the library above it does. Start-up and authentication are not counted.

The tests use it to pin the round trips of each hot write; the benchmark uses
it to report them per request kind.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
ANSWERED = {ord("S"), ord("Q")}  # Sync, Query


@dataclass
class RoundTripCounter:
    """Relay on 127.0.0.1 to ``upstream`` (``host``, ``port``); ``count`` round trips."""

    host: str
    port: int
    count: int = 0
    record: bool = False  # keep the text of each exchange's statements in ``exchanges``
    exchanges: list[list[str]] = field(default_factory=list)
    _prepared: dict[bytes, str] = field(default_factory=dict)
    _pending: list[str] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _pumps: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> int:
        """Listen on a free local port; returns it."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, database_url: str) -> str:
        """``database_url`` with its host and port replaced by this relay's."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        parts = urlsplit(database_url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
        return urlunsplit(parts._replace(netloc=netloc))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._pumps):
                task.cancel()
            for task in list(self._pumps):
                with suppress(asyncio.CancelledError, Exception):
                    await task
            await self._server.wait_closed()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(self.host, self.port)
        except OSError:
            client_w.close()
            return
        tasks = {asyncio.create_task(self._frontend(client_r, server_w)),
                 asyncio.create_task(self._backend(server_r, client_w))}
        self._pumps |= tasks
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            self._pumps -= tasks
            for writer in (client_w, server_w):
                with suppress(Exception):
                    writer.close()

    async def _frontend(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Client → server: the untyped start-up packets, then typed messages."""
        with suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:  # start-up: SSL/GSS requests (answered by one byte), then the start-up
                head = await reader.readexactly(8)
                length, code = struct.unpack("!ii", head)
                writer.write(head + await reader.readexactly(length - 8))
                await writer.drain()
                if code not in (SSL_REQUEST, GSSENC_REQUEST):
                    break
            while True:
                head = await reader.readexactly(5)
                kind, length = head[0], struct.unpack("!i", head[1:])[0]
                body = await reader.readexactly(length - 4)
                writer.write(head + body)
                if self.record:
                    self._note(kind, body)
                if kind in ANSWERED:
                    self.count += 1
                    if self.record:
                        self.exchanges.append(self._pending)
                        self._pending = []
                    await writer.drain()

    def _note(self, kind: int, body: bytes) -> None:
        """Remember the statement a Parse, Bind or Query message names."""
        if kind == ord("P"):  # Parse: statement name, query text
            name, _, rest = body.partition(b"\0")
            self._prepared[name] = rest.partition(b"\0")[0].decode(errors="replace")
            if not name:
                self._pending.append(self._prepared[name])
        elif kind == ord("B"):  # Bind: portal name, statement name
            statement = body.partition(b"\0")[2].partition(b"\0")[0]
            if statement:
                self._pending.append(self._prepared.get(statement, "?"))
        elif kind == ord("Q"):
            self._pending.append(body.rstrip(b"\0").decode(errors="replace"))

    @staticmethod
    async def _backend(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()


def upstream_of(database_url: str) -> tuple[str, int]:
    """The (host, port) a ``postgresql://`` URL names."""
    parts = urlsplit(database_url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


@contextmanager
def counting_relay(database_url: str) -> Iterator[RoundTripCounter]:
    """A ``RoundTripCounter`` for ``database_url`` on an event loop of its own thread, for a
    caller whose own loop may block (a subprocess's start-up being awaited synchronously)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="round-trip-relay", daemon=True)
    thread.start()
    counter = RoundTripCounter(*upstream_of(database_url))
    try:
        asyncio.run_coroutine_threadsafe(counter.start(), loop).result(timeout=10)
        yield counter
    finally:
        with suppress(Exception):
            asyncio.run_coroutine_threadsafe(counter.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
