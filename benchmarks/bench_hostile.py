"""Hostile-server figures (issue 12) too noisy for CI: stalls, memory, connections, latency.

Run from the repository root::

    python benchmarks/bench_hostile.py            # everything, writes results/hostile.*
    python benchmarks/bench_hostile.py --quick    # fewer repetitions and smaller floods
    python benchmarks/bench_hostile.py --only decode,cancel

The tests in ``tests/hostile`` assert generous bounds; this prints the figures behind them.
Sections:

* ``decode``: finding 1 without sockets. The base64 repair before issue 12 (embedded
  below, verbatim) against today's, at 1,000 to 10,000 unpadded fields; the hot path (one
  audio message, padded base64) before and after, interleaved in one run; 16 MiB frames of
  several shapes, and how long a task ticking every 10 ms stalls while one is decoded
  inline or in a worker thread (``trio.to_thread.run_sync``: the session's hook for frames
  of ``_wire.LARGE_FRAME`` bytes or more).
* ``session``: through the public API against ``tests/hostile/server.py``: the 690 KB frame
  of finding 1 (longest stall), goAway after every setup (connections in 10 s, finding 2),
  a text flood nobody reads (peak memory, finding 4), audio and transcripts nobody reads
  (CPU per message as the queue grows, finding 4), 2,000,000 fragments (peak memory, CPU,
  outcome, finding 6).
* ``cancel``: finding 8's latencies: cancelled while waiting for ``setupComplete``, the
  ``setup_timeout``, a ready session whose server went mute, the in-memory emulator.

Memory is tracemalloc's peak (Python allocations) above the start of the measure; CPU is
``time.process_time()`` of this process (the hostile server runs in it too, sending
prebuilt bytes). The machine is shared: compare figures of one run.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import os
import platform
import re
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import trio

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from tests.hostile.server import (  # noqa: E402
    CONT,
    TEXT,
    HostileServer,
    Peer,
    frame,
)
from trio_gemini_live import (  # noqa: E402
    ApiKey,
    LiveConfig,
    LiveError,
    ReconnectPolicy,
    Status,
    open_live_session,
)
from trio_gemini_live import _wire as w  # noqa: E402
from trio_gemini_live import events as ev  # noqa: E402
from trio_gemini_live._errors import ProtocolError  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
MiB = 1024 * 1024


# --- the decode before issue 12 (for before/after in one run) -------------------------------

_PATH_RE = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def old_decode(data: bytes) -> w.ServerMessage:
    """``decode_server_message`` as it was before issue 12 (commit 4f3bd69)."""
    try:
        return w._decoder.decode(data)
    except msgspec.ValidationError as exc:
        if "Invalid base64" not in str(exc):
            raise ProtocolError(str(exc)) from None
        error = exc
    except msgspec.DecodeError as exc:
        raise ProtocolError(str(exc)) from None
    obj = w._generic_decoder.decode(data)
    for _ in range(10_000):  # one conversion of the whole message per repaired field
        message = str(error)
        _, _, path = message.rpartition(" - at `$")
        parent: Any = obj
        keys = [m.group(1) if m.group(1) is not None else int(m.group(2))
                for m in _PATH_RE.finditer(path.rstrip("`"))]
        try:
            for key in keys[:-1]:
                parent = parent[key]
            value = parent[keys[-1]]
            padded = value + "=" * (-len(value) % 4)
            raw = base64.b64decode(padded, altchars=b"-_", validate=True)
            parent[keys[-1]] = base64.b64encode(raw).decode()
        except (KeyError, IndexError, TypeError, ValueError, binascii.Error):
            raise ProtocolError(message) from None
        try:
            return msgspec.convert(obj, w.ServerMessage, strict=False)
        except msgspec.ValidationError as again:
            if "Invalid base64" not in str(again):
                raise ProtocolError(str(again)) from None
            error = again
    raise ProtocolError("too many malformed base64 fields")


# --- frames --------------------------------------------------------------------------------


def unpadded_fields(fields: int) -> bytes:
    """Finding 1's frame: ``fields`` audio parts of 32 bytes, base64 padding stripped."""
    data = base64.b64encode(bytes(range(32))).decode().rstrip("=")
    part = b'{"inlineData":{"data":"' + data.encode() + b'"}}'
    return (b'{"serverContent":{"modelTurn":{"parts":[' + b",".join([part] * fields)
            + b"]}}}")


