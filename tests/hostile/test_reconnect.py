"""Reconnection abuse (issue 12, findings 2 and 3): no hot loop, nothing the user sent lost.

Real time, not ``autojump_clock``: these go over real sockets. The policies are small
(``initial_backoff`` of tens of milliseconds) so that the budget is spent in well under a
second once it is enforced; the observation windows bound the tests when it is not.
"""

from __future__ import annotations

from typing import Any

import trio

from trio_gemini_live import LiveConfig, LiveError, ReconnectPolicy, TransientError
from trio_gemini_live import events as ev

from .conftest import Clock, Serve, open_session
from .server import HostileServer, Peer

RESUMABLE = LiveConfig(response_modalities=["TEXT"], session_resumption={})


async def go_away_after_setup(peer: Peer) -> None:
    await peer.setup()
    await peer.send_json({"goAway": {"timeLeft": "0s"}})
    await peer.drain()


async def run_until_failed(nursery: trio.Nursery, server: HostileServer, window: float,
                           **kwargs: Any) -> tuple[LiveError | None, float]:
    """Run a session that reads its events until it fails or ``window`` s passed.

    Returns the session's error (``None``: still running at the end) and the elapsed time.
    """
    clock = Clock()
    error: LiveError | None = None
    with trio.move_on_after(window):
        try:
            async with open_session(nursery, server, **kwargs) as session:
                async for _ in session.events():
                    pass
        except LiveError as exc:
            error = exc
    return error, clock.elapsed


async def test_go_away_after_every_setup_spends_the_budget(
    serve: Serve, nursery: trio.Nursery
) -> None:
    """Finding 2: today ~2,750 connections in 10 s, forever. goAway reconnections count
    against ``max_attempts`` when the connection did nothing useful (no turn, no handle)."""
    server = await serve(go_away_after_setup)
    policy = ReconnectPolicy(max_attempts=3, initial_backoff=0.02, max_backoff=0.1, seed=1)
    with trio.fail_after(20):
        error, elapsed = await run_until_failed(
            nursery, server, 10.0, reconnect=policy, config=RESUMABLE
        )
    figure = f"{server.connections} connections in {elapsed:.1f} s"
    assert server.connections <= 6, figure
    assert type(error) is TransientError, f"{error!r}, {figure}"


async def test_go_away_with_a_handle_after_every_setup_is_rate_limited(
    serve: Serve, nursery: trio.Nursery
) -> None:
    """Finding 2: a handle is useful work (it may reset the budget), but connections still
    keep a minimum interval: never a hot loop (today: hundreds per second)."""

    async def attack(peer: Peer) -> None:
        await peer.setup()
        await peer.send_json(
            {"sessionResumptionUpdate": {"newHandle": f"h{peer.index}", "resumable": True}}
        )
        await peer.send_json({"goAway": {"timeLeft": "0s"}})
        await peer.drain()

    server = await serve(attack)
    with trio.fail_after(20):
        _, elapsed = await run_until_failed(
            nursery, server, 2.0, reconnect=ReconnectPolicy(seed=1), config=RESUMABLE
        )
    assert server.connections < 20, f"{server.connections} connections in {elapsed:.1f} s"


async def test_drop_after_every_setup_spends_the_budget(
    serve: Serve, nursery: trio.Nursery
) -> None:
    """A server that drops each connection right after setupComplete meets the budget."""

    async def attack(peer: Peer) -> None:
        await peer.setup()
        await peer.abort()

    server = await serve(attack)
    policy = ReconnectPolicy(max_attempts=3, initial_backoff=0.02, max_backoff=0.1, seed=1)
    with trio.fail_after(20):
        error, elapsed = await run_until_failed(
            nursery, server, 10.0, reconnect=policy, config=RESUMABLE
        )
    figure = f"{server.connections} connections in {elapsed:.1f} s"
    assert server.connections <= 6, figure
    assert type(error) is TransientError, f"{error!r}, {figure}"


async def test_turn_before_the_first_handle_is_sent_again_after_a_drop(
    serve: Serve, nursery: trio.Nursery
) -> None:
    """Finding 3: today the turn is lost and the app waits for its answer forever."""
    turns: list[dict[str, object]] = []

    async def attack(peer: Peer) -> None:
        await peer.setup()
        turns.append(await peer.recv_until("clientContent"))
        if peer.index == 0:
            await peer.abort()  # before any resumption handle
            return
        await peer.send_json({"serverContent": {"modelTurn": {"parts": [{"text": "answer"}]}}})
        await peer.send_json({"serverContent": {"turnComplete": True}})
        await peer.drain()

    server = await serve(attack)
    policy = ReconnectPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.05)
    seen: list[ev.Event] = []
    with trio.fail_after(15):
        async with open_session(nursery, server, reconnect=policy, config=RESUMABLE) as s:
            await s.send_client_content("hi")
            with trio.move_on_after(5):
                async for event in s.events():
                    seen.append(event)
                    if isinstance(event, ev.TurnComplete) and event.reason is None:
                        break
    assert server.connections == 2, seen
    assert len(turns) == 2, f"the second connection received no turn; events {seen}"
    assert turns[1] == turns[0]
    reconnected = [e for e in seen if isinstance(e, ev.Reconnected)]
    assert len(reconnected) == 1 and reconnected[0].resumed is False
    assert reconnected[0].resent_turns == 1
    assert [e.text for e in seen if isinstance(e, ev.TextChunk)] == ["answer"]
