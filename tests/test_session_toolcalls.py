"""Regression tests (code review of ``_session.py``): tool calls and their cancellation.

A toolCallCancellation in the same message as its toolCall (or the next one), a
cancellation of part of a batch, answers queued for calls a reconnected session never
issued, and a ``send_tool_response`` cancelled before it was queued. Each failed on the
code before the fixes (commits 92afb3c and 0837f4f). PROTOCOL.md 3.4: every call is
answered exactly once, unless the server cancelled it; a cancelled call is not answered.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import trio
import trio.testing
import trio_websocket

from trio_gemini_live import LiveConfig, Status
from trio_gemini_live import events as ev
from trio_gemini_live.tools import tool

from .fakeserver import SETUP_COMPLETE
from .test_session_closing import (
    INTERNAL,
    RESUMABLE,
    FakeConnection,
    connections,
    next_event,
    opener,
)

pytestmark = pytest.mark.usefixtures("referee")

TEXT = LiveConfig(response_modalities=["TEXT"])


def tool_call(*calls: tuple[str, str]) -> bytes:
    """A ``toolCall`` frame issuing ``(id, name)`` calls without arguments."""
    functions = [{"id": call_id, "name": name, "args": {}} for call_id, name in calls]
    return msgspec.json.encode({"toolCall": {"functionCalls": functions}})


def cancellation(*ids: str) -> bytes:
    """A ``toolCallCancellation`` frame."""
    return msgspec.json.encode({"toolCallCancellation": {"ids": list(ids)}})


def answered(conn: FakeConnection) -> list[dict[str, Any]]:
    """Every function response the client sent on ``conn``, in order."""
    return [
        response
        for frame in conn.decoded()
        if "toolResponse" in frame
        for response in frame["toolResponse"]["functionResponses"]
    ]


# --- a cancellation that arrives with its call -------------------------------------------------


@pytest.mark.parametrize("runner", ["on_tool_call", "tools"])
@pytest.mark.parametrize("arrival", ["bundled", "separate"])
async def test_a_call_cancelled_with_its_toolcall_is_neither_run_nor_answered(
    runner: str, arrival: str
) -> None:
    # Review (b): the cancellation reached the session before the task that runs the call
    # had started (and registered itself): the call ran and was answered anyway.
    ran: list[str] = []

    async def on_tool_call(event: ev.ToolCall) -> list[dict[str, Any]]:
        ran.extend(call.id or "" for call in event.calls)
        return [{"response": {"output": "done"}}]

    @tool
    async def slow() -> str:
        """A tool the server cancels at once."""
        ran.append("slow")
        return "done"

    kwargs: dict[str, Any] = (
        {"on_tool_call": on_tool_call} if runner == "on_tool_call" else {"tools": [slow]}
    )
    conn = FakeConnection(SETUP_COMPLETE)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, opener(
            nursery, connections(conn), config=TEXT, **kwargs
        ) as s:
            if arrival == "bundled":
                conn.feed(msgspec.json.encode({
                    "toolCall": {"functionCalls": [{"id": "fc_1", "name": "slow", "args": {}}]},
                    "toolCallCancellation": {"ids": ["fc_1"]},
                }))
            else:
                # Back to back: both are read before the call's task gets to run.
                conn.feed(tool_call(("fc_1", "slow")))
                conn.feed(cancellation("fc_1"))
            assert await next_event(s, ev.ToolCallCancellation) == ev.ToolCallCancellation(
                ids=("fc_1",)
            )
            await trio.testing.wait_all_tasks_blocked()
            assert ran == []
            assert answered(conn) == []
            assert s.active_tool_calls == {}


async def test_cancelling_one_call_of_a_batch_still_answers_the_others() -> None:
    # Review (c): one scope per on_tool_call batch; cancelling call "a" cancelled the
    # handler, and call "b" was never answered.
    started = trio.Event()
    release = trio.Event()

    async def on_tool_call(event: ev.ToolCall) -> list[dict[str, Any]]:
        started.set()
        await release.wait()
        return [
            {"id": c.id, "name": c.name, "response": {"output": c.id}} for c in event.calls
        ]

    conn = FakeConnection(SETUP_COMPLETE)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, opener(
            nursery, connections(conn), config=TEXT, on_tool_call=on_tool_call
        ) as s:
            conn.feed(tool_call(("a", "f"), ("b", "g")))
            await started.wait()
            conn.feed(cancellation("a"))
            await next_event(s, ev.ToolCallCancellation)
            await trio.testing.wait_all_tasks_blocked()
            assert list(s.active_tool_calls) == ["b"]
            release.set()
            await trio.testing.wait_all_tasks_blocked()
            # The cancelled call is not answered; the other one is, once.
            assert answered(conn) == [{"id": "b", "name": "g", "response": {"output": "b"}}]
            assert s.active_tool_calls == {}


# --- answers for calls the reconnected session never issued ------------------------------------


async def test_answers_queued_during_a_reconnect_for_the_old_calls_are_dropped(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Review (k): on_tool_call answered while the session reconnected; the answer went out
    # on the new connection, whose session (resumed from a handle that predates the call)
    # never issued it (PROTOCOL.md 3.4, 4).
    release = trio.Event()
    answering = trio.Event()

    async def on_tool_call(event: ev.ToolCall) -> dict[str, Any]:
        await release.wait()
        answering.set()
        return {"response": {"output": "ok"}}

    first = FakeConnection(
        SETUP_COMPLETE,
        b'{"sessionResumptionUpdate":{"newHandle":"h1","resumable":true}}',
        tool_call(("fc_1", "f")),
    )
    second = FakeConnection()
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery, opener(
            nursery, connections(first, second), config=RESUMABLE, on_tool_call=on_tool_call
        ) as s:
            await next_event(s, ev.ToolCall)
            first.feed(trio_websocket.ConnectionClosed(INTERNAL))
            await s.wait_status(Status.SETUP_PENDING)
            release.set()  # the handler answers while the new setup is pending
            await answering.wait()
            await trio.testing.wait_all_tasks_blocked()
            second.feed(SETUP_COMPLETE)
            seen: list[ev.Event] = []
            async for event in s.events():
                seen.append(event)
                if isinstance(event, ev.Reconnected):
                    break
            assert seen[-1] == ev.Reconnected(resumed=True)
            # The application answered a call that no longer exists: it is told so.
            assert ev.ToolCallCancellation(ids=("fc_1",)) in seen
            await trio.testing.wait_all_tasks_blocked()
            assert second.decoded()[0]["setup"]["sessionResumption"] == {"handle": "h1"}
            assert answered(second) == []
            assert s.active_tool_calls == {}
    assert answered(first) == []


async def test_calls_pending_at_a_reconnect_are_cancelled_and_never_answered(
    autojump_clock: trio.abc.Clock,
) -> None:
    # The other half of review (k): a call still running when the resumed session is
    # ready is cancelled (event and handler), so its answer cannot reach the new session.
    cancelled_handler = trio.Event()

    async def on_tool_call(event: ev.ToolCall) -> dict[str, Any]:
        try:
            await trio.sleep_forever()
        finally:
            cancelled_handler.set()

    first = FakeConnection(
        SETUP_COMPLETE,
        b'{"sessionResumptionUpdate":{"newHandle":"h1","resumable":true}}',
        tool_call(("fc_1", "f")),
    )
    second = FakeConnection(SETUP_COMPLETE)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery, opener(
            nursery, connections(first, second), config=RESUMABLE, on_tool_call=on_tool_call
        ) as s:
            await next_event(s, ev.ToolCall)
            first.feed(trio_websocket.ConnectionClosed(INTERNAL))
            assert await next_event(s, ev.ToolCallCancellation) == ev.ToolCallCancellation(
                ids=("fc_1",)
            )
            await cancelled_handler.wait()
            await next_event(s, ev.Reconnected)
            await trio.testing.wait_all_tasks_blocked()
            assert answered(second) == []
            assert s.active_tool_calls == {}


# --- send_tool_response cancelled before it was queued -----------------------------------------


class StalledSends(FakeConnection):
    """A connection whose writes after the setup wait for :attr:`unstall` (a slow peer)."""

    def __init__(self, *frames: str | bytes | BaseException) -> None:
        super().__init__(*frames)
        self.unstall = trio.Event()

    async def send_message(self, message: str | bytes) -> None:
        if self.sent:
            await self.unstall.wait()
        await super().send_message(message)


async def test_a_tool_response_cancelled_before_it_was_queued_leaves_the_call_active(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Review: the call left active_tool_calls when the response was encoded, before the
    # (possibly waiting) put: a cancelled send_tool_response left it unanswered yet gone.
    conn = StalledSends(SETUP_COMPLETE, tool_call(("fc_1", "f")))
    response = {"id": "fc_1", "name": "f", "response": {"output": "ok"}}
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery, opener(
            nursery, connections(conn), config=TEXT, max_outbound_messages=1
        ) as s:
            await next_event(s, ev.ToolCall)
            await s.send_realtime_input(text="one")  # being written: stalled
            await trio.testing.wait_all_tasks_blocked()
            await s.send_realtime_input(text="two")  # queued: the queue is full
            with trio.move_on_after(1) as waited:
                await s.send_tool_response(response)
            assert waited.cancelled_caught
            assert list(s.active_tool_calls) == ["fc_1"]
            conn.unstall.set()
            await s.send_tool_response(response)
            assert s.active_tool_calls == {}
            await trio.testing.wait_all_tasks_blocked()
            assert answered(conn) == [response]
