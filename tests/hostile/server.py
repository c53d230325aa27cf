"""A hand-written WebSocket server on 127.0.0.1 that misbehaves on purpose (issue 12).

Every well-behaved server library refuses to send what these tests need: a wrong accept key,
a 100 KB header, RSV bits, a masked frame, a 2^63 length, two million fragments. So the
server side is written here by hand, over a plain :func:`trio.serve_tcp` socket, as small
as RFC 6455 allows:

* :class:`HostileServer` listens on a free port of 127.0.0.1 and runs one *attack* (an
  ``async def attack(peer)``) per accepted connection; it counts connections.
* :class:`Peer` is one connection: read the upgrade request, answer it (right or wrong),
  read the client's masked frames (the setup among them), and write anything at all:
  :meth:`Peer.send` puts raw bytes on the wire, :func:`frame` builds a frame byte by byte.
* The attacks shared by the tests and ``benchmarks/bench_hostile.py`` are at the end.

Nothing here is part of the library: the client under test reaches this server through the
public API only (``open_live_session(endpoint=server.url, ...)``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import trio

__all__ = [
    "SETUP_COMPLETE",
    "HostileServer",
    "Peer",
    "Request",
    "accept_key",
    "frame",
]

#: RFC 6455 1.3: the GUID hashed with the client's key into Sec-WebSocket-Accept.
_GUID: bytes = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: Opcodes (RFC 6455 5.2).
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
#: ``setupComplete`` as Google sends it: a binary frame (PROTOCOL.md 2).
SETUP_COMPLETE: bytes = b'{"setupComplete": {}}'
#: The request head this server reads before it gives up on a client.
_MAX_HEAD = 64 * 1024

Attack = Callable[["Peer"], Awaitable[None]]


def accept_key(key: bytes) -> bytes:
    """The right ``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


def frame(
    payload: bytes,
    opcode: int = BINARY,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
    length: int | None = None,
) -> bytes:
    """One frame, byte by byte (RFC 6455 5.2), including the ones no server may send.

    Args:
        payload: the payload as it travels (masked here when ``mask`` is given).
        opcode: 0-15, reserved ones too.
        fin: the FIN bit.
        rsv: the three RSV bits (0-7); a client without extensions must fail on any.
        mask: a 4-byte masking key: servers must not mask (RFC 6455 5.1).
        length: the length written in the header, if it must lie (``2**63``); the
            shortest encoding of it is used, or the 64-bit one for lengths over 0xFFFF.
    """
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0xF)
    mask_bit = 0x80 if mask is not None else 0
    if size < 126:
        head = bytes([first, mask_bit | size])
    elif size < 1 << 16:
        head = bytes([first, mask_bit | 126]) + struct.pack("!H", size)
    else:
        head = bytes([first, mask_bit | 127]) + struct.pack("!Q", size & ((1 << 64) - 1))
    if mask is not None:
        payload = _unmask(payload, mask)  # XOR both ways
        head += mask
    return head + payload


