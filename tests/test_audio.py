"""Audio helpers on generated signals, each round trip within a stated error."""

from __future__ import annotations

import importlib.util
import io
import math
import random
import subprocess
import sys
import wave
from array import array
from pathlib import Path

import pytest

from trio_gemini_live import _resample
from trio_gemini_live import audio as A
from trio_gemini_live.events import AudioChunk, Interrupted, TextChunk, TurnComplete

HAS_NUMPY = importlib.util.find_spec("numpy") is not None
BACKENDS = ["python", pytest.param("numpy", marks=pytest.mark.skipif(
    not HAS_NUMPY, reason="the audio extra (numpy) is not installed"))]


def samples(pcm: bytes) -> array[int]:
    out = array("h")
    out.frombytes(pcm)
    if sys.byteorder == "big":  # pragma: no cover
        out.byteswap()
    return out


def pcm_of(values: list[int]) -> bytes:
    out = array("h", values)
    if sys.byteorder == "big":  # pragma: no cover
        out.byteswap()
    return out.tobytes()


def rms(values: list[float]) -> float:
    return math.sqrt(sum(v * v for v in values) / len(values))


# --- tone, speechlike ----------------------------------------------------------------------


def test_tone_is_the_analytic_sine() -> None:
    pcm = A.tone(440, 0.25, 16000, amplitude=0.5)
    s = samples(pcm)
    assert len(s) == 4000
    assert all(
        abs(v - 0.5 * 32767 * math.sin(2 * math.pi * 440 * n / 16000)) <= 0.5
        for n, v in enumerate(s)
    )
    assert max(s) == round(0.5 * 32767)


@pytest.mark.parametrize(
    "kwargs",
    [{"amplitude": 0}, {"amplitude": 1.5}, {"rate": 0}, {"seconds": -1}, {"freq": -5}],
)
def test_tone_rejects(kwargs: dict[str, float]) -> None:
    args: dict[str, float] = {"freq": 440, "seconds": 0.1, "rate": 16000, "amplitude": 0.5}
    args.update(kwargs)
    with pytest.raises(ValueError):
        A.tone(args["freq"], args["seconds"], int(args["rate"]), args["amplitude"])


def test_speechlike_has_bursts_and_pauses() -> None:
    pcm = A.speechlike(3.0, 16000, seed=7)
    assert pcm == A.speechlike(3.0, 16000, seed=7)  # deterministic
    assert pcm != A.speechlike(3.0, 16000, seed=8)
    s = samples(pcm)
    assert len(s) == 48000
    # 10 ms frames: some loud (syllables), some exactly silent (pauses).
    frames = [s[i : i + 160] for i in range(0, len(s), 160)]
    energies = [rms([float(v) for v in f]) for f in frames]
    loud = sum(e > 1000 for e in energies)
    silent = sum(e == 0 for e in energies)
    assert loud > 20 and silent > 20
    assert max(abs(v) for v in s) <= 32767
    with pytest.raises(ValueError):
        A.speechlike(-1)


# --- chunking ------------------------------------------------------------------------------


def test_chunk_pcm_sizes_and_reassembly() -> None:
    pcm = A.tone(300, 0.35, 16000)
    chunks = list(A.chunk_pcm(pcm, sample_rate=16000, ms=100))
    assert [len(c) for c in chunks] == [3200, 3200, 3200, 1600]
    assert b"".join(chunks) == pcm
    assert [len(c) for c in A.chunk_pcm(pcm[:960], sample_rate=24000, ms=20)] == [960]
    # 22.05 kHz, 10 ms: 220.5 samples round to 220.
    assert len(next(A.chunk_pcm(bytes(2000), sample_rate=22050, ms=10))) == 440
    assert list(A.chunk_pcm(b"")) == []


