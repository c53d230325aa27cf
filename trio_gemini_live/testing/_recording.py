"""Session recordings (issue 15): every frame of a session, both ways, as JSON lines.

Record once against Google, replay forever (:mod:`._replay`), inspect in a bug report
(``trio-gemini-live inspect``). This module is the format, the writer and the reader.

The format (version 1), one JSON object per line, UTF-8:

* line 1, the header: ``{"format": "trio-gemini-live-recording", "version": 1,
  "library": "0.1.0", "model": ..., "api_version": ..., "backend": "gemini"|"vertex",
  "created": "2026-11-01T12:00:00+00:00", "audio": "truncate"|"keep"|"wav"}``;
* a connection opens: ``{"t": 0.0012, "c": 0, "open": {"url": "wss://.../...BidiGenerateContent"}}``
  (``t``: seconds since the recording started, on Trio's clock; ``c``: the connection's
  number, 0 for the first);
* a frame: ``{"t": ..., "c": 0, "from": "client"|"server", "kind": "realtimeInput.audio",
  "msg": {...}}`` with ``"binary": true`` for a binary frame (Google sends its JSON in binary
  frames, PROTOCOL.md 2). A frame that is not a JSON object is kept as ``"raw": text`` (or
  ``"raw_b64"`` when it is not UTF-8 either), with kind ``"raw"``. The kind is the message's
  top-level keys joined by ``+``, with ``realtimeInput`` and ``serverContent`` followed by
  their own keys: ``setup``, ``realtimeInput.audio``, ``serverContent.modelTurn,turnComplete``,
  ``toolCall``, ``goAway``, ``serverContent.turnComplete+usageMetadata``...;
* a connection ends: ``{"t": ..., "c": 0, "end": {"by": "client"|"server"|"network",
  "code": 1011, "reason": "..."}}``, as the client saw it (``network``: no close frame,
  1006; ``by: client`` with ``code: null``: the client abandoned the connection);
* frames lost because the writer fell behind: ``{"t": ..., "gap": {"frames": N}}``;
* the trailer, last: ``{"t": ..., "trailer": {"frames": N, "dropped": D, "connections": K}}``.

Media in frames (audio and video blobs, ``{"mimeType": ..., "data": ...}``) is written as
the ``audio`` mode says: ``keep`` (the base64 as sent), ``truncate`` (``"data": {"bytes":
N}``: the default, see :class:`Recorder`) or ``wav`` (``"data": {"bytes": N, "wav":
"name.c0.server.wav", "offset": O}``: PCM audio goes to a WAV file per connection,
direction and rate beside the recording; other media is truncated).

Secrets are never written: no handshake headers at all; ``key`` / ``access_token`` query
values in URLs are replaced by ``<redacted>``; every secret value the recorder knows (the API
key, a bearer or ephemeral token: given to it, or read from the handshake headers it is shown)
is replaced wherever it appears, and so is anything that looks like a Google credential
(``AIza...`` API keys, ``auth_tokens/...``, ``ya29....`` access tokens). The reader refuses a
file that still contains such a pattern, naming the line.
"""

from __future__ import annotations

import binascii
import os
import re
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

from .._version import __version__

__all__ = [
    "AUDIO_MODES",
    "FORMAT",
    "FORMAT_VERSION",
    "RecordedConnection",
    "RecordedEnd",
    "RecordedFrame",
    "Recording",
    "RecordingError",
    "RecordingHeader",
    "audio_sizes",
    "first_text",
    "message_kind",
]

#: The header's ``format`` value.
FORMAT: Final = "trio-gemini-live-recording"
#: The format version this library writes, and the newest it reads.
FORMAT_VERSION: Final = 1
#: What :class:`Recorder` does with media: see its ``audio`` argument.
AUDIO_MODES: Final = ("truncate", "keep", "wav")
AudioMode: TypeAlias = Literal["truncate", "keep", "wav"]
Sender: TypeAlias = Literal["client", "server"]
EndedBy: TypeAlias = Literal["client", "server", "network"]

