"""The WebSocket adapter over websockets' sans-I/O ``ClientProtocol`` (``_websocket.py``, issue 11).

The server's side is scripted byte by byte (:class:`Peer`): its frames are written by hand
and the client's are parsed here, so these tests check the wire, not another library's
reading of it. Where an independent implementation helps (round trips, TLS), trio-websocket's
server plays the other side over loopback.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import logging
import re
import socket
import ssl
import struct
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trio_gemini_live import _websocket, _ws_connect
from trio_gemini_live._sockets import NativeSocketStream
from trio_gemini_live._websocket import (
    ConnectionClosed,
    HandshakeFailed,
    HandshakeRejected,
    MessageConnection,
    WebSocket,
    open_connection,
)

from .conftest import tls_contexts

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
          mask: bool = False, wide: int | None = None) -> bytes:
    """A server frame (unmasked unless ``mask``); ``wide`` forces a 2- or 8-byte length."""
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    size = len(payload)
    bit = 0x80 if mask else 0
    if wide == 2 or (wide is None and 126 <= size < 65536):
        head += bytes([bit | 126]) + struct.pack("!H", size)
    elif wide == 8 or (wide is None and size >= 65536):
        head += bytes([bit | 127]) + struct.pack("!Q", size)
    else:
        head += bytes([bit | size])
    if mask:
        key = b"\x01\x02\x03\x04"
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


def text(data: str, fin: bool = True) -> bytes:
    return frame(1, data.encode(), fin=fin)


def close_frame(code: int | None = 1000, reason: bytes = b"") -> bytes:
    return frame(8, b"" if code is None else struct.pack("!H", code) + reason)


def accept_answer(request: bytes, *, key: bytes | None = None, extra: bytes = b"") -> bytes:
    """The 101 answer to ``request`` (RFC 6455 4.2.2), with ``key`` for a wrong one."""
    match = re.search(rb"(?im)^sec-websocket-key:[ \t]*(\S+)", request)
    assert match is not None
    accept = base64.b64encode(hashlib.sha1(match[1] + GUID).digest())
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + (key or accept) + b"\r\n" + extra + b"\r\n")


class Peer:
    """The server's side of one connection, scripted byte by byte."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.buffer = bytearray()
        self.request = b""

    async def _more(self) -> None:
        data = await self.stream.receive_some(65536)
        if not data:
            raise EOFError("the client closed the stream")
        self.buffer += data

    async def read_request(self) -> bytes:
        while b"\r\n\r\n" not in self.buffer:
            await self._more()
        end = self.buffer.index(b"\r\n\r\n") + 4
        self.request = bytes(self.buffer[:end])
        del self.buffer[:end]
        return self.request

    async def accept(self, before: bytes = b"", after: bytes = b"") -> None:
        """Read the request, answer 101; ``before``/``after`` go in the same write."""
        await self.read_request()
        await self.stream.send_all(before + accept_answer(self.request) + after)

    async def send(self, *frames: bytes) -> None:
        await self.stream.send_all(b"".join(frames))

    async def read_frame(self) -> tuple[int, bool, bytes]:
        """The client's next frame: (opcode, fin, unmasked payload). Asserts it is masked."""
        while True:
            buf = self.buffer
            if len(buf) >= 2:
                assert buf[1] & 0x80, "a client frame must be masked (RFC 6455 5.3)"
                size, start = buf[1] & 0x7F, 2
                if size == 126 and len(buf) >= 4:
                    size, start = struct.unpack_from("!H", buf, 2)[0], 4
                elif size == 127 and len(buf) >= 10:
                    size, start = struct.unpack_from("!Q", buf, 2)[0], 10
                if size < 126 or start > 2:
                    end = start + 4 + size
                    if len(buf) >= end:
                        key = buf[start:start + 4]
                        payload = bytes(b ^ key[i % 4] for i, b in enumerate(buf[start + 4:end]))
                        opcode, fin = buf[0] & 0x0F, bool(buf[0] & 0x80)
                        del buf[:end]
                        return opcode, fin, payload
            await self._more()

    async def read_message(self) -> str | bytes | tuple[int, bytes]:
        """The next data message, or ``(opcode, payload)`` for a control frame."""
        opcode, fin, payload = await self.read_frame()
        if opcode >= 8:
            return opcode, payload
        parts = [payload]
        while not fin:
            _, fin, more = await self.read_frame()
            parts.append(more)
        data = b"".join(parts)
        return data.decode() if opcode == 1 else data

    async def read_close(self) -> tuple[int, str]:
        """Skip to the client's close frame: its (code, reason)."""
        while True:
            opcode, _, payload = await self.read_frame()
            if opcode == 8:
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()

    async def answer_close(self) -> tuple[int, str]:
        """Read until the client's close frame, echo it (RFC 6455 5.5.1), close the TCP."""
        code, reason = await self.read_close()
        await self.send(close_frame(code, reason.encode()))
        await self.stream.aclose()
        return code, reason


async def handshake_with(peer: Peer, client_stream: trio.abc.Stream, *, before: bytes = b"",
                         after: bytes = b"", **options: Any) -> WebSocket:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(peer.accept, before, after))
        ws = await WebSocket.handshake(client_stream, "example.com", "/", **options)
    return ws


async def memory_pair(**options: Any) -> tuple[WebSocket, Peer]:
    """A connection over an in-memory stream whose writes never block."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    peer = Peer(server_stream)
    return await handshake_with(peer, client_stream, **options), peer


async def lockstep_pair(**options: Any) -> tuple[WebSocket, Peer]:
    """A connection over a lockstep stream: a write blocks until the peer reads it."""
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    peer = Peer(server_stream)
    return await handshake_with(peer, client_stream, **options), peer


@asynccontextmanager
async def raw_server(handler: Callable[[Peer], Awaitable[None]], *,
                     accept: bool = True) -> AsyncIterator[str]:
    """A loopback TCP server whose connections are scripted by ``handler``."""

    async def serve(stream: trio.SocketStream) -> None:
        peer = Peer(stream)
        if accept:
            await peer.accept()
        try:
            await handler(peer)
        except (EOFError, trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
        yield f"ws://127.0.0.1:{listeners[0].socket.getsockname()[1]}/"
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def ws_server(handler: Callable[[trio_websocket.WebSocketRequest], Awaitable[None]],
                    ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """trio-websocket's server on 127.0.0.1:0 (an independent implementation)."""
    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(
            trio_websocket.serve_websocket, handler, "127.0.0.1", 0, ssl_context,
            max_message_size=16 * 1024 * 1024))
        yield f"{'wss' if ssl_context else 'ws'}://127.0.0.1:{server.port}/some/path?x=1"
        nursery.cancel_scope.cancel()


async def echo(request: trio_websocket.WebSocketRequest) -> None:
    ws = await request.accept()
    try:
        while True:
            await ws.send_message(await ws.get_message())
    except trio_websocket.ConnectionClosed:
        pass


def sink() -> tuple[trio.StapledStream[Any, Any], trio.testing.MemorySendStream]:
    """A client stream whose writes are kept (and never answered)."""
    sent = trio.testing.MemorySendStream()
    return trio.StapledStream(sent, trio.testing.MemoryReceiveStream()), sent


def written(sent: trio.testing.MemorySendStream) -> bytes:
    try:
        return bytes(sent.get_data_nowait())
    except trio.WouldBlock:
        return b""