def _unmask(payload: bytes, mask: bytes) -> bytes:
    if not payload:
        return payload
    key = (mask * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(
        len(payload), "big"
    )


def close_payload(code: int, reason: bytes = b"") -> bytes:
    """A close frame's payload: the code (2 bytes) and the reason, unchecked."""
    return struct.pack("!H", code) + reason


class Request:
    """The client's upgrade request: path, lower-cased headers, and the raw head."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        lines = raw.decode("latin-1").split("\r\n")
        self.method, self.path, *_ = [*lines[0].split(" ", 2), "", ""]
        self.headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                self.headers[name.strip().lower()] = value.strip()


class ConnectionEnded(Exception):
    """The client closed the TCP connection (or sent a close frame, see recv_message)."""


class Peer:
    """One client connection, as the attack drives it.

    Attributes:
        index: 0 for the server's first connection, 1 for the next...
        request: the upgrade request, once :meth:`read_request` read it.
        received: the client's data messages (text frames, JSON-decoded when they are
            JSON), in order; the setup is the first.
        close_code: the code of the client's close frame, once one arrived.
    """

    def __init__(self, server: HostileServer, stream: trio.SocketStream, index: int) -> None:
        self.server = server
        self.stream = stream
        self.index = index
        self.request: Request | None = None
        self.received: list[Any] = []
        self.close_code: int | None = None
        self._buffer = bytearray()
        self._eof = False

    # --- reading ---------------------------------------------------------------------------

    async def _fill(self) -> None:
        data = await self.stream.receive_some(256 * 1024)
        if not data:
            self._eof = True
            raise ConnectionEnded
        self._buffer += data

    async def _take(self, size: int) -> bytes:
        while len(self._buffer) < size:
            await self._fill()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def read_request(self) -> Request:
        """Read the HTTP upgrade request's head."""
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            if len(self._buffer) > _MAX_HEAD:
                raise ConnectionEnded("endless request head")
            await self._fill()
        raw = bytes(self._buffer[: end + 4])
        del self._buffer[: end + 4]
        self.request = Request(raw)
        return self.request

    async def recv_frame(self) -> tuple[bool, int, bytes]:
        """The next frame from the client: ``(fin, opcode, unmasked payload)``."""
        first, second = await self._take(2)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", await self._take(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", await self._take(8))
        mask = await self._take(4) if second & 0x80 else None
        payload = await self._take(size)
        if mask is not None:
            payload = _unmask(payload, mask)
        return bool(first & 0x80), first & 0xF, payload

    async def recv_message(self) -> str | bytes:
        """The client's next data message (fragments joined; pings answered).

        Raises:
            ConnectionEnded: the client sent a close frame (echoed, then the socket is
                closed) or the TCP connection ended.
        """
        parts: list[bytes] = []
        kind = None
        while True:
            fin, opcode, payload = await self.recv_frame()
            if opcode == PING:
                await self.send(frame(payload, PONG))
                continue
            if opcode == PONG:
                continue
            if opcode == CLOSE:
                self.close_code = struct.unpack("!H", payload[:2])[0] if payload else 1005
                await self.send(frame(payload[:2], CLOSE))
                raise ConnectionEnded("close frame")
            if opcode != CONT:
                kind = opcode
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                message: str | bytes = data.decode() if kind == TEXT else data
                try:
                    self.received.append(json.loads(message))
                except ValueError:
                    self.received.append(message)
                self.server.messages += 1
                return message

    async def recv_until(self, key: str) -> dict[str, Any]:
        """Read client messages until one with top-level ``key``; return it."""
        while True:
            await self.recv_message()
            last = self.received[-1]
            if isinstance(last, dict) and key in last:
                return last

    async def drain(self) -> None:
        """Read (and answer) until the client goes away."""
        try:
            while True:
                await self.recv_message()
        except ConnectionEnded:
            pass

    # --- writing ---------------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        """Put ``data`` on the wire as is."""
        await self.stream.send_all(data)

    async def send_json(self, obj: Any, *, text: bool = False) -> None:
        """One message as JSON, in a binary frame (as Google) or a text frame."""
        data = json.dumps(obj).encode()
        await self.send(frame(data, TEXT if text else BINARY))

    async def close(self, code: int = 1000, reason: bytes = b"") -> None:
        """Send a close frame (any code, any reason bytes)."""
        await self.send(frame(close_payload(code, reason), CLOSE))

    async def accept(self, *, key: bytes | None = None, upgrade: bool = True,
                     extra: bytes = b"") -> None:
        """Answer the upgrade with 101 (``key``: a wrong accept key; no Upgrade header)."""
        assert self.request is not None
        client_key = self.request.headers.get("sec-websocket-key", "").encode()
        answer = accept_key(client_key) if key is None else key
        head = b"HTTP/1.1 101 Switching Protocols\r\n"
        if upgrade:
            head += b"Upgrade: websocket\r\n"
        head += b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + answer + b"\r\n" + extra
        await self.send(head + b"\r\n")

    async def refuse(self, status: int, body: bytes, reason: bytes = b"Refused") -> None:
        """Answer the upgrade with an HTTP error and ``body``, then close."""
        head = (
            b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % (status, reason, len(body))
        )
        await self.send(head + body)

    async def setup(self, answer: bytes | None = SETUP_COMPLETE) -> dict[str, Any]:
        """The whole opening: request, 101, the client's setup, ``setupComplete``.

        ``answer=None`` reads the setup and answers nothing.
        """
        await self.read_request()
        await self.accept()
        setup = await self.recv_until("setup")
        if answer is not None:
            await self.send(frame(answer))
        return setup

    async def abort(self) -> None:
        """End the TCP connection without a close frame (the client sees 1006)."""
        await self.stream.aclose()


class HostileServer:
    """Listens on 127.0.0.1 and runs ``attack(peer)`` for each connection.

    Start it with ``await nursery.start(server.serve)``; then :attr:`url` is the
    ``endpoint`` to give the session.

    Attributes:
        peers: every connection, in the order they were accepted.
        messages: data messages received from clients, over all connections.
    """

    def __init__(self, attack: Attack) -> None:
        self.attack = attack
        self.peers: list[Peer] = []
        self.messages = 0
        self.port = 0
        self._changed = trio.Event()

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        return len(self.peers)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> (
        None
    ):
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                functools.partial(trio.serve_tcp, self._handle, 0, host="127.0.0.1")
            )
            self.port = listeners[0].socket.getsockname()[1]
            task_status.started()

    async def wait_connections(self, count: int) -> None:
        """Wait until ``count`` connections were accepted."""
        while self.connections < count:
            await self._changed.wait()

    async def _handle(self, stream: trio.SocketStream) -> None:
        peer = Peer(self, stream, len(self.peers))
        self.peers.append(peer)
        self._changed.set()
        self._changed = trio.Event()
        try:
            await self.attack(peer)
        except (ConnectionEnded, trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away (or closed on us): that is what attacks provoke
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)
