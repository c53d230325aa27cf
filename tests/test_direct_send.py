"""The session's direct path (issue 7): ``send_*`` writes from the caller's task.

With the library's WebSocket over a real socket, a ``send_*`` call that finds nothing queued
and nothing being written hands its frame to ``WebSocket.try_send_message``
instead of waking the send task. These tests run the session against the emulator over
loopback ``ws://`` (and ``wss://``), record which way every frame went (direct, with
``try_send_message``'s answer, or in a batch of the send task) and check what the emulator
received: every frame exactly once, in the order sent, also when some are queued, when a
direct write is partial, when a call is cancelled, and across a transparent resumption.
Every frame, direct ones included, is checked by the official SDK (``referee``).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import msgspec
import pytest
import trio
import trio.testing

from trio_gemini_live import (
    ApiKey,
    LiveConfig,
    LiveSession,
    ReconnectPolicy,
    VertexAI,
    _websocket,
    open_live_session,
)
from trio_gemini_live import events as ev
from trio_gemini_live._buffers import OutboundItem
from trio_gemini_live._sockets import NativeSocketStream
from trio_gemini_live.testing import LiveEmulator

from .conftest import API_KEY, MODEL, ValidCredentials, tls_contexts, until

pytestmark = pytest.mark.usefixtures("referee")

TEXT = LiveConfig(response_modalities=["TEXT"])
TRANSPARENT = LiveConfig(response_modalities=["TEXT"], session_resumption={"transparent": True})
SILENCE = bytes(3200)  # 100 ms of 16 kHz PCM: the emulator's VAD hears nothing


def label(frame: str | bytes) -> str:
    """What a client frame carries: its text, or its kind."""
    message = msgspec.json.decode(frame)
    if "clientContent" in message:
        turns = message["clientContent"]["turns"]
        return "".join(p.get("text", "") for t in turns for p in t["parts"])
    realtime = message.get("realtimeInput", {})
    if "text" in realtime:
        return str(realtime["text"])
    if "audio" in realtime:
        return "audio"
    return str(next(iter(message)))


def labels(messages: list[dict[str, Any]]) -> list[str]:
    """The same for the emulator's records (camelCase dicts), ``setup`` left out."""
    return [label(msgspec.json.encode(m)) for m in messages if "setup" not in m]