class RecordingStream(trio.abc.Stream):
    """Records each ``send_all``'s size and each ``receive_some``'s ``max_bytes``; runs
    ``after_send`` (when set) after a ``send_all`` wrote its data."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.writes: list[int] = []
        self.sizes: list[int | None] = []
        self.after_send: Callable[[], Awaitable[None]] | None = None

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(len(data))
        await self.inner.send_all(data)
        if self.after_send is not None:
            await self.after_send()

    async def wait_send_all_might_not_block(self) -> None:  # pragma: no cover
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        self.sizes.append(max_bytes)
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


# --- round trips against an independent server ------------------------------------------


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("secure", [False, True])
async def test_round_trips_over_both_stacks(native: bool, secure: bool) -> None:
    server_context, client_context = tls_contexts() if secure else (None, None)
    with trio.fail_after(10):
        async with ws_server(echo, server_context) as url, open_connection(
            url, ssl_context=client_context, native=native
        ) as ws:
            stream = ws._stream
            if native:
                assert isinstance(stream, NativeSocketStream)
            else:
                assert isinstance(stream, trio.SSLStream if secure else trio.SocketStream)
            await ws.send_message("héllo")
            await ws.send_messages([b"\x00\x01\xff", "two"])
            assert await ws.get_message() == "héllo"
            got = await ws.get_message()
            assert got == b"\x00\x01\xff" and type(got) is bytes
            assert await ws.get_message() == "two"
            assert ws.try_send_message("direct") is (True if native else None)
            if not native:
                await ws.send_message("direct")
            assert await ws.get_message() == "direct"
            assert ws.closed is None
    assert ws.closed is not None and ws.closed.code == 1000


async def test_three_mib_messages_both_ways() -> None:
    big = bytes(range(256)) * (3 * 1024 * 4)
    text_message = "é" * (3 * 1024 * 1024 // 2)
    with trio.fail_after(20):
        async with ws_server(echo) as url, open_connection(url) as ws:
            await ws.send_message(big)
            await ws.send_messages([text_message, "after"])
            assert await ws.get_message() == big
            assert await ws.get_message() == text_message
            assert await ws.get_message() == "after"


@pytest.mark.parametrize("native", [True, False])
async def test_an_untrusted_certificate_is_reported_by_name(native: bool) -> None:
    server_context, _ = tls_contexts()
    with trio.fail_after(10):
        async with ws_server(echo, server_context) as url:
            with pytest.raises(ssl.SSLCertVerificationError):
                async with open_connection(url, ssl_context=ssl.create_default_context(),
                                           native=native):
                    pass  # pragma: no cover


async def test_wss_default_context_verifies_with_the_system_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import trustme

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    with trio.fail_after(10), ca.cert_pem.tempfile() as ca_file:
        async with ws_server(echo, server_context) as url:
            monkeypatch.setenv("SSL_CERT_FILE", ca_file)
            async with open_connection(url) as ws:
                await ws.send_message("trusted by SSL_CERT_FILE")
                assert await ws.get_message() == "trusted by SSL_CERT_FILE"
            monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent")
            monkeypatch.setenv("SSL_CERT_DIR", "/nonexistent")
            with pytest.raises(ssl.SSLCertVerificationError):
                async with open_connection(url):
                    pass  # pragma: no cover


@pytest.mark.parametrize("native", [True, False])
async def test_a_tls_handshake_with_a_plain_server_is_handshake_failed(native: bool) -> None:
    async def plain(stream: trio.SocketStream) -> None:
        await stream.receive_some(65536)
        await stream.send_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await stream.aclose()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(partial(trio.serve_tcp, plain, 0, host="127.0.0.1"))
            port = listeners[0].socket.getsockname()[1]
            with pytest.raises(HandshakeFailed, match="TLS handshake failed"):
                async with open_connection(f"wss://127.0.0.1:{port}/", native=native):
                    pass  # pragma: no cover
            nursery.cancel_scope.cancel()


async def test_bad_urls() -> None:
    for url in ("http://example.com/", "ws:///nohost"):
        with pytest.raises(ValueError, match="ws://"):
            async with open_connection(url):
                pass  # pragma: no cover


# --- the opening handshake on the wire ---------------------------------------------------


async def test_the_request_is_exactly_ours_and_the_headers_given() -> None:
    seen: list[bytes] = []

    async def handler(peer: Peer) -> None:
        seen.append(peer.request)
        await peer.answer_close()

    with trio.fail_after(10):
        async with raw_server(handler) as url:
            port = int(url.rsplit(":", 1)[1].strip("/"))
            async with open_connection(f"ws://127.0.0.1:{port}/ws/api?x=1&y=2", [
                ("x-goog-api-key", "KEY"), ("user-agent", "ours/1.0"),
                ("x-goog-api-client", "client/1"),
            ]):
                pass
    lines = seen[0].decode("latin-1").split("\r\n")
    assert lines[0] == "GET /ws/api?x=1&y=2 HTTP/1.1"
    names = [line.split(":", 1)[0].lower() for line in lines[1:] if line]
    # RFC 7230 5.4: the port is part of Host unless it is the scheme's default. No second
    # User-Agent: websockets' ClientProtocol adds none of its own.
    assert lines[1] == f"Host: 127.0.0.1:{port}"
    assert sorted(names) == sorted([
        "host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
        "x-goog-api-key", "user-agent", "x-goog-api-client"])
    assert "user-agent: ours/1.0" in lines and "x-goog-api-key: KEY" in lines


@pytest.mark.parametrize(("url", "host"), [
    ("ws://example.com/", "example.com"), ("ws://example.com:80/", "example.com"),
    ("wss://example.com:443/", "example.com"), ("wss://example.com:8443/", "example.com:8443"),
    ("ws://[::1]:9000/", "[::1]:9000"), ("ws://[::1]/", "[::1]"),
])
async def test_the_host_header_has_the_port_unless_default(
    monkeypatch: pytest.MonkeyPatch, url: str, host: str
) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()

    async def connect(name: str, port: int) -> trio.abc.Stream:
        return client_stream

    monkeypatch.setattr(trio, "open_tcp_stream", connect)
    peer = Peer(server_stream)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer.accept)
            # ssl_context for wss over a memory stream: a TLS handshake cannot happen
            # here, so wss URLs use native=False with a plain stream (no context used).
            monkeypatch.setattr(_ws_connect, "_wrap", lambda tcp, *args: tcp)
            async with open_connection(url, close_timeout=0):
                pass
    assert f"\r\nHost: {host}\r\n" in peer.request.decode()


@pytest.mark.parametrize(
    "value", ["SECRET\r\nx-injected: 1", "SECRET\n", "SECRET\x00", " SECRET", "SECRET\t",
              "SECRET€"])
async def test_a_bad_header_value_is_a_value_error_without_the_value(value: str) -> None:
    stream, sent = sink()
    with pytest.raises(ValueError, match="x-goog-api-key") as info:
        await WebSocket.handshake(stream, "example.com", "/", [("x-goog-api-key", value)])
    assert "SECRET" not in str(info.value) and "SECRET" not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert written(sent) == b""
    # And open_connection checks before connecting (nothing listens on port 1).
    with pytest.raises(ValueError, match="'authorization'") as info:
        async with open_connection("ws://127.0.0.1:1/", [("authorization", value)]):
            pass  # pragma: no cover
    assert "SECRET" not in str(info.value)


async def test_bad_names_own_headers_targets_and_types_are_refused_before_sending() -> None:
    stream, sent = sink()
    for headers, error, match in [
        ([("x key", "v")], ValueError, "header name"),
        ([("", "v")], ValueError, "header name"),
        ([("Host", "evil")], ValueError, "set by the WebSocket handshake"),
        ([("Sec-WebSocket-Key", "k")], ValueError, "set by the WebSocket handshake"),
        ([(b"x-key", b"v")], TypeError, "str"),
    ]:
        with pytest.raises(error, match=match):
            await WebSocket.handshake(stream, "h", "/", headers)
    with pytest.raises(ValueError, match="resource"):
        await WebSocket.handshake(stream, "h", "/a b")
    with pytest.raises(ValueError, match="resource"):
        await WebSocket.handshake(stream, "h", "/a\r\nx: y")
    with pytest.raises(ValueError, match="host"):
        await WebSocket.handshake(stream, "h\r\nx: y", "/")
    with pytest.raises(ValueError, match="positive"):
        await WebSocket.handshake(stream, "h", "/", max_fragments=0)
    assert written(sent) == b""
    # Empty values and inner spaces are valid.
    _websocket._check_request("h", "/", [("x-empty", ""), ("x-inner", "a b\tc")])


async def test_websockets_debug_logging_never_sees_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # websockets logs request headers and frames at DEBUG: the API key, the audio.
    caplog.set_level(logging.DEBUG)
    with trio.fail_after(10):
        ws, peer = await memory_pair()
        await peer.send(text("a message"))
        assert await ws.get_message() == "a message"
    assert not [r for r in caplog.records if r.name.startswith("websockets")]


@pytest.mark.parametrize(
    "interim",
    [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\n\n",
    ],
    ids=["continue", "two-with-headers"],
)
async def test_interim_answers_before_the_101_are_skipped(interim: bytes) -> None:
    # RFC 7231 6.2: any number of 1xx answers may come first. receive_size=5 splits them
    # across reads, and every read asks for 5 bytes.
    client_stream, server_stream = trio.testing.memory_stream_pair()
    recording = RecordingStream(client_stream)
    peer = Peer(server_stream)
    with trio.fail_after(10):
        ws = await handshake_with(peer, recording, before=interim, receive_size=5)
        await peer.send(text("open"))
        assert await ws.get_message() == "open"
    assert len(recording.sizes) > 10 and set(recording.sizes) == {5}


async def test_frames_in_the_same_read_as_the_101_are_kept() -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    peer = Peer(server_stream)
    with trio.fail_after(10):
        # The 101, two messages, a ping and the close, in one write; then the TCP end.
        ws = await handshake_with(peer, client_stream, after=text("first") + frame(
            2, b"second") + frame(9, b"pi") + close_frame(1001, b"bye"))
        await server_stream.aclose()
        assert await ws.get_message() == "first"
        assert await ws.get_message() == b"second"
        with pytest.raises(ConnectionClosed) as info:
            await ws.get_message()
    assert (info.value.code, info.value.reason, info.value.remote_error) == (1001, "bye", None)


async def refusal(answer: bytes, *, then_close: bool = True, **options: Any) -> BaseException:
    """What the handshake raises when the server answers ``answer`` (then closes)."""
    client_stream, server_stream = trio.testing.memory_stream_pair()

    async def refuse() -> None:
        await Peer(server_stream).read_request()
        await server_stream.send_all(answer)
        if then_close:
            await server_stream.aclose()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(refuse)
            with pytest.raises((HandshakeRejected, HandshakeFailed)) as info:
                await WebSocket.handshake(client_stream, "example.com", "/", **options)
    return info.value


@pytest.mark.parametrize(("answer", "status", "body"), [
    (b"HTTP/1.1 403 Forbidden\r\ncontent-length: 17\r\n\r\nAPI key not valid", 403,
     b"API key not valid"),
    (b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n", 404, b""),
    (b"HTTP/1.1 401 Unauthorized\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n"
     b"0\r\n\r\n", 401, b"abcde"),
    (b"HTTP/1.1 503 Unavailable\r\nretry-after: 5\r\n\r\nuntil the end", 503,
     b"until the end"),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many\r\ncontent-length: 4\r\n\r\nslow",
     429, b"slow"),
    (b"HTTP/1.1 500 Oops\r\ncontent-length: 100000\r\n\r\n" + b"x" * 100000, 500,
     b"x" * 65536),
    (b"HTTP/1.1 502 Huge\r\ncontent-length: 2000000\r\n\r\n" + b"x" * 100, 502, b""),
], ids=["403-length", "404-empty", "401-chunked", "503-to-eof", "interim-then-429",
        "capped-at-64k", "over-1-mib"])
async def test_refusals_carry_status_headers_and_body(
    answer: bytes, status: int, body: bytes
) -> None:
    error = await refusal(answer)
    assert isinstance(error, HandshakeRejected)
    assert (error.status, error.body) == (status, body)
    if status != 502:  # websockets refuses a body over 1 MiB: its headers are lost too
        assert error.headers and all(isinstance(n, str) for n, _ in error.headers)
    # The body may echo the request (API key included): never in the message.
    assert str(error) == f"the server refused the WebSocket upgrade with HTTP {status}"


@pytest.mark.parametrize(("answer", "match"), [
    (b"", "closed the connection"),
    (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n", "invalid handshake"),
    (b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", None),
    (b"hello\r\n\r\n", "invalid handshake"),
    (b"HTTP/1.0 101 Switching Protocols\r\n\r\n", "invalid handshake"),
    (b"HTTP/1.1 100 Continue\r\nx: " + b"y" * 70000, "endless head"),
    (b"HTTP/1.1 101 OK\r\nx: " + b"y" * 70000 + b"\r\n\r\n", "invalid handshake"),
    (b"HTTP/1.1 101 OK\r\n" + b"x: y\r\n" * 200 + b"\r\n", "invalid handshake"),
], ids=["eof", "eof-in-head", "200", "garbage", "http-1.0", "endless-interim",
        "huge-header", "too-many-headers"])
async def test_malformed_answers_are_handshake_failed(answer: bytes, match: str | None) -> None:
    error = await refusal(answer)
    if match is None:  # a 200 is a refusal (not an upgrade)
        assert isinstance(error, HandshakeRejected) and error.status == 200
    else:
        assert isinstance(error, HandshakeFailed)
        assert re.search(match, str(error))


@pytest.mark.parametrize("extra", ["wrong-key", "no-upgrade"])
async def test_an_invalid_101_is_handshake_failed(extra: str) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()

    async def answer() -> None:
        peer = Peer(server_stream)
        request = await peer.read_request()
        good = accept_answer(request)
        bad = (accept_answer(request, key=b"AAAAAAAAAAAAAAAAAAAAAAAAAAA=") if extra == "wrong-key"
               else good.replace(b"Upgrade: websocket\r\n", b""))
        await server_stream.send_all(bad)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(answer)
            with pytest.raises(HandshakeFailed, match=r"Sec-WebSocket-Accept|Upgrade"):
                await WebSocket.handshake(client_stream, "example.com", "/")


async def test_a_stream_error_in_the_handshake_is_handshake_failed() -> None:
    class Broken(trio.abc.ReceiveStream):
        async def receive_some(self, max_bytes: int | None = None) -> bytes:
            raise trio.BrokenResourceError("reset")

        async def aclose(self) -> None:  # pragma: no cover
            pass

    stream = trio.StapledStream(trio.testing.MemorySendStream(), Broken())
    with trio.fail_after(10), pytest.raises(HandshakeFailed, match="reset"):
        await WebSocket.handshake(stream, "example.com", "/")


async def test_connect_timeout_is_too_slow_error_and_closes_the_stream(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()

    async def connect(host: str, port: int) -> trio.abc.Stream:
        assert (host, port) == ("example.com", 80)
        return client_stream

    monkeypatch.setattr(trio, "open_tcp_stream", connect)
    with trio.fail_after(60):
        with pytest.raises(trio.TooSlowError):
            async with open_connection("ws://example.com/", connect_timeout=5):
                pass  # pragma: no cover
        assert b"GET / HTTP/1.1" in await server_stream.receive_some()
        assert await server_stream.receive_some() == b""  # and the stream was closed


# --- messages, pings, closes -------------------------------------------------------------


async def test_fragmented_messages_are_reassembled_with_control_frames_between() -> None:
    ws, peer = await memory_pair()
    with trio.fail_after(10):
        # Each fragment in a write of its own, so the client sees them in separate reads.
        for part in (frame(1, b"frag", fin=False), frame(9, b"mid"), frame(0, b"men", fin=False),
                     frame(0, "ted ✓".encode(), fin=True), frame(2, b"\x01\x02", fin=False),
                     frame(0, b"\x03")):
            await peer.send(part)
            await trio.testing.wait_all_tasks_blocked()
        assert await ws.get_message() == "fragmented ✓"
        assert await ws.get_message() == b"\x01\x02\x03"
        assert await peer.read_message() == (10, b"mid")  # the ping between was answered


async def test_client_ping_waits_for_the_pong_seen_by_the_reader() -> None:
    ws, peer = await memory_pair()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ws.get_message)  # the reader sees the pong
            async with trio.open_nursery() as pinging:
                pinging.start_soon(ws.ping, b"custom")
                assert await peer.read_message() == (9, b"custom")
                with pytest.raises(ValueError, match="already waiting"):
                    await ws.ping(b"custom")
                await peer.send(frame(10, b"custom"))
            nursery.start_soon(ws.ping)  # a random payload
            opcode, payload = await peer.read_message()  # type: ignore[misc]
            assert opcode == 9 and len(payload) == 4
            await peer.send(frame(10, b"unsolicited"), frame(10, payload))
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        with pytest.raises(ValueError, match="125"):
            await ws.ping(b"x" * 126)


async def test_a_pong_answers_earlier_pings_and_a_close_releases_waiting_ones() -> None:
    ws, peer = await memory_pair()
    outcome: dict[bytes, str] = {}

    async def ping(payload: bytes) -> None:
        try:
            await ws.ping(payload)
            outcome[payload] = "pong"
        except ConnectionClosed:
            outcome[payload] = "closed"

    async def read() -> None:
        with pytest.raises(ConnectionClosed):
            await ws.get_message()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            for payload in (b"1", b"2", b"3"):
                nursery.start_soon(ping, payload)
                await peer.read_frame()
            await peer.send(frame(10, b"2"))  # RFC 6455 5.5.3: answers 1 and 2
            await trio.testing.wait_all_tasks_blocked()
            assert outcome == {b"1": "pong", b"2": "pong"}
            await peer.send(close_frame(1001))  # no pong will come for 3
            await trio.testing.wait_all_tasks_blocked()
            await ping(b"4")
    assert outcome == {b"1": "pong", b"2": "pong", b"3": "closed", b"4": "closed"}


async def test_server_close_with_code_and_reason() -> None:
    ws, peer = await memory_pair()
    with trio.fail_after(10):
        await peer.send(text("last words"), close_frame(1011, b"Internal error occurred."))
        assert await ws.get_message() == "last words"  # delivered before the close
        with pytest.raises(ConnectionClosed) as info:
            await ws.get_message()
        assert (info.value.code, info.value.reason) == (1011, "Internal error occurred.")
        assert info.value.remote_error is None
        assert ws.closed is not None and ws.closed.code == 1011 and ws.closed is not info.value
        # The client echoed the close (RFC 6455 5.5.1).
        echo = struct.pack("!H", 1011) + b"Internal error occurred."
        assert await peer.read_message() == (8, echo)
        with pytest.raises(ConnectionClosed):
            await ws.send_message("too late")
        with pytest.raises(ConnectionClosed):
            await ws.get_message()
        assert ws.try_send_message("never") is None
        await ws.aclose()
    assert ws.closed.code == 1011


async def test_an_empty_close_frame_is_1005() -> None:
    ws, peer = await memory_pair()
    with trio.fail_after(10):
        await peer.send(close_frame(None))
        with pytest.raises(ConnectionClosed) as info:
            await ws.get_message()
    assert info.value.code == 1005 and info.value.remote_error is None


@pytest.mark.parametrize("reader", ["none", "reading", "starting"])
async def test_client_close_completes_the_handshake(reader: str) -> None:
    # "starting": the session's close starts a draining reader and closes at once.
    ws, peer = await memory_pair(close_timeout=1000)
    drained: list[str | bytes] = []
    with trio.fail_after(10):
        await peer.send(text("unread"))
        async with trio.open_nursery() as nursery:

            async def drain() -> None:
                with pytest.raises(ConnectionClosed):
                    while True:
                        drained.append(await ws.get_message())

            async def server() -> None:
                assert await peer.read_close() == (4000, "bye")
                await peer.send(text("in flight"), close_frame(4000, b"bye"))

            nursery.start_soon(server)
            if reader != "none":
                nursery.start_soon(drain)
            if reader == "reading":
                await trio.testing.wait_all_tasks_blocked()
            # Only the server's answer can end aclose (the close timeout is far away).
            await ws.aclose(4000, "bye")
            await ws.aclose()  # idempotent
    assert ws.closed is not None and (ws.closed.code, ws.closed.reason) == (4000, "bye")
    if reader != "none":
        assert drained == ["unread", "in flight"]
    with pytest.raises(ConnectionClosed):
        await ws.send_message("after close")


async def test_close_timeout_against_a_silent_server_is_1006(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, peer = await memory_pair(close_timeout=3)
    with trio.fail_after(60):
        start = trio.current_time()
        await ws.aclose(1000, "bye")
        assert trio.current_time() - start == pytest.approx(3)
        assert await peer.read_close() == (1000, "bye")
    # Without the server's answer there was no close handshake: 1006 (RFC 6455 7.1.5).
    assert ws.closed is not None and ws.closed.code == 1006
    assert ws.closed.reason == "the server did not answer the close"


async def test_a_cancelled_aclose_is_short_and_still_closes_the_stream(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, peer = await memory_pair(close_timeout=1000)
    with trio.fail_after(60):
        start = trio.current_time()
        with trio.move_on_after(0.1):
            await ws.aclose()
        assert trio.current_time() - start == pytest.approx(0.1)
        assert await peer.read_close() == (1000, "")
        with pytest.raises(EOFError):
            await peer.read_frame()  # the stream is closed
    assert ws.closed is not None and ws.closed.code == 1006


async def test_open_connection_closes_within_a_short_bound_when_cancelled(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 12 finding 8: an outer cancellation returns within 0.5 s even when the server
    # never answers the close.
    client_stream, server_stream = trio.testing.memory_stream_pair()

    async def connect(host: str, port: int) -> trio.abc.Stream:
        return client_stream

    monkeypatch.setattr(trio, "open_tcp_stream", connect)
    peer = Peer(server_stream)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer.accept)
            with trio.move_on_after(5) as scope:
                async with open_connection("ws://example.com/", close_timeout=30) as ws:
                    cancelled_at = trio.current_time() + 5
                    await ws.get_message()  # the server says nothing
        assert scope.cancelled_caught
        assert trio.current_time() - cancelled_at <= 0.5
        assert await peer.read_close() == (1000, "")
    assert ws.closed is not None and ws.closed.code == 1006


async def test_aclose_refuses_invalid_codes_and_long_reasons() -> None:
    ws, peer = await memory_pair()
    for code in (999, 1005, 1006, 1015, 2999, 5000):
        with pytest.raises(ValueError, match="close code"):
            await ws.aclose(code)
    with pytest.raises(ValueError, match="123"):
        await ws.aclose(1000, "é" * 62)
    assert ws.closed is None
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer.answer_close)
            await ws.aclose(3000, "é" * 61)
    assert ws.closed is not None and ws.closed.code == 3000


async def test_abrupt_tcp_drop_is_1006() -> None:
    async def handler(peer: Peer) -> None:
        await peer.send(text("before the drop"))
        await trio.aclose_forcefully(peer.stream)

    with trio.fail_after(10):
        async with raw_server(handler) as url, open_connection(url) as ws:
            assert await ws.get_message() == "before the drop"
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.code == 1006 and info.value.remote_error is None
            with pytest.raises(ConnectionClosed):
                await ws.ping()
            with pytest.raises(ConnectionClosed):
                await ws.send_message("after")


# --- frame errors: the client fails the connection (RFC 6455 7.1.7) ------------------------


@pytest.mark.parametrize(("frames", "code", "why"), [
    ([frame(2, b"h", rsv=4)], 1002, "reserved bits"),
    ([frame(2, b"h", rsv=1)], 1002, "reserved bits"),
    ([frame(1, b"hi", mask=True)], 1002, "incorrect masking"),
    ([frame(3, b"")], 1002, "invalid opcode"),
    ([frame(0x0B, b"")], 1002, "invalid opcode"),
    ([frame(9, b"p" * 126)], 1002, "control frame too long"),
    ([frame(9, b"p", fin=False)], 1002, "fragmented control frame"),
    ([frame(0, b"stray")], 1002, "unexpected continuation frame"),
    ([text("a", fin=False), text("b")], 1002, "expected a continuation frame"),
    ([text("a", fin=False), close_frame(1000)], 1002, "incomplete fragmented message"),
    ([frame(1, b"ok\xc3\x28")], 1007, "invalid UTF-8 in a text message"),
    ([frame(1, b"\x01\xc3", fin=False), frame(0, b"\x28")], 1007, "invalid UTF-8"),
    ([frame(1, b"ok\xe2\x82")], 1007, "invalid UTF-8"),
    ([frame(1, b"\xed\xa0\x80")], 1007, "invalid UTF-8"),  # a UTF-16 surrogate
    ([close_frame(1005)], 1002, "invalid status code"),
    ([close_frame(999)], 1002, "invalid status code"),
    ([close_frame(2999)], 1002, "invalid status code"),
    ([close_frame(5000)], 1002, "invalid status code"),
    ([frame(8, b"\x03")], 1002, "close frame too short"),
    ([close_frame(1000, b"\xc3\x28")], 1007, "close frame's reason"),
    ([b"\x82\x7f\x80" + bytes(7)], 1009, "limit"),  # a 2^63-byte length
    ([b"\x82\x7f" + b"\xff" * 8], 1009, "limit"),  # 2^64 - 1
    ([frame(2, b"x" * 1001)], 1009, "limit"),
    ([frame(2, b"x" * 600, fin=False), frame(0, b"y" * 401)], 1009, "limit"),
    ([frame(2, b"x", fin=False)] + [frame(0, b"", fin=False)] * 9, 1009, "fragments"),
], ids=lambda value: None)
async def test_frame_errors_fail_the_connection_with_their_code(
    frames: list[bytes], code: int, why: str
) -> None:
    ws, peer = await memory_pair(max_message_size=1000, max_fragments=8)
    with trio.fail_after(10):
        await peer.send(text("good"))
        for data in frames:  # each in its own write
            await peer.send(data)
            await trio.testing.wait_all_tasks_blocked()
        assert await ws.get_message() == "good"  # what came before is delivered
        with pytest.raises(ConnectionClosed) as info:
            await ws.get_message()
        assert info.value.code == code
        assert info.value.remote_error is not None and why in info.value.remote_error
        assert info.value.reason == info.value.remote_error
        # Our close frame carries the code; then the server closes the TCP.
        assert (await peer.read_close())[0] == code
        await peer.stream.aclose()
        await ws.aclose()
    assert ws.closed is not None and ws.closed.remote_error is not None
    assert ws.closed.code == code  # still the failure, not 1006


async def test_the_same_errors_cut_at_every_byte_are_found_the_same() -> None:
    data = text("é" * 5) + frame(2, b"z" * 300) + frame(1, b"\xc3\x28")
    for cut in range(1, len(data)):
        ws, peer = await memory_pair()
        with trio.fail_after(10):
            await peer.send(data[:cut])
            await trio.testing.wait_all_tasks_blocked()
            await peer.send(data[cut:])
            assert [await ws.get_message(), await ws.get_message()] == ["é" * 5, b"z" * 300]
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
        assert info.value.code == 1007


async def test_non_minimal_lengths_are_accepted() -> None:
    # RFC 6455 5.2 asks the sender for the minimal length; websockets accepts longer
    # encodings (wsproto refused them with 1002). Harmless: the length is still exact.
    ws, peer = await memory_pair()
    with trio.fail_after(10):
        await peer.send(frame(2, b"a" * 10, wide=2), frame(2, b"b" * 200, wide=8))
        assert await ws.get_message() == b"a" * 10
        assert await ws.get_message() == b"b" * 200


@pytest.mark.parametrize(
    ("parts", "limit", "too_big"),
    [
        (["abcdef"] * 3, 18, False),
        (["abcdef"] * 3, 17, True),  # reached across fragments
        (["😀" * 10], 40, False),
        (["😀" * 10], 39, True),  # UTF-8 bytes count, not characters
        (["😀" * 5, "😀" * 5], 39, True),
        ([b"\x00" * 10, b"\x00" * 10], 19, True),
        ([b"\x00" * 19], 19, False),
    ],
)
async def test_the_size_limit_counts_payload_bytes(
    parts: list[str | bytes], limit: int, too_big: bool
) -> None:
    ws, peer = await memory_pair(max_message_size=limit)
    with trio.fail_after(10):
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            data = part.encode() if isinstance(part, str) else part
            opcode = (1 if isinstance(part, str) else 2) if i == 0 else 0
            await peer.send(frame(opcode, data, fin=last))
        if not too_big:
            assert await ws.get_message() == parts[0][:0].join(parts)  # type: ignore[arg-type]
            return
        with pytest.raises(ConnectionClosed) as info:
            await ws.get_message()
        assert (await peer.read_close())[0] == 1009
    assert info.value.code == 1009 and info.value.remote_error is not None


async def test_many_tiny_fragments_stay_a_small_multiple_of_their_payload() -> None:
    # Issue 12 finding 6: 2,000,000 fragments of 2 bytes took 170 MB for 4 MB of payload.
    # Here 40,000 (80 KB of payload); fragments are joined as they arrive and the parser
    # is fed 16 KiB at a time, so no list of Frame objects grows with the message.
    import tracemalloc

    count = 40_000
    ws, peer = await memory_pair(max_fragments=count)
    fragment = frame(0, b"ab", fin=False)

    async def feed() -> None:
        await peer.send(frame(2, b"ab", fin=False))
        batch = fragment * 8192
        for _ in range((count - 2) // 8192):
            await peer.send(batch)
        await peer.send(fragment * ((count - 2) % 8192), frame(0, b"ab"))

    tracemalloc.start()
    try:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(feed)
                message = await ws.get_message()
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message == b"ab" * count
    # The wire bytes in flight (64 KiB reads), the parser's step (16 KiB, at most 4,096
    # Frame objects) and the assembly: a few times 80 KB plus ~1 MB. A Frame kept per
    # fragment would be ~12 MB.
    assert peak < 8 * len(message) + 2 * 1024 * 1024, peak


async def test_too_many_fragments_is_1009_and_stops_parsing() -> None:
    ws, peer = await memory_pair()
    count = _websocket.MAX_FRAGMENTS + 1
    with trio.fail_after(30):
        await peer.send(frame(2, b"ab", fin=False), frame(0, b"ab", fin=False) * (count - 1),
                        frame(0, b"ab"))
        with pytest.raises(ConnectionClosed) as info:
            await ws.get_message()
    assert info.value.code == 1009
    assert info.value.remote_error == f"a message in more than {count - 1} fragments"


async def test_a_ping_flood_the_server_never_reads_is_1008(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The server sends pings and never reads: the pongs cannot be written while a write is
    # blocked, and would pile up in memory without a bound.
    ws, peer = await lockstep_pair()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:

            async def blocked_send() -> None:
                with pytest.raises(ConnectionClosed):
                    await ws.send_message("blocked")

            nursery.start_soon(blocked_send)
            await trio.testing.wait_all_tasks_blocked()

            async def flood() -> None:
                with pytest.raises(trio.BrokenResourceError):
                    while True:
                        await peer.send(frame(9, b"p" * 125) * 100)

            nursery.start_soon(flood)
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await ws.get_message()
            assert info.value.code == 1008 and info.value.remote_error is not None
            assert len(ws._pending) < 2 * _websocket._MAX_PENDING
            await ws.aclose()
            nursery.cancel_scope.cancel()


# --- concurrency and cancellation ----------------------------------------------------------


async def test_a_send_cancelled_before_writing_leaves_the_connection_usable() -> None:
    ws, peer = await lockstep_pair()
    with trio.CancelScope() as scope:
        scope.cancel()
        await ws.send_message("never")
    assert scope.cancelled_caught and ws.closed is None
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ws.send_message, "sent")
            assert await peer.read_message() == "sent"


async def test_a_send_cancelled_mid_write_breaks_the_connection(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, _ = await lockstep_pair()
    # Part of the frame may be on the wire: the framing is lost.
    with trio.move_on_after(1) as scope:
        await ws.send_message("blocked: the server never reads")
    assert scope.cancelled_caught
    assert ws.closed is not None and ws.closed.code == 1006
    with pytest.raises(ConnectionClosed):
        await ws.send_messages(["a", "b"])
    with pytest.raises(ConnectionClosed):
        await ws.get_message()
    assert ws.try_send_message("x") is None
    await ws.aclose()  # only closes the stream: no close frame on a broken framing


async def test_a_cancelled_read_loses_nothing(autojump_clock: trio.testing.MockClock) -> None:
    ws, peer = await memory_pair()
    with trio.move_on_after(1):
        await ws.get_message()  # nothing yet
    await peer.send(text("one"), text("two"))
    assert await ws.get_message() == "one"
    with trio.CancelScope() as scope:
        scope.cancel()
        await ws.get_message()  # cancelled before taking "two"
    assert await ws.get_message() == "two"
    await peer.send(close_frame(1000, b"done"))
    with pytest.raises(ConnectionClosed) as info:
        await ws.get_message()
    assert info.value.code == 1000
    assert (await peer.read_frame())[0] == 8


async def test_get_message_nowait_takes_what_a_read_parsed_and_never_reads() -> None:
    # The session's receive task takes the rest of a read's messages with it (issue 11).
    ws, peer = await memory_pair()
    with trio.fail_after(10):
        assert ws.get_message_nowait() is None
        await peer.send(text("one"), frame(2, b"two"), text("three"))
        assert await ws.get_message() == "one"  # one read parsed the three
        assert ws.get_message_nowait() == b"two"
        assert ws.get_message_nowait() == "three"
        assert ws.get_message_nowait() is None
        await peer.send(text("four"))
        assert ws.get_message_nowait() is None  # sent, but nothing read it yet
        assert await ws.get_message() == "four"
        await peer.send(text("five"), close_frame(1000, b"bye"))
        assert await ws.get_message() == "five"
        assert ws.get_message_nowait() is None  # the close is get_message's to raise
        with pytest.raises(ConnectionClosed):
            await ws.get_message()


async def test_a_second_reader_takes_what_the_first_read() -> None:
    ws, peer = await memory_pair()
    got: list[str | bytes] = []

    async def read() -> None:
        got.append(await ws.get_message())

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(read)  # waits for the first one's read, does not fail
            await trio.testing.wait_all_tasks_blocked()
            await peer.send(text("a"), text("b"))
    assert sorted(got) == ["a", "b"]


async def test_the_adapter_starts_no_task() -> None:
    def all_tasks(skip: set[trio.Nursery]) -> set[trio.lowlevel.Task]:
        root = trio.lowlevel.current_root_task()
        assert root is not None
        tasks: set[trio.lowlevel.Task] = set()
        pending = [root]
        while pending:
            task = pending.pop()
            tasks.add(task)
            for nursery in task.child_nurseries:
                if nursery not in skip:
                    pending.extend(nursery.child_tasks)
        return tasks

    with trio.fail_after(10):
        async with ws_server(echo) as url:
            me = trio.lowlevel.current_task()
            server_nurseries = set(me.child_nurseries)
            before = all_tasks(skip=server_nurseries)
            async with open_connection(url) as ws:
                await ws.send_message("hi")
                assert await ws.get_message() == "hi"
                assert set(me.child_nurseries) == server_nurseries
                assert all_tasks(skip=server_nurseries) == before


async def test_a_batch_is_one_write_and_keeps_order() -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    recording = RecordingStream(client_stream)
    peer = Peer(server_stream)
    with trio.fail_after(10):
        ws = await handshake_with(peer, recording)
        recording.writes.clear()
        batch: list[str | bytes] = [f"m{i}" for i in range(50)] + [b"\x00bin"]
        await ws.send_messages(batch)
        assert len(recording.writes) == 1
        assert [await peer.read_message() for _ in batch] == batch
        await ws.send_messages([])  # nothing to write: an empty write
        assert recording.writes[1:] == [0]


async def test_bad_items_send_nothing() -> None:
    ws, peer = await memory_pair()
    with trio.fail_after(10):
        with pytest.raises(TypeError, match="str or bytes"):
            await ws.send_messages(["ok", 3])  # type: ignore[list-item]
        with pytest.raises(UnicodeEncodeError):
            await ws.send_messages(["ok", "lone \ud800"])
        await ws.send_message("next")
        assert await peer.read_message() == "next"  # nothing before it
    assert ws.closed is None


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70001])
@pytest.mark.parametrize("kind", [str, bytes])
def test_data_frames_are_the_bytes_websockets_builds_and_parses(kind: type, size: int) -> None:
    from websockets.frames import Frame, Opcode
    from websockets.protocol import Protocol, Side, State

    payload = bytes(i % 251 for i in range(size)) if kind is bytes else (
        "é" * (size // 2) + "x" * (size % 2)).encode()
    opcode = Opcode.TEXT if kind is str else Opcode.BINARY
    ours = _websocket._data_frame(0x80 | opcode, payload)
    reference = Frame(opcode, payload).serialize(mask=True)
    # The same header (FIN, opcode, mask bit, length); only the masking keys differ.
    head = len(reference) - size - 4
    assert len(ours) == len(reference) and ours[:head] == reference[:head]
    assert ours[1] & 0x80  # masked, as a client must (RFC 6455 5.3)
    server = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
    server.receive_data(ours + ours)
    frames = server.events_received()
    assert [(f.opcode, f.fin, bytes(f.data)) for f in frames] == [(opcode, True, payload)] * 2


def test_masking_is_websockets_c_routine_with_a_fresh_key_per_frame() -> None:
    import websockets.speedups

    # The reason websockets was a dependency before issue 11; now it is the whole engine.
    assert _websocket.apply_mask is websockets.speedups.apply_mask
    keys = {_websocket._data_frame(0x81, b"same")[2:6] for _ in range(20)}
    assert len(keys) > 1


def test_the_module_imports_neither_wsproto_nor_h11_nor_trio_websocket() -> None:
    # The package's __init__ may import other modules that do (until the session moves to
    # this one): load _websocket alone, under a bare package.
    package = Path(_websocket.__file__).parent
    code = (
        "import sys, types\n"
        "pkg = types.ModuleType('trio_gemini_live')\n"
        f"pkg.__path__ = [{str(package)!r}]\n"
        "sys.modules['trio_gemini_live'] = pkg\n"
        "import trio_gemini_live._websocket\n"
        "print(sorted(m for m in ('wsproto', 'h11', 'trio_websocket') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"


# --- control replies never lost, never stalling the reader (PROTOCOL.md 6) -----------------


async def leave_a_pong_pending(ws: WebSocket, peer: Peer) -> None:
    """Have the reader parse a ping (``p1``) while a writer holds the lock: its pong is left
    pending (needs the autojump clock)."""
    await peer.send(frame(9, b"p1"))
    release = trio.Event()
    async with trio.open_nursery() as nursery:

        async def busy_writer() -> None:
            async with ws._lock:
                await release.wait()

        nursery.start_soon(busy_writer)
        await trio.testing.wait_all_tasks_blocked()
        with trio.move_on_after(1):
            await ws.get_message()  # parses the ping; no message comes
        release.set()
    assert ws._pending


async def test_a_send_cancelled_before_writing_keeps_a_pending_pong(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, peer = await memory_pair()
    await leave_a_pong_pending(ws, peer)
    with trio.CancelScope() as scope:
        scope.cancel()
        await ws.send_message("never")
    assert scope.cancelled_caught and ws.closed is None
    await ws.send_message("after")
    assert await peer.read_message() == (10, b"p1")  # the pong survived, and went first
    assert await peer.read_message() == "after"


async def test_a_cancelled_reader_keeps_a_pending_pong(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, peer = await memory_pair()
    await leave_a_pong_pending(ws, peer)
    with trio.CancelScope() as scope:
        scope.cancel()
        await ws.get_message()
    assert scope.cancelled_caught and ws.closed is None
    with trio.fail_after(10):
        await peer.send(text("still there"))
        assert await ws.get_message() == "still there"
        assert await peer.read_message() == (10, b"p1")


async def test_a_stalled_writer_does_not_stall_the_reader(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, peer = await lockstep_pair()
    sent = trio.Event()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:

            async def stalled_send() -> None:
                await ws.send_message("stalled")  # the server is not reading: blocks
                sent.set()

            nursery.start_soon(stalled_send)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(peer.send, frame(9, b"p2"), text("hello"))
            # Delivered while the writer is still blocked.
            assert await ws.get_message() == "hello"
            assert not sent.is_set()
            # The peer reads again: the writer's frame, then the pong it flushed.
            assert await peer.read_message() == "stalled"
            assert await peer.read_message() == (10, b"p2")
        assert sent.is_set()


async def test_a_control_reply_is_written_by_the_reader_when_no_writer_is_active() -> None:
    ws, peer = await memory_pair()
    with trio.fail_after(10):
        await peer.send(frame(9, b"p3"), text("x"))
        assert await ws.get_message() == "x"
        assert await peer.read_message() == (10, b"p3")
    assert not ws._pending


async def test_a_send_after_the_server_closed_still_writes_the_close_echo(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, peer = await memory_pair()
    await peer.send(close_frame(1011, b"bye"))
    release = trio.Event()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:

            async def busy_writer() -> None:
                async with ws._lock:
                    await release.wait()

            nursery.start_soon(busy_writer)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(ConnectionClosed):
                await ws.get_message()  # the echo waits: the lock is held
            release.set()
        with pytest.raises(ConnectionClosed) as info:
            await ws.send_message("too late")  # refused, but the echo goes out
        assert info.value.code == 1011
        assert await peer.read_message() == (8, struct.pack("!H", 1011) + b"bye")


async def test_a_write_cancelled_once_its_frames_are_out_returns_and_keeps_the_pong(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # A Cancelled after the frames went out would make the session send them again.
    client_stream, server_stream = trio.testing.memory_stream_pair()
    wrapped = RecordingStream(client_stream)
    peer = Peer(server_stream)
    ws = await handshake_with(peer, wrapped)
    ping_parsed = trio.Event()
    writer_scope = trio.CancelScope()
    outcome: list[bool] = []

    async def cancel_once_written() -> None:
        await ping_parsed.wait()
        writer_scope.cancel()  # e.g. a deadline reached as the write completed

    async def writer() -> None:
        with writer_scope:
            await ws.send_message("sent")
        outcome.append(writer_scope.cancelled_caught)

    wrapped.after_send = cancel_once_written
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer)
            await trio.testing.wait_all_tasks_blocked()  # written; the lock still held
            wrapped.after_send = None
            await peer.send(frame(9, b"p4"), text("m"))
            assert await ws.get_message() == "m"
            assert ws._pending
            ping_parsed.set()
        assert outcome == [False] and ws.closed is None
        assert ws._pending  # left for the next write
        await ws.send_message("next")
        assert [await peer.read_message() for _ in range(3)] == ["sent", (10, b"p4"), "next"]


async def test_aclose_is_bounded_while_a_writer_is_stuck(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, _ = await lockstep_pair(close_timeout=3)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:

            async def stuck_writer() -> None:
                with pytest.raises(ConnectionClosed):
                    await ws.send_message("the peer never reads this")

            nursery.start_soon(stuck_writer)
            await trio.testing.wait_all_tasks_blocked()
            await ws.aclose()
    assert ws.closed is not None and ws.closed.code == 1006


# --- the native socket stream and the direct write path (issue 7) --------------------------


def small_send_buffer(ws: WebSocket, size: int = 64 * 1024) -> None:
    stream = ws._stream
    assert isinstance(stream, NativeSocketStream)
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


class Collector:
    """A raw server's side (for :func:`raw_server`) that keeps the client's complete
    messages and control frames in order, and reads only while ``reading`` is set."""

    def __init__(self, *, reading: bool = True) -> None:
        self.messages: list[str | bytes] = []
        self.controls: list[tuple[int, bytes]] = []
        self.reading = trio.Event()
        if reading:
            self.reading.set()
        self.ready = trio.Event()
        self.peer: Peer | None = None
        self._lot = trio.lowlevel.ParkingLot()

    async def handler(self, peer: Peer) -> None:
        self.peer = peer
        self.ready.set()
        await self.reading.wait()
        while True:
            message = await peer.read_message()
            if isinstance(message, tuple):
                if message[0] == 8:
                    await peer.send(frame(8, message[1]))
                    return
                self.controls.append(message)
            else:
                self.messages.append(message)
            self._lot.unpark_all()

    async def wait_for(self, count: int) -> list[str | bytes]:
        while len(self.messages) < count:
            await self._lot.park()
        return self.messages


async def test_try_send_message_writes_nothing_while_another_write_holds_the_lock() -> None:
    collector = Collector(reading=False)
    big = b"B" * (4 * 1024 * 1024)
    with trio.fail_after(20):
        async with raw_server(collector.handler) as url, open_connection(url) as ws:
            small_send_buffer(ws)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ws.send_message, big)
                await trio.testing.wait_all_tasks_blocked()  # blocked: the peer reads nothing
                assert ws._lock.locked()
                assert ws.try_send_message("never") is None
                collector.reading.set()
            assert ws.try_send_message("after") is True
            assert await collector.wait_for(2) == [big, "after"]
            assert ws.closed is None


async def test_try_send_message_writes_nothing_while_control_frames_are_pending() -> None:
    collector = Collector(reading=False)
    with trio.fail_after(10):
        async with raw_server(collector.handler) as url, open_connection(url) as ws:
            await collector.ready.wait()
            assert collector.peer is not None
            ws._lock.acquire_nowait()
            await collector.peer.send(frame(9, b"pp"), text("hello"))
            assert await ws.get_message() == "hello"
            assert ws.try_send_message("never") is None  # the lock is taken
            ws._lock.release()
            assert ws._pending
            # The pong must go out before any data frame: no direct write now.
            assert ws.try_send_message("never") is None
            await ws.send_message("after")  # writes the pong, then this
            assert not ws._pending
            collector.reading.set()
            assert await collector.wait_for(1) == ["after"]
    assert collector.controls[:1] == [(10, b"pp")]


async def test_try_send_message_on_a_reset_connection_reports_1006() -> None:
    async def reset(peer: Peer) -> None:
        stream = peer.stream
        assert isinstance(stream, trio.SocketStream)
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()  # RST

    with trio.fail_after(10):
        async with raw_server(reset) as url, open_connection(url) as ws:
            stream = ws._stream
            assert isinstance(stream, NativeSocketStream)
            await trio.lowlevel.wait_readable(stream.socket)  # the RST arrived
            assert ws.try_send_message("lost") is None  # nothing known written
            assert ws.closed is not None and ws.closed.code == 1006
            with pytest.raises(ConnectionClosed):
                await ws.send_message("after")
            with pytest.raises(ConnectionClosed):
                await ws.get_message()


async def test_try_send_message_without_try_send_is_none() -> None:
    ws, peer = await memory_pair()
    with trio.fail_after(10):
        assert ws.try_send_message("never") is None
        await ws.send_message("sent")
        assert await peer.read_message() == "sent"


async def test_try_send_message_refuses_bad_input_and_sends_nothing() -> None:
    collector = Collector()
    with trio.fail_after(10):
        async with raw_server(collector.handler) as url, open_connection(url) as ws:
            with pytest.raises(TypeError, match="str or bytes"):
                ws.try_send_message(3)  # type: ignore[arg-type]
            with pytest.raises(UnicodeEncodeError):
                ws.try_send_message("lone \udc80 surrogate")
            assert ws.try_send_message("next") is True
            assert await collector.wait_for(1) == ["next"]
            assert ws.closed is None


@pytest.mark.parametrize("secure", [False, True])
async def test_a_partial_try_send_message_is_finished_before_anything_else(secure: bool) -> None:
    collector = Collector(reading=False)
    server_context, client_context = tls_contexts() if secure else (None, None)
    big = "x" * (4 * 1024 * 1024)
    with trio.fail_after(30):
        async with tls_raw_server(collector.handler, server_context) as url, open_connection(
            url, ssl_context=client_context
        ) as ws:
            small_send_buffer(ws)
            # Committed, partly written: the stream owns the rest of the frame.
            assert ws.try_send_message(big) is False
            stream = ws._stream
            assert isinstance(stream, NativeSocketStream) and stream.unfinished
            assert ws.try_send_message("never") is None
            collector.reading.set()
            await ws.send_messages([])
            assert not stream.unfinished
            await ws.send_messages(["after"])
            assert await collector.wait_for(2) == [big, "after"]
            assert ws.closed is None


@asynccontextmanager
async def tls_raw_server(handler: Callable[[Peer], Awaitable[None]],
                         context: ssl.SSLContext | None) -> AsyncIterator[str]:
    """:func:`raw_server`, over TLS when ``context``."""
    if context is None:
        async with raw_server(handler) as url:
            yield url
        return

    async def serve(tcp: trio.SocketStream) -> None:
        stream = trio.SSLStream(tcp, context, server_side=True)
        peer = Peer(stream)
        try:
            await peer.accept()
            await handler(peer)
        except (EOFError, trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
        yield f"wss://127.0.0.1:{listeners[0].socket.getsockname()[1]}/"
        nursery.cancel_scope.cancel()


async def test_direct_and_queued_writes_keep_their_order() -> None:
    collector = Collector()
    big = "B" * (4 * 1024 * 1024)
    with trio.fail_after(20):
        async with raw_server(collector.handler) as url, open_connection(url) as ws:
            small_send_buffer(ws)
            assert ws.try_send_message("1") is True
            await ws.send_messages(["2", "3"])
            assert ws.try_send_message("4") is True
            await ws.send_message("5")
            await collector.wait_for(5)
            assert ws.try_send_message(big) is False
            await ws.send_messages(["6"])  # the rest of the big frame goes first
            await collector.wait_for(7)
            assert ws.try_send_message("7") is True
            await ws.send_messages([])
            assert ws.try_send_message(b"8") is True
            assert await collector.wait_for(9) == ["1", "2", "3", "4", "5", big, "6", "7", b"8"]


# --- MessageConnection: a message-level connection behind the same interface ----------------


async def test_message_connection_over_trio_websocket() -> None:
    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message(await ws.get_message())
        await ws.send_message(await ws.get_message())
        await ws.aclose(1011, "done here")

    with trio.fail_after(10):
        async with ws_server(handler) as url, trio_websocket.open_websocket_url(url) as inner:
            conn = MessageConnection(inner)
            assert conn.closed is None and conn.try_send_message("x") is None
            await conn.send_messages(["one", b"two"])
            assert [await conn.get_message(), await conn.get_message()] == ["one", b"two"]
            with pytest.raises(ConnectionClosed) as info:
                await conn.get_message()
            assert (info.value.code, info.value.reason) == (1011, "done here")
            assert type(info.value) is ConnectionClosed and info.value.__cause__ is None
            with pytest.raises(ConnectionClosed):
                await conn.send_message("late")
            assert conn.closed is not None and conn.closed.code == 1011
            await conn.aclose()
            await conn.aclose()
            with pytest.raises(TypeError):
                await conn.send_message(3)  # type: ignore[arg-type]


async def test_message_connection_translates_stream_errors_to_1006() -> None:
    class Broken:
        closed = None

        async def get_message(self) -> str:
            raise trio.BrokenResourceError("reset")

        async def send_message(self, message: str | bytes) -> None:
            raise trio.ClosedResourceError("closed")

        async def ping(self, payload: bytes | None = None) -> None:
            raise OSError("gone")

        async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
            raise trio.BrokenResourceError("reset")

    conn = MessageConnection(Broken())
    for call in (conn.get_message(), conn.send_message("x"), conn.ping()):
        with pytest.raises(ConnectionClosed) as info:
            await call
        assert info.value.code == 1006
    await conn.aclose()
    assert conn.closed is not None and conn.closed.code == 1006 and "reset" in conn.closed.reason


# --- any bytes from the server: messages, then ConnectionClosed, nothing else (h11's rule) --

_texts = st.text(max_size=200)
_valid = st.one_of(
    _texts.map(lambda t: (text(t), [t])),
    st.binary(max_size=300).map(lambda b: (frame(2, b), [b])),
    st.binary(min_size=65530, max_size=65540).map(lambda b: (frame(2, b), [b])),
    st.binary(max_size=125).map(lambda p: (frame(9, p), [])),
    st.binary(max_size=125).map(lambda p: (frame(10, p), [])),
    # A text cut anywhere (inside a character too), with a ping between the fragments.
    st.tuples(_texts, st.integers(0, 800)).map(lambda t: (
        frame(1, t[0].encode()[:t[1]], fin=False) + frame(9, b"p")
        + frame(0, t[0].encode()[t[1]:]), [t[0]])),
    st.lists(st.binary(max_size=50), min_size=2, max_size=6).map(lambda parts: (
        frame(2, parts[0], fin=False) + b"".join(frame(0, p, fin=False) for p in parts[1:-1])
        + frame(0, parts[-1]), [b"".join(parts)])),
)
_invalid = st.sampled_from([
    frame(2, b"h", rsv=4), frame(1, b"hi", mask=True), frame(3, b""), frame(0, b"stray"),
    frame(1, b"\xc3\x28"), frame(9, b"p" * 126), close_frame(1005), frame(8, b"\x03"),
    text("a", fin=False) + text("b"), b"\x82\x7f\x80" + bytes(7),
])
_end = st.one_of(st.just((b"", None)), st.sampled_from([1000, 1001, 1011, 4000]).map(
    lambda code: (close_frame(code, b"bye"), code)))


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


async def observe(data: bytes, points: list[int]) -> tuple[list[str | bytes], ConnectionClosed]:
    """What a client sees when the server sends ``data`` in these reads, then ends."""
    ws, peer = await memory_pair()
    messages: list[str | bytes] = []
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:

            async def serve() -> None:
                for chunk in cut(data, points):
                    await peer.send(chunk)
                    await trio.testing.wait_all_tasks_blocked()
                await peer.stream.aclose()

            nursery.start_soon(serve)
            with pytest.raises(ConnectionClosed) as info:  # and never another exception
                while True:
                    messages.append(await ws.get_message())
    await ws.aclose()
    return messages, info.value


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(_valid, max_size=8), end=_end,
       points=st.lists(st.integers(0, 1 << 17), max_size=6))
async def test_valid_frames_cut_anywhere_give_exactly_their_messages(
    items: list[tuple[bytes, list[str | bytes]]], end: tuple[bytes, int | None],
    points: list[int],
) -> None:
    data = b"".join(wire for wire, _ in items) + end[0]
    messages, closed = await observe(data, points)
    assert messages == [m for _, ms in items for m in ms]
    assert closed.code == (end[1] or 1006) and closed.remote_error is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.lists(_valid, max_size=4), bad=_invalid, after=st.lists(_valid, max_size=3),
       points=st.lists(st.integers(0, 1 << 17), max_size=6))
async def test_an_invalid_frame_ends_with_a_remote_error_after_the_messages_before_it(
    before: list[tuple[bytes, list[str | bytes]]], bad: bytes,
    after: list[tuple[bytes, list[str | bytes]]], points: list[int],
) -> None:
    data = b"".join(w for w, _ in before) + bad + b"".join(w for w, _ in after)
    messages, closed = await observe(data, points)
    assert messages == [m for _, ms in before for m in ms]
    assert closed.code in (1002, 1007, 1009) and closed.remote_error
