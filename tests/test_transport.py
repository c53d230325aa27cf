"""The lean WebSocket transport (``_transport.py``, issue 7) against real servers.

Most tests talk to trio-websocket's server over loopback TCP (``serve_websocket`` on
127.0.0.1:0); where that server cannot do what is needed (fragments, an abrupt drop, a
server that stops reading) a raw wsproto server plays the other side.
"""

from __future__ import annotations

import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
import trio
import trio.testing
import trio_websocket
import trustme
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from trio_gemini_live import _transport
from trio_gemini_live._sockets import NativeSocketStream
from trio_gemini_live._transport import WebSocketConnection, open_connection

from .conftest import tls_contexts

Handler = Callable[[trio_websocket.WebSocketRequest], Awaitable[None]]


@asynccontextmanager
async def ws_server(
    handler: Handler, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[str]:
    """trio-websocket's server on 127.0.0.1:0; yields its URL."""
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            partial(
                trio_websocket.serve_websocket,
                handler,
                "127.0.0.1",
                0,
                ssl_context,
                max_message_size=16 * 1024 * 1024,
            )
        )
        scheme = "wss" if ssl_context else "ws"
        yield f"{scheme}://127.0.0.1:{server.port}/some/path?x=1"
        nursery.cancel_scope.cancel()


async def raw_accept(stream: trio.abc.Stream, interim: bytes = b"") -> WSConnection:
    """A wsproto server's side of the opening handshake (``interim``: bytes sent before
    the 101 answer, in the same write)."""
    server = WSConnection(ConnectionType.SERVER)
    while True:
        server.receive_data(bytes(await stream.receive_some(65536)))
        for event in server.events():
            if isinstance(event, Request):
                await stream.send_all(interim + server.send(AcceptConnection()))
                return server


async def accepted_pair(
    client_stream: trio.abc.Stream,
    server_stream: trio.abc.Stream,
    *,
    interim: bytes = b"",
    **options: Any,
) -> tuple[WebSocketConnection, WSConnection]:
    """The client's handshake on ``client_stream`` against :func:`raw_accept` on
    ``server_stream``; ``options`` go to :meth:`WebSocketConnection.handshake`."""
    async with trio.open_nursery() as nursery:
        accepted: list[WSConnection] = []

        async def accept() -> None:
            accepted.append(await raw_accept(server_stream, interim))

        nursery.start_soon(accept)
        ws = await WebSocketConnection.handshake(client_stream, "example.com", "/", **options)
    return ws, accepted[0]


async def memory_pair(
    **options: Any,
) -> tuple[WebSocketConnection, trio.abc.Stream, WSConnection]:
    """A connection over an in-memory stream whose writes never block."""
    client_stream, server_stream = trio.testing.memory_stream_pair()
    ws, server = await accepted_pair(client_stream, server_stream, **options)
    return ws, server_stream, server


async def lockstep_pair(
    **options: Any,
) -> tuple[WebSocketConnection, trio.abc.Stream, WSConnection]:
    """A connection over a lockstep stream: a write blocks until the server reads it."""
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    ws, server = await accepted_pair(client_stream, server_stream, **options)
    return ws, server_stream, server


async def server_events(stream: trio.abc.Stream, server: WSConnection) -> list[Any]:
    """What the client wrote since the last call, as the server parses it."""
    server.receive_data(bytes(await stream.receive_some(65536)))
    return list(server.events())


async def answer_close(stream: trio.abc.Stream, server: WSConnection) -> None:
    """Read until the client's close frame and echo it (RFC 6455 5.5.1)."""
    while True:
        server.receive_data(bytes(await stream.receive_some(65536)))
        for event in server.events():
            if isinstance(event, CloseConnection):
                await stream.send_all(server.send(event.response()))
                return


@asynccontextmanager
async def raw_server(
    handler: Callable[[trio.SocketStream, WSConnection], Awaitable[None]],
) -> AsyncIterator[str]:
    """A TCP server that accepts the WebSocket upgrade with wsproto, then runs ``handler``."""

    async def serve(stream: trio.SocketStream) -> None:
        await handler(stream, await raw_accept(stream))

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        yield f"ws://127.0.0.1:{port}/"
        nursery.cancel_scope.cancel()


def reason_of(exc: trio_websocket.ConnectionClosed) -> trio_websocket.CloseReason:
    assert exc.reason is not None
    return exc.reason


async def echo(request: trio_websocket.WebSocketRequest) -> None:
    ws = await request.accept()
    try:
        while True:
            await ws.send_message(await ws.get_message())
    except trio_websocket.ConnectionClosed:
        pass


async def test_text_and_binary_messages_round_trip() -> None:
    with trio.fail_after(10):
        async with ws_server(echo) as url, open_connection(url) as ws:
            await ws.send_message("héllo")
            await ws.send_message(b"\x00\x01\xff")
            assert await ws.get_message() == "héllo"
            got = await ws.get_message()
            assert got == b"\x00\x01\xff" and type(got) is bytes
            assert ws.closed is None


async def test_request_carries_path_query_and_headers() -> None:
    seen: dict[str, Any] = {}

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        seen["path"] = request.path
        seen["headers"] = {k.lower(): v for k, v in request.headers}
        ws = await request.accept()
        await ws.get_message()

    with trio.fail_after(10):
        async with ws_server(handler) as url, open_connection(url, [("x-goog-api-key", "k")]):
            pass
    assert seen["path"] == "/some/path?x=1"
    assert seen["headers"][b"x-goog-api-key"] == b"k"


