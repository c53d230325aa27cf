"""TLS edge cases of ``NativeSocketStream`` and the WebSocket over it, against real OpenSSL peers.

Issue 11: ``openssl s_server`` in its own process (renegotiation where TLS 1.2 allows it, TLS
1.3 key updates, ``close_notify``, a TCP close without it, plaintext in the TLS stream), and
the ``ssl`` module as the server side in this process, writing records by hand through a
``MemoryBIO`` so that a record can be cut in two (truncation and cancellation mid-record,
``close_notify`` from the server). ``s_server -msg`` logs every TLS message it sends and
receives: the tests read there that a renegotiation or a key update really happened. Where
the ``openssl`` binary is missing, its tests are skipped and say so.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio.testing
import trustme

from trio_gemini_live._sockets import NativeSocketStream, native_stream
from trio_gemini_live._websocket import ConnectionClosed, WebSocket

OPENSSL = shutil.which("openssl")
#: s_server logs through C's stdio, block-buffered on a pipe, but writes what it receives
#: straight to the descriptor: coreutils' stdbuf unbuffers the log, so both stay in order
#: and nothing sits in a buffer while a test waits for it.
STDBUF = shutil.which("stdbuf")
needs_openssl = pytest.mark.skipif(
    OPENSSL is None or STDBUF is None,
    reason="the openssl binary (or coreutils' stdbuf) is missing: the tests against "
    "openssl s_server are skipped (install Debian's openssl package to run them)",
)
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CA = trustme.CA()
CERT = CA.issue_cert("127.0.0.1")


def client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    CA.configure_trust(context)
    return context


def server_frame(opcode: int, payload: bytes) -> bytes:
    """An unmasked server frame (payloads under 126 bytes here)."""
    assert len(payload) < 126
    return bytes((0x80 | opcode, len(payload))) + payload


class SServer:
    """``openssl s_server`` serving one connection: its stdin is what it sends over TLS (and
    its commands: ``r`` renegotiate, ``k``/``K`` key update, ``q`` close the TCP connection,
    ``P`` write plaintext into the TLS stream), its stdout what it received and its log."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.output = bytearray()
        self.port = 0
        self.ended = False  # its stdout ended: all of its output is here
        self._lot = trio.lowlevel.ParkingLot()

    async def pump(self) -> None:
        assert self.process.stdout is not None
        async for chunk in self.process.stdout:
            self.output += chunk
            self._lot.unpark_all()
        self.ended = True
        self._lot.unpark_all()

    async def wait_for(self, pattern: bytes, start: int = 0) -> re.Match[bytes]:
        """The first match of ``pattern`` in the output from ``start``, once it appears."""
        while True:
            match = re.compile(pattern, re.DOTALL).search(self.output, start)
            if match:
                return match
            if self.ended:
                raise AssertionError(f"s_server ended; its output: {bytes(self.output)!r}")
            await self._lot.park()

    async def send(self, data: bytes) -> None:
        """Data s_server sends (must not start with one of its command letters)."""
        assert data[:1] not in (b"q", b"Q", b"P", b"S") and data[1:2] not in (b"\n", b"\r")
        assert self.process.stdin is not None
        await self.process.stdin.send_all(data)

    async def command(self, letter: str) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(letter.encode() + b"\n")


