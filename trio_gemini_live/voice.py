"""Sending a voice to a session: manual turns with pre-roll, and audio files in real time.

:mod:`trio_gemini_live.audio` is PCM arithmetic with no event loop; this module sends audio
to a :class:`~trio_gemini_live.LiveSession` (issue 14):

* :class:`ManualTurns`: with the server's voice activity detection disabled, your own VAD
  decides when the user speaks. The first syllable starts before any VAD notices it, so the
  helper keeps the last few hundred milliseconds of microphone audio and sends them right
  after ``activityStart`` (pipecat's pre-roll buffer, done once, here).
* :func:`stream_wav`, :func:`stream_pcm`: a recording sent as a microphone would send it,
  in real time, and ended as a turn must be ended.

Why a turn needs an explicit end (PROTOCOL.md 3.3): with automatic VAD the server ends the
user's turn after it *hears* silence (``silenceDurationMs``, 500 ms by default). Audio that
stops without trailing silence never ends the turn: the model waits, and so does the
application. Either send silence, or say the stream paused with ``audio_stream_end=True``
(what these helpers do). With automatic VAD disabled, the turn is what lies between
``activity_start`` and ``activity_end``.
"""

from __future__ import annotations

import os
from collections import deque
from typing import IO, TYPE_CHECKING, Any, Final

import trio

from ._session_view import manual_activity
from ._wire import Blob
from .audio import INPUT_RATE, PcmLike, Resampler, _check_pcm, _check_rate, pcm_mime, read_wav

if TYPE_CHECKING:
    from .video import VideoPacer

__all__ = ["ManualTurns", "stream_pcm", "stream_wav"]

#: The longest chunk sent (PROTOCOL.md 3.3: peers send 20-100 ms).
_MAX_CHUNK_MS: Final = 100


def _check_ms(value: float, name: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            low <= value <= high):
        raise ValueError(f"{name} must be a number from {low} to {high}, got {value!r}")
    return float(value)


class ManualTurns:
    """Manual voice activity with a pre-roll buffer (automatic VAD disabled; issue 14).

    Feed every microphone chunk to :meth:`feed`. While the user is not speaking, the last
    ``pre_roll_ms`` of audio are kept (nothing is sent); :meth:`start` (your VAD fired)
    sends ``activity_start``, then that pre-roll, and from then on :meth:`feed` sends the
    live audio; :meth:`end` sends ``activity_end``, and the model answers::

        turns = ManualTurns(session, pre_roll_ms=300)
        async for chunk in microphone():
            await turns.feed(chunk)
            if my_vad.speech_started(chunk):
                await turns.start()
            elif my_vad.speech_ended(chunk):
                await turns.end()

    :meth:`feed`, :meth:`start` and :meth:`end` may be called from different tasks: they
    take turns in the order they were called, so live audio never overtakes the pre-roll.
    :meth:`start` while a turn is active and :meth:`end` while none is do nothing (VADs
    fire twice).

    The session needs ``LiveConfig(realtime_input_config={"automatic_activity_detection":
    {"disabled": True}})``: with automatic VAD the server refuses activity signals
    (PROTOCOL.md 3.3).

    Args:
        session: The :class:`~trio_gemini_live.LiveSession`.
        pre_roll_ms: How much audio before :meth:`start` is sent with it (0-5000 ms).
        sample_rate: The rate of the PCM fed, which must be the session's
            ``input_sample_rate`` (16 kHz unless set).
        video: A :class:`~trio_gemini_live.video.VideoPacer` to tell about the user's
            activity (its frames then go out during the turn).

    Raises:
        ValueError: a bad ``pre_roll_ms`` or rate, or a session whose automatic VAD is on.
    """

    def __init__(self, session: Any, *, pre_roll_ms: float = 300,
                 sample_rate: int = INPUT_RATE, video: VideoPacer | None = None) -> None:
        _check_ms(pre_roll_ms, "pre_roll_ms", low=0, high=5000)
        self.sample_rate = _check_rate(sample_rate)
        if manual_activity(session) is False:
            raise ValueError(
                "ManualTurns needs automatic voice activity detection disabled: "
                "LiveConfig(realtime_input_config={'automatic_activity_detection': "
                "{'disabled': True}}) (PROTOCOL.md 3.3)"
            )
        self._session = session
        self._video = video
        self.pre_roll_ms = float(pre_roll_ms)
        self._max_bytes = 2 * round(self.sample_rate * self.pre_roll_ms / 1000)
        self._chunk_bytes = 2 * round(self.sample_rate * _MAX_CHUNK_MS / 1000)
        self._buffer: deque[bytes] = deque()
        self._buffered = 0
        self._active = False
        self._turns = 0
        self._lock = trio.Lock()

    @property
    def active(self) -> bool:
        """Whether a turn is in progress (between :meth:`start` and :meth:`end`)."""
        return self._active

    @property
    def turns(self) -> int:
        """Turns started so far."""
        return self._turns

    @property
    def buffered_seconds(self) -> float:
        """The pre-roll held now (at most ``pre_roll_ms``)."""
        return self._buffered / 2 / self.sample_rate

    async def feed(self, pcm: PcmLike) -> None:
        """One microphone chunk: kept for the pre-roll, or sent during a turn.

        Raises:
            ValueError, TypeError: not 16-bit PCM bytes.
            LiveError: the session is closed (during a turn).
        """
        view = _check_pcm(pcm, "audio")
        async with self._lock:
            if self._active:
                await self._session.send_realtime_input(audio=bytes(view))
                return
            if not self._max_bytes or not len(view):
                return
            self._buffer.append(bytes(view))
            self._buffered += len(view)
            excess = self._buffered - self._max_bytes
            while excess > 0:
                first = self._buffer[0]
                if len(first) <= excess:
                    self._buffer.popleft()
                    self._buffered -= len(first)
                    excess -= len(first)
                else:
                    self._buffer[0] = first[excess:]
                    self._buffered -= excess
                    excess = 0

    async def start(self) -> None:
        """The user started speaking: ``activity_start``, then the pre-roll.

        Cancelled after ``activity_start`` went out, the turn counts as started (call
        :meth:`end`); the pre-roll not yet sent is dropped.

        Raises:
            LiveError: the session is closed.
        """
        async with self._lock:
            if self._active:
                await trio.lowlevel.checkpoint()
                return
            pre_roll = b"".join(self._buffer)
            self._buffer.clear()
            self._buffered = 0
            await self._session.send_realtime_input(activity_start=True)
            self._active = True
            self._turns += 1
            if self._video is not None:
                self._video.activity(True)
            for i in range(0, len(pre_roll), self._chunk_bytes):
                await self._session.send_realtime_input(
                    audio=pre_roll[i : i + self._chunk_bytes])

    async def end(self) -> None:
        """The user stopped speaking: ``activity_end`` (the model answers).

        Raises:
            LiveError: the session is closed.
        """
        async with self._lock:
            if not self._active:
                await trio.lowlevel.checkpoint()
                return
            await self._session.send_realtime_input(activity_end=True)
            self._active = False
            if self._video is not None:
                self._video.activity(False)


