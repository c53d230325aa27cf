"""N real-time sessions in one process: CPU share, event latency, memory per session.

``python benchmarks/_scale_client.py N SECONDS PORT SERVER_PID [--pacing clock|timer]
[--no-stagger] [--gc default|tuned]`` (plain ``ws://``; run by ``bench_scale.py``). Opens N
sessions (``keepalive_interval=None``), measures the RSS per idle session, then every session
streams a 100 ms chunk of 16 kHz audio every 100 ms (real time) and asks the server for
24 kHz audio replies, one 100 ms message every 100 ms. Over SECONDS (after one second of
warm-up) it measures this process's CPU (``time.process_time()``) and the server's
(``/proc``), both as a share of one core, the latency from the server's timestamp in each
message to the :class:`AudioChunk` reaching the consumer, the garbage collector's pauses
(``gc.callbacks``), and the objects it tracks per session (``gc.get_objects()``, idle and
streaming: what every full collection scans, issue 11). Prints JSON.

* ``--pacing clock`` (default): each session's producer task is woken by a shared 10 ms
  :class:`Clock`, as audio from a device callback or a network read would wake it;
  ``timer``: each producer ``trio.sleep_until``-s its own deadline (Trio delivers a timer as
  a cancellation, which costs about as much CPU as the session's own work for the chunk).
* staggered (default): session *i* starts its 100 ms cycle in slot *i* % 10, as independent
  callers would; ``--no-stagger``: all at the same instant (bursts of N messages).
* ``--ca FILE``: ``wss://`` against a server started with the matching certificate.
* ``--gc tuned``: after opening, ``gc.freeze()`` and ``gc.set_threshold(10_000, 20, 20)``
  (docs: "Many sessions in one process"); ``default``: CPython's settings.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import ssl
import struct
import time
from pathlib import Path
from typing import Any

import trio
from _common import process_cpu

from trio_gemini_live import ApiKey, LiveConfig, open_live_session
from trio_gemini_live import events as ev

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
PCM = bytes(3200)
OPEN_CONCURRENCY = 50  # connection attempts at once (keeps the listen backlog calm)
SLOTS = 10  # the 100 ms cycle in 10 ms slots: session i starts (and, paced by the clock,
# sends) in slot i % 10, so the sessions' chunks are spread over the cycle as independent
# callers' would be, instead of all falling due at the same instant


class Clock:
    """A shared real-time audio clock: every 10 ms it wakes the tasks waiting on that slot.

    How audio reaches a voice agent: a device callback or a network read wakes the task that
    forwards it. One ``trio.sleep_until`` per 10 ms for the whole process instead of one per
    session per chunk: Trio delivers each timer as a cancellation, which costs more CPU than
    the session's own work for the chunk (see ``--pacing timer``).
    """

    def __init__(self) -> None:
        self._lots = [trio.lowlevel.ParkingLot() for _ in range(SLOTS)]

    async def wait(self, slot: int) -> None:
        """Until ``slot``'s next tick."""
        await self._lots[slot].park()

    async def run(self) -> None:
        """Tick forever (absolute deadlines: no drift under load)."""
        deadline = trio.current_time()
        slot = 0
        while True:
            deadline += 0.1 / SLOTS
            await trio.sleep_until(deadline)
            self._lots[slot].unpark_all()
            slot = (slot + 1) % SLOTS