@asynccontextmanager
async def s_server(version: str, tmp_path: Path) -> AsyncIterator[SServer]:
    pem = tmp_path / "server.pem"
    CERT.private_key_and_cert_chain_pem.write_to_path(str(pem))
    assert OPENSSL is not None and STDBUF is not None
    process = await trio.lowlevel.open_process(
        [STDBUF, "-o0", OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-cert", str(pem),
         "-naccept", "1", "-msg", f"-{version}"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    server = SServer(process)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.pump)
            match = await server.wait_for(rb"ACCEPT 127\.0\.0\.1:(\d+)\n")
            server.port = int(match[1])
            yield server
            nursery.cancel_scope.cancel()
    finally:
        process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()


async def connect(port: int) -> NativeSocketStream:
    tcp = await trio.open_tcp_stream("127.0.0.1", port)
    stream = native_stream(tcp, client_context(), "127.0.0.1")
    await stream.do_handshake()
    return stream


async def receive_until(stream: trio.abc.ReceiveStream, end: bytes) -> bytes:
    got = bytearray()
    while not got.endswith(end):
        data = await stream.receive_some(65536)
        assert data, f"the stream ended after {bytes(got)!r}"
        got += data
    return bytes(got)


# --- openssl s_server: renegotiation, key updates, close_notify, truncation ----------------


@needs_openssl
@pytest.mark.parametrize(("version", "command", "proof"), [
    ("tls1_2", "r", rb"HelloRequest.*<<< TLS 1\.2, Handshake \[length [0-9a-f]+\], ClientHello"),
    ("tls1_3", "k", rb">>> TLS 1\.3, Handshake \[length 0005\], KeyUpdate"),
    ("tls1_3", "K", rb">>> TLS 1\.3, Handshake \[length 0005\], KeyUpdate"
                    rb".*<<< TLS 1\.3, Handshake \[length 0005\], KeyUpdate"),
], ids=["tls1.2-renegotiation", "tls1.3-key-update", "tls1.3-key-update-requested"])
async def test_data_flows_both_ways_across_a_renegotiation_or_key_update(
    tmp_path: Path, version: str, command: str, proof: bytes
) -> None:
    # A writer keeps writing while the reader meets the server's HelloRequest or KeyUpdate:
    # a TLS 1.2 write during the renegotiation may need to read (it polls, never taking the
    # reader's wait); after a requested key update the client's next write carries its own.
    lines = [f"line {i:03}\n".encode() for i in range(200)]
    with trio.fail_after(30):
        async with s_server(version, tmp_path) as server:
            stream = await connect(server.port)
            expected = version.replace("tls", "TLSv").replace("_", ".")
            assert stream.socket.version() == expected  # type: ignore[attr-defined]
            await stream.send_all(b"hello server\n")
            await server.send(b"hello client\n")
            assert await receive_until(stream, b"hello client\n") == b"hello client\n"
            start = len(server.output)
            await server.command(command)
            await server.wait_for(rb"SSL_do_handshake -> 1", start)
            async with trio.open_nursery() as nursery:

                async def writer() -> None:
                    for line in lines:
                        await stream.send_all(line)

                nursery.start_soon(writer)
                await server.send(b"after the command\n")
                assert await receive_until(stream, b"after the command\n") == (
                    b"after the command\n")
            await stream.send_all(b"the end\n")
            await server.wait_for(rb"the end\n", start)
            assert re.search(proof, server.output[start:], re.DOTALL), server.output[start:]
            # Every line arrived, in order (s_server prints what it reads, between its log).
            received = re.findall(rb"line \d{3}\n", server.output[start:])
            assert received == lines
            await stream.aclose()


@needs_openssl
@pytest.mark.parametrize("version", ["tls1_2", "tls1_3"])
async def test_close_notify_from_the_client_is_a_clean_end_for_openssl(
    tmp_path: Path, version: str
) -> None:
    with trio.fail_after(30):
        async with s_server(version, tmp_path) as server:
            stream = await connect(server.port)
            await stream.send_all(b"bye\n")
            await server.wait_for(rb"bye\n")
            start = len(server.output)
            await stream.aclose()  # close_notify, then the TCP close
            # SSL_read saw SSL_ERROR_ZERO_RETURN (close_notify), not an unexpected EOF.
            await server.wait_for(rb"DONE\n", start)
            assert b"ERROR" not in server.output[start:]
            assert re.search(rb"<<< TLS 1\.[23], Alert \[length 0002\], warning close_notify",
                             server.output[start:]), server.output[start:]


@needs_openssl
async def test_a_tcp_close_without_close_notify_ends_the_stream_and_is_1006(
    tmp_path: Path,
) -> None:
    # s_server's "q" closes the socket before any close_notify. The stream reports the end
    # (a TCP end without close_notify counts as the end, as trio.SSLStream's
    # https_compatible=True does: WebSocket has its own close handshake); the WebSocket,
    # which saw no close frame, reports 1006, never a clean close.
    with trio.fail_after(30):
        async with s_server("tls1_3", tmp_path) as server:
            stream = await connect(server.port)
            await server.send(b"last\n")
            assert await receive_until(stream, b"last\n") == b"last\n"
            await server.command("q")
            assert await stream.receive_some(65536) == b""
            assert await stream.receive_some(65536) == b""
            await stream.aclose()
        async with s_server("tls1_3", tmp_path) as server:
            ws = await websocket_over_s_server(server)
            await server.send(server_frame(1, b"before the cut"))
            assert await ws.get_message() == "before the cut"
            await server.command("q")
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.code == 1006 and info.value.remote_error is None
            await ws.aclose()


@needs_openssl
async def test_plaintext_inside_the_tls_stream_breaks_it(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with s_server("tls1_3", tmp_path) as server:
            stream = await connect(server.port)
            await stream.send_all(b"x\n")
            await server.wait_for(rb"x\n")
            await server.command("P")  # "Lets print some clear text" on the raw socket
            with pytest.raises(trio.BrokenResourceError):
                await receive_until(stream, b"never")
            with pytest.raises(trio.BrokenResourceError):  # and stays broken
                await stream.receive_some(65536)
            await stream.aclose()
        async with s_server("tls1_3", tmp_path) as server:
            ws = await websocket_over_s_server(server)
            await server.command("P")
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.code == 1006
            await ws.aclose()


async def websocket_over_s_server(server: SServer, native: bool = True) -> WebSocket:
    """The WebSocket handshake with s_server relaying: the request read from its stdout, the
    101 answer written to its stdin."""
    tcp = await trio.open_tcp_stream("127.0.0.1", server.port)
    stream: trio.abc.Stream
    if native:
        stream = native_stream(tcp, client_context(), "127.0.0.1")
        await stream.do_handshake()
    else:
        stream = trio.SSLStream(tcp, client_context(), server_hostname="127.0.0.1",
                                https_compatible=True)
        await stream.do_handshake()

    async def answer() -> None:
        match = await server.wait_for(rb"GET / HTTP/1\.1\r\n.*?\r\n\r\n")
        key = re.search(rb"(?i)sec-websocket-key: *(\S+)", match[0])
        assert key is not None
        accept = base64.b64encode(hashlib.sha1(key[1] + GUID).digest())
        await server.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(answer)
        ws = await WebSocket.handshake(stream, f"127.0.0.1:{server.port}", "/")
    return ws


def client_frame(output: bytes | bytearray, payload_size: int, start: int) -> bytes | None:
    """The payload of the client's masked text frame of ``payload_size`` (< 126) bytes in
    s_server's output after ``start``, unmasked; ``None`` if it is not there yet."""
    at = output.find(bytes((0x81, 0x80 | payload_size)), start)
    if at < 0 or len(output) < at + 6 + payload_size:
        return None
    key = output[at + 2:at + 6]
    masked = output[at + 6:at + 6 + payload_size]
    return bytes(b ^ key[i % 4] for i, b in enumerate(masked))


@needs_openssl
@pytest.mark.parametrize("native", [True, False], ids=["native", "trio-SSLStream"])
@pytest.mark.parametrize(("version", "command"), [
    ("tls1_2", "r"), ("tls1_3", "k"), ("tls1_3", "K")])
async def test_a_websocket_over_openssl_across_renegotiation_and_key_updates(
    tmp_path: Path, version: str, command: str, native: bool
) -> None:
    with trio.fail_after(30):
        async with s_server(version, tmp_path) as server:
            ws = await websocket_over_s_server(server, native)
            await server.send(server_frame(1, b"first") + server_frame(2, b"\x00second"))
            assert await ws.get_message() == "first"
            assert await ws.get_message() == b"\x00second"
            start = len(server.output)
            await server.command(command)
            await server.wait_for(rb"SSL_do_handshake -> 1", start)
            sent = b"sent after the command"
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ws.send_messages, [sent.decode()])
                await server.send(server_frame(1, b"after the command"))
                assert await ws.get_message() == "after the command"
            while (payload := client_frame(server.output, len(sent), start)) is None:
                await server.wait_for(rb".", len(server.output))
            assert payload == sent
            # The server closes: our echo goes out over the renewed keys, then close_notify.
            await server.send(server_frame(8, b"\x03\xe8done"))
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert (info.value.code, info.value.reason) == (1000, "done")
            await server.wait_for(bytes((0x88, 0x86)), start)  # the masked echo, 6 bytes
            await ws.aclose()  # the close handshake is over: no wait
            if native:
                await server.wait_for(rb"DONE\n", start)  # close_notify: a clean TLS end
            else:
                # trio.SSLStream(https_compatible=True) closes without close_notify (as
                # HTTPS clients do); the WebSocket close handshake already ended it.
                await server.wait_for(rb"unexpected eof while reading", start)


# --- the ssl module as the server, records written by hand --------------------------------


class BioServer:
    """A TLS server (the ``ssl`` module, OpenSSL) whose records are bytes the test sends
    when and how it likes: in halves, followed by a close with or without close_notify."""

    def __init__(self, tcp: trio.SocketStream) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        CERT.configure_cert(context)
        self.tcp = tcp
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)

    async def _flush(self) -> None:
        data = self.outgoing.read()
        if data:
            await self.tcp.send_all(data)

    async def handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
                await self._flush()
                return
            except ssl.SSLWantReadError:
                await self._flush()
                self.incoming.write(await self.tcp.receive_some(65536))

    def record(self, data: bytes) -> bytes:
        """``data`` as the TLS record(s) that carry it (not sent)."""
        self.tls.write(data)
        return self.outgoing.read()

    def close_notify(self) -> bytes:
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            pass  # sent; the client's answer is not awaited
        return self.outgoing.read()

    async def read(self) -> bytes:
        while True:
            try:
                return self.tls.read(65536)
            except ssl.SSLWantReadError:
                data = await self.tcp.receive_some(65536)
                if not data:
                    return b""
                self.incoming.write(data)


