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
    "sample_args_json_schema",
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


# --- tool arguments ----------------------------------------------------------------------
#
# The canned model calls a declared function when the user's turn names it; its arguments
# come from the same words (issue 14: "call get_weather for Paris" used to give
# {'city': 'city'}). It is pattern matching, not understanding: see sample_args.

#: Words that are capitalised without being names.
_NOT_NAMES: Final = frozenset({"I", "I'm", "I'd", "I'll", "I've", "OK"})
_BOOLEANS: Final = {"true": True, "yes": True, "on": True, "false": False, "no": False,
                    "off": False}
# Quoted text: "...", “...”, or '...' standing alone (not the apostrophe of "What's").
_QUOTED: Final = re.compile(r'"([^"]+)"|“([^”]+)”|(?<!\w)\'([^\']+)\'(?!\w)')
_NUMBER: Final = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\w)")
_WORD: Final = re.compile(r"[^\W\d_][\w'\u2019-]*")
# What comes before the first word of a sentence (capitalised for grammar, not as a name).
_SENTENCE_START: Final = re.compile(r"(?:^|[.!?]\s+|\n)\W*$")


class _Spec:
    """One parameter's schema, from either form (``Schema`` or JSON Schema), normalised."""

    __slots__ = ("enum", "items", "kind", "maximum", "minimum", "properties")

    def __init__(self, kind: str, *, enum: list[Any] | None = None, items: _Spec | None = None,
                 properties: dict[str, _Spec] | None = None, minimum: float | None = None,
                 maximum: float | None = None) -> None:
        self.kind = kind
        self.enum = enum
        self.items = items
        self.properties = properties
        self.minimum = minimum
        self.maximum = maximum

    @classmethod
    def of_schema(cls, schema: w.Schema | None) -> _Spec:
        if schema is None:
            return cls("STRING")
        props = None
        if schema.properties:
            props = {key: cls.of_schema(sub) for key, sub in schema.properties.items()}
        kind = (schema.type or ("OBJECT" if schema.properties else "STRING")).upper()
        return cls(kind, enum=list(schema.enum) if schema.enum else None,
                   items=cls.of_schema(schema.items) if schema.items is not None else None,
                   properties=props, minimum=schema.minimum, maximum=schema.maximum)

    @classmethod
    def of_json(cls, schema: object) -> _Spec:
        # parametersJsonSchema is free-form user data (``_strict`` never checks it): anything
        # unexpected is treated as a string, never a crash.
        if not isinstance(schema, Mapping):
            return cls("STRING")
        kind = schema.get("type", "string")
        if isinstance(kind, list):  # ["string", "null"]
            kind = next((k for k in kind if k != "null"), "string")
        props = schema.get("properties")
        enum = schema.get("enum")
        low, high = schema.get("minimum"), schema.get("maximum")
        return cls(
            str(kind).upper(),
            enum=list(enum) if isinstance(enum, list) and enum else None,
            items=cls.of_json(schema["items"]) if "items" in schema else None,
            properties=(
                {str(k): cls.of_json(v) for k, v in props.items()}
                if isinstance(props, Mapping) else None
            ),
            minimum=float(low) if isinstance(low, (int, float)) else None,
            maximum=float(high) if isinstance(high, (int, float)) else None,
        )


