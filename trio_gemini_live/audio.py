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

import math
import random
from array import array
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

import msgspec

# This module is the documented home of every name above. The code of some lives in private
# modules (issue 11: modules of at most about 700 lines), imported here: ``_pcm`` (the checks
# every helper shares), ``_wav``, ``_resample`` and ``_g711``. Chunking, MIME types, playback
# and the test signals are here.
from ._g711 import TELEPHONY_RATE as TELEPHONY_RATE
from ._g711 import live_to_telephony as live_to_telephony
from ._g711 import mulaw_decode as mulaw_decode
from ._g711 import mulaw_encode as mulaw_encode
from ._g711 import telephony_to_live as telephony_to_live
from ._mime import parse_mime as parse_mime
from ._pcm import Backend as Backend
from ._pcm import PcmLike as PcmLike
from ._pcm import _check_pcm as _check_pcm
from ._pcm import _check_rate as _check_rate
from ._pcm import _clip16, _to_bytes
from ._resample import Resampler as Resampler
from ._resample import from_24k as from_24k
from ._resample import resample as resample
from ._resample import to_16k as to_16k
from ._wav import WavSource as WavSource
from ._wav import read_wav as read_wav
from ._wav import write_wav as write_wav
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
