"""Opening a WebSocket connection, and wrapping a connection made elsewhere (issue 11).

* :func:`open_connection`: a ``ws://`` or ``wss://`` URL to a :class:`~._websocket.WebSocket`:
  TCP, then TLS (our :class:`~._sockets.NativeSocketStream`, or Trio's ``SSLStream`` with
  ``native=False``), then the opening handshake, all bounded by one ``connect_timeout``; on
  exit, a bounded close. The session's default ``connect`` (``_connection.py``) is this.
* :class:`MessageConnection`: a message-level connection made by someone else (a user's
  ``connect=`` hook returning trio-websocket's, say) given the interface and the errors of
  :class:`~._websocket.WebSocket`, so that the session sees one kind of connection.

Split out of ``_websocket.py`` (issue 11: modules of at most about 700 lines), which
re-exports both names: import them from there.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, cast
from urllib.parse import urlsplit

import trio
from websockets.headers import build_host

from ._handshake import HandshakeFailed, _check_request
from ._sockets import NativeSocketStream, native_stream
from ._websocket import (
    _STREAM_ERRORS,
    CLOSE_TIMEOUT,
    MAX_FRAGMENTS,
    MAX_MESSAGE_SIZE,
    RECEIVE_SIZE,
    ConnectionClosed,
    WebSocket,
)

__all__ = ["CANCELLED_CLOSE_TIMEOUT", "CONNECT_TIMEOUT", "MessageConnection", "open_connection"]

CONNECT_TIMEOUT: Final = 30.0
#: open_connection's close bound when its body is being cancelled (issue 12 finding 8).
CANCELLED_CLOSE_TIMEOUT: Final = 0.25


class MessageConnection:
    """A message-level connection (trio-websocket's, or any object with ``send_message``,
    ``get_message``, ``aclose``, ``ping`` and optionally ``closed``) with the interface and
    errors of :class:`WebSocket`.

    trio-websocket's ``ConnectionClosed`` (code and reason from its ``CloseReason``; 1006
    if none), ``trio.BrokenResourceError``, ``trio.ClosedResourceError`` and ``OSError``
    become :class:`ConnectionClosed`. ``send_messages`` sends one by one;
    ``try_send_message`` always returns ``None``.
    """

    def __init__(self, connection: Any) -> None:
        self._conn = connection
        self._closed: ConnectionClosed | None = None

    @property
    def closed(self) -> ConnectionClosed | None:
        """``None`` while open; then why it closed."""
        if self._closed is None:
            reason = getattr(self._conn, "closed", None)
            if reason is not None:
                self._closed = _translate_reason(reason)
        return self._closed

    def _translate(self, exc: BaseException) -> ConnectionClosed:
        reason = getattr(exc, "reason", None)
        if self._closed is None:
            self._closed = (_translate_reason(reason) if reason is not None
                            else ConnectionClosed(1006, f"{type(exc).__name__}: {exc}"))
        c = self._closed
        return ConnectionClosed(c.code, c.reason, c.remote_error)

    async def get_message(self) -> str | bytes:
        """The next message (see :meth:`WebSocket.get_message`)."""
        try:
            return cast("str | bytes", await self._conn.get_message())
        except (_closed_type(), *_STREAM_ERRORS) as exc:
            raise self._translate(exc) from None

    async def send_message(self, message: str | bytes) -> None:
        """Send one message (see :meth:`WebSocket.send_message`)."""
        if not isinstance(message, (str, bytes, bytearray, memoryview)):
            raise TypeError(f"a message must be str or bytes, not {type(message).__name__}")
        try:
            await self._conn.send_message(message)
        except (_closed_type(), *_STREAM_ERRORS) as exc:
            raise self._translate(exc) from None

    async def send_messages(self, messages: Sequence[str | bytes]) -> None:
        """Send the messages one by one, in order."""
        for message in messages:
            await self.send_message(message)
        if not messages:
            await trio.lowlevel.checkpoint()

    def try_send_message(self, message: str | bytes) -> None:
        """Never sends directly: always ``None`` (send the usual way)."""
        return None

    async def ping(self, payload: bytes | None = None) -> None:
        """Send a ping and wait for its pong."""
        try:
            await self._conn.ping(payload)
        except (_closed_type(), *_STREAM_ERRORS) as exc:
            raise self._translate(exc) from None

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (idempotent; errors of a broken one are swallowed)."""
        try:
            await self._conn.aclose(code, reason or None)
        except (_closed_type(), *_STREAM_ERRORS):
            pass


