"""Codec benchmark: our wire codec against the official SDK's code path and a msgspec floor.

Run from the repository root::

    python benchmarks/bench_codec.py            # full run, writes benchmarks/results/
    python benchmarks/bench_codec.py --quick    # a smoke run (fewer rounds), same outputs

Rows (PROTOCOL.md 3.3 and 4: audio is the hot path):

* encode a ``realtimeInput`` audio message of 3,200 and 32,000 bytes of PCM (100 ms and 1 s
  at 16 kHz), from the raw bytes to the JSON of the frame;
* decode a server audio message of 4,800 and 48,000 bytes of PCM (100 ms and 1 s at 24 kHz),
  from the frame to the ``AudioChunk`` event.

Implementations:

* ``ours``: encode is ``_wire.encode(ClientMessage(realtime_input=RealtimeInput(audio=Blob(
  ...))))``; decode is ``_wire.decode_server_message`` then
  ``LiveProtocol.receive_message`` (the session's path: decode, events and bookkeeping).
  ``ours-decode`` (decode + ``message_events``, no bookkeeping) is reported too.
* ``sdk``: the steps of google-genai's ``AsyncSession.send_realtime_input`` and
  ``AsyncSession._receive`` (``live.py``), reproduced without a network: pydantic
  ``model_validate``, the ``_live_converters`` converter, ``convert_to_dict``,
  ``encode_unserializable_types``, ``json.dumps``; and ``json.loads``,
  ``_LiveServerMessage_from_mldev``, ``LiveServerMessage._from_response``.
* ``floor``: a bare msgspec Struct with one ``bytes`` field, encoded and decoded with a
  preallocated msgspec encoder/decoder: the cost of base64 and JSON alone.

Method: ``time.perf_counter_ns`` around loops calibrated to about 2 ms per round, the
implementations alternating within each round, the garbage collector off while timing,
the median over the rounds reported (nanoseconds per operation; the JSON has the minima too).
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from google.genai import _common as sdk_common  # noqa: E402
from google.genai import _live_converters as sdk_converters  # noqa: E402
from google.genai import types as sdk_types  # noqa: E402

from trio_gemini_live import _wire as w  # noqa: E402
from trio_gemini_live import events as ev  # noqa: E402
from trio_gemini_live._messages import message_events  # noqa: E402
from trio_gemini_live._protocol import LiveProtocol, Status  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
IN_MIME = "audio/pcm;rate=16000"
OUT_MIME = "audio/pcm;rate=24000"
TARGET_VS_SDK = 10.0
TARGET_VS_FLOOR = 1.3


# --- the floor ---------------------------------------------------------------------------


class Floor(msgspec.Struct):
    data: bytes


_floor_encoder = msgspec.json.Encoder()
_floor_decoder = msgspec.json.Decoder(Floor)


# --- encode --------------------------------------------------------------------------------


def ours_encode(pcm: bytes) -> bytes:
    return w.encode(
        w.ClientMessage(realtime_input=w.RealtimeInput(audio=w.Blob(mime_type=IN_MIME, data=pcm)))
    )


def sdk_encode(pcm: bytes) -> str:
    # google/genai/live.py, AsyncSession.send_realtime_input(audio=types.Blob(...)), Gemini API
    # (mldev) branch, up to the string handed to the WebSocket.
    kwargs: dict[str, Any] = {"audio": sdk_types.Blob(data=pcm, mime_type=IN_MIME)}
    if len(kwargs) != 1:
        raise ValueError("Only one argument can be set")
    realtime_input = sdk_types.LiveSendRealtimeInputParameters.model_validate(kwargs)
    realtime_input_dict = sdk_converters._LiveSendRealtimeInputParameters_to_mldev(
        from_object=realtime_input
    )
    realtime_input_dict = sdk_common.convert_to_dict(realtime_input_dict)
    realtime_input_dict = sdk_common.encode_unserializable_types(realtime_input_dict)
    return json.dumps({"realtime_input": realtime_input_dict})


def floor_encode(pcm: bytes) -> bytes:
    return _floor_encoder.encode(Floor(data=pcm))


# --- decode --------------------------------------------------------------------------------


def server_audio_frame(pcm: bytes) -> bytes:
    """A server audio message as Google sends it: JSON in a binary frame (PROTOCOL.md 2, 4)."""
    return json.dumps(
        {"serverContent": {"modelTurn": {"parts": [
            {"inlineData": {"mimeType": OUT_MIME, "data": base64.b64encode(pcm).decode()}}]}}},
        separators=(",", ":"),
    ).encode()


def floor_frame(pcm: bytes) -> bytes:
    return _floor_encoder.encode(Floor(data=pcm))


def make_protocol() -> LiveProtocol:
    proto = LiveProtocol(w.Setup(model="models/bench"))
    proto.transition(Status.CONNECTING)
    proto.setup_frame()
    frame = b'{"setupComplete":{}}'
    proto.receive_message(w.decode_server_message(frame), frame)
    return proto


def ours_receive(proto: LiveProtocol) -> Callable[[bytes], list[ev.Event]]:
    """The receive task's path for a frame: the codec, then the core's bookkeeping."""
    decode, receive = w.decode_server_message, proto.receive_message

    def receive_frame(frame: bytes) -> list[ev.Event]:
        return receive(decode(frame), frame)

    return receive_frame


def ours_decode_events(frame: bytes) -> list[ev.Event]:
    return message_events(w.decode_server_message(frame), frame)


def sdk_decode(frame: bytes) -> sdk_types.LiveServerMessage:
    # google/genai/live.py, AsyncSession._receive, Gemini API (mldev) branch, after recv().
    parameter_model = sdk_types.LiveServerMessage()
    response = json.loads(frame) if frame else {}
    response_dict = sdk_converters._LiveServerMessage_from_mldev(response)
    if not response_dict and response:
        raise RuntimeError("error response")
    return sdk_types.LiveServerMessage._from_response(
        response=response_dict, kwargs=parameter_model.model_dump()
    )


def floor_decode(frame: bytes) -> Floor:
    return _floor_decoder.decode(frame)


# --- timing --------------------------------------------------------------------------------


def _loops_for(fn: Callable[[Any], Any], arg: Any, budget_ns: int) -> int:
    loops = 1
    while True:
        start = time.perf_counter_ns()
        for _ in range(loops):
            fn(arg)
        elapsed = time.perf_counter_ns() - start
        if elapsed >= budget_ns // 10 or loops >= 1 << 22:
            return max(1, int(loops * budget_ns / max(elapsed, 1)))
        loops *= 4


def measure(
    impls: dict[str, tuple[Callable[[Any], Any], Any]], rounds: int, budget_ns: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Median and minimum ns per call of each implementation, alternating them per round.

    Short rounds, many of them, implementations interleaved: on a busy machine, a burst of
    load then slows every implementation alike instead of skewing one of them.
    """
    loops = {name: _loops_for(fn, arg, budget_ns) for name, (fn, arg) in impls.items()}
    samples: dict[str, list[float]] = {name: [] for name in impls}
    names = list(impls)
    for round_no in range(rounds):
        # Alternate the order too, so that no implementation always runs warm or cold.
        order = names if round_no % 2 == 0 else names[::-1]
        for name in order:
            fn, arg = impls[name]
            n = loops[name]
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                start = time.perf_counter_ns()
                for _ in range(n):
                    fn(arg)
                elapsed = time.perf_counter_ns() - start
            finally:
                if gc_was_enabled:
                    gc.enable()
            samples[name].append(elapsed / n)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    minima = {name: min(values) for name, values in samples.items()}
    return medians, minima


