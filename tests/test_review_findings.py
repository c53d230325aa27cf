"""Findings of a fresh-eyes review of the issue 11/12 rewrite, one test per finding.

Each test failed on the code it was written against (commit ffe9cf7) and says, in its
docstring, what was wrong, what a user saw, and which promise it broke. All are fixed: the
tests keep them fixed.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import tracemalloc
from typing import Any

import pytest
import trio
import trio.testing

from trio_gemini_live import (
    ApiKey,
    InvalidArgumentError,
    LiveConfig,
    LiveError,
    ReconnectPolicy,
    SlowConsumerError,
    Status,
    open_live_session,
)
from trio_gemini_live import events as ev
from trio_gemini_live.testing import Fault, LiveEmulator

from .conftest import API_KEY, MODEL
from .core import receive_frame
from .hostile.server import HostileServer, Peer

TEXT = LiveConfig(response_modalities=["TEXT"])
RESUMING = LiveConfig(response_modalities=["TEXT"], session_resumption={})


def _text_frame(text: str) -> bytes:
    return json.dumps({"serverContent": {"outputTranscription": {"text": text}}}).encode()


# --- 1. the events queue sealed without an error ----------------------------------------------


async def test_slow_consumer_at_a_reconnection_is_not_silent(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """The events queue overflowing while a connection is ending must end the session.

    ``LiveSession._slow_consumer`` seals the events queue (nothing more is ever queued) but
    raises ``SlowConsumerError`` only when ``_conn_end is None``. The events a lost
    connection synthesizes (``Interrupted``, ``TurnComplete(CONNECTION_LOST)``,
    ``Reconnecting``) are emitted by the connection loop while ``_conn_end`` is still set,
    so an overflow there seals the queue with no error: the session reconnects, stays
    READY with ``error is None``, and every later event (``Reconnected``, the answers, even
    ``SessionClosed``) is silently discarded. A reader that catches up waits forever.
    Issue 12: "Past the bound, the session ends with a clear error naming the slow
    consumer"; nothing is silently lost.
    """
    emu = LiveEmulator(api_key=API_KEY)
    await nursery.start(emu.serve_in_memory)
    bound = 2000
    answered = False
    error: BaseException | None = None
    with trio.fail_after(120):
        try:
            async with open_live_session(
                nursery, model=MODEL, auth=ApiKey(API_KEY), config=RESUMING,
                connect=emu.connect_in_memory(), keepalive_interval=None,
                reconnect=ReconnectPolicy(min_interval=0.0, seed=1), max_event_bytes=bound,
            ) as session:
                # Nobody reads: fill the queue to just under the bound with one-letter
                # transcript fragments (each counted 96 + 1 bytes), which also puts the
                # model in a turn, so that the drop synthesizes Interrupted and TurnComplete.
                while session.statistics().queued_event_bytes <= bound - 3 * 96:
                    await emu.send_raw(_text_frame("x"))
                    await trio.sleep(0.01)
                assert session.error is None
                await emu.drop()
                await emu.wait_connection(2)
                await trio.sleep(1.0)
                # The session must either end with SlowConsumerError, or still deliver
                # what comes next. Today it does neither.
                with trio.move_on_after(30):
                    async for event in session.events():
                        if isinstance(event, ev.Reconnecting):
                            await session.send_text("are you there?")
                        if isinstance(event, ev.TurnComplete) and event.reason is None:
                            answered = True
                            break
                error = session.error
        except SlowConsumerError as exc:
            error = exc
    assert answered or isinstance(error, SlowConsumerError), (
        f"error {error!r}: the events queue was sealed without an error, the session went "
        "on, and the answer never reached events()"
    )


# --- 2. events the queue does not weigh ----------------------------------------------------

_BIG = 256 * 1024
_PNG = base64.b64encode(b"\x89PNG" + b"\0" * _BIG).decode()
#: Server messages whose events carry a large payload that ``EventQueue`` counts as 96 bytes.
_UNWEIGHED = {
    "inline image": {"serverContent": {"modelTurn": {"parts": [
        {"inlineData": {"mimeType": "image/png", "data": _PNG}}]}}},
    "interim transcription": {"serverContent": {"interimInputTranscription": {"text": "y" * _BIG}}},
    "executable code": {"serverContent": {"modelTurn": {"parts": [
        {"executableCode": {"code": "z" * _BIG}}]}}},
    "code result": {"serverContent": {"modelTurn": {"parts": [
        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "z" * _BIG}}]}}},
    "resumption handle": {"sessionResumptionUpdate": {"newHandle": "h" * _BIG}},
}


@pytest.mark.parametrize("kind", list(_UNWEIGHED))
async def test_events_queue_bound_counts_every_payload(
    kind: str, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """``max_event_bytes`` must bound what the events queue holds, whatever the event.

    ``EventQueue.put`` counts the text of ``TextChunk``/``InputTranscription``/
    ``OutputTranscription`` and, through ``_SIZED_BY_FRAME``, the frame of ``ToolCall``,
    ``Grounding`` and ``UnknownMessage``; every other event is counted as 96 bytes whatever
    it carries: ``InlineData`` (images, non-PCM audio), ``InterimInputTranscription``,
    ``ExecutableCode``, ``CodeExecutionResult``, ``ModelPart``, a ``SessionResumptionUpdate``
    handle, a ``TurnComplete`` reason... With nobody reading, a server sending such messages
    grows the process without bound while ``statistics().queued_event_bytes`` reports a few
    KB. Issue 12 finding 4: the events queue is bounded in bytes, and past the bound the
    session ends with ``SlowConsumerError``.
    """
    emu = LiveEmulator(api_key=API_KEY)
    await nursery.start(emu.serve_in_memory)
    frame = json.dumps(_UNWEIGHED[kind]).encode()
    bound = 1024 * 1024
    error: BaseException | None = None
    queued = 0
    with trio.fail_after(120):
        try:
            async with open_live_session(
                nursery, model=MODEL, auth=ApiKey(API_KEY), config=TEXT,
                connect=emu.connect_in_memory(), keepalive_interval=None,
                max_event_bytes=bound,
            ) as session:
                for _ in range(32):  # 8 MiB of payload, 8 times the bound; nobody reads
                    await emu.send_raw(frame)
                    await trio.sleep(0.01)
                queued = session.statistics().queued_event_bytes
                error = session.error
        except SlowConsumerError as exc:
            error = exc
    assert isinstance(error, SlowConsumerError), (
        f"8 MiB of {kind} events queued for nobody with max_event_bytes=1 MiB, and the "
        f"session went on (queued_event_bytes={queued})"
    )


# --- 3. the handler queue is bounded in items, not bytes ----------------------------------


async def test_slow_handler_memory_is_bounded(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """A slow ``on_message`` handler must not hold the server's frames without bound.

    ``HandlerDispatcher.queue`` bounds its queue at ``MAX_QUEUED`` = 4,096 *items*, and
    ``on_message`` gets every decoded ``ServerMessage``: with messages of up to 16 MiB
    (the frame limit) that is up to 64 GiB held for one slow handler, while the events
    queue beside it is held to ``max_event_bytes`` (32 MiB by default). Here the
    application reads ``events()`` promptly and its ``on_message`` awaits something that
    has not happened yet; 16 MiB of text arrive and ``max_event_bytes`` is 1 MiB: the
    handler queue keeps all 16 MiB (measured with tracemalloc; without the handler the
    same run holds under 1 MiB). Issue 12 finding 4 asks for memory bounded in bytes on
    every path of server input; backpressure.rst says a slow handler "delays only the
    handlers".
    """
    emu = LiveEmulator(api_key=API_KEY)
    await nursery.start(emu.serve_in_memory)
    frame = json.dumps({"serverContent": {"modelTurn": {"parts": [{"text": "t" * _BIG}]}}})
    frame_bytes = frame.encode()
    release = trio.Event()

    async def on_message(message: Any) -> None:
        await release.wait()  # e.g. waiting for a database, a UI, a lock

    with trio.fail_after(120):
        async with open_live_session(
            nursery, model=MODEL, auth=ApiKey(API_KEY), config=TEXT,
            connect=emu.connect_in_memory(), keepalive_interval=None,
            max_event_bytes=1024 * 1024, on_message=on_message,
        ) as session:
            tracemalloc.start()
            try:
                base = tracemalloc.get_traced_memory()[0]
                for _ in range(64):  # 16 MiB of text; each chunk is read at once
                    await emu.send_raw(frame_bytes)
                    async for event in session.events():
                        if isinstance(event, ev.TextChunk):
                            break
                held = tracemalloc.get_traced_memory()[0] - base
            finally:
                tracemalloc.stop()
            release.set()
    assert held < 6 * 1024 * 1024, (
        f"{held / 2**20:.1f} MiB held for a slow on_message handler (max_event_bytes=1 MiB)"
    )


# --- 4. a cancelled aclose() waits the whole close handshake --------------------------------


async def _mute_after_setup_complete(peer: Peer) -> None:
    """A normal opening, then silence: reads everything, answers nothing (no close echo)."""
    await peer.setup()
    while True:
        await peer.recv_frame()


async def test_cancelled_aclose_returns_promptly(nursery: trio.Nursery) -> None:
    """``aclose()`` under a cancellation must use the short close bound.

    Issue 12 finding 8: "An outer cancellation returns within 0.5 s: the close handshake
    gets a short bound when cancelled", and ``aclose`` promises to tear down "even when
    cancelled (it then skips only the flush)". ``LiveSession._shutdown`` sets
    ``_quick_close`` only for ``flush=False`` (the ``async with`` error path); an
    ``aclose()`` whose caller is cancelled (``move_on_after`` around it, or a deadline that
    passes during the graceful close at the end of the block) keeps the full
    ``DISCONNECT_TIMEOUT`` (3 s) for a server that does not answer the close, inside a
    shielded wait: the caller's ``move_on_after(0.2)`` returns after about 3 s.
    """
    server = HostileServer(_mute_after_setup_complete)
    await nursery.start(server.serve)
    with trio.fail_after(20):
        async with open_live_session(
            nursery, model=MODEL, auth=ApiKey(API_KEY), config=TEXT, endpoint=server.url,
            keepalive_interval=None, reconnect=False,
        ) as session:
            started = time.perf_counter()
            with trio.move_on_after(0.2):
                await session.aclose()
            elapsed = time.perf_counter() - started
            assert session.status is Status.CLOSED
    assert elapsed < 1.5, f"aclose() cancelled at 0.2 s returned after {elapsed:.2f} s"


# --- 5. content sent just before a handle arrives is lost on the resume ----------------------


async def test_content_sent_before_a_handle_arrives_survives_a_resume(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Context sent with ``turn_complete=False`` must not be lost by a resume.

    ``TurnBuffer`` counts content that starts no turn as answered the moment it is written,
    and ``covered()`` drops it at the next resumable handle that *arrives*. But the server
    issued that handle earlier: here (50 ms of server latency, the emulator's
    ``send_delay``) the model's ``turnComplete`` and the next handle are on their way
    together, the application sends "I live in Paris." on ``TurnComplete``, and the handle
    that then arrives names the state before that message. The connection drops, the
    session resumes from that handle and never sends the content again: the model answers
    "Where do I live?" without it. resumption.rst: "nothing you send is lost; text you
    sent after the handle it resumes from is sent again"; issue 12: nothing the user sent
    is silently lost. (The core machine test excludes exactly this case as "the core's
    documented approximation"; the user documentation promises the opposite.)
    """
    emu = LiveEmulator(api_key=API_KEY)
    emu.send_delay = 0.05  # 50 ms between server messages: an ordinary network
    await nursery.start(emu.serve_in_memory)
    with trio.fail_after(120):
        async with open_live_session(
            nursery, model=MODEL, auth=ApiKey(API_KEY), config=RESUMING,
            connect=emu.connect_in_memory(), keepalive_interval=None,
            reconnect=ReconnectPolicy(min_interval=0.0, seed=1),
        ) as session:
            await session.send_client_content("My name is Ada.")
            answered = False
            async for event in session.events():
                if isinstance(event, ev.TurnComplete):
                    await session.send_client_content("I live in Paris.", turn_complete=False)
                    answered = True
                elif (
                    answered and isinstance(event, ev.SessionResumptionUpdate) and event.resumable
                ):
                    break
            await emu.drop()
            async for event in session.events():
                if isinstance(event, ev.Reconnected):
                    assert event.resumed
                    break
            await session.send_client_content("Where do I live?")
            async for event in session.events():
                if isinstance(event, ev.TurnComplete):
                    break
            kept = [
                part["text"]
                for message in emu.consumed()
                for turn in message.get("clientContent", {}).get("turns", [])
                for part in turn["parts"]
            ]
    assert kept == ["My name is Ada.", "I live in Paris.", "Where do I live?"], kept