class _Words:
    """The candidate values in a user's turn, each usable once (by its span in the text)."""

    def __init__(self, text: str, names: frozenset[str]) -> None:
        self.text = text
        self.used: list[tuple[int, int]] = []
        self.quoted = [(m.start(), m.end(), next(g for g in m.groups() if g is not None))
                       for m in _QUOTED.finditer(text)]
        self.numbers = [(m.start(), m.end(), m.group()) for m in _NUMBER.finditer(text)]
        # Runs of capitalised words ("New York"), separated by nothing but spaces.
        self.capitalised: list[tuple[int, int, str]] = []
        run: list[tuple[int, int, str]] = []
        for match in [*_WORD.finditer(text), None]:
            keep = match is not None and self._is_name(match, names)
            if keep and match is not None and (
                    not run or not text[run[-1][1]:match.start()].strip()):
                run.append((match.start(), match.end(), match.group()))
                continue
            if run:
                self.capitalised.append((run[0][0], run[-1][1], " ".join(w for *_, w in run)))
            run = [(match.start(), match.end(), match.group())] if keep and match else []

    def _is_name(self, word: re.Match[str], names: frozenset[str]) -> bool:
        return (word.group()[0].isupper()
                and word.group() not in _NOT_NAMES
                and word.group().lower() not in names
                and not _SENTENCE_START.search(self.text[: word.start()])
                and not self._inside(word.start(), self.quoted))

    @staticmethod
    def _inside(position: int, spans: list[tuple[int, int, str]]) -> bool:
        return any(start <= position < end for start, end, _ in spans)

    def free(self, start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in self.used)

    def take(self, pool: list[tuple[int, int, str]]) -> str | None:
        for start, end, value in pool:
            if self.free(start, end):
                self.used.append((start, end))
                return value
        return None

    def named(self, name: str, spec: _Spec) -> Any:
        """The value written right after the parameter's name, or None.

        ``city: Paris``, ``city=Paris``, ``city is Paris``, ``city "Le Mans"``, ``days 3``;
        after a bare space only a quoted, capitalised, numeric or enum value counts, so
        that "the city weather" does not make ``weather`` a city.
        """
        spelled = r"[\s_]+".join(map(re.escape, re.split(r"[_\s]+", name)))
        pattern = re.compile(rf"(?<!\w){spelled}(?!\w)\s*(?:(?P<sep>[:=])|\s+is\b)?\s*", re.I)
        for match in pattern.finditer(self.text):
            rest = match.end()
            for pool in (self.quoted, self.numbers, self.capitalised):
                for start, end, value in pool:
                    if start == rest and self.free(start, end):
                        converted = _convert(value, spec)
                        if converted is not None:
                            self.used.append((start, end))
                            return converted
            word = _WORD.match(self.text, rest)
            if word is not None and self.free(word.start(), word.end()):
                enum = _enum_member(word.group(), spec)
                if enum is not None or (match.group("sep") and spec.kind in ("STRING",
                                                                              "BOOLEAN")):
                    value = enum if enum is not None else _convert(word.group(), spec)
                    if value is not None:
                        self.used.append((word.start(), word.end()))
                        return value
        return None


def _enum_member(word: str, spec: _Spec) -> Any:
    for member in spec.enum or ():
        if isinstance(member, str) and member.lower() == word.lower():
            return member
    return None


def _convert(value: str, spec: _Spec) -> Any:
    """``value`` (text from the turn) as the parameter's type, or None if it is not one."""
    if spec.enum:
        return _enum_member(value, spec)
    if spec.kind == "STRING":
        return value
    if spec.kind in ("INTEGER", "NUMBER"):
        try:
            number = float(value)
        except ValueError:
            return None
        if spec.kind == "NUMBER":
            return number
        return int(number) if number.is_integer() and "." not in value else None
    if spec.kind == "BOOLEAN":
        return _BOOLEANS.get(value.lower())
    return None


def _fallback(spec: _Spec, name: str, words: _Words) -> Any:
    """A deterministic value when the turn says nothing about the parameter."""
    if spec.enum:
        return spec.enum[0]
    if spec.kind == "STRING":
        return name
    if spec.kind in ("INTEGER", "NUMBER"):
        value = 1.0 if spec.kind == "INTEGER" else 1.5
        if spec.minimum is not None:
            value = max(value, spec.minimum)
        if spec.maximum is not None:
            value = min(value, spec.maximum)
        return int(value) if spec.kind == "INTEGER" else value
    if spec.kind == "BOOLEAN":
        return True
    if spec.kind == "ARRAY":
        return [_fallback(spec.items or _Spec("STRING"), name, words)]
    if spec.kind == "OBJECT":
        return _fill(spec.properties or {}, words)
    return None


