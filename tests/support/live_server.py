"""The app behind a real uvicorn server on a free port, and a raw HTTP/1.1 client that
writes exactly the bytes a test gives it (headers no client library would send)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serving(app: Any, *, http: str = "auto", port: int | None = None
                  ) -> AsyncIterator[int]:
    """Serve ``app`` with uvicorn (``http``: ``httptools``, ``h11`` or ``auto``) in this
    event loop, on ``port`` (a free one by default); yields the port."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http=http,
                                           lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names; the last value wins
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)


class RawConnection:
    """One keep-alive connection; ``request`` writes raw bytes and reads one response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def request(self, raw: bytes) -> RawResponse:
        """Write ``raw`` and read one response (within 10 s)."""
        self.writer.write(raw)
        await self.writer.drain()
        return await asyncio.wait_for(self._read_response(), 10)

    async def _read_response(self) -> RawResponse:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await self.reader.readexactly(length) if length else b""
        return RawResponse(status, headers, body)

    async def closed_by_server(self) -> bool:
        """Whether the server closes this connection (EOF within 5 s)."""
        try:
            return await asyncio.wait_for(self.reader.read(1), 5) == b""
        except TimeoutError:
            return False


@asynccontextmanager
async def raw_connection(port: int) -> AsyncIterator[RawConnection]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield RawConnection(reader, writer)
    finally:
        writer.close()
        with suppress(OSError):
            await writer.wait_closed()


def http_request(method: str, path: str, *, headers: list[tuple[bytes, bytes]] | None = None,
                 body: bytes = b"") -> bytes:
    """The bytes of one HTTP/1.1 request; header values are written as given."""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: wowsino.test"]
    lines += [name + b": " + value for name, value in headers or []]
    if body or method in ("POST", "PATCH", "PUT"):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
