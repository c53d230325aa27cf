"""Fixtures of the hostile suite: a server per test, sessions pointed at it, and meters.

Meters measure what issue 12 bounds: how long other Trio tasks stall (:class:`Ticker`),
how much memory the process allocates (:func:`traced`), how long an operation takes. The
bounds asserted are generous (shared 2-core machines); the precise figures are printed by
``benchmarks/bench_hostile.py``.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any

import pytest
import trio

from trio_gemini_live import ApiKey, LiveConfig, LiveSession, open_live_session

from ..conftest import API_KEY, MODEL
from .server import Attack, HostileServer

__all__ = [
    "API_KEY", "MODEL", "Clock", "Meter", "Ticker", "open_session", "ticking", "traced",
]

Serve = Callable[[Attack], Awaitable[HostileServer]]


@pytest.fixture
def serve(nursery: trio.Nursery) -> Serve:
    """``await serve(attack)``: a :class:`HostileServer` running ``attack``, listening."""

    async def start(attack: Attack) -> HostileServer:
        server = HostileServer(attack)
        await nursery.start(server.serve)
        return server

    return start


def open_session(
    nursery: trio.Nursery, server: HostileServer, **kwargs: Any
) -> AbstractAsyncContextManager[LiveSession]:
    """``open_live_session`` at ``server`` with a key, TEXT answers, no pings, no retries.

    Keyword arguments override those defaults (``reconnect=ReconnectPolicy(...)``...).
    """
    kwargs.setdefault("auth", ApiKey(API_KEY))
    kwargs.setdefault("config", LiveConfig(response_modalities=["TEXT"]))
    kwargs.setdefault("keepalive_interval", None)
    kwargs.setdefault("reconnect", False)
    return open_live_session(nursery, model=MODEL, endpoint=server.url, **kwargs)


class Ticker:
    """A task that sleeps 10 ms in a loop and records its longest lateness.

    ``longest`` is the worst delay past the 10 ms it asked for: how long every other task
    of the program was stalled at worst (issue 12, finding 1).
    """

    def __init__(self) -> None:
        self.longest = 0.0
        self.ticks = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> (
        None
    ):
        task_status.started()
        while True:
            before = time.perf_counter()
            try:
                await trio.sleep(0.01)
            finally:  # a stall that ends in a cancellation counts too
                self.longest = max(self.longest, time.perf_counter() - before - 0.01)
            self.ticks += 1


class Meter:
    """What :func:`traced` measured: ``peak`` bytes allocated above the start, ``seconds``."""

    peak = 0
    seconds = 0.0


@contextmanager
def traced() -> Iterator[Meter]:
    """Measure the peak of Python's allocations (tracemalloc) and the wall time inside."""
    meter = Meter()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    try:
        yield meter
    finally:
        meter.seconds = time.perf_counter() - start
        meter.peak = tracemalloc.get_traced_memory()[1] - base
        if not was_tracing:
            tracemalloc.stop()


class Clock:
    """Wall time since it was made (``elapsed``)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


@asynccontextmanager
async def ticking() -> AsyncIterator[Ticker]:
    """A :class:`Ticker` running for the duration of the block."""
    ticker = Ticker()
    async with trio.open_nursery() as inner:
        await inner.start(ticker.run)
        try:
            yield ticker
        finally:
            inner.cancel_scope.cancel()