def _mentioned_enum(spec: _Spec, words: _Words) -> Any:
    """The enum member the turn mentions first (as a whole word, any case), or None."""
    found = []
    for member in spec.enum or ():
        if not isinstance(member, str):
            continue
        pattern = rf"(?<!\w){re.escape(member)}(?!\w)"
        for match in re.finditer(pattern, words.text, re.I):
            if words.free(match.start(), match.end()):
                found.append((match.start(), match.end(), member))
                break
    found.sort()
    return words.take(found)


def _from_words(spec: _Spec, words: _Words) -> Any:
    """The next unused value of the parameter's type in the turn, or None."""
    if spec.enum:
        return _mentioned_enum(spec, words)
    if spec.kind == "STRING":
        return words.take(words.quoted) or words.take(words.capitalised)
    if spec.kind in ("INTEGER", "NUMBER"):
        fitting = [x for x in words.numbers if _convert(x[2], spec) is not None]
        taken = words.take(fitting)
        return None if taken is None else _convert(taken, spec)
    if spec.kind == "ARRAY" and spec.items is not None and spec.items.kind != "OBJECT":
        values = []
        while (value := _from_words(spec.items, words)) is not None:
            values.append(value)
        return values or None
    return None


def _fill(properties: Mapping[str, _Spec], words: _Words) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # First what the user spelled out by name, then values by type in the order of the
    # parameters, then the fallbacks.
    for key, spec in properties.items():
        value = words.named(key, spec)
        if value is not None:
            out[key] = value
    for key, spec in properties.items():
        if key not in out:
            value = _from_words(spec, words)
            if value is not None:
                out[key] = value
    for key, spec in properties.items():
        if key not in out:
            out[key] = _fallback(spec, key, words)
    return {key: out[key] for key in properties}  # the declaration's order


def sample_args(schema: w.Schema | None, text: str = "") -> dict[str, Any]:
    """Arguments for a function whose ``parameters`` are ``schema``, from the user's words.

    Every property is filled, in this order of preference:

    1. a value written after the parameter's name: ``city Paris``, ``city: Paris``,
       ``city=Paris``, ``city is Paris``, ``city "Le Mans"``, ``days 3`` (the name in any
       case, underscores as spaces: ``max_results 5`` or ``max results 5``);
    2. for an ``enum``, a member mentioned anywhere (whole word, any case);
    3. for a string, the next quoted text (``"..."``, ``'...'``, ``“...”``), else the next
       run of capitalised words (``New York``) that does not start a sentence and is not
       "I" or a parameter's name;
    4. for an integer or a number, the next number that fits (``3.5`` is no integer);
    5. for an array of strings or numbers, every remaining value of that kind;
    6. otherwise a fixed value: the parameter's name for a string, the first enum member,
       1 (integer) or 1.5 (number) moved inside ``minimum``/``maximum``, ``True``, a
       one-item array, an object filled the same way.

    Each piece of text is used once. What it cannot do: understand the sentence. Lower-case
    names ("weather in paris"), dates and times, units, negations ("not Paris"), ``pattern``
    and length limits, and values the user only implies are beyond it; for those, script
    the exchange with a fault or a raw message (:meth:`LiveEmulator.send_raw`).

    Args:
        schema: The declaration's ``parameters``.
        text: The user's turn that made the model call the function (its transcript for
            audio).
    """
    if schema is None or not schema.properties:
        return {}
    spec = _Spec.of_schema(schema)
    assert spec.properties is not None
    return _fill(spec.properties, _Words(text, frozenset(k.lower() for k in spec.properties)))


def sample_args_json_schema(schema: Mapping[str, Any] | None, text: str = "") -> dict[str, Any]:
    """The same as :func:`sample_args` for ``parametersJsonSchema`` (lower-case types)."""
    spec = _Spec.of_json(schema)
    if not spec.properties:
        return {}
    return _fill(spec.properties, _Words(text, frozenset(k.lower() for k in spec.properties)))
