"""G.711 μ-law for 8 kHz telephone lines: :func:`mulaw_encode`, :func:`mulaw_decode`, and
the bridges :func:`telephony_to_live`, :func:`live_to_telephony`.

Bit-exact with the classic Sun reference code that ``audioop`` used (``audioop`` is gone from
Python 3.13). Split out of ``audio.py`` (issue 11); import these from
:mod:`trio_gemini_live.audio`.
"""

from __future__ import annotations

import functools
from array import array
from typing import Final

from ._mime import INPUT_RATE, OUTPUT_RATE
from ._pcm import _BIG_ENDIAN, Backend, PcmLike, _check_pcm
from ._resample import resample

__all__ = [
    "TELEPHONY_RATE", "live_to_telephony", "mulaw_decode", "mulaw_encode", "telephony_to_live",
]

#: G.711 telephony rate.
TELEPHONY_RATE: Final = 8000

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
