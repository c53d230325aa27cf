"""Resilience against the emulator (issue 5): goAway resume, drops, fatal closes, budgets.

Everything runs in memory under ``autojump_clock``: backoffs and goAway deadlines cost no
wall time.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import pytest
import trio
import trio.testing

from trio_gemini_live import (
    ApiKey,
    InvalidArgumentError,
    LiveConfig,
    LiveSession,
    NotFoundError,
    QuotaExceededError,
    ReconnectPolicy,
    SessionClosedError,
    Status,
    TransientError,
    VertexAI,
    open_live_session,
)
from trio_gemini_live import events as ev
from trio_gemini_live.testing import Fault, LiveEmulator

from .conftest import API_KEY, MODEL, until

RESUMABLE = LiveConfig(response_modalities=["TEXT"], session_resumption={})
TRANSPARENT = LiveConfig(response_modalities=["TEXT"], session_resumption={"transparent": True})


def live(
    nursery: trio.Nursery, emu: LiveEmulator, **kwargs: Any
) -> AbstractAsyncContextManager[LiveSession]:
    kwargs.setdefault("config", RESUMABLE)
    kwargs.setdefault("auth", ApiKey(API_KEY))
    return open_live_session(nursery, model=MODEL, connect=emu.connect_in_memory(), **kwargs)


_E = TypeVar("_E", bound=ev.Event)


async def last(session: LiveSession, kind: type[_E]) -> _E:
    """The first event of type ``kind`` (the events before it are skipped)."""
    event = (await until(session, kind))[-1]
    assert isinstance(event, kind)
    return event


def text_of(events: list[ev.Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, ev.TextChunk))


def texts(messages: list[dict[str, Any]]) -> list[str]:
    """The text of each clientContent / realtimeInput.text message."""
    out: list[str] = []
    for m in messages:
        if "clientContent" in m:
            out.append("".join(p["text"] for t in m["clientContent"]["turns"] for p in t["parts"]))
        elif "text" in m.get("realtimeInput", {}):
            out.append(m["realtimeInput"]["text"])
    return out


class _Creds:
    """Fake google-auth credentials: ``valid`` until ``expire()``; counts refreshes."""

    quota_project_id = None

    def __init__(self) -> None:
        self.token: str | None = "ya29.first"
        self.refreshes = 0

    @property
    def valid(self) -> bool:
        return self.token is not None

    def expire(self) -> None:
        self.token = None

    def refresh(self, request: object) -> None:
        self.refreshes += 1
        self.token = f"ya29.refreshed-{self.refreshes}"


async def test_go_away_resumes_with_the_handle_and_loses_nothing(
    emu: LiveEmulator, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery, live(nursery, emu) as session:
            await session.send_client_content("before")
            first = await until(session, ev.TurnComplete)
            assert "turn 1" in text_of(first)
            handle = session.session_handle
            assert handle is not None
            await emu.send_go_away(30)
            seen = await until(session, ev.Reconnected)
            assert [type(e) for e in seen[-3:]] == [ev.Reconnecting, ev.SetupComplete,
                                                    ev.Reconnected]
            assert seen[-1] == ev.Reconnected(resumed=True)
            assert any(isinstance(e, ev.GoAway) for e in seen)
            await session.send_client_content("after")
            second = await until(session, ev.TurnComplete)
            # The resumed session remembers the first turn: this is its second.
            assert 'I heard: "after". This is turn 2' in text_of(second)
            assert session.statistics().reconnects == 1
    assert len(emu.connections) == 2
    # The handle used is the latest resumable one before the goAway.
    assert emu.connections[1].setup is not None
    resumed_with = emu.connections[1].setup["sessionResumption"]["handle"]
    assert resumed_with == emu.connections[0].sent_messages()[-2]["sessionResumptionUpdate"][
        "newHandle"] or resumed_with == handle
    assert emu.connections[1].session_key == emu.connections[0].session_key
    assert texts(emu.consumed()) == ["before", "after"]
    # Break before make: the old connection was closed (by us, 1000) before the new one.
    assert emu.connections[0].close_code == 1000


async def test_sends_during_a_reconnect_wait_and_go_out_in_order(
    emu: LiveEmulator, autojump_clock: trio.testing.MockClock
) -> None:
    gate = trio.Event()
    inner = emu.connect_in_memory()
    connections = 0

    def gated(url: str, headers: list[tuple[str, str]]) -> Any:
        # The second connection waits for the gate: the session is reconnecting meanwhile.
        nonlocal connections
        connections += 1
        if connections == 2:
            return _after(gate, inner(url, headers))
        return inner(url, headers)

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery, open_live_session(
            nursery, model=MODEL, auth=ApiKey(API_KEY), config=RESUMABLE, connect=gated,
            max_outbound_messages=2,
        ) as session:
            await emu.drop()
            await until(session, ev.Reconnecting)
            assert session.status is not Status.READY
            sent: list[str] = []
            all_sent = trio.Event()

            async def sender() -> None:
                for i in range(5):
                    await session.send_client_content(f"queued {i}", turn_complete=False)
                    sent.append(f"queued {i}")
                all_sent.set()

            nursery.start_soon(sender)
            await trio.testing.wait_all_tasks_blocked()
            # Two queued, the third send_* waits (backpressure), none failed.
            assert sent == ["queued 0", "queued 1"]
            assert session.statistics().queued_outbound == 2
            gate.set()
            await until(session, ev.Reconnected)
            await all_sent.wait()
            await session.send_client_content("done")
            await until(session, ev.TurnComplete)
    assert texts(emu.connections[1].received[1:]) == [
        "queued 0", "queued 1", "queued 2", "queued 3", "queued 4", "done"]


class _after:
    """An async context manager that waits for ``gate`` before entering ``cm``."""

    def __init__(self, gate: trio.Event, cm: Any) -> None:
        self.gate, self.cm = gate, cm

    async def __aenter__(self) -> Any:
        await self.gate.wait()
        return await self.cm.__aenter__()

    async def __aexit__(self, *exc: Any) -> Any:
        return await self.cm.__aexit__(*exc)


async def test_drop_mid_turn_interrupts_the_turn_and_resumes(
    autojump_clock: trio.testing.MockClock, nursery: trio.Nursery
) -> None:
    emu = LiveEmulator(api_key=API_KEY, text_chunk_delay=1.0)
    await nursery.start(emu.serve_in_memory)
    with trio.fail_after(120):
        async with trio.open_nursery() as inner, live(inner, emu) as session:
            await session.send_client_content("a long answer please")
            seen = await until(session, ev.TextChunk)
            await emu.drop()
            seen = await until(session, ev.Reconnected)
            kinds = [type(e) for e in seen]
            # The turn in progress never finishes on the old connection: say so.
            assert kinds[:3] == [ev.Interrupted, ev.TurnComplete, ev.Reconnecting]
            assert seen[1] == ev.TurnComplete(reason="CONNECTION_LOST")
            assert seen[2] == ev.Reconnecting(
                attempt=1, reason="the connection ended without a close frame"
            )
            # The turn in progress is not in the resumed handle: sent again, and counted.
            assert seen[-1] == ev.Reconnected(resumed=True, resent_turns=1)
            # Without transparent resumption the session re-sends the text sent since the
            # resumed handle ("a long answer please"): its answer may come first.
            await session.send_client_content("again")
            while "again" not in text_of(await until(session, ev.TurnComplete)):
                pass
            assert session.status is Status.READY
    assert emu.connections[0].close_code == 1006


@pytest.mark.parametrize(
    ("code", "reason", "error"),
    [
        (1007, "Request contains an invalid argument.", InvalidArgumentError),
        (1008, "Requested entity was not found.", NotFoundError),
        (1011, "You exceeded your current quota, please check your plan.", QuotaExceededError),
    ],
)
async def test_fatal_close_is_never_retried(
    emu: LiveEmulator, autojump_clock: trio.testing.MockClock,
    code: int, reason: str, error: type[SessionClosedError],
) -> None:
    errors: list[BaseException] = []
    closes: list[ev.SessionClosed] = []
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            with pytest.raises(error) as raised:
                async with live(
                    nursery, emu, on_error=errors.append, on_close=closes.append
                ) as session:
                    await emu.close(code, reason)
                    async for _ in session.events():
                        pass
    assert raised.value.code == code and raised.value.reason == reason
    assert not raised.value.retryable
    assert len(emu.connections) == 1  # exactly one connection attempt
    assert session.statistics().reconnects == 0
    assert session.status is Status.CLOSED
    assert any(isinstance(e, error) for e in errors)  # on_error was told
    assert closes == [ev.SessionClosed(code=code, reason=reason)]  # and on_close


async def test_attempt_budget_then_the_transient_error(
    emu: LiveEmulator, autojump_clock: trio.testing.MockClock
) -> None:
    policy = ReconnectPolicy(max_attempts=3, initial_backoff=0.5, seed=1)
    # Every reconnection's setup is dropped: the server keeps failing.
    for conn in range(1, 4):
        emu.schedule_fault(Fault.drop(), after_client_messages=1, connection=conn)
    attempts: list[int] = []
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            with pytest.raises(TransientError) as raised:
                async with live(nursery, emu, reconnect=policy) as session:
                    await emu.drop()
                    async for event in session.events():
                        if isinstance(event, ev.Reconnecting):
                            attempts.append(event.attempt)
    assert attempts == [1, 2, 3]
    assert raised.value.code == 1006
    assert len(emu.connections) == 4  # the first, then max_attempts attempts
    assert session.statistics().reconnects == 3


async def test_vertex_token_is_refreshed_before_reconnecting(nursery: trio.Nursery) -> None:
    # Real clock here: the refresh runs in a worker thread (autojump would race it).
    emu = LiveEmulator(api_key=API_KEY)
    await nursery.start(emu.serve_in_memory)
    creds = _Creds()
    auth = VertexAI(project="p", location="us-central1", credentials=creds)
    with trio.fail_after(20):
        async with trio.open_nursery() as inner, live(
            inner, emu, auth=auth, config=TRANSPARENT
        ) as session:
            assert creds.refreshes == 0
            creds.expire()
            await emu.drop()
            await until(session, ev.Reconnected)
            assert creds.refreshes == 1
    assert emu.connections[0].headers["authorization"] == "Bearer ya29.first"
    assert emu.connections[1].headers["authorization"] == "Bearer ya29.refreshed-1"


async def test_without_a_handle_a_fresh_session_starts_and_tool_calls_are_cancelled(
    emu: LiveEmulator, autojump_clock: trio.testing.MockClock
) -> None:
    started = trio.Event()
    cancelled: list[str] = []

    async def get_weather(city: str) -> dict[str, Any]:
        """The weather in a city.

        Args:
            city: the city.
        """
        started.set()
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            cancelled.append(city)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    config = LiveConfig(response_modalities=["TEXT"])  # no session_resumption: no handles
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery, live(
            nursery, emu, config=config, reconnect=ReconnectPolicy(), tools=[get_weather]
        ) as session:
            await session.send_client_content("what is get_weather saying?")
            call = await last(session, ev.ToolCall)
            await started.wait()
            await emu.drop()
            seen = await until(session, ev.Reconnected)
            # Issue 12: the unanswered turn is sent again on the fresh connection.
            assert seen[-1] == ev.Reconnected(resumed=False, resent_turns=1)
            cancellations = [e for e in seen if isinstance(e, ev.ToolCallCancellation)]
            assert [c.ids for c in cancellations] == [(call.calls[0].id,)]
            assert session.active_tool_calls == {}
            await trio.testing.wait_all_tasks_blocked()
            assert len(cancelled) == 1
    assert emu.connections[1].setup is not None
    assert "sessionResumption" not in emu.connections[1].setup
    assert emu.connections[1].session_key != emu.connections[0].session_key
    assert texts(emu.connections[1].received) == ["what is get_weather saying?"]
    # The cancelled call was never answered, on either connection.
    assert not [m for c in emu.connections for m in c.received if "toolResponse" in m]


async def test_tool_call_cancellation_cancels_the_tool_task(
    emu: LiveEmulator, autojump_clock: trio.testing.MockClock
) -> None:
    cancelled = trio.Event()

    async def get_weather(city: str) -> dict[str, Any]:
        """The weather in a city.

        Args:
            city: the city.
        """
        try:
            await trio.sleep_forever()
        finally:
            cancelled.set()
        raise AssertionError("unreachable")  # pragma: no cover

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery, live(
            nursery, emu, tools=[get_weather]
        ) as session:
            await session.send_client_content("get_weather please")
            call = await last(session, ev.ToolCall)
            # Barge-in: new content interrupts; the emulator cancels the pending call.
            await session.send_client_content("never mind")
            cancellation = await last(session, ev.ToolCallCancellation)
            assert cancellation.ids == (call.calls[0].id,)
            with trio.fail_after(5):
                await cancelled.wait()
            await until(session, ev.TurnComplete)
            assert session.active_tool_calls == {}
            await trio.testing.wait_all_tasks_blocked()
    assert not [m for m in emu.connections[0].received if "toolResponse" in m]


async def test_transparent_replay_resends_unacknowledged_frames_once(
    emu: LiveEmulator, autojump_clock: trio.testing.MockClock
) -> None:
    auth = VertexAI(project="p", location="us-central1", credentials=_Creds())
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery, live(
            nursery, emu, auth=auth, config=TRANSPARENT
        ) as session:
            await session.send_client_content("one", turn_complete=False)
            await session.send_client_content("two")
            await until(session, ev.TurnComplete)
            update = await last(session, ev.SessionResumptionUpdate)
            assert update.last_consumed_index == 2  # setup 0, "one" 1, "two" 2
            # Sent, but not acknowledged when the connection drops (an incomplete turn gets
            # no answer, hence no new sessionResumptionUpdate).
            await session.send_client_content("three", turn_complete=False)
            await session.send_client_content("four", turn_complete=False)
            await trio.testing.wait_all_tasks_blocked()
            emu.stop_reading()
            await session.send_client_content("five", turn_complete=False)
            await trio.testing.wait_all_tasks_blocked()
            await emu.drop()
            await until(session, ev.Reconnected)
            await session.send_client_content("six")
            await until(session, ev.TurnComplete)
    assert texts(emu.connections[0].received) == ["one", "two", "three", "four"]
    # Exactly the unacknowledged frames, once, in order, before the new one.
    assert texts(emu.connections[1].received) == ["three", "four", "five", "six"]
    assert texts(emu.consumed()) == ["one", "two", "three", "four", "five", "six"]


async def test_a_turn_queued_behind_a_handle_is_sent_again_after_a_resume(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    # Without transparent resumption the client cannot know what a handle includes; the
    # server issues resumable handles only between model turns, so a turn it had not yet
    # answered ("two", sent while "one" was being answered) is not in the handle's state,
    # and a resume with that handle must send it again (once).
    emu = LiveEmulator(api_key=API_KEY, text_chunk_delay=0.5)
    await nursery.start(emu.serve_in_memory)
    with trio.fail_after(120):
        async with trio.open_nursery() as inner, live(inner, emu) as session:
            await session.send_client_content("one")
            await until(session, ev.TextChunk)  # the model is answering "one"
            await session.send_client_content("two")  # barge-in: "one" is interrupted
            await until(session, ev.TurnComplete)
            seen = await until(session, ev.SessionResumptionUpdate)
            update = seen[-1]
            assert isinstance(update, ev.SessionResumptionUpdate) and update.resumable
            await emu.drop()  # before "two" is answered
            after = await until(session, ev.Reconnected)
            assert after[-1] == ev.Reconnected(resumed=True, resent_turns=1)
            answer = await until(session, ev.TurnComplete)
            assert 'I heard: "two"' in text_of(answer)
    assert texts(emu.consumed()) == ["one", "two"]
