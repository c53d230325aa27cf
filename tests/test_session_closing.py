"""Regression tests (code review of ``_session.py``): closing a session at awkward moments.

Each test turns one of the reviewer's reproductions into a deterministic test: aclose()
while reconnecting or while the setup is pending, a goAway during the close drain, an
error the reader already handled, aclose() from a tool handler, and ``wait_status`` for a
state entered and left at once. Each failed on the code before the fix (commit 7eb39c9).

The helpers here (:class:`FakeConnection`, :func:`connections`, :func:`opener`) are shared
with ``test_session_toolcalls.py`` and ``test_session_reconnect.py``.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
import trio_websocket

from trio_gemini_live import (
    ApiKey,
    InvalidArgumentError,
    LiveConfig,
    LiveSession,
    Status,
    open_live_session,
)
from trio_gemini_live import events as ev

from .conftest import API_KEY, MODEL
from .fakeserver import SETUP_COMPLETE, ScriptedServer, library_websocket

pytestmark = pytest.mark.usefixtures("referee")

#: A resumable setup: the session reconnects after a transient close (PROTOCOL.md 5, 7).
RESUMABLE = LiveConfig(response_modalities=["TEXT"], session_resumption={})
#: Google's transient close (PROTOCOL.md 8): retried when resumption is configured.
INTERNAL = trio_websocket.CloseReason(1011, "Internal error occurred.")

ConnectHook = Callable[[str, list[tuple[str, str]]], AbstractAsyncContextManager[Any]]


def opener(nursery: trio.Nursery, connect: ConnectHook, **kwargs: Any) -> (
    AbstractAsyncContextManager[LiveSession]
):
    """``open_live_session`` on ``connect``, with an API key and no keepalive pings."""
    kwargs.setdefault("auth", ApiKey(API_KEY))
    kwargs.setdefault("keepalive_interval", None)
    return open_live_session(nursery, model=MODEL, connect=connect, **kwargs)


class FakeConnection:
    """A client connection the test drives frame by frame (no WebSocket underneath).

    ``feed()`` queues what ``get_message()`` returns next (a frame, or an exception to
    raise, e.g. ``ConnectionClosed``). When a frame is already queued, ``get_message()``
    and ``send_message()`` return without a checkpoint, so that a whole setup exchange can
    happen in one scheduler step (see ``test_wait_status_sees_a_state_entered_and_left_at_once``).

    Attributes:
        sent: every frame the client sent, in order.
        close_code: the code of the client's close, once it closed.
        accept: when given, the ``connect=`` hook waits for it, shielded from cancellation,
            before handing out the connection (a connect that completes at the very moment
            the session is told to close).
    """

    def __init__(self, *frames: str | bytes | BaseException, accept: trio.Event | None = None) -> (
        None
    ):
        self.sent: list[str | bytes] = []
        self.close_code: int | None = None
        self.accept = accept
        self._in, self._out = trio.open_memory_channel[str | bytes | BaseException](math.inf)
        for frame in frames:
            self.feed(frame)

    def feed(self, frame: str | bytes | BaseException) -> None:
        """Queue what the next ``get_message()`` returns (or raises)."""
        self._in.send_nowait(frame)

    def decoded(self) -> list[dict[str, Any]]:
        """:attr:`sent`, JSON-decoded."""
        return [msgspec.json.decode(frame) for frame in self.sent]

    @property
    def closed(self) -> trio_websocket.CloseReason | None:
        return None if self.close_code is None else trio_websocket.CloseReason(self.close_code, "")

    async def send_message(self, message: str | bytes) -> None:
        if self.close_code is not None:
            raise trio_websocket.ConnectionClosed(self.closed)
        self.sent.append(message)

    async def get_message(self) -> str | bytes:
        try:
            item = self._out.receive_nowait()
        except trio.WouldBlock:
            item = await self._out.receive()
        if isinstance(item, BaseException):
            raise item
        return item

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        await trio.lowlevel.checkpoint()
        if self.close_code is None:
            self.close_code = code
            self.feed(trio_websocket.ConnectionClosed(trio_websocket.CloseReason(code, reason)))

    async def ping(self, payload: bytes | None = None) -> None:
        await trio.lowlevel.checkpoint()


def connections(*conns: FakeConnection | ConnectHook) -> ConnectHook:
    """A ``connect=`` hook handing out ``conns`` in turn, one per connection attempt.

    Each is a :class:`FakeConnection` or another hook (e.g. ``ScriptedServer.connect``).
    """
    remaining = list(conns)

    @asynccontextmanager
    async def hook(url: str, headers: list[tuple[str, str]]) -> AsyncIterator[Any]:
        assert remaining, "the session opened more connections than the test planned"
        conn = remaining.pop(0)
        if isinstance(conn, FakeConnection):
            if conn.accept is not None:
                with trio.CancelScope(shield=True):
                    await conn.accept.wait()
            yield conn
        else:
            async with conn(url, headers) as ws:
                yield ws

    return hook


async def next_event(session: LiveSession, kind: type[Any]) -> Any:
    """The first event of type ``kind`` (the events before it are skipped)."""
    async for event in session.events():
        if isinstance(event, kind):
            return event
    raise AssertionError(f"events() ended before {kind.__name__}")


async def rest_of(session: LiveSession) -> list[ev.Event]:
    """Every event left, up to the end of ``events()``."""
    return [event async for event in session.events()]


def closed_by_client(events: list[ev.Event]) -> bool:
    """Whether ``events`` ends with the SessionClosed of a close by the client (1000)."""
    return bool(events) and events[-1] == ev.SessionClosed(code=1000, reason="closed by the client")


# --- aclose() during a reconnection -------------------------------------------------------------


async def test_aclose_while_reconnecting_is_a_close_not_an_illegal_transition(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Review (a): aclose() while the reconnect's connect was completing raised
    # IllegalTransition('CLOSING -> SETUP_PENDING') into the caller's nursery.
    first = FakeConnection(SETUP_COMPLETE, trio_websocket.ConnectionClosed(INTERNAL))
    second = FakeConnection(accept=trio.Event())
    assert second.accept is not None
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery, opener(
            nursery, connections(first, second), config=RESUMABLE
        ) as s:
            await next_event(s, ev.Reconnecting)
            await s.send_realtime_input(text="queued during the reconnect")
            # Waiting for the reconnect's connect to complete:
            await s.wait_status(Status.CONNECTING)
            await trio.testing.wait_all_tasks_blocked()
            assert s.statistics().status is Status.CONNECTING
            second.accept.set()  # the connect completes as aclose() begins
            await s.aclose()
            assert s.status is Status.CLOSED
            assert s.error is None
            assert closed_by_client(await rest_of(s))
    assert second.sent == []  # no setup on a connection opened for a closing session
    assert second.close_code == 1000


async def test_aclose_while_setup_pending_is_a_close_not_a_setup_error(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Review (a2): aclose() with the reconnect's setupComplete on its way came out as
    # SetupError('... a second setupComplete on one connection') (on_error too).
    errors: list[BaseException] = []
    first = FakeConnection(SETUP_COMPLETE, trio_websocket.ConnectionClosed(INTERNAL))
    second = FakeConnection()
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery, opener(
            nursery, connections(first, second), config=RESUMABLE, on_error=errors.append
        ) as s:
            await next_event(s, ev.Reconnecting)
            await s.wait_status(Status.SETUP_PENDING)
            assert list(second.decoded()[0]) == ["setup"]
            second.feed(SETUP_COMPLETE)  # the answer arrives as aclose() begins
            await s.aclose()
            assert s.status is Status.CLOSED
            assert s.error is None
            assert closed_by_client(await rest_of(s))
            # The block ends normally: nothing was cancelled, nothing raised.
    assert errors == []
    assert second.close_code == 1000


# --- an error the reader already handled ---------------------------------------------------------


async def test_an_error_the_reader_handled_is_not_raised_again(nursery: trio.Nursery) -> None:
    # Review (g): events() raised the session's error, the user handled it, and then the
    # rest of the block was cancelled and the same error came out of the async with.
    async def refuse_after_setup(ws: trio_websocket.WebSocketConnection) -> None:
        await server.recv(ws)
        await ws.send_message(SETUP_COMPLETE)
        await ws.aclose(1007, "Request contains an invalid argument.")

    server = ScriptedServer(refuse_after_setup)
    cleaned_up = False
    with trio.fail_after(10):
        async with trio.open_nursery() as inner, opener(inner, server.connect(nursery)) as s:
            with pytest.raises(InvalidArgumentError):
                async for _ in s.events():
                    pass
            # The application's cleanup after handling the error: a checkpoint, where a
            # cancellation of the block would show.
            await trio.lowlevel.checkpoint()
            cleaned_up = True
    assert cleaned_up
    assert isinstance(s.error, InvalidArgumentError)
    assert s.status is Status.CLOSED


# --- aclose() from one of the session's own tasks ------------------------------------------------


async def test_aclose_from_a_tool_handler_returns_at_once_and_closes_cleanly(
    nursery: trio.Nursery, autojump_clock: trio.abc.Clock
) -> None:
    # Review (l): aclose() from on_tool_call waited for the session to end, which waited
    # for the handler: 5+ s, then a forced teardown.
    server_saw: list[int | None] = []

    async def hang_up_call(ws: trio_websocket.WebSocketConnection) -> None:
        await server.recv(ws)
        await ws.send_message(SETUP_COMPLETE)
        await ws.send_message(
            b'{"toolCall":{"functionCalls":[{"id":"fc_1","name":"hang_up","args":{}}]}}'
        )
        try:
            while True:
                await server.recv(ws)
        except trio_websocket.ConnectionClosed as exc:
            server_saw.append(exc.reason.code if exc.reason else None)

    server = ScriptedServer(hang_up_call)
    sessions: list[LiveSession] = []
    took: list[float] = []

    async def on_tool_call(event: ev.ToolCall) -> None:
        start = trio.current_time()  # virtual time (autojump_clock): deterministic
        await sessions[0].aclose()
        took.append(trio.current_time() - start)

    with trio.fail_after(60):
        async with trio.open_nursery() as inner:
            async with opener(inner, server.connect(nursery), on_tool_call=on_tool_call) as s:
                sessions.append(s)
                events = await rest_of(s)
            await server.server_closed.wait()
    # No wait for the session's end from inside it (the old code waited 7 s, then forced).
    assert len(took) == 1 and took[0] < 1.0
    assert closed_by_client(events)
    assert s.error is None
    assert server_saw == [1000]


# --- a goAway during the close drain -------------------------------------------------------------


class GoAwayWhileClosing:
    """A client connection whose close handshake waits until the server's goAway, sent
    when the close began, was received (and so handled) by the session's close drain."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self.closing = trio.Event()
        self.go_away_drained = trio.Event()

    async def get_message(self) -> str | bytes:
        frame = await self._ws.get_message()
        if self.closing.is_set() and b"goAway" in (
            frame if isinstance(frame, bytes) else frame.encode()
        ):
            # The session handles this frame before its next checkpoint.
            self.go_away_drained.set()
        return frame

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        self.closing.set()  # the server script sends its goAway now
        await self.go_away_drained.wait()
        await self._ws.aclose(code, reason)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)