# --- 6. every turn kept forever without resumption handles ----------------------------------


async def test_answered_turns_are_not_kept_forever(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """A session that never gets a resumable handle must not keep every turn it sent.

    ``LiveProtocol.written`` puts every text frame in the ``TurnBuffer``; entries leave it
    only through ``covered()`` (a resumable handle) or a reconnection. Without
    ``session_resumption`` (the default ``LiveConfig``) no handle ever comes, so every
    ``send_text``/``send_client_content`` frame of the session stays in memory until it
    ends, and ``turn_completed`` rescans the answered ones on every ``turnComplete``
    (quadratic over a long session). Only the turns after the last answered one can ever
    be sent again (``take_fresh``). Here 300 answered turns of 2 KB each are all still
    held (about 600 KiB allocated in ``_protocol``/``_buffers``), with the conversation
    record turned off.
    """
    emu = LiveEmulator(api_key=API_KEY)
    await nursery.start(emu.serve_in_memory)
    with trio.fail_after(600):
        async with open_live_session(
            nursery, model=MODEL, auth=ApiKey(API_KEY), config=TEXT,
            connect=emu.connect_in_memory(), keepalive_interval=None, conversation_turns=0,
        ) as session:
            tracemalloc.start(1)
            try:
                for i in range(300):
                    await session.send_text(f"turn {i}: " + "w" * 2000)
                    async for event in session.events():
                        if isinstance(event, ev.TurnComplete):
                            break
                snapshot = tracemalloc.take_snapshot().filter_traces([
                    tracemalloc.Filter(True, "*trio_gemini_live*_protocol.py"),
                    tracemalloc.Filter(True, "*trio_gemini_live*_buffers.py"),
                ])
            finally:
                tracemalloc.stop()
            assert session.statistics().queued_outbound == 0
    held = sum(stat.size for stat in snapshot.statistics("filename"))
    assert held < 100 * 1024, (
        f"{held / 1024:.0f} KiB of sent frames still held after 300 answered turns"
    )


# --- 7. goAway right after every setup: a reconnect loop at min_interval, forever ------------


async def test_go_away_after_every_setup_meets_the_budget(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """A server that ends every connection at once must meet a final error.

    ``ReconnectPolicy``'s docstring: "a server that ends every connection at once (with a
    goAway right after the setup, or a drop) meets the backoff and then a final error:
    never a reconnect loop (issue 12)". But ``LiveProtocol.receive_message`` counts any
    new resumable handle as useful work, and a server that sends a handle right after
    ``setupComplete`` (the emulator does, on every connection) resets the budget each
    time: with ``goAway`` right after the setup the session reconnects once per
    ``min_interval`` forever (here 120 connections in 120 s, every ``Reconnecting`` is
    attempt 1), and never reports anything but ``Reconnecting``.
    """
    emu = LiveEmulator(api_key=API_KEY, connection_lifetime=0.05, go_away_notice=0.05)
    await nursery.start(emu.serve_in_memory)
    policy = ReconnectPolicy(max_attempts=3, seed=1)
    attempts: list[int] = []
    error: BaseException | None = None
    with trio.move_on_after(120):
        try:
            async with open_live_session(
                nursery, model=MODEL, auth=ApiKey(API_KEY), config=RESUMING,
                connect=emu.connect_in_memory(), keepalive_interval=None, reconnect=policy,
            ) as session:
                async for event in session.events():
                    if isinstance(event, ev.Reconnecting):
                        attempts.append(event.attempt)
        except LiveError as exc:
            error = exc
    assert len(emu.connections) <= policy.max_attempts + 2 and error is not None, (
        f"{len(emu.connections)} connections in 120 s and no final error "
        f"(attempts reported: {attempts[:10]}...)"
    )


_CLOSE_OPCODE = 0x8


async def _go_away_then_ignore_the_close(peer: Peer) -> None:
    """setupComplete, then goAway, then reads everything and never answers the close."""
    await peer.setup()
    await peer.send_json({"goAway": {"timeLeft": "30s"}})
    while True:
        _, opcode, _ = await peer.recv_frame()
        if opcode == _CLOSE_OPCODE:
            peer.close_code = 1000  # seen, never answered
            peer.server.close_seen.set()  # type: ignore[attr-defined]


async def test_cancel_during_a_go_away_close_returns_promptly(nursery: trio.Nursery) -> None:
    """An outer cancellation while the session closes a connection after ``goAway``.

    After ``goAway`` the session closes the old connection first (break before make) with
    the full ``DISCONNECT_TIMEOUT`` (3 s) inside a shielded scope (``_connection._use``);
    the bound is chosen when the close starts, so an outer cancellation that arrives
    meanwhile (``_shutdown(flush=False)`` sets ``_quick_close`` too late) waits out the
    3 s against a server that does not answer the close. Issue 12 finding 8: an outer
    cancellation returns within 0.5 s.
    """
    server = HostileServer(_go_away_then_ignore_the_close)
    server.close_seen = trio.Event()  # type: ignore[attr-defined]
    await nursery.start(server.serve)
    with trio.fail_after(20):
        with trio.CancelScope() as outer:
            async with open_live_session(
                nursery, model=MODEL, auth=ApiKey(API_KEY), config=RESUMING,
                endpoint=server.url, keepalive_interval=None,
            ) as session:
                async for event in session.events():
                    if isinstance(event, ev.GoAway):
                        break
                # The session closes the old connection (break before make).
                await server.close_seen.wait()  # type: ignore[attr-defined]
                assert session.status is Status.READY  # not reconnected yet
                started = time.perf_counter()
                outer.cancel()
                await trio.sleep_forever()
    elapsed = time.perf_counter() - started
    assert elapsed < 1.5, f"returned {elapsed:.2f} s after the cancellation"


# --- 8. one toolCall frame: a task and a frame per call ------------------------------------


def get_weather(city: str) -> dict[str, Any]:
    """The weather in a city.

    Args:
        city: the city's name.
    """
    return {"temperature": 21}


async def get_forecast(city: str) -> dict[str, Any]:
    """Tomorrow's weather in a city (async: it runs in the session's task, no thread).

    Args:
        city: the city's name.
    """
    await trio.lowlevel.checkpoint()
    return {"forecast": "sunny"}


_CALLS = 10_000


async def _many_calls(peer: Peer) -> None:
    """One ``toolCall`` of 10,000 calls to an undeclared function (330 KB), a
    ``turnComplete`` after it (the test's marker), then reads."""
    calls = [{"id": f"c{i}", "name": "not_declared"} for i in range(_CALLS)]
    await peer.setup()
    await peer.send_json({"toolCall": {"functionCalls": calls}})
    await peer.send_json({"serverContent": {"turnComplete": True}})
    await peer.drain()


async def test_one_tool_call_frame_costs_bounded_memory(nursery: trio.Nursery) -> None:
    """A server's toolCall with many calls must cost a bounded multiple of its size.

    ``ToolCallRunner.call`` starts one task per call of a ``toolCall`` when the session has
    ``tools=`` (a call to a function nobody declared is answered with an error by its own
    task), and each task sends its own ``toolResponse`` frame. One 330 KB frame of 10,000
    calls makes 10,000 tasks and 10,000 frames: over 40 MiB allocated at the peak
    (tracemalloc); measured by the reviewer without tracemalloc, a 1.3 MB frame took the
    process to 214 MB of RSS and froze every Trio task for 6 s, a 6.7 MB frame to 940 MB
    and 18 s (a 16 MiB frame, the limit, scales to gigabytes). Issue 12 (findings 1 and 6):
    one frame must not freeze the program, and memory per message is bounded by a small
    multiple of its payload.
    """
    server = HostileServer(_many_calls)
    await nursery.start(server.serve)
    with trio.fail_after(120):
        async with open_live_session(
            nursery, model=MODEL, auth=ApiKey(API_KEY), config=TEXT, endpoint=server.url,
            keepalive_interval=None, reconnect=False, tools=[get_weather],
        ) as session:
            tracemalloc.start()
            try:
                base = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                # The marker after the toolCall: its calls were handled (tasks started).
                async for event in session.events():
                    if isinstance(event, ev.TurnComplete):
                        break
                # And the tasks ran: every task of the program waits (on the network).
                await trio.testing.wait_all_tasks_blocked(0.2)
                peak = tracemalloc.get_traced_memory()[1] - base
            finally:
                tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, (
        f"{peak / 2**20:.0f} MiB allocated for one 330 KB toolCall of {_CALLS} calls "
        f"({server.messages - 1} client messages sent in answer)"
    )


# --- 9. aclose(finish_turn=...) waits for a tool call whose answer it refuses to send -------


async def test_finish_turn_lets_the_tool_answer_through(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """``aclose(finish_turn=...)`` must let the session answer the tool calls it waits for.

    The docstring: "finish_turn: seconds to wait ... for the model to finish answering (a
    turn sent and not answered, a turn in progress, a tool call)". But ``_shutdown`` moves
    to CLOSING and closes the outbound queue first, and ``LiveSession._send`` refuses
    everything once CLOSING, the registered tool's answer (``_answer``) included ("tool
    response not sent"). The model, which waits for that answer (PROTOCOL.md 3.4: every
    call must be answered), never finishes: ``aclose(finish_turn=30)`` waits the whole
    30 s and the goodbye the application waited for never comes. A voice agent hanging up
    after a last question that needs a tool (an "end call" or a lookup) hits this.
    """
    emu = LiveEmulator(api_key=API_KEY)
    await nursery.start(emu.serve_in_memory)
    seen: list[type[ev.Event]] = []
    with trio.fail_after(120):
        async with open_live_session(
            nursery, model=MODEL, auth=ApiKey(API_KEY), config=TEXT,
            connect=emu.connect_in_memory(), keepalive_interval=None, tools=[get_forecast],
        ) as session:

            async def read() -> None:
                async for event in session.events():
                    seen.append(type(event))

            nursery.start_soon(read)
            await session.send_text("Please call get_forecast for Paris, then say goodbye.")
            started = trio.current_time()
            await session.aclose(finish_turn=30)
            waited = trio.current_time() - started
    sent = [next(iter(message)) for message in emu.connections[0].received]
    assert "toolResponse" in sent and ev.TurnComplete in seen and waited < 30, (
        f"client messages {sent}, events {[kind.__name__ for kind in seen]}, "
        f"aclose waited {waited:.0f} s"
    )


# --- 10. transparent resumption: frames acknowledged by an update that has no handle --------


def test_an_index_without_a_handle_does_not_drop_the_replay() -> None:
    """``lastConsumedClientMessageIndex`` is the index "included in the state represented by
    this SessionResumptionToken" (the API reference): an update with ``resumable: false``
    and no handle represents no state the client can resume.

    ``LiveProtocol.receive_message`` applies ``ReplayBuffer.acknowledge`` for any update
    that carries an index, even one without a resumable handle, while ``self.handle`` stays
    the older one. Resumed from that older handle (the server restores its state, before
    the frames in between), the session sends nothing again: the three frames written after
    the handle are lost. The protocol core's rule 5: "every written frame the server did not
    acknowledge is sent again first"; the frames were acknowledged only for a state that
    cannot be resumed. (Tested on the core, as the session drives it.)
    """
    from trio_gemini_live import _wire as w
    from trio_gemini_live._protocol import CLOSED, ConnectionEnd, LiveProtocol

    proto = LiveProtocol(
        w.Setup(model="models/m", session_resumption=w.SessionResumptionConfig(transparent=True)),
        policy=ReconnectPolicy(min_interval=0.0),
    )

    def receive(message: dict[str, Any], now: float = 0.0) -> None:
        receive_frame(proto, json.dumps(message).encode(), now)

    proto.connecting(0.0)
    proto.setup_frame()
    receive({"setupComplete": {}})
    proto.after_setup(0.0)
    receive({"sessionResumptionUpdate": {
        "newHandle": "h1", "resumable": True, "lastConsumedClientMessageIndex": "0"}})
    for text in ("a", "b", "c"):
        message = w.ClientMessage(realtime_input=w.RealtimeInput(text=text))
        proto.outbox.append(proto.prepare(message, "text"))
        item = proto.outbox.popleft()
        assert item is not None
        proto.written(item)
    # The model is generating: not resumable, no handle (PROTOCOL.md 4), yet an index.
    receive({"sessionResumptionUpdate": {
        "resumable": False, "lastConsumedClientMessageIndex": "3"}})
    assert proto.connection_ended(ConnectionEnd(CLOSED, 1006), 1.0).reconnect
    proto.connecting(2.0)
    setup = json.loads(proto.setup_frame())["setup"]
    assert setup["sessionResumption"]["handle"] == "h1"  # the state before a, b and c
    receive({"setupComplete": {}}, 2.0)
    proto.after_setup(2.0)
    resent = [json.loads(item.frame)["realtimeInput"]["text"] for item in proto.outbox]
    assert resent == ["a", "b", "c"], resent


# --- 11. a fatal close during the graceful close is reported as a normal close -----------


async def test_a_refusal_during_the_graceful_close_is_not_a_normal_close(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """The server refusing the last input while the block is left must not be swallowed.

    Leaving ``async with open_live_session(...)`` flushes the queued input, then closes.
    When the server answers the last message with a fatal close (here 1007: an activity
    signal with automatic VAD on, which the library does not check), that close arrives
    while ``_close_draining`` runs for the user's close: the end is classified as USER,
    ``session.error`` stays ``None``, ``on_close`` gets ``SessionClosed(1000, "closed by
    the client")`` and nothing is raised, although the server closed with 1007 (the
    emulator's record says so). The same input followed by ``trio.sleep(1)`` inside the
    block fails with ``InvalidArgumentError`` as documented. cancellation.rst: a fatal
    error "comes out of the async with as itself"; issue 12: nothing the user sent is
    silently lost.
    """
    emu = LiveEmulator(api_key=API_KEY)
    await nursery.start(emu.serve_in_memory)
    closes: list[ev.SessionClosed] = []
    raised: BaseException | None = None
    with trio.fail_after(60):
        try:
            async with open_live_session(
                nursery, model=MODEL, auth=ApiKey(API_KEY), config=TEXT,
                connect=emu.connect_in_memory(), keepalive_interval=None,
                on_close=closes.append,
            ) as session:
                await session.send_realtime_input(activity_start=True)
        except InvalidArgumentError as exc:
            raised = exc
        await emu.connections[0].closed.wait()
    assert emu.connections[0].close_code == 1007  # the server refused it
    assert raised is not None or isinstance(session.error, InvalidArgumentError), (
        f"server closed with 1007, yet error={session.error!r}, on_close got {closes}"
    )


# --- 12. the initial history is outside the resume plan ----------------------------------


@pytest.mark.parametrize(
    ("drop_after", "what_happens"),
    [(1, "sent twice (fresh reconnection)"), (2, "lost (resumed from the first handle)")],
)
async def test_initial_history_reaches_the_session_exactly_once(
    drop_after: int, what_happens: str,
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock,
) -> None:
    """``history=`` must reach the server's session once, whatever the first drop.

    The history goes out as a ``HISTORY`` item pushed by ``after_setup`` on every fresh
    connection, and nothing else tracks it:

    * dropped right after ``setupComplete`` (``drop_after=1``): the history's write fails,
      ``write_failed`` queues it again, and the next (fresh) connection's ``after_setup``
      pushes a second one in front: the model gets the whole history twice;
    * dropped after ``setupComplete`` and the first resumption handle (``drop_after=2``;
      the emulator, like the server, issues that handle before it consumed the history):
      the session resumes from that handle, whose state has no history, and a resumed
      connection never sends the history: the model answers without it.

    Issue 12: nothing the user sent is silently lost; rule 5 of the core ("fresh: the
    initial history, then every turn not known to be answered").
    """
    emu = LiveEmulator(api_key=API_KEY)
    emu.schedule_fault(Fault.drop(), after_server_messages=drop_after)
    await nursery.start(emu.serve_in_memory)
    history = [
        {"role": "user", "parts": [{"text": "My name is Ada."}]},
        {"role": "model", "parts": [{"text": "Hello Ada."}]},
    ]
    with trio.fail_after(120):
        async with open_live_session(
            nursery, model=MODEL, auth=ApiKey(API_KEY), config=RESUMING,
            connect=emu.connect_in_memory(), keepalive_interval=None,
            reconnect=ReconnectPolicy(min_interval=0.0, seed=1), history=history,
        ) as session:
            async for event in session.events():
                if isinstance(event, ev.Reconnected):
                    break
            await session.send_text("What is my name?")
            async for event in session.events():
                if isinstance(event, ev.TurnComplete) and event.reason is None:
                    break
    assert len(emu.connections) == 2
    kept = [
        part["text"]
        for message in emu.consumed()
        for turn in message.get("clientContent", {}).get("turns", [])
        for part in turn["parts"]
    ]
    assert kept == ["My name is Ada.", "Hello Ada."], f"history {what_happens}: {kept}"


# --- 13. server text quoted in a ProtocolError is not redacted ----------------------------


async def _echo_the_key_in_bad_fields(peer: Peer) -> None:
    """Echoes the request's API key in a goAway Duration and a tool call's id (a debug
    endpoint or a proxy that echoes the request, issue 12 finding 5), then reads."""
    await peer.setup()
    assert peer.request is not None
    key = peer.request.headers["x-goog-api-key"]
    await peer.send_json({"goAway": {"timeLeft": key}})
    await peer.send_json({"toolCall": {"functionCalls": [{"id": key}]}})
    await peer.drain()


async def test_malformed_server_text_is_redacted_in_logs_and_on_error(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    """Rule 8 of the protocol core: every secret is replaced "in any text the server
    provides ... before it is stored, logged or raised".

    A malformed message is ignored and reported: ``_handle_frame`` logs the
    ``ProtocolError`` at WARNING and hands it to ``on_error``. Two of those errors quote
    the server's text verbatim (``_wire.parse_duration``: ``invalid Duration {value!r}``;
    ``LiveProtocol._name_tool_calls``: ``tool call {id!r} without a name``), unredacted and
    of any length (a 16 MiB ``timeLeft`` makes a 16 MiB log line): a server that echoes
    the request puts the API key in the application's logs and error reports.
    """
    caplog.set_level(logging.DEBUG)
    server = HostileServer(_echo_the_key_in_bad_fields)
    await nursery.start(server.serve)
    reported: list[BaseException] = []
    both = trio.Event()

    def on_error(error: BaseException) -> None:
        reported.append(error)
        if len(reported) == 2:
            both.set()

    with trio.fail_after(20):
        async with open_live_session(
            nursery, model=MODEL, auth=ApiKey(API_KEY), config=TEXT, endpoint=server.url,
            keepalive_interval=None, reconnect=False, on_error=on_error,
        ):
            await both.wait()
    texts = [caplog.text, *(str(error) for error in reported)]
    leaks = [text for text in texts if API_KEY in text]
    assert not leaks, f"the API key in {len(leaks)} texts, e.g. {leaks[0][:200]!r}"