async def stream_pcm(
    session: Any,
    pcm: PcmLike,
    *,
    sample_rate: int = INPUT_RATE,
    chunk_ms: float = 40,
    realtime: bool = True,
    end_turn: bool = True,
    manual: bool | None = None,
) -> float:
    """Send a recording as a microphone would: in chunks, in real time, and end the turn.

    The audio is resampled to 16 kHz (the Live API's native rate) chunk by chunk, and each
    chunk is sent as a :class:`~trio_gemini_live.Blob` that names its rate, whatever the
    session's ``input_sample_rate``. Chunk ``k`` goes out at ``start + k * chunk_ms`` (a
    ``trio.sleep_until`` against the start time, so delays do not add up).

    The turn ends as it must (PROTOCOL.md 3.3): with automatic VAD, ``audio_stream_end``
    after the last chunk (without it, audio that stops with no trailing silence never ends
    the turn); with automatic VAD disabled, ``activity_start`` before the first chunk and
    ``activity_end`` after the last.

    Args:
        session: The :class:`~trio_gemini_live.LiveSession`.
        pcm: 16-bit little-endian mono PCM.
        sample_rate: Its rate (Hz).
        chunk_ms: Chunk duration, 10-100 ms (peers send 20-100 ms).
        realtime: Pace the chunks in real time (``False``: as fast as the session takes
            them, which a VAD hears as one long burst).
        end_turn: End the turn afterwards (``False`` to stream more audio of the same turn).
        manual: Whether automatic VAD is disabled; ``None`` reads it from the session's
            config.

    Returns:
        The seconds of audio sent.

    Raises:
        ValueError, TypeError: bad PCM, rate or chunk duration.
        LiveError: the session is closed.

    Cancelled midway, it stops sending at once and does not end the turn: send
    ``audio_stream_end`` (or ``activity_end``) yourself if the turn should end.
    """
    view = _check_pcm(pcm)
    _check_rate(sample_rate)
    chunk_ms = _check_ms(chunk_ms, "chunk_ms", low=10, high=_MAX_CHUNK_MS)
    if manual is None:
        manual = bool(manual_activity(session))
    mime = pcm_mime(INPUT_RATE)
    resampler = Resampler(sample_rate, INPUT_RATE) if sample_rate != INPUT_RATE else None
    step = 2 * max(1, round(sample_rate * chunk_ms / 1000))
    if end_turn and manual:
        await session.send_realtime_input(activity_start=True)
    start = trio.current_time()
    sent = 0  # bytes at 16 kHz
    pieces = range(0, len(view), step)
    for index, i in enumerate(pieces):
        piece = bytes(view[i : i + step])
        if resampler is not None:
            piece = resampler.process(piece)
            if index == len(pieces) - 1:
                piece += resampler.flush()
        if not piece:
            continue
        if realtime:
            # The chunk's place in the recording: no drift, whatever the sends cost.
            await trio.sleep_until(start + i / 2 / sample_rate)
        await session.send_realtime_input(audio=Blob(mime_type=mime, data=piece))
        sent += len(piece)
    if end_turn:
        if manual:
            await session.send_realtime_input(activity_end=True)
        else:
            await session.send_realtime_input(audio_stream_end=True)
    else:
        await trio.lowlevel.checkpoint()
    return sent / 2 / INPUT_RATE


async def stream_wav(
    session: Any,
    source: str | os.PathLike[str] | IO[bytes],
    *,
    chunk_ms: float = 40,
    realtime: bool = True,
    end_turn: bool = True,
    manual: bool | None = None,
) -> float:
    """Send a 16-bit WAV file as a microphone would, and end the turn (see :func:`stream_pcm`).

    Any rate (resampled to 16 kHz); several channels are mixed to mono. The file is read in
    a worker thread (a test on Trio's autojump clock, which jumps while a thread runs, reads
    it first with :func:`~trio_gemini_live.audio.read_wav` and calls :func:`stream_pcm`).

    Returns:
        The seconds of audio sent.

    Raises:
        ValueError: not a 16-bit PCM WAV file, or a bad chunk duration.
        OSError: the file cannot be read.
        LiveError: the session is closed.
    """
    pcm, rate = await trio.to_thread.run_sync(lambda: read_wav(source, mix_to_mono=True))
    return await stream_pcm(session, pcm, sample_rate=rate, chunk_ms=chunk_ms,
                            realtime=realtime, end_turn=end_turn, manual=manual)
