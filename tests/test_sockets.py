"""``NativeSocketStream`` (``_sockets.py``, issue 7) over loopback TCP and TLS.

The stream drives a non-blocking socket (an ``ssl.SSLSocket`` for TLS) itself. These tests
hold it to Trio's stream contract (``trio.testing.check_two_way_stream``, native on both
ends and against Trio's own ``SocketStream`` / ``SSLStream``), to its own additions
(``try_send``, ``unfinished``, reading every TLS record available) and to Trio's checkpoint
rules (counted task steps). Certificates come from ``trustme``; everything is loopback.
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
import ssl
import struct
import termios
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
import trustme

from trio_gemini_live import _sockets
from trio_gemini_live._sockets import NativeSocketStream, native_stream

CA = trustme.CA()
CERT = CA.issue_cert("localhost", "127.0.0.1")
SMALL_BUFFER = 64 * 1024
BIG = 4 * 1024 * 1024


def contexts(cert: trustme.LeafCert = CERT) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """``(server, client)``: ``cert`` served, and a verifying client that trusts the CA."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    client = ssl.create_default_context()
    CA.configure_trust(client)
    return server, client


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def shrink(stream: trio.SocketStream | NativeSocketStream, size: int = SMALL_BUFFER) -> None:
    """Small kernel buffers: writes of a few MB have to wait (and partial writes happen)."""
    sock: Any = stream.socket
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


async def tcp_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    """A connected loopback ``(client, server)`` pair of Trio socket streams."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    try:
        port = listeners[0].socket.getsockname()[1]
        client = await trio.open_tcp_stream("127.0.0.1", port)
        server = await listeners[0].accept()
    finally:
        await listeners[0].aclose()
    assert isinstance(server, trio.SocketStream)
    return client, server


def native_server(tcp: trio.SocketStream, context: ssl.SSLContext) -> NativeSocketStream:
    """The server's side as a NativeSocketStream too (``native_stream`` makes clients)."""
    sock = socket.socket(fileno=tcp.socket.detach())
    tls = context.wrap_socket(
        sock, server_side=True, do_handshake_on_connect=False, suppress_ragged_eofs=True
    )
    return NativeSocketStream(tls)


async def native_pair(kind: str) -> tuple[NativeSocketStream, NativeSocketStream]:
    """``(client, server)``, both NativeSocketStreams, TLS handshake done for ``"tls"``."""
    client_tcp, server_tcp = await tcp_pair()
    if kind == "tcp":
        return native_stream(client_tcp), native_stream(server_tcp)
    server_context, client_context = contexts()
    client = native_stream(client_tcp, client_context, "localhost")
    server = native_server(server_tcp, server_context)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.do_handshake)
        nursery.start_soon(server.do_handshake)
    return client, server


async def trio_peer_pair(
    kind: str, *, small: bool = False
) -> tuple[NativeSocketStream, trio.abc.Stream]:
    """A NativeSocketStream client against Trio's own stream as the server (``SocketStream``,
    or ``SSLStream(server_side=True)`` for ``"tls"``)."""
    client_tcp, server_tcp = await tcp_pair()
    if small:
        shrink(client_tcp)
        shrink(server_tcp)
    if kind == "tcp":
        return native_stream(client_tcp), server_tcp
    server_context, client_context = contexts()
    client = native_stream(client_tcp, client_context, "localhost")
    server = trio.SSLStream(server_tcp, server_context, server_side=True)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.do_handshake)
        nursery.start_soon(server.do_handshake)
    return client, server


def fill(stream: NativeSocketStream) -> None:
    """Write with ``try_send`` until the socket has no room (or TLS holds a partial write)."""
    while stream.try_send(b"x" * 65536) is True:
        pass


async def receive_exactly(stream: trio.abc.ReceiveStream, size: int, chunk: int = 65536) -> bytes:
    got = bytearray()
    while len(got) < size:
        data = await stream.receive_some(min(chunk, size - len(got)))
        assert data, f"the stream ended after {len(got)} of {size} bytes"
        got += data
    return bytes(got)


async def slow_receive(stream: trio.abc.ReceiveStream, size: int) -> bytes:
    """Read ``size`` bytes 16 KiB at a time, each read only once every other task is blocked
    (so the writer has filled the socket and waits for room before each read)."""
    got = bytearray()
    while len(got) < size:
        await trio.testing.wait_all_tasks_blocked()
        data = await stream.receive_some(min(16384, size - len(got)))
        assert data, f"the stream ended after {len(got)} of {size} bytes"
        got += data
    return bytes(got)


