"""N real-time sessions in one process: CPU share, event latency, memory per session.

``python benchmarks/_scale_client.py N SECONDS PORT SERVER_PID`` (plain ``ws://``; run by
``bench_scale.py``). Opens N sessions (``keepalive_interval=None``), measures the RSS per idle
session, then every session streams a 100 ms chunk of 16 kHz audio every 100 ms (real time)
and asks the server for 24 kHz audio replies, one 100 ms message every 100 ms. Over SECONDS
(after one second of warm-up) it measures this process's CPU (``time.process_time()``) and
the server's (``/proc``), both as a share of one core, and the latency from the server's
timestamp in each message to the :class:`AudioChunk` reaching the consumer. Prints JSON.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import struct
import sys
import time
from pathlib import Path

import trio

from trio_gemini_live import ApiKey, LiveConfig, open_live_session
from trio_gemini_live import events as ev

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
PCM = bytes(3200)
OPEN_CONCURRENCY = 50  # connection attempts at once (keeps the listen backlog calm)


def rss() -> int:
    """Resident memory of this process in bytes."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run(n: int, seconds: float, port: int, server_pid: int) -> dict[str, float]:
    """Open, idle, stream, measure; returns the figures."""
    latencies: list[float] = []
    recording = False
    received = 0
    opened = 0
    all_open = trio.Event()
    start_streaming = trio.Event()
    limiter = trio.Semaphore(OPEN_CONCURRENCY)
    url = f"ws://127.0.0.1:{port}"

    async def one_session() -> None:
        nonlocal opened, received
        await limiter.acquire()
        released = False
        try:
            async with trio.open_nursery() as nursery, open_live_session(
                nursery, model=MODEL, auth=ApiKey("k"), endpoint=url,
                keepalive_interval=None, config=LiveConfig(response_modalities=["AUDIO"]),
            ) as session:
                limiter.release()
                released = True
                opened += 1
                if opened == n:
                    all_open.set()
                await start_streaming.wait()
                await session.send_realtime_input(text="stream")

                async def produce() -> None:
                    deadline = trio.current_time()
                    while True:
                        deadline += 0.1
                        await trio.sleep_until(deadline)
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
            for _ in range(n):
                nursery.start_soon(one_session)
            await all_open.wait()
            await trio.sleep(0.5)  # the last setups settle (a measurement pause, not a sync)
            gc.collect()
            idle = rss()
            start_streaming.set()
            await trio.sleep(1.0)  # warm-up: every session streaming
            recording = True
            cpu0, server0, wall0 = time.process_time(), process_cpu(server_pid), time.monotonic()
            await trio.sleep(seconds)
            cpu1, server1, wall1 = time.process_time(), process_cpu(server_pid), time.monotonic()
            recording = False
            streaming = rss()
            nursery.cancel_scope.cancel()
    wall = wall1 - wall0
    return {
        "sessions": n,
        "seconds": wall,
        "client_cpu_share": (cpu1 - cpu0) / wall,
        "server_cpu_share": (server1 - server0) / wall,
        "received_share": received / (n * 10 * wall),
        "p50_ms": percentile(latencies, 0.5) * 1e3,
        "p99_ms": percentile(latencies, 0.99) * 1e3,
        "idle_kib_per_session": (idle - base) / n / 1024,
        "streaming_kib_per_session": (streaming - base) / n / 1024,
    }


def main() -> None:
    """Raise the file limit, run, print the JSON line."""
    n, seconds, port, server_pid = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(
        sys.argv[4])
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(json.dumps(trio.run(run, n, seconds, port, server_pid)))


if __name__ == "__main__":
    main()
