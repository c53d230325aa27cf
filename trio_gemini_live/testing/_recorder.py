"""The recording side of issue 15: :class:`Recorder`.

The format is described in ``_recording`` (with the reader). Here: the producer side, which
runs in the session's Trio thread and only appends to a bounded buffer, and the writer
thread, which decodes, redacts, rewrites media and writes lines. The connections it wraps
(:class:`RecordingConnection`, re-exported here) feed the producer side from
``_recording_connection`` (split out, issue 11: modules of at most about 700 lines).
"""

from __future__ import annotations

import binascii
import collections
import datetime
import logging
import os
import threading
import wave
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import msgspec
import trio

from .._mime import INPUT_RATE, OUTPUT_RATE, parse_mime
from .._version import __version__
from ._recording import (
    _REDACTED_B,
    _SECRET_MARKERS,
    AUDIO_MODES,
    FORMAT,
    FORMAT_VERSION,
    AudioMode,
    EndedBy,
    Sender,
    _b64_size,
    _blobs,
    _redact_url,
    _route,
    _scrub,
    message_kind,
)
from ._recording_connection import CLIENT, Connect, websocket_connect
from ._recording_connection import RecordingConnection as RecordingConnection

__all__ = ["Recorder", "RecordingConnection"]

log = logging.getLogger("trio_gemini_live.recording")

#: Secrets shorter than this are not replaced in bodies: they would match ordinary text (and
#: base64 audio); real keys and tokens are 39 characters and more.
_MIN_SECRET: Final = 8
_SECRET_HEADERS: Final = frozenset({"x-goog-api-key", "authorization"})
#: How long leaving ``async with Recorder(...)`` waits for the writer to finish.
_CLOSE_TIMEOUT: Final = 10.0
_SENDERS: Final[tuple[Sender, Sender]] = ("client", "server")
_encoder: Final = msgspec.json.Encoder()


# --- writing --------------------------------------------------------------------------------


class _Wav:
    """One WAV side file: the PCM audio of one connection, direction and rate."""

    def __init__(self, path: Path, rate: int) -> None:
        self.name = path.name
        self.writer = wave.open(str(path), "wb")  # noqa: SIM115 - closed by Recorder
        self.writer.setnchannels(1)
        self.writer.setsampwidth(2)
        self.writer.setframerate(rate)
        self.offset = 0

    def append(self, pcm: bytes) -> int:
        offset = self.offset
        self.writer.writeframesraw(pcm)
        self.offset += len(pcm)
        return offset


