"""Replay a recording (issue 15): a server that plays what Google's server did, and checks
that the client does what the recorded client did.

Served like the emulator (trio-websocket server side, over TCP, TLS or an in-memory stream).
The n-th connection it accepts plays the recording's n-th connection, entry by entry:

* a recorded client frame: wait for the client's next frame and compare it (its kind; audio
  by length, never by bytes; ``setup`` field by field, the resumption handle's value
  excepted). A client that is early is fine: its frames wait in a queue, read from the socket
  at once so that it never blocks;
* a recorded server frame: send it, at once (``pace="fast"``) or as long after the last
  client frame as it came in the recording (``pace="recorded"``);
* the recorded end: the server's close (code and reason), a drop (the stream is aborted, no
  close frame: the client sees 1006), or the client's own close, which is waited for.

Server frames are only ever sent after the client frames recorded before them arrived: a
client whose messages depend only on what it receives gets the same messages in the same
order as in the recording, so a recorded resumption replays as one.

The first divergence is reported: :attr:`ReplayServer.divergence`, the client's connection
closed with 1007 ``replay diverged: ...``, and :meth:`ReplayServer.serve` raising
:class:`ReplayDivergence`. A client that stops sending is a divergence too, after the
recorded gap plus ``wait_timeout``: never a hang.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import ssl
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn
from urllib.parse import urlsplit

import msgspec
import trio
import trio.testing
import trio_websocket

from ._memory import memory_connect
from ._recording import (
    RecordedConnection,
    RecordedEnd,
    RecordedFrame,
    Recording,
    RecordingError,
    _blobs,
    audio_sizes,
    blob_size,
    first_text,
    message_kind,
)

if TYPE_CHECKING:
    from .._session import LiveSession

__all__ = ["ReplayDivergence", "ReplayServer"]

log = logging.getLogger("trio_gemini_live.replay")

_MAX_MESSAGE: Final = 16 * 1024 * 1024  # PROTOCOL.md 2
_CLOSE_GRACE: Final = 5.0
_DIVERGED: Final = 1007
_SHOWN: Final = 60  # characters of a value shown in a divergence


class ReplayDivergence(AssertionError):
    """The client did not do what the recorded client did.

    An ``AssertionError``: in a test it is a failed expectation, not a crash.

    Attributes:
        connection: the connection's number.
        line: the recording's line that was expected (``None``: past the recording's end).
        expected: what the recording has there (a message kind and a detail).
        received: what the client did instead.
    """

    def __init__(self, path: str, connection: int, line: int | None, expected: str,
                 received: str) -> None:
        self.connection = connection
        self.line = line
        self.expected = expected
        self.received = received
        where = f"line {line}" if line is not None else "the end"
        super().__init__(f"replay of {path} diverged on connection {connection} at {where}: "
                         f"expected {expected}, received {received}")


@dataclass(frozen=True)
class _ClientClosed:
    code: int | None
    reason: str


class _Diverged(Exception):
    """Raised inside a connection's player to stop it (the divergence is already kept)."""