async def received_while(
    receive: Callable[[trio.abc.ReceiveStream, int], Awaitable[bytes]],
    stream: trio.abc.ReceiveStream,
    size: int,
    send: Callable[[], Awaitable[object]],
) -> bytes:
    """What ``receive`` reads of ``stream`` (``size`` bytes) while ``send()`` runs."""
    got: list[bytes] = []

    async def reader() -> None:
        got.append(await receive(stream, size))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        await send()
    return got[0]


class WaitCounter:
    """Counts the stream's waits for the socket (the module's wait_readable/wait_writable)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.readable = 0
        self.writable = 0
        real_readable = _sockets.wait_readable  # type: ignore[attr-defined]
        real_writable = _sockets.wait_writable  # type: ignore[attr-defined]

        async def wait_readable(sock: Any) -> None:
            self.readable += 1
            await real_readable(sock)

        async def wait_writable(sock: Any) -> None:
            self.writable += 1
            await real_writable(sock)

        monkeypatch.setattr(_sockets, "wait_readable", wait_readable)
        monkeypatch.setattr(_sockets, "wait_writable", wait_writable)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> WaitCounter:
    return WaitCounter(monkeypatch)


class StepCounter(trio.abc.Instrument):
    """Counts the steps of one task: each schedule point it passes starts a new step."""

    def __init__(self, task: trio.lowlevel.Task) -> None:
        self.task = task
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task is self.task:
            self.steps += 1


@asynccontextmanager
async def counting_steps() -> AsyncIterator[Callable[[Awaitable[Any]], Awaitable[tuple[Any, int]]]]:
    """Yields ``measure(awaitable) -> (result, schedule points it took)`` for this task."""
    counter = StepCounter(trio.lowlevel.current_task())
    trio.lowlevel.add_instrument(counter)

    async def measure(call: Awaitable[Any]) -> tuple[Any, int]:
        before = counter.steps
        result = await call
        return result, counter.steps - before

    try:
        yield measure
    finally:
        trio.lowlevel.remove_instrument(counter)


def kernel_bytes_waiting(stream: NativeSocketStream) -> int:
    """Bytes in the socket's receive queue (not yet read by OpenSSL or us)."""
    buf = fcntl.ioctl(stream.socket.fileno(), termios.FIONREAD, struct.pack("i", 0))
    value: int = struct.unpack("i", buf)[0]
    return value


async def until_bytes_waiting(stream: NativeSocketStream, count: int) -> None:
    """Poll until the kernel holds ``count`` bytes for ``stream`` (bounded by the caller's
    ``fail_after``; loopback delivers at once, so this rarely loops)."""
    while kernel_bytes_waiting(stream) < count:  # noqa: ASYNC110 - no event for this
        await trio.sleep(0.001)


async def settle(client: NativeSocketStream, server: trio.abc.Stream) -> None:
    """A round trip, so the client's kernel buffer holds nothing (TLS 1.3 session tickets
    included) before a test counts the bytes waiting in it."""
    await server.send_all(b"!")
    assert await client.receive_some(10) == b"!"
    assert kernel_bytes_waiting(client) == 0


KINDS = pytest.mark.parametrize("kind", ["tcp", "tls"])


# --- Trio's generic stream contract ------------------------------------------------------


@KINDS
async def test_trio_stream_contract_native_on_both_ends(kind: str) -> None:
    async def maker() -> tuple[NativeSocketStream, NativeSocketStream]:
        return await native_pair(kind)

    async def clogged() -> tuple[NativeSocketStream, NativeSocketStream]:
        # Both directions (check_two_way_stream also runs the flipped pair).
        client, server = await native_pair(kind)
        fill(client)
        fill(server)
        return client, server

    with trio.fail_after(60):
        await trio.testing.check_two_way_stream(maker, clogged)


@KINDS
async def test_trio_stream_contract_against_trios_own_streams(kind: str) -> None:
    async def maker() -> tuple[trio.abc.Stream, trio.abc.Stream]:
        return await trio_peer_pair(kind)

    with trio.fail_after(60):
        await trio.testing.check_two_way_stream(maker, None)


# --- data: small and large, both ways, a slow peer ---------------------------------------