def _closed_type() -> type[BaseException]:
    # trio-websocket is imported by whoever made the connection; a lookup costs nothing.
    import trio_websocket

    return cast("type[BaseException]", trio_websocket.ConnectionClosed)


def _translate_reason(reason: Any) -> ConnectionClosed:
    code = getattr(reason, "code", None)
    return ConnectionClosed(code if isinstance(code, int) else 1006,
                            getattr(reason, "reason", None) or "")


@asynccontextmanager
async def open_connection(
    url: str, headers: Sequence[tuple[str, str]] = (), *,
    ssl_context: ssl.SSLContext | None = None, native: bool = True,
    connect_timeout: float = CONNECT_TIMEOUT, close_timeout: float = CLOSE_TIMEOUT,
    max_message_size: int = MAX_MESSAGE_SIZE, max_fragments: int = MAX_FRAGMENTS,
    receive_size: int = RECEIVE_SIZE,
) -> AsyncIterator[WebSocket]:
    """Connect to a ``ws://`` or ``wss://`` URL; the connection is closed on exit.

    TCP, TLS and the WebSocket handshake together are bounded by ``connect_timeout``. The
    TLS handshake comes first and alone, so an untrusted certificate is reported by name.
    On exit the close is bounded by ``close_timeout``, or by ``CANCELLED_CLOSE_TIMEOUT``
    (0.25 s) when the block is being cancelled (issue 12 finding 8).

    Args:
        url: ``ws://host[:port]/path?query`` or ``wss://...``.
        headers: extra request headers (never logged here).
        ssl_context: for ``wss://``; default: verification on, the system trust store
            (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` honoured).
        native: ``True`` (default): our :class:`~._sockets.NativeSocketStream`, the socket
            driven directly and TLS done by the ``ssl`` module in C (issue 7). ``False``:
            Trio's own ``trio.SocketStream`` and ``trio.SSLStream``, slower, for anyone who
            prefers Trio's TLS to our driving of ``ssl``; the behaviour is the same.
        connect_timeout, close_timeout, max_message_size, max_fragments, receive_size: see
            :meth:`WebSocket.handshake`.

    Raises:
        ssl.SSLCertVerificationError: the server's certificate is not trusted.
        HandshakeRejected: the server refused the upgrade (an HTTP status).
        HandshakeFailed: the TLS or WebSocket handshake failed otherwise.
        trio.TooSlowError: the opening took longer than ``connect_timeout``.
        OSError: the TCP connection failed.
        ValueError: the URL is not ``ws://`` or ``wss://``; a header or limit is invalid.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError("the URL must be ws://host/... or wss://host/...")
    secure = parts.scheme == "wss"
    host = parts.hostname
    port = parts.port or (443 if secure else 80)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = build_host(host, port, secure)
    _check_request(host_header, resource, headers)  # before connecting: the caller's error
    with trio.fail_after(connect_timeout):
        stream: trio.abc.Stream = await trio.open_tcp_stream(host, port)
        try:
            stream = _wrap(stream, host, secure, ssl_context, native)
            await _tls_handshake(stream)
            ws = await WebSocket.handshake(
                stream, host_header, resource, headers, max_message_size=max_message_size,
                max_fragments=max_fragments, receive_size=receive_size,
                close_timeout=close_timeout)
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise
    try:
        yield ws
    finally:
        bound = close_timeout
        if trio.current_effective_deadline() == -math.inf:  # we are being cancelled
            bound = min(bound, CANCELLED_CLOSE_TIMEOUT)
        with trio.CancelScope(shield=True), trio.move_on_after(bound):
            await ws.aclose()


def _wrap(tcp: trio.abc.Stream, host: str, secure: bool,
          ssl_context: ssl.SSLContext | None, native: bool) -> trio.abc.Stream:
    """The stream the WebSocket runs on (its TLS handshake not done yet)."""
    context = (ssl_context or ssl.create_default_context()) if secure else None
    if native and isinstance(tcp, trio.SocketStream):
        return native_stream(tcp, context, host)
    if context is None:
        return tcp
    return trio.SSLStream(tcp, context, server_hostname=host, https_compatible=True)


async def _tls_handshake(stream: trio.abc.Stream) -> None:
    if not isinstance(stream, (NativeSocketStream, trio.SSLStream)):
        return
    try:
        await stream.do_handshake()
    except trio.BrokenResourceError as exc:
        if isinstance(exc.__cause__, ssl.SSLCertVerificationError):
            raise exc.__cause__ from None  # trio.SSLStream wraps it
        raise HandshakeFailed(f"TLS handshake failed: {exc.__cause__ or exc}") from exc
