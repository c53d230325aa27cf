"""A Trio byte stream straight on a non-blocking socket, with TLS done by the ``ssl`` module.

Issue 7. ``trio.SocketStream`` puts every ``send``/``recv`` through a generic wrapper
(a context manager, a conflict detector, a memoryview per call, an ``outcome`` capture), and
``trio.SSLStream`` runs TLS through a ``MemoryBIO`` pair in Python, with a retry loop and a
schedule point per TLS record. For the session's two hot loops (one task reading, one
writing) that wrapping costs more CPU than the JSON, base64 and WebSocket framing together.

:class:`NativeSocketStream` calls the socket directly: a plain ``socket.socket`` for
``ws://``, an ``ssl.SSLSocket`` (OpenSSL reading and writing the descriptor itself, in C)
for ``wss://``. It waits with :func:`trio.lowlevel.wait_readable` /
:func:`~trio.lowlevel.wait_writable` only when the kernel (or OpenSSL) says the call would
block, and keeps Trio's rules: every call is a checkpoint (exactly one schedule point when
it did not have to wait), cancellation is honoured at every wait, and errors are
:class:`trio.BrokenResourceError` / :class:`trio.ClosedResourceError` as for Trio's streams.

TLS details:

* verification is the context's (on by default); the handshake is :meth:`do_handshake`,
  raising ``ssl.SSLCertVerificationError`` itself for an untrusted certificate;
* Trio allows one waiting task per direction of a descriptor, and the reading task and the
  writing task each own one. A TLS write can need to read (a TLS 1.2 renegotiation) and a
  TLS read could need to write: such a call never waits on the other task's direction (that
  task would then get ``BusyResourceError`` for its own wait); it retries every
  millisecond, OpenSSL doing the other direction's I/O itself once it can (rare; bounded by
  the caller's cancellation);
* a write over TLS that failed or was cancelled leaves OpenSSL holding part of a record:
  later writes raise :class:`trio.BrokenResourceError` (as Trio's ``SSLStream`` does)
  rather than continue from the middle of the old one; a read error is likewise reported
  by every later read, never turned into a clean end of the stream;
* the end of the stream without ``close_notify`` counts as the end (as
  ``https_compatible=True`` does for Trio's ``SSLStream``): WebSocket has its own close
  handshake (RFC 6455 7.1.1), and servers often skip ``close_notify``.
"""

from __future__ import annotations

import errno
import socket
import ssl
from typing import Final, TypeAlias

import trio
from trio.lowlevel import (
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    notify_closing,
    wait_readable,
    wait_writable,
)

__all__ = ["NativeSocketStream", "native_stream"]

#: (The class has a ``socket`` property: annotations inside it use this name.)
_Socket: TypeAlias = socket.socket
_WOULD_BLOCK_READ: Final = (BlockingIOError, InterruptedError, ssl.SSLWantReadError)
_POLL_INTERVAL: Final = 0.001