@KINDS
async def test_small_messages_round_trip(kind: str) -> None:
    with trio.fail_after(10):
        client, server = await trio_peer_pair(kind)
        for size in (1, 2, 100, 16383, 16384, 16385, 70000):
            data = payload(size, seed=size)
            await client.send_all(data)
            assert await receive_exactly(server, size) == data
            await server.send_all(data[::-1])
            assert await receive_exactly(client, size) == data[::-1]
        # bytearray and memoryview are written as they are.
        await client.send_all(bytearray(b"ba"))
        await client.send_all(memoryview(b"xmvx")[1:3])
        assert await receive_exactly(server, 4) == b"bamv"
        await client.aclose()
        await server.aclose()


@KINDS
async def test_megabytes_both_ways_while_the_peer_reads_slowly(
    kind: str, waits: WaitCounter
) -> None:
    out, back = payload(BIG, seed=1), payload(3 * 1024 * 1024, seed=2)
    with trio.fail_after(60):
        client, server = await trio_peer_pair(kind, small=True)
        received: dict[str, bytes] = {}

        async def peer_reads() -> None:
            received["server"] = await slow_receive(server, len(out))

        async def client_reads() -> None:
            received["client"] = await receive_exactly(client, len(back), chunk=7000)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer_reads)
            nursery.start_soon(client_reads)
            nursery.start_soon(server.send_all, back)
            await client.send_all(out)  # 4 MB into a 16 KiB socket: waits for room
        await client.aclose()
        await server.aclose()
    assert received["server"] == out
    assert received["client"] == back
    assert waits.writable > 0  # the send waited for room: the slow path was taken


@KINDS
async def test_large_payloads_native_on_both_ends_with_small_buffers(kind: str) -> None:
    data = payload(BIG, seed=3)
    with trio.fail_after(60):
        client, server = await native_pair(kind)
        shrink(client)
        shrink(server)
        got = [await received_while(
            slow_receive, server, len(data), lambda: client.send_all(memoryview(data)))]
        await client.aclose()
        await server.aclose()
    assert got == [data]


# --- try_send ------------------------------------------------------------------------------


async def test_try_send_true_then_none_when_the_tcp_socket_is_full() -> None:
    with trio.fail_after(30):
        client, server = await trio_peer_pair("tcp", small=True)
        assert client.try_send(b"first") is True
        assert not client.unfinished
        assert await receive_exactly(server, 5) == b"first"
        # Fill the socket by writing directly until the kernel refuses; then a one-byte
        # try_send (all or nothing) must write nothing: None, and the stream owns nothing.
        sent = bytearray()
        while True:
            while True:
                try:
                    sent += b"f" * client.socket.send(b"f" * 65536)
                except BlockingIOError:
                    break
            result = client.try_send(b"n")
            if result is None:
                break
            assert result is True  # room appeared meanwhile (ACKs): fill again
            sent += b"n"
        assert not client.unfinished
        got = [await received_while(
            receive_exactly, server, len(sent) + 4, lambda: client.send_all(b"tail"))]
    assert got == [bytes(sent) + b"tail"]


@KINDS
async def test_try_send_partial_write_is_finished_first_by_send_all(kind: str) -> None:
    big = payload(BIG, seed=4)
    with trio.fail_after(60):
        client, server = await trio_peer_pair(kind, small=True)
        # Far more than the socket holds: part of it is written (TLS: given to OpenSSL,
        # which wrote some records) and the stream owns the rest.
        assert client.try_send(big) is False
        assert client.unfinished
        # Nothing else may go out before the rest: further try_sends write nothing.
        assert client.try_send(b"jump the queue") is None
        got = [await received_while(
            slow_receive, server, len(big) + 4, lambda: client.send_all(b"tail"))]
        assert not client.unfinished
        # And it is usable as before.
        assert client.try_send(b"again") is True
        assert await receive_exactly(server, 5) == b"again"
    assert got == [big + b"tail"]


@KINDS
async def test_send_all_of_nothing_flushes_what_try_send_left(kind: str) -> None:
    big = payload(2 * 1024 * 1024, seed=5)
    with trio.fail_after(60):
        client, server = await trio_peer_pair(kind, small=True)
        assert client.try_send(big) is False
        got = [await received_while(slow_receive, server, len(big), lambda: client.send_all(b""))]
        assert not client.unfinished
    assert got == [big]