def test_host_header_has_the_port_unless_default() -> None:
    # RFC 7230 5.4 (wsproto's server side takes Host out of the headers it reports).
    assert _transport._host_header("127.0.0.1", 8443, secure=True) == "127.0.0.1:8443"
    assert _transport._host_header("example.com", 443, secure=True) == "example.com"
    assert _transport._host_header("example.com", 80, secure=False) == "example.com"
    assert _transport._host_header("::1", 9000, secure=False) == "[::1]:9000"


async def test_fragmented_messages_are_reassembled() -> None:
    async def handler(stream: trio.SocketStream, server: WSConnection) -> None:
        # Each fragment in a write of its own, so the client sees them in separate reads.
        for part, last in (("frag", False), ("men", False), ("ted ✓", True)):
            await stream.send_all(server.send(TextMessage(data=part, message_finished=last)))
        for chunk, last in ((b"\x01\x02", False), (b"\x03", True)):
            await stream.send_all(server.send(BytesMessage(data=chunk, message_finished=last)))
        await answer_close(stream, server)

    with trio.fail_after(10):
        async with raw_server(handler) as url, open_connection(url) as ws:
            assert await ws.get_message() == "fragmented ✓"
            assert await ws.get_message() == b"\x01\x02\x03"


async def test_three_mib_messages_both_ways() -> None:
    big = bytes(range(256)) * (3 * 1024 * 4)
    text = "é" * (3 * 1024 * 1024 // 2)
    with trio.fail_after(20):
        async with ws_server(echo) as url, open_connection(url) as ws:
            await ws.send_message(big)
            await ws.send_messages([text, "after"])
            assert await ws.get_message() == big
            assert await ws.get_message() == text
            assert await ws.get_message() == "after"


async def test_batch_is_one_write_and_keeps_order() -> None:
    received: list[str] = []
    done = trio.Event()

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        while len(received) < 50:
            received.append(str(await ws.get_message()))
        done.set()
        await ws.get_message()

    with trio.fail_after(10):
        async with ws_server(handler) as url, open_connection(url) as ws:
            writes: list[int] = []
            stream = ws._stream
            original = stream.send_all

            async def counting_send_all(data: Any) -> None:
                writes.append(len(data))
                await original(data)

            stream.send_all = counting_send_all  # type: ignore[method-assign]
            batch = [f"m{i}" for i in range(50)]
            await ws.send_messages(batch)
            # One write holding every frame (the frames' sizes do not depend on their keys).
            assert writes == [sum(len(_transport._data_frame(m)) for m in batch)]
            await done.wait()
    assert received == batch


async def test_send_refuses_other_types_and_sends_nothing() -> None:
    with trio.fail_after(10):
        async with ws_server(echo) as url, open_connection(url) as ws:
            with pytest.raises(TypeError, match="str or bytes"):
                await ws.send_messages(["ok", 3])  # type: ignore[list-item]
            await ws.send_message("next")
            assert await ws.get_message() == "next"  # "ok" was not sent either


async def test_client_ping_is_answered() -> None:
    with trio.fail_after(10):
        async with ws_server(echo) as url, open_connection(url) as ws:
            async with trio.open_nursery() as nursery:
                # The pong is seen by whichever task reads: the session's receive task.
                nursery.start_soon(ws.get_message)
                await ws.ping()
                await ws.ping(b"custom")
                nursery.cancel_scope.cancel()
            with pytest.raises(ValueError, match="125"):
                await ws.ping(b"x" * 126)


async def test_server_ping_is_answered_by_the_reader() -> None:
    ponged = trio.Event()

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.ping(b"are you there")
        ponged.set()
        await ws.send_message("after the ping")
        await ws.get_message()

    with trio.fail_after(10):
        async with ws_server(handler) as url, open_connection(url) as ws:
            assert await ws.get_message() == "after the ping"
            assert ponged.is_set()


async def test_server_close_with_code_and_reason() -> None:
    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message("last words")
        await ws.aclose(1011, "Internal error occurred.")

    with trio.fail_after(10):
        async with ws_server(handler) as url, open_connection(url) as ws:
            assert await ws.get_message() == "last words"  # delivered before the close
            with pytest.raises(trio_websocket.ConnectionClosed) as info:
                await ws.get_message()
            assert reason_of(info.value).code == 1011
            assert reason_of(info.value).reason == "Internal error occurred."
            assert ws.closed is info.value.reason
            with pytest.raises(trio_websocket.ConnectionClosed):
                await ws.send_message("too late")
            with pytest.raises(trio_websocket.ConnectionClosed):
                await ws.get_message()


@pytest.mark.parametrize("reader", ["none", "reading", "starting"])
async def test_client_close_completes_the_handshake(reader: str) -> None:
    # "starting": the session's close starts a draining reader and closes at once, so the
    # reader arrives while aclose itself is reading.
    seen: list[trio_websocket.CloseReason | None] = []
    server_saw_close = trio.Event()

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message("unread")
        try:
            while True:
                await ws.get_message()
        except trio_websocket.ConnectionClosed as exc:
            seen.append(exc.reason)
            server_saw_close.set()

    # A close timeout far beyond the test's bound: only the server's answer can end aclose.
    with trio.fail_after(10):
        async with ws_server(handler) as url:
            async with trio.open_nursery() as nursery:
                port = urlsplit(url).port
                assert port is not None
                ws = await WebSocketConnection.handshake(
                    await trio.open_tcp_stream("127.0.0.1", port),
                    "127.0.0.1",
                    "/",
                    close_timeout=1000,
                )
                async def drain() -> None:
                    with pytest.raises(trio_websocket.ConnectionClosed):
                        while True:
                            await ws.get_message()

                if reader != "none":
                    nursery.start_soon(drain)
                if reader == "reading":
                    await trio.testing.wait_all_tasks_blocked()
                await ws.aclose(4000, "bye")
                await ws.aclose()  # idempotent
            await server_saw_close.wait()
    assert seen[0] is not None and (seen[0].code, seen[0].reason) == (4000, "bye")
    assert ws.closed is not None and ws.closed.code == 4000  # the server echoed ours
    with pytest.raises(trio_websocket.ConnectionClosed):
        await ws.send_message("after close")


async def test_abrupt_tcp_drop_is_1006() -> None:
    async def handler(stream: trio.SocketStream, server: WSConnection) -> None:
        await stream.send_all(server.send(TextMessage(data="before the drop")))
        await trio.aclose_forcefully(stream)

    with trio.fail_after(10):
        async with raw_server(handler) as url, open_connection(url) as ws:
            assert await ws.get_message() == "before the drop"
            with pytest.raises(trio_websocket.ConnectionClosed) as info:
                await ws.get_message()
            assert reason_of(info.value).code == 1006
            with pytest.raises(trio_websocket.ConnectionClosed):
                await ws.ping()


@pytest.mark.parametrize(("status", "body"), [(403, b"API key not valid"), (404, None)])
async def test_rejected_handshake(status: int, body: bytes | None) -> None:
    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        await request.reject(status, body=body)

    with trio.fail_after(10):
        async with ws_server(handler) as url:
            with pytest.raises(trio_websocket.ConnectionRejected) as info:
                async with open_connection(url):
                    pass  # pragma: no cover
    assert info.value.status_code == status
    assert (info.value.body or b"") == (body or b"")


async def test_not_a_websocket_server_is_a_handshake_error() -> None:
    async def handler(stream: trio.SocketStream) -> None:
        await stream.receive_some(65536)
        await stream.send_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        await stream.aclose()

    async def closer(stream: trio.SocketStream) -> None:
        await stream.aclose()

    with trio.fail_after(10):
        for serve in (handler, closer):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
                port = listeners[0].socket.getsockname()[1]
                with pytest.raises(trio_websocket.HandshakeError):
                    async with open_connection(f"ws://127.0.0.1:{port}/"):
                        pass  # pragma: no cover
                nursery.cancel_scope.cancel()


async def test_oversize_message_closes_with_1009() -> None:
    seen: list[int] = []
    server_saw_close = trio.Event()

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message("x" * 2000)
        try:
            await ws.get_message()
        except trio_websocket.ConnectionClosed as exc:
            seen.append(reason_of(exc).code)
            server_saw_close.set()

    with trio.fail_after(10):
        async with ws_server(handler) as url, open_connection(url, max_message_size=1000) as ws:
            with pytest.raises(trio_websocket.ConnectionClosed) as info:
                await ws.get_message()
            assert reason_of(info.value).code == 1009
            await ws.aclose()
            await server_saw_close.wait()
    assert seen == [1009]


async def test_tls_and_an_untrusted_certificate() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    trusted = ssl.create_default_context()
    ca.configure_trust(trusted)
    with trio.fail_after(10):
        async with ws_server(echo, server_context) as url:
            async with open_connection(url, ssl_context=trusted) as ws:
                await ws.send_messages(["over", "TLS"])
                assert [await ws.get_message(), await ws.get_message()] == ["over", "TLS"]
            with pytest.raises(ssl.SSLCertVerificationError):
                async with open_connection(url, ssl_context=ssl.create_default_context()):
                    pass  # pragma: no cover


async def test_bad_urls() -> None:
    for url in ("http://example.com/", "ws:///nohost"):
        with pytest.raises(ValueError, match="ws://"):
            async with open_connection(url):
                pass  # pragma: no cover


# --- cancellation, concurrency: in memory, against a raw wsproto server -----------------


async def test_a_send_cancelled_before_writing_leaves_the_connection_usable(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, server_stream, server = await lockstep_pair()
    with trio.CancelScope() as scope:
        scope.cancel()
        await ws.send_message("never")
    assert scope.cancelled_caught and ws.closed is None
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ws.send_message, "sent")
        server.receive_data(bytes(await server_stream.receive_some(65536)))
    assert [e.data for e in server.events() if isinstance(e, TextMessage)] == ["sent"]


async def test_a_send_cancelled_mid_write_makes_the_connection_unusable(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, _server_stream, _ = await lockstep_pair()
    # Documented choice: part of the frame may be on the wire, so the framing is lost.
    with trio.move_on_after(1) as scope:
        await ws.send_message("blocked: the server never reads")
    assert scope.cancelled_caught
    assert ws.closed is not None and ws.closed.code == 1006
    with pytest.raises(trio_websocket.ConnectionClosed):
        await ws.send_messages(["a", "b"])
    with pytest.raises(trio_websocket.ConnectionClosed):
        await ws.get_message()
    await ws.aclose()  # only closes the stream: no close frame on a broken framing


async def test_a_cancelled_read_loses_nothing(autojump_clock: trio.testing.MockClock) -> None:
    ws, server_stream, server = await memory_pair()
    with trio.move_on_after(1):
        await ws.get_message()  # nothing yet
    await server_stream.send_all(
        server.send(TextMessage(data="one")) + server.send(TextMessage(data="two"))
    )
    assert await ws.get_message() == "one"
    with trio.CancelScope() as scope:
        scope.cancel()
        await ws.get_message()  # cancelled before taking "two"
    assert await ws.get_message() == "two"
    # The server closes: the client answers inside get_message and reports the code.
    await server_stream.send_all(server.send(CloseConnection(code=1000, reason="done")))
    with pytest.raises(trio_websocket.ConnectionClosed) as info:
        await ws.get_message()
    assert reason_of(info.value).code == 1000
    server.receive_data(bytes(await server_stream.receive_some(65536)))
    assert [type(e) for e in server.events()] == [CloseConnection]


async def test_a_second_reader_takes_what_the_first_read(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, server_stream, server = await memory_pair()
    got: list[str | bytes] = []

    async def read() -> None:
        got.append(await ws.get_message())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(read)  # waits for the first one's read, does not fail
        await trio.testing.wait_all_tasks_blocked()
        await server_stream.send_all(
            server.send(TextMessage(data="a")) + server.send(TextMessage(data="b"))
        )
    assert sorted(got) == ["a", "b"]


async def test_the_transport_starts_no_task() -> None:
    def all_tasks(skip: set[trio.Nursery]) -> set[trio.lowlevel.Task]:
        """Every task of the run, but those under the nurseries in ``skip``."""
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
            # The server's own tasks (one per connection) live under its nursery: leave it out.
            server_nurseries = set(me.child_nurseries)
            before = all_tasks(skip=server_nurseries)
            async with open_connection(url) as ws:
                await ws.send_message("hi")
                assert await ws.get_message() == "hi"
                assert set(me.child_nurseries) == server_nurseries  # open_connection opened none
                # No task anywhere else either (a system task, a nursery passed in).
                assert all_tasks(skip=server_nurseries) == before


def test_module_names_trio_websocket_types() -> None:
    # The session's except clauses catch these: the transport must raise the same types.
    names = vars(_transport)
    assert names["ConnectionClosed"] is trio_websocket.ConnectionClosed
    assert names["ConnectionRejected"] is trio_websocket.ConnectionRejected
    assert names["HandshakeError"] is trio_websocket.HandshakeError


@pytest.mark.parametrize("mask", ["default", "python"])
@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70001])
@pytest.mark.parametrize("kind", [str, bytes])
def test_data_frames_parse_as_wsproto_expects(
    monkeypatch: pytest.MonkeyPatch, mask: str, size: int, kind: type
) -> None:
    if mask == "python":
        monkeypatch.setattr(_transport, "_mask", _transport._mask_py)
    message: str | bytes = "é" * (size // 2) + "x" * (size % 2) if kind is str else bytes(
        i % 251 for i in range(size)
    )
    frame = _transport._data_frame(message)
    assert frame[1] & 0x80  # masked, as a client must (RFC 6455 5.3)
    server = Connection(ConnectionType.SERVER)  # wsproto's frame layer, already OPEN
    server.receive_data(frame + frame)
    events: list[Any] = list(server.events())
    assert all(e.message_finished for e in events)
    assert [e.data for e in events] == [message, message]
    assert type(events[0]) is (TextMessage if kind is str else BytesMessage)


def test_masking_keys_differ_per_frame() -> None:
    keys = {_transport._data_frame("same")[2:6] for _ in range(20)}
    assert len(keys) > 1


# --- review findings: control replies never lost, never stalling the reader -------------


async def leave_a_pong_pending(
    ws: WebSocketConnection, server_stream: trio.abc.Stream, server: WSConnection
) -> None:
    """Have the reader parse a ping (payload ``p1``) while a writer holds the lock: its pong
    is left in ``_pending`` (needs the autojump clock)."""
    await server_stream.send_all(server.send(Ping(payload=b"p1")))
    release = trio.Event()
    async with trio.open_nursery() as nursery:

        async def busy_writer() -> None:
            async with ws._lock:
                await release.wait()

        nursery.start_soon(busy_writer)
        await trio.testing.wait_all_tasks_blocked()
        with trio.move_on_after(1):
            await ws.get_message()  # parses the ping; no message ever comes
        release.set()
    assert ws._pending  # the pong was not written yet


async def test_a_send_cancelled_before_writing_keeps_a_pending_pong(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, server_stream, server = await memory_pair()
    await leave_a_pong_pending(ws, server_stream, server)
    with trio.CancelScope() as scope:
        scope.cancel()
        await ws.send_message("never")  # cancelled before it writes anything
    assert scope.cancelled_caught and ws.closed is None
    await ws.send_message("after")
    server.receive_data(bytes(await server_stream.receive_some(65536)))
    events = list(server.events())
    # The pong survived the cancelled send and went out first.
    assert [type(e) for e in events] == [Pong, TextMessage]
    assert cast(Pong, events[0]).payload == b"p1"


async def test_a_stalled_writer_does_not_stall_the_reader(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # PROTOCOL.md 6: the reader must always drain, even while a write waits for a slow peer.
    ws, server_stream, server = await lockstep_pair()
    sent = trio.Event()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:

            async def stalled_send() -> None:
                await ws.send_message("stalled")  # the server is not reading: blocks
                sent.set()

            async def server_writes() -> None:
                await server_stream.send_all(
                    server.send(Ping(payload=b"p2")) + server.send(TextMessage(data="hello"))
                )

            nursery.start_soon(stalled_send)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(server_writes)
            # Delivered while the writer is still blocked (it used to wait for the lock).
            assert await ws.get_message() == "hello"
            assert not sent.is_set()
            # The peer reads again: the writer's frame arrives, then the pong it flushed.
            events: list[Any] = []
            while len(events) < 2:
                server.receive_data(bytes(await server_stream.receive_some(65536)))
                events += server.events()
        assert sent.is_set()
    assert [type(e) for e in events] == [TextMessage, Pong]
    assert events[0].data == "stalled" and events[1].payload == b"p2"


async def test_a_control_reply_is_written_by_the_reader_when_no_writer_is_active(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, server_stream, server = await memory_pair()
    with trio.fail_after(10):
        await server_stream.send_all(
            server.send(Ping(payload=b"p3")) + server.send(TextMessage(data="x"))
        )
        assert await ws.get_message() == "x"
        server.receive_data(bytes(await server_stream.receive_some(65536)))
    events = list(server.events())
    assert [type(e) for e in events] == [Pong] and events[0].payload == b"p3"
    assert not ws._pending


class RecordingStream(trio.abc.Stream):
    """A stream that records the ``max_bytes`` of every ``receive_some``, and runs
    ``after_send`` (when set) after each ``send_all`` has written its data."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.sizes: list[int | None] = []
        self.after_send: Callable[[], Awaitable[None]] | None = None

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
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


async def test_handshake_reads_with_the_given_receive_size(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()
    recording = RecordingStream(client_stream)
    with trio.fail_after(10):
        ws, server = await accepted_pair(recording, server_stream, receive_size=7)
        # The 101 answer takes many 7-byte reads; every read, then and later, asks for 7.
        assert len(recording.sizes) > 1
        await server_stream.send_all(server.send(TextMessage(data="after the handshake")))
        assert await ws.get_message() == "after the handshake"
    assert set(recording.sizes) == {7}


async def test_a_send_after_the_server_closed_still_writes_the_close_echo(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, server_stream, server = await memory_pair()
    await server_stream.send_all(server.send(CloseConnection(code=1011, reason="bye")))
    release = trio.Event()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:

            async def busy_writer() -> None:
                async with ws._lock:
                    await release.wait()

            # The reader sees the close while the lock is held: the echo waits in _pending.
            nursery.start_soon(busy_writer)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(trio_websocket.ConnectionClosed):
                await ws.get_message()
            release.set()
        with pytest.raises(trio_websocket.ConnectionClosed) as info:
            await ws.send_message("too late")  # refused, but the echo goes out (RFC 6455 5.5.1)
        assert reason_of(info.value).code == 1011
        server.receive_data(bytes(await server_stream.receive_some(65536)))
    assert [type(e) for e in server.events()] == [CloseConnection]


# --- review findings (2): cancelled replies, bounded close, headers, sizes, malformed data --


async def test_a_cancelled_reader_keeps_a_pending_pong(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # A receive loop cancelled by its nursery while a pong waits: the pong stays pending
    # (it used to be taken out, dropped by the cancelled send_all, and the connection
    # marked broken, 1006, as if a write had been cut mid-frame).
    ws, server_stream, server = await memory_pair()
    await leave_a_pong_pending(ws, server_stream, server)
    with trio.CancelScope() as scope:
        scope.cancel()
        await ws.get_message()
    assert scope.cancelled_caught and ws.closed is None
    with trio.fail_after(10):
        await server_stream.send_all(server.send(TextMessage(data="still there")))
        assert await ws.get_message() == "still there"
        events = await server_events(server_stream, server)
    assert [type(e) for e in events] == [Pong] and events[0].payload == b"p1"


async def test_a_write_cancelled_once_its_frames_are_out_returns_and_keeps_the_pong(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # A Cancelled after the frames went out would make the session send them again; the
    # pong the reader left meanwhile stays pending rather than being written (or lost).
    client_stream, server_stream = trio.testing.memory_stream_pair()
    wrapped = RecordingStream(client_stream)
    ws, server = await accepted_pair(wrapped, server_stream)
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
            await server_stream.send_all(
                server.send(Ping(payload=b"p4")) + server.send(TextMessage(data="m"))
            )
            assert await ws.get_message() == "m"
            assert ws._pending  # the pong, left for the lock's holder
            ping_parsed.set()
        assert outcome == [False] and ws.closed is None
        assert ws._pending  # not written by the cancelled writer: the next write sends it
        await ws.send_message("next")
        events = await server_events(server_stream, server)
    assert [type(e) for e in events] == [TextMessage, Pong, TextMessage]
    assert [events[0].data, events[1].payload, events[2].data] == ["sent", b"p4", "next"]


async def test_aclose_is_bounded_while_a_writer_is_stuck(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The writer holds the lock, blocked on a peer that never reads: the close frame cannot
    # go out, and aclose gives up after close_timeout (it used to wait for the lock forever).
    ws, _server_stream, _ = await lockstep_pair(close_timeout=3)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:

            async def stuck_writer() -> None:
                with pytest.raises(trio_websocket.ConnectionClosed):
                    await ws.send_message("the peer never reads this")

            nursery.start_soon(stuck_writer)
            await trio.testing.wait_all_tasks_blocked()
            await ws.aclose()
    assert ws.closed is not None and ws.closed.code == 1006


async def test_close_timeout_against_a_silent_server_is_1006(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, server_stream, server = await memory_pair(close_timeout=3)
    with trio.fail_after(60):
        await ws.aclose(1000, "bye")
        events = await server_events(server_stream, server)
    # Our close frame went out, but without the server's answer there was no close
    # handshake: 1006 (RFC 6455 7.1.5), not the 1000 we sent.
    assert [(type(e), e.code, e.reason) for e in events] == [(CloseConnection, 1000, "bye")]
    assert ws.closed is not None and ws.closed.code == 1006


def sink() -> tuple[trio.StapledStream[Any, Any], trio.testing.MemorySendStream]:
    """A client stream whose writes are kept (and never answered)."""
    sent = trio.testing.MemorySendStream()
    return trio.StapledStream(sent, trio.testing.MemoryReceiveStream()), sent


def written(sent: trio.testing.MemorySendStream) -> bytes:
    """What was written to ``sent`` and not taken yet."""
    try:
        return bytes(sent.get_data_nowait())
    except trio.WouldBlock:
        return b""


@pytest.mark.parametrize(
    "value", [b"SECRET\r\nx-injected: 1", b"SECRET\n", b"SECRET\x00", b" SECRET", b"SECRET\t"]
)
async def test_a_bad_header_value_is_a_value_error_without_the_value(value: bytes) -> None:
    stream, sent = sink()
    with pytest.raises(ValueError, match="x-goog-api-key") as info:
        await WebSocketConnection.handshake(
            stream, "example.com", "/", [(b"x-goog-api-key", value)]
        )
    # The value may be the key: not in the message, nor in a chained h11 error.
    assert b"SECRET" not in str(info.value).encode() and "SECRET" not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert written(sent) == b""  # nothing sent


async def test_bad_header_names_resources_and_types_are_refused_before_sending() -> None:
    stream, sent = sink()
    with pytest.raises(ValueError, match="header name"):
        await WebSocketConnection.handshake(stream, "h", "/", [(b"x key", b"v")])
    with pytest.raises(ValueError, match="header name"):
        await WebSocketConnection.handshake(stream, "h", "/", [(b"", b"v")])
    with pytest.raises(TypeError, match="bytes"):
        await WebSocketConnection.handshake(stream, "h", "/", [("x-key", "v")])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="resource"):
        await WebSocketConnection.handshake(stream, "h", "/a b")
    assert written(sent) == b""
    # open_connection checks before connecting (nothing listens on this port: it would be
    # an OSError); an empty value is allowed.
    with pytest.raises(ValueError, match="'authorization'"):
        async with open_connection("ws://127.0.0.1:1/", [("authorization", "Bearer k\r\n")]):
            pass  # pragma: no cover
    assert _transport._check_headers([(b"x-empty", b""), (b"x-inner", b"a b\tc")]) is None


@pytest.mark.parametrize(
    "interim",
    [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\n\n",
    ],
    ids=["continue", "two-with-headers"],
)
async def test_interim_answers_before_the_101_are_skipped(
    autojump_clock: trio.testing.MockClock, interim: bytes
) -> None:
    # RFC 7231 6.2: any number of 1xx answers may come first. receive_size=5 splits them
    # across reads.
    client_stream, server_stream = trio.testing.memory_stream_pair()
    with trio.fail_after(10):
        ws, server = await accepted_pair(
            client_stream, server_stream, interim=interim, receive_size=5
        )
        await server_stream.send_all(server.send(TextMessage(data="open")))
        assert await ws.get_message() == "open"


async def test_an_interim_answer_then_a_refusal_reports_the_refusal(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()

    async def refuse() -> None:
        await server_stream.receive_some(65536)
        await server_stream.send_all(
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 403 Forbidden\r\ncontent-length: 4\r\n\r\nnope"
        )

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(refuse)
            with pytest.raises(trio_websocket.ConnectionRejected) as info:
                await WebSocketConnection.handshake(client_stream, "example.com", "/")
    assert (info.value.status_code, info.value.body) == (403, b"nope")


async def test_endless_interim_answers_are_a_handshake_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client_stream, server_stream = trio.testing.memory_stream_pair()

    async def babble() -> None:
        await server_stream.receive_some(65536)
        await server_stream.send_all(b"HTTP/1.1 100 Continue\r\nx: " + b"y" * 70000)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(babble)
            with pytest.raises(trio_websocket.HandshakeError, match="endless"):
                await WebSocketConnection.handshake(client_stream, "example.com", "/")


async def test_a_lone_surrogate_is_a_unicode_error_and_sends_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ws, server_stream, server = await memory_pair()
    with pytest.raises(UnicodeEncodeError):
        await ws.send_messages(["ok", "lone \ud800"])
    with trio.fail_after(10):
        await ws.send_message("next")
        events = await server_events(server_stream, server)
    assert [e.data for e in events] == ["next"] and ws.closed is None


@pytest.mark.parametrize(
    ("parts", "limit", "too_big"),
    [
        (["abcdef"] * 3, 18, False),
        (["abcdef"] * 3, 17, True),  # reached across fragments
        (["😀" * 10], 40, False),
        (["😀" * 10], 39, True),  # UTF-8 bytes count, not characters (10 here)
        (["😀" * 5, "😀" * 5], 39, True),
        (["é" * 5, "a"], 11, False),
        ([b"\x00" * 10, b"\x00" * 10], 19, True),
        ([b"\x00" * 19], 19, False),
    ],
)
async def test_the_size_limit_counts_payload_bytes(
    autojump_clock: trio.testing.MockClock,
    parts: list[str | bytes],
    limit: int,
    too_big: bool,
) -> None:
    ws, server_stream, server = await memory_pair(max_message_size=limit)
    with trio.fail_after(10):
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            event = (
                TextMessage(data=part, message_finished=last)
                if isinstance(part, str)
                else BytesMessage(data=part, message_finished=last)
            )
            await server_stream.send_all(server.send(event))
        if not too_big:
            assert await ws.get_message() == parts[0][:0].join(parts)  # type: ignore[arg-type]
            return
        with pytest.raises(trio_websocket.ConnectionClosed) as info:
            await ws.get_message()
        events = await server_events(server_stream, server)
    assert reason_of(info.value).code == 1009
    assert [(type(e), e.code) for e in events] == [(CloseConnection, 1009)]


def masked_text_frame(payload: bytes) -> bytes:
    """A text frame masked as only a client may send (RFC 6455 5.1: not a server)."""
    key = b"\x01\x02\x03\x04"
    return bytes((0x81, 0x80 | len(payload))) + key + bytes(
        b ^ key[i % 4] for i, b in enumerate(payload)
    )


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([b"\x81\x02\xc3\x28"], 1007),  # invalid UTF-8 in a whole text frame
        ([b"\x01\x01\xc3", b"\x80\x01\x28"], 1007),  # split across two fragments
        ([masked_text_frame(b"hi")], 1002),
    ],
    ids=["utf8-whole", "utf8-split", "masked"],
)
async def test_malformed_server_frames_fail_the_connection(
    autojump_clock: trio.testing.MockClock, frames: list[bytes], code: int
) -> None:
    # RFC 6455 7.1.7 / 8.1: the client fails the connection with a close frame of its own.
    ws, server_stream, server = await memory_pair()
    with trio.fail_after(10):
        await server_stream.send_all(server.send(TextMessage(data="good")))
        assert await ws.get_message() == "good"
        for frame in frames:  # each in its own write
            await server_stream.send_all(frame)
            await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio_websocket.ConnectionClosed) as info:
            await ws.get_message()
        events = await server_events(server_stream, server)
    assert reason_of(info.value).code == code
    assert [(type(e), e.code) for e in events] == [(CloseConnection, code)]


async def test_connect_timeout_is_too_slow_error(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server that accepts the TCP connection and never answers the upgrade.
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


async def test_wss_default_context_verifies_with_the_system_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ssl_context=None: ssl.create_default_context(), which honours SSL_CERT_FILE.
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


# --- the native socket stream and the synchronous direct write (issue 7) ----------------


def small_send_buffer(ws: WebSocketConnection, size: int = 64 * 1024) -> None:
    """A small kernel send buffer: a multi-MB frame cannot be written in one go."""
    stream = ws._stream
    assert isinstance(stream, NativeSocketStream)
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


class Collector:
    """A raw wsproto server's side (for :func:`raw_server`) that keeps the client's complete
    messages in order, and reads only while ``reading`` is set."""

    def __init__(self, *, reading: bool = True) -> None:
        self.messages: list[str | bytes] = []
        self.controls: list[Any] = []
        self.reading = trio.Event()
        if reading:
            self.reading.set()
        self.ready = trio.Event()
        self.stream: trio.SocketStream | None = None
        self.server: WSConnection | None = None
        self._lot = trio.lowlevel.ParkingLot()

    async def handler(self, stream: trio.SocketStream, server: WSConnection) -> None:
        self.stream, self.server = stream, server
        self.ready.set()
        parts: list[Any] = []
        while True:
            await self.reading.wait()
            data = await stream.receive_some(65536)
            if not data:
                return
            server.receive_data(data)
            for event in server.events():
                if isinstance(event, (TextMessage, BytesMessage)):
                    parts.append(event.data)
                    if event.message_finished:
                        text = isinstance(event, TextMessage)
                        self.messages.append("".join(parts) if text else b"".join(parts))
                        parts = []
                elif isinstance(event, CloseConnection):
                    await stream.send_all(server.send(event.response()))
                    return
                else:
                    self.controls.append(event)
            self._lot.unpark_all()

    async def wait_for(self, count: int) -> list[str | bytes]:
        while len(self.messages) < count:
            await self._lot.park()
        return self.messages


@pytest.mark.parametrize("secure", [False, True])
async def test_open_connection_drives_the_socket_itself(secure: bool) -> None:
    server_context, client_context = tls_contexts() if secure else (None, None)
    with trio.fail_after(10):
        async with ws_server(echo, server_context) as url, open_connection(
            url, ssl_context=client_context
        ) as ws:
            stream = ws._stream
            assert isinstance(stream, NativeSocketStream)
            assert repr(stream) == f"<NativeSocketStream {'TLS' if secure else 'TCP'} open>"
            assert ws.try_send_message("direct") is True
            assert ws.try_send_message(b"\x00direct") is True
            assert await ws.get_message() == "direct"
            assert await ws.get_message() == b"\x00direct"
    assert repr(stream).endswith("closed>")


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
            assert collector.stream is not None and collector.server is not None
            # The reader parses a ping while the write lock is taken: its pong stays pending.
            ws._lock.acquire_nowait()
            await collector.stream.send_all(
                collector.server.send(Ping(payload=b"pp")) + collector.server.send(
                    TextMessage(data="hello"))
            )
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
    assert [type(e) for e in collector.controls[:1]] == [Pong]
    assert collector.controls[0].payload == b"pp"
    assert collector.messages == ["after"]


async def test_try_send_message_writes_nothing_once_closed() -> None:
    async def close_soon(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.aclose(1001, "going away")

    with trio.fail_after(10):
        async with ws_server(close_soon) as url, open_connection(url) as ws:
            with pytest.raises(trio_websocket.ConnectionClosed):
                await ws.get_message()
            assert ws.closed is not None and ws.closed.code == 1001
            assert ws.try_send_message("never") is None
        assert ws.try_send_message("never") is None  # after aclose too
        async with ws_server(echo) as url, open_connection(url) as ws2:
            await ws2.aclose()
            assert ws2.try_send_message("never") is None


async def test_try_send_message_on_a_reset_connection_reports_1006() -> None:
    async def reset(stream: trio.SocketStream, server: WSConnection) -> None:
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()  # RST

    with trio.fail_after(10):
        async with raw_server(reset) as url, open_connection(url) as ws:
            stream = ws._stream
            assert isinstance(stream, NativeSocketStream)
            await trio.lowlevel.wait_readable(stream.socket)  # the RST arrived
            assert ws.try_send_message("lost") is None  # nothing known written
            assert ws.closed is not None and ws.closed.code == 1006
            with pytest.raises(trio_websocket.ConnectionClosed):
                await ws.send_message("after")
            with pytest.raises(trio_websocket.ConnectionClosed):
                await ws.get_message()


async def test_try_send_message_without_a_native_stream_is_none() -> None:
    ws, server_stream, server = await memory_pair()
    with trio.fail_after(10):
        assert ws.try_send_message("never") is None
        await ws.send_message("sent")
        events = await server_events(server_stream, server)
    assert [e.data for e in events if isinstance(e, TextMessage)] == ["sent"]


async def test_try_send_message_refuses_bad_input_and_sends_nothing() -> None:
    with trio.fail_after(10):
        async with ws_server(echo) as url, open_connection(url) as ws:
            with pytest.raises(TypeError, match="str or bytes"):
                ws.try_send_message(3)  # type: ignore[arg-type]
            with pytest.raises(UnicodeEncodeError):
                ws.try_send_message("lone \udc80 surrogate")
            assert ws.try_send_message("next") is True
            assert await ws.get_message() == "next"  # nothing before it
            assert ws.closed is None


@pytest.mark.parametrize("finish", ["flush", "send_messages"])
async def test_a_partial_try_send_message_is_finished_before_anything_else(finish: str) -> None:
    collector = Collector(reading=False)
    big = "x" * (4 * 1024 * 1024)
    with trio.fail_after(20):
        async with raw_server(collector.handler) as url, open_connection(url) as ws:
            small_send_buffer(ws)
            # Committed, partly written: the stream owns the rest of the frame.
            assert ws.try_send_message(big) is False
            stream = ws._stream
            assert isinstance(stream, NativeSocketStream) and stream.unfinished
            assert ws.try_send_message("never") is None
            collector.reading.set()
            if finish == "flush":
                await ws.flush()
                assert not stream.unfinished
                await ws.send_message("after")
            else:
                await ws.send_messages(["after"])
            assert await collector.wait_for(2) == [big, "after"]
            assert ws.closed is None


async def test_a_partial_try_send_message_over_tls_is_finished_by_flush() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    big = b"\x01" * (4 * 1024 * 1024)
    with trio.fail_after(20):
        async with ws_server(echo, server_context) as url, open_connection(
            url, ssl_context=client_context
        ) as ws:
            small_send_buffer(ws)
            # Synchronous: the server cannot read meanwhile, so 4 MB cannot all go out.
            assert ws.try_send_message(big) is False
            assert ws.try_send_message("never") is None
            echoed: list[str | bytes] = []
            async with trio.open_nursery() as nursery:

                async def read_two() -> None:
                    echoed.extend([await ws.get_message(), await ws.get_message()])

                nursery.start_soon(read_two)
                await ws.flush()
                # Written (True) or committed (False: TLS took it while the socket was
                # full); never None here: nothing else is writing or pending.
                assert ws.try_send_message("after") in (True, False)
                await ws.flush()
    assert echoed == [big, "after"]


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
            await collector.wait_for(5)  # the socket drained: room for a direct write
            assert ws.try_send_message(big) is False
            await ws.send_messages(["6"])  # the rest of the big frame goes first
            await collector.wait_for(7)
            assert ws.try_send_message("7") is True
            await ws.send_messages([])  # nothing to write: writes nothing
            assert ws.try_send_message(b"8") is True
            assert await collector.wait_for(9) == ["1", "2", "3", "4", "5", big, "6", "7", b"8"]
