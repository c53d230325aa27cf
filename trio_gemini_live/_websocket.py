"""The WebSocket client: ``websockets``' sans-I/O ``ClientProtocol`` driven by Trio (issue 11).

``websockets.client.ClientProtocol`` is RFC 6455 as a state machine (the opening handshake,
parsing and validating frames, control frames, the close handshake); this module pumps bytes
with no task of its own, builds the data frames it sends (:func:`_data_frame`, for speed,
masked by websockets' C routine) and adds what the Live API needs on top:

* :meth:`WebSocket.get_message` reads the stream in the *caller's* task (the session's
  receive task), feeds the bytes to the protocol, keeps complete messages in a deque and
  hands them out one per call. Pings are answered and the close handshake completed there.
  A cancelled ``get_message`` loses nothing: what was read is parsed before any checkpoint.
* :meth:`WebSocket.send_messages` writes a batch of frames with one ``send_all`` (one
  syscall, one TLS record); :meth:`WebSocket.try_send_message` writes one frame
  synchronously when the stream can take it (the session's direct path, issue 7).

Concurrency: one task reads at a time; another ``get_message`` (or ``aclose``) meanwhile
waits for what that read parses. Writers are serialised by a ``trio.StrictFIFOLock``, which
the reader never waits for (PROTOCOL.md 6: a write blocked by a slow peer must not stop
delivery): its pongs and close echo go out at once when nobody writes, else the lock's
holder writes them after its own frames. A write cancelled after it started, or failed, may
have left part of a frame on the wire: the connection is then broken (1006) and ``aclose``
only closes the stream. A call cancelled before it wrote anything changes nothing.

Limits (issue 12 finding 6): a message over ``max_message_size`` bytes or ``max_fragments``
frames fails the connection with 1009; fragments are joined as they arrive and the parser is
fed 16 KiB at a time, so memory stays a small multiple of the payload. websockets accepts
non-minimal frame lengths (RFC 6455 5.2 binds the sender); wsproto refused them.

Errors: :class:`ConnectionClosed` once closed or broken, with ``remote_error`` set when we
failed the connection because the server broke RFC 6455 (issue 12 finding 7: the session
reports those as ``ProtocolError``); :class:`HandshakeRejected` / :class:`HandshakeFailed`
for the opening handshake. Stream errors become ``ConnectionClosed(1006)``; no exception
type of ``websockets`` or ``trio_websocket`` leaves this module, nor the two that hold the
rest of the client (issue 11: modules of at most about 700 lines), whose names are
re-exported here, where the rest of the package imports them from:

* ``_handshake``: the HTTP side of the opening handshake (the request's checks, interim 1xx
  answers, the answer's verdict) and the two handshake errors;
* ``_ws_connect``: :func:`open_connection` (URL, TCP, TLS, handshake) and
  :class:`MessageConnection`, for connections made elsewhere.
"""

from __future__ import annotations

import logging
import math
import os
import struct
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any, Final, cast

import trio
from websockets.client import ClientProtocol
from websockets.frames import EXTERNAL_CLOSE_CODES, Frame, Opcode
from websockets.protocol import State
from websockets.uri import WebSocketURI

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets' wheels ship the C extension
    from websockets.utils import apply_mask

from ._handshake import HandshakeFailed as HandshakeFailed
from ._handshake import HandshakeRejected as HandshakeRejected
from ._handshake import _answer, _check_request, _final_status

__all__ = [
    "ConnectionClosed", "HandshakeFailed", "HandshakeRejected", "MessageConnection",
    "WebSocket", "open_connection",
]