@asynccontextmanager
async def bio_pair() -> AsyncIterator[tuple[NativeSocketStream, BioServer]]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    tcp = await trio.open_tcp_stream("127.0.0.1", port)
    accepted = await listeners[0].accept()
    await listeners[0].aclose()
    assert isinstance(accepted, trio.SocketStream)
    server = BioServer(accepted)
    client = native_stream(tcp, client_context(), "127.0.0.1")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.handshake)
        await client.do_handshake()
    try:
        yield client, server
    finally:
        await client.aclose()
        await accepted.aclose()


async def bio_websocket(client: NativeSocketStream, server: BioServer) -> WebSocket:
    async def answer() -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += await server.read()
        key = re.search(rb"(?i)sec-websocket-key: *(\S+)", request)
        assert key is not None
        accept = base64.b64encode(hashlib.sha1(key[1] + GUID).digest())
        await server.tcp.send_all(server.record(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(answer)
        # No close answer ever comes from this server: aclose need not wait for one.
        ws = await WebSocket.handshake(client, "127.0.0.1", "/", close_timeout=0.1)
    return ws


async def test_close_notify_from_the_server_ends_the_stream_cleanly() -> None:
    with trio.fail_after(10):
        async with bio_pair() as (client, server):
            await server.tcp.send_all(server.record(b"last") + server.close_notify())
            assert await receive_until(client, b"last") == b"last"
            assert await client.receive_some(65536) == b""
        # Over a WebSocket: a close frame, then close_notify and the TCP close: 1000.
        async with bio_pair() as (client, server):
            ws = await bio_websocket(client, server)
            await server.tcp.send_all(server.record(server_frame(8, b"\x03\xe8bye"))
                                      + server.close_notify())
            await server.tcp.aclose()
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert (info.value.code, info.value.reason, info.value.remote_error) == (
                1000, "bye", None)
            await ws.aclose()
            assert ws.closed is not None and ws.closed.code == 1000


async def test_close_notify_without_a_close_frame_is_1006() -> None:
    with trio.fail_after(10):
        async with bio_pair() as (client, server):
            ws = await bio_websocket(client, server)
            await server.tcp.send_all(server.record(server_frame(1, b"hi")) + server.close_notify())
            assert await ws.get_message() == "hi"
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.code == 1006
            await ws.aclose()


async def test_a_record_cut_by_a_tcp_close_is_never_a_clean_close() -> None:
    # The stream cannot tell a cut record from a TCP end between records (OpenSSL reports
    # both as an EOF without close_notify): the end. The WebSocket frame inside it is cut
    # short: 1006.
    with trio.fail_after(10):
        async with bio_pair() as (client, server):
            ws = await bio_websocket(client, server)
            record = server.record(server_frame(2, b"x" * 100) + server_frame(8, b"\x03\xe8"))
            await server.tcp.send_all(record[: len(record) // 2])
            await server.tcp.aclose()
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            assert info.value.code == 1006 and info.value.remote_error is None
            await ws.aclose()


async def test_a_get_message_cancelled_mid_record_loses_nothing() -> None:
    with trio.fail_after(10):
        async with bio_pair() as (client, server):
            ws = await bio_websocket(client, server)
            message = bytes(range(100)) * 20
            record = server.record(b"\x82\x7e" + len(message).to_bytes(2, "big") + message)
            await server.tcp.send_all(record[:1000])
            with trio.CancelScope() as scope:

                async def cancel_when_blocked() -> None:
                    await trio.testing.wait_all_tasks_blocked()
                    scope.cancel()

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(cancel_when_blocked)
                    await ws.get_message()  # OpenSSL takes the half record, then it waits
            assert scope.cancelled_caught and ws.closed is None
            await server.tcp.send_all(record[1000:])
            assert await ws.get_message() == message
            await ws.aclose()


async def test_a_tls_write_cancelled_mid_record_breaks_the_websocket() -> None:
    # The server reads nothing: the write blocks with part of a record given to the kernel
    # and the rest held by OpenSSL. Cancelled there, the framing (and TLS) are broken.
    with trio.fail_after(10):
        async with bio_pair() as (client, server):
            ws = await bio_websocket(client, server)
            with trio.CancelScope() as scope:

                async def cancel_when_blocked() -> None:
                    await trio.testing.wait_all_tasks_blocked()
                    scope.cancel()

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(cancel_when_blocked)
                    await ws.send_message("x" * (8 * 1024 * 1024))
            assert scope.cancelled_caught
            assert ws.closed is not None and ws.closed.code == 1006
            with pytest.raises(ConnectionClosed):
                await ws.send_message("after")
            assert ws.try_send_message("after") is None
            await ws.aclose()
