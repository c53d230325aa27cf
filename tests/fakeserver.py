"""Scripted fake servers and transport wrappers for precise session tests.

The emulator behaves like Google; these helpers misbehave on purpose, one frame at a time:

* :func:`scripted_connect`: a ``connect=`` hook whose server side is a coroutine the test
  writes (answer the setup with garbage, never answer, send a given frame sequence...).
  Everything is in memory, so ``autojump_clock`` can drive the timeouts.
* :class:`PingControlled`: wraps a client connection so that ``ping()`` never returns or is
  slow (trio-websocket answers pings by itself, so a "server that never pongs" has to be
  simulated on the client's side of the transport).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import msgspec
import trio
import trio.testing
import trio_websocket

from trio_gemini_live._websocket import WebSocket

ServerScript = Callable[[trio_websocket.WebSocketConnection], Awaitable[None]]

#: ``setupComplete`` as Google sends it (binary frame, PROTOCOL.md 2).
SETUP_COMPLETE = b'{"setupComplete": {}}'


class ScriptedServer:
    """A ``connect=`` hook whose server side runs ``script(ws)``, over an in-memory stream.

    Attributes:
        received: every frame the client sent, in order (raw, as received).
        headers: the handshake headers of the latest connection (lower-cased names).
        paths: the request path of each connection.
        connections: how many connections were opened.
    """

    def __init__(self, script: ServerScript) -> None:
        self.script = script
        self.received: list[str | bytes] = []
        self.headers: dict[str, str] = {}
        self.paths: list[str] = []
        self.connections = 0
        self.server_closed = trio.Event()

    async def recv(self, ws: trio_websocket.WebSocketConnection) -> str | bytes:
        """The next client frame (recorded in :attr:`received`)."""
        frame = await ws.get_message()
        self.received.append(frame)
        return frame

    def decoded(self) -> list[dict[str, Any]]:
        """:attr:`received`, JSON-decoded."""
        return [msgspec.json.decode(frame) for frame in self.received]

    async def _serve(self, stream: trio.abc.Stream) -> None:
        try:
            async with trio.open_nursery() as nursery:
                request = await trio_websocket.wrap_server_stream(nursery, stream)
                self.paths.append(request.path)
                self.headers = {
                    k.decode().lower(): v.decode() for k, v in request.headers
                }
                ws = await request.accept()
                try:
                    await self.script(ws)
                except trio_websocket.ConnectionClosed:
                    pass
                finally:
                    nursery.cancel_scope.cancel()
        except (trio.BrokenResourceError, trio.ClosedResourceError,
                trio_websocket.ConnectionClosed):
            pass
        finally:
            self.server_closed.set()

    def connect(self, nursery: trio.Nursery) -> Callable[
        [str, list[tuple[str, str]]],
        AbstractAsyncContextManager[trio.abc.Stream],
    ]:
        """The hook; the server side of each connection runs in ``nursery``."""

        @asynccontextmanager
        async def hook(url: str, headers: list[tuple[str, str]]) -> AsyncIterator[
            trio.abc.Stream
        ]:
            # A byte stream: the session runs the library's own WebSocket over it, as over
            # a socket (issue 11: session tests run the shipped stack).
            self.connections += 1
            client_stream, server_stream = trio.testing.memory_stream_pair()
            nursery.start_soon(self._serve, server_stream)
            try:
                yield client_stream
            finally:
                await trio.aclose_forcefully(client_stream)

        return hook


@asynccontextmanager
async def library_websocket(
    stream: trio.abc.Stream, url: str, headers: list[tuple[str, str]]
) -> AsyncIterator[WebSocket]:
    """The library's own WebSocket over ``stream`` (what the session runs over a byte
    stream), for wrappers that act on messages, closed (bounded) on exit."""
    parts = urlsplit(url)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    ws = await WebSocket.handshake(stream, parts.netloc or "localhost", resource, headers)
    try:
        yield ws
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(3):
            await ws.aclose()


class PingControlled:
    """A client connection whose ``ping()`` is delayed by ``delay`` seconds (``inf``: never
    answered); everything else goes to the wrapped connection."""

    def __init__(self, ws: Any, delay: float) -> None:
        self._ws = ws
        self.delay = delay
        self.pings = 0

    async def ping(self, payload: bytes | None = None) -> None:
        self.pings += 1
        await trio.sleep(self.delay)
        await self._ws.ping(payload)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)


def ping_controlled(
    connect: Callable[..., AbstractAsyncContextManager[Any]],
    delay: float,
    made: list[PingControlled],
) -> Callable[[str, list[tuple[str, str]]], AbstractAsyncContextManager[Any]]:
    """Wrap a byte-stream ``connect=`` hook (the emulator's in-memory one): the library's
    own WebSocket runs over the stream, and its pings take ``delay`` seconds more."""

    @asynccontextmanager
    async def hook(url: str, headers: list[tuple[str, str]]) -> AsyncIterator[Any]:
        async with connect(url, headers) as stream, library_websocket(
            stream, url, headers
        ) as ws:
            wrapped = PingControlled(ws, delay)
            made.append(wrapped)
            yield wrapped

    return hook