#: PROTOCOL.md 2: grounding metadata and tool calls can be large.
MAX_MESSAGE_SIZE: Final = 16 * 1024 * 1024
#: Frames per message. Google never fragments; servers that do use fragments of 1 KiB or
#: more (16 MiB / 1 KiB = 16,384). The bound caps a message's parsing cost (issue 12
#: finding 6: 2,000,000 two-byte fragments), so going over it is "too big" (1009).
MAX_FRAGMENTS: Final = 16 * 1024
#: Bytes asked of the stream per read (a TLS stream returns whole records up to this).
RECEIVE_SIZE: Final = 64 * 1024
CLOSE_TIMEOUT: Final = 3.0
#: Bytes fed to the parser per step: it returns every frame of a step at once, so this
#: bounds that list (8,192 empty frames at most) whatever the read size (issue 12 finding 6).
_FEED_SIZE: Final = 16 * 1024
#: Pongs the server made us owe but cannot take (it does not read): past this, a ping flood.
_MAX_PENDING: Final = 1024 * 1024
_STREAM_ERRORS: Final = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)
_TEXT, _BINARY, _CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT
_CLOSE, _PONG = Opcode.CLOSE, Opcode.PONG
#: websockets logs frames and request headers (the API key) at DEBUG: never through ours.
_QUIET: Final = logging.Logger("trio_gemini_live.websocket-engine", logging.CRITICAL + 1)


class ConnectionClosed(Exception):
    """The connection is closed: by either side, or the network (1006, no close frame).

    Attributes:
        code: the close code: the server's close frame, ours, or 1006.
        reason: the close reason.
        remote_error: set (a description) when we failed the connection because the server
            broke RFC 6455 (a reserved bit, a masked or malformed frame, invalid UTF-8, a
            message over the size or fragment limit, an invalid close code...); else None.
    """

    def __init__(self, code: int, reason: str = "", remote_error: str | None = None) -> None:
        super().__init__(code, reason, remote_error)
        self.code, self.reason, self.remote_error = code, reason, remote_error

    def __str__(self) -> str:
        text = f"WebSocket closed ({self.code}{': ' + self.reason if self.reason else ''})"
        return text + (" after an RFC 6455 error of the server" if self.remote_error else "")


class _PingWaiter:
    __slots__ = ("answered", "event")

    def __init__(self) -> None:
        self.event, self.answered = trio.Event(), False