class Paths:
    """Which way each frame went: ``direct`` is ``(label, try_send_message's answer)``,
    ``batches`` the labels of each write of the send task (``[]``: a flush marker's)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.direct: list[tuple[str, bool | None]] = []
        self.batches: list[list[str]] = []
        lean = _websocket.WebSocket
        try_send, send_batch = lean.try_send_message, lean.send_messages

        def try_send_message(conn: _websocket.WebSocket, message: Any) -> Any:
            result = try_send(conn, message)
            self.direct.append((label(message), result))
            return result

        async def send_messages(conn: _websocket.WebSocket, messages: Any) -> None:
            self.batches.append([label(m) for m in messages])
            await send_batch(conn, messages)

        monkeypatch.setattr(lean, "try_send_message", try_send_message)
        monkeypatch.setattr(lean, "send_messages", send_messages)

    def written_directly(self) -> list[str]:
        return [name for name, result in self.direct if result is not None]

    def batched(self) -> list[str]:
        return [name for batch in self.batches for name in batch]


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch, referee: Any) -> Paths:
    return Paths(monkeypatch)


@pytest.fixture
async def emu(nursery: trio.Nursery) -> LiveEmulator:
    emulator = LiveEmulator(api_key=API_KEY)
    await nursery.start(emulator.serve)
    return emulator


@asynccontextmanager
async def tcp_session(emu: LiveEmulator, **kwargs: Any) -> AsyncIterator[LiveSession]:
    """A session over loopback with the default transport, its send task running."""
    kwargs.setdefault("config", TEXT)
    kwargs.setdefault("auth", ApiKey(API_KEY))
    async with trio.open_nursery() as nursery, open_live_session(
        nursery, model=MODEL, endpoint=emu.url, **kwargs
    ) as session:
        await trio.testing.wait_all_tasks_blocked()  # the send task is waiting for frames
        assert session._direct is not None
        yield session


def connection_of(session: LiveSession) -> _websocket.WebSocket:
    direct = session._direct
    assert direct is not None
    conn = direct.__self__  # type: ignore[attr-defined]
    assert isinstance(conn, _websocket.WebSocket)
    return conn


def stream_of(session: LiveSession) -> NativeSocketStream:
    stream = connection_of(session)._stream
    assert isinstance(stream, NativeSocketStream)
    return stream


def small_send_buffer(session: LiveSession, size: int = 64 * 1024) -> None:
    stream_of(session).socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


async def received_count(emu: LiveEmulator, connection: int, count: int) -> None:
    """Wait (polling, bounded by the caller's fail_after) until the emulator recorded
    ``count`` messages (setup included) on ``connection``."""
    while len(emu.connections[connection].received) < count:  # noqa: ASYNC110
        await trio.sleep(0.005)


def force_one_partial_write(session: LiveSession, head: int = 7) -> list[OutboundItem]:
    """The next direct write writes ``head`` bytes and leaves the rest to the stream (as a
    full socket would); returns the list of items the session pushes back to its queue."""
    conn = connection_of(session)
    stream = stream_of(session)
    real = conn._try_send

    def partial(data: bytes) -> bool | None:
        conn._try_send = real  # once
        assert stream.socket.send(data[:head]) == head
        stream._unfinished = data[head:]
        return False

    conn._try_send = partial
    pushed: list[OutboundItem] = []
    outbound = session._outbound
    push_front = outbound.push_front

    def recording_push_front(items: list[OutboundItem]) -> None:
        pushed.extend(items)
        push_front(items)

    outbound.push_front = recording_push_front  # type: ignore[method-assign]
    return pushed


# --- nothing queued: direct ------------------------------------------------------------------


@pytest.mark.parametrize("secure", [False, True])
async def test_frames_with_nothing_queued_go_out_directly(
    nursery: trio.Nursery, paths: Paths, secure: bool
) -> None:
    options: dict[str, Any] = {}
    if secure:
        server_context, client_context = tls_contexts()
        emu = LiveEmulator(api_key=API_KEY, ssl_context=server_context)
        await nursery.start(emu.serve)
        options["ssl_context"] = client_context
    else:
        emu = LiveEmulator(api_key=API_KEY)
        await nursery.start(emu.serve)
    with trio.fail_after(20):
        async with tcp_session(emu, **options) as session:
            for _ in range(5):
                await session.send_realtime_input(audio=SILENCE)
                assert len(session._outbound) == 0 and not session._in_flight
            await session.send_realtime_input(text="hello")
            await session.send_client_content("world")
            assert len(session._outbound) == 0
            assert session._proto.sent_index == 7
            await until(session, ev.TurnComplete)
    assert paths.direct == [("audio", True)] * 5 + [("hello", True), ("world", True)]
    assert paths.batches == []  # the send task never had to write a frame
    assert labels(emu.connections[0].received) == ["audio"] * 5 + ["hello", "world"]


async def test_over_a_stream_without_a_synchronous_write_frames_queue(
    nursery: trio.Nursery, paths: Paths
) -> None:
    # The emulator's in-memory stream has no try_send: the direct write answers None (nothing
    # written) and the frame goes to the send task, as before issue 7.
    emu = LiveEmulator(api_key=API_KEY)
    await nursery.start(emu.serve_in_memory)
    with trio.fail_after(10):
        async with trio.open_nursery() as inner, open_live_session(
            inner, model=MODEL, auth=ApiKey(API_KEY), config=TEXT,
            connect=emu.connect_in_memory(),
        ) as session:
            await trio.testing.wait_all_tasks_blocked()
            await session.send_client_content("queued as before")
            await until(session, ev.TurnComplete)
    assert paths.direct == [("queued as before", None)]
    assert paths.batched() == ["queued as before"]
    assert labels(emu.connections[0].received) == ["queued as before"]


# --- something queued or in flight: the queue, in order --------------------------------------


async def test_frames_queue_behind_a_write_in_progress_and_keep_their_order(
    emu: LiveEmulator, paths: Paths
) -> None:
    with trio.fail_after(20):
        async with tcp_session(emu) as session:
            conn = connection_of(session)
            conn._lock.acquire_nowait()  # another write (a keepalive ping, say) under way
            for text in ("q1", "q2", "q3"):
                await session.send_client_content(text, turn_complete=False)
            await session.send_realtime_input(audio=SILENCE)
            # Only q1 tried the direct write (the lock was taken); the rest went straight to
            # the queue behind it.
            assert paths.direct == [("q1", None)]
            assert len(session._outbound) or session._in_flight
            conn._lock.release()
            await trio.testing.wait_all_tasks_blocked()  # the send task drained the queue
            assert len(session._outbound) == 0 and not session._in_flight
            await session.send_client_content("d1", turn_complete=False)
            await session.send_client_content("end")
            await until(session, ev.TurnComplete)
    # q1 found the lock taken (None): queued; q2, q3 and the audio queued behind it.
    assert paths.direct == [("q1", None), ("d1", True), ("end", True)]
    assert paths.batched() == ["q1", "q2", "q3", "audio"]
    assert labels(emu.connections[0].received) == ["q1", "q2", "q3", "audio", "d1", "end"]


async def test_a_burst_against_a_server_that_stops_reading_arrives_once_in_order(
    emu: LiveEmulator, paths: Paths
) -> None:
    chunk = "c" * 65536
    sent: list[str] = []
    with trio.fail_after(60):
        async with tcp_session(emu) as session:
            small_send_buffer(session)
            emu.stop_reading()
            # Until the socket is full and frames queue (try_send_message answers None or
            # False), then a few more behind them.
            more = 5
            while more:
                text = f"{len(sent)}:{chunk}"
                await session.send_client_content(text, turn_complete=False)
                sent.append(text[:8])
                if len(session._outbound):
                    more -= 1
                assert len(sent) < 2000, "the socket never filled up"
            emu.resume_reading()
            await session.send_client_content("end")
            sent.append("end")
            await until(session, ev.TurnComplete)
    assert [name[:8] for name in labels(emu.connections[0].received)] == sent
    assert any(result is True for _, result in paths.direct)
    assert any(result is not True for _, result in paths.direct)
    assert paths.batched()  # the send task wrote the queued ones
    # Every frame went one way or the other, exactly once.
    assert sorted(n[:8] for n in paths.written_directly() + paths.batched()) == sorted(sent)


# --- cancellation ---------------------------------------------------------------------------


async def test_a_cancelled_send_sends_nothing(emu: LiveEmulator, paths: Paths) -> None:
    with trio.fail_after(20):
        async with tcp_session(emu) as session:
            index = session._proto.sent_index
            for call in (
                partial(session.send_realtime_input, text="never"),
                partial(session.send_realtime_input, audio=SILENCE),
                partial(session.send_client_content, "never either"),
            ):
                with trio.CancelScope() as scope:
                    scope.cancel()
                    await call()
                assert scope.cancelled_caught
                assert session._proto.sent_index == index and len(session._outbound) == 0
            await session.send_realtime_input(text="after")
            await until(session, ev.TurnComplete)
            assert session._proto.sent_index == index + 1
    assert paths.direct == [("after", True)]
    assert labels(emu.connections[0].received) == ["after"]


# --- partial direct writes: finished by the send task ----------------------------------------


async def test_a_partial_direct_write_is_finished_via_a_flush_marker(
    emu: LiveEmulator, paths: Paths
) -> None:
    with trio.fail_after(20):
        async with tcp_session(emu) as session:
            pushed = force_one_partial_write(session)
            index = session._proto.sent_index
            await session.send_client_content("partly written", turn_complete=False)
            assert session._proto.sent_index == index + 1  # counted once, when committed
            await trio.testing.wait_all_tasks_blocked()  # the send task finished it
            assert not stream_of(session).unfinished
            assert paths.batches == [[]]  # its write for the marker carried no frame
            assert session._proto.sent_index == index + 1  # and the marker counts for nothing
            assert len(session._outbound) == 0 and not session._in_flight
            await session.send_client_content("next")  # direct again
            await until(session, ev.TurnComplete)
            assert session._proto.sent_index == index + 2
            assert connection_of(session).closed is None
    assert [(item.frame, item.kind) for item in pushed] == [("", "flush")]
    assert paths.direct == [("partly written", False), ("next", True)]
    assert labels(emu.connections[0].received) == ["partly written", "next"]


async def test_a_frame_sent_right_after_a_partial_write_queues_behind_it(
    emu: LiveEmulator, paths: Paths
) -> None:
    with trio.fail_after(20):
        async with tcp_session(emu) as session:
            force_one_partial_write(session, head=1)
            index = session._proto.sent_index
            await session.send_client_content("partly written", turn_complete=False)
            # The marker is queued or being written: this one may not overtake it.
            await session.send_client_content("behind it", turn_complete=False)
            await session.send_client_content("end")
            await until(session, ev.TurnComplete)
            assert session._proto.sent_index == index + 3
    assert paths.direct[0] == ("partly written", False)
    assert "behind it" not in paths.written_directly()
    assert "" not in paths.batched() and paths.batched()[0] == "behind it"
    assert labels(emu.connections[0].received) == ["partly written", "behind it", "end"]


async def test_a_frame_too_big_for_the_socket_is_written_partly_then_finished(
    emu: LiveEmulator, paths: Paths
) -> None:
    big = "b" * (1024 * 1024)
    with trio.fail_after(30):
        async with tcp_session(emu) as session:
            small_send_buffer(session)
            await session.send_client_content(big, turn_complete=False)
            await session.send_client_content("end")
            await until(session, ev.TurnComplete)
    # A synchronous 1 MB write into a 64 KiB socket: partial, finished by the send task.
    assert paths.direct[0] == (big, False)
    assert labels(emu.connections[0].received) == [big, "end"]


# --- transparent resumption: the index counts direct frames ---------------------------------


async def test_transparent_replay_counts_direct_and_partial_frames(
    emu: LiveEmulator, paths: Paths
) -> None:
    creds = ValidCredentials("ya29.direct")
    auth = VertexAI(project="p", location="us-central1", credentials=creds)
    policy = ReconnectPolicy(initial_backoff=0.01, max_backoff=0.05, seed=1)
    with trio.fail_after(30):
        async with tcp_session(emu, auth=auth, config=TRANSPARENT, reconnect=policy) as session:
            await session.send_client_content("one", turn_complete=False)
            await session.send_client_content("two")
            await until(session, ev.TurnComplete)
            seen = await until(session, ev.SessionResumptionUpdate)
            update = seen[-1]
            assert isinstance(update, ev.SessionResumptionUpdate)
            assert update.last_consumed_index == 2  # setup 0, "one" 1, "two" 2
            # Sent directly, received, but not acknowledged (an open turn gets no update).
            await session.send_client_content("three", turn_complete=False)
            await session.send_client_content("four", turn_complete=False)
            await received_count(emu, 0, 5)
            emu.stop_reading()
            # Committed by a partial direct write, finished by the send task, never read.
            force_one_partial_write(session)
            await session.send_client_content("five", turn_complete=False)
            assert session._proto.sent_index == 5
            await trio.testing.wait_all_tasks_blocked()
            assert not stream_of(session).unfinished
            await emu.drop()
            await until(session, ev.Reconnected)
            await session.send_client_content("six")
            await until(session, ev.TurnComplete)
            assert session._proto.sent_index == 4  # on the new connection: 3 replayed + "six"
    assert paths.written_directly()[:5] == ["one", "two", "three", "four", "five"]
    assert ("five", False) in paths.direct
    assert labels(emu.connections[0].received) == ["one", "two", "three", "four"]
    # Exactly the unacknowledged frames, once, in order, then the new one.
    assert labels(emu.connections[1].received) == ["three", "four", "five", "six"]
    assert labels(emu.consumed()) == ["one", "two", "three", "four", "five", "six"]


async def test_a_resume_sends_again_the_direct_frames_its_handle_lacks(
    emu: LiveEmulator, paths: Paths
) -> None:
    # Without transparent resumption: content sent after the resumed handle is re-sent.
    resumable = LiveConfig(response_modalities=["TEXT"], session_resumption={})
    policy = ReconnectPolicy(initial_backoff=0.01, max_backoff=0.05, seed=1)
    with trio.fail_after(30):
        async with tcp_session(emu, config=resumable, reconnect=policy) as session:
            await session.send_client_content("one")
            await until(session, ev.TurnComplete)
            seen = await until(session, ev.SessionResumptionUpdate)
            update = seen[-1]
            assert isinstance(update, ev.SessionResumptionUpdate) and update.resumable
            await session.send_client_content("two", turn_complete=False)  # after the handle
            await received_count(emu, 0, 3)
            await emu.drop()
            seen = await until(session, ev.Reconnected)
            assert seen[-1] == ev.Reconnected(resumed=True)
            await session.send_client_content("three")
            await until(session, ev.TurnComplete)
    assert paths.written_directly()[:2] == ["one", "two"]
    assert labels(emu.connections[0].received) == ["one", "two"]
    assert labels(emu.connections[1].received) == ["two", "three"]
    assert labels(emu.consumed()) == ["one", "two", "three"]
