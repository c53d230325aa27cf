"""One connection of the emulator: what it records, the faults it takes, its live state.

* :class:`ConnectionRecord`: what happened on the connection, for tests' assertions
  (``LiveEmulator.connections``).
* :class:`Fault`: a misbehaviour to inject into a connection, now or at a scheduled point.
* ``Link``: the live connection: trio-websocket's WebSocket, the stream under it (so that a
  drop cuts the stream itself), its outbound queue, and what is done to it alone: queueing
  a message, reading a client frame, the goAway and Google's deadline close after it, a
  close, a drop. What spans connections (pausing every one, sending with a delay, faults
  fired by a message count) stays with ``LiveEmulator``.

Split out of ``_emulator.py`` (issue 11: modules of at most about 700 lines), which
re-exports :class:`ConnectionRecord` and :class:`Fault`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec
import trio
import trio_websocket

from ._rest import redact

if TYPE_CHECKING:
    from ._conversation import Conversation

__all__ = ["DEADLINE", "VERTEX_DEADLINE", "CloseMarker", "ConnectionRecord", "Fault", "Link",
           "Tracked"]

_SECRET_HEADERS: Final = frozenset({"x-goog-api-key", "authorization"})
# Google's deadline close texts (PROTOCOL.md 4 and 7; more reason texts in ``_strict``).
DEADLINE: Final = "Deadline expired before operation could complete."
VERTEX_DEADLINE: Final = "The operation was cancelled."


@dataclass(eq=False)
class ConnectionRecord:
    """What happened on one connection, for assertions.

    Attributes:
        index: the connection's number (0 for the first the emulator accepted).
        path: the request path.
        query: the query parameters (``key`` / ``access_token`` redacted).
        headers: the request headers, lower-cased names (secrets are kept, for tests that
            check them, but redacted in ``repr``).
        api_version: ``v1beta``, ``v1alpha``, ``v1`` (Gemini API) or ``v1beta1``/``v1`` (Vertex).
        backend: ``"gemini"`` or ``"vertex"``.
        method: ``BidiGenerateContent`` or ``BidiGenerateContentConstrained``.
        setup: the setup message as a camelCase dict (``None`` if none arrived).
        received: every client message, in order, normalised to camelCase.
        sent: every frame the emulator sent, in order (raw bytes, or ``str`` for text frames
            sent with :meth:`LiveEmulator.send_raw`).
        close_code, close_reason: how the connection ended (1006, "" for a drop).
        session_key: which logical session the connection belongs to.
        resumed_from: ``(connection index, message index)`` the resumption handle in this
            connection's setup was issued at (``None`` for a new session); see
            :meth:`LiveEmulator.consumed`.
        closed: set when the connection is over.
    """

    index: int
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(repr=False)
    api_version: str = ""
    backend: Literal["gemini", "vertex"] = "gemini"
    method: str = "BidiGenerateContent"
    setup: dict[str, Any] | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    sent: list[bytes | str] = field(default_factory=list, repr=False)
    close_code: int | None = None
    close_reason: str | None = None
    session_key: str | None = None
    resumed_from: tuple[int, int] | None = None
    closed: trio.Event = field(default_factory=trio.Event, repr=False)

    def __repr__(self) -> str:
        return (
            f"ConnectionRecord(index={self.index}, path={self.path!r}, "
            f"headers={redact(self.headers, _SECRET_HEADERS)!r}, query={self.query!r}, "
            f"backend={self.backend!r}, api_version={self.api_version!r}, "
            f"session_key={self.session_key!r}, received={len(self.received)} messages, "
            f"close_code={self.close_code!r}, close_reason={self.close_reason!r})"
        )

    def sent_messages(self) -> list[dict[str, Any]]:
        """The JSON frames the emulator sent, decoded (raw frames that are not JSON skipped)."""
        out: list[dict[str, Any]] = []
        for frame in self.sent:
            try:
                value = msgspec.json.decode(frame)
            except msgspec.DecodeError:
                continue
            if isinstance(value, dict):
                out.append(value)
        return out


@dataclass(frozen=True)
class Fault:
    """A misbehaviour to inject, now (``LiveEmulator.inject``) or later (``schedule_fault``).

    Build one with the class methods: :meth:`drop`, :meth:`close`, :meth:`raw`,
    :meth:`go_away`, :meth:`pause`, :meth:`stop_reading`, :meth:`unknown_message`.
    """

    action: Literal["drop", "close", "raw", "go_away", "pause", "stop_reading"]
    code: int = 1011
    reason: str = ""
    data: bytes | str = b""
    time_left: float = 1.0

    @classmethod
    def drop(cls) -> Fault:
        """Drop the TCP connection without a close frame (the client sees 1006)."""
        return cls("drop")

    @classmethod
    def close(cls, code: int = 1011, reason: str = "Internal error occurred.") -> Fault:
        """Close with ``code`` and ``reason``."""
        return cls("close", code=code, reason=reason)

    @classmethod
    def raw(cls, data: bytes | str) -> Fault:
        """Send ``data`` as is (``bytes``: a binary frame, ``str``: a text frame)."""
        return cls("raw", data=data)

    @classmethod
    def unknown_message(cls) -> Fault:
        """Send a message type no client knows (PROTOCOL.md 8.7)."""
        return cls("raw", data=b'{"brandNewMessage": {"x": 1}}')

    @classmethod
    def go_away(cls, time_left: float = 1.0) -> Fault:
        """Send ``goAway`` and close with Google's deadline close after ``time_left`` s."""
        return cls("go_away", time_left=time_left)

    @classmethod
    def pause(cls) -> Fault:
        """Stop sending (every connection) until :meth:`LiveEmulator.resume`."""
        return cls("pause")

    @classmethod
    def stop_reading(cls) -> Fault:
        """Stop reading this connection until :meth:`LiveEmulator.resume_reading`."""
        return cls("stop_reading")


