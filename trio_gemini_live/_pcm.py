"""16-bit mono PCM basics shared by the audio modules: checks, and samples in and out.

The Live API's audio is raw 16-bit signed little-endian mono PCM (PROTOCOL.md 3.3 and 4).
Every helper of :mod:`trio_gemini_live.audio` (and ``voice``) checks its input here, so a
wrong format fails the same way everywhere: ``TypeError`` for what is not bytes,
``ValueError`` for an odd number of bytes or a rate that is not a positive integer.

Split out of ``audio.py`` (issue 11: modules of at most about 700 lines) with ``_wav``,
``_resample`` and ``_g711``; ``audio`` re-exports the public names and is their documented
home. The helpers keep the underscored names they had there.
"""

from __future__ import annotations

import sys
from array import array
from typing import Final, Literal

__all__ = ["Backend", "PcmLike"]

_BIG_ENDIAN: Final = sys.byteorder == "big"

PcmLike = bytes | bytearray | memoryview
Backend = Literal["auto", "python", "numpy"]


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