async def test_try_send_over_a_full_tls_socket_commits_the_data() -> None:
    # Over TLS OpenSSL takes the data as soon as it can encrypt it, so a full socket gives
    # False (committed, finished by the next send_all), then None while that is pending.
    with trio.fail_after(60):
        client, server = await trio_peer_pair("tls", small=True)
        sent = bytearray()
        result: bool | None = True
        while result is True:
            chunk = payload(65536, seed=len(sent))
            result = client.try_send(chunk)
            assert result is not None  # never "nothing written" for a fresh TLS write
            sent += chunk
        assert client.unfinished
        assert client.try_send(b"no") is None
        got = [await received_while(
            slow_receive, server, len(sent) + 3, lambda: client.send_all(b"end"))]
    assert got == [bytes(sent) + b"end"]


@KINDS
async def test_try_send_writes_nothing_while_another_write_is_under_way(kind: str) -> None:
    with trio.fail_after(30):
        client, server = await trio_peer_pair(kind, small=True)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.send_all, payload(BIG, seed=6))
            await trio.testing.wait_all_tasks_blocked()  # the send waits for room
            assert not client.unfinished  # so only the write under way stops try_send
            assert client.try_send(b"no") is None
            nursery.cancel_scope.cancel()
        await client.aclose()
        await server.aclose()


async def test_try_send_after_aclose_writes_nothing() -> None:
    with trio.fail_after(10):
        client, server = await trio_peer_pair("tcp")
        await client.aclose()
        assert client.try_send(b"x") is None
        assert await server.receive_some(10) == b""


async def test_try_send_on_a_reset_connection_is_broken() -> None:
    with trio.fail_after(10):
        client, server = await trio_peer_pair("tcp")
        assert isinstance(server, trio.SocketStream)
        # An abortive close: the peer's kernel answers with RST.
        server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await server.aclose()
        await trio.lowlevel.wait_readable(client.socket)  # the RST arrived
        with pytest.raises(trio.BrokenResourceError):
            for _ in range(10):  # the first write may still be taken before the error
                client.try_send(b"x")
        with pytest.raises(trio.BrokenResourceError):
            await client.send_all(b"y")
        await client.aclose()


# --- TLS specifics -------------------------------------------------------------------------


async def test_tls_end_without_close_notify_is_the_end() -> None:
    with trio.fail_after(10):
        client, server = await trio_peer_pair("tls")
        assert isinstance(server, trio.SSLStream)
        await server.send_all(b"last words")
        # The transport goes away with no close_notify (servers often skip it).
        await server.transport_stream.aclose()
        assert await receive_exactly(client, 10) == b"last words"
        assert await client.receive_some(100) == b""
        assert await client.receive_some(100) == b""  # and stays at the end
        await client.aclose()


async def test_tls_close_notify_is_the_end() -> None:
    with trio.fail_after(10):
        client, server = await trio_peer_pair("tls")
        await server.send_all(b"bye")
        await server.aclose()  # Trio's SSLStream sends close_notify
        assert await receive_exactly(client, 3) == b"bye"
        assert await client.receive_some(100) == b""
        await client.aclose()


async def test_tls_read_takes_every_record_available_up_to_max_bytes() -> None:
    with trio.fail_after(10):
        client, server = await trio_peer_pair("tls")
        assert client.socket.version() == "TLSv1.3"  # type: ignore[attr-defined]
        await settle(client, server)
        # Three records (one per send_all), all in the client's kernel buffer before it reads.
        for letter in b"abc":
            await server.send_all(bytes([letter]) * 100)
        await until_bytes_waiting(client, 3 * 100 + 3 * 22)  # 22: a TLS 1.3 record's overhead
        # One call returns what the wake-up brought, across records, up to max_bytes...
        assert await client.receive_some(150) == b"a" * 100 + b"b" * 50
        # ...and the rest (OpenSSL's buffered part of "b", then "c") in one call too.
        assert await client.receive_some(65536) == b"b" * 50 + b"c" * 100
        await client.aclose()
        await server.aclose()