@pytest.mark.parametrize("closed_by", ["aclose", "go_away"])
async def test_go_away_during_the_close_drain_is_ignored(
    nursery: trio.Nursery, autojump_clock: trio.abc.Clock, closed_by: str
) -> None:
    # Review (f): a goAway handled during the close drain started a timer in the closed
    # connection nursery: RuntimeError('Nursery is closed to new arrivals') ended the
    # session. Closing starts with aclose(), or with the reconnect a first goAway asks for.
    wrapped: list[GoAwayWhileClosing] = []

    async def script(ws: trio_websocket.WebSocketConnection) -> None:
        number = server.connections
        await server.recv(ws)
        await ws.send_message(SETUP_COMPLETE)
        if number > 1:
            await trio.sleep_forever()
        if closed_by == "go_away":
            await ws.send_message(b'{"goAway":{"timeLeft":"0s"}}')  # reconnect at once
        await wrapped[0].closing.wait()
        await ws.send_message(b'{"goAway":{"timeLeft":"10s"}}')
        while True:
            await server.recv(ws)

    server = ScriptedServer(script)
    inner_hook = server.connect(nursery)

    @asynccontextmanager
    async def hook(url: str, headers: list[tuple[str, str]]) -> AsyncIterator[Any]:
        async with inner_hook(url, headers) as stream, library_websocket(
            stream, url, headers
        ) as ws:
            if wrapped:
                yield ws
            else:
                wrapped.append(GoAwayWhileClosing(ws))
                yield wrapped[0]

    with trio.fail_after(60):
        async with trio.open_nursery() as inner, opener(inner, hook, config=RESUMABLE) as s:
            if closed_by == "aclose":
                await s.aclose()
            else:
                assert (await next_event(s, ev.Reconnected)).resumed is False
                # Long past the drained goAway's deadline: it started no timer.
                await trio.sleep(30)
                assert s.status is Status.READY
                assert s.statistics().reconnects == 1
                await s.aclose()
            assert s.error is None
            assert closed_by_client(await rest_of(s))
    assert wrapped[0].go_away_drained.is_set()
    assert server.connections == (1 if closed_by == "aclose" else 2)


# --- wait_status ---------------------------------------------------------------------------------


async def test_wait_status_sees_a_state_entered_and_left_at_once(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Review: wait_status(SETUP_PENDING) waiting since before a reconnect missed a
    # SETUP_PENDING left before the waiter ran (the answer was already there).
    first = FakeConnection(SETUP_COMPLETE)
    # The reconnect's setupComplete is queued: SETUP_PENDING -> READY in one step.
    second = FakeConnection(SETUP_COMPLETE)
    saw_setup_pending = trio.Event()

    async def waiter(session: LiveSession) -> None:
        await session.wait_status(Status.SETUP_PENDING)
        saw_setup_pending.set()

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery, opener(
            nursery, connections(first, second), config=RESUMABLE
        ) as s:
            nursery.start_soon(waiter, s)
            await trio.testing.wait_all_tasks_blocked()
            assert not saw_setup_pending.is_set()
            first.feed(trio_websocket.ConnectionClosed(INTERNAL))
            await next_event(s, ev.Reconnected)
            assert s.status is Status.READY
            await trio.testing.wait_all_tasks_blocked()
            assert saw_setup_pending.is_set()