class ReplayServer:
    """Serve a recording: a scripted stand-in for Google's server, made from the real one.

    Start it like the emulator: ``await nursery.start(server.serve)`` (then :attr:`url`),
    or ``await nursery.start(server.serve_in_memory)`` with :meth:`connect_in_memory`;
    :meth:`open_session` opens a session pointed at it. Credentials are not checked (the
    recording has none).

    Args:
        recording: a :class:`~trio_gemini_live.testing.Recording` or the path of one
            (read with :meth:`Recording.load <trio_gemini_live.testing.Recording.load>`).
        pace: ``"fast"``: server frames are sent as soon as what precedes them in the
            recording happened; ``"recorded"``: as long after the client's last frame as
            they came in the recording.
        check_setup: compare the client's ``setup`` with the recorded one, field by field
            (the value of the resumption handle excepted). ``False``: by kind only.
        check_content: compare the other client messages field by field too: texts, turns,
            activity signals; media by MIME type and length (never by bytes); tool
            responses by call id and name (what a tool returns may vary from run to run).
            ``False``: by kind (and audio length) only.
        wait_timeout: seconds the server waits for a client frame (or close) beyond the
            recorded gap before it reports a divergence.
        raise_on_divergence: :meth:`serve` raises the divergence at once (ending the
            server). ``False``: it keeps serving; check :attr:`divergence` or call
            :meth:`check`.
        ssl_context: a server TLS context: serve ``wss://``.

    Raises:
        RecordingError: the recording is unreadable or incomplete, or lost frames while it
            was made (a replay of it would not be faithful).
        ValueError: a bad ``pace`` or ``wait_timeout``.

    Attributes:
        recording: the recording served.
        divergence: the first divergence, or ``None``.
        connections: how many connections were accepted.
        finished: set once every recorded connection was played to its end.
    """

    def __init__(
        self,
        recording: Recording | str | os.PathLike[str],
        *,
        pace: Literal["fast", "recorded"] = "fast",
        check_setup: bool = True,
        check_content: bool = True,
        wait_timeout: float = 10.0,
        raise_on_divergence: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if pace not in ("fast", "recorded"):
            raise ValueError(f"pace must be 'fast' or 'recorded', not {pace!r}")
        if not wait_timeout > 0:
            raise ValueError("wait_timeout must be > 0")
        if not isinstance(recording, Recording):
            recording = Recording.load(recording)
        if not recording.complete:
            raise RecordingError(recording.path, None, "the recording is incomplete (no "
                                 "trailer): it cannot be replayed")
        if recording.dropped or recording.gaps:
            line = recording.gaps[0][0] if recording.gaps else None
            raise RecordingError(recording.path, line, f"{recording.dropped} frames were "
                                 "lost while recording: the replay would not be faithful")
        if not recording.connections:
            raise RecordingError(recording.path, None, "the recording has no connection")
        self.recording = recording
        self.pace = pace
        self.check_setup = check_setup
        self.check_content = check_content
        self.wait_timeout = wait_timeout
        self.raise_on_divergence = raise_on_divergence
        self.ssl_context = ssl_context
        self.divergence: ReplayDivergence | None = None
        self.connections = 0
        self.finished = trio.Event()
        self.host = "127.0.0.1"
        self.port = 0
        self._played = 0
        self._nursery: trio.Nursery | None = None
        self._diverged = trio.Event()

    # -- serving (as LiveEmulator) -------------------------------------------------------

    @property
    def url(self) -> str:
        """``ws://host:port`` (``wss://`` with an ``ssl_context``): a session's ``endpoint``."""
        scheme = "wss" if self.ssl_context is not None else "ws"
        return f"{scheme}://{self.host}:{self.port}"

    async def serve(self, host: str = "127.0.0.1", port: int = 0, *,
                    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on ``host:port`` (0: a free port) until cancelled, or until a divergence.

        Reports started once listening (:attr:`port` and :attr:`url` are set then).
        In-memory connections work too meanwhile.

        Raises:
            ReplayDivergence: the client diverged (with ``raise_on_divergence``): raised
                once the diverging connection was closed with 1007.
        """
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                listeners = await nursery.start(
                    functools.partial(trio.serve_tcp, self._handle_tcp, port, host=host))
                self.host, self.port = host, int(listeners[0].socket.getsockname()[1])
                nursery.start_soon(self._watch, nursery.cancel_scope)
                task_status.started()
        finally:
            # Also when cancelled: the client may have failed on the 1007 first and its
            # error cancelled us; the divergence is what explains it.
            self._raise()

    async def serve_in_memory(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve in-memory connections only (:meth:`connect_in_memory`) until cancelled, or
        until a divergence (then raised, as by :meth:`serve`)."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._watch, nursery.cancel_scope)
                task_status.started()
        finally:
            self._raise()

    async def _watch(self, scope: trio.CancelScope) -> None:
        await self._diverged.wait()
        if self.raise_on_divergence:
            scope.cancel()
        else:
            await trio.sleep_forever()

    def _raise(self) -> None:
        if self.divergence is not None and self.raise_on_divergence:
            # Not chained to the cancellation it may replace: that is only its consequence.
            raise self.divergence from None

    def connect_in_memory(
        self,
    ) -> Callable[..., AbstractAsyncContextManager[trio.abc.Stream]]:
        """A session ``connect=`` hook that reaches this server over an in-memory stream.

        As :meth:`LiveEmulator.connect_in_memory
        <trio_gemini_live.testing.LiveEmulator.connect_in_memory>`: the hook takes ``(url,
        headers)``; the server must be serving.

        The hook yields the client end of an in-memory byte stream: the session runs its own
        WebSocket over it, exactly as over a socket (issue 11: every test of a session runs
        the transport the library ships).
        """

        return memory_connect("replay server", lambda: self._nursery, self._handle_stream)

    def open_session(self, nursery: trio.Nursery, *, in_memory: bool = False,
                     **kwargs: Any) -> AbstractAsyncContextManager[LiveSession]:
        """``open_live_session`` pointed at this server, set up as in the recording.

        The model, API version and credentials of the right kind (fake ones: nothing is
        checked) come from the recording unless given.

        Args:
            nursery: where the session's tasks run.
            in_memory: connect over an in-memory stream rather than the loopback socket.
            kwargs: anything else :func:`~trio_gemini_live.open_live_session` takes (give
                the same ``config`` and ``tools`` as the recorded client).
        """
        from .._open import open_live_session

        model = kwargs.pop("model", None) or self._recorded_model()
        header = self.recording.header
        if header.api_version:
            kwargs.setdefault("api_version", header.api_version)
        for name, value in self.session_kwargs(in_memory=in_memory, model=model).items():
            kwargs.setdefault(name, value)
        return open_live_session(nursery, model=model, **kwargs)

    def session_kwargs(self, *, in_memory: bool = False,
                       model: str | None = None) -> dict[str, Any]:
        """``endpoint``, ``auth`` (and ``connect`` in memory) for ``open_live_session``.

        The credentials are fake ones of the recorded kind (API key, ephemeral token or
        Vertex AI, the project and location taken from ``model``, by default the recorded
        one): nothing is checked, but the URL path must be the recorded one.

        Raises:
            RuntimeError: the server is not serving (not listening, for TCP).
        """
        kwargs: dict[str, Any] = {"auth": self._auth(model or self._recorded_model())}
        if in_memory:
            kwargs["connect"] = self.connect_in_memory()
            kwargs["endpoint"] = "ws://replay.invalid"
        else:
            if not self.port:
                raise RuntimeError("the replay server is not listening: start serve() first")
            kwargs["endpoint"] = self.url
        return kwargs

    def check(self) -> None:
        """Raise the divergence, if any, or a :class:`ReplayDivergence` if the recording
        was not played to its end (the client stopped early)."""
        if self.divergence is not None:
            raise self.divergence
        if not self.finished.is_set():
            conns = self.recording.connections
            index = min(self._played, len(conns) - 1)
            raise ReplayDivergence(str(self.recording.path), index, None,
                                   f"{len(conns)} connections played to their end",
                                   f"{self._played}: the client stopped early")

    async def wait_finished(self) -> None:
        """Wait until the whole recording was played, or a divergence (then raised)."""
        async with trio.open_nursery() as nursery:
            async def finished() -> None:
                await self.finished.wait()
                nursery.cancel_scope.cancel()

            async def diverged() -> None:
                await self._diverged.wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(finished)
            nursery.start_soon(diverged)
        if self.divergence is not None:
            raise self.divergence

    def _recorded_model(self) -> str:
        for frame in self.recording.connections[0].frames:
            setup = (frame.message or {}).get("setup")
            if frame.sender == "client" and isinstance(setup, dict):
                model = setup.get("model")
                if isinstance(model, str):
                    return model.removeprefix("models/")
        return self.recording.header.model or "unknown-model"

    def _auth(self, model: str) -> Any:
        from .._auth import ApiKey, EphemeralToken, VertexAI

        url = self.recording.connections[0].url
        if self.recording.header.backend == "vertex":
            parts = model.split("/")
            project = parts[1] if model.startswith("projects/") and len(parts) > 3 else "replay"
            location = parts[3] if model.startswith("projects/") and len(parts) > 3 else None
            return VertexAI(project=project, location=location,
                            credentials=_ReplayCredentials())
        if url.split("?")[0].endswith("Constrained"):
            return EphemeralToken("auth_tokens/replay")
        return ApiKey("replay-key")

    # -- one connection --------------------------------------------------------------------

    async def _handle_tcp(self, stream: trio.SocketStream) -> None:
        if self.ssl_context is not None:
            await self._handle_stream(trio.SSLStream(stream, self.ssl_context, server_side=True))
        else:
            await self._handle_stream(stream)

    async def _handle_stream(self, stream: trio.abc.Stream) -> None:
        try:
            async with trio.open_nursery() as nursery:
                request = await trio_websocket.wrap_server_stream(
                    nursery, stream, max_message_size=_MAX_MESSAGE)
                ws = await request.accept()
                # No checkpoint between accept() and taking the number: connections
                # accepted concurrently each get their own.
                index = self.connections
                self.connections += 1
                try:
                    await self._play(index, urlsplit(request.path).path, ws, stream)
                except _Diverged:
                    pass
                finally:
                    # Let trio-websocket's reader finish the close handshake (as the emulator).
                    nursery.cancel_scope.deadline = trio.current_time() + _CLOSE_GRACE
        except* (trio.BrokenResourceError, trio.ClosedResourceError,
                 trio_websocket.ConnectionClosed, trio_websocket.HandshakeError):
            pass  # the client went away
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)

    async def _play(self, index: int, path: str, ws: trio_websocket.WebSocketConnection,
                    stream: trio.abc.Stream) -> None:
        connections = self.recording.connections
        if index >= len(connections):
            await self._diverge(ws, index, None, f"no connection {index} (the recording has "
                                f"{len(connections)})", "a new connection")
        conn = connections[index]
        recorded_path = urlsplit(conn.url).path
        if recorded_path and recorded_path != path:
            await self._diverge(ws, index, conn.line, f"a connection to {recorded_path}",
                                f"a connection to {path}")
        inbox_send, inbox = trio.open_memory_channel[str | bytes | _ClientClosed](math.inf)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._read, ws, inbox_send)
            try:
                await self._run(conn, ws, stream, inbox)
            except _Diverged:
                return  # (caught here: out of the nursery, it would come in a group)
            finally:
                nursery.cancel_scope.cancel()
        self._played += 1
        if self._played == len(connections):
            self.finished.set()

    async def _read(self, ws: trio_websocket.WebSocketConnection,
                    inbox: trio.MemorySendChannel[str | bytes | _ClientClosed]) -> None:
        """Read the client's frames as they come (it never waits for us), then its close."""
        with inbox:
            try:
                while True:
                    inbox.send_nowait(await ws.get_message())
            except trio_websocket.ConnectionClosed as exc:
                reason = exc.reason
                inbox.send_nowait(_ClientClosed(getattr(reason, "code", None),
                                                getattr(reason, "reason", None) or ""))

    async def _run(self, conn: RecordedConnection, ws: trio_websocket.WebSocketConnection,
                   stream: trio.abc.Stream,
                   inbox: trio.MemoryReceiveChannel[str | bytes | _ClientClosed]) -> None:
        anchor, anchor_t = trio.current_time(), conn.opened_at
        # Set when the client closed while server frames were due: the rest of them are
        # skipped (it closed before reading them), its frames and close still checked.
        client_gone = False
        for entry in conn.timeline:
            due = anchor + max(0.0, entry.t - anchor_t)
            if isinstance(entry, RecordedFrame) and entry.sender == "client":
                got = await self._next(ws, conn, entry, inbox, due, _describe(entry))
                if isinstance(got, _ClientClosed):
                    await self._diverge(ws, conn.index, entry.line, _describe(entry),
                                        f"the client's close ({_close(got)})")
                problem = self._compare(entry, got)
                if problem is not None:
                    await self._diverge(ws, conn.index, entry.line, *problem)
                anchor, anchor_t = trio.current_time(), entry.t
            elif isinstance(entry, RecordedFrame):
                if client_gone:
                    continue
                if self.pace == "recorded":
                    await trio.sleep_until(due)
                try:
                    await ws.send_message(self.recording.wire_frame(entry))
                except trio_websocket.ConnectionClosed:
                    client_gone = True
            else:
                await self._end(ws, conn, entry, stream, inbox, due)
                return
        # A recording cut short (allowed only with allow_incomplete): nothing more to play.

    async def _next(self, ws: trio_websocket.WebSocketConnection, conn: RecordedConnection,
                    entry: RecordedFrame | RecordedEnd,
                    inbox: trio.MemoryReceiveChannel[str | bytes | _ClientClosed],
                    due: float, expected: str) -> str | bytes | _ClientClosed:
        """The client's next frame or close, or a divergence if none comes in time."""
        with trio.move_on_at(due + self.wait_timeout):
            try:
                return await inbox.receive()
            except trio.EndOfChannel:
                return _ClientClosed(None, "")
        await self._diverge(ws, conn.index, entry.line, expected,
                            f"nothing within {self.wait_timeout:g} s (the client waits for "
                            "the server, or stopped)")

    async def _end(self, ws: trio_websocket.WebSocketConnection, conn: RecordedConnection,
                   end: RecordedEnd, stream: trio.abc.Stream,
                   inbox: trio.MemoryReceiveChannel[str | bytes | _ClientClosed],
                   due: float) -> None:
        if end.by == "client":
            expected = (f"the client's close ({end.code})" if end.code is not None
                        else "the client to leave")
            got = await self._next(ws, conn, end, inbox, due, expected)
            if not isinstance(got, _ClientClosed):
                await self._diverge(ws, conn.index, end.line, expected, _received(got))
            elif end.code is not None and got.code is not None and got.code != end.code and (
                    got.code != 1006):
                await self._diverge(ws, conn.index, end.line, expected,
                                    f"the client's close ({_close(got)})")
            return
        if self.pace == "recorded":
            await trio.sleep_until(due)
        try:
            extra = inbox.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            extra = None
        if extra is not None and not isinstance(extra, _ClientClosed):
            what = "a drop" if end.by == "network" else f"the server's close ({end.code})"
            await self._diverge(ws, conn.index, end.line, what, _received(extra))
        if end.by == "network":
            # No close frame: the client sees 1006, as it did (also under TLS: the
            # transport itself, no close_notify).
            transport = stream.transport_stream if isinstance(stream, trio.SSLStream) else (
                stream)
            await trio.aclose_forcefully(transport)
        else:
            with trio.move_on_after(_CLOSE_GRACE):
                try:
                    await ws.aclose(end.code or 1000, _reason(end.reason))
                except trio_websocket.ConnectionClosed:
                    pass

    def _compare(self, expected: RecordedFrame,
                 data: str | bytes) -> tuple[str, str] | None:
        """``(expected, received)`` descriptions if ``data`` is not what was recorded."""
        try:
            message = msgspec.json.decode(data)
        except msgspec.DecodeError:
            message = None
        kind = message_kind(message)
        if kind != expected.kind:
            return _describe(expected), _received(data, message)
        if not isinstance(message, dict) or expected.message is None:
            return None
        want, have = audio_sizes(expected.message), audio_sizes(message)
        if want != have:
            return f"{kind} of {_sizes(want)} bytes", f"{kind} of {_sizes(have)} bytes"
        if kind == "setup":
            if not self.check_setup:
                return None
            recorded, sent = _setup(expected.message["setup"]), _setup(message["setup"])
            where = "setup"
        elif not self.check_content:
            return None
        elif kind == "toolResponse":
            recorded, sent = _calls(expected.message), _calls(message)
            where = "toolResponse (id, name)"
        else:
            recorded, sent = _normalized(expected.message), _normalized(message)
            where = ""
        difference = _difference(recorded, sent, where)
        if difference is None:
            return None
        path, old, new = difference
        return f"{kind} with {path} = {old}", f"{path} = {new}"

    async def _diverge(self, ws: trio_websocket.WebSocketConnection, connection: int,
                       line: int | None, expected: str, received: str) -> NoReturn:
        """Keep the first divergence, close the client's connection with 1007, stop."""
        divergence = ReplayDivergence(str(self.recording.path), connection, line, expected,
                                      received)
        if self.divergence is None:
            self.divergence = divergence
            log.warning("%s", divergence)
        with trio.move_on_after(_CLOSE_GRACE):
            try:
                await ws.aclose(_DIVERGED, _reason(f"replay diverged: expected {expected}, "
                                                   f"received {received} (line {line})"))
            except trio_websocket.ConnectionClosed:
                pass
        self._diverged.set()
        raise _Diverged


class _ReplayCredentials:
    """Vertex AI credentials that are always valid (a replay checks none)."""

    valid = True
    token = "replay-token"
    quota_project_id = None

    def refresh(self, request: object) -> None:  # pragma: no cover - never expired
        pass


def _reason(text: str) -> str:
    """A close reason is at most 123 bytes (RFC 6455 5.5)."""
    return text.encode()[:123].decode("utf-8", "ignore")


def _close(closed: _ClientClosed) -> str:
    return f"{closed.code} {closed.reason}".strip() if closed.code else "no close frame"


def _sizes(sizes: list[int]) -> str:
    return ", ".join(str(s) for s in sizes) if sizes else "no audio"


def _short(value: Any) -> str:
    text = msgspec.json.encode(value).decode() if not isinstance(value, str) else repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def _describe(frame: RecordedFrame | RecordedEnd) -> str:
    """A recorded frame for a divergence report: its kind and a telling detail."""
    if isinstance(frame, RecordedEnd):
        return f"the end ({frame.by}, {frame.code})"
    return _received(frame.raw or "", frame.message, kind=frame.kind)


def _received(data: str | bytes | _ClientClosed, message: Any = None,
              kind: str | None = None) -> str:
    if isinstance(data, _ClientClosed):
        return f"the client's close ({_close(data)})"
    if message is None and kind is None:
        try:
            message = msgspec.json.decode(data)
        except msgspec.DecodeError:
            message = None
    kind = kind or message_kind(message)
    if not isinstance(message, dict):
        return f"a frame that is not a JSON object ({_short(str(data)[:_SHOWN])})"
    sizes = audio_sizes(message)
    if sizes:
        return f"{kind} ({_sizes(sizes)} bytes)"
    text = first_text(message)
    return f"{kind} ({_short(text)})" if text else kind


def _setup(setup: Any) -> Any:
    """A setup to compare: the resumption handle's value does not matter, its presence
    does (a resumed session against a new one)."""
    if not isinstance(setup, dict):
        return setup
    resumption = setup.get("sessionResumption")
    if isinstance(resumption, dict) and resumption.get("handle"):
        setup = {**setup, "sessionResumption": {**resumption, "handle": "<a handle>"}}
    return setup


def _normalized(message: dict[str, Any]) -> Any:
    """A client message to compare: media data as its length (recorded or as sent)."""
    copy = msgspec.json.decode(msgspec.json.encode(message))
    for blob in _blobs(copy):
        blob["data"] = {"bytes": blob_size(blob)}
    return copy


def _calls(message: dict[str, Any]) -> Any:
    """A tool response to compare: which calls it answers, not what it says."""
    responses = (message.get("toolResponse") or {}).get("functionResponses") or []
    return [[r.get("id"), r.get("name")] for r in responses if isinstance(r, dict)]


def _difference(recorded: Any, sent: Any, where: str) -> tuple[str, str, str] | None:
    """The first place two JSON values differ: ``(path, recorded, sent)``."""
    if isinstance(recorded, dict) and isinstance(sent, dict):
        for key in list(recorded) + [k for k in sent if k not in recorded]:
            inner = f"{where}.{key}" if where else str(key)
            if key not in sent:
                return inner, _short(recorded[key]), "(absent)"
            if key not in recorded:
                return inner, "(absent)", _short(sent[key])
            found = _difference(recorded[key], sent[key], inner)
            if found is not None:
                return found
        return None
    if isinstance(recorded, list) and isinstance(sent, list):
        for i, (a, b) in enumerate(zip(recorded, sent, strict=False)):
            found = _difference(a, b, f"{where}[{i}]")
            if found is not None:
                return found
        if len(recorded) != len(sent):
            return f"{where} (length)", str(len(recorded)), str(len(sent))
        return None
    if recorded != sent or type(recorded) is not type(sent):
        return where, _short(recorded), _short(sent)
    return None