def test_chunk_pcm_rejects() -> None:
    with pytest.raises(ValueError, match="odd number of bytes"):
        A.chunk_pcm(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="ms must be"):
        A.chunk_pcm(b"", ms=0)
    with pytest.raises(ValueError, match="less than one sample"):
        A.chunk_pcm(b"", sample_rate=8000, ms=0.01)
    with pytest.raises(ValueError, match="sample_rate"):
        A.chunk_pcm(b"", sample_rate=-1)
    with pytest.raises(TypeError):
        A.chunk_pcm("text")  # type: ignore[arg-type]


def test_pcm_duration() -> None:
    assert A.pcm_duration(bytes(32000)) == 1.0
    assert A.pcm_duration(bytes(4800), 24000) == 0.1
    with pytest.raises(ValueError):
        A.pcm_duration(bytes(3))


# --- WAV -----------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 44100])
def test_wav_round_trip_is_identical(rate: int, tmp_path: Path) -> None:
    pcm = A.speechlike(0.3, rate, seed=rate)
    buf = io.BytesIO()
    A.write_wav(buf, pcm, rate)
    assert not buf.closed  # a caller's file object stays open
    buf.seek(0)
    assert A.read_wav(buf) == (pcm, rate)
    path = tmp_path / "x.wav"
    A.write_wav(path, pcm, rate)
    assert A.read_wav(path) == (pcm, rate)
    assert A.read_wav(str(path)) == (pcm, rate)


def _wav_bytes(channels: int, width: int, frames: bytes, rate: int = 16000) -> io.BytesIO:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    buf.seek(0)
    return buf


def test_wav_stereo_is_refused_or_mixed() -> None:
    left = [1000, -2000, 30000, -32768]
    right = [3000, 2000, 30001, -32768]
    interleaved = pcm_of([v for pair in zip(left, right, strict=True) for v in pair])
    with pytest.raises(ValueError, match="2 channels; mono is required"):
        A.read_wav(_wav_bytes(2, 2, interleaved))
    pcm, rate = A.read_wav(_wav_bytes(2, 2, interleaved), mix_to_mono=True)
    assert rate == 16000
    assert list(samples(pcm)) == [2000, 0, 30000, -32768]  # round-half-even of the means


@pytest.mark.parametrize("width", [1, 3, 4])
def test_wav_other_widths_are_refused(width: int) -> None:
    with pytest.raises(ValueError, match=f"{8 * width} bits; only 16-bit"):
        A.read_wav(_wav_bytes(1, width, bytes(width * 10)))


def test_wav_garbage_and_odd_pcm() -> None:
    with pytest.raises(ValueError, match="not a 16-bit PCM WAV file"):
        A.read_wav(io.BytesIO(b"RIFF\x00\x00\x00\x00NOPE"))
    with pytest.raises(ValueError, match="not a 16-bit PCM WAV file"):
        A.read_wav(io.BytesIO(b""))
    with pytest.raises(ValueError, match="odd number of bytes"):
        A.write_wav(io.BytesIO(), b"\x01", 16000)
    with pytest.raises(ValueError, match="sample_rate"):
        A.write_wav(io.BytesIO(), b"", 0)


# --- resampling ----------------------------------------------------------------------------

RATE_PAIRS = [
    (16000, 24000), (24000, 16000), (48000, 16000), (8000, 16000),
    (44100, 16000), (16000, 8000), (24000, 8000), (24000, 48000),
]


def _resampling_error(pcm_rate: int, to_rate: int, freq: float, backend: str) -> float:
    amplitude = 0.5
    pcm = A.tone(freq, 0.5, pcm_rate, amplitude)
    out = samples(A.resample(pcm, pcm_rate, to_rate, backend=backend))  # type: ignore[arg-type]
    assert len(out) == round(len(pcm) // 2 * to_rate / pcm_rate)
    # Skip the edges, where the filter sees the silence assumed outside the signal.
    edge = _resample._design(pcm_rate, to_rate).half * to_rate // pcm_rate + 2
    errors = [
        out[n] - amplitude * 32767 * math.sin(2 * math.pi * freq * n / to_rate)
        for n in range(edge, len(out) - edge)
    ]
    return rms(errors)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("from_rate", "to_rate"), RATE_PAIRS)