@pytest.mark.parametrize("case", ["untrusted", "hostname mismatch"])
async def test_a_certificate_that_fails_verification_is_a_verification_error(case: str) -> None:
    if case == "untrusted":
        server_context, _ = contexts()
        client_context = ssl.create_default_context()  # the system store: not our test CA
        expected = "certificate verify failed"
    else:
        server_context, client_context = contexts(CA.issue_cert("example.org"))
        expected = "mismatch"
    with trio.fail_after(10):
        client_tcp, server_tcp = await tcp_pair()
        client = native_stream(client_tcp, client_context, "localhost")
        server = trio.SSLStream(server_tcp, server_context, server_side=True)
        async with trio.open_nursery() as nursery:

            async def serve() -> None:
                with pytest.raises(trio.BrokenResourceError):
                    await server.do_handshake()

            nursery.start_soon(serve)
            with pytest.raises(ssl.SSLCertVerificationError) as info:
                await client.do_handshake()
        assert expected in str(info.value).lower()
        await client.aclose()
        await trio.aclose_forcefully(server)


async def test_a_handshake_with_a_non_tls_peer_is_broken() -> None:
    _, client_context = contexts()
    with trio.fail_after(10):
        client_tcp, server_tcp = await tcp_pair()
        client = native_stream(client_tcp, client_context, "localhost")
        async with trio.open_nursery() as nursery:

            async def not_tls() -> None:
                await server_tcp.receive_some(65536)  # the ClientHello
                await server_tcp.send_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                await server_tcp.aclose()

            nursery.start_soon(not_tls)
            with pytest.raises(trio.BrokenResourceError) as info:
                await client.do_handshake()
        assert isinstance(info.value.__cause__, (ssl.SSLError, OSError))
        await client.aclose()


async def test_a_receive_cancelled_mid_record_loses_nothing() -> None:
    # OpenSSL holds half a record when the read is cancelled; the next read completes it.
    server_context, client_context = contexts()
    gate = trio.Event()
    first_half = trio.Event()

    class HalfThenRest(trio.abc.Stream):
        """The server's transport: each write's second half waits for ``gate``."""

        def __init__(self, inner: trio.SocketStream) -> None:
            self.inner = inner
            self.split = False

        async def send_all(self, data: bytes | bytearray | memoryview) -> None:
            if not self.split:
                await self.inner.send_all(data)
                return
            half = len(data) // 2
            await self.inner.send_all(data[:half])
            first_half.set()
            await gate.wait()
            await self.inner.send_all(data[half:])

        async def wait_send_all_might_not_block(self) -> None:  # pragma: no cover
            await self.inner.wait_send_all_might_not_block()

        async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
            return await self.inner.receive_some(max_bytes)

        async def aclose(self) -> None:
            await self.inner.aclose()

    with trio.fail_after(10):
        client_tcp, server_tcp = await tcp_pair()
        transport = HalfThenRest(server_tcp)
        client = native_stream(client_tcp, client_context, "localhost")
        server = trio.SSLStream(transport, server_context, server_side=True)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.do_handshake)
            nursery.start_soon(server.do_handshake)
        await server.send_all(b"settle")
        assert await receive_exactly(client, 6) == b"settle"
        transport.split = True
        record = payload(10_000, seed=7)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.send_all, record)
            await first_half.wait()
            await until_bytes_waiting(client, 1)
            with trio.CancelScope() as scope:

                async def cancel_when_blocked() -> None:
                    await trio.testing.wait_all_tasks_blocked()
                    scope.cancel()

                nursery.start_soon(cancel_when_blocked)
                await client.receive_some(65536)  # takes the half record, then waits
            assert scope.cancelled_caught
            gate.set()
            assert await receive_exactly(client, len(record)) == record
        await client.aclose()
        await trio.aclose_forcefully(server)


# --- closing, concurrency, cancellation ------------------------------------------------


@KINDS
async def test_aclose_wakes_a_blocked_receiver_and_is_idempotent(kind: str) -> None:
    with trio.fail_after(10):
        client, server = await native_pair(kind)
        errors: list[BaseException] = []

        async def receive() -> None:
            try:
                await client.receive_some(100)
            except trio.ClosedResourceError as exc:
                errors.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive)
            await trio.testing.wait_all_tasks_blocked()
            await client.aclose()
        assert len(errors) == 1
        await client.aclose()
        await client.aclose()
        assert repr(client) == f"<NativeSocketStream {kind.upper()} closed>"
        # The peer sees the end (after close_notify for TLS).
        assert await server.receive_some(100) == b""
        await server.aclose()


@KINDS
async def test_aclose_wakes_a_blocked_sender(kind: str) -> None:
    with trio.fail_after(10):
        client, server = await native_pair(kind)
        fill(client)
        errors: list[BaseException] = []

        async def send() -> None:
            try:
                await client.send_all(b"y" * 100_000)
            except trio.ClosedResourceError as exc:
                errors.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send)
            await trio.testing.wait_all_tasks_blocked()
            await client.aclose()
        assert len(errors) == 1
        await server.aclose()


