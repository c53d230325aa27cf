"""Chaos: a scripted conversation under randomized faults, exactly once and in order (issue 5).

Each run is seeded (``random.Random(seed)``) and reproducible: the emulator and the session
run in memory under ``autojump_clock``, so a run takes milliseconds of wall time whatever
the simulated delays. A failing run names its seed; rerun it alone with
``CHAOS_SEEDS=<seed> pytest tests/test_chaos.py``.

What "consumed exactly once and in order" means here. The session uses transparent
resumption (the Vertex AI path, ``session_resumption={"transparent": True}``): the server
reports ``lastConsumedClientMessageIndex`` (per connection; ``setup`` is index 0, the first
message after it 1) and the client re-sends every frame after that index on the next
connection. The emulator's :meth:`LiveEmulator.consumed` is the record of what the logical
session's *state* includes: on each connection, the messages received up to the index the
resumption handle of the next connection was issued at, plus everything the last
connection received; a message that reached a connection after the handle the session later
resumed from is not consumed (the emulator restores the handle's state, as Google does), so
it must be sent again, and exactly once. The property: for every run, the non-audio client
messages the session consumed are exactly the script's messages, each once, in order.

Faults injected at random points (by client or server message count, on any connection):
network drops (1006), ``1011 Internal error``, ``1011 The service is currently
unavailable``, ``goAway`` with a random notice, plus delays (a slow emulator:
``send_delay``, slow model output: ``text_chunk_delay``, the client pausing between sends)
and short connection lifetimes (the emulator's own ``goAway`` then deadline close).
``LiveEmulator.pause()`` is not injected (its effect on the ordering is covered by the
goAway deadline waiting for the goAway to be on the wire).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from typing import Any

import trio
import trio.testing

from trio_gemini_live import LiveConfig, ReconnectPolicy, Status, VertexAI, open_live_session
from trio_gemini_live import events as ev
from trio_gemini_live.testing import Fault, LiveEmulator

from .conftest import API_KEY, MODEL

RUNS = 240
TRANSPARENT = LiveConfig(response_modalities=["TEXT"], session_resumption={"transparent": True})


class _Creds:
    """Vertex credentials that are already valid (no refresh thread: autojump_clock)."""

    token = "ya29.chaos"
    quota_project_id = None
    valid = True

    def refresh(self, request: object) -> None:  # pragma: no cover - never expired
        raise AssertionError("unexpected refresh")


def _label(message: dict[str, Any]) -> str:
    """The script text a client message carries (``?kind`` for anything else)."""
    if "clientContent" in message:
        turns = message["clientContent"]["turns"]
        return "".join(p.get("text", "") for t in turns for p in t["parts"])
    if "realtimeInput" in message and "text" in message["realtimeInput"]:
        return str(message["realtimeInput"]["text"])
    return "?" + next(iter(message))


def _faults(rng: random.Random, emu: LiveEmulator) -> list[str]:
    chosen: list[str] = []
    for _ in range(rng.randint(1, 5)):
        kind = rng.choice(["drop", "drop", "internal", "unavailable", "go_away"])
        if kind == "drop":
            fault = Fault.drop()
        elif kind == "internal":
            fault = Fault.close(1011, "Internal error occurred.")
        elif kind == "unavailable":
            fault = Fault.close(1011, "The service is currently unavailable.")
        else:
            fault = Fault.go_away(rng.choice([0.5, 2.0, 10.0]))
        count = rng.randint(1, 12 if rng.random() < 0.5 else 40)
        # A fault right after the setup (or setupComplete) of the first connection makes
        # open_live_session itself fail (by design: the first connection is not retried);
        # there, faults hit a reconnection's setup instead.
        connection = rng.choice([1, 2]) if count == 1 else rng.choice([None, None, 1])
        if rng.random() < 0.5:
            emu.schedule_fault(fault, after_client_messages=count, connection=connection)
        else:
            emu.schedule_fault(fault, after_server_messages=count, connection=connection)
        chosen.append(kind)
    return chosen


async def _one_run(seed: int, stats: Counter[str]) -> None:
    rng = random.Random(seed)
    # The test task's own nurseries (pytest-trio's) before the run: none may be added.
    nurseries_before = list(trio.lowlevel.current_task().child_nurseries)
    emu = LiveEmulator(
        api_key=API_KEY,
        connection_lifetime=rng.choice([4.0, 15.0, 600.0]),
        go_away_notice=rng.choice([0.2, 1.0, 3.0]),
        text_chunk_delay=rng.choice([0.0, 0.01, 0.2]),
    )
    emu.send_delay = rng.choice([0.0, 0.0, 0.02])
    stats.update(_faults(rng, emu))
    script: list[tuple[str, bool | None]] = []
    for i in range(rng.randint(4, 14)):
        kind = rng.random()
        # turn_complete None: realtimeInput.text (a turn of its own).
        script.append((f"s{seed}m{i}", None if kind < 0.25 else kind < 0.7))
    # The last message ends a turn, so that the server acknowledges everything.
    script.append((f"s{seed}end", True))
    expected = [text for text, _ in script]
    auth = VertexAI(project="chaos", location="us-central1", credentials=_Creds())
    policy = ReconnectPolicy(max_attempts=20, initial_backoff=0.05, max_backoff=1.0, seed=seed)
    seen: list[ev.Event] = []

    async def read(session: Any) -> None:
        async for event in session.events():
            seen.append(event)

    with trio.fail_after(600):  # simulated seconds (autojump_clock)
        async with trio.open_nursery() as outer:
            await outer.start(emu.serve_in_memory)
            async with trio.open_nursery() as nursery, open_live_session(
                nursery, model=MODEL, auth=auth, config=TRANSPARENT,
                connect=emu.connect_in_memory(), reconnect=policy,
            ) as session:
                nursery.start_soon(read, session)
                for text, turn_complete in script:
                    if rng.random() < 0.3:
                        await trio.sleep(rng.choice([0.001, 0.1, 1.0]))
                    if turn_complete is None:
                        await session.send_realtime_input(text=text)
                    else:
                        await session.send_client_content(text, turn_complete=turn_complete)

                def settled() -> bool:
                    # Everything sent and acknowledged, and the server's record agrees.
                    return (
                        session.status is Status.READY
                        and len(session._outbound) == 0
                        and len(session._replay) == 0
                        and [_label(m) for m in emu.consumed()] == expected
                    )

                # Polls the server's record (simulated time: autojump_clock).
                while not settled():  # noqa: ASYNC110
                    await trio.sleep(0.05)
                stats["reconnects"] += session.statistics().reconnects
                # The session is closed; its tasks ended with this nursery.
            for record in emu.connections:
                await record.closed.wait()
            assert not emu._links, f"seed {seed}: live emulator connections left behind"
            outer.cancel_scope.cancel()
    left = trio.lowlevel.current_task().child_nurseries
    assert left == nurseries_before, f"seed {seed}: tasks left behind"
    assert all(not n.child_tasks for n in left), f"seed {seed}: tasks left behind"
    consumed = [_label(m) for m in emu.consumed()]
    assert consumed == expected, f"seed {seed}: consumed {consumed}, expected {expected}"
    assert isinstance(seen[-1], ev.SessionClosed) and seen[-1].code == 1000, seed
    stats["connections"] += len(emu.connections)
    stats["messages"] += len(expected)
    stats["runs"] += 1


async def test_chaos_exactly_once_in_order(autojump_clock: trio.testing.MockClock) -> None:
    seeds = (
        [int(s) for s in os.environ["CHAOS_SEEDS"].split(",")]
        if os.environ.get("CHAOS_SEEDS")
        else list(range(RUNS))
    )
    stats: Counter[str] = Counter()
    started = time.perf_counter()
    simulated = trio.current_time()
    for seed in seeds:
        try:
            await _one_run(seed, stats)
        except BaseException as exc:
            raise AssertionError(f"chaos run failed: seed {seed} (CHAOS_SEEDS={seed})") from exc
    elapsed = time.perf_counter() - started
    faults = {k: v for k, v in stats.items() if k in {"drop", "internal", "unavailable", "go_away"}}
    print(
        f"\nchaos: {stats['runs']} runs (seeds {seeds[0]}..{seeds[-1]}), {stats['messages']}"
        f" messages, {stats['connections']} connections, {stats['reconnects']} reconnects,"
        f" faults {faults},"
        f" {trio.current_time() - simulated:.0f} simulated s, {elapsed:.2f} wall s"
    )
    assert stats["runs"] == len(seeds)