class Recorder:
    """Records a session's frames to a JSON-lines file (issue 15), without blocking it.

    ``open_live_session(..., record="session.jsonl")`` makes one; make your own to choose
    the options, then pass it as ``record=``. Or, with any ``connect=`` hook (or none:
    trio-websocket), :meth:`wrap_connect` records every connection the hook opens::

        async with Recorder("session.jsonl", audio="wav") as recorder:
            async with open_live_session(nursery, model=..., connect=recorder.wrap_connect()):
                ...

    The session's tasks only append each frame to a bounded buffer (a fraction of a
    microsecond); a worker thread decodes, redacts, rewrites media and writes. If the buffer
    is full (the disk is far behind), frames are dropped, never waited for: the count is in
    :attr:`dropped`, in a ``gap`` line where they were lost and in the trailer, and a replay
    refuses such a recording.

    Args:
        path: the ``.jsonl`` file to write (replaced if it exists; WAV side files are written
            beside it, named after it).
        audio: what to do with audio (and other media) data:
            ``"truncate"`` (default) keeps only its length. Recordings are attached to bug
            reports and committed next to tests: they should hold no one's voice and stay
            small (a 10-minute call: 2.4 MB, against 43 MB with the base64 kept,
            ``benchmarks/results/recording.md``); and a replay compares input audio by
            length and answers with silence of the recorded length, so timing, turns,
            transcripts and tool calls replay exactly. ``"wav"`` writes PCM audio to WAV
            files beside the recording (playable, a quarter smaller than base64; the
            replay sends the real audio). ``"keep"`` keeps the base64 as sent.
        secrets: values never to write (API keys, tokens), in addition to those read from
            the handshake headers shown to :meth:`wrap`.
        max_buffered_frames: frames the buffer holds before it drops.
        max_buffered_bytes: bytes of frames the buffer holds before it drops.

    Raises:
        ValueError: an unknown ``audio`` mode, or a bound below 1.

    One recorder records one session, from one Trio run. It is not a context for several
    sessions: a second :meth:`start` raises ``RuntimeError``.

    Under ``trio.testing``'s autojump clock, close with :meth:`close` rather than
    :meth:`aclose`: waiting for a thread lets the mock clock jump to the next deadline.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        audio: AudioMode = "truncate",
        secrets: Iterable[str] = (),
        max_buffered_frames: int = 10_000,
        max_buffered_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        if audio not in AUDIO_MODES:
            raise ValueError(f"audio must be one of {', '.join(AUDIO_MODES)}, not {audio!r}")
        if max_buffered_frames < 1 or max_buffered_bytes < 1:
            raise ValueError("the buffer bounds must be at least 1")
        self._path = Path(path)
        self._audio: AudioMode = audio
        self._max_frames = max_buffered_frames
        self._max_bytes = max_buffered_bytes
        self._secrets: list[bytes] = []
        for secret in secrets:
            self.add_secret(secret)
        self._info: dict[str, Any] = {}
        # The buffer: a deque (appends and pops are atomic) of tuples; the
        # producer (the session's Trio thread) only appends and the writer only pops. Byte
        # counts in and out are kept by one side each, so neither needs a lock.
        self._queue: collections.deque[Any] = collections.deque()
        self._bytes_in = 0
        self._bytes_out = 0
        self._dropped = 0  # producer side: frames refused by a full buffer
        self._lost = 0  # writer side: frames not written after a write error
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._file: Any = None
        self._clock: Callable[[], float] = trio.current_time
        self._t0 = 0.0
        self._closing = False
        self._closed = False
        self._end_t = 0.0
        self._error: BaseException | None = None
        self._next_index = 0
        self._open: dict[int, RecordingConnection] = {}
        # Writer-side state.
        self._frames = 0
        self._connections = 0
        self._gaps_reported = 0
        self._held: list[bytes] | None = []  # lines held until the header is known
        self._wavs: dict[tuple[int, int, int], _Wav] = {}
        self._wav_names: set[str] = set()

    # -- public --------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        target: str | os.PathLike[str] | Recorder,
        *,
        model: str | None = None,
        api_version: str | None = None,
        backend: str | None = None,
        secrets: Iterable[str] = (),
    ) -> Recorder:
        """A started recorder: ``target`` itself if it is one, else a new one on that path.

        What ``open_live_session(record=...)`` calls; the arguments are those of
        :meth:`start`.
        """
        recorder = target if isinstance(target, Recorder) else cls(target)
        return recorder.start(model=model, api_version=api_version, backend=backend,
                              secrets=secrets)

    def start(
        self,
        *,
        model: str | None = None,
        api_version: str | None = None,
        backend: str | None = None,
        secrets: Iterable[str] = (),
    ) -> Recorder:
        """Create the file and start the writer thread; returns the recorder.

        Args:
            model, api_version, backend: for the header. Those not given are read from the
                first connection's URL and ``setup`` message.
            secrets: more values never to write.

        Raises:
            OSError: the file cannot be created (nothing is started then).
            RuntimeError: the recorder was started before.
        """
        if self._thread is not None or self._closed:
            raise RuntimeError("this Recorder was already started (or closed): one recorder "
                               "per session")
        for secret in secrets:
            self.add_secret(secret)
        self._info = {"model": model, "api_version": api_version, "backend": backend}
        self._file = open(self._path, "wb")  # noqa: SIM115 - closed by the writer thread
        try:
            self._clock = trio.current_time
            self._t0 = self._clock()
        except RuntimeError:  # not in a Trio run: times come from the monotonic clock
            import time

            self._clock = time.monotonic
            self._t0 = self._clock()
        self._info["created"] = datetime.datetime.now(datetime.UTC).isoformat(
            timespec="seconds")
        self._thread = threading.Thread(target=self._run, name=f"recorder {self._path.name}",
                                        daemon=True)
        self._thread.start()
        return self

    @property
    def path(self) -> Path:
        """The recording's file."""
        return self._path

    @property
    def audio(self) -> AudioMode:
        """The audio mode (``"truncate"``, ``"keep"`` or ``"wav"``)."""
        return self._audio

    @property
    def dropped(self) -> int:
        """Frames that were not written: the buffer was full, or writing failed."""
        return self._dropped + self._lost

    @property
    def frames(self) -> int:
        """Frames written so far (by the writer thread)."""
        return self._frames

    @property
    def error(self) -> BaseException | None:
        """Why writing stopped (e.g. the disk is full), or ``None``."""
        return self._error

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` (or :meth:`aclose`) was called."""
        return self._closed

    def add_secret(self, secret: str) -> None:
        """Never write ``secret`` (an API key or a token): it becomes ``<redacted>``.

        Values shorter than 8 characters are ignored (they would match ordinary text); a
        real key or token is much longer.
        """
        if not isinstance(secret, str):
            raise TypeError("a secret must be a string")
        if len(secret) < _MIN_SECRET:
            return
        encoded = secret.encode()
        if encoded not in self._secrets:
            # Longest first: a secret containing another is replaced whole.
            self._secrets = sorted([*self._secrets, encoded], key=len, reverse=True)

    def wrap(self, conn: Any, *, index: int | None = None, url: str = "",
             headers: Iterable[tuple[str, str]] = ()) -> RecordingConnection:
        """Record what goes through ``conn``, a connection whose handshake is done.

        Args:
            conn: a message-level connection (``get_message``, ``send_message``, ``aclose``,
                ``ping``, ``closed``; ``send_messages`` and ``try_send_message`` are
                recorded too when it has them).
            index: the connection's number (default: the next one, from 0).
            url: the URL it was opened with (secret query values are redacted).
            headers: its handshake headers: never written; secret values among them
                (``x-goog-api-key``, ``authorization``) are redacted wherever they appear.

        Returns:
            a connection with the same methods, to use in place of ``conn``. The previous
            connection's end is recorded now if it was not seen.
        """
        if self._thread is None:
            self.start()
        for name, value in headers:
            if name.lower() in _SECRET_HEADERS:
                scheme, sep, token = value.partition(" ")
                self.add_secret(token if sep else scheme)
        shown, found = _redact_url(url)
        for value in found:
            self.add_secret(value)
        for other in list(self._open.values()):
            other.finish()
        if index is None:
            index = self._next_index
        self._next_index = max(self._next_index, index + 1)
        wrapped = RecordingConnection(conn, self, index)
        self._open[index] = wrapped
        self._put((2, index, self._now(), shown), len(shown))
        return wrapped

    def wrap_connect(self, connect: Connect | None = None, *,
                     ssl_context: Any = None) -> Connect:
        """A ``connect=`` hook for ``open_live_session`` that records every connection.

        Args:
            connect: the hook to wrap (e.g. ``LiveEmulator.connect_in_memory()``); it must
                yield a message-level connection. Default: trio-websocket over TCP (and TLS
                for ``wss://``, with ``ssl_context``).
            ssl_context: TLS settings of the default hook.

        The recorder is started on the first connection if it was not; closing it stays
        the caller's job (:meth:`aclose`, or ``async with``).
        """
        base = connect if connect is not None else websocket_connect(ssl_context)

        @asynccontextmanager
        async def hook(url: str, headers: list[tuple[str, str]]) -> AsyncIterator[Any]:
            async with base(url, headers) as conn:
                if not hasattr(conn, "get_message"):
                    raise TypeError(
                        "Recorder.wrap_connect needs a hook that yields a message-level "
                        "connection (get_message/send_message), not a byte stream; pass "
                        "record= to open_live_session instead")
                wrapped = self.wrap(conn, url=url, headers=headers)
                try:
                    yield wrapped
                finally:
                    wrapped.finish()

        return hook

    def close(self) -> None:
        """Record the open connections' ends, write the trailer and close the files.

        Blocks until the writer thread has written what is buffered (from Trio, prefer
        :meth:`aclose`). Never raises for a write error: it is logged and kept in
        :attr:`error`. Calling it again only waits for the file to be complete (e.g. after
        an :meth:`aclose` whose wait was abandoned: the session's, under a test's
        autojump clock).
        """
        thread = self._begin_close()
        if thread is not None:
            thread.join()
            self._report()
        elif self._thread is not None:
            self._thread.join()

    async def aclose(self) -> None:
        """:meth:`close` without blocking Trio: the wait runs in a worker thread.

        Cancellation abandons the wait, not the writing: the writer thread finishes the
        file by itself.
        """
        thread = self._begin_close()
        if thread is not None:
            await trio.to_thread.run_sync(thread.join, abandon_on_cancel=True)
            self._report()
        else:
            await trio.lowlevel.checkpoint()

    async def __aenter__(self) -> Recorder:
        if self._thread is None:
            self.start()
        await trio.lowlevel.checkpoint()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # Closed even when cancelled, but not waited for forever (a hung disk): after the
        # bound, the writer thread finishes the file by itself.
        with trio.move_on_after(_CLOSE_TIMEOUT, shield=True):
            await self.aclose()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("recording" if self._thread else "not started")
        return (f"<Recorder {str(self._path)!r} audio={self._audio} {state} "
                f"frames={self._frames} dropped={self.dropped}>")

    # -- the producer side (the session's thread) -----------------------------------------

    def _now(self) -> float:
        return self._clock() - self._t0

    def _put(self, item: Any, size: int) -> bool:
        """Buffer ``item`` for the writer; ``False`` if it was dropped (or recording ended)."""
        if self._closing:
            return False
        # Only frames are dropped: a connection's open and end lines are tiny and few, and
        # without them the file would not be a valid recording.
        if item[0] == 0 and (len(self._queue) >= self._max_frames or self._error is not None
                             or self._bytes_in - self._bytes_out + size > self._max_bytes):
            self._dropped += 1
            return False
        self._bytes_in += size
        self._queue.append(item)
        if not self._wake.is_set():
            self._wake.set()
        return True

    def _frame(self, index: int, sender: int, data: str | bytes) -> None:
        self._put((0, index, self._now(), sender, data), len(data))

    def _end(self, index: int, by: EndedBy, code: int | None, reason: str) -> None:
        self._open.pop(index, None)
        self._put((1, index, self._now(), by, code, reason), len(reason))

    def _begin_close(self) -> threading.Thread | None:
        if self._closed:
            return None
        self._closed = True
        for conn in list(self._open.values()):
            conn.finish()
        self._end_t = self._now() if self._thread is not None else 0.0
        self._closing = True
        self._wake.set()
        return self._thread

    def _report(self) -> None:
        if self._error is not None:
            log.warning("the recording %s is incomplete: writing failed: %s", self._path,
                        self._error)
        elif self.dropped:
            log.warning("the recording %s lost %d frames (the writer fell behind)",
                        self._path, self.dropped)

    # -- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                self._wake.wait(0.5)
                self._wake.clear()
                closing = self._closing  # read first: what was put before it is drained
                self._drain()
                if closing and not self._queue:
                    break
                self._file.flush()
            self._finish()
        except BaseException as exc:
            self._error = exc
            lost = sum(1 for item in self._queue if item[0] == 0)
            self._lost += lost
            self._queue.clear()
        finally:
            for wav in self._wavs.values():
                try:
                    wav.writer.close()
                except Exception as exc:  # the first error is the one reported
                    self._error = self._error or exc
            try:
                self._file.close()
            except Exception as exc:
                self._error = self._error or exc

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            item = queue.popleft()
            kind = item[0]
            self._gap(item[2])
            if kind == 0:
                _, conn, t, sender, data = item
                self._write_frame(conn, sender, t, data)
                self._bytes_out += len(data)
            elif kind == 1:
                _, conn, t, by, code, reason = item
                self._line({"t": _time(t), "c": conn,
                            "end": {"by": by, "code": code, "reason": reason}}, ())
                self._bytes_out += len(reason)
            else:
                _, conn, t, url = item
                self._connections += 1
                backend, version = _route(url)
                if backend is not None:
                    self._info["backend"] = self._info["backend"] or backend
                    self._info["api_version"] = self._info["api_version"] or version
                self._line({"t": _time(t), "c": conn, "open": {"url": url}}, ())
                self._bytes_out += len(url)

    def _gap(self, t: float) -> None:
        dropped = self._dropped
        if dropped > self._gaps_reported:
            self._line({"t": _time(t), "gap": {"frames": dropped - self._gaps_reported}}, ())
            self._gaps_reported = dropped

    def _write_frame(self, conn: int, sender: int, t: float, data: str | bytes) -> None:
        entry: dict[str, Any] = {"t": _time(t), "c": conn, "from": _SENDERS[sender]}
        keep: list[str] = []
        try:
            message = msgspec.json.decode(data)
        except msgspec.DecodeError:
            message = None
        if isinstance(message, dict) and message:
            entry["kind"] = message_kind(message)
            if self._held is not None and sender == CLIENT and "setup" in message:
                setup = message["setup"]
                if isinstance(setup, dict) and isinstance(setup.get("model"), str):
                    self._info["model"] = self._info["model"] or _model_name(setup["model"])
            keep = self._media(conn, sender, message)
            entry["msg"] = message
        else:
            entry["kind"] = "raw"
            if isinstance(data, str):
                entry["raw"] = data
            else:
                try:
                    entry["raw"] = data.decode()
                except UnicodeDecodeError:
                    entry["raw_b64"] = binascii.b2a_base64(data, newline=False).decode()
        if isinstance(data, bytes):
            entry["binary"] = True
        self._line(entry, keep)
        self._frames += 1

    def _media(self, conn: int, sender: int, message: dict[str, Any]) -> list[str]:
        """Rewrite the message's media as the audio mode says; the kept data strings."""
        keep: list[str] = []
        for blob in _blobs(message):
            data = blob.get("data")
            if not isinstance(data, str):
                continue
            if self._audio == "keep":
                keep.append(data)
                continue
            mime = blob.get("mimeType")
            pcm_rate = None
            if self._audio == "wav" and isinstance(mime, str):
                try:
                    _, pcm_rate = parse_mime(
                        mime, default_rate=INPUT_RATE if sender == CLIENT else OUTPUT_RATE)
                except ValueError:
                    pcm_rate = None  # not PCM audio (video, another codec): truncated
            if pcm_rate is None:
                blob["data"] = {"bytes": _b64_size(data)}
                continue
            try:
                pcm = binascii.a2b_base64(data.replace("-", "+").replace("_", "/"))
            except binascii.Error:
                blob["data"] = {"bytes": _b64_size(data)}
                continue
            wav = self._wav(conn, sender, pcm_rate)
            blob["data"] = {"bytes": len(pcm), "wav": wav.name, "offset": wav.append(pcm)}
        return keep

    def _wav(self, conn: int, sender: int, rate: int) -> _Wav:
        key = (conn, sender, rate)
        wav = self._wavs.get(key)
        if wav is None:
            stem = self._path.name.removesuffix(".jsonl")
            name = f"{stem}.c{conn}.{_SENDERS[sender]}.wav"
            number = 2
            while name in self._wav_names:
                name = f"{stem}.c{conn}.{_SENDERS[sender]}-{number}.wav"
                number += 1
            self._wav_names.add(name)
            wav = self._wavs[key] = _Wav(self._path.with_name(name), rate)
        return wav

    def _line(self, entry: dict[str, Any], keep: Sequence[str]) -> None:
        line = _encoder.encode(entry)
        for secret in self._secrets:
            if secret in line:
                line = line.replace(secret, _REDACTED_B)
        if any(marker in line for marker in _SECRET_MARKERS):
            line = _scrub(line, keep)
        if self._held is not None:
            self._held.append(line)
            if "from" in entry and entry["from"] == "client":
                self._release()
            return
        self._file.write(line + b"\n")

    def _release(self) -> None:
        """Write the header (now that the first setup told the model) and the held lines."""
        held, self._held = self._held or [], None
        header = {"format": FORMAT, "version": FORMAT_VERSION, "library": __version__,
                  "model": self._info.get("model"), "api_version": self._info.get("api_version"),
                  "backend": self._info.get("backend"), "created": self._info.get("created"),
                  "audio": self._audio}
        self._line(header, ())
        for line in held:
            self._file.write(line + b"\n")

    def _finish(self) -> None:
        self._gap(self._end_t)
        if self._held is not None:
            self._release()
        self._line({"t": _time(self._end_t), "trailer": {
            "frames": self._frames, "dropped": self._dropped + self._lost,
            "connections": self._connections}}, ())


def _time(t: float) -> float:
    return round(t, 6)


def _model_name(model: str) -> str:
    """``models/x`` -> ``x``; a Vertex resource name is kept whole."""
    return model.removeprefix("models/")