def test_resample_sine_within_4_lsb_rms(from_rate: int, to_rate: int, backend: str) -> None:
    # The stated accuracy: a sine up to 0.6 x the lower Nyquist frequency comes out within
    # 4 LSB RMS of the analytic sine at the new rate.
    nyquist = min(from_rate, to_rate) / 2
    for freq in (440.0, 0.6 * nyquist):
        assert _resampling_error(from_rate, to_rate, freq, backend) < 4.0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("from_rate", "to_rate", "freq"),
    [(48000, 16000, 12000), (24000, 16000, 10000), (16000, 8000, 5000), (24000, 8000, 6000)],
)
def test_downsampling_rejects_aliases_by_70_db(
    from_rate: int, to_rate: int, freq: int, backend: str
) -> None:
    pcm = A.tone(freq, 0.3, from_rate, amplitude=0.9)
    out = samples(A.resample(pcm, from_rate, to_rate, backend=backend))  # type: ignore[arg-type]
    level = rms([float(v) for v in out[100:-100]])
    reference = 0.9 * 32767 / math.sqrt(2)
    assert 20 * math.log10(max(level, 1e-9) / reference) < -70


@pytest.mark.parametrize("backend", BACKENDS)
def test_resampler_counts_samples_of_a_typed_memoryview(backend: str) -> None:
    # len() of memoryview(array("h")) counts samples, not bytes: the resampler must count
    # on the byte view, or it would emit half the output.
    pcm = A.tone(440, 0.1, 16000)
    typed = memoryview(array("h", samples(pcm)))
    assert len(typed) == len(pcm) // 2
    expected = A.resample(pcm, 16000, 24000, backend=backend)  # type: ignore[arg-type]
    resampler = A.Resampler(16000, 24000, backend=backend)  # type: ignore[arg-type]
    streamed = resampler.process(typed) + resampler.flush()
    assert len(streamed) == 2 * 2400
    assert streamed == expected
    assert A.Resampler(16000, 16000).process(typed) == pcm


@pytest.mark.parametrize("backend", BACKENDS)
def test_streaming_equals_one_shot(backend: str) -> None:
    pcm = A.speechlike(1.0, 48000, seed=1)
    whole = A.resample(pcm, 48000, 16000, backend="python")
    rng = random.Random(5)
    resampler = A.Resampler(48000, 16000, backend=backend)  # type: ignore[arg-type]
    parts, i = [], 0
    while i < len(pcm):
        n = 2 * rng.randrange(0, 3000)
        parts.append(resampler.process(pcm[i : i + n]))
        i += n
    parts.append(resampler.flush())
    streamed = b"".join(parts)
    assert len(streamed) == len(whole)
    if backend == "python":
        # The same backend as ``whole``: identical, sample for sample.
        assert streamed == whole
    else:
        # numpy vs pure Python: floating-point sums in another order, within one LSB.
        assert max(abs(a - b) for a, b in zip(samples(streamed), samples(whole),
                                              strict=True)) <= 1
    # flush() resets: the resampler can be reused.
    assert resampler.process(pcm) + resampler.flush() == A.resample(
        pcm, 48000, 16000, backend=backend  # type: ignore[arg-type]
    )


@pytest.mark.skipif(not HAS_NUMPY, reason="the audio extra (numpy) is not installed")
def test_numpy_and_python_agree_within_one_lsb() -> None:
    pcm = A.speechlike(0.5, 44100, seed=2)
    for to_rate in (16000, 24000, 8000):
        py = samples(A.resample(pcm, 44100, to_rate, backend="python"))
        np_ = samples(A.resample(pcm, 44100, to_rate, backend="numpy"))
        assert max(abs(a - b) for a, b in zip(py, np_, strict=True)) <= 1
    assert A.Resampler(16000, 24000).backend == "numpy"  # "auto" picks numpy