def rss() -> int:
    """Resident memory of this process in bytes."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run(
    n: int,
    seconds: float,
    port: int,
    server_pid: int,
    pacing: str = "clock",
    stagger: bool = True,
    gc_mode: str = "default",
    ca_file: str | None = None,
) -> dict[str, Any]:
    """Open, idle, stream, measure; returns the figures (options: the module docstring)."""
    clock = Clock()
    gc_pauses: list[float] = []
    gc_full: list[float] = []
    gc_started = [0.0]

    def gc_callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        elif recording:
            pause = time.perf_counter() - gc_started[0]
            gc_pauses.append(pause)
            if info["generation"] == 2:
                gc_full.append(pause)

    gc.callbacks.append(gc_callback)
    latencies: list[float] = []
    recording = False
    received = 0
    opened = 0
    all_open = trio.Event()
    start_streaming = trio.Event()
    limiter = trio.Semaphore(OPEN_CONCURRENCY)
    url = f"{'wss' if ca_file else 'ws'}://127.0.0.1:{port}"
    # One context for every session, as an application would share it.
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None

    async def one_session(index: int) -> None:
        nonlocal opened, received
        await limiter.acquire()
        released = False
        try:
            async with trio.open_nursery() as nursery, open_live_session(
                nursery, model=MODEL, auth=ApiKey("k"), endpoint=url,
                keepalive_interval=None, config=LiveConfig(response_modalities=["AUDIO"]),
                ssl_context=context,
            ) as session:
                limiter.release()
                released = True
                opened += 1
                if opened == n:
                    all_open.set()
                await start_streaming.wait()
                slot = index % SLOTS
                if stagger:
                    # Independent callers: this session's 100 ms cycle starts in its slot.
                    await clock.wait(slot)
                await session.send_realtime_input(text="stream")

                async def produce() -> None:
                    if pacing == "timer":
                        deadline = trio.current_time()
                        while True:
                            deadline += 0.1
                            await trio.sleep_until(deadline)
                            await session.send_realtime_input(audio=PCM)
                    else:
                        while True:
                            await clock.wait(slot)
                            await session.send_realtime_input(audio=PCM)

                nursery.start_soon(produce)
                async for event in session.events():
                    if recording and isinstance(event, ev.AudioChunk):
                        (stamp,) = struct.unpack_from("<d", event.data)
                        latencies.append(time.monotonic() - stamp)
                        received += 1
        finally:
            if not released:
                limiter.release()

    with trio.fail_after(120 + n / 5):
        async with trio.open_nursery() as nursery:
            gc.collect()
            base = rss()
            tracked_base = len(gc.get_objects())
            nursery.start_soon(clock.run)
            for index in range(n):
                nursery.start_soon(one_session, index)
            await all_open.wait()
            await trio.sleep(0.5)  # the last setups settle (a measurement pause, not a sync)
            gc.collect()
            idle = rss()
            tracked_idle = len(gc.get_objects())
            if gc_mode == "tuned":
                gc.freeze()
                gc.set_threshold(10_000, 20, 20)
            start_streaming.set()
            await trio.sleep(1.0)  # warm-up: every session streaming
            recording = True
            cpu0, server0, wall0 = time.process_time(), process_cpu(server_pid), time.monotonic()
            await trio.sleep(seconds)
            cpu1, server1, wall1 = time.process_time(), process_cpu(server_pid), time.monotonic()
            recording = False
            streaming = rss()
            # Outside the measured window; frozen objects (tuned) counted too.
            tracked_streaming = len(gc.get_objects()) + gc.get_freeze_count()
            nursery.cancel_scope.cancel()
    wall = wall1 - wall0
    return {
        "sessions": n,
        "pacing": pacing,
        "stagger": stagger,
        "seconds": wall,
        "client_cpu_share": (cpu1 - cpu0) / wall,
        "server_cpu_share": (server1 - server0) / wall,
        "received_share": received / (n * 10 * wall),
        "p50_ms": percentile(latencies, 0.5) * 1e3,
        "p99_ms": percentile(latencies, 0.99) * 1e3,
        "gc_runs": len(gc_pauses),
        "gc_share": sum(gc_pauses) / wall,
        "gc_max_ms": max(gc_pauses, default=0.0) * 1e3,
        "gc": gc_mode,
        "tls": bool(ca_file),
        "gc_full_runs": len(gc_full),
        "idle_kib_per_session": (idle - base) / n / 1024,
        "streaming_kib_per_session": (streaming - base) / n / 1024,
        "tracked_per_idle_session": (tracked_idle - tracked_base) / n,
        "tracked_per_streaming_session": (tracked_streaming - tracked_base) / n,
    }


def main() -> None:
    """Parse the arguments, raise the file limit, run, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sessions", type=int)
    parser.add_argument("seconds", type=float)
    parser.add_argument("port", type=int)
    parser.add_argument("server_pid", type=int)
    parser.add_argument("--pacing", choices=["clock", "timer"], default="clock")
    parser.add_argument("--no-stagger", dest="stagger", action="store_false")
    parser.add_argument("--gc", choices=["default", "tuned"], default="default")
    parser.add_argument("--ca", help="wss:// with this CA file (the server's --cert)")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(json.dumps(trio.run(run, args.sessions, args.seconds, args.port, args.server_pid,
                              args.pacing, args.stagger, args.gc, args.ca)))


if __name__ == "__main__":
    main()