@dataclass(frozen=True)
class CloseMarker:
    """A close queued behind the messages already queued (see :meth:`LiveEmulator.close`)."""

    code: int
    reason: str


@dataclass(frozen=True)
class Tracked:
    """A frame whose ``sent`` event ``LiveEmulator._sender`` sets once it is on the wire."""

    frame: bytes
    sent: trio.Event


class Link:
    """One live connection: its WebSocket, the stream under it, its outbound queue."""

    def __init__(self, record: ConnectionRecord, ws: trio_websocket.WebSocketConnection,
                 stream: trio.abc.Stream) -> None:
        self.record = record
        self.ws = ws
        self.stream = stream
        self.scope = trio.CancelScope()
        self.out_send, self.out_recv = trio.open_memory_channel[
            bytes | str | CloseMarker | Tracked](math.inf)
        self.reading = trio.Event()
        self.reading.set()
        self.client_count = 0
        self.server_count = 0
        self.closing = False
        self.conversation: Conversation | None = None
        self.nursery: trio.Nursery | None = None

    def stop_reading(self) -> None:
        """Stop reading client frames until ``reading`` is set again.

        Only a set event is replaced: replacing an unset one would strand the reader that
        waits on it, and a later resume (which sets the current one) would never wake it.
        """
        if self.reading.is_set():
            self.reading = trio.Event()

    async def emit(self, message: dict[str, Any]) -> None:
        """Queue one server message (sent in order by ``LiveEmulator._sender``)."""
        await trio.lowlevel.checkpoint()
        if not self.closing:
            self.out_send.send_nowait(msgspec.json.encode(message))

    async def emit_raw(self, data: bytes | str) -> None:
        """Queue ``data`` as is (``bytes``: a binary frame, ``str``: a text frame)."""
        await trio.lowlevel.checkpoint()
        if not self.closing:
            self.out_send.send_nowait(data)

    async def receive(self) -> bytes | str | None:
        """The next client frame, or ``None`` when the client is gone."""
        await self.reading.wait()
        try:
            message: bytes | str = await self.ws.get_message()
        except trio_websocket.ConnectionClosed:
            return None
        # Reading may have stopped while this frame was in flight: hold it until resumed.
        await self.reading.wait()
        self.client_count += 1
        return message

    async def go_away(self, time_left: float) -> None:
        """Send ``goAway``, then Google's deadline close ``time_left`` seconds later."""
        # The deadline counts from when the goAway is on the wire, not from when it was
        # queued: behind a backlog, a frame in flight (send_delay) or a pause, the close
        # must not overtake it. (If the connection ends first, this task is cancelled.)
        await trio.lowlevel.checkpoint()
        if self.closing:
            return
        sent = trio.Event()
        self.out_send.send_nowait(Tracked(
            msgspec.json.encode({"goAway": {"timeLeft": f"{time_left:g}s"}}), sent))
        await sent.wait()
        await trio.sleep(time_left)
        if self.record.backend == "vertex":
            await self.close(1000, VERTEX_DEADLINE)
        else:
            await self.close(1011, DEADLINE)

    async def close(self, code: int, reason: str) -> None:
        """Close with ``code`` and ``reason`` now (bounded), then end the connection."""
        if self.closing:
            return
        self.closing = True
        self.record.close_code = code
        self.record.close_reason = reason
        # A close reason is at most 123 bytes (RFC 6455 5.5).
        encoded = reason.encode()[:123].decode("utf-8", "ignore")
        with trio.move_on_after(5):
            try:
                await self.ws.aclose(code, encoded)
            except trio_websocket.ConnectionClosed:
                pass
        self.scope.cancel()

    async def drop(self) -> None:
        """Cut the transport: no close frame, no ``close_notify`` (the client sees 1006)."""
        self.closing = True
        self.record.close_code = 1006
        self.record.close_reason = ""
        stream = self.stream
        # Drop the transport under TLS too: no close_notify, no close frame.
        transport = stream.transport_stream if isinstance(stream, trio.SSLStream) else stream
        await trio.aclose_forcefully(transport)
        self.scope.cancel()