# --- checks: every implementation computes the same thing ----------------------------------


def _check(pcm_in: bytes, pcm_out: bytes) -> None:
    sent = json.loads(ours_encode(pcm_in))
    assert sent == {"realtimeInput": {"audio": {"mimeType": IN_MIME, "data": base64.b64encode(
        pcm_in).decode()}}}
    sdk_sent = json.loads(sdk_encode(pcm_in))
    # The SDK writes URL-safe base64 (encode_unserializable_types); the bytes are the same.
    assert base64.urlsafe_b64decode(sdk_sent["realtime_input"]["audio"]["data"]) == pcm_in
    frame = server_audio_frame(pcm_out)
    expected = [ev.AudioChunk(data=pcm_out, sample_rate=24000, mime_type=OUT_MIME)]
    assert ours_receive(make_protocol())(frame) == expected
    assert ours_decode_events(frame) == expected
    sdk_message = sdk_decode(frame)
    assert sdk_message.data == pcm_out
    assert floor_decode(floor_frame(pcm_out)).data == pcm_out


# --- the run -------------------------------------------------------------------------------


def run(rounds: int, budget_ns: int) -> dict[str, Any]:
    rng = random.Random(2024)
    rows: list[dict[str, Any]] = []
    for size in (3200, 32000):
        pcm = rng.randbytes(size)
        _check(pcm, rng.randbytes(4800))
        medians, minima = measure(
            {
                "ours": (ours_encode, pcm),
                "sdk": (sdk_encode, pcm),
                "floor": (floor_encode, pcm),
            },
            rounds,
            budget_ns,
        )
        rows.append(_row("encode realtimeInput audio", size, medians, minima))
    for size in (4800, 48000):
        pcm = rng.randbytes(size)
        frame = server_audio_frame(pcm)
        proto = make_protocol()
        medians, minima = measure(
            {
                "ours": (ours_receive(proto), frame),
                "ours-decode": (ours_decode_events, frame),
                "sdk": (sdk_decode, frame),
                "floor": (floor_decode, floor_frame(pcm)),
            },
            rounds,
            budget_ns,
        )
        rows.append(_row("decode server audio to AudioChunk", size, medians, minima))
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "msgspec": msgspec.__version__,
        "google_genai": _sdk_version(),
        "rounds": rounds,
        "round_budget_ms": budget_ns / 1e6,
        "targets": {"sdk_over_ours_min": TARGET_VS_SDK, "ours_over_floor_max": TARGET_VS_FLOOR},
        "rows": rows,
    }


