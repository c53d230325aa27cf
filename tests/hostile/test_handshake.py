"""Handshake abuse (issue 12): every refusal or garbled answer is a clear error, in time.

These attacks were survived before issue 12; the tests keep it so. The error classes are
today's classification (``_rejected_error`` and the transport's ``HandshakeError``): an
HTTP refusal by its status, anything else that prevents the WebSocket from opening is a
:class:`~trio_gemini_live.TransientError` (1006: the connection never opened).
"""

from __future__ import annotations

import pytest
import trio

from trio_gemini_live import (
    AuthRejectedError,
    LiveConfig,
    LiveError,
    NotFoundError,
    QuotaExceededError,
    ReconnectPolicy,
    TransientError,
)
from trio_gemini_live import events as ev

from ..conftest import opening_error
from .conftest import Clock, Serve, open_session
from .server import SETUP_COMPLETE, Attack, Peer, accept_key, frame


async def wrong_accept_key(peer: Peer) -> None:
    await peer.read_request()
    await peer.accept(key=b"dGhpcyBpcyBub3QgdGhlIGtleQ==")
    await peer.drain()


async def missing_upgrade(peer: Peer) -> None:
    await peer.read_request()
    await peer.accept(upgrade=False)
    await peer.drain()


async def huge_headers(peer: Peer) -> None:
    await peer.read_request()
    await peer.accept(extra=b"X-Padding: " + b"a" * 100_000 + b"\r\n")
    await peer.drain()


async def close_on_accept(peer: Peer) -> None:
    await peer.read_request()
    await peer.accept()
    await peer.abort()


async def silent(peer: Peer) -> None:
    await trio.sleep_forever()


async def slowloris_valid(peer: Peer) -> None:
    """A correct 101 answer, one byte at a time: slow, but fine."""
    request = await peer.read_request()
    answer = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: "
        + accept_key(request.headers["sec-websocket-key"].encode())
        + b"\r\n\r\n"
    )
    for i in range(len(answer)):
        await peer.send(answer[i : i + 1])
        await trio.sleep(0.002)
    await peer.recv_until("setup")
    setup_complete = frame(SETUP_COMPLETE)
    for i in range(len(setup_complete)):
        await peer.send(setup_complete[i : i + 1])
        await trio.sleep(0.002)
    await peer.drain()


async def slowloris_endless(peer: Peer) -> None:
    """A head that never ends, one byte every 20 ms."""
    await peer.read_request()
    await peer.send(b"HTTP/1.1 101 Switching Protocols\r\nX-Slow: ")
    while True:
        await peer.send(b"a")
        await trio.sleep(0.02)


@pytest.mark.parametrize(
    "attack", [wrong_accept_key, missing_upgrade, huge_headers, close_on_accept]
)
async def test_garbled_handshake_is_a_transient_error(serve: Serve, nursery: trio.Nursery,
                                                      attack: Attack) -> None:
    server = await serve(attack)
    clock = Clock()
    with trio.fail_after(10):
        error = await opening_error(open_session(nursery, server))
    assert type(error) is TransientError, repr(error)
    assert clock.elapsed < 5
    assert server.connections == 1


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, b'{"error": {"code": 401, "status": "UNAUTHENTICATED"}}', AuthRejectedError),
        (403, b'{"error": {"code": 403, "status": "PERMISSION_DENIED"}}', AuthRejectedError),
        (404, b"<html>404 Not Found</html>", NotFoundError),
        (429, b'{"error": {"status": "RESOURCE_EXHAUSTED"}}', QuotaExceededError),
        (500, b"Internal Server Error", TransientError),
        (502, b"<html>502 Bad Gateway</html>" * 1000, TransientError),
        (503, b"upstream connect error", TransientError),
    ],
)
async def test_http_refusal_is_classified_by_status(
    serve: Serve, nursery: trio.Nursery, status: int, body: bytes, expected: type[LiveError]
) -> None:
    async def refuse(peer: Peer) -> None:
        await peer.read_request()
        await peer.refuse(status, body)

    server = await serve(refuse)
    with trio.fail_after(10):
        error = await opening_error(open_session(nursery, server))
    assert type(error) is expected, repr(error)
    assert str(status) in str(error)
    # The body is quoted for diagnosis, but never all of a large one.
    assert len(str(error)) < 1000


async def test_slowloris_answer_is_slow_but_fine(serve: Serve, nursery: trio.Nursery) -> None:
    server = await serve(slowloris_valid)
    with trio.fail_after(15):
        async with open_session(nursery, server) as session:
            assert session.statistics().connections == 1


async def test_endless_head_is_cut_by_cancellation(serve: Serve, nursery: trio.Nursery) -> None:
    """A head that never ends holds the session only as long as the caller allows."""
    server = await serve(slowloris_endless)
    clock = Clock()
    with trio.fail_after(10), trio.move_on_after(0.5) as cancelled:
        async with open_session(nursery, server):
            raise AssertionError("the session opened")
    assert cancelled.cancelled_caught
    assert clock.elapsed < 1.5


async def test_silent_server_is_cut_by_cancellation(serve: Serve, nursery: trio.Nursery) -> None:
    server = await serve(silent)
    clock = Clock()
    with trio.fail_after(10), trio.move_on_after(0.5) as cancelled:
        async with open_session(nursery, server):
            raise AssertionError("the session opened")
    assert cancelled.cancelled_caught
    assert clock.elapsed < 1.5
    assert server.connections == 1


@pytest.mark.parametrize("attack", [silent, slowloris_endless])
async def test_connect_timeout_bounds_a_silent_or_endless_server(
    serve: Serve, nursery: trio.Nursery, attack: Attack
) -> None:
    """``open_live_session(connect_timeout=...)`` (issue 12) bounds the opening handshake."""
    server = await serve(attack)
    clock = Clock()
    with trio.fail_after(10):
        error = await opening_error(open_session(nursery, server, connect_timeout=0.5))
    assert type(error) is TransientError, repr(error)
    assert clock.elapsed < 2.5


async def test_close_on_accept_after_a_ready_connection_is_retried(
    serve: Serve, nursery: trio.Nursery
) -> None:
    """A reconnection that meets a close on accept is a transient failure, retried."""
    async def attack(peer: Peer) -> None:
        if peer.index == 0:
            await peer.setup()
            await peer.abort()
        elif peer.index == 1:
            await close_on_accept(peer)
        else:
            await peer.setup()
            await peer.drain()

    server = await serve(attack)
    policy = ReconnectPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05)
    config = LiveConfig(response_modalities=["TEXT"], session_resumption={})
    seen: list[ev.Event] = []
    with trio.fail_after(10):
        async with open_session(nursery, server, reconnect=policy, config=config) as session:
            async for event in session.events():
                seen.append(event)
                if isinstance(event, ev.Reconnected):
                    break
    assert server.connections == 3
    assert [type(e) for e in seen].count(ev.Reconnecting) == 2