def audio_frame(pcm_bytes: int) -> bytes:
    data = base64.b64encode(os.urandom(pcm_bytes)).decode()
    return json.dumps({"serverContent": {"modelTurn": {"parts": [
        {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}]}}},
        separators=(",", ":")).encode()


def shapes_16_mib() -> dict[str, bytes]:
    """16 MiB frames: the repair-path shapes of tests/test_wire.py and fast-path ones."""
    from tests.test_wire import _parts_frame, repair_path_shapes

    size = 16 * MiB - 1024
    audio = base64.b64encode(os.urandom(size * 3 // 4 - 1024)).decode().encode()
    deep = b'{"a":' * 200 + b"1" + b"}" * 200
    call = b'{"id":"1","name":"f","args":' + deep + b"}"
    calls = b",".join([call] * (size // (len(call) + 1) - 1))
    return {
        "one_padded_audio (fast path)": _parts_frame(
            b'{"inlineData":{"data":"' + audio + b'"}}', size),
        "many_text_parts (fast path)": _parts_frame(b'{"text":"x"}', size),
        "many_deep_calls (fast path)": b'{"toolCall":{"functionCalls":[' + calls + b"]}}",
        **{f"{name} (repair)": data for name, data in repair_path_shapes(size).items()},
    }


# --- meters --------------------------------------------------------------------------------


class Ticker:
    """The longest lateness of a task sleeping 10 ms in a loop (how long others stalled)."""

    def __init__(self) -> None:
        self.longest = 0.0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> (
        None
    ):
        task_status.started()
        while True:
            before = time.perf_counter()
            try:
                await trio.sleep(0.01)
            finally:
                self.longest = max(self.longest, time.perf_counter() - before - 0.01)


def best_of(fn: Callable[[bytes], Any], data: bytes, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn(data)
        times.append(time.perf_counter() - start)
    return min(times)


# --- decode --------------------------------------------------------------------------------


def bench_decode(quick: bool) -> dict[str, Any]:
    rounds = 3 if quick else 7
    out: dict[str, Any] = {"repair": [], "hot_path": [], "shapes": []}
    for fields in (1_000, 2_000, 4_000, 10_000):
        data = unpadded_fields(fields)
        row: dict[str, Any] = {"fields": fields, "bytes": len(data),
                               "new_s": best_of(w.decode_server_message, data, rounds)}
        if fields <= (2_000 if quick else 4_000):
            row["old_s"] = best_of(old_decode, data, 1)
        out["repair"].append(row)
    small = unpadded_fields(50)
    assert w.decode_server_message(small) == old_decode(small)
    # The hot path: one padded audio message, new and old interleaved, per-call medians.
    for pcm in (4_800, 48_000):
        data = audio_frame(pcm)
        assert w.decode_server_message(data) == old_decode(data)
        samples: dict[str, list[float]] = {"new": [], "old": []}
        loops = 2_000 if pcm == 4_800 else 300
        for i in range(rounds * 5):
            for name in (("new", "old") if i % 2 else ("old", "new")):
                fn = w.decode_server_message if name == "new" else old_decode
                start = time.perf_counter_ns()
                for _ in range(loops):
                    fn(data)
                samples[name].append((time.perf_counter_ns() - start) / loops)
        medians = {k: sorted(v)[len(v) // 2] for k, v in samples.items()}
        out["hot_path"].append({"pcm_bytes": pcm, "new_ns": medians["new"],
                                "old_ns": medians["old"]})
    for name, data in shapes_16_mib().items():
        seconds = best_of(w.decode_server_message, data, 1 if quick else 2)
        inline, threaded = trio.run(_stalls, data)
        out["shapes"].append({"shape": name, "bytes": len(data), "decode_s": seconds,
                              "stall_inline_s": inline, "stall_thread_s": threaded})
    return out


async def _stalls(data: bytes) -> tuple[float, float]:
    """The ticker's longest stall while ``data`` is decoded inline, then in a thread."""
    results = []
    for threaded in (False, True):
        ticker = Ticker()
        async with trio.open_nursery() as nursery:
            await nursery.start(ticker.run)
            await trio.sleep(0.05)
            if threaded:
                await trio.to_thread.run_sync(w.decode_server_message, data)
            else:
                w.decode_server_message(data)
            await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
        results.append(ticker.longest)
    return results[0], results[1]


# --- sessions against the hostile server ---------------------------------------------------

Attack = Callable[[Peer], Awaitable[None]]


def session(nursery: trio.Nursery, server: HostileServer, **kwargs: Any) -> Any:
    kwargs.setdefault("auth", ApiKey("AIzaBENCH-not-a-key"))
    kwargs.setdefault("config", LiveConfig(response_modalities=["TEXT"]))
    kwargs.setdefault("keepalive_interval", None)
    kwargs.setdefault("reconnect", False)
    return open_live_session(nursery, model=MODEL, endpoint=server.url, **kwargs)


def after_setup(data: bytes, *, then_close: bool = False) -> Attack:
    async def attack(peer: Peer) -> None:
        await peer.setup()
        await peer.send(data)
        if then_close:
            await peer.close(1000)
        await peer.drain()

    return attack


async def _serve(nursery: trio.Nursery, attack: Attack) -> HostileServer:
    server = HostileServer(attack)
    await nursery.start(server.serve)
    return server


async def f1_stall() -> dict[str, Any]:
    data = frame(unpadded_fields(10_000)) + frame(b'{"serverContent":{"turnComplete":true}}')
    ticker = Ticker()
    chunks = 0
    async with trio.open_nursery() as nursery:
        server = await _serve(nursery, after_setup(data))
        await nursery.start(ticker.run)
        async with session(nursery, server) as s:
            async for event in s.events():
                if isinstance(event, ev.AudioChunk):
                    chunks += 1
                elif isinstance(event, ev.TurnComplete):
                    break
        nursery.cancel_scope.cancel()
    return {"bytes": len(data), "audio_chunks": chunks, "longest_stall_s": ticker.longest}


async def f2_connections(policy: ReconnectPolicy, window: float) -> dict[str, Any]:
    async def attack(peer: Peer) -> None:
        await peer.setup()
        await peer.send(frame(b'{"goAway":{"timeLeft":"0s"}}'))
        await peer.drain()

    error: BaseException | None = None
    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        server = await _serve(nursery, attack)
        with trio.move_on_after(window):
            try:
                async with session(nursery, server, reconnect=policy, config=LiveConfig(
                        response_modalities=["TEXT"], session_resumption={})) as s:
                    async for _ in s.events():
                        pass
            except LiveError as exc:
                error = exc
        nursery.cancel_scope.cancel()
    return {"window_s": window, "connections": server.connections,
            "ended_after_s": time.perf_counter() - start if error else None,
            "error": type(error).__name__ if error else None}


async def f4_text_flood(total: int, **kwargs: Any) -> dict[str, Any]:
    message = json.dumps({"serverContent": {"modelTurn": {"parts": [{"text": "t" * 8192}]}}})
    data = frame(message.encode()) * (total // 8192)
    error: BaseException | None = None
    async with trio.open_nursery() as nursery:
        server = await _serve(nursery, after_setup(data, then_close=True))
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        try:
            async with session(nursery, server, **kwargs) as s:
                await s.wait_status(Status.CLOSED)  # nobody reads events()
                error = s.error
        except LiveError as exc:
            error = exc
        except TypeError as exc:  # max_event_bytes before issue 12
            tracemalloc.stop()
            nursery.cancel_scope.cancel()
            return {"skipped": str(exc)}
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        nursery.cancel_scope.cancel()
    return {"flood_mib": total / MiB, "peak_mib": peak / MiB,
            "error": type(error).__name__ if error else None}


async def f4_unread_cpu(pairs: int, transcripts: bool) -> float:
    audio = frame(audio_frame(4800))
    text = frame(b'{"serverContent":{"outputTranscription":{"text":"word "}}}')
    data = (audio + text) * pairs if transcripts else audio * (2 * pairs)
    async with trio.open_nursery() as nursery:
        server = await _serve(nursery, after_setup(data, then_close=True))
        start = time.process_time()
        try:
            async with session(nursery, server, max_event_audio_seconds=0.5) as s:
                await s.wait_status(Status.CLOSED)
        except LiveError:
            pass
        cpu = time.process_time() - start
        nursery.cancel_scope.cancel()
    return cpu


def two_million_fragments() -> bytes:
    payload = json.dumps({"serverContent": {"modelTurn": {"parts": [
        {"text": "a" * 3_999_940}]}}}).encode()
    payload += b" " * (-len(payload) % 2)
    count = len(payload) // 2
    wire = bytearray(4 * count)
    wire[0::4] = bytes([CONT]) * count
    wire[1::4] = b"\x02" * count
    wire[2::4] = payload[0::2]
    wire[3::4] = payload[1::2]
    wire[0] = TEXT
    wire[-4] = 0x80 | CONT
    return bytes(wire)


async def f6_fragments(window: float) -> dict[str, Any]:
    data = two_million_fragments()
    outcome = "still running"
    async with trio.open_nursery() as nursery:
        server = await _serve(nursery, after_setup(data, then_close=True))
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        cpu = time.process_time()
        with trio.move_on_after(window):
            try:
                async with session(nursery, server) as s:
                    async for event in s.events():
                        if isinstance(event, ev.TextChunk):
                            outcome = f"accepted ({len(event.text):,} characters)"
            except LiveError as exc:
                ended = f"{type(exc).__name__}: {str(exc)[:80]}"
                outcome = ended if outcome == "still running" else f"{outcome}, then {ended}"
        cpu = time.process_time() - cpu
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        nursery.cancel_scope.cancel()
    return {"payload_mb": len(data) / 2 / 1e6, "peak_mib": peak / MiB, "cpu_s": cpu,
            "outcome": outcome}


def bench_session(quick: bool) -> dict[str, Any]:
    logging.disable(logging.WARNING)  # a flood of "session failed" lines otherwise
    out: dict[str, Any] = {}
    out["f1_690kb_frame"] = trio.run(f1_stall)
    out["f2_go_away_default_policy"] = trio.run(f2_connections, ReconnectPolicy(), 10.0)
    out["f2_go_away_small_policy"] = trio.run(
        f2_connections, ReconnectPolicy(max_attempts=3, initial_backoff=0.02,
                                        max_backoff=0.1), 10.0)
    flood = 32 * MiB if quick else 128 * MiB
    out["f4_text_flood_default"] = trio.run(f4_text_flood, flood)
    out["f4_text_flood_1mib_bound"] = trio.run(
        lambda: f4_text_flood(flood, max_event_bytes=MiB))
    pairs = 5_000 if quick else 10_000
    rows = []
    for n in (pairs, 2 * pairs):
        rows.append({"pairs": n, "cpu_with_transcripts_s": trio.run(f4_unread_cpu, n, True),
                     "cpu_audio_only_s": trio.run(f4_unread_cpu, n, False)})
    out["f4_audio_and_transcripts_unread"] = rows
    out["f6_two_million_fragments"] = trio.run(f6_fragments, 60.0 if quick else 300.0)
    return out


def session_rows(out: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(finding, case, figure) rows of the session section."""
    rows = []
    f1 = out["f1_690kb_frame"]
    rows.append(("1", f"{f1['bytes']:,} B frame, 10,000 unpadded base64 fields",
                 f"longest stall {f1['longest_stall_s']:.3f} s, "
                 f"{f1['audio_chunks']:,} audio chunks"))
    for key, policy in (("f2_go_away_default_policy", "ReconnectPolicy()"),
                        ("f2_go_away_small_policy", "max_attempts=3, backoff 0.02-0.1 s")):
        f2 = out[key]
        ended = (f"ended after {f2['ended_after_s']:.2f} s with {f2['error']}"
                 if f2["error"] else "still reconnecting")
        rows.append(("2", f"goAway after every setup, {policy}",
                     f"{f2['connections']:,} connections in {f2['window_s']:g} s, {ended}"))
    for key, bound in (("f4_text_flood_default", "default bound"),
                       ("f4_text_flood_1mib_bound", "max_event_bytes=1 MiB")):
        f4 = out[key]
        figure = (f"not run: {f4['skipped']}" if "skipped" in f4 else
                  f"peak {f4['peak_mib']:.1f} MiB for {f4['flood_mib']:g} MiB, "
                  f"error {f4['error']}")
        rows.append(("4", f"text flood nobody reads, {bound}", figure))
    for row in out["f4_audio_and_transcripts_unread"]:
        rows.append(("4", f"{row['pairs']:,} audio chunks + transcripts, unread",
                     f"{row['cpu_with_transcripts_s']:.2f} s CPU (as many audio chunks "
                     f"alone: {row['cpu_audio_only_s']:.2f} s)"))
    f6 = out["f6_two_million_fragments"]
    rows.append(("6", f"2,000,000 fragments of 2 bytes ({f6['payload_mb']:g} MB)",
                 f"peak {f6['peak_mib']:.1f} MiB, {f6['cpu_s']:.1f} s CPU: {f6['outcome']}"))
    return rows


# --- cancellation --------------------------------------------------------------------------


async def _mute(peer: Peer, answer: bool) -> None:
    await peer.setup(answer=b'{"setupComplete":{}}' if answer else None)
    while True:
        await peer.recv_frame()  # reads, never answers (not even a close frame)


async def cancel_latencies() -> dict[str, float]:
    from trio_gemini_live.testing import LiveEmulator

    out: dict[str, float] = {}
    async with trio.open_nursery() as nursery:
        server = await _serve(nursery, lambda peer: _mute(peer, False))
        start = time.perf_counter()
        with trio.move_on_after(0.2):
            async with session(nursery, server):
                pass
        out["move_on_after(0.2) while waiting for setupComplete"] = time.perf_counter() - start
        start = time.perf_counter()
        try:
            async with session(nursery, server, setup_timeout=2):
                pass
        except LiveError:
            pass
        out["setup_timeout=2 to SetupError"] = time.perf_counter() - start
        ready = await _serve(nursery, lambda peer: _mute(peer, True))
        with trio.CancelScope() as outer:
            async with session(nursery, ready):
                start = time.perf_counter()
                outer.cancel()
                await trio.sleep_forever()
        out["cancel a ready session whose server went mute"] = time.perf_counter() - start
        emulator = LiveEmulator(api_key="k")
        await nursery.start(emulator.serve_in_memory)
        emulator.pause()
        start = time.perf_counter()
        with trio.move_on_after(0.2):
            async with emulator.open_session(nursery, in_memory=True,
                                             config=LiveConfig(response_modalities=["TEXT"])):
                pass
        out["in-memory emulator, move_on_after(0.2) during setup"] = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return out


# --- report --------------------------------------------------------------------------------


def report(result: dict[str, Any]) -> str:
    lines = [f"# Hostile-server figures (issue 12)\n\nPython {result['python']}, "
             f"{result['platform']}, load average at start {result['load']}.\n"]
    decode = result.get("decode")
    if decode:
        lines += ["## Decoding (finding 1)\n", "| unpadded fields | bytes | before (s) | "
                  "after (s) |", "|---:|---:|---:|---:|"]
        for row in decode["repair"]:
            old = f"{row['old_s']:.3f}" if "old_s" in row else "-"
            lines.append(f"| {row['fields']:,} | {row['bytes']:,} | {old} | {row['new_s']:.4f} |")
        lines += ["", "| hot path: PCM bytes | before (us) | after (us) |", "|---:|---:|---:|"]
        for row in decode["hot_path"]:
            lines.append(f"| {row['pcm_bytes']:,} | {row['old_ns'] / 1000:.2f} "
                         f"| {row['new_ns'] / 1000:.2f} |")
        lines += ["", "| 16 MiB shape | decode (s) | stall inline (s) | stall in a thread (s) |",
                  "|---|---:|---:|---:|"]
        for row in decode["shapes"]:
            lines.append(f"| {row['shape']} | {row['decode_s']:.3f} | "
                         f"{row['stall_inline_s']:.3f} | {row['stall_thread_s']:.3f} |")
        lines.append("")
    if "session" in result:
        lines += ["## Through a session\n", "| finding | case | figure |", "|---|---|---|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in session_rows(result["session"])]
        lines.append("")
    if "cancel" in result:
        lines += ["## Cancellation (finding 8)\n", "| case | seconds |", "|---|---:|"]
        lines += [f"| {k} | {v:.2f} |" for k, v in result["cancel"].items()]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="decode,session,cancel")
    args = parser.parse_args(argv)
    sections = set(args.only.split(","))
    result: dict[str, Any] = {
        "python": platform.python_version(), "platform": platform.platform(),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()), "quick": args.quick,
    }
    if "decode" in sections:
        result["decode"] = bench_decode(args.quick)
    if "session" in sections:
        result["session"] = bench_session(args.quick)
    if "cancel" in sections:
        result["cancel"] = trio.run(cancel_latencies)
    text = report(result)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hostile.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "hostile.md").write_text(text)


if __name__ == "__main__":
    main()
