"""Recording benchmark (issue 15): a 10-minute call recorded in each audio mode.

Run from the repository root::

    python benchmarks/bench_recording.py            # full run, writes benchmarks/results/
    python benchmarks/bench_recording.py --quick    # a smoke run (one round, 1 minute)

The call: 10 minutes of input audio in 100 ms chunks (16 kHz, 3,200 bytes: 6,000 frames);
the model speaks 40 % of the time, 240 s of output audio in 40 ms chunks (24 kHz, 1,920
bytes: 6,000 frames) with an output transcription fragment every 6 chunks (960 frames);
60 turns, each ending with ``generationComplete``, ``turnComplete`` with usage, and a
resumption handle (180 frames). 13,140 frames in all, built as the session sends them (JSON
text) and as Google sends them (JSON in binary frames).

The frames go through a message-level connection that does nothing (no socket), once bare
and once wrapped by a :class:`~trio_gemini_live.testing.Recorder`'s connection, in one Trio
run, alternating over the rounds. Figures, medians over the rounds:

* **file size**: the ``.jsonl`` plus its WAV side files;
* **session thread** (µs per frame): ``time.thread_time()`` of the Trio thread, wrapped minus
  bare: what the session itself pays per frame (the wrapper appends to a buffer);
* **all threads** (µs per frame): ``time.process_time()`` of the process from the first frame
  until the recorder is closed (everything written), wrapped minus bare: the session's share
  plus the writer thread's (decoding, redaction, media, JSON, writing).

Frames are fed as fast as the process goes (a real call is paced at real time, about 22
frames a second here), so the buffer is made large enough that nothing is dropped; the run
checks that nothing was.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from _common import median, write  # noqa: E402

from trio_gemini_live.testing import Recorder  # noqa: E402

MODES = ("truncate", "wav", "keep")


def call_frames(minutes: float, seed: int = 7) -> list[tuple[str, str | bytes]]:
    """``(sender, frame)`` for a call of ``minutes`` (see the module docstring)."""
    rng = random.Random(seed)
    frames: list[tuple[str, str | bytes]] = []
    chunks_in = int(minutes * 60 * 10)
    turns = max(1, int(minutes * 6))
    out_per_turn = int(minutes * 60 * 0.4 / 0.04) // turns

    def pcm(size: int) -> bytes:
        return rng.randbytes(size)

    def dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))

    per_turn_in = chunks_in // turns
    for turn in range(turns):
        for _ in range(per_turn_in):
            frames.append(("client", dumps({"realtimeInput": {"audio": {
                "mimeType": "audio/pcm;rate=16000",
                "data": base64.b64encode(pcm(3200)).decode()}}})))
        for i in range(out_per_turn):
            frames.append(("server", dumps({"serverContent": {"modelTurn": {"parts": [
                {"inlineData": {"mimeType": "audio/pcm;rate=24000",
                                "data": base64.b64encode(pcm(1920)).decode()}}]}}}).encode()))
            if i % 6 == 5:
                frames.append(("server", dumps({"serverContent": {"outputTranscription": {
                    "text": " word"}}}).encode()))
        frames.append(("server", b'{"serverContent":{"generationComplete":true}}'))
        frames.append(("server", dumps({"serverContent": {"turnComplete": True},
                                        "usageMetadata": {"promptTokenCount": 100,
                                                          "responseTokenCount": 50,
                                                          "totalTokenCount": 150}}).encode()))
        frames.append(("server", dumps({"sessionResumptionUpdate": {
            "newHandle": f"handle-{turn}", "resumable": True}}).encode()))
    return frames


class NullConnection:
    """A connection that sends nowhere and receives prepared frames (no checkpoints)."""

    closed = None

    def __init__(self) -> None:
        self.incoming: list[str | bytes] = []

    async def get_message(self) -> str | bytes:
        return self.incoming.pop()

    async def send_message(self, message: str | bytes) -> None:
        pass

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        pass


async def bare(frames: list[tuple[str, str | bytes]]) -> tuple[float, float]:
    conn = NullConnection()
    conn.incoming = [f for s, f in reversed(frames) if s == "server"]
    thread0, process0 = time.thread_time(), time.process_time()
    for sender, frame in frames:
        if sender == "client":
            await conn.send_message(frame)
        else:
            await conn.get_message()
    return time.thread_time() - thread0, time.process_time() - process0


async def recorded(frames: list[tuple[str, str | bytes]], mode: str,
                   directory: Path) -> tuple[float, float, int, int]:
    path = directory / f"call-{mode}.jsonl"
    _remove(directory, mode)
    conn = NullConnection()
    conn.incoming = [f for s, f in reversed(frames) if s == "server"]
    recorder = Recorder(path, audio=mode, max_buffered_frames=10**6,  # type: ignore[arg-type]
                        max_buffered_bytes=10**10).start()
    thread0, process0 = time.thread_time(), time.process_time()
    wrapped = recorder.wrap(conn, url="wss://generativelanguage.googleapis.com/ws/google.ai."
                            "generativelanguage.v1beta.GenerativeService.BidiGenerateContent",
                            headers=[("x-goog-api-key", "AIzaBENCH-not-a-real-key-000000")])
    for sender, frame in frames:
        if sender == "client":
            await wrapped.send_message(frame)
        else:
            await wrapped.get_message()
    thread = time.thread_time() - thread0
    recorder.close()  # blocks until everything is written: counted in the process time
    process = time.process_time() - process0
    if recorder.dropped or recorder.error:
        raise RuntimeError(f"{mode}: {recorder.dropped} dropped, error {recorder.error}")
    return thread, process, _size(directory, mode), recorder.frames


def _remove(directory: Path, mode: str) -> None:
    for old in directory.glob(f"call-{mode}*"):
        old.unlink()


def _size(directory: Path, mode: str) -> int:
    """The recording and its WAV side files."""
    return sum(p.stat().st_size for p in directory.glob(f"call-{mode}*"))


async def main(rounds: int, minutes: float) -> dict[str, Any]:
    frames = call_frames(minutes)
    count = len(frames)
    wire = sum(len(f) for _, f in frames)
    samples: dict[str, dict[str, list[float]]] = {
        name: {"thread": [], "process": []} for name in ("bare", *MODES)}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for round_ in range(rounds):
            order = list(MODES)
            random.Random(round_).shuffle(order)
            for name in ["bare", *order]:
                if name == "bare":
                    thread, process = await bare(frames)
                else:
                    thread, process, size, written = await recorded(frames, name, directory)
                    assert written == count
                    sizes[name] = size
                samples[name]["thread"].append(thread)
                samples[name]["process"].append(process)
    base_thread = median(samples["bare"]["thread"])
    base_process = median(samples["bare"]["process"])
    results: dict[str, Any] = {"frames": count, "wire_bytes": wire, "minutes": minutes,
                               "rounds": rounds, "modes": {}}
    for mode in MODES:
        results["modes"][mode] = {
            "file_bytes": sizes[mode],
            "session_us_per_frame": (median(samples[mode]["thread"]) - base_thread) / count
            * 1e6,
            "all_threads_us_per_frame": (median(samples[mode]["process"]) - base_process)
            / count * 1e6,
        }
    results["bare_us_per_frame"] = base_process / count * 1e6
    results["samples"] = samples
    return results


def table(results: dict[str, Any]) -> str:
    minutes = results["minutes"]
    lines = [
        "# Recording a call",
        "",
        f"A {minutes:g}-minute call ({results['frames']:,} frames, "
        f"{results['wire_bytes'] / 1e6:.1f} MB of JSON on the wire) recorded by "
        "`Recorder` in each audio mode (issue 15).",
        "",
        "| audio mode | file size | session thread (us / frame) | all threads (us / frame) |",
        "|---|---:|---:|---:|",
    ]
    for mode, row in results["modes"].items():
        lines.append(f"| {mode} | {row['file_bytes'] / 1e6:.1f} MB | "
                     f"{row['session_us_per_frame']:.2f} | "
                     f"{row['all_threads_us_per_frame']:.1f} |")
    lines += [
        "",
        "Session thread: what the session's own tasks pay per frame (the wrapper appends the "
        "frame to the writer's buffer). All threads: that plus the writer thread's work "
        "(decode, redact, rewrite media, encode, write), from the first frame until the "
        f"recorder closed. Baseline: the same frames through a bare connection "
        f"({results['bare_us_per_frame']:.2f} us / frame), subtracted. Medians of "
        f"{results['rounds']} rounds, modes in shuffled order; nothing was dropped.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round, a 1-minute call")
    options = parser.parse_args()
    rounds, minutes = (1, 1.0) if options.quick else (5, 10.0)
    data = trio.run(main, rounds, minutes)
    write("recording", data, table(data))
