"""A lean WebSocket client connection: wsproto over a Trio stream, no background task (issue 7).

trio-websocket runs a reader task per connection that parses frames and hands each message to
the caller through a memory channel: one extra task switch per received message, and one
``send_all`` (a write syscall, and a TLS record) per sent message. The session already has a
task that does nothing but read (its receive task) and one that does nothing but write (its
send task), so this module lets them drive the socket themselves:

* :meth:`WebSocketConnection.get_message` reads the stream in the *caller's* task, parses
  everything that arrived with wsproto, keeps the complete messages in a deque and hands
  them out one per call; pings are answered and the close handshake is completed there.
* :meth:`WebSocketConnection.send_messages` serialises a batch of frames and writes them with
  one ``send_all``: the session's send task drains every frame queued at that moment. Data
  frames are built here (masking with the C routine of the ``websockets`` package); wsproto
  does the handshake, the parsing and the control frames.

The error contract is trio-websocket's, on purpose, so that the session's ``except`` clauses
work with either transport: :class:`trio_websocket.ConnectionClosed` carrying a
:class:`trio_websocket.CloseReason` once the connection is closed (1006 when the TCP stream
ended without a close frame), :class:`trio_websocket.ConnectionRejected` for an HTTP refusal of
the upgrade, :class:`trio_websocket.HandshakeError` for any other failed opening handshake.

Concurrency: one task reads the stream at a time; another ``get_message`` (or ``aclose``)
meanwhile waits for what that read parses. Any number of tasks may write, serialised by a
``trio.StrictFIFOLock``. The reader never waits for that lock (PROTOCOL.md 6: a write
blocked by a slow peer must not stop delivery): its pongs and close echo go out at once when
nobody is writing, else the task holding the lock writes them after its own frames.
:meth:`~WebSocketConnection.ping` and :meth:`~WebSocketConnection.aclose` rely on the
reading task to see the answer when there is one; ``aclose`` reads by itself when nobody
else is.

Cancellation: a write that is cancelled may have put part of a frame on the wire, after which
the framing is corrupt (and a TLS stream is broken anyway). So a write cancelled once it
started, or a failed one, makes the connection unusable: it is marked closed (1006), later
calls raise ``ConnectionClosed``, and ``aclose`` only closes the stream. A call cancelled
before it wrote anything leaves the connection as it was (pending pongs included). A cancelled
``get_message`` loses nothing: bytes that were read are parsed and kept before any checkpoint.
"""

from __future__ import annotations

import math
import os
import re
import ssl
import struct
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, TypeAlias, cast
from urllib.parse import urlsplit

import h11
import trio
from trio_websocket import CloseReason, ConnectionClosed, ConnectionRejected, HandshakeError
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection, ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.frame_protocol import XorMaskerSimple
from wsproto.utilities import RemoteProtocolError

from ._sockets import native_stream

__all__ = ["WebSocketConnection", "open_connection"]

#: Any byte stream: in practice a :class:`~._sockets.NativeSocketStream` (tests may use
#: in-memory streams, or Trio's socket and TLS streams).
Stream: TypeAlias = trio.abc.Stream

#: PROTOCOL.md 2: grounding metadata and tool calls can be large.
MAX_MESSAGE_SIZE: Final = 16 * 1024 * 1024
#: Bytes asked of the stream per read. A TLS stream returns one record (<= 16 KiB) per read
#: whatever is asked; a plain TCP stream returns what the kernel has, up to this.
RECEIVE_SIZE: Final = 256 * 1024
CONNECT_TIMEOUT: Final = 30.0
CLOSE_TIMEOUT: Final = 3.0
#: An HTTP refusal's body is kept for the error message, up to this many bytes.
_MAX_REJECT_BODY: Final = 64 * 1024
_ABNORMAL: Final = 1006
_TOO_BIG: Final = 1009


class _PingWaiter:
    __slots__ = ("answered", "event")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.answered = False