class WebSocket:
    """A client WebSocket connection whose I/O runs in the calling tasks (see the module).

    Made by :func:`open_connection`, or :meth:`handshake` over a connected stream.
    """

    def __init__(self, stream: trio.abc.Stream, protocol: ClientProtocol, *,
                 max_fragments: int, receive_size: int, close_timeout: float) -> None:
        self._stream, self._proto = stream, protocol
        self._max_fragments, self._receive_size = max_fragments, receive_size
        self._close_timeout = close_timeout
        self._lock = trio.StrictFIFOLock()
        self._messages: deque[str | bytes] = deque()
        self._parts: bytearray | None = None  # a fragmented message, joined as it arrives
        self._text, self._fragments = False, 0
        self._closed: ConnectionClosed | None = None
        self._finished = False  # no more messages will come
        self._close_done = trio.Event()  # the close handshake is over (or cannot end)
        self._answered = False  # the server's close frame came
        self._user_closing = self._reading = self._stream_closed = self._broken = False
        self._read_lot = trio.lowlevel.ParkingLot()  # tasks waiting for another's read
        self._pending = bytearray()  # control frames (pongs, close) not written yet
        self._pings: OrderedDict[bytes, _PingWaiter] = OrderedDict()
        self._try_send = getattr(stream, "try_send", None)
        self._getters = 0  # tasks in get_message (aclose keeps what it reads only for them)

    @classmethod
    async def handshake(
        cls, stream: trio.abc.Stream, host: str, resource: str,
        headers: Sequence[tuple[str, str]] = (), *, max_message_size: int = MAX_MESSAGE_SIZE,
        max_fragments: int = MAX_FRAGMENTS, receive_size: int = RECEIVE_SIZE,
        close_timeout: float = CLOSE_TIMEOUT,
    ) -> WebSocket:
        """Do the client's opening handshake (RFC 6455 4.1) on a connected ``stream``.

        Unbounded (wrap it in ``trio.fail_after``); the stream is not closed on failure.
        Interim 1xx answers before the 101 are skipped (RFC 7231 6.2); frames that came
        with the 101 are kept.

        Args:
            host: the Host header's value (with ``:port`` unless the scheme's default).
            resource: the path and query, e.g. ``/ws/x?y=1``.
            headers: extra request headers (``str`` pairs), sent as given.
            max_message_size: a longer message (payload bytes, across fragments) fails the
                connection with 1009; so does one in more than ``max_fragments`` frames.
            receive_size: bytes asked of the stream per read.
            close_timeout: how long :meth:`aclose` waits for the server's close frame.

        Raises:
            HandshakeRejected: an HTTP answer other than 101.
            HandshakeFailed: EOF, a stream error, an invalid or endless answer.
            ValueError: a limit is not positive; the host or resource is not valid in HTTP;
                a header is not valid HTTP or is the handshake's own (the message names
                it, never quotes its value: it may be the API key).
            TypeError: a header's name or value is not ``str``.
        """
        if min(max_message_size, max_fragments, receive_size) < 1:
            raise ValueError("max_message_size, max_fragments and receive_size must be positive")
        _check_request(host, resource, headers)
        proto = ClientProtocol(WebSocketURI(False, host, 80, resource, ""),
                               max_size=max_message_size, logger=_QUIET)
        request = proto.connect()  # Host, Upgrade, Connection, the key, the version: no more
        for name, value in headers:
            request.headers[name] = value
        proto.send_request(request)
        try:
            await stream.send_all(b"".join(proto.data_to_send()))
            head: bytearray | None = bytearray()
            status = 0
            while True:
                data = await stream.receive_some(receive_size)
                if head is not None:  # 1xx answers are dropped before websockets sees them
                    if not data:
                        raise HandshakeFailed("the server closed the connection in the handshake")
                    head += data
                    found = _final_status(head)
                    if found is None:
                        continue
                    data, head, status = bytes(head), None, found
                if not data:
                    proto.receive_eof()
                    _answer(proto, status)  # a refusal whose body ended with the stream
                    raise HandshakeFailed("the server closed the connection in the handshake")
                for start in range(0, len(data), _FEED_SIZE):
                    proto.receive_data(data[start:start + _FEED_SIZE])
                    frames = _answer(proto, status)
                    if frames is not None:  # accepted: the frames after the 101 are kept
                        ws = cls(stream, proto, max_fragments=max_fragments,
                                 receive_size=receive_size, close_timeout=close_timeout)
                        ws._handle(frames)
                        ws._feed(data[start + _FEED_SIZE:])
                        return ws
        except _STREAM_ERRORS as exc:
            raise HandshakeFailed(f"the connection failed in the handshake: {exc!r}") from exc

    @property
    def closed(self) -> ConnectionClosed | None:
        """``None`` while open; then why it closed (the fields every raise carries)."""
        return self._closed

    def __repr__(self) -> str:
        return f"<WebSocket {'open' if self._closed is None else self._closed.code}>"

    def _error(self) -> ConnectionClosed:
        # A fresh exception per raise: one instance raised again and again grows its traceback.
        c = self._closed or ConnectionClosed(1006, "closed")
        return ConnectionClosed(c.code, c.reason, c.remote_error)

    # --- sending ------------------------------------------------------------------------

    async def send_message(self, message: str | bytes) -> None:
        """Send one message: a text frame for ``str``, a binary frame for ``bytes``.

        Cancelled before writing, nothing is sent; cancelled mid-write, the connection is
        broken (1006: part of the frame may be on the wire).

        Raises:
            ConnectionClosed: the connection is closed, closing, or the write failed.
            TypeError: ``message`` is neither ``str`` nor ``bytes``.
            UnicodeEncodeError: a ``str`` with a lone surrogate (nothing is sent).
        """
        await self._write(_frame(message))

    async def send_messages(self, messages: Sequence[str | bytes]) -> None:
        """Send several messages, in order, with one write to the stream.

        ``send_messages([])`` writes what :meth:`try_send_message` left unfinished (and
        pending control frames). A bad item sends nothing (every frame is built first);
        when the write fails, none of the batch can be assumed delivered.

        Raises:
            ConnectionClosed, TypeError, UnicodeEncodeError: as :meth:`send_message`.
        """
        await self._write(b"".join([_frame(message) for message in messages]))

    def try_send_message(self, message: str | bytes) -> bool | None:
        """Send one message now if that needs no waiting: synchronous, no schedule point.

        The session's direct path (issue 7). ``True``: written. ``None``: nothing written
        (a write holds the lock, control frames are pending, the connection is closing or
        broken, the socket is full, or the stream has no ``try_send``): send it the usual
        way. ``False``: committed but partly written; the stream writes the rest before
        anything else, so call :meth:`send_messages` (``[]`` if nothing is due) soon.

        Raises:
            TypeError, UnicodeEncodeError: as :meth:`send_message` (nothing is sent).
        """
        try_send = self._try_send
        if (try_send is None or self._lock.locked() or self._pending or self._broken
                or self._closed is not None):
            return None
        frame = _frame(message)
        try:
            return cast("bool | None", try_send(frame))
        except _STREAM_ERRORS as exc:  # reported by the next read or write
            self._abort(f"write failed: {exc!r}")
            return None

    async def _write(self, data: bytes, ping: bytes | None = None) -> None:
        lock = self._lock
        try:  # acquire() is a schedule point, and send_all is one already
            lock.acquire_nowait()
        except trio.WouldBlock:
            await lock.acquire()
        try:
            await trio.lowlevel.checkpoint_if_cancelled()  # nothing written nor taken yet
            if self._closed is not None:
                # The close echo (or our failure's close frame) still goes out (RFC 6455
                # 5.5.1); the data does not.
                await self._send_pending()
                await trio.lowlevel.cancel_shielded_checkpoint()
                raise self._error()
            if ping is not None:
                self._proto.send_ping(ping)
                data = self._proto.data_to_send()[0]
            if self._pending:  # control replies the reader left for the next writer
                data = bytes(self._pending) + data
                self._pending.clear()
            await self._send_all(data)
            # Replies parsed while this write was blocked: the holder of the lock writes
            # them. Not when cancelled by now: our frames are out, and a Cancelled would
            # make the session send them again; the replies stay pending (see _reply).
            if self._pending and trio.current_effective_deadline() != -math.inf:
                await self._send_pending()
        finally:
            lock.release()

    async def _send_pending(self) -> None:
        """Write pending control frames, holding the lock; a failure is reported later."""
        pending = self._pending
        while pending and not self._broken:
            # Cancelled already, they stay pending (taken, then dropped by a cancelled
            # send_all, they would be lost). No checkpoint between this and send_all.
            await trio.lowlevel.checkpoint_if_cancelled()
            data = bytes(pending)
            pending.clear()
            try:
                await self._send_all(data)
            except ConnectionClosed:
                return

    async def _send_all(self, data: bytes) -> None:
        if self._broken:
            await trio.lowlevel.checkpoint()
            raise self._error()
        try:
            await self._stream.send_all(data)
        except _STREAM_ERRORS as exc:
            self._abort(f"write failed: {exc!r}")
            raise self._error() from None
        except BaseException:
            self._abort("a write was cancelled")  # part of a frame may be on the wire
            raise

    async def _reply(self) -> None:
        """The reader's side: write pending control frames now if nobody writes.

        Never waits for the lock (PROTOCOL.md 6): its holder writes them before releasing
        it; a writer cancelled before writing leaves them to the next write, read or close.
        """
        if not self._lock.locked():
            self._lock.acquire_nowait()  # free means nobody waits: no one's turn is taken
            try:
                await self._send_pending()
            finally:
                self._lock.release()

    def _abort(self, why: str) -> None:
        """The stream is unusable: no more writes; 1006 unless already closed."""
        self._broken = True
        if self._closed is None:
            self._closed = ConnectionClosed(1006, why)
        self._finish()

    def _finish(self, handshake_over: bool = True) -> None:
        """No more messages (waiting pings and readers are released)."""
        self._finished = True
        self._parts = None
        self._read_lot.unpark_all()
        for waiter in self._pings.values():
            waiter.event.set()
        self._pings.clear()
        if handshake_over:
            self._close_done.set()

    # --- receiving ----------------------------------------------------------------------

    async def get_message(self) -> str | bytes:
        """The next message: ``str`` for text (strict UTF-8), ``bytes`` for binary.

        Reads the stream in this task when no parsed message waits (while another task
        reads, waits for what it parses); pings and the server's close frame are answered
        here. Messages that came before a close are delivered first. Cancellation loses
        nothing: what was read is kept.

        Raises:
            ConnectionClosed: no more messages (the same fields as :attr:`closed`).
        """
        # One coroutine for the whole wait, not a chain of helpers: each level is an object
        # made per read, which the garbage collector scans while the task waits (issue 11).
        self._getters += 1
        try:
            messages = self._messages
            if messages:
                # One schedule point per message, as a memory channel's receive() has.
                await trio.lowlevel.checkpoint_if_cancelled()
                message = messages.popleft()
                await trio.lowlevel.cancel_shielded_checkpoint()
                return message
            while not messages:
                if self._finished:
                    await trio.lowlevel.checkpoint()
                    raise self._error()
                if self._reading:
                    await self._read_lot.park()
                else:
                    await self._read_once()
            return messages.popleft()
        finally:
            self._getters -= 1

    def get_message_nowait(self) -> str | bytes | None:
        """A message already parsed, or ``None``: no reading, no waiting, no schedule point.

        The receive task takes the other messages of a read with it after
        :meth:`get_message`: one task step for them, not one each (issue 11).
        """
        messages = self._messages
        return messages.popleft() if messages else None

    async def _read_once(self) -> None:
        self._reading = True
        try:
            if self._broken:
                await trio.lowlevel.checkpoint()
                return
            if self._pending:  # left by a writer cancelled before writing: out before we block
                await self._reply()
            try:
                data = await self._stream.receive_some(self._receive_size)
            except _STREAM_ERRORS as exc:
                self._abort(f"read failed: {exc!r}")
                return
            if not data:  # RFC 6455 7.1.5: the TCP connection ended without a close frame
                self._proto.receive_eof()
                self._proto.data_to_send()  # nothing to write after the end
                self._abort("the connection ended without a close frame")
                return
            self._feed(data)
            if self._pending:
                await self._reply()
        finally:
            self._reading = False
            if self._read_lot:
                self._read_lot.unpark_all()

    def _feed(self, data: bytes | bytearray) -> None:
        proto = self._proto
        if len(data) <= _FEED_SIZE:
            proto.receive_data(data)
            self._handle(proto.events_received())
            return
        for start in range(0, len(data), _FEED_SIZE):
            proto.receive_data(data[start:start + _FEED_SIZE])
            self._handle(proto.events_received())

    def _handle(self, frames: list[Any]) -> None:
        """Keep the messages of parsed frames; note pongs and close frames."""
        for frame in frames:  # a ping: websockets queued its pong
            opcode = frame.opcode
            if opcode is _TEXT or opcode is _BINARY or opcode is _CONT:
                if not self._data(frame):
                    break
            elif opcode is _PONG:
                self._pong(bytes(frame.data))
            elif opcode is _CLOSE:  # websockets queued the echo if the server started it
                rcvd = self._proto.close_rcvd
                assert rcvd is not None
                if self._closed is None or self._user_closing:
                    self._closed = ConnectionClosed(rcvd.code, rcvd.reason)
                self._answered = True
                self._finish()
        proto = self._proto
        error = proto.parser_exc
        if error is not None and not self._finished and not isinstance(error, EOFError):
            # websockets failed the connection (RFC 6455 7.1.7), sending a close frame.
            if isinstance(error, UnicodeDecodeError):
                why = f"invalid UTF-8 in a close frame's reason at byte {error.start + 2}"
            else:
                why = str(error) or type(error).__name__
            self._failed(proto.close_sent.code if proto.close_sent else 1002, why)
        if proto.writes:
            self._pending += b"".join(proto.data_to_send())
            if len(self._pending) > _MAX_PENDING and not self._finished:
                self._fail(1008, "the server sends pings faster than it reads their pongs")

    def _data(self, frame: Frame) -> bool:
        """Keep a data frame; ``False`` when it failed the connection."""
        if self._finished:
            return False
        parts = self._parts
        if parts is None:
            if frame.fin:  # the usual case: a whole message in one frame
                if frame.opcode is _BINARY:
                    self._messages.append(bytes(frame.data))
                    return True
                return self._text_message(frame.data)
            # Joined as they arrive, no Frame kept per fragment (issue 12 finding 6).
            self._parts, self._fragments = bytearray(frame.data), 1
            self._text = frame.opcode is _TEXT
            return True
        self._fragments += 1
        if self._fragments > self._max_fragments:
            return self._fail(1009, f"a message in more than {self._max_fragments} fragments")
        parts += frame.data
        if not frame.fin:
            return True
        self._parts = None
        if self._text:
            return self._text_message(parts)
        self._messages.append(bytes(parts))
        return True

    def _text_message(self, data: bytes | bytearray | memoryview) -> bool:
        try:
            self._messages.append(str(data, "utf-8"))
        except UnicodeDecodeError as exc:  # RFC 6455 8.1
            return self._fail(1007, f"invalid UTF-8 in a text message at byte {exc.start}")
        return True

    def _fail(self, code: int, why: str) -> bool:
        """Fail the connection (RFC 6455 7.1.7): our close frame; the rest is discarded."""
        self._proto.fail(code, why)
        self._pending += b"".join(self._proto.data_to_send())
        self._failed(code, why)
        return False

    def _failed(self, code: int, why: str) -> None:
        if not self._user_closing:
            self._closed = ConnectionClosed(code, why, why)
        self._finish(handshake_over=False)  # aclose waits (bounded) for the TCP close

    def _pong(self, payload: bytes) -> None:
        if payload in self._pings:
            # A pong answers its ping and every earlier one (RFC 6455 5.5.3 allows
            # answering only the latest of several).
            while self._pings:
                key, waiter = self._pings.popitem(last=False)
                waiter.answered = True
                waiter.event.set()
                if key == payload:
                    break

    # --- ping, close --------------------------------------------------------------------

    async def ping(self, payload: bytes | None = None) -> None:
        """Send a ping and wait for its pong, which the task reading the connection sees.

        Args:
            payload: at most 125 bytes; ``None``: 4 random bytes.

        Raises:
            ConnectionClosed: the connection closed before the pong.
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
        waiter = self._pings[payload] = _PingWaiter()
        try:
            await self._write(b"", ping=payload)
            await waiter.event.wait()
        finally:
            if not waiter.answered and self._pings.get(payload) is waiter:
                del self._pings[payload]
        if not waiter.answered:
            raise self._error()

    async def aclose(self, code: int = 1000, reason: str | None = "") -> None:
        """Close: send a close frame, wait for the server's, then close the stream.

        ``reason`` ``None`` is no reason (trio-websocket's convention, for wrappers).

        While another task reads, that task sees the server's close frame and this waits
        for it; otherwise this reads (discarding messages) until it comes, for at most
        ``close_timeout``; unanswered, :attr:`closed` becomes 1006 "the server did not
        answer the close". For a shorter bound (a cleanup after a cancellation, issue 12
        finding 8), wrap the call in ``trio.move_on_after``: cancelled, ``aclose`` still
        closes the stream. Idempotent; on a broken connection it only closes the stream.

        Raises:
            ValueError: ``code`` is not one an endpoint may send, or ``reason`` is over
                123 UTF-8 bytes (nothing is done).
        """
        reason = reason or ""
        if self._stream_closed:
            await trio.lowlevel.checkpoint()
            return
        proto = self._proto
        opening = proto.state is State.OPEN and self._closed is None
        if opening and not (code in EXTERNAL_CLOSE_CODES or 3000 <= code < 5000):
            raise ValueError(f"{code} is not a close code an endpoint may send")
        if opening and len(reason.encode()) > 123:
            raise ValueError("a close reason is at most 123 UTF-8 bytes (RFC 6455 5.5)")
        try:
            if opening and not self._broken:
                proto.send_close(code, reason)
                self._pending += proto.data_to_send()[0]
                self._user_closing = True
                self._closed = ConnectionClosed(code, reason)
            # The bound covers the wait for the lock: its holder may be stuck on a peer
            # that stopped reading, and then our close frame cannot go out anyway.
            with trio.move_on_after(self._close_timeout):
                if self._pending and not self._broken:
                    async with self._lock:
                        await self._send_pending()
                while not self._close_done.is_set():
                    if self._reading:
                        await self._read_lot.park()
                    elif self._messages and self._getters:
                        # A reader takes these first: read no more meanwhile (bounded).
                        await trio.lowlevel.checkpoint()
                    else:
                        await self._read_once()
                        if not self._getters:
                            # Nobody reads messages: what this read brought is discarded,
                            # so a server that floods while we close costs no memory.
                            self._messages.clear()
        finally:
            self._stream_closed = self._broken = True
            if self._user_closing and not self._answered:
                # No close handshake: 1006 (RFC 6455 7.1.5), not the code we sent.
                self._closed = ConnectionClosed(1006, "the server did not answer the close")
            elif self._closed is None:
                self._closed = ConnectionClosed(1006, "closed without a close handshake")
            self._finish()
            try:
                await self._stream.aclose()
            except _STREAM_ERRORS:
                pass


def _frame(message: str | bytes) -> bytes:
    if isinstance(message, str):  # the session's JSON: text frames, as Google's clients
        return _data_frame(0x81, message.encode())
    if isinstance(message, (bytes, bytearray, memoryview)):
        return _data_frame(0x82, message)
    raise TypeError(f"a message must be str or bytes, not {type(message).__name__}")


def _data_frame(head: int, payload: bytes | bytearray | memoryview) -> bytes:
    """A masked, unfragmented client data frame (RFC 6455 5.2, 5.3; no extension is ever
    negotiated). websockets' ``send_text`` builds the same bytes through a generic path
    (a Frame, a BytesIO, extension hooks) costing 12,000 more instructions per frame, +10%
    of the session's CPU per audio chunk (benchmarks/bench_transport.py); the masking is
    websockets' C routine all the same. A test parses these with websockets' server side.
    """
    size = len(payload)
    key = os.urandom(4)  # a fresh, unpredictable key per frame (RFC 6455 5.3)
    if size < 126:
        prefix = bytes((head, 0x80 | size))
    elif size < 65536:
        prefix = _LEN16.pack(head, 0xFE, size)
    else:
        prefix = _LEN64.pack(head, 0xFF, size)
    return b"".join((prefix, key, apply_mask(payload, key)))


_LEN16: Final = struct.Struct("!BBH")
_LEN64: Final = struct.Struct("!BBQ")


# Defined in _ws_connect, which builds on this module: imported last, once every name it takes
# from here exists (Python then resolves the cycle). The package imports this module first.
from ._ws_connect import CANCELLED_CLOSE_TIMEOUT as CANCELLED_CLOSE_TIMEOUT  # noqa: E402
from ._ws_connect import CONNECT_TIMEOUT as CONNECT_TIMEOUT  # noqa: E402
from ._ws_connect import MessageConnection as MessageConnection  # noqa: E402
from ._ws_connect import open_connection as open_connection  # noqa: E402