#: What a secret is replaced by.
REDACTED: Final = "<redacted>"
#: What a Google credential looks like; none may appear in a recording.
_SECRET_PATTERNS: Final = (
    ("a Google API key (AIza...)", re.compile(rb"AIza[0-9A-Za-z_\-]{35}")),
    ("an ephemeral token (auth_tokens/...)", re.compile(rb"auth_tokens/[0-9A-Za-z_\-.]+")),
    ("an OAuth access token (ya29....)", re.compile(rb"ya29\.[0-9A-Za-z_\-.]+")),
)
_SECRET_ANY: Final = re.compile(b"|".join(p.pattern for _, p in _SECRET_PATTERNS))
# A plain substring test first: ``in`` is a fast C search, the regular expression is not, and
# a kept base64 audio frame is several kilobytes.
_SECRET_MARKERS: Final = (b"AIza", b"auth_tokens/", b"ya29.")
_REDACTED_B: Final = REDACTED.encode()
_SECRET_QUERY: Final = frozenset({"key", "access_token"})
_GEMINI_PATH: Final = re.compile(
    r"/ws/google\.ai\.generativelanguage\.(v1beta|v1alpha|v1)\.GenerativeService\."
    r"BidiGenerateContent(?:Constrained)?$"
)
_VERTEX_PATH: Final = re.compile(
    r"/ws/google\.cloud\.aiplatform\.(v1beta1|v1)\.LlmBidiService/BidiGenerateContent$"
)
_EXPANDED: Final = frozenset({"realtimeInput", "serverContent"})
_encoder: Final = msgspec.json.Encoder()