def test_resample_many_phases_computes_coefficients_on_the_fly() -> None:
    # 16001 Hz is coprime with 16000: 16000 phases, more than are tabled.
    assert _resample._design(16001, 16000).up > _resample._MAX_TABLE_PHASES
    err = _resampling_error(16001, 16000, 440.0, "python")
    assert err < 4.0
    if HAS_NUMPY:
        assert _resampling_error(16001, 16000, 440.0, "numpy") < 4.0


def test_resample_edge_cases() -> None:
    pcm = A.tone(440, 0.1, 16000)
    assert A.resample(pcm, 16000, 16000) == pcm
    assert A.resample(b"", 16000, 24000) == b""
    # DC passes exactly (each phase's kernel sums to 1), away from the edges.
    dc = pcm_of([1000] * 1000)
    out = samples(A.resample(dc, 24000, 16000, backend="python"))
    assert set(out[20:-20]) == {1000}
    # Full-scale input clips instead of wrapping around.
    square = pcm_of([32767] * 200 + [-32768] * 200)
    out = samples(A.resample(square, 16000, 48000, backend="python"))
    assert max(out) == 32767 and min(out) == -32768
    assert A.to_16k(A.tone(440, 0.1, 48000), 48000) == A.resample(
        A.tone(440, 0.1, 48000), 48000, 16000
    )
    assert len(A.from_24k(A.tone(440, 0.1, 24000), 48000)) == 2 * 4800


def test_resample_rejects() -> None:
    with pytest.raises(ValueError, match="odd number of bytes"):
        A.resample(b"\x00", 16000, 24000)
    with pytest.raises(ValueError, match="from_rate"):
        A.resample(b"", 0, 16000)
    with pytest.raises(ValueError, match="to_rate"):
        A.resample(b"", 16000, 16000.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backend"):
        A.Resampler(16000, 24000, backend="scipy")  # type: ignore[arg-type]


def test_core_works_without_numpy() -> None:
    # Block numpy in a fresh interpreter: the module imports and "auto" falls back.
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "from trio_gemini_live import audio as A\n"
        "r = A.Resampler(24000, 16000)\n"
        "assert r.backend == 'python', r.backend\n"
        "assert len(A.resample(A.tone(440, 0.1, 24000), 24000, 16000)) == 3200\n"
        "try:\n"
        "    A.Resampler(24000, 16000, backend='numpy')\n"
        "except ImportError as e:\n"
        "    assert 'trio-gemini-live[audio]' in str(e)\n"
        "else:\n"
        "    raise AssertionError('no ImportError')\n"
        "assert 'numpy' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr


# --- μ-law ---------------------------------------------------------------------------------


def test_mulaw_round_trip_within_quantisation_error() -> None:
    every = pcm_of(list(range(-32768, 32768)))
    encoded = A.mulaw_encode(every)
    assert len(encoded) == 65536
    decoded = samples(A.mulaw_decode(encoded))
    for x, y in zip(range(-32768, 32768), decoded, strict=True):
        if abs(x) <= 32124:
            assert abs(x - y) <= 7 + abs(x) / 16, x
        else:
            assert abs(y) == 32124  # clipped to the largest code
    # Decoding then encoding is the identity on codes (0x7F and 0xFF are both zero).
    codes = bytes(range(256))
    again = A.mulaw_encode(A.mulaw_decode(codes))
    assert all(a == b or {a, b} == {0x7F, 0xFF} for a, b in zip(again, codes, strict=True))


def test_mulaw_known_values() -> None:
    assert A.mulaw_encode(pcm_of([0, -1, 32767, -32768])) == bytes([0xFF, 0x7E, 0x80, 0x00])
    assert samples(A.mulaw_decode(bytes([0xFF, 0x80, 0x00]))).tolist() == [0, 32124, -32124]


def test_mulaw_matches_audioop_when_available() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:  # Python 3.13+
            pytest.skip("audioop is gone from this Python")
    every = pcm_of(list(range(-32768, 32768)))
    assert A.mulaw_encode(every) == audioop.lin2ulaw(every, 2)
    assert A.mulaw_decode(bytes(range(256))) == audioop.ulaw2lin(bytes(range(256)), 2)


def test_mulaw_rejects() -> None:
    with pytest.raises(ValueError, match="odd number of bytes"):
        A.mulaw_encode(b"\x00\x00\x00")
    with pytest.raises(TypeError):
        A.mulaw_decode("abc")  # type: ignore[arg-type]


def test_telephony_bridge_round_trip() -> None:
    # The model's 24 kHz voice to a phone line and back as Live input: 1 kHz survives
    # within 2 % of full scale RMS (μ-law noise plus two resamplings).
    model_audio = A.tone(1000, 0.5, 24000, amplitude=0.5)
    ulaw = A.live_to_telephony(model_audio)
    assert len(ulaw) == 4000
    pcm16k = A.telephony_to_live(ulaw)
    out = samples(pcm16k)
    assert len(out) == 8000
    errors = [out[n] - 0.5 * 32767 * math.sin(2 * math.pi * 1000 * n / 16000)
              for n in range(100, len(out) - 100)]
    assert rms(errors) < 0.02 * 32767


# --- MIME ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mime", "expected"),
    [
        ("audio/pcm", ("pcm", 24000)),
        ("audio/pcm;rate=16000", ("pcm", 16000)),
        ("Audio/PCM; rate=48000", ("pcm", 48000)),
        ("audio/pcm;rate=\"8000\";channels=1", ("pcm", 8000)),
        ("audio/pcm;", ("pcm", 24000)),
    ],
)
def test_parse_mime(mime: str, expected: tuple[str, int]) -> None:
    assert A.parse_mime(mime) == expected