def _sdk_version() -> str:
    from google.genai import version

    return str(version.__version__)


def _row(
    op: str, size: int, medians: dict[str, float], minima: dict[str, float]
) -> dict[str, Any]:
    sdk_ratio = medians["sdk"] / medians["ours"]
    floor_ratio = medians["ours"] / medians["floor"]
    row: dict[str, Any] = {
        "op": op,
        "pcm_bytes": size,
        "ns": {k: round(v, 1) for k, v in medians.items()},
        "min_ns": {k: round(v, 1) for k, v in minima.items()},
        "sdk_over_ours": round(sdk_ratio, 2),
        "ours_over_floor": round(floor_ratio, 3),
        # The best SDK/ours any codec within the floor's cost could show.
        "sdk_over_floor": round(medians["sdk"] / medians["floor"], 2),
        "meets_targets": sdk_ratio >= TARGET_VS_SDK and floor_ratio <= TARGET_VS_FLOOR,
    }
    if "ours-decode" in medians:
        row["ours_decode_over_floor"] = round(medians["ours-decode"] / medians["floor"], 3)
    return row


def _us(ns: float) -> str:
    return f"{ns / 1000:,.2f}"


def table(result: dict[str, Any]) -> str:
    """The results as a Markdown table (also fine as plain text)."""
    lines = [
        "| operation | PCM bytes | ours (us) | SDK (us) | floor (us) | SDK/ours | ours/floor "
        "| SDK/floor | targets |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in result["rows"]:
        ns = row["ns"]
        lines.append(
            f"| {row['op']} | {row['pcm_bytes']:,} | {_us(ns['ours'])} | {_us(ns['sdk'])} "
            f"| {_us(ns['floor'])} | {row['sdk_over_ours']:.1f}x | {row['ours_over_floor']:.2f}x "
            f"| {row['sdk_over_floor']:.1f}x | {'met' if row['meets_targets'] else 'MISSED'} |"
        )
    notes = [
        "",
        f"Targets: ours at least {TARGET_VS_SDK:g}x faster than the SDK, and within "
        f"{TARGET_VS_FLOOR:g}x of the floor, per row. SDK/floor bounds SDK/ours for any codec "
        "that is no faster than the floor: where it is below the first target, base64 and "
        "JSON alone (msgspec, in C) cost more than a tenth of the SDK's whole path.",
        "Decode 'ours' is `decode_server_message` + `LiveProtocol.receive_message` (decode, "
        "events and bookkeeping); without the "
        "bookkeeping (`decode_server_message` + `message_events`): "
        + ", ".join(
            f"{_us(r['ns']['ours-decode'])} us = {r['ours_decode_over_floor']:.2f}x floor "
            f"({r['pcm_bytes']:,} B)"
            for r in result["rows"]
            if "ours-decode" in r["ns"]
        )
        + ".",
        f"Medians of {result['rounds']} rounds of about {result['round_budget_ms']:g} ms per "
        f"implementation, alternating; Python {result['python']}, msgspec {result['msgspec']}, "
        f"google-genai {result['google_genai']}, {result['platform']}.",
    ]
    return "\n".join(lines + notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per row (default 61)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 61)
    budget_ns = 1_000_000 if args.quick else 2_000_000
    result = run(rounds, budget_ns)
    text = table(result)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "codec.json").write_text(json.dumps(result, indent=2) + "\n")
        argv = " ".join(sys.argv[1:])
        produced = f"Produced by `python benchmarks/bench_codec.py{' ' + argv if argv else ''}`."
        (RESULTS / "codec.md").write_text("# Codec benchmark\n\n" + text + "\n\n" + produced + "\n")
    return 0 if all(row["meets_targets"] for row in result["rows"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
