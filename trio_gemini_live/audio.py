"""PCM audio helpers for Live sessions: chunking, WAV files, resampling, μ-law, playback.

The Live API speaks raw 16-bit signed little-endian mono PCM: 16 kHz in (other rates declared
in the MIME type), 24 kHz out (PROTOCOL.md 3.3 and 4). These helpers cover what an
application around a session needs:

* :func:`chunk_pcm`, :func:`pcm_duration`: split a recording into the 20-100 ms chunks
  peers send (PROTOCOL.md 3.3);
* :func:`read_wav`, :func:`write_wav`: 16-bit mono WAV files at any rate;
* :func:`resample` and :class:`Resampler` (streaming), :func:`to_16k`, :func:`from_24k`;
* :func:`mulaw_encode`, :func:`mulaw_decode` (G.711 μ-law, bit-exact with the classic Sun
  reference code that ``audioop`` used), :func:`telephony_to_live`,
  :func:`live_to_telephony` for 8 kHz phone bridges;
* :func:`parse_mime`, :func:`pcm_mime`: ``audio/pcm;rate=N``;
* :class:`PlaybackBuffer`: a sans-IO playback queue that drops everything on ``Interrupted``
  and tells how much of the model's turn was actually played;
* :func:`tone`, :func:`speechlike`: test signals.

Everything here uses the standard library only (``audioop`` is gone from Python 3.13, so
nothing depends on it). With the ``audio`` extra (``pip install trio-gemini-live[audio]``,
which brings numpy) the resampler computes the same filter vectorised, many times faster;
both backends agree within one least-significant bit.

Wrong formats raise :class:`ValueError`: an odd number of bytes (a 16-bit stream has an even
length), stereo or non-16-bit WAV files, unknown MIME types, rates that are not positive
integers.
"""

from __future__ import annotations

import functools
import importlib
import math
import operator
import os
import random
import sys
import wave
from array import array
from collections import deque
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, Final, Literal

import msgspec

from ._mime import parse_mime as parse_mime
from .events import AudioChunk, Interrupted, TurnComplete

if TYPE_CHECKING:
    from .events import Event

__all__ = [
    "INPUT_RATE",
    "OUTPUT_RATE",
    "PlaybackBuffer",
    "Resampler",
    "TurnPlayback",
    "chunk_pcm",
    "from_24k",
    "live_to_telephony",
    "mulaw_decode",
    "mulaw_encode",
    "parse_mime",
    "pcm_duration",
    "pcm_mime",
    "read_wav",
    "resample",
    "speechlike",
    "telephony_to_live",
    "to_16k",
    "tone",
    "write_wav",
]

#: The Live API's native input rate (PROTOCOL.md 3.3).
INPUT_RATE: Final = 16000
#: The rate of the model's audio (PROTOCOL.md 4).
OUTPUT_RATE: Final = 24000
#: G.711 telephony rate.
TELEPHONY_RATE: Final = 8000

_BIG_ENDIAN: Final = sys.byteorder == "big"

PcmLike = bytes | bytearray | memoryview
Backend = Literal["auto", "python", "numpy"]


# --- validation and sample access ----------------------------------------------------------


