"""16-bit mono WAV files: :func:`read_wav` and :func:`write_wav` (standard library only).

Split out of ``audio.py`` (issue 11); import these from :mod:`trio_gemini_live.audio`.
"""

from __future__ import annotations

import os
import wave
from array import array
from typing import IO

from ._mime import INPUT_RATE
from ._pcm import PcmLike, _check_pcm, _check_rate, _clip16, _samples, _to_bytes

__all__ = ["WavSource", "read_wav", "write_wav"]

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