@KINDS
async def test_every_call_after_aclose_is_closed_resource_error(kind: str) -> None:
    with trio.fail_after(10):
        client, server = await native_pair(kind)
        await client.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await client.send_all(b"x")
        with pytest.raises(trio.ClosedResourceError):
            await client.send_all(b"")
        with pytest.raises(trio.ClosedResourceError):
            await client.receive_some(10)
        with pytest.raises(trio.ClosedResourceError):
            await client.wait_send_all_might_not_block()
        with pytest.raises(trio.ClosedResourceError):
            await client.do_handshake()
        assert client.try_send(b"x") is None
        await server.aclose()


@KINDS
async def test_a_cancelled_aclose_still_closes(kind: str) -> None:
    with trio.fail_after(10):
        client, server = await native_pair(kind)
        with trio.CancelScope() as scope:
            scope.cancel()
            await client.aclose()
        assert scope.cancelled_caught
        assert client.socket.fileno() == -1
        assert await server.receive_some(10) == b""
        await server.aclose()


@KINDS
async def test_two_concurrent_receivers_are_busy(kind: str) -> None:
    with trio.fail_after(10):
        client, server = await native_pair(kind)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.receive_some, 10)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(trio.BusyResourceError):
                await client.receive_some(10)
            nursery.cancel_scope.cancel()
        # The first reader was cancelled, not broken: the stream still works.
        await server.send_all(b"still")
        assert await receive_exactly(client, 5) == b"still"
        await client.aclose()
        await server.aclose()


@KINDS
async def test_two_concurrent_senders_are_busy(kind: str) -> None:
    with trio.fail_after(10):
        client, server = await native_pair(kind)
        fill(client)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.send_all, b"first")
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(trio.BusyResourceError):
                await client.send_all(b"second")
            assert client.try_send(b"third") is None
            nursery.cancel_scope.cancel()
        await client.aclose()
        await server.aclose()


@KINDS
async def test_a_cancelled_blocked_receive_leaves_the_stream_usable(kind: str) -> None:
    with trio.fail_after(10):
        client, server = await native_pair(kind)
        with trio.move_on_after(0.05) as scope:
            await client.receive_some(100)  # nothing comes: cancelled while waiting
        assert scope.cancelled_caught
        await server.send_all(b"later")
        assert await receive_exactly(client, 5) == b"later"
        await client.send_all(b"and back")
        assert await receive_exactly(server, 8) == b"and back"
        await client.aclose()
        await server.aclose()


# --- checkpoints ----------------------------------------------------------------------------


@KINDS
async def test_a_cancelled_call_raises_even_with_data_or_room_and_consumes_nothing(
    kind: str,
) -> None:
    with trio.fail_after(10):
        client, server = await native_pair(kind)
        await settle(client, server)
        await server.send_all(b"ready")
        await until_bytes_waiting(client, 5)
        with trio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(trio.Cancelled):
                await client.receive_some(100)
            with pytest.raises(trio.Cancelled):
                await client.send_all(b"never")
            with pytest.raises(trio.Cancelled):
                await client.do_handshake()
        # Nothing was read, nothing was written.
        assert await receive_exactly(client, 5) == b"ready"
        await client.send_all(b"sent")
        assert await receive_exactly(server, 4) == b"sent"
        await client.aclose()
        await server.aclose()


@KINDS
async def test_a_call_that_does_not_wait_is_exactly_one_schedule_point(
    kind: str, waits: WaitCounter
) -> None:
    with trio.fail_after(10):
        client, server = await native_pair(kind)
        await settle(client, server)
        await server.send_all(b"12345")
        await until_bytes_waiting(client, 5)
        client._drained = False  # settle's read emptied the socket: see the next test
        async with counting_steps() as measure:
            before = (waits.readable, waits.writable)
            data, steps = await measure(client.receive_some(100))
            assert (data, steps) == (b"12345", 1)
            _, steps = await measure(client.send_all(b"abc"))
            assert steps == 1
            _, steps = await measure(client.send_all(b""))
            assert steps == 1
            if kind == "tcp":
                _, steps = await measure(client.do_handshake())  # nothing to do
                assert steps == 1
            assert (waits.readable, waits.writable) == before
        assert await receive_exactly(server, 3) == b"abc"
        await client.aclose()
        await server.aclose()


