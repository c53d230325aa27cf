"""Regression tests (code review of ``_session.py``): reconnection policy and timers.

A server that accepts the setup and drops at once (no hot reconnect loop: backoff and the
attempt budget apply), the goAway timer during a turn (no busy wait), an HTTP refusal at a
reconnect's handshake (its precise error, at once), and invalid keepalive/tool timeouts
(refused before connecting). Each failed on the code before the fixes (commits 2db3342,
92afb3c). Everything runs in memory under ``autojump_clock``: backoffs and deadlines are
virtual time, deterministic and free.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket

from trio_gemini_live import (
    AuthRejectedError,
    LiveConfig,
    ReconnectPolicy,
    Status,
    TransientError,
)
from trio_gemini_live import events as ev

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

#: More connections than any of these tests plans: beyond it, the session is looping.
_RUNAWAY = 50


def _dropping_server(opened: list[float], lives: dict[int, bool] | None = None) -> Any:
    """A ``connect=`` hook whose connections accept the setup, then close 1011 at once.

    The virtual time of each connection attempt is appended to ``opened``; connection
    number ``n`` (1-based) stays open instead when ``lives[n]`` (it is then returned by
    the hook's ``made`` list so that the test can drop it later).
    """
    made: list[FakeConnection] = []

    @asynccontextmanager
    async def hook(url: str, headers: list[tuple[str, str]]) -> AsyncIterator[FakeConnection]:
        opened.append(trio.current_time())
        # A hot loop never lets the virtual clock move (trio.fail_after would not fire):
        # fail the test from here instead.
        assert len(opened) <= _RUNAWAY, "the session reconnects in a loop"
        conn = FakeConnection(SETUP_COMPLETE)
        if not (lives or {}).get(len(opened)):
            conn.feed(trio_websocket.ConnectionClosed(INTERNAL))
        made.append(conn)
        yield conn

    hook.made = made  # type: ignore[attr-defined]
    return hook


async def test_a_server_that_drops_every_connection_meets_backoff_and_the_budget(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Review (d): each successful setup reset the attempt count, so a server that accepts
    # the setup and closes 1011 was reconnected ~1,000 times a second, forever.
    opened: list[float] = []
    policy = ReconnectPolicy(
        max_attempts=4, initial_backoff=1.0, multiplier=2.0, jitter=0.0, stable_after=10.0
    )
    attempts: list[int] = []
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery, opener(
            nursery, _dropping_server(opened), config=RESUMABLE, reconnect=policy
        ) as s:
            with pytest.raises(TransientError, match="1011"):
                async for event in s.events():
                    if isinstance(event, ev.Reconnecting):
                        attempts.append(event.attempt)
            assert s.status is Status.CLOSED
    assert attempts == [1, 2, 3, 4]
    assert len(opened) == 1 + policy.max_attempts
    gaps = [later - earlier for earlier, later in itertools.pairwise(opened)]
    # The first reconnect waits only for the policy's min_interval (issue 12: it was
    # immediate), then the backoff grows (1, 2, 4 s without jitter).
    assert gaps == pytest.approx([policy.min_interval, 1.0, 2.0, 4.0])


async def test_a_connection_that_lived_stable_after_resets_the_attempt_count(
    autojump_clock: trio.abc.Clock,
) -> None:
    # The other side of review (d): the budget counts consecutive failures only.
    opened: list[float] = []
    hook = _dropping_server(opened, lives={3: True})
    policy = ReconnectPolicy(max_attempts=3, initial_backoff=1.0, jitter=0.0, stable_after=10.0)
    attempts: list[int] = []
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery, opener(
            nursery, hook, config=RESUMABLE, reconnect=policy
        ) as s:
            async for event in s.events():
                if isinstance(event, ev.Reconnecting):
                    attempts.append(event.attempt)
                elif isinstance(event, ev.Reconnected) and len(opened) == 3:
                    break
            await trio.sleep(policy.stable_after)  # connection 3 lives this long
            hook.made[2].feed(trio_websocket.ConnectionClosed(INTERNAL))
            attempts.append((await next_event(s, ev.Reconnecting)).attempt)
            assert s.error is None
    assert attempts == [1, 2, 1]


class StepBudget(trio.abc.Instrument):
    """Cancels ``scope`` once more than ``budget`` task steps ran (a busy wait)."""

    def __init__(self, scope: trio.CancelScope, budget: int) -> None:
        self.scope = scope
        self.budget = budget
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps += 1
        if self.steps > self.budget:
            self.scope.cancel()


async def test_the_go_away_timer_waits_during_a_turn_that_began_with_a_transcription(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Review (e): a turn whose first output was an OutputTranscription left the "idle"
    # event set, and the goAway timer spun on it (100% CPU) until the deadline. Now it
    # waits for the safe point (the turn's end) or reconnects at deadline - margin.
    first = FakeConnection(SETUP_COMPLETE)
    second = FakeConnection(SETUP_COMPLETE)
    policy = ReconnectPolicy(go_away_margin=1.0)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery, opener(
            nursery, connections(first, second), config=RESUMABLE, reconnect=policy
        ) as s:
            first.feed(b'{"serverContent":{"outputTranscription":{"text":"hel"}}}')
            await next_event(s, ev.OutputTranscription)
            first.feed(b'{"goAway":{"timeLeft":"4s"}}')
            await next_event(s, ev.GoAway)
            received = trio.current_time()
            with trio.CancelScope() as guard:
                budget = StepBudget(guard, 1000)
                trio.lowlevel.add_instrument(budget)
                try:
                    reconnecting = await next_event(s, ev.Reconnecting)
                finally:
                    trio.lowlevel.remove_instrument(budget)
            assert not guard.cancelled_caught, f"busy wait: {budget.steps} task steps"
            # The turn never ended: the reconnect waited for deadline - margin (4 - 1 s).
            assert trio.current_time() - received == pytest.approx(3.0)
            assert reconnecting.reason == "goAway"
            assert isinstance(await next_event(s, ev.Reconnected), ev.Reconnected)
    assert first.close_code == 1000  # break before make (PROTOCOL.md 6)


async def test_the_go_away_timer_reconnects_at_the_end_of_the_turn_before_the_deadline(
    autojump_clock: trio.abc.Clock,
) -> None:
    # The timer waits for the core to be idle (issue 11: an event made only when it must
    # wait) and is woken by the turnComplete, well before deadline - margin.
    first = FakeConnection(SETUP_COMPLETE)
    second = FakeConnection(SETUP_COMPLETE)
    policy = ReconnectPolicy(go_away_margin=1.0)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery, opener(
            nursery, connections(first, second), config=RESUMABLE, reconnect=policy
        ) as s:
            first.feed(b'{"serverContent":{"modelTurn":{"parts":[{"text":"hel"}]}}}')
            await next_event(s, ev.TextChunk)
            first.feed(b'{"goAway":{"timeLeft":"10s"}}')
            await next_event(s, ev.GoAway)
            received = trio.current_time()
            await trio.sleep(2)
            first.feed(b'{"serverContent":{"turnComplete":true}}')
            reconnecting = await next_event(s, ev.Reconnecting)
            assert trio.current_time() - received == pytest.approx(2.0)
            assert reconnecting.reason == "goAway"
            assert isinstance(await next_event(s, ev.Reconnected), ev.Reconnected)


async def test_an_http_refusal_at_a_reconnect_is_its_own_error_at_once(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Review (h): an HTTP 403 at a reconnect's handshake was retried as a transient 1006
    # (max_attempts times, the message doubled); it is an AuthRejectedError, not retried.
    calls = 0

    @asynccontextmanager
    async def hook(url: str, headers: list[tuple[str, str]]) -> AsyncIterator[FakeConnection]:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise trio_websocket.ConnectionRejected(403, (), b"Permission denied")
        yield FakeConnection(SETUP_COMPLETE, trio_websocket.ConnectionClosed(INTERNAL))

    policy = ReconnectPolicy(max_attempts=5, initial_backoff=0.01)
    reconnecting: list[ev.Reconnecting] = []
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery, opener(
            nursery, hook, config=RESUMABLE, reconnect=policy
        ) as s:
            with pytest.raises(AuthRejectedError) as info:
                async for event in s.events():
                    if isinstance(event, ev.Reconnecting):
                        reconnecting.append(event)
    assert calls == 2  # the first connection, one reconnect attempt, no retry
    assert [e.attempt for e in reconnecting] == [1]
    message = str(info.value)
    assert message.count("HTTP 403") == 1
    assert "Permission denied" in message
    assert s.error is info.value


@pytest.mark.parametrize(
    "kwargs",
    [
        {"keepalive_interval": -1},
        {"keepalive_interval": 0},
        {"keepalive_interval": float("nan")},
        {"tool_timeout": 0},
        {"tool_timeout": -1.5},
    ],
    ids=["keepalive=-1", "keepalive=0", "keepalive=nan", "tool_timeout=0", "tool_timeout<0"],
)
async def test_invalid_keepalive_and_tool_timeouts_are_refused_before_connecting(
    kwargs: dict[str, Any],
) -> None:
    # Review (j): keepalive_interval=-1 crashed inside the session's keepalive task, and
    # tool_timeout <= 0 failed every call; both are argument errors.
    calls = 0

    @asynccontextmanager
    async def hook(url: str, headers: list[tuple[str, str]]) -> AsyncIterator[FakeConnection]:
        nonlocal calls
        calls += 1
        yield FakeConnection(SETUP_COMPLETE)

    name = next(iter(kwargs))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with pytest.raises(ValueError, match=name):
                async with opener(
                    nursery, hook, config=LiveConfig(response_modalities=["TEXT"]), **kwargs
                ):
                    raise AssertionError("the session opened")
    assert calls == 0


async def test_a_reconnection_whose_setup_times_out_is_retried(
    autojump_clock: trio.abc.Clock,
) -> None:
    # A setup that is never answered on a *re*connection is the server's trouble, like a
    # drop: retried within the budget (on the first connection it is a SetupError at once).
    first = FakeConnection(
        SETUP_COMPLETE, b'{"sessionResumptionUpdate":{"newHandle":"h1","resumable":true}}'
    )
    silent = FakeConnection()  # accepts the socket, never answers the setup
    third = FakeConnection(SETUP_COMPLETE)
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery, opener(
            nursery, connections(first, silent, third), config=RESUMABLE, setup_timeout=5,
        ) as session:
            await next_event(session, ev.SessionResumptionUpdate)
            first.feed(trio_websocket.ConnectionClosed(INTERNAL))
            reconnected = await next_event(session, ev.Reconnected)
            assert reconnected == ev.Reconnected(resumed=True)
            assert session.statistics().reconnects == 2
            assert session.status is Status.READY
    assert [f["setup"]["sessionResumption"] for f in third.decoded()[:1]] == [{"handle": "h1"}]
