"""The one parser of the Live API's audio MIME types (``audio/pcm;rate=N``).

Used for what the user sends (``_inputs``), for what the server sends (``_messages``) and
by the public :func:`trio_gemini_live.audio.parse_mime`. Pure, no imports of the package.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["INPUT_RATE", "OUTPUT_RATE", "parse_mime"]

#: PROTOCOL.md 3.3: input audio is 16 kHz unless its MIME type says otherwise.
INPUT_RATE: Final = 16000
#: PROTOCOL.md 4: output audio is 24 kHz (``audio/pcm;rate=24000``, sometimes bare).
OUTPUT_RATE: Final = 24000

_MIME_PARAM_RE: Final = re.compile(r"^\s*([A-Za-z_-]+)\s*=\s*\"?([^\"]*)\"?\s*$")


def parse_mime(mime: str, *, default_rate: int = OUTPUT_RATE) -> tuple[str, int]:
    """Parse an audio MIME type of the Live API: ``audio/pcm`` or ``audio/pcm;rate=N``.

    Args:
        mime: The MIME type (case-insensitive; parameters may be spaced).
        default_rate: The rate when none is given. The server's bare ``audio/pcm`` is its
            24 kHz output (PROTOCOL.md 4), hence the default; input audio without a rate
            is 16 kHz (pass ``INPUT_RATE``).

    Returns:
        ``("pcm", rate)``.

    Raises:
        ValueError: another type, a bad ``rate``, or ``channels`` other than 1.
    """
    if not isinstance(mime, str):
        raise ValueError(f"MIME type must be a string, got {mime!r}")
    kind, *params = mime.split(";")
    if kind.strip().lower() != "audio/pcm":
        raise ValueError(f"unsupported audio MIME type {mime!r}: expected audio/pcm;rate=N")
    rate = default_rate
    for param in params:
        if not param.strip():
            continue
        match = _MIME_PARAM_RE.match(param)
        if match is None:
            raise ValueError(f"malformed parameter {param.strip()!r} in MIME type {mime!r}")
        key, value = match.group(1).lower(), match.group(2).strip()
        if key == "rate":
            if not value.isdigit() or int(value) <= 0:
                raise ValueError(f"invalid rate {value!r} in MIME type {mime!r}")
            rate = int(value)
        elif key == "channels" and value != "1":
            raise ValueError(f"MIME type {mime!r} is not mono; only mono PCM is supported")
    if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
        raise ValueError(f"rate must be a positive integer (Hz), got {rate!r}")
    return "pcm", rate
