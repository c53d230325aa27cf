"""The connection side of recording (issue 15): :class:`RecordingConnection`.

A message-level connection wrapped so that a :class:`~._recorder.Recorder` sees every frame
that goes through it, in the session's Trio thread: client frames once written, server
frames as they are read, the connection's end as the client sees it. It only hands them to
the recorder, whose bounded buffer and writer thread do the rest (``_recorder``). Also here:
:func:`websocket_connect`, the ``connect=`` hook :meth:`Recorder.wrap_connect` wraps by
default.

Split out of ``_recorder.py`` (issue 11: modules of at most about 700 lines), which
re-exports :class:`RecordingConnection`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import trio_websocket

from .._websocket import ConnectionClosed
from ._recording import EndedBy

if TYPE_CHECKING:
    from ._recorder import Recorder

__all__ = ["CLIENT", "SERVER", "Connect", "RecordingConnection", "websocket_connect"]

Connect: TypeAlias = Callable[[str, list[tuple[str, str]]], AbstractAsyncContextManager[Any]]

_MAX_MESSAGE: Final = 16 * 1024 * 1024  # PROTOCOL.md 2
#: Who sent a frame, as the recorder's buffer says it.
CLIENT: Final = 0
SERVER: Final = 1


class RecordingConnection:
    """A connection whose frames a :class:`Recorder` records (made by :meth:`Recorder.wrap`).

    The same methods as the connection it wraps. Client frames are recorded once written
    (or committed, for a partial direct write): a send that fails or is cancelled records
    nothing, since the session sends that frame again on its next connection. Server frames
    are recorded as ``get_message`` returns them; the connection's end as the client sees
    it: the server's close frame, a drop (1006), or the client's own close.

    A frame's place in the recording is the moment the client saw it: for a client frame,
    when its write completed, which is when the session counts it as sent. A server frame
    that arrived during that write comes before it, as the session saw them; a replay sends
    it before waiting for the client's frame, so that the client sees the same order (which
    decides, e.g., which messages it sends again after resuming, PROTOCOL.md 6).
    """

    #: One write for a batch; present only when the wrapped connection has it.
    send_messages: Callable[[Sequence[str | bytes]], Awaitable[None]]
    #: A synchronous direct write; present only when the wrapped connection has it.
    try_send_message: Callable[[str | bytes], bool | None]
    #: A message already received, without waiting; present only when the wrapped
    #: connection has it.
    get_message_nowait: Callable[[], str | bytes | None]

    def __init__(self, conn: Any, recorder: Recorder, index: int) -> None:
        self._conn = conn
        self._recorder = recorder
        self._index = index
        self._closing: int | None = None
        self._ended = False
        # The session looks these up with getattr: offer them only when the connection does.
        if hasattr(conn, "send_messages"):
            self.send_messages = self._send_messages
        if hasattr(conn, "try_send_message"):
            self.try_send_message = self._try_send_message
        if hasattr(conn, "get_message_nowait"):
            self.get_message_nowait = self._get_message_nowait

    @property
    def index(self) -> int:
        """The connection's number in the recording."""
        return self._index

    @property
    def closed(self) -> Any:
        """The wrapped connection's ``closed`` (a close reason, or ``None`` while open)."""
        return self._conn.closed

    async def get_message(self) -> str | bytes:
        """The next server frame (recorded)."""
        try:
            data: str | bytes = await self._conn.get_message()
        except (ConnectionClosed, trio_websocket.ConnectionClosed) as exc:
            self._peer_closed(exc)
            raise
        if not self._ended:  # after its recorded end, a frame belongs to no connection
            self._recorder._frame(self._index, SERVER, data)
        return data

    def _get_message_nowait(self) -> str | bytes | None:
        data: str | bytes | None = self._conn.get_message_nowait()
        if data is not None and not self._ended:
            self._recorder._frame(self._index, SERVER, data)
        return data

    async def send_message(self, message: str | bytes) -> None:
        """Send one frame (recorded once written)."""
        try:
            await self._conn.send_message(message)
        except (ConnectionClosed, trio_websocket.ConnectionClosed) as exc:
            self._peer_closed(exc)
            raise
        if not self._ended:
            self._recorder._frame(self._index, CLIENT, message)

    async def _send_messages(self, messages: Sequence[str | bytes]) -> None:
        frames = list(messages)
        try:
            await self._conn.send_messages(frames)
        except (ConnectionClosed, trio_websocket.ConnectionClosed) as exc:
            self._peer_closed(exc)
            raise
        if not self._ended:
            for frame in frames:
                self._recorder._frame(self._index, CLIENT, frame)

    def _try_send_message(self, message: str | bytes) -> bool | None:
        result: bool | None = self._conn.try_send_message(message)
        if result is not None and not self._ended:  # written, or committed
            self._recorder._frame(self._index, CLIENT, message)
        return result

    async def ping(self, payload: bytes | None = None) -> None:
        """Ping (not recorded)."""
        await self._conn.ping(payload)

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close (recorded as the client's close, with this code and reason)."""
        if self._closing is None:
            self._closing = code
        try:
            await self._conn.aclose(code, reason)
        finally:
            self._ended_by("client", code, reason or "")

    def finish(self) -> None:
        """Record the connection's end if it was not seen (the client abandoned it).

        Called by :meth:`Recorder.wrap_connect` when the connection's context ends, and for
        every open connection by :meth:`Recorder.close`.
        """
        if self._closing is not None:
            self._ended_by("client", self._closing, "")
        else:
            self._ended_by("client", None, "")

    def _peer_closed(self, exc: BaseException) -> None:
        if isinstance(exc, ConnectionClosed):  # the library's own connections
            code: int | None = exc.code
            text = exc.reason
        else:  # a trio-websocket connection (a connect= hook's): its CloseReason
            reason = getattr(exc, "reason", None)
            code = getattr(reason, "code", None)
            text = getattr(reason, "reason", None) or ""
        if self._closing is not None:
            self._ended_by("client", self._closing, "")
        elif code == 1006 or code is None:
            self._ended_by("network", 1006, text)
        else:
            self._ended_by("server", int(code), text)

    def _ended_by(self, by: EndedBy, code: int | None, reason: str) -> None:
        if not self._ended:
            self._ended = True
            self._recorder._end(self._index, by, code, reason)


def websocket_connect(ssl_context: Any) -> Connect:
    """trio-websocket over TCP (and TLS): a ``connect=`` hook that needs nothing else."""
    import trio_websocket

    @asynccontextmanager
    async def connect(url: str, headers: list[tuple[str, str]]) -> AsyncIterator[Any]:
        async with trio_websocket.open_websocket_url(
            url, ssl_context, extra_headers=[(k.encode(), v.encode()) for k, v in headers],
            max_message_size=_MAX_MESSAGE, connect_timeout=30, disconnect_timeout=5,
        ) as ws:
            yield ws

    return connect