@pytest.mark.parametrize(
    ("mime", "message"),
    [
        ("audio/wav", "unsupported audio MIME type"),
        ("audio/pcmu", "unsupported audio MIME type"),
        ("image/jpeg", "unsupported audio MIME type"),
        ("audio/pcm;rate=abc", "invalid rate"),
        ("audio/pcm;rate=0", "invalid rate"),
        ("audio/pcm;rate=-5", "invalid rate"),
        ("audio/pcm;channels=2", "not mono"),
        ("audio/pcm;oops", "malformed parameter"),
    ],
)
def test_parse_mime_rejects(mime: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        A.parse_mime(mime)


@pytest.mark.parametrize(
    ("mime", "rate"),
    [
        ("audio/pcm", 24000),
        ("Audio/PCM; rate=16000", 16000),
        ("audio/pcm;rate=0", None),
        ("audio/ogg", None),
        ("audio/pcm;channels=2", None),
        ("image/png", None),
    ],
)
def test_received_inline_data_is_audio_as_parse_mime_says(mime: str, rate: int | None) -> None:
    # The protocol layer decides "is it an AudioChunk, at which rate" with parse_mime: a
    # zero rate or another encoding is not 16-bit PCM, so it is no AudioChunk (but
    # InlineData, issue 13).
    from trio_gemini_live import _messages, _wire
    from trio_gemini_live.events import InlineData

    message = _wire.decode_server_message(
        b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "'
        + mime.encode() + b'", "data": "AAAA"}}]}}}'
    )
    events = _messages.message_events(message)
    expected = [InlineData(data=b"\0\0\0", mime_type=mime)] if rate is None else [
        AudioChunk(data=b"\0\0\0", sample_rate=rate, mime_type=mime)]
    assert events == expected


def test_parse_mime_default_rate_and_pcm_mime() -> None:
    assert A.parse_mime("audio/pcm", default_rate=A.INPUT_RATE) == ("pcm", 16000)
    assert A.pcm_mime(16000) == "audio/pcm;rate=16000"
    assert A.parse_mime(A.pcm_mime(22050)) == ("pcm", 22050)
    with pytest.raises(ValueError):
        A.pcm_mime(0)
    with pytest.raises(ValueError):
        A.parse_mime(None)  # type: ignore[arg-type]


# --- playback buffer -----------------------------------------------------------------------


def test_playback_plays_in_order_and_accounts() -> None:
    buf = A.PlaybackBuffer(24000)
    first, second = A.tone(440, 0.1, 24000), A.tone(660, 0.1, 24000)
    buf.feed(AudioChunk(data=first))
    buf.feed(second)
    assert buf.queued_seconds == pytest.approx(0.2)
    assert buf.received_seconds == pytest.approx(0.2)
    out = buf.read(3000) + buf.read(4800) + buf.read(10_000)
    assert out == first + second
    assert buf.played_seconds == pytest.approx(0.2)
    assert buf.queued_bytes == 0
    assert buf.read(100) == b""
    assert buf.read(100, pad=True) == bytes(100)
    assert buf.played_seconds == pytest.approx(0.2)  # silence is not "played"
    done = buf.turn_complete()
    assert done == A.TurnPlayback(received=0.2, played=0.2, dropped=0.0, queued=0.0,
                                  interrupted=False)


def test_interrupt_drops_everything_and_tells_what_was_heard() -> None:
    buf = A.PlaybackBuffer(24000)
    for _ in range(10):
        buf.feed(A.tone(440, 0.1, 24000))  # 1 s, faster than real time
    heard = buf.read(2 * 7200)  # the player consumed 0.3 s
    assert len(heard) == 14400
    dropped = buf.interrupt()
    assert dropped == pytest.approx(0.7)
    assert buf.queued_seconds == 0
    assert buf.read(480) == b""
    assert buf.interrupted
    assert buf.played_seconds == pytest.approx(0.3)
    assert buf.dropped_seconds == pytest.approx(0.7)
    summary = buf.turn_complete()
    assert summary.played == pytest.approx(0.3) and summary.interrupted
    # The next turn starts with fresh counters.
    buf.feed(A.tone(440, 0.05, 24000))
    assert buf.played_seconds == 0 and not buf.interrupted
    assert buf.received_seconds == pytest.approx(0.05)


def test_audio_of_a_finished_turn_still_counts_for_it() -> None:
    buf = A.PlaybackBuffer(16000)
    buf.feed(bytes(3200))  # turn 1: 0.1 s
    buf.read(1600)
    assert buf.turn_complete().queued == pytest.approx(0.05)
    assert buf.last_turn.played == pytest.approx(0.05)
    buf.read(1600)  # the rest of turn 1 plays after its TurnComplete
    assert buf.last_turn.played == pytest.approx(0.1)
    assert buf.last_turn.queued == 0
    buf.feed(bytes(1600))  # turn 2
    buf.read(800)
    assert buf.played_seconds == pytest.approx(0.025)


def test_handle_routes_events_and_clear() -> None:
    buf = A.PlaybackBuffer()
    buf.handle(AudioChunk(data=bytes(4800)))
    buf.handle(TextChunk(text="ignored"))
    buf.read(1000)
    buf.handle(Interrupted())
    assert buf.interrupted and buf.dropped_seconds == pytest.approx(3800 / 48000)
    buf.handle(TurnComplete())
    buf.handle(AudioChunk(data=bytes(4800)))
    buf.read(800)
    buf.clear()
    assert buf.queued_bytes == 0 and not buf.interrupted
    assert buf.last_turn.queued == 0 and buf.last_turn.dropped == 0


def test_playback_rejects() -> None:
    buf = A.PlaybackBuffer(24000)
    with pytest.raises(ValueError, match="resample it first"):
        buf.feed(AudioChunk(data=bytes(4), sample_rate=16000))
    with pytest.raises(ValueError, match="odd number of bytes"):
        buf.feed(b"\x00")
    with pytest.raises(ValueError, match="even"):
        buf.read(3)
    with pytest.raises(ValueError, match="non-negative"):
        buf.read(-2)
    with pytest.raises(ValueError):
        A.PlaybackBuffer(0)