class NativeSocketStream(trio.abc.Stream):
    """A connected, non-blocking socket (or ``ssl.SSLSocket``) as a :class:`trio.abc.Stream`.

    Made by :func:`native_stream`. One task may read and one task may write at a time
    (the WebSocket connection above serialises its writers); a second concurrent reader
    or writer gets :class:`trio.BusyResourceError` from Trio.
    """

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._tls = isinstance(sock, ssl.SSLSocket)
        self._closed = False
        self._writing = False
        self._reading = False
        #: Why the stream can no longer be read or written (see the module doc), if so.
        self._read_error: BaseException | None = None
        self._write_error: str | None = None
        #: The last read found the socket empty: the next one waits before reading.
        self._drained = False
        #: What ``try_send`` could not finish: written first by the next ``send_all``.
        self._unfinished: bytes | None = None

    @property
    def socket(self) -> socket.socket:
        """The underlying socket (for options; reading or writing it directly breaks TLS)."""
        return self._sock

    def __repr__(self) -> str:
        kind = "TLS" if self._tls else "TCP"
        return f"<NativeSocketStream {kind} {'closed' if self._closed else 'open'}>"

    async def do_handshake(self) -> None:
        """Complete the TLS handshake (a no-op for plain TCP). Unbounded: wrap in a timeout.

        Raises:
            trio.ClosedResourceError: the stream was closed.
            ssl.SSLCertVerificationError: the server's certificate is not trusted.
            trio.BrokenResourceError: any other TLS or socket failure (the ``ssl`` or
                ``OSError`` exception is its ``__cause__``).
        """
        await checkpoint_if_cancelled()
        self._check_open()
        if not self._tls:
            await cancel_shielded_checkpoint()
            return
        sock = self._sock
        assert isinstance(sock, ssl.SSLSocket)
        while True:
            self._check_open()
            try:
                sock.do_handshake()
            except ssl.SSLWantReadError:
                await wait_readable(sock)
            except ssl.SSLWantWriteError:
                await wait_writable(sock)
            except ssl.SSLCertVerificationError:
                raise
            except (OSError, ValueError) as exc:
                raise trio.BrokenResourceError(f"TLS handshake failed: {exc}") from exc
            else:
                break
        await cancel_shielded_checkpoint()

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the stream is closed")

    # --- writing ------------------------------------------------------------------------

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Write all of ``data``: one ``send`` call when the socket has room (the usual case).

        What :meth:`try_send` left unfinished is written first. A cancellation while waiting
        for room may leave part of ``data`` written (as for any Trio stream): the stream's
        framing is then the caller's problem.
        """
        await checkpoint_if_cancelled()
        self._check_open()
        if self._writing:
            raise trio.BusyResourceError("another task is writing to this stream")
        if self._write_error is not None:
            raise trio.BrokenResourceError(self._write_error)
        self._writing = True
        try:
            waited = False
            if self._unfinished is not None:
                unfinished, self._unfinished = self._unfinished, None
                try:
                    waited = await self._send(unfinished)
                except BaseException:
                    # What try_send committed is partly lost: the byte stream has a hole.
                    self._write_error = "a write of committed data was cancelled or failed"
                    raise
            if data:
                try:
                    waited = await self._send(data) or waited
                except BaseException:
                    if self._tls:
                        # OpenSSL holds part of a record: a later write would go on from
                        # there with other data (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
                        self._write_error = "a TLS write was cancelled or failed"
                    raise
        finally:
            self._writing = False
        if not waited:
            await cancel_shielded_checkpoint()

    def try_send(self, data: bytes) -> bool | None:
        """Write ``data`` now if that needs no waiting; synchronous, never a checkpoint.

        Returns ``True``: all written. ``None``: nothing written (the socket had no room,
        another write is under way or unfinished, or the stream is closed); the caller
        writes ``data`` later as usual. ``False``: *part* written (over TLS: given to
        OpenSSL, which may have written part); the stream owns the rest, which
        :meth:`send_all` writes before anything else, so the caller must call
        :meth:`send_all` soon (with ``b""`` if nothing else is due).

        Raises:
            trio.BrokenResourceError: the socket failed (nothing can be known written).
        """
        if self._writing or self._unfinished is not None or self._closed:
            return None
        if self._write_error is not None:
            raise trio.BrokenResourceError(self._write_error)
        sock = self._sock
        if self._tls:
            try:
                sock.send(data)
                return True
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                # OpenSSL may have taken part of it; the retry must pass the same data.
                self._unfinished = data
                return False
            except (OSError, ValueError) as exc:
                raise _broken(exc) from exc
        try:
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            raise _broken(exc) from exc
        if sent == len(data):
            return True
        self._unfinished = data[sent:]
        return False

    @property
    def unfinished(self) -> bool:
        """:meth:`try_send` left data that the next :meth:`send_all` writes first."""
        return self._unfinished is not None

    async def _send(self, data: bytes | bytearray | memoryview) -> bool:
        """Write ``data``; ``True`` when it had to wait (a schedule point happened)."""
        return await (self._send_tls(data) if self._tls else self._send_tcp(data))

    async def _send_tcp(self, data: bytes | bytearray | memoryview) -> bool:
        sock = self._sock
        total = len(data)
        try:
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            raise _broken(exc) from exc
        if sent == total:
            return False
        view = memoryview(data)
        while sent < total:
            await wait_writable(sock)
            self._check_open()
            try:
                sent += sock.send(view[sent:])
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as exc:
                raise _broken(exc) from exc
        return True

    async def _send_tls(self, data: bytes | bytearray | memoryview) -> bool:
        # OpenSSL without partial writes (CPython's mode): ``send`` writes everything or
        # raises SSLWantWriteError having kept its place; the retry passes the same data
        # (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, set by CPython, allows a new buffer object).
        sock = self._sock
        waited = False
        while True:
            try:
                sock.send(data)
                return waited
            except ssl.SSLWantWriteError:
                pass
            except ssl.SSLWantReadError:
                waited = True
                await self._poll_other_direction()
                continue
            except (OSError, ValueError) as exc:
                raise _broken(exc) from exc
            waited = True
            await wait_writable(sock)
            self._check_open()

    async def wait_send_all_might_not_block(self) -> None:
        """Wait until the socket has room (``trio.abc.SendStream``)."""
        self._check_open()
        await wait_writable(self._sock)

    # --- reading ------------------------------------------------------------------------

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Up to ``max_bytes`` (default 64 KiB) of what arrived; ``b""`` at the end.

        Over TLS, every record already decrypted or waiting in the kernel is read, up to
        ``max_bytes``, so one call returns what one wake-up brought (OpenSSL's ``read``
        returns one record at a time).
        """
        if max_bytes is None:
            max_bytes = 65536
        elif max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        await checkpoint_if_cancelled()
        self._check_open()
        if self._reading:
            raise trio.BusyResourceError("another task is reading from this stream")
        self._reading = True
        # One coroutine, not a helper's too: an object less per read for the garbage
        # collector while the task waits (issue 11).
        sock = self._sock
        waited = False
        try:
            if self._read_error is not None:
                raise _broken(self._read_error) from self._read_error
            if self._drained:
                # The last read emptied the socket (and OpenSSL holds nothing decrypted): a
                # read now would nearly always find nothing, at the price of a system call
                # and an exception per message, so wait for readability first. The wait is
                # level-triggered: data that arrived meanwhile is reported at once.
                self._drained = False
                if not self._tls or not sock.pending():  # type: ignore[attr-defined]
                    waited = True
                    await wait_readable(sock)
                    self._check_open()
            while True:
                try:
                    data = sock.recv(max_bytes)
                    break
                except _WOULD_BLOCK_READ:
                    pass
                except ssl.SSLWantWriteError:
                    waited = True
                    await self._poll_other_direction()
                    continue
                except (OSError, ValueError) as exc:
                    if self._closed:
                        raise trio.ClosedResourceError("the stream was closed") from None
                    self._read_error = exc
                    raise _broken(exc) from exc
                waited = True
                await wait_readable(sock)
                self._check_open()
            if not self._tls:
                # recv returns what the kernel has, up to max_bytes: less means it had no
                # more.
                self._drained = 0 < len(data) < max_bytes
            elif data and len(data) < max_bytes:
                data = self._more_tls(data, max_bytes)
        finally:
            self._reading = False
        if not waited:
            await cancel_shielded_checkpoint()
        return data

    def _more_tls(self, data: bytes, max_bytes: int) -> bytes:
        """The records after the first one that can be read without waiting."""
        sock = self._sock
        parts = [data]
        size = len(data)
        while size < max_bytes:
            try:
                more = sock.recv(max_bytes - size)
            except _WOULD_BLOCK_READ:
                self._drained = True  # the usual end: nothing more for now
                break
            except (OSError, ValueError) as exc:
                # An error after good records: they are returned now, the error by the
                # next call (OpenSSL itself would report a clean end after it).
                self._read_error = exc
                break
            if not more:
                break  # the end: the next call returns b""
            parts.append(more)
            size += len(more)
        return data if len(parts) == 1 else b"".join(parts)

    async def _poll_other_direction(self) -> None:
        """Let time pass when OpenSSL needs the other direction (TLS only, rare).

        Never a wait on that direction: the other task owns it, and Trio would give it
        ``BusyResourceError``. OpenSSL does the other direction's I/O itself on the retry
        (a write reads the renegotiation, a read writes its answer) once it is possible.
        """
        await trio.sleep(_POLL_INTERVAL)
        self._check_open()

    # --- closing ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the socket (over TLS, after one attempt to send ``close_notify``).

        Tasks waiting on the socket get :class:`trio.ClosedResourceError`. Idempotent.
        """
        if not self._closed:
            self._closed = True
            sock = self._sock
            if self._tls:
                assert isinstance(sock, ssl.SSLSocket)
                try:
                    sock.unwrap()  # sends close_notify; does not wait for the answer here
                except (OSError, ValueError):
                    pass
            notify_closing(sock)
            sock.close()
        await checkpoint()


def _broken(exc: BaseException) -> trio.BrokenResourceError:
    if isinstance(exc, OSError) and exc.errno == errno.EBADF:
        return trio.BrokenResourceError("the socket was closed")
    return trio.BrokenResourceError(f"{type(exc).__name__}: {exc}")


def native_stream(
    tcp: trio.SocketStream, ssl_context: ssl.SSLContext | None = None, server_hostname: str = ""
) -> NativeSocketStream:
    """Take over ``tcp``'s socket: a :class:`NativeSocketStream`, TLS when ``ssl_context``.

    ``tcp`` must not be used afterwards (its descriptor now belongs to the new stream).
    For TLS, call :meth:`NativeSocketStream.do_handshake` next.
    """
    trio_sock = tcp.socket
    family, kind, proto = trio_sock.family, trio_sock.type, trio_sock.proto
    sock = socket.socket(family, kind, proto, fileno=trio_sock.detach())
    sock.setblocking(False)
    if ssl_context is not None:
        try:
            sock = ssl_context.wrap_socket(
                sock,
                server_hostname=server_hostname,
                do_handshake_on_connect=False,
                suppress_ragged_eofs=True,
            )
        except BaseException:
            sock.close()
            raise
    return NativeSocketStream(sock)