def _check_pcm(pcm: PcmLike, what: str = "PCM") -> memoryview:
    if not isinstance(pcm, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes, got {type(pcm).__name__}")
    view = memoryview(pcm).cast("B")
    if len(view) % 2:
        raise ValueError(
            f"{what} has an odd number of bytes ({len(view)}): 16-bit PCM has 2 bytes per sample"
        )
    return view


def _check_rate(rate: int, what: str = "sample_rate") -> int:
    if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
        raise ValueError(f"{what} must be a positive integer (Hz), got {rate!r}")
    return rate


def _samples(pcm: PcmLike) -> array[int]:
    """Little-endian 16-bit PCM -> native ``array('h')``."""
    out = array("h")
    out.frombytes(_check_pcm(pcm))
    if _BIG_ENDIAN:  # pragma: no cover - little-endian CI machines
        out.byteswap()
    return out


def _to_bytes(samples: array[int]) -> bytes:
    if _BIG_ENDIAN:  # pragma: no cover
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def _clip16(value: float) -> int:
    v = round(value)
    return -32768 if v < -32768 else 32767 if v > 32767 else v


# --- chunking ------------------------------------------------------------------------------


def pcm_duration(pcm: PcmLike, sample_rate: int = INPUT_RATE) -> float:
    """Seconds of 16-bit mono PCM at ``sample_rate``.

    Raises:
        ValueError: an odd byte count or a bad rate.
    """
    return len(_check_pcm(pcm)) / 2 / _check_rate(sample_rate)


def chunk_pcm(pcm: PcmLike, *, sample_rate: int = INPUT_RATE, ms: float = 100) -> Iterator[bytes]:
    """Split 16-bit mono PCM into chunks of ``ms`` milliseconds (the last may be shorter).

    A chunk holds ``round(sample_rate * ms / 1000)`` samples, so chunks always end on a
    sample boundary. Peers send 20-100 ms chunks (PROTOCOL.md 3.3).

    Raises:
        ValueError: an odd byte count, a bad rate, or ``ms`` too small for one sample.
    """
    view = _check_pcm(pcm)
    _check_rate(sample_rate)
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not ms > 0:
        raise ValueError(f"ms must be a positive number, got {ms!r}")
    samples = round(sample_rate * ms / 1000)
    if samples < 1:
        raise ValueError(f"{ms} ms at {sample_rate} Hz is less than one sample")
    step = samples * 2
    # Validation happens above, eagerly; only the slicing is lazy.
    return (bytes(view[i : i + step]) for i in range(0, len(view), step))


# --- WAV -----------------------------------------------------------------------------------

WavSource = str | os.PathLike[str] | IO[bytes]


def read_wav(source: WavSource, *, mix_to_mono: bool = False) -> tuple[bytes, int]:
    """Read a 16-bit PCM WAV file.

    Args:
        source: A path or a binary file object.
        mix_to_mono: Average the channels of a multi-channel file instead of refusing it.

    Returns:
        ``(pcm, sample_rate)``: little-endian 16-bit mono PCM and its rate.

    Raises:
        ValueError: not a WAV file, not 16-bit integer PCM (8/24/32-bit, float and
            WAVE_FORMAT_EXTENSIBLE files are refused on Python 3.11), or several channels
            without ``mix_to_mono``.
    """
    try:
        with wave.open(source if not isinstance(source, os.PathLike) else os.fspath(source),
                       "rb") as wav:
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a 16-bit PCM WAV file: {exc}") from None
    if width != 2:
        raise ValueError(f"WAV sample width is {8 * width} bits; only 16-bit PCM is supported")
    if rate <= 0:
        raise ValueError(f"WAV sample rate {rate} is invalid")
    # A truncated data chunk can end mid-frame; keep whole frames only.
    frames = frames[: len(frames) - len(frames) % (2 * channels)]
    if channels == 1:
        return frames, rate
    if not mix_to_mono:
        raise ValueError(
            f"WAV file has {channels} channels; mono is required (pass mix_to_mono=True)"
        )
    samples = _samples(frames)
    mono = array(
        "h",
        (_clip16(sum(samples[i : i + channels]) / channels)
         for i in range(0, len(samples), channels)),
    )
    return _to_bytes(mono), rate


def write_wav(dest: WavSource, pcm: PcmLike, sample_rate: int = INPUT_RATE) -> None:
    """Write 16-bit mono PCM as a WAV file (a path, or a binary file object left open).

    Raises:
        ValueError: an odd byte count or a bad rate.
    """
    view = _check_pcm(pcm)
    _check_rate(sample_rate)
    target = os.fspath(dest) if isinstance(dest, os.PathLike) else dest
    with wave.open(target, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(view)


# --- resampling ----------------------------------------------------------------------------

# A windowed-sinc (Blackman) polyphase resampler. The low-pass cutoff is ROLLOFF times the
# lower Nyquist frequency, and the kernel spans ZERO_CROSSINGS zero crossings of the sinc on
# each side: 70 dB of alias rejection and a flat passband to 0.6 x Nyquist for 16-26 taps per
# output sample, cheap enough in pure Python (~20-40 ms per second of audio).
_ROLLOFF: Final = 0.94
_ZERO_CROSSINGS: Final = 8
# Above this many phases, coefficients are computed per output sample instead of tabled.
_MAX_TABLE_PHASES: Final = 4096


class _Design(msgspec.Struct, frozen=True):
    up: int
    down: int
    cutoff: float  # relative to the input rate's Nyquist frequency
    half: int  # taps on each side

    @property
    def taps(self) -> int:
        return 2 * self.half


@functools.lru_cache(maxsize=32)
def _design(from_rate: int, to_rate: int) -> _Design:
    g = math.gcd(from_rate, to_rate)
    cutoff = min(1.0, to_rate / from_rate) * _ROLLOFF
    return _Design(to_rate // g, from_rate // g, cutoff, math.ceil(_ZERO_CROSSINGS / cutoff))


def _coefficients(design: _Design, phase: int) -> tuple[float, ...]:
    """The kernel for an output that falls ``phase / up`` of a sample after input ``i``.

    Tap ``j`` (``-half + 1 .. half``) weighs input ``i + j``, at distance ``x = frac - j``.
    Each phase is normalised to a sum of 1, so DC passes exactly.
    """
    frac = phase / design.up
    fc, half = design.cutoff, design.half
    raw = []
    for j in range(-half + 1, half + 1):
        x = frac - j
        sinc = 1.0 if x == 0 else math.sin(math.pi * fc * x) / (math.pi * fc * x)
        t = x / half
        window = 0.42 + 0.5 * math.cos(math.pi * t) + 0.08 * math.cos(2 * math.pi * t)
        raw.append(sinc * window)
    total = sum(raw)
    return tuple(c / total for c in raw)


@functools.lru_cache(maxsize=16)
def _table(design: _Design) -> tuple[tuple[float, ...], ...]:
    return tuple(_coefficients(design, p) for p in range(design.up))


def _numpy() -> Any:
    # importlib keeps numpy optional for the type checker too (the ``audio`` extra).
    try:
        return importlib.import_module("numpy")
    except ImportError:
        return None


class Resampler:
    """A streaming resampler for 16-bit mono PCM (windowed sinc, polyphase).

    Feed chunks with :meth:`process` and finish with :meth:`flush`; the output is the same
    as :func:`resample` on the whole signal, whatever the chunking, so a microphone stream
    can be converted chunk by chunk without clicks at chunk boundaries. The output lags
    the input by a few milliseconds (the filter's half-width) until :meth:`flush`.

    Accuracy (measured by the tests): on a sine up to 0.6 x the lower Nyquist frequency, away
    from the first and last few milliseconds (the signal is taken as silent outside), the
    output is within 4 LSB RMS (0.012 % of full scale) of the analytic sine; the passband
    rolls off above that (about 0.5 % at 0.7 x, -6 dB at 0.94 x). Components above 1.25 x the
    lower Nyquist frequency are attenuated by at least 70 dB, so downsampling does not alias.
    Both backends compute the same filter and agree within one LSB.

    Args:
        from_rate: The input rate (Hz).
        to_rate: The output rate (Hz).
        backend: ``"python"``, ``"numpy"`` (the ``audio`` extra), or ``"auto"`` (numpy if
            installed).

    Raises:
        ValueError: a bad rate or an unknown backend; ``ImportError`` for ``"numpy"``
            without numpy.
    """

    def __init__(self, from_rate: int, to_rate: int, *, backend: Backend = "auto") -> None:
        self.from_rate = _check_rate(from_rate, "from_rate")
        self.to_rate = _check_rate(to_rate, "to_rate")
        if backend not in ("auto", "python", "numpy"):
            raise ValueError(f"backend must be 'auto', 'python' or 'numpy', got {backend!r}")
        np = _numpy() if backend != "python" else None
        if backend == "numpy" and np is None:
            raise ImportError("the numpy backend needs numpy: pip install trio-gemini-live[audio]")
        self._np: Any = np
        self.backend: Literal["python", "numpy"] = "numpy" if np is not None else "python"
        self._design = _design(from_rate, to_rate)
        self.reset()

    def reset(self) -> None:
        """Forget everything fed so far."""
        half = self._design.half
        # The input before the first sample is silence: half - 1 zeros cover the first
        # output's left taps.
        self._buf = array("h", bytes(2 * (half - 1)))
        self._base = -(half - 1)  # the input index of self._buf[0]
        self._total_in = 0
        self._next_out = 0

    def process(self, pcm: PcmLike) -> bytes:
        """Feed 16-bit PCM; returns the output that is ready (possibly empty).

        Raises:
            ValueError: an odd byte count.
        """
        # Count samples on the byte view: len() of a memoryview counts its items, which are
        # not bytes for e.g. memoryview(array("h")).
        view = _check_pcm(pcm)
        if self.from_rate == self.to_rate:
            return bytes(view)
        self._buf.extend(_samples(view))
        self._total_in += len(view) // 2
        d = self._design
        # Output k needs inputs up to floor(k * down / up) + half.
        last_full = self._total_in - 1 - d.half
        ready = 0 if last_full < 0 else ((last_full + 1) * d.up - 1) // d.down + 1
        return self._produce(ready)

    def flush(self) -> bytes:
        """Finish the stream (the input after the end is silence) and reset.

        The total output has ``round(n * to_rate / from_rate)`` samples for ``n`` input
        samples.
        """
        if self.from_rate == self.to_rate:
            return b""
        d = self._design
        total = (2 * self._total_in * self.to_rate + self.from_rate) // (2 * self.from_rate)
        self._buf.extend(array("h", bytes(2 * d.half)))
        out = self._produce(max(total, self._next_out))
        self.reset()
        return out

    def _produce(self, end: int) -> bytes:
        start = self._next_out
        if end <= start:
            return b""
        d = self._design
        run = self._run_numpy if self._np is not None else self._run_python
        out = run(start, end)
        self._next_out = end
        # Drop the input no later output needs.
        first_tap = (end * d.down) // d.up - d.half + 1
        drop = first_tap - self._base
        if drop > 0:
            del self._buf[:drop]
            self._base += drop
        return out

    def _run_python(self, start: int, end: int) -> bytes:
        d = self._design
        buf, base, up, down, taps = self._buf, self._base, d.up, d.down, d.taps
        table = _table(d) if up <= _MAX_TABLE_PHASES else None
        mul = operator.mul
        out = array("h")
        for k in range(start, end):
            i, phase = divmod(k * down, up)
            coeffs = table[phase] if table is not None else _coefficients(d, phase)
            s = i - d.half + 1 - base
            out.append(_clip16(sum(map(mul, coeffs, buf[s : s + taps]))))
        return _to_bytes(out)

    def _run_numpy(self, start: int, end: int) -> bytes:
        np = self._np
        d = self._design
        x = np.frombuffer(self._buf, dtype=np.int16).astype(np.float64)
        j = np.arange(-d.half + 1, d.half + 1, dtype=np.float64)
        offsets = np.arange(d.taps)
        table = np.array(_table(d)) if d.up <= _MAX_TABLE_PHASES else None
        chunks = []
        # Blocks bound the (outputs x taps) temporaries to a few megabytes.
        for block_start in range(start, end, 8192):
            k = np.arange(block_start, min(end, block_start + 8192), dtype=np.int64)
            pos = k * d.down
            i = pos // d.up
            frac = (pos % d.up) / d.up
            if table is not None:
                kernel = table[pos % d.up]
            else:
                # Too many phases to table: the same formula as _coefficients, per output.
                dist = frac[:, None] - j[None, :]
                kernel = np.sinc(d.cutoff * dist)
                t = dist / d.half
                kernel *= 0.42 + 0.5 * np.cos(np.pi * t) + 0.08 * np.cos(2 * np.pi * t)
                kernel /= kernel.sum(axis=1, keepdims=True)
            idx = (i - d.half + 1 - self._base)[:, None] + offsets[None, :]
            y = np.einsum("ij,ij->i", x[idx], kernel)
            chunks.append(np.clip(np.rint(y), -32768, 32767).astype("<i2"))
        return b"".join(c.tobytes() for c in chunks)


def resample(
    pcm: PcmLike, from_rate: int, to_rate: int, *, backend: Backend = "auto"
) -> bytes:
    """Resample 16-bit mono PCM (a whole signal; see :class:`Resampler` for streams).

    The output has ``round(n * to_rate / from_rate)`` samples. Quality and backends: see
    :class:`Resampler`.

    Raises:
        ValueError: an odd byte count or a bad rate.
    """
    resampler = Resampler(from_rate, to_rate, backend=backend)
    return resampler.process(pcm) + resampler.flush()


def to_16k(pcm: PcmLike, sample_rate: int, *, backend: Backend = "auto") -> bytes:
    """Resample PCM at ``sample_rate`` to the Live API's native 16 kHz input rate."""
    return resample(pcm, sample_rate, INPUT_RATE, backend=backend)


def from_24k(pcm: PcmLike, to_rate: int, *, backend: Backend = "auto") -> bytes:
    """Resample the model's 24 kHz audio to ``to_rate`` (e.g. 48000 for a sound card)."""
    return resample(pcm, OUTPUT_RATE, to_rate, backend=backend)


# --- G.711 μ-law ---------------------------------------------------------------------------

# The classic Sun Microsystems g711.c algorithm (what audioop.lin2ulaw / ulaw2lin did): the
# 16-bit sample is reduced to 14 bits, biased by 33, and coded as sign, 3-bit segment and
# 4-bit mantissa, all bits inverted.
_ULAW_SEG_END: Final = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)


def _ulaw_encode_sample(sample: int) -> int:
    value = sample >> 2
    if value < 0:
        value, mask = -value, 0x7F
    else:
        mask = 0xFF
    value = min(value, 8159) + 33
    for seg, end in enumerate(_ULAW_SEG_END):
        if value <= end:
            return (((seg << 4) | ((value >> (seg + 1)) & 0xF)) ^ mask) & 0xFF
    return 0x7F ^ mask  # pragma: no cover - unreachable after the clip


def _ulaw_decode_sample(code: int) -> int:
    u = ~code & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return 0x84 - t if u & 0x80 else t - 0x84


@functools.cache
def _ulaw_encode_table() -> bytes:
    # Indexed by the sample as an unsigned 16-bit number; built on first use (64 KiB).
    return bytes(_ulaw_encode_sample(u - 65536 if u >= 32768 else u) for u in range(65536))


@functools.cache
def _ulaw_decode_table() -> tuple[bytes, ...]:
    return tuple(_ulaw_decode_sample(c).to_bytes(2, "little", signed=True) for c in range(256))


def mulaw_encode(pcm: PcmLike) -> bytes:
    """G.711 μ-law encode 16-bit PCM: one byte per sample (bit-exact with ``audioop``).

    Raises:
        ValueError: an odd byte count.
    """
    samples = array("H")
    samples.frombytes(_check_pcm(pcm))
    if _BIG_ENDIAN:  # pragma: no cover
        samples.byteswap()
    return bytes(map(_ulaw_encode_table().__getitem__, samples))


def mulaw_decode(ulaw: PcmLike) -> bytes:
    """G.711 μ-law decode to 16-bit PCM (bit-exact with ``audioop``).

    The round trip ``mulaw_decode(mulaw_encode(x))`` is within half a μ-law quantisation
    step: ``|error| <= 7 + |x| / 16`` for ``|x| <= 32124`` (checked on every 16-bit value by
    the tests); louder samples clip to ±32124.
    """
    if not isinstance(ulaw, (bytes, bytearray, memoryview)):
        raise TypeError(f"μ-law data must be bytes, got {type(ulaw).__name__}")
    return b"".join(map(_ulaw_decode_table().__getitem__, memoryview(ulaw).cast("B")))


def telephony_to_live(ulaw: PcmLike, *, backend: Backend = "auto") -> bytes:
    """8 kHz μ-law from a phone line -> 16 kHz PCM for ``send_realtime_input(audio=...)``."""
    return resample(mulaw_decode(ulaw), TELEPHONY_RATE, INPUT_RATE, backend=backend)


def live_to_telephony(pcm: PcmLike, sample_rate: int = OUTPUT_RATE, *,
                      backend: Backend = "auto") -> bytes:
    """The model's PCM (24 kHz unless told) -> 8 kHz μ-law for a phone line."""
    return mulaw_encode(resample(pcm, sample_rate, TELEPHONY_RATE, backend=backend))


# --- MIME types ----------------------------------------------------------------------------

def pcm_mime(sample_rate: int = INPUT_RATE) -> str:
    """``audio/pcm;rate=N``, the MIME type of 16-bit mono PCM at ``sample_rate``."""
    return f"audio/pcm;rate={_check_rate(sample_rate)}"


# --- playback ------------------------------------------------------------------------------


class TurnPlayback(msgspec.Struct, frozen=True, kw_only=True):
    """Playback accounting of one model turn, in seconds.

    Attributes:
        received: Audio fed for the turn.
        played: Audio read out by the player.
        dropped: Audio dropped by :meth:`PlaybackBuffer.interrupt`.
        queued: Audio still waiting to be played.
        interrupted: Whether the turn was interrupted.
    """

    received: float = 0.0
    played: float = 0.0
    dropped: float = 0.0
    queued: float = 0.0
    interrupted: bool = False


class _Turn:
    __slots__ = ("dropped", "interrupted", "played", "queued", "received")

    def __init__(self) -> None:
        self.received = self.played = self.dropped = self.queued = 0  # bytes
        self.interrupted = False


class PlaybackBuffer:
    """A playback queue for the model's audio that honours barge-in (sans-IO).

    The session's audio arrives in bursts, faster than real time (PROTOCOL.md 4); an
    ``Interrupted`` event means "stop and flush playback now". Feed the buffer the
    ``AudioChunk`` events, let the player :meth:`read` just as much as the audio device
    needs, and call :meth:`interrupt` on ``Interrupted`` and :meth:`turn_complete` on
    ``TurnComplete`` (or pass every event to :meth:`handle`). The buffer then tells how
    much of the model's turn the user actually heard (``played``), which is what an
    application needs to trim the transcript after a barge-in.

    No I/O and no event loop: the player can be a Trio task, a sound-card callback thread
    (guard the calls with a lock) or a test. "Played" means "read by the player": audio the
    device has buffered but not yet sounded is counted as played.

    A turn starts with the first audio fed after :meth:`turn_complete` (or creation). Audio
    of a finished turn that is still queued keeps playing and keeps counting for that turn
    (:attr:`last_turn`), not for the next one. The queue is not bounded: a turn's audio is
    about 48 kB per second at 24 kHz.

    Args:
        sample_rate: The rate of the audio (24 kHz for the Live API's output).
    """

    def __init__(self, sample_rate: int = OUTPUT_RATE) -> None:
        self.sample_rate = _check_rate(sample_rate)
        self._queue: deque[tuple[_Turn, bytes]] = deque()
        self._offset = 0  # bytes of the first queued chunk already read
        self._queued = 0
        self._turn = _Turn()
        self._turn_open = True

    def _seconds(self, n_bytes: int) -> float:
        return n_bytes / 2 / self.sample_rate

    def _snapshot(self, turn: _Turn) -> TurnPlayback:
        s = self._seconds
        return TurnPlayback(
            received=s(turn.received),
            played=s(turn.played),
            dropped=s(turn.dropped),
            queued=s(turn.queued),
            interrupted=turn.interrupted,
        )

    def feed(self, audio: AudioChunk | PcmLike) -> None:
        """Queue audio: an ``AudioChunk`` event or 16-bit PCM bytes at :attr:`sample_rate`.

        Raises:
            ValueError: an odd byte count, or a chunk at another rate (resample it first).
        """
        if isinstance(audio, AudioChunk):
            if audio.sample_rate != self.sample_rate:
                raise ValueError(
                    f"audio at {audio.sample_rate} Hz fed to a {self.sample_rate} Hz playback "
                    "buffer: resample it first"
                )
            data = bytes(_check_pcm(audio.data, "audio"))
        else:
            data = bytes(_check_pcm(audio, "audio"))
        if not self._turn_open:
            self._turn = _Turn()
            self._turn_open = True
        if not data:
            return
        self._turn.received += len(data)
        self._turn.queued += len(data)
        self._queued += len(data)
        self._queue.append((self._turn, data))

    def read(self, n_bytes: int, *, pad: bool = False) -> bytes:
        """Take up to ``n_bytes`` of queued audio for the player.

        Args:
            n_bytes: An even number of bytes (whole samples).
            pad: Fill up with silence to exactly ``n_bytes`` (for device callbacks that need
                a full buffer). Silence is not counted as played.

        Raises:
            ValueError: ``n_bytes`` negative or odd.
        """
        if isinstance(n_bytes, bool) or not isinstance(n_bytes, int) or n_bytes < 0:
            raise ValueError(f"n_bytes must be a non-negative integer, got {n_bytes!r}")
        if n_bytes % 2:
            raise ValueError(f"n_bytes must be even (whole 16-bit samples), got {n_bytes}")
        parts: list[bytes] = []
        wanted = n_bytes
        while wanted and self._queue:
            turn, data = self._queue[0]
            piece = data[self._offset : self._offset + wanted]
            parts.append(piece)
            wanted -= len(piece)
            turn.played += len(piece)
            turn.queued -= len(piece)
            self._queued -= len(piece)
            self._offset += len(piece)
            if self._offset == len(data):
                self._queue.popleft()
                self._offset = 0
        if pad and wanted:
            parts.append(bytes(wanted))
        return b"".join(parts)

    def interrupt(self) -> float:
        """Drop everything queued (call it on ``Interrupted``); returns the seconds dropped.

        The current turn (or, if it already completed, the last one that had audio) is
        marked interrupted.
        """
        dropped = 0
        while self._queue:
            turn, data = self._queue.popleft()
            n = len(data) - self._offset
            self._offset = 0
            turn.dropped += n
            turn.queued -= n
            dropped += n
        self._queued = 0
        self._turn.interrupted = True
        return self._seconds(dropped)

    def turn_complete(self) -> TurnPlayback:
        """End the current turn (call it on ``TurnComplete``); returns its accounting so far.

        The next audio fed starts a new turn with fresh counters.
        """
        self._turn_open = False
        return self._snapshot(self._turn)

    def handle(self, event: Event) -> None:
        """Route a session event: ``AudioChunk`` -> :meth:`feed`, ``Interrupted`` ->
        :meth:`interrupt`, ``TurnComplete`` -> :meth:`turn_complete`; others are ignored."""
        if isinstance(event, AudioChunk):
            self.feed(event)
        elif isinstance(event, Interrupted):
            self.interrupt()
        elif isinstance(event, TurnComplete):
            self.turn_complete()

    def clear(self) -> None:
        """Drop all queued audio without marking anything interrupted (e.g. on reset)."""
        for turn, data in self._queue:
            turn.queued -= len(data)
        if self._queue:
            self._queue[0][0].queued += self._offset
        self._queue.clear()
        self._offset = 0
        self._queued = 0

    @property
    def queued_bytes(self) -> int:
        """Bytes waiting to be played (every turn)."""
        return self._queued

    @property
    def queued_seconds(self) -> float:
        """Seconds waiting to be played (every turn): how long until the player falls silent."""
        return self._seconds(self._queued)

    @property
    def played_seconds(self) -> float:
        """Seconds of the current (or last) turn read by the player."""
        return self._seconds(self._turn.played)

    @property
    def received_seconds(self) -> float:
        """Seconds of the current (or last) turn fed so far."""
        return self._seconds(self._turn.received)

    @property
    def dropped_seconds(self) -> float:
        """Seconds of the current (or last) turn dropped by :meth:`interrupt`."""
        return self._seconds(self._turn.dropped)

    @property
    def interrupted(self) -> bool:
        """Whether the current (or last) turn was interrupted."""
        return self._turn.interrupted

    @property
    def last_turn(self) -> TurnPlayback:
        """The accounting of the current turn, or of the last one if it completed."""
        return self._snapshot(self._turn)


# --- test signals --------------------------------------------------------------------------


def tone(
    freq: float, seconds: float, rate: int = INPUT_RATE, amplitude: float = 0.5
) -> bytes:
    """A sine wave as 16-bit mono PCM: ``amplitude`` (0..1] of full scale (32767).

    Sample ``n`` is ``round(amplitude * 32767 * sin(2 pi freq n / rate))``.

    Raises:
        ValueError: a negative duration or frequency, a bad rate or amplitude.
    """
    _check_rate(rate, "rate")
    if not 0 < amplitude <= 1:
        raise ValueError(f"amplitude must be in (0, 1], got {amplitude!r}")
    if seconds < 0 or freq < 0:
        raise ValueError("freq and seconds must not be negative")
    scale = amplitude * 32767
    step = 2 * math.pi * freq / rate
    samples = array("h", (round(scale * math.sin(step * n)) for n in range(round(seconds * rate))))
    return _to_bytes(samples)


def speechlike(
    seconds: float,
    rate: int = INPUT_RATE,
    seed: int = 0,
    *,
    word_pauses: bool = True,
    lead_silence: float = 0.0,
    trail_silence: float = 0.0,
) -> bytes:
    """Syllable-like voiced bursts: a stand-in for speech in VAD demos and tests.

    Syllables are 80-250 ms of a harmonic tone (fundamental 100-220 Hz, four harmonics,
    a smooth envelope), 2-5 per word, with 40-120 ms gaps inside words. Between words:

    * ``word_pauses=True`` (default): pauses of 250-700 ms, so a voice activity detector
      that ends speech after 500 ms of silence (the Live API's and the emulator's default)
      hears several utterances;
    * ``word_pauses=False``: the same short gaps as inside words, so the whole stretch is
      one utterance (:func:`trio_gemini_live.testing.speech_like_pcm` is this).

    Every 20 ms frame of a syllable's middle is far above the emulator's VAD threshold
    (500 RMS); the gaps are exact silence. Deterministic for a given ``seed``.

    Args:
        seconds: Duration of the speech-like part (it may end inside a syllable or a gap).
        rate: Sample rate (Hz).
        seed: Seed of the syllables' lengths, pitches and levels.
        word_pauses: Long pauses between words (several utterances) or not (one).
        lead_silence: Seconds of silence before the speech.
        trail_silence: Seconds of silence after it (enough for a VAD to end the turn:
            more than the server's ``silenceDurationMs``, 500 ms by default).

    Returns:
        16-bit mono PCM, ``round(seconds * rate)`` samples plus the silences.

    Raises:
        ValueError: a negative duration or a bad rate.
    """
    _check_rate(rate, "rate")
    if seconds < 0 or lead_silence < 0 or trail_silence < 0:
        raise ValueError("seconds, lead_silence and trail_silence must not be negative")
    rng = random.Random(seed)
    total = round(seconds * rate)
    out = array("h", bytes(2 * round(lead_silence * rate)))
    total += len(out)
    while len(out) < total:
        for _ in range(rng.randint(2, 5)):
            length = int(rng.uniform(0.08, 0.25) * rate)
            f0 = rng.uniform(100, 220)
            level = rng.uniform(0.2, 0.5) * 32767 / 1.875  # 1.875: the harmonics' peak sum
            step = 2 * math.pi * f0 / rate
            for n in range(length):
                envelope = math.sin(math.pi * n / length) ** 2
                phase = step * n
                value = (math.sin(phase) + 0.5 * math.sin(2 * phase)
                         + 0.25 * math.sin(3 * phase) + 0.125 * math.sin(4 * phase))
                out.append(_clip16(level * envelope * value))
            out.extend(array("h", bytes(2 * int(rng.uniform(0.04, 0.12) * rate))))
        pause = rng.uniform(0.25, 0.7) if word_pauses else rng.uniform(0.04, 0.12)
        out.extend(array("h", bytes(2 * int(pause * rate))))
    del out[total:]
    out.extend(array("h", bytes(2 * round(trail_silence * rate))))
    return _to_bytes(out)
