"""The emulator's concurrency, faults, resumption rules and refusals, in memory.

Raw trio-websocket clients over :meth:`LiveEmulator.connect_in_memory`, so that simulated
time (``autojump_clock``) only moves when both ends are blocked and timing can be asserted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio.testing
import trio_websocket

from trio_gemini_live.testing import LiveEmulator

from .test_emulator import (
    KEY,
    TEXT,
    V1BETA,
    send,
    setup,
    text_of,
    turn_complete,
    until,
    user_turn,
)


async def serving(nursery: trio.Nursery, **kwargs: Any) -> LiveEmulator:
    emulator = LiveEmulator(**kwargs)
    await nursery.start(emulator.serve_in_memory)
    return emulator


@asynccontextmanager
async def client(emulator: LiveEmulator) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    async with emulator.connect_in_memory()("ws://x" + V1BETA, [("x-goog-api-key", KEY)]) as ws:
        yield ws


# --- concurrency and records ----------------------------------------------------------------


async def test_concurrent_connections_get_distinct_indices(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        hold = trio.Event()
        ready = trio.Semaphore(0)

        async def one(i: int) -> None:
            async with client(emulator) as ws:
                await setup(ws, **TEXT)
                ready.release()
                await hold.wait()
                await send(ws, user_turn(f"client {i}"))
                assert f"client {i}" in text_of(await until(ws, turn_complete))

        async with trio.open_nursery() as clients:
            for i in range(4):
                clients.start_soon(one, i)
            for _ in range(4):
                await ready.acquire()
            assert sorted(c.index for c in emulator.connections) == [0, 1, 2, 3]
            hold.set()
        for record in emulator.connections:
            with trio.fail_after(5):
                await record.closed.wait()
        assert len({c.session_key for c in emulator.connections}) == 4