class RecordingError(ValueError):
    """A recording that cannot be read: corrupt, truncated, too new, or holding a secret.

    Attributes:
        path: the recording's file.
        line: the line at fault (1 is the header), or ``None`` for the file as a whole.
    """

    def __init__(self, path: str | os.PathLike[str], line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


# --- messages -------------------------------------------------------------------------------


def message_kind(message: object) -> str:
    """A message's kind as recordings and replays compare them (see the module docstring).

    ``{"realtimeInput": {"audio": ...}}`` is ``"realtimeInput.audio"``; ``{"serverContent":
    {"modelTurn": ..., "turnComplete": true}, "usageMetadata": ...}`` is
    ``"serverContent.modelTurn,turnComplete+usageMetadata"``; anything but a non-empty JSON
    object is ``"raw"``.
    """
    if not isinstance(message, dict) or not message:
        return "raw"
    parts = []
    for key, value in message.items():
        if key in _EXPANDED and isinstance(value, dict) and value:
            parts.append(f"{key}.{','.join(value)}")
        else:
            parts.append(str(key))
    return "+".join(parts)


def _blobs(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The media blobs (``{"mimeType": ..., "data": ...}``) of a client or server message.

    Only where media travels (PROTOCOL.md 3.2, 3.3, 4): tool arguments and responses are the
    user's data, never rewritten even if they look like a blob.
    """
    realtime = message.get("realtimeInput")
    if isinstance(realtime, dict):
        for key in ("audio", "video"):
            blob = realtime.get(key)
            if isinstance(blob, dict) and "data" in blob:
                yield blob
        chunks = realtime.get("mediaChunks")
        if isinstance(chunks, list):
            yield from (b for b in chunks if isinstance(b, dict) and "data" in b)
    content = message.get("clientContent")
    if isinstance(content, dict):
        turns = content.get("turns")
        if isinstance(turns, list):
            for turn in turns:
                if isinstance(turn, dict):
                    yield from _part_blobs(turn.get("parts"))
    server = message.get("serverContent")
    if isinstance(server, dict):
        turn = server.get("modelTurn")
        if isinstance(turn, dict):
            yield from _part_blobs(turn.get("parts"))


def _part_blobs(parts: object) -> Iterator[dict[str, Any]]:
    if isinstance(parts, list):
        for part in parts:
            if isinstance(part, dict):
                blob = part.get("inlineData")
                if isinstance(blob, dict) and "data" in blob:
                    yield blob


def _b64_size(data: str) -> int:
    """The number of bytes a base64 string decodes to (standard or URL-safe, padded or not)."""
    size = len(data)
    pad = 0
    if size % 4 == 0 and size:
        pad = (data[-1] == "=") + (data[-2] == "=")
    return size * 3 // 4 - pad


def blob_size(blob: dict[str, Any]) -> int:
    """The byte length of a blob's data, as sent or as recorded (``{"bytes": N, ...}``)."""
    data = blob.get("data")
    if isinstance(data, str):
        return _b64_size(data)
    if isinstance(data, dict) and isinstance(data.get("bytes"), int):
        return int(data["bytes"])
    return 0


def audio_sizes(message: object) -> list[int]:
    """The byte lengths of the audio blobs of a message (recorded or as sent), in order."""
    if not isinstance(message, dict):
        return []
    return [
        blob_size(blob) for blob in _blobs(message)
        if str(blob.get("mimeType", "")).lower().startswith("audio/")
    ]


def _redact_url(url: str) -> tuple[str, list[str]]:
    """``url`` with secret query values replaced, and those values (PROTOCOL.md 1)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED, []
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    found: list[str] = []
    query = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name.lower() in _SECRET_QUERY:
            found.append(value)
            value = REDACTED
        query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query, safe="<>"))), found


def _route(url: str) -> tuple[str | None, str | None]:
    """``(backend, api_version)`` from a Live API URL's path, when it is one."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return None, None
    match = _GEMINI_PATH.search(path)
    if match:
        return "gemini", match.group(1)
    match = _VERTEX_PATH.search(path)
    if match:
        return "vertex", match.group(1)
    return None, None


def _scrub(line: bytes, keep: Sequence[str]) -> bytes:
    """``line`` with every credential-like pattern replaced, except inside kept media.

    A kept base64 audio frame contains "AIza" followed by 35 base64 letters now and then by
    pure chance (about once in a few thousand frames): that is audio, not a key.
    """
    def replace(match: re.Match[bytes]) -> bytes:
        text = match.group().decode("ascii")
        if any(text in data for data in keep):
            return match.group()
        return _REDACTED_B

    return _SECRET_ANY.sub(replace, line)


def _find_secret(line: bytes, keep: Sequence[str]) -> str | None:
    """What kind of credential ``line`` holds outside kept media, or ``None``."""
    if not any(marker in line for marker in _SECRET_MARKERS):
        return None
    for what, pattern in _SECRET_PATTERNS:
        for match in pattern.finditer(line):
            text = match.group().decode("ascii")
            if not any(text in data for data in keep):
                return what
    return None


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordingHeader:
    """A recording's first line.

    Attributes:
        version: the format version.
        library: the trio-gemini-live version that wrote it.
        model: the model (``None`` if unknown), API version and backend
            (``"gemini"``/``"vertex"``) of the session.
        created: when recording started (ISO 8601, UTC).
        audio: the audio mode (``"truncate"``, ``"keep"`` or ``"wav"``).
    """

    version: int
    library: str
    model: str | None
    api_version: str | None
    backend: str | None
    created: str
    audio: str


@dataclass(frozen=True)
class RecordedFrame:
    """One recorded frame.

    Attributes:
        line: its line in the file.
        t: seconds since the recording started.
        connection: the connection's number.
        sender: ``"client"`` or ``"server"``.
        kind: see :func:`message_kind`.
        message: the JSON message (media data as recorded), or ``None`` for a raw frame.
        raw: a frame that was not a JSON object, as sent (``None`` otherwise).
        binary: whether it was a binary frame.
    """

    line: int
    t: float
    connection: int
    sender: Sender
    kind: str
    message: dict[str, Any] | None
    raw: str | bytes | None = None
    binary: bool = False


@dataclass(frozen=True)
class RecordedEnd:
    """How a connection ended, as the client saw it.

    Attributes:
        line, t, connection: as for :class:`RecordedFrame`.
        by: ``"server"`` (a close frame), ``"network"`` (no close frame: 1006) or
            ``"client"`` (the client closed; ``code`` ``None``: it abandoned the connection).
        code, reason: the close code and reason.
    """

    line: int
    t: float
    connection: int
    by: EndedBy
    code: int | None
    reason: str


@dataclass
class RecordedConnection:
    """One recorded connection.

    Attributes:
        index: its number in the recording.
        url: the URL it was opened with (secrets redacted).
        opened_at: seconds since the recording started.
        line: the line of its ``open`` entry.
        timeline: its frames and its end, in order.
        end: its end (``None`` in a truncated recording).
    """

    index: int
    url: str
    opened_at: float
    line: int
    timeline: list[RecordedFrame | RecordedEnd] = field(default_factory=list)
    end: RecordedEnd | None = None

    @property
    def frames(self) -> list[RecordedFrame]:
        """The connection's frames, in order."""
        return [e for e in self.timeline if isinstance(e, RecordedFrame)]


class _Open(msgspec.Struct):
    url: str


class _End(msgspec.Struct):
    by: Literal["client", "server", "network"]
    code: int | None
    reason: str = ""


class _Gap(msgspec.Struct):
    frames: int


class _Trailer(msgspec.Struct):
    frames: int
    dropped: int
    connections: int


class _Line(msgspec.Struct):
    t: float | None = None
    c: int | None = None
    sender: Literal["client", "server"] | None = msgspec.field(default=None, name="from")
    kind: str | None = None
    msg: dict[str, Any] | None = None
    raw: str | None = None
    raw_b64: str | None = None
    binary: bool = False
    open: _Open | None = None
    end: _End | None = None
    gap: _Gap | None = None
    trailer: _Trailer | None = None


class _Header(msgspec.Struct):
    format: str
    version: int
    library: str = "?"
    model: str | None = None
    api_version: str | None = None
    backend: str | None = None
    created: str = ""
    audio: str = "keep"


_line_decoder: Final = msgspec.json.Decoder(_Line)


@dataclass
class Recording:
    """A recording, read and checked (:meth:`load`).

    Attributes:
        path: its file.
        header: its first line.
        connections: its connections, in order.
        gaps: ``(line, frames)`` for each place where frames were lost while recording.
        dropped: frames lost while recording (from the trailer; 0 without one).
        complete: whether it ends with its trailer.
    """

    path: Path
    header: RecordingHeader
    connections: list[RecordedConnection]
    gaps: list[tuple[int, int]]
    dropped: int
    complete: bool
    _pcm: dict[str, bytes] = field(default_factory=dict, repr=False)
    _zeros: dict[int, str] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, allow_incomplete: bool = False) -> Recording:
        """Read and check a recording.

        Args:
            path: the ``.jsonl`` file.
            allow_incomplete: accept a recording without its trailer (the recorder was not
                closed, or the file was cut): its last connection may have no end.
                ``trio-gemini-live inspect`` does; a replay does not.

        Raises:
            RecordingError: the file is not a recording, is corrupt or truncated, comes from
                a newer format version, references a missing WAV file, or contains something
                that looks like an unredacted credential. The message names the line.
            OSError: the file cannot be read.
        """
        return _read(Path(path), allow_incomplete)

    def frames(self, sender: Sender | None = None) -> list[RecordedFrame]:
        """Every frame (or only the client's or the server's), in order."""
        return [f for c in self.connections for f in c.frames
                if sender is None or f.sender == sender]

    def kinds(self, sender: Sender | None = None) -> list[str]:
        """The kinds of :meth:`frames`, in order."""
        return [f.kind for f in self.frames(sender)]

    def wire_frame(self, frame: RecordedFrame) -> str | bytes:
        """The frame to send again: recorded media is replaced by the real audio (``wav``)
        or by silence (zero bytes) of the recorded length (``truncate``)."""
        if frame.message is None:
            return frame.raw if frame.raw is not None else b""
        message = frame.message
        if any(isinstance(blob.get("data"), dict) for blob in _blobs(message)):
            message = msgspec.json.decode(_encoder.encode(message))  # a copy to rewrite
            for blob in _blobs(message):
                data = blob.get("data")
                if isinstance(data, dict):
                    blob["data"] = self._media_data(data)
        encoded = _encoder.encode(message)
        return encoded if frame.binary else encoded.decode()

    def _media_data(self, ref: dict[str, Any]) -> str:
        size = int(ref.get("bytes", 0))
        name = ref.get("wav")
        if isinstance(name, str):
            pcm = self._pcm.get(name)
            if pcm is None:
                pcm = self._pcm[name] = _wav_pcm(self.path.with_name(name))
            offset = int(ref.get("offset", 0))
            return binascii.b2a_base64(pcm[offset:offset + size], newline=False).decode()
        zeros = self._zeros.get(size)
        if zeros is None:
            zeros = self._zeros[size] = binascii.b2a_base64(bytes(size), newline=False).decode()
        return zeros


def _wav_pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as reader:
        return reader.readframes(reader.getnframes())


def _wav_size(path: Path) -> int:
    with wave.open(str(path), "rb") as reader:
        return reader.getnframes() * reader.getsampwidth() * reader.getnchannels()


def _read(path: Path, allow_incomplete: bool) -> Recording:
    data = path.read_bytes()
    if not data.strip():
        raise RecordingError(path, None, "the file is empty: not a recording")
    lines = data.split(b"\n")
    ends_cleanly = lines[-1] == b""
    if ends_cleanly:
        lines.pop()
    header = _read_header(path, lines[0])
    connections: list[RecordedConnection] = []
    by_index: dict[int, RecordedConnection] = {}
    gaps: list[tuple[int, int]] = []
    trailer: _Trailer | None = None
    wav_sizes: dict[str, int] = {}
    for number, raw in enumerate(lines[1:], start=2):
        last = number == len(lines)
        if trailer is not None:
            raise RecordingError(path, number, "a line after the trailer (two recordings "
                                 "written to one file?)")
        if not raw.strip():
            raise RecordingError(path, number, "an empty line")
        try:
            entry = _line_decoder.decode(raw)
        except msgspec.DecodeError as exc:
            if last and not ends_cleanly:
                raise RecordingError(path, number, "the line is incomplete: the recording "
                                     "was truncated") from None
            raise RecordingError(path, number, f"not a valid recording line: {exc}") from None
        if entry.t is None or entry.t < 0:
            raise RecordingError(path, number, "no valid time offset 't'")
        keep: list[str] = []
        if entry.sender is not None:
            conn = _live(path, number, by_index, entry.c)
            frame, keep = _read_frame(path, number, conn.index, entry, wav_sizes)
            conn.timeline.append(frame)
        elif entry.open is not None:
            if entry.c is None or entry.c in by_index:
                raise RecordingError(path, number, "a connection opened twice (or without "
                                     "a number)")
            if connections and entry.c < connections[-1].index:
                raise RecordingError(path, number, "connections out of order")
            conn = RecordedConnection(entry.c, entry.open.url, entry.t, number)
            connections.append(conn)
            by_index[entry.c] = conn
        elif entry.end is not None:
            conn = _live(path, number, by_index, entry.c)
            conn.end = RecordedEnd(number, entry.t, conn.index, entry.end.by, entry.end.code,
                                   entry.end.reason)
            conn.timeline.append(conn.end)
        elif entry.gap is not None:
            gaps.append((number, entry.gap.frames))
        elif entry.trailer is not None:
            trailer = entry.trailer
        else:
            raise RecordingError(path, number, "a line that is neither a frame, an open, an "
                                 "end, a gap nor a trailer")
        what = _find_secret(raw, keep)
        if what is not None:
            raise RecordingError(path, number, f"contains what looks like {what}, not "
                                 "redacted: this file was not written by trio-gemini-live's "
                                 "recorder, or was edited; remove the secret (and revoke it)")
    if trailer is None and not allow_incomplete:
        raise RecordingError(path, len(lines), "the recording ends here without its "
                             "trailer: it was truncated, or its recorder was not closed")
    return Recording(path=path, header=header, connections=connections, gaps=gaps,
                     dropped=trailer.dropped if trailer else sum(g for _, g in gaps),
                     complete=trailer is not None)


def _read_header(path: Path, raw: bytes) -> RecordingHeader:
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        value = None
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise RecordingError(path, 1, f"not a trio-gemini-live recording (no {FORMAT!r} "
                             "header)")
    try:
        header = msgspec.convert(value, _Header)
    except msgspec.ValidationError as exc:
        raise RecordingError(path, 1, f"a malformed header: {exc}") from None
    if header.version > FORMAT_VERSION:
        raise RecordingError(path, 1, f"format version {header.version} is newer than this "
                             f"library reads (trio-gemini-live {__version__} reads up to "
                             f"{FORMAT_VERSION}): upgrade trio-gemini-live")
    if header.version < 1:
        raise RecordingError(path, 1, f"invalid format version {header.version}")
    if header.audio not in AUDIO_MODES:
        raise RecordingError(path, 1, f"unknown audio mode {header.audio!r}")
    what = _find_secret(raw, ())
    if what is not None:
        raise RecordingError(path, 1, f"contains what looks like {what}, not redacted")
    return RecordingHeader(header.version, header.library, header.model, header.api_version,
                           header.backend, header.created, header.audio)


def _live(path: Path, number: int, by_index: dict[int, RecordedConnection],
          index: int | None) -> RecordedConnection:
    conn = by_index.get(index) if index is not None else None
    if conn is None:
        raise RecordingError(path, number, f"connection {index} was never opened")
    if conn.end is not None:
        raise RecordingError(path, number, f"connection {index} already ended (line "
                             f"{conn.end.line})")
    return conn


def _read_frame(path: Path, number: int, index: int, entry: _Line,
                wav_sizes: dict[str, int]) -> tuple[RecordedFrame, list[str]]:
    assert entry.sender is not None and entry.t is not None
    keep: list[str] = []
    raw: str | bytes | None = None
    if entry.msg is not None:
        kind = message_kind(entry.msg)
        if entry.kind is not None and entry.kind != kind:
            raise RecordingError(path, number, f"the kind {entry.kind!r} does not match the "
                                 f"message ({kind!r})")
        for blob in _blobs(entry.msg):
            data = blob.get("data")
            if isinstance(data, str):
                keep.append(data)
            elif isinstance(data, dict):
                _check_media(path, number, data, wav_sizes)
            else:
                raise RecordingError(path, number, "media data that is neither base64 nor "
                                     "a recorded length")
    elif entry.raw is not None:
        kind, raw = "raw", entry.raw
        if entry.binary:
            raw = entry.raw.encode()
    elif entry.raw_b64 is not None:
        kind = "raw"
        try:
            raw = binascii.a2b_base64(entry.raw_b64)
        except binascii.Error:
            raise RecordingError(path, number, "raw_b64 is not base64") from None
    else:
        raise RecordingError(path, number, "a frame without 'msg', 'raw' or 'raw_b64'")
    frame = RecordedFrame(number, entry.t, index, entry.sender, kind, entry.msg, raw,
                          entry.binary)
    return frame, keep


def _check_media(path: Path, number: int, ref: dict[str, Any],
                 wav_sizes: dict[str, int]) -> None:
    size = ref.get("bytes")
    if not isinstance(size, int) or size < 0:
        raise RecordingError(path, number, "recorded media without a valid 'bytes' length")
    name = ref.get("wav")
    if name is None:
        return
    offset = ref.get("offset")
    if not isinstance(name, str) or not isinstance(offset, int) or offset < 0:
        raise RecordingError(path, number, "a malformed WAV reference")
    if Path(name).name != name or name in ("", ".", ".."):
        # A recording names files beside itself, never elsewhere.
        raise RecordingError(path, number, f"the WAV reference {name!r} is not a plain "
                             "file name")
    total = wav_sizes.get(name)
    if total is None:
        try:
            total = wav_sizes[name] = _wav_size(path.with_name(name))
        except FileNotFoundError:
            raise RecordingError(path, number, f"the audio file {name} is missing (WAV "
                                 "recordings come with their side files)") from None
        except (OSError, wave.Error, EOFError) as exc:
            raise RecordingError(path, number, f"the audio file {name} cannot be read: "
                                 f"{exc}") from None
    if offset + size > total:
        raise RecordingError(path, number, f"the audio file {name} is shorter than this "
                             f"frame needs ({offset + size} > {total} bytes)")


def first_text(value: Any) -> str | None:
    """The first ``text`` field of a message, for a readable report."""
    if isinstance(value, dict):
        text = value.get("text")
        if isinstance(text, str):
            return text
        for item in value.values():
            found = first_text(item)
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = first_text(item)
            if found is not None:
                return found
    return None
