"""The emulator's scripted model: deterministic replies, synthetic speech, tool arguments, VAD.

Nothing here does I/O; the connection handler in ``_emulator`` drives it.

* Replies: a text turn ``T`` is answered with ``I heard: "T". This is turn N of our
  conversation.`` (N counts the user turns of the *logical session*, so a resumed
  conversation visibly continues). A tool result is answered with ``The result of NAME is
  {json}.``.
* Speech: each word of a reply becomes a short sine tone (its pitch derived from the word),
  24 kHz 16-bit mono PCM, with a short silence between words (PROTOCOL.md 4: output audio).
* Voice activity: RMS energy per 20 ms frame above a threshold is speech.
* Input transcription of audio is scripted: ``[audio 1.2s]`` by default, or a fixed text.
"""

from __future__ import annotations

import array
import math
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any, Final

from .. import _wire as w
from ..audio import speechlike, tone

__all__ = [
    "OUTPUT_RATE",
    "EnergyVad",
    "frame_rms",
    "reply_text",
    "sample_args",
    "speech_like_pcm",
    "synthesize_speech",
    "tool_result_text",
]

#: Output audio: 24 kHz, 16-bit, mono (PROTOCOL.md 4).
OUTPUT_RATE: Final = 24_000
_WORD_MS: Final = 180
_GAP_MS: Final = 40


def reply_text(user_text: str, turn: int) -> str:
    """The scripted answer to the ``turn``-th user turn of a session."""
    return f'I heard: "{user_text.strip()}". This is turn {turn} of our conversation.'


def tool_result_text(name: str, response_json: str) -> str:
    """The scripted answer once a function's result is known."""
    return f"The result of {name} is {response_json}."


def split_chunks(text: str, count: int = 3) -> list[str]:
    """``text`` in about ``count`` pieces cut at word boundaries (concatenate to get it back)."""
    words = re.findall(r"\S+\s*", text)
    if not words:
        return [text] if text else []
    size = max(1, math.ceil(len(words) / count))
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


def words(text: str) -> list[str]:
    """The transcription fragments of ``text``: each word with its trailing space."""
    return re.findall(r"\S+\s*", text)


def synthesize_speech(text: str, rate: int = OUTPUT_RATE) -> Iterator[tuple[str, bytes]]:
    """Synthetic speech for ``text``: (word, PCM) pairs, one tone per word, then a short gap.

    Deterministic: a word's pitch depends only on its letters.
    """
    gap = bytes(2 * (rate * _GAP_MS // 1000))
    for word in words(text):
        freq = 220.0 + (sum(map(ord, word)) % 24) * 20.0
        yield word, tone(freq, _WORD_MS / 1000, rate, amplitude=8000 / 32767) + gap


def speech_like_pcm(seconds: float, rate: int = 16_000, *, lead_silence: float = 0.0,
                    trail_silence: float = 0.0, seed: int = 0) -> bytes:
    """Speech-like test input that the emulator hears as one utterance.

    A thin alias (issue 14: one speech-like generator) of
    :func:`trio_gemini_live.audio.speechlike` with ``word_pauses=False``: syllables with
    short gaps (at most 120 ms) and no pause between words, so the whole stretch is one
    utterance for a VAD that ends speech after 300 ms of silence or more; end it with
    ``trail_silence`` longer than the server's ``silenceDurationMs`` (500 ms by default).
    Used by the demo, the docs' examples and the tests to drive the emulator's voice
    activity detection.
    """
    return speechlike(seconds, rate, seed, word_pauses=False, lead_silence=lead_silence,
                      trail_silence=trail_silence)


def frame_rms(pcm: bytes) -> float:
    """Root mean square of 16-bit little-endian samples (0 for no samples)."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) // 2 * 2])
    if sys.byteorder != "little":  # pragma: no cover
        samples.byteswap()
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


class EnergyVad:
    """Energy-based voice activity detection over a stream of PCM (PROTOCOL.md 3.1, 3.3).

    Audio is cut into 20 ms frames; a frame whose RMS exceeds ``threshold`` is speech.
    Activity starts after ``prefix_padding_ms`` of consecutive speech and ends after
    ``silence_duration_ms`` of consecutive silence. :meth:`feed` returns the list of
    transitions (``"start"`` / ``"end"``) the fed audio caused, in order (at most one per
    frame; empty when nothing changed).
    """

    FRAME_MS: Final = 20

    def __init__(self, rate: int, *, silence_duration_ms: int = 500, prefix_padding_ms: int = 20,
                 threshold: float = 500.0) -> None:
        self.rate = rate
        self.silence_ms = silence_duration_ms
        self.prefix_ms = max(prefix_padding_ms, self.FRAME_MS)
        self.threshold = threshold
        self.active = False
        self._buffer = b""
        self._speech_ms = 0
        self._silence_ms = 0

    def feed(self, pcm: bytes) -> list[str]:
        """Consume PCM; return the transitions it caused (``"start"`` / ``"end"``), in order."""
        self._buffer += pcm
        frame_bytes = 2 * self.rate * self.FRAME_MS // 1000
        out: list[str] = []
        while len(self._buffer) >= frame_bytes:
            frame, self._buffer = self._buffer[:frame_bytes], self._buffer[frame_bytes:]
            speech = frame_rms(frame) > self.threshold
            if speech:
                self._speech_ms += self.FRAME_MS
                self._silence_ms = 0
            else:
                self._silence_ms += self.FRAME_MS
                self._speech_ms = 0
            if self.active:
                if self._silence_ms >= self.silence_ms:
                    self.active = False
                    out.append("end")
            elif self._speech_ms >= self.prefix_ms:
                self.active = True
                out.append("start")
        return out

    def flush(self) -> list[str]:
        """The stream ended (``audioStreamEnd``): an active utterance ends now."""
        self._buffer = b""
        self._speech_ms = self._silence_ms = 0
        if self.active:
            self.active = False
            return ["end"]
        return []


def sample_value(schema: w.Schema | None, name: str) -> Any:
    """A deterministic value for ``schema`` (the property ``name`` for strings)."""
    if schema is None:
        return name
    if schema.enum:
        return schema.enum[0]
    kind = schema.type or ("OBJECT" if schema.properties else "STRING")
    if kind == "STRING":
        return name
    if kind == "INTEGER":
        return 1
    if kind == "NUMBER":
        return 1.5
    if kind == "BOOLEAN":
        return True
    if kind == "ARRAY":
        return [sample_value(schema.items, name)]
    if kind == "OBJECT":
        return sample_args(schema)
    return None


def sample_args(schema: w.Schema | None) -> dict[str, Any]:
    """Arguments for a function whose ``parameters`` are ``schema``: every property filled."""
    if schema is None or not schema.properties:
        return {}
    return {key: sample_value(sub, key) for key, sub in schema.properties.items()}


def sample_args_json_schema(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """The same for ``parametersJsonSchema`` (JSON Schema, lower-case types)."""
    # parametersJsonSchema is free-form user data (``_strict`` never checks it): anything
    # that is not an object of objects is treated as "no properties", never a crash.
    if not isinstance(schema, Mapping):
        return {}
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, sub in props.items():
        kind = str(sub.get("type", "string")).lower() if isinstance(sub, dict) else "string"
        enum = sub.get("enum") if isinstance(sub, dict) else None
        out[key] = (
            enum[0] if enum else
            {"string": key, "integer": 1, "number": 1.5, "boolean": True, "array": [key],
             "object": {}}.get(kind, key)
        )
    return out
