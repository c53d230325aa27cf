"""How-to: serve many sessions from one process, against the local emulator.

One Trio process handles every session of its callers: each session is a handful of tasks
and about 48 KiB, and a thousand real-time voice sessions take about half a core (see the
benchmarks). Two things matter at that scale: wake each session's sender from its audio
source (here one shared clock) rather than a timer per session, and tune CPython's garbage
collector once everything is loaded. Here 20 callers each say three things.
"""

from __future__ import annotations

import gc

import trio

from trio_gemini_live import ApiKey, LiveConfig, open_live_session
from trio_gemini_live import events as ev
from trio_gemini_live.testing import LiveEmulator

MODEL = "gemini-3.8-live"
CALLERS = 20


def tune_garbage_collector() -> None:
    """For a long-running process with many sessions: call once, after start-up.

    ``freeze`` moves everything alive now (modules, classes, configuration) out of the
    collector's sight, so a full collection no longer walks it; the higher first threshold
    keeps the young-generation collector from walking thousands of waiting tasks' objects
    hundreds of times a second.
    """
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


class Clock:
    """One timer for every caller: each tick wakes everyone waiting for it."""

    def __init__(self) -> None:
        self._tick = trio.Event()

    async def wait(self) -> None:
        await self._tick.wait()

    async def run(self, interval: float) -> None:
        while True:
            await trio.sleep(interval)
            tick, self._tick = self._tick, trio.Event()
            tick.set()


async def caller(number: int, clock: Clock, emulator: LiveEmulator, done: list[int]) -> None:
    async with trio.open_nursery() as nursery, open_live_session(
        nursery,
        model=MODEL,
        auth=ApiKey("test-api-key"),
        endpoint=emulator.url,
        config=LiveConfig(response_modalities=["TEXT"]),
    ) as session:
        for line in range(3):
            # Woken by the source (a real one: the phone network or the sound card).
            await clock.wait()
            await session.send_text(f"caller {number}, line {line}")
            async for event in session.events():
                if isinstance(event, ev.TurnComplete):
                    break
        done.append(number)


async def main() -> None:
    emulator = LiveEmulator()
    clock = Clock()
    done: list[int] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(emulator.serve)
        tune_garbage_collector()
        nursery.start_soon(clock.run, 0.02)
        async with trio.open_nursery() as callers:
            for number in range(CALLERS):
                callers.start_soon(caller, number, clock, emulator, done)
        nursery.cancel_scope.cancel()
    connections = len(emulator.connections)
    print(f"{len(done)} callers answered 3 times each, over {connections} connections")


if __name__ == "__main__":
    trio.run(main)