@KINDS
async def test_after_a_read_that_emptied_the_socket_the_next_waits_before_reading(
    kind: str, waits: WaitCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A read that found the socket empty would cost a system call and an exception per
    # message: the stream remembers that the last read emptied it and waits first.
    with trio.fail_after(10):
        client, server = await native_pair(kind)
        await settle(client, server)
        assert client._drained
        counting = RecvCounter(client.socket)
        monkeypatch.setattr(client, "_sock", counting)
        async with counting_steps() as measure, trio.open_nursery() as nursery:

            async def send_when_blocked() -> None:
                await trio.testing.wait_all_tasks_blocked()
                await server.send_all(b"next")

            nursery.start_soon(send_when_blocked)
            before = waits.readable
            data, steps = await measure(client.receive_some(100))
        assert data == b"next"
        assert steps == 1
        assert waits.readable == before + 1
        # No read that found nothing: one recv for the data (and, over TLS, one that
        # finds no further record, which marks the socket empty again).
        assert counting.calls == (1 if kind == "tcp" else 2)
        assert client._drained
        # Data that arrived before the call is reported by the wait at once.
        await server.send_all(b"ready")
        await until_bytes_waiting(client, 5)
        data, steps = await measure_once(client.receive_some(100))
        assert (data, steps) == (b"ready", 1)
        monkeypatch.undo()
        await client.aclose()
        await server.aclose()


class RecvCounter:
    """A socket (plain or TLS) whose ``recv`` calls are counted; the rest is the socket's."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self.calls = 0

    def recv(self, size: int) -> bytes:
        self.calls += 1
        return bytes(self._sock.recv(size))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


async def measure_once(call: Awaitable[Any]) -> tuple[Any, int]:
    async with counting_steps() as measure:
        return await measure(call)


async def test_a_receive_that_waited_takes_no_extra_schedule_point() -> None:
    with trio.fail_after(10):
        client, server = await native_pair("tcp")
        async with counting_steps() as measure, trio.open_nursery() as nursery:

            async def send_when_blocked() -> None:
                await trio.testing.wait_all_tasks_blocked()
                await server.send_all(b"woke")

            nursery.start_soon(send_when_blocked)
            data, steps = await measure(client.receive_some(100))
        assert data == b"woke"
        assert steps == 1  # the wait was the schedule point
        await client.aclose()
        await server.aclose()


def test_try_send_is_synchronous() -> None:
    # Not a coroutine function: it can never be a schedule point.
    import inspect

    assert not inspect.iscoroutinefunction(NativeSocketStream.try_send)


# --- arguments, repr, taking over the socket ------------------------------------------------


@KINDS
async def test_receive_some_refuses_a_size_below_one(kind: str) -> None:
    with trio.fail_after(10):
        client, server = await native_pair(kind)
        await server.send_all(b"kept")
        for size in (0, -1):
            with pytest.raises(ValueError, match="max_bytes"):
                await client.receive_some(size)
        assert await receive_exactly(client, 4) == b"kept"
        await client.aclose()
        await server.aclose()


@KINDS
async def test_repr_says_tls_or_tcp_and_nothing_else(kind: str) -> None:
    with trio.fail_after(10):
        client, server = await native_pair(kind)
        port = str(client.socket.getpeername()[1])
        text = repr(client)
        assert text == f"<NativeSocketStream {kind.upper()} open>"
        for secret in ("127.0.0.1", "localhost", port, "BEGIN", "cert"):
            assert secret not in text
        await client.aclose()
        assert repr(client) == f"<NativeSocketStream {kind.upper()} closed>"
        await server.aclose()


async def test_native_stream_takes_over_the_descriptor() -> None:
    with trio.fail_after(10):
        client_tcp, server = await tcp_pair()
        fd = client_tcp.socket.fileno()
        stream = native_stream(client_tcp)
        assert client_tcp.socket.fileno() == -1  # detached: the old stream owns nothing
        assert stream.socket.fileno() == fd
        assert stream.socket.getblocking() is False
        await stream.send_all(b"mine now")
        assert await receive_exactly(server, 8) == b"mine now"
        await stream.aclose()
        assert await server.receive_some(10) == b""
        await server.aclose()


async def test_native_stream_closes_the_socket_when_tls_wrapping_fails() -> None:
    _, client_context = contexts()
    with trio.fail_after(10):
        client_tcp, server = await tcp_pair()
        # check_hostname without a host name: wrap_socket refuses.
        with pytest.raises(ValueError) as info:
            native_stream(client_tcp, client_context, "")
        # The traceback (kept alive by ``info``) holds native_stream's locals, so only an
        # explicit close (not the garbage collector) can have ended the connection.
        assert info.traceback
        assert await server.receive_some(10) == b""  # the descriptor was closed, not leaked
        del info
        await server.aclose()


# --- review findings (issue 7): TLS errors stay errors, the other direction is polled ----


async def test_a_tls_error_after_good_records_is_reported_by_every_later_read() -> None:
    # A valid record, then one whose authentication tag is wrong, both waiting when the read
    # starts: the good data comes first, then the error (OpenSSL itself would report a
    # clean end after it, which would hide the failure).
    with trio.fail_after(10):
        client, server = await native_pair("tls")
        await settle(client, server)
        await server.send_all(b"good")
        raw = socket.socket(fileno=os.dup(server.socket.fileno()))  # under OpenSSL
        try:
            raw.send(b"\x17\x03\x03\x00\x20" + bytes(32))  # application data, bad tag
        finally:
            raw.close()  # the duplicate only
        await until_bytes_waiting(client, 4 + 5 + 5 + 32)
        assert await client.receive_some(100) == b"good"
        for _ in range(2):
            with pytest.raises(trio.BrokenResourceError) as info:
                await client.receive_some(100)
            assert isinstance(info.value.__cause__, ssl.SSLError)
        await client.aclose()
        await trio.aclose_forcefully(server)


async def test_a_cancelled_tls_write_breaks_later_writes() -> None:
    # OpenSSL keeps part of a record after a cancelled write; a later write with other data
    # would go on from there (CPython allows a moving write buffer) and lose bytes silently.
    with trio.fail_after(20):
        client, server = await native_pair("tls")
        shrink(client)
        shrink(server)
        with trio.move_on_after(0.2) as cancelled:
            await client.send_all(payload(BIG, seed=7))  # the server does not read yet
        assert cancelled.cancelled_caught
        with pytest.raises(trio.BrokenResourceError, match="cancelled or failed"):
            await client.send_all(b"more")
        with pytest.raises(trio.BrokenResourceError):
            client.try_send(b"more")
        await client.aclose()
        await trio.aclose_forcefully(server)


async def test_a_cancelled_flush_of_committed_data_breaks_later_writes() -> None:
    with trio.fail_after(20):
        client, server = await native_pair("tcp")
        shrink(client)
        shrink(server)
        assert client.try_send(payload(BIG, seed=8)) is False  # part written, rest committed
        with trio.move_on_after(0.2) as cancelled:
            await client.send_all(b"")  # the server does not read: the rest cannot go
        assert cancelled.cancelled_caught
        with pytest.raises(trio.BrokenResourceError, match="committed"):
            await client.send_all(b"more")
        await client.aclose()
        await server.aclose()


async def test_a_tls_write_that_needs_to_read_polls_and_never_takes_the_readers_wait(
    waits: WaitCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A TLS write can need the read direction (a TLS 1.2 renegotiation). Waiting on it would
    # make the reading task's next wait fail with BusyResourceError (Trio allows one waiter
    # per direction); the write polls instead, whether or not a reader is there yet.
    with trio.fail_after(10):
        client, server = await native_pair("tls")
        await settle(client, server)
        wants_read = WantsRead(client.socket, times=20)
        monkeypatch.setattr(client, "_sock", wants_read)
        got: list[bytes] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.send_all, b"ping")
            await trio.sleep(0.005)  # the writer is in its retries, no reader yet

            async def reader() -> None:
                got.append(await client.receive_some(100))

            nursery.start_soon(reader)
            assert await receive_exactly(server, 4) == b"ping"
            await server.send_all(b"reply")
        assert got == [b"reply"]
        assert wants_read.refused == 20
        assert waits.writable == 0
        monkeypatch.undo()
        await client.aclose()
        await server.aclose()


class WantsRead:
    """A TLS socket whose first ``times`` sends say OpenSSL needs to read first."""

    def __init__(self, sock: Any, times: int) -> None:
        self._sock = sock
        self._times = times
        self.refused = 0

    def send(self, data: Any) -> int:
        if self.refused < self._times:
            self.refused += 1
            raise ssl.SSLWantReadError("the peer renegotiates")
        return int(self._sock.send(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