class WebSocketConnection:
    """A client WebSocket connection whose I/O runs in the calling tasks.

    Made by :func:`open_connection` (or :meth:`handshake` over an existing stream); it has
    the methods of ``trio_websocket.WebSocketConnection`` that the session uses, plus
    :meth:`send_messages`.

    Args:
        stream: the connected (TLS) stream, after the opening handshake.
        connection: wsproto's connection, in the OPEN state.
        max_message_size: a message whose payload is longer than this many bytes (UTF-8
            bytes for text) closes the connection with 1009.
        receive_size: bytes asked of the stream per read.
        close_timeout: seconds :meth:`aclose` waits to write its close frame and for the
            server's; unanswered, the connection is reported closed with 1006.
    """

    def __init__(
        self,
        stream: Stream,
        connection: Connection,
        *,
        max_message_size: int = MAX_MESSAGE_SIZE,
        receive_size: int = RECEIVE_SIZE,
        close_timeout: float = CLOSE_TIMEOUT,
    ) -> None:
        if max_message_size < 1 or receive_size < 1:
            raise ValueError("max_message_size and receive_size must be positive")
        self._stream = stream
        self._ws = connection
        self._max_message_size = max_message_size
        self._receive_size = receive_size
        self._close_timeout = close_timeout
        self._lock = trio.StrictFIFOLock()
        self._messages: deque[str | bytes] = deque()
        self._parts: list[str | bytes] = []
        self._size = 0
        #: Set once closing started (either side) or the connection broke: what ``closed``
        #: reports and what ConnectionClosed carries.
        self._close_reason: CloseReason | None = None
        #: No more messages will be delivered (the server's close frame, EOF, an error).
        self._finished = False
        #: The close handshake ended (or cannot end): ``aclose`` waits for this.
        self._close_done = trio.Event()
        self._user_closing = False
        self._reading = False
        #: Tasks waiting while another reads (a second get_message, aclose).
        self._read_lot = trio.lowlevel.ParkingLot()
        self._stream_closed = False
        #: A write failed or was cancelled: the stream may hold part of a frame.
        self._broken = False
        #: Control frames (pongs, close) serialised but not written yet: whoever holds the
        #: write lock writes them (see ``_reply``).
        self._pending = bytearray()
        self._pings: OrderedDict[bytes, _PingWaiter] = OrderedDict()
        # wsproto's parser state, read by _fast_frames (issue 7). Its private attributes:
        # when a wsproto version lacks them, every frame goes through wsproto as before
        # (a test asserts the fast path is on with the version the package requires).
        proto = getattr(connection, "_proto", None)
        self._frame_decoder: Any = getattr(proto, "_frame_decoder", None)
        self._message_decoder: Any = getattr(proto, "_message_decoder", None)
        self._fast_parsing = (
            hasattr(self._frame_decoder, "buffer")
            and hasattr(self._frame_decoder, "header")
            and hasattr(self._message_decoder, "opcode")
            and not getattr(proto, "extensions", None)
        )
        #: The stream's synchronous write (NativeSocketStream.try_send), if it has one.
        self._try_send: Callable[[bytes], bool | None] | None = getattr(
            stream, "try_send", None
        )

    # --- opening ------------------------------------------------------------------------

    @classmethod
    async def handshake(
        cls,
        stream: Stream,
        host: str,
        resource: str,
        headers: Iterable[tuple[bytes, bytes]] = (),
        *,
        max_message_size: int = MAX_MESSAGE_SIZE,
        receive_size: int = RECEIVE_SIZE,
        close_timeout: float = CLOSE_TIMEOUT,
    ) -> WebSocketConnection:
        """Do the client's opening handshake (RFC 6455 section 4.1) on ``stream``.

        Unbounded: wrap it in ``trio.fail_after``. The stream is not closed on failure.
        The keyword arguments are those of the class; ``receive_size`` applies to the
        handshake's reads too.

        Raises:
            trio_websocket.ConnectionRejected: the server answered with an HTTP status other
                than 101 (its status, headers and up to 64 KiB of body).
            trio_websocket.HandshakeError: the connection ended or the answer was malformed.
            trio.BrokenResourceError: the stream broke.
            ValueError: ``max_message_size`` or ``receive_size`` is not positive; a header's
                name or value is not allowed in HTTP (the message names the header, never
                its value: it may be the API key), or the host or resource is invalid.
        """
        if max_message_size < 1 or receive_size < 1:
            # Checked before anything is sent (the class checks again).
            raise ValueError("max_message_size and receive_size must be positive")
        extra_headers = list(headers)
        _check_headers(extra_headers)
        ws = WSConnection(ConnectionType.CLIENT)
        request = Request(host=host, target=resource, extra_headers=extra_headers, subprotocols=[])
        try:
            opening = ws.send(request)
        except h11.LocalProtocolError:
            # The headers passed _check_headers: h11 refused the host or the resource. Its
            # message quotes the refused text; the URL never carries the key, but the
            # error type is the point (ValueError for bad input, as for the headers).
            raise ValueError("the host or resource is not valid in an HTTP request") from None
        await stream.send_all(opening)
        status = 0
        reject_headers: tuple[tuple[bytes, bytes], ...] = ()
        body = bytearray()
        #: The answer's bytes until its status line shows it is the final answer: interim
        #: (1xx) answers before it are dropped, see _drop_interim_answers.
        head: bytearray | None = bytearray()
        while True:
            data = await stream.receive_some(receive_size)
            if not data:
                if status:
                    raise ConnectionRejected(status, reject_headers, bytes(body))
                raise HandshakeError("the server closed the connection during the handshake")
            if head is not None:
                head += data
                if not _drop_interim_answers(head):
                    continue
                data, head = head, None
            try:
                ws.receive_data(bytes(data))
            except RemoteProtocolError as exc:
                raise HandshakeError(f"invalid handshake answer: {exc}") from None
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    assert ws.connection is not None
                    connection = cls(
                        stream,
                        ws.connection,
                        max_message_size=max_message_size,
                        receive_size=receive_size,
                        close_timeout=close_timeout,
                    )
                    # Frames that came in the same read as the 101 answer are already
                    # inside wsproto's connection: parse them now, or they would wait for
                    # the next read (which may be the end of the stream).
                    await connection._process()
                    return connection
                if isinstance(event, RejectConnection):
                    status = event.status_code
                    reject_headers = tuple(event.headers)
                    if not event.has_body:
                        raise ConnectionRejected(status, reject_headers, None)
                elif isinstance(event, RejectData):
                    if len(body) < _MAX_REJECT_BODY:
                        body += event.data[: _MAX_REJECT_BODY - len(body)]
                    if event.body_finished:
                        raise ConnectionRejected(status, reject_headers, bytes(body))

    # --- state --------------------------------------------------------------------------

    @property
    def closed(self) -> CloseReason | None:
        """``None`` while open; then why it closed (the server's close frame, ours, or 1006)."""
        return self._close_reason

    def __repr__(self) -> str:
        state = "open" if self._close_reason is None else f"closed {self._close_reason.code}"
        return f"<WebSocketConnection {state}>"

    # --- sending ------------------------------------------------------------------------

    async def send_message(self, message: str | bytes) -> None:
        """Send one message: a text frame for ``str``, a binary frame for ``bytes``.

        Raises:
            trio_websocket.ConnectionClosed: the connection is closed or closing (also when
                the write fails: the stream broke).
            TypeError: ``message`` is neither ``str`` nor ``bytes``.
            UnicodeEncodeError: ``message`` is a ``str`` with a lone surrogate (it has no
                UTF-8 form); nothing is sent.
        """
        await self._write([_data_frame(message)])

    async def send_messages(self, messages: Sequence[str | bytes]) -> None:
        """Send several messages, in order, with one write to the stream.

        The session's send task hands over every frame queued at that moment: one TLS
        write and one syscall for the batch instead of one per frame.

        Raises:
            trio_websocket.ConnectionClosed: as :meth:`send_message`; when the write failed,
                none of the batch can be assumed delivered.
            TypeError: an item is neither ``str`` nor ``bytes`` (nothing is sent).
            UnicodeEncodeError: an item is a ``str`` with a lone surrogate (nothing is sent:
                every frame is built before the write).
        """
        await self._write([_data_frame(message) for message in messages])

    def try_send_message(self, message: str | bytes) -> bool | None:
        """Send one message now if that needs no waiting: synchronous, no schedule point.

        For the session's direct path (issue 7): a ``send_*`` call that finds nothing
        queued writes its frame from the caller's task instead of waking the send task.
        Returns ``True``: the frame was written. ``None``: nothing was written (another
        write is under way, control frames are pending, the connection is closing or
        broken, the stream cannot write without waiting or has no ``try_send``); send it
        the usual way. ``False``: the frame is committed but only partly written: the
        stream writes the rest before anything else, so call :meth:`flush` (or send
        something) soon.

        Raises:
            TypeError, UnicodeEncodeError: as :meth:`send_message` (nothing is sent).
        """
        try_send = self._try_send
        if (
            try_send is None
            or self._lock.locked()
            or self._pending
            or self._broken
            or self._close_reason is not None
            or self._ws.state is not ConnectionState.OPEN
        ):
            return None
        frame = _data_frame(message)
        try:
            return try_send(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            # Reported by the next read or write, as for a failed write.
            self._abort(f"write failed: {type(exc).__name__}")
            return None

    async def flush(self) -> None:
        """Write what :meth:`try_send_message` left unfinished (and pending control frames).

        Raises:
            trio_websocket.ConnectionClosed: the connection is closed or the write failed.
        """
        await self._write([])

    async def _write(self, frames: list[bytes], ping: bytes | None = None) -> None:
        """Write serialised data ``frames`` (or a ping with this payload) in one go."""
        lock = self._lock
        # Lock.acquire() adds a schedule point to every write; send_all below is a
        # checkpoint already, so take a free lock without one (FIFO order is unaffected:
        # a free lock has nobody waiting).
        try:
            lock.acquire_nowait()
        except trio.WouldBlock:
            await lock.acquire()
        try:
            # A cancellation here leaves everything as it was: nothing written, and nothing
            # taken from _pending yet (a pong or close echo taken and then dropped would be
            # lost for good).
            await trio.lowlevel.checkpoint_if_cancelled()
            if self._close_reason is not None or self._ws.state is not ConnectionState.OPEN:
                # The close echo (or our 1002/1009 close frame) may be waiting: it still
                # goes out (RFC 6455 5.5.1), the data does not.
                await self._send_pending()
                await trio.lowlevel.cancel_shielded_checkpoint()
                raise ConnectionClosed(self._close_reason)
            if ping is not None:
                frames = [self._ws.send(Ping(payload=ping))]
            if self._pending:
                # Control replies the reader left for the next writer (see _reply).
                frames.insert(0, bytes(self._pending))
                self._pending.clear()
            await self._send_all(frames[0] if len(frames) == 1 else b"".join(frames))
            # Replies the reader parsed while this write was blocked: the reader does not
            # wait for the lock (PROTOCOL.md 6), so the holder of the lock writes them.
            # Not when this task is cancelled by now: its frames are on the wire, and a
            # Cancelled would tell the caller (the session's send task) they might not be,
            # so it would send them again. The replies stay pending (see _reply).
            if self._pending and trio.current_effective_deadline() != -math.inf:
                await self._send_pending()
        finally:
            lock.release()

    async def _send_pending(self) -> None:
        """Write the pending control frames (pongs, close); the caller holds the write lock.

        Loops because the reader may add more while a write is blocked. A failed write is
        recorded (1006) and reported by the next read or write, not here: the caller's own
        frames were written.
        """
        pending = self._pending
        while pending and not self._broken:
            # A caller already cancelled (a reader whose scope expired, a refused writer)
            # leaves the replies pending for the next write, read or aclose: taken out and
            # then dropped by a cancelled send_all they would be lost, and _send_all would
            # take that cancellation for a write cut mid-frame (1006).
            # No checkpoint lies between this check and ``send_all``'s start, so a Cancelled
            # past it comes from inside ``send_all``, which may have written part of the data.
            await trio.lowlevel.checkpoint_if_cancelled()
            data = bytes(pending)
            pending.clear()
            try:
                await self._send_all(data)
            except ConnectionClosed:
                return

    async def _send_all(self, data: bytes | bytearray) -> None:
        """Write ``data`` holding the lock. Any failure leaves the connection unusable."""
        if self._broken:
            await trio.lowlevel.checkpoint()
            raise ConnectionClosed(self._close_reason)
        try:
            await self._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self._abort(f"write failed: {type(exc).__name__}")
            raise ConnectionClosed(self._close_reason) from None
        except BaseException:
            # Cancelled mid-write: part of a frame may be on the wire (see the module doc).
            self._abort("a write was cancelled")
            raise

    def _abort(self, why: str) -> None:
        """The stream is unusable: no more writes; 1006 unless a close was under way."""
        self._broken = True
        if self._close_reason is None:
            self._close_reason = CloseReason(_ABNORMAL, why)
        self._finish()

    def _finish(self) -> None:
        """No more messages; the close handshake is over; ``ping`` waiters are released."""
        self._finished = True
        self._close_done.set()
        self._read_lot.unpark_all()
        for waiter in self._pings.values():
            waiter.event.set()
        self._pings.clear()

    # --- receiving ----------------------------------------------------------------------

    async def get_message(self) -> str | bytes:
        """The next message (``str`` for a text frame, ``bytes`` for binary).

        Reads the stream in this task when no parsed message is waiting; pings and the
        server's close frame are answered here. Messages that arrived before the server's
        close frame are delivered first. Cancellation loses nothing.

        Raises:
            trio_websocket.ConnectionClosed: no more messages (the reason is :attr:`closed`).
        """
        messages = self._messages
        if messages:
            # One schedule point per message, as a memory channel's receive() does.
            await trio.lowlevel.checkpoint_if_cancelled()
            message = messages.popleft()
            await trio.lowlevel.cancel_shielded_checkpoint()
            return message
        while not messages:
            if self._finished:
                await trio.lowlevel.checkpoint()
                raise ConnectionClosed(self._close_reason)
            if self._reading:
                # Another task (a reader, or aclose) is reading: take what it parses.
                await self._read_lot.park()
                continue
            await self._read_once()
        return messages.popleft()

    async def _read_once(self) -> None:
        self._reading = True
        try:
            await self._receive()
        finally:
            self._reading = False
            if self._read_lot:
                self._read_lot.unpark_all()

    async def _receive(self) -> None:
        """One read from the stream, parsed; answers pings and the close handshake."""
        if self._broken:
            await trio.lowlevel.checkpoint()
            return
        if self._pending:
            # Left by a writer cancelled before writing (see _reply): out before we block.
            await self._reply()
        try:
            data = await self._stream.receive_some(self._receive_size)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self._abort(f"read failed: {type(exc).__name__}")
            return
        if not data:
            # RFC 6455 7.1.5: the TCP connection ended without a close frame: 1006.
            self._abort("the connection ended without a close frame")
            return
        ws = self._ws
        if ws.state is ConnectionState.CLOSED or ws.state is ConnectionState.REMOTE_CLOSING:
            return  # after the close handshake: nothing more is parsed
        if self._fast_parsing:
            used = self._fast_frames(data)
            if used == len(data):
                return
            data = data[used:]
        ws.receive_data(data)  # type: ignore[arg-type]  # bytearray is fine: it is copied
        await self._process()

    def _fast_frames(self, data: bytes | bytearray) -> int:
        """Take the plain data frames at the start of ``data``; returns the bytes used.

        Issue 7: nearly every frame a Live API server sends is one complete, unfragmented,
        unmasked text or binary frame, and wsproto's general parser (a generator, a
        bytearray buffer, four copies of the payload) costs more than the JSON and base64
        decoding of the message. Such frames are taken here, with one copy, when wsproto
        holds nothing (no buffered bytes, no frame or fragmented message under way), so
        its state is exactly as if it had parsed them. The first frame that is anything
        else (control, fragment, RSV bits, a mask, a non-minimal length, invalid UTF-8,
        over the size limit, or incomplete) stops this; it and the rest go to wsproto,
        which applies RFC 6455 in full (tests compare the two on the same bytes).
        """
        decoder, messages = self._frame_decoder, self._message_decoder
        if (
            self._finished
            or self._ws.state is not ConnectionState.OPEN
            or len(decoder.buffer)
            or decoder.header is not None
            or messages.opcode is not None
        ):
            return 0
        if isinstance(data, bytearray):
            data = bytes(data)
        out = self._messages
        limit = self._max_message_size
        offset = 0
        end = len(data)
        while end - offset >= 2:
            first = data[offset]
            if first != 0x82 and first != 0x81:  # FIN, no RSV, binary or text
                break
            size = data[offset + 1]  # the mask bit must be clear (RFC 6455 5.1)
            if size < 126:
                start = offset + 2
            elif size == 126:
                start = offset + 4
                if start > end:
                    break
                size = _LEN16.unpack_from(data, offset + 2)[0]
                if size < 126:
                    break  # non-minimal: wsproto refuses it (1002)
            elif size == 127:
                start = offset + 10
                if start > end:
                    break
                size = _LEN64.unpack_from(data, offset + 2)[0]
                if size < 65536 or size >= 1 << 63:
                    break
            else:
                break  # masked: wsproto refuses it (1002)
            stop = start + size
            if stop > end or size > limit:
                break
            payload = data if start == 0 and stop == end else data[start:stop]
            if first == 0x81:
                try:
                    out.append(payload.decode("utf-8"))
                except UnicodeDecodeError:
                    break  # wsproto closes with 1007
            else:
                out.append(payload)
            offset = stop
        return offset

    async def _process(self) -> None:
        """Turn what wsproto parsed into messages; answer pings and the close handshake."""
        ws = self._ws
        replies = self._pending
        for event in ws.events():
            kind = type(event)
            if kind is TextMessage or kind is BytesMessage:
                if self._message(event):  # type: ignore[arg-type]
                    # Too big: 1009 (RFC 6455 7.4.1), and nothing more is parsed.
                    if ws.state is ConnectionState.OPEN:
                        replies += ws.send(CloseConnection(code=_TOO_BIG, reason="message too big"))
                    break
            elif kind is Ping:
                if ws.state is ConnectionState.OPEN:
                    replies += ws.send(cast(Ping, event).response())
            elif kind is Pong:
                self._pong(cast(Pong, event).payload)
            elif kind is CloseConnection:
                self._close_frame(event)  # type: ignore[arg-type]
                break
        if replies:
            await self._reply()

    def _message(self, event: TextMessage | BytesMessage) -> bool:
        """Keep a received (part of a) message; ``True`` when it is over the size limit."""
        if self._finished:
            return False  # closing after an error: what follows is discarded
        # wsproto gives str for text and bytes (typed bytes | bytearray) for binary frames.
        data = cast("str | bytes", event.data)
        # The limit is on the payload's bytes: a str's UTF-8 size, which wsproto decoded it
        # from (up to 4 bytes per character). ``isascii`` is O(1) on CPython's str, so the
        # common (JSON, ASCII) text costs no encoding.
        size = len(data) if not isinstance(data, str) or data.isascii() else _utf8_size(data)
        if event.message_finished and not self._parts:
            # The common case, a message in one frame: no copy, no join.
            if size > self._max_message_size:
                return self._too_big()
            self._messages.append(data)
            return False
        self._size += size
        if self._size > self._max_message_size:
            return self._too_big()
        self._parts.append(data)
        if event.message_finished:
            parts, self._parts, self._size = self._parts, [], 0
            if type(event) is TextMessage:
                self._messages.append("".join(cast("list[str]", parts)))
            else:
                self._messages.append(b"".join(cast("list[bytes]", parts)))
        return False

    def _too_big(self) -> bool:
        self._parts, self._size = [], 0
        if self._close_reason is None:
            self._close_reason = CloseReason(
                _TOO_BIG, f"a message exceeded the maximum size of {self._max_message_size} bytes"
            )
        # No more messages; aclose() still reads (discarding) until the server's close frame.
        self._finished = True
        return True

    def _close_frame(self, event: CloseConnection) -> None:
        ws = self._ws
        state = ws.state
        reason = CloseReason(event.code, event.reason or None)
        if state is ConnectionState.REMOTE_CLOSING:
            # The server closes: echo its close frame (RFC 6455 5.5.1); the handshake is over.
            self._pending += ws.send(event.response())
            if self._close_reason is None or not self._finished:
                self._close_reason = reason
            self._finish()
        elif state is ConnectionState.CLOSED:
            # The server's answer to our close frame: report the server's reason, as
            # trio-websocket does, unless we closed because of an error (1009).
            if self._close_reason is None or self._user_closing:
                self._close_reason = reason
            self._finish()
        elif state is ConnectionState.OPEN:
            # wsproto found the server's data malformed: fail the connection with its code
            # (1002 protocol error, 1007 invalid UTF-8...), RFC 6455 7.1.7; aclose() waits
            # for the answer.
            self._pending += ws.send(CloseConnection(code=event.code, reason=event.reason))
            self._close_reason = reason
            self._finished = True
        else:
            # Malformed data after our close frame: the handshake cannot complete.
            self._finish()

    async def _reply(self) -> None:
        """The reader's side: write pending control frames now if nobody is writing.

        The reader never waits for the write lock: a ``send_all`` blocked by a slow peer
        would stop the delivery of messages already parsed (PROTOCOL.md 6: the reader must
        always drain). When the lock is held, its holder writes ``_pending`` before releasing
        it (:meth:`_write`, :meth:`_send_pending`); a writer cancelled before writing leaves
        them to the next write, to the reader's next read, or to :meth:`aclose`.
        """
        lock = self._lock
        if lock.locked():
            return
        # Free means nobody waits either (a released StrictFIFOLock goes to its first
        # waiter), so this takes no one's turn.
        lock.acquire_nowait()
        try:
            await self._send_pending()
        finally:
            lock.release()

    async def _flush_pending(self) -> None:
        """Write pending control frames (pongs, close), waiting for the write lock.

        For :meth:`aclose`, which may wait. Cancelled while waiting for the lock, they stay
        pending: the next write sends them.
        """
        async with self._lock:
            await self._send_pending()

    def _pong(self, payload: bytes) -> None:
        if payload not in self._pings:
            return  # unsolicited, or for a ping that gave up: nothing to wake
        # As trio-websocket: a pong answers its ping and every earlier one (RFC 6455 5.5.3
        # allows answering only the latest of several pings).
        while self._pings:
            key, waiter = self._pings.popitem(last=False)
            waiter.answered = True
            waiter.event.set()
            if key == payload:
                break

    # --- ping, close --------------------------------------------------------------------

    async def ping(self, payload: bytes | None = None) -> None:
        """Send a ping and wait for its pong (seen by the task reading the connection).

        Args:
            payload: the ping's payload (at most 125 bytes); ``None``: 4 random bytes.

        Raises:
            trio_websocket.ConnectionClosed: the connection closed before the pong.
            ValueError: a ping with this payload is already waiting, or it is too long.
        """
        if payload is None:
            payload = os.urandom(4)
            while payload in self._pings:
                payload = os.urandom(4)
        elif payload in self._pings:
            raise ValueError("a ping with this payload is already waiting for its pong")
        elif len(payload) > 125:
            raise ValueError("a ping's payload is at most 125 bytes (RFC 6455 5.5)")
        waiter = _PingWaiter()
        self._pings[payload] = waiter
        try:
            await self._write([], ping=payload)
            await waiter.event.wait()
        finally:
            if not waiter.answered and self._pings.get(payload) is waiter:
                del self._pings[payload]
        if not waiter.answered:
            raise ConnectionClosed(self._close_reason)

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close: send a close frame, wait (bounded) for the server's, close the stream.

        When another task is reading, that task sees the server's close frame and this
        waits for it; otherwise this reads (discarding messages) until it arrives, for at
        most ``close_timeout`` seconds. Idempotent; the stream is closed even if this is
        cancelled.
        """
        if self._stream_closed:
            await trio.lowlevel.checkpoint()
            return
        try:
            ws = self._ws
            if ws.state is ConnectionState.OPEN and self._close_reason is None:
                self._user_closing = True
                self._close_reason = CloseReason(code, reason)
                self._pending += ws.send(CloseConnection(code=code, reason=reason))
            # The bound covers the wait for the write lock too: its holder may be stuck on
            # a peer that stopped reading, and then our close frame cannot go out anyway.
            with trio.move_on_after(self._close_timeout):
                if self._pending and not self._broken:
                    await self._flush_pending()
                if ws.state is ConnectionState.LOCAL_CLOSING:
                    while not self._close_done.is_set():
                        if self._reading:
                            await self._read_lot.park()
                        else:
                            await self._read_once()
        finally:
            self._stream_closed = True
            if self._user_closing and self._ws.state is not ConnectionState.CLOSED:
                # Our close frame was never answered (timeout, broken stream, cancelled):
                # no close handshake, so 1006 (RFC 6455 7.1.5), not the code we sent.
                self._close_reason = CloseReason(_ABNORMAL, "the server did not answer the close")
            elif self._close_reason is None:
                self._close_reason = CloseReason(_ABNORMAL, "closed without a close handshake")
            self._broken = True
            self._finish()
            await self._stream.aclose()


def _utf8_size(text: str) -> int:
    """The size of ``text`` in UTF-8, as it was on the wire."""
    # surrogatepass: wsproto's decoder never yields lone surrogates, but a size must not raise.
    return len(text.encode("utf-8", "surrogatepass"))


def _mask_py(data: bytes | bytearray | memoryview, mask: bytes | bytearray) -> bytes:
    return bytes(XorMaskerSimple(mask).process(bytearray(data)))


try:
    # The C masking of the ``websockets`` package (a runtime dependency for this alone):
    # about 0.2 µs instead of about 7 µs for a 4 KB audio frame (issue 7). The Python
    # fallback keeps the library working where its C extension is unavailable.
    from websockets.speedups import apply_mask as _mask
except ImportError:  # pragma: no cover - depends on the environment
    _mask = _mask_py


def _data_frame(message: str | bytes) -> bytes:
    """One masked, unfragmented client data frame (RFC 6455 5.2, 5.3).

    Done here rather than by wsproto's ``send``, which copies the payload five times and
    masks in Python; the frame format is the same (a test compares the two).
    """
    if isinstance(message, str):
        opcode = 0x81  # FIN + text
        payload = message.encode()
    elif isinstance(message, (bytes, bytearray, memoryview)):
        opcode = 0x82  # FIN + binary
        payload = bytes(message)
    else:
        raise TypeError(f"a message must be str or bytes, not {type(message).__name__}")
    size = len(payload)
    # RFC 6455 5.3: a fresh, unpredictable masking key for every frame.
    key = os.urandom(4)
    if size < 126:
        head = bytes((opcode, 0x80 | size))
    elif size < 65536:
        head = _HEAD16.pack(opcode, 0x80 | 126, size)
    else:
        head = _HEAD64.pack(opcode, 0x80 | 127, size)
    return b"".join((head, key, _mask(payload, key)))


_HEAD16: Final = struct.Struct("!BBH")
_LEN16: Final = struct.Struct("!H")
_LEN64: Final = struct.Struct("!Q")
_HEAD64: Final = struct.Struct("!BBQ")


#: An interim answer's status line: 1xx but 101 (RFC 7231 6.2).
_INTERIM_STATUS: Final = re.compile(rb"HTTP/1\.[01] 1(?!01)[0-9][0-9](?![0-9])")
#: The end of an HTTP head (h11 accepts a bare LF too).
_HEAD_END: Final = re.compile(rb"\n\r?\n")
#: Interim answers longer than this are a malformed answer, not something to buffer.
_MAX_INTERIM: Final = 64 * 1024


def _drop_interim_answers(head: bytearray) -> bool:
    """Drop complete interim answers (``100 Continue``, ``103 Early Hints``...) from ``head``.

    RFC 7231 6.2: a client must parse any number of 1xx answers before the final one, even
    unasked. wsproto takes any answer but 101 for a refusal and stops there, so they are
    dropped before it sees the bytes. ``True`` when ``head`` starts with the final
    answer (or with something else: wsproto judges it); ``False`` when more is needed.

    Raises:
        trio_websocket.HandshakeError: the interim answers are over 64 KiB.
    """
    while True:
        line_end = head.find(b"\n")
        if line_end >= 0 and _INTERIM_STATUS.match(head, 0, line_end) is None:
            return True
        end = _HEAD_END.search(head) if line_end >= 0 else None
        if end is None:
            if len(head) > _MAX_INTERIM:
                raise HandshakeError("invalid handshake answer: an endless head")
            return False
        del head[: end.end()]


#: RFC 7230 3.2: a header name is a token; a value is visible characters (and obs-text)
#: separated by spaces or tabs, with none at either end. h11's own rules, checked here so
#: that a bad header is a ValueError naming it: h11's error quotes the value.
_HEADER_NAME: Final = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_HEADER_VALUE: Final = re.compile(rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?")


def _check_headers(headers: Iterable[tuple[bytes, bytes]]) -> None:
    """Refuse a header h11 would refuse, naming it but never quoting its value."""
    for name, value in headers:
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise TypeError("a header's name and value must be bytes")
        if _HEADER_NAME.fullmatch(name) is None:
            raise ValueError(f"invalid HTTP header name {name[:100]!r}")
        if _HEADER_VALUE.fullmatch(value) is None:
            # The value may be a secret (x-goog-api-key, Authorization): name only.
            raise ValueError(
                f"the value of the HTTP header {name.decode('ascii')!r} is invalid "
                "(control characters, a line break, or spaces at either end)"
            )


def _host_header(host: str, port: int, secure: bool) -> str:
    """RFC 7230 5.4: the port is part of Host unless it is the scheme's default."""
    name = f"[{host}]" if ":" in host else host
    return name if port == (443 if secure else 80) else f"{name}:{port}"


@asynccontextmanager
async def open_connection(
    url: str,
    headers: Iterable[tuple[str, str]] = (),
    *,
    ssl_context: ssl.SSLContext | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    close_timeout: float = CLOSE_TIMEOUT,
    max_message_size: int = MAX_MESSAGE_SIZE,
    receive_size: int = RECEIVE_SIZE,
) -> AsyncIterator[WebSocketConnection]:
    """Connect to a ``ws://`` or ``wss://`` URL; the connection is closed on exit.

    TCP, TLS and the WebSocket handshake together are bounded by ``connect_timeout``
    (``trio.TooSlowError``). The TLS handshake is done first and on its own so that a
    certificate that fails verification is reported by name.

    Args:
        url: ``ws://host[:port]/path?query`` or ``wss://...``.
        headers: extra HTTP headers of the upgrade request (never logged here).
        ssl_context: for ``wss://`` (default: verification on, the system store).
        connect_timeout: seconds for the whole opening.
        close_timeout: seconds the close waits for the server's close frame.
        max_message_size: larger messages (in bytes, UTF-8 for text) close the connection
            with 1009.
        receive_size: bytes asked of the stream per read.

    Raises:
        ssl.SSLCertVerificationError: the server's certificate is not trusted.
        trio_websocket.ConnectionRejected, trio_websocket.HandshakeError: see
            :meth:`WebSocketConnection.handshake`.
        trio.TooSlowError: the opening took longer than ``connect_timeout``.
        OSError: the TCP connection failed.
        ValueError: the URL is not ``ws://`` or ``wss://``; a header is not valid HTTP
            (the message names it, never quotes its value).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError("the URL must be ws://host/... or wss://host/...")
    secure = parts.scheme == "wss"
    host = parts.hostname
    port = parts.port or (443 if secure else 80)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    extra = [(k.encode(), v.encode()) for k, v in headers]
    _check_headers(extra)  # before connecting: a bad header is the caller's error
    with trio.fail_after(connect_timeout):
        tcp = await trio.open_tcp_stream(host, port)
        stream: Stream = tcp
        try:
            if isinstance(tcp, trio.SocketStream):
                # Issue 7: the socket driven directly, TLS by the ssl module in C (see
                # _sockets.py); verification on, system trust store, SSL_CERT_FILE /
                # SSL_CERT_DIR honoured.
                context = (ssl_context or ssl.create_default_context()) if secure else None
                native = native_stream(tcp, context, host)
                stream = native
                await native.do_handshake()
            elif secure:
                # Any other stream (tests substitute in-memory ones): Trio's own TLS.
                # Verification on, system trust store; SSL_CERT_FILE / SSL_CERT_DIR honoured.
                context = ssl_context or ssl.create_default_context()
                tls = trio.SSLStream(tcp, context, server_hostname=host, https_compatible=True)
                stream = tls
                try:
                    await tls.do_handshake()
                except trio.BrokenResourceError as exc:
                    # trio reports TLS failures as BrokenResourceError from the ssl error.
                    if isinstance(exc.__cause__, ssl.SSLCertVerificationError):
                        raise exc.__cause__ from None
                    raise
            ws = await WebSocketConnection.handshake(
                stream,
                _host_header(host, port, secure),
                resource,
                extra,
                max_message_size=max_message_size,
                receive_size=receive_size,
                close_timeout=close_timeout,
            )
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise
    try:
        yield ws
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(close_timeout + 1):
            await ws.aclose()
