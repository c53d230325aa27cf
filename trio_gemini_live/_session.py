"""The Trio session: ``open_live_session`` and ``LiveSession`` (DESIGN.md).

Shape (DESIGN.md, "Architecture")::

    send_*  -> validate, encode once -> OutboundQueue -> send task -> WebSocket
    WebSocket -> receive task (always drains) -> LiveProtocol -> EventQueue -> events()
                                                              \\-> handler queue -> handlers
                                                              \\-> tool-call tasks

All background work runs in one task started in the caller's nursery (``_main``), which
owns a nursery of its own: the connection loop, the handler dispatcher and the tool-call
tasks live there, under a cancel scope the session owns. Each connection has its own inner
nursery with the receive, send and keepalive tasks (and the goAway timer); when any of them
sees the connection end, it records why and cancels the connection's scope, and the loop
decides: reconnect (resume), or end the session.

Error policy: the session never raises into the caller's nursery. A fatal error is stored;
``events()`` delivers what was queued and then raises it; ``send_*`` raise it; and when no
task is reading ``events()``, the body of ``async with open_live_session(...)`` is cancelled
and the error comes out of the ``async with`` as itself.
"""

from __future__ import annotations

import inspect
import logging
import math
import random
import ssl
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Final, NoReturn, Protocol, TypeAlias

import msgspec
import trio
import trio_websocket

from . import _inputs, _transport
from . import _wire as w
from . import events as ev
from ._auth import Auth, ConnectTarget, auth_from_env
from ._config import LiveConfig
from ._errors import (
    LiveError,
    ProtocolError,
    SessionClosedError,
    SetupError,
    TransientError,
    classify_close,
)
from ._protocol import LiveProtocol, Status
from ._queues import EventQueue, OutboundItem, OutboundQueue, QueueClosed
from ._resume import ReconnectPolicy, ReplayBuffer, TurnBuffer

__all__ = ["LiveSession", "SessionStatistics", "WebSocketLike", "open_live_session"]

log: Final = logging.getLogger("trio_gemini_live")

#: PROTOCOL.md 2: 16 MiB; defined once, by the transport that enforces it.
MAX_MESSAGE_SIZE: Final = _transport.MAX_MESSAGE_SIZE
_RECEIVE_BUFFER: Final = 64 * 1024
_DEFAULT_INPUT_RATE: Final = 16000
_CLOSE_FLUSH_TIMEOUT: Final = 5.0
_CONNECT_TIMEOUT: Final = _transport.CONNECT_TIMEOUT
_DISCONNECT_TIMEOUT: Final = _transport.CLOSE_TIMEOUT
#: The longest aclose() waits for the end: the close handshake, then on_close (each bounded
#: by _DISCONNECT_TIMEOUT), with room to spare.
_SHUTDOWN_TIMEOUT: Final = 2 * _DISCONNECT_TIMEOUT + 2.0


class WebSocketLike(Protocol):
    """What the session needs of a connection (trio-websocket's ``WebSocketConnection``)."""

    async def send_message(self, message: str | bytes) -> None: ...

    async def get_message(self) -> str | bytes: ...

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None: ...

    async def ping(self, payload: bytes | None = None) -> None: ...

    @property
    def closed(self) -> Any: ...


Connect: TypeAlias = Callable[
    [str, list[tuple[str, str]]], AbstractAsyncContextManager[WebSocketLike]
]
Handler: TypeAlias = Callable[[Any], Any]


def _default_connect(ssl_context: ssl.SSLContext | None) -> Connect:
    """The lean transport (``_transport.py``, issue 7) over a TCP (and TLS) stream.

    No reader task of its own: the session's receive task reads the socket, and its send
    task writes each queued batch of frames at once. The TLS handshake is done first and on
    its own so that a certificate that fails verification is reported at once and by name.
    """

    @asynccontextmanager
    async def connect(url: str, headers: list[tuple[str, str]]) -> AsyncIterator[WebSocketLike]:
        async with _transport.open_connection(
            url,
            headers,
            ssl_context=ssl_context,
            connect_timeout=_CONNECT_TIMEOUT,
            close_timeout=_DISCONNECT_TIMEOUT,
            max_message_size=MAX_MESSAGE_SIZE,
            receive_size=_RECEIVE_BUFFER,
        ) as ws:
            yield ws

    return _unwrapping(connect)


def _raise_lone(group: BaseExceptionGroup[BaseException]) -> NoReturn:
    """Raise the single non-group exception inside ``group`` (nested), else the group."""
    inner: BaseException = group
    while isinstance(inner, BaseExceptionGroup):
        if len(inner.exceptions) != 1:
            raise group
        inner = inner.exceptions[0]
    if not isinstance(inner, Exception):
        raise group
    raise inner from inner.__cause__


def _unwrapping(connect: Connect) -> Connect:
    """Wrap an injected ``connect=`` hook so that errors cross it unwrapped.

    A hook with a nursery of its own (the emulator's in-memory hook, most test transports)
    wraps whatever the session raises inside it, e.g. a setup failure, in an
    ``ExceptionGroup``; the session's error handling expects the exception itself.
    """

    @asynccontextmanager
    async def hook(url: str, headers: list[tuple[str, str]]) -> AsyncIterator[WebSocketLike]:
        try:
            async with connect(url, headers) as ws:
                yield ws
        except BaseExceptionGroup as group:
            _raise_lone(group)

    return hook


class SessionStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of a session's queues and history (``LiveSession.statistics()``)."""

    status: Status
    queued_events: int
    queued_outbound: int
    queued_outbound_audio_seconds: float
    dropped_input_audio_chunks: int
    dropped_input_audio_seconds: float
    dropped_output_audio_chunks: int
    dropped_output_audio_bytes: int
    reconnects: int
    connections: int
    handler_errors: int
    dropped_handler_messages: int
    protocol_errors: int


class _ConnectionEnd(msgspec.Struct):
    kind: str  # "closed" (server/network), "go_away" (our timer), "keepalive", "user"
    code: int | None = None
    reason: str = ""


class LiveSession:
    """A Live API session: send input, iterate events, watch the status.

    Made by :func:`open_live_session`; not instantiated directly. Every ``send_*`` method
    validates its input and raises ``ValueError``/``TypeError`` before anything is queued;
    it waits (backpressure) while the outbound queue is full or the session is reconnecting,
    and raises the session's error (a :class:`~trio_gemini_live.LiveError`) once it is
    closed. Nothing here has a timeout argument: use ``trio.fail_after``/``move_on_after``.
    """

    def __init__(
        self,
        *,
        model: str,
        auth: Auth,
        config: LiveConfig,
        api_version: str,
        endpoint: str | None,
        resume_handle: str | None,
        reconnect: ReconnectPolicy | None,
        connect: Connect,
        handlers: dict[str, Handler | None],
        setup_timeout: float,
        keepalive_interval: float | None,
        keepalive_timeout: float,
        input_sample_rate: int,
        max_event_audio_seconds: float,
        max_outbound_messages: int,
        max_outbound_audio_seconds: float,
        tool_timeout: float | None,
        tools: Any,
    ) -> None:
        self._model = model
        self._auth = auth
        self._config = config
        self._api_version = api_version
        self._endpoint = endpoint
        self._resume_handle = resume_handle
        self._policy = reconnect
        self._connect = connect
        self._handlers = handlers
        self._setup_timeout = setup_timeout
        self._keepalive_interval = keepalive_interval
        self._keepalive_timeout = keepalive_timeout
        self._input_rate = input_sample_rate
        self._tool_timeout = tool_timeout
        self._tools = tools
        # Functions declared in LiveConfig(tools=...): their calls are the user's to answer.
        self._declared_by_config = frozenset(
            decl.name
            for tool in config.tools or ()
            for decl in tool.function_declarations or ()
        )
        self._proto: LiveProtocol | None = None
        self._vertex = False
        self._events = EventQueue(int(max_event_audio_seconds * 24000 * 2))
        self._outbound: OutboundQueue = OutboundQueue(
            max_outbound_messages, max_outbound_audio_seconds
        )
        self._replay = ReplayBuffer(max_outbound_audio_seconds)
        # Without transparent resumption: the user's words that the latest resumable handle
        # may not include, which a resume with that handle would otherwise lose.
        self._since_handle = TurnBuffer()
        self._handler_queue: deque[tuple[Handler, Any]] = deque()
        self._handler_lot = trio.lowlevel.ParkingLot()
        self._changed = trio.Event()
        self._status = Status.DISCONNECTED
        # One event per status, set when the status is entered, replaced when it is left.
        self._entered = {status: trio.Event() for status in Status}
        self._entered[Status.DISCONNECTED].set()
        self._error: LiveError | None = None
        self._closed_event: ev.SessionClosed | None = None
        self._done = trio.Event()
        self._scope = trio.CancelScope()
        self._body_scope = trio.CancelScope()
        self._conn_scope: trio.CancelScope | None = None
        self._conn_end: _ConnectionEnd | None = None
        self._conn_nursery: trio.Nursery | None = None
        self._in_flight = False
        #: The connection's synchronous write while its send task runs (the lean
        #: transport's try_send_message), for the direct path of _send; else None.
        self._direct: Callable[[str], bool | None] | None = None
        #: Frames written on this connection (setup is 0): lastConsumedClientMessageIndex.
        self._sent_index = 0
        self._sent_transparent = False
        self._serving = False
        self._ready_at = 0.0
        self._main_task: trio.lowlevel.Task | None = None
        self._error_delivered = False
        self._drained = trio.lowlevel.ParkingLot()
        self._nursery: trio.Nursery | None = None
        self._user_close = False
        self._readers = 0
        self._tool_tasks: dict[str, _CallTask] = {}
        self._idle = trio.Event()
        self._idle.set()
        self._rng = random.Random(reconnect.seed if reconnect else None)
        self._reconnects = 0
        self._go_away_seen = False
        self._handler_errors = 0
        self._protocol_errors = 0
        self._dropped_handler_items = 0

    # --- public state ---------------------------------------------------------------------

    @property
    def status(self) -> Status:
        """The current :class:`~trio_gemini_live.Status`."""
        return self._status

    @property
    def session_id(self) -> str | None:
        """The server's session id (from ``setupComplete``), if it sent one."""
        return self._proto.session_id if self._proto else None

    @property
    def session_handle(self) -> str | None:
        """The latest resumable handle: pass it as ``resume_handle`` to resume later."""
        return self._proto.handle if self._proto else self._resume_handle

    @property
    def usage(self) -> ev.Usage:
        """The latest token usage report (see :class:`~trio_gemini_live.events.Usage`)."""
        return self._proto.usage if self._proto else ev.Usage()

    @property
    def active_tool_calls(self) -> dict[str, w.FunctionCall]:
        """Tool calls the server issued that are not yet answered or cancelled, by id."""
        return dict(self._proto.active_tool_calls) if self._proto else {}

    @property
    def error(self) -> LiveError | None:
        """The error that ended the session, if one did."""
        return self._error

    def statistics(self) -> SessionStatistics:
        """Queue depths, drops and reconnections so far."""
        return SessionStatistics(
            status=self._status,
            queued_events=len(self._events),
            queued_outbound=len(self._outbound),
            queued_outbound_audio_seconds=self._outbound.audio_seconds,
            dropped_input_audio_chunks=(
                self._outbound.dropped_audio_chunks + self._replay.dropped_audio_chunks
            ),
            dropped_input_audio_seconds=(
                self._outbound.dropped_audio_seconds + self._replay.dropped_audio_seconds
            ),
            dropped_output_audio_chunks=self._events.dropped_audio_chunks,
            dropped_output_audio_bytes=self._events.dropped_audio_bytes,
            reconnects=self._reconnects,
            connections=self._proto.connections if self._proto else 0,
            handler_errors=self._handler_errors,
            dropped_handler_messages=self._dropped_handler_items,
            protocol_errors=self._protocol_errors,
        )

    def __repr__(self) -> str:
        # Never raises, even on an instance still being built (the garbage collector's
        # callbacks and debuggers can see one).
        status = getattr(self, "_status", None)
        proto = getattr(self, "_proto", None)
        return (
            f"<LiveSession model={getattr(self, '_model', None)!r}"
            f" status={status.name if status is not None else None}"
            f" session_id={proto.session_id if proto is not None else None!r}>"
        )

    async def wait_status(self, status: Status) -> None:
        """Wait until the session is in ``status``.

        Raises:
            LiveError: the session closed before reaching ``status`` (its error, if it
                failed). Waiting for ``Status.CLOSED`` never raises.
        """
        await trio.lowlevel.checkpoint()
        # Entered since this call began counts, even if already left again (a waiter for
        # SETUP_PENDING must not miss a quick SETUP_PENDING -> READY).
        entered = self._entered[status]
        while self._status is not status and not entered.is_set():
            if self._status is Status.CLOSED:
                raise self._closed_error()
            await self._changed.wait()

    # --- sending --------------------------------------------------------------------------

    async def send_client_content(
        self,
        content: str | w.Content | Mapping[str, Any] | Sequence[w.Content | Mapping[str, Any]],
        *,
        turn_complete: bool = True,
    ) -> None:
        """Append turns to the conversation (PROTOCOL.md 3.2).

        Args:
            content: a string (one user turn of text), a turn, or a list of turns
                (``{"role": "user", "parts": [{"text": ...}]}`` or :class:`Content`).
            turn_complete: ``True`` makes the model answer; ``False`` waits for more.

        Raises:
            TypeError, ValueError: malformed content (nothing is sent). Function call and
                response parts are refused: the server closes with 1007 on them; answer
                calls with :meth:`send_tool_response`.
            LiveError: the session is closed.
        """
        message = _inputs.client_content(content, turn_complete)
        # A turn the model answers (turn_complete) is tracked until its turnComplete arrives.
        await self._send(message, "client_turn" if turn_complete else "client_content")

    async def send_realtime_input(
        self,
        *,
        audio: bytes | bytearray | memoryview | w.Blob | None = None,
        video: bytes | bytearray | memoryview | w.Blob | None = None,
        text: str | None = None,
        activity_start: bool | w.ActivityStart | None = None,
        activity_end: bool | w.ActivityEnd | None = None,
        audio_stream_end: bool | None = None,
    ) -> None:
        """Stream one realtime input (PROTOCOL.md 3.3): exactly one argument per call.

        Args:
            audio: raw 16-bit little-endian mono PCM at the session's ``input_sample_rate``
                (16 kHz unless set), or a :class:`Blob` with its own ``audio/pcm;rate=N``.
            video: a JPEG frame, or a :class:`Blob` with an ``image/*`` MIME type.
            text: typed input.
            activity_start, activity_end: manual voice activity (automatic VAD disabled).
            audio_stream_end: the microphone paused (automatic VAD).

        Raises:
            TypeError, ValueError: not exactly one argument, ``str`` where bytes are
                expected, an odd number of PCM bytes, a wrong MIME type.
            LiveError: the session is closed.
        """
        message, kind, seconds = _inputs.realtime_input(
            self._input_rate,
            audio=audio,
            video=video,
            text=text,
            activity_start=activity_start,
            activity_end=activity_end,
            audio_stream_end=audio_stream_end,
        )
        await self._send(message, kind, seconds)

    async def send_tool_response(
        self,
        responses: w.FunctionResponse
        | Mapping[str, Any]
        | Iterable[w.FunctionResponse | Mapping[str, Any]],
    ) -> None:
        """Answer tool calls (PROTOCOL.md 3.4). Every call must be answered, once.

        Args:
            responses: :class:`FunctionResponse` objects or dicts with ``id``, ``name`` and
                ``response`` (a dict, by convention ``{"output": ...}`` or
                ``{"error": ...}``); ``scheduling`` and ``will_continue`` optionally
                (Gemini API only).

        Raises:
            TypeError, ValueError: a response without ``id`` or ``name``, or a non-dict
                ``response``.
            LiveError: the session is closed.
        """
        await self._send(_inputs.tool_responses(responses, vertex=self._vertex), "tool_response")

    async def _send(self, message: w.ClientMessage, kind: str, audio_seconds: float = 0.0) -> (
        None
    ):
        if self._status in (Status.CLOSING, Status.CLOSED) or self._proto is None:
            await trio.lowlevel.checkpoint()
            raise self._closed_error()
        proto = self._proto
        frame = proto.encode_client(message).decode()
        item = OutboundItem(frame, audio_seconds, "audio" if kind == "audio" else kind)
        dropped_before = self._outbound.dropped_audio_chunks
        if self._direct is None:
            await self._outbound.put(item)
        else:
            # Cancelled: raises here, nothing sent. Not cancelled: no schedule point, so
            # nothing changes before the direct write.
            await trio.lowlevel.checkpoint_if_cancelled()
            if self._send_direct(item):
                await trio.lowlevel.cancel_shielded_checkpoint()
            else:
                await self._outbound.put(item)
        if kind == "tool_response":
            # Only once queued: a cancelled send leaves its calls active (and unanswered).
            proto.answered(message)
            self._update_idle()
        dropped = self._outbound.dropped_audio_chunks
        if dropped != dropped_before and (dropped_before == 0 or dropped % 50 == 0):
            # Issue 5: beyond the audio budget the oldest input audio goes, and is reported.
            log.warning(
                "input audio over the %.1f s buffer: dropped the oldest (%d chunks, %.1f s so far)",
                self._outbound.max_audio_seconds,
                dropped,
                self._outbound.dropped_audio_seconds,
            )
        if log.isEnabledFor(logging.DEBUG):
            log.debug("queued %s (%d bytes)", kind, len(frame))

    # --- receiving ------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[ev.Event]:
        """Iterate over the session's events, across turns and reconnections.

        The iterator does not stop at a turn's end; it ends after
        :class:`~trio_gemini_live.events.SessionClosed` when the session was closed, and
        raises the session's error (after the events queued before it) if it failed.
        Breaking out of the loop loses nothing: the next call continues where it stopped.
        """
        self._readers += 1
        try:
            while True:
                try:
                    event = await self._events.get()
                except QueueClosed as closed:
                    if closed.error is not None:
                        self._error_delivered = True
                        raise closed.error from None
                    return
                yield event
        finally:
            self._readers -= 1
            if (
                self._readers == 0
                and self._error is not None
                and not self._error_delivered
                and self._done.is_set()
            ):
                # The session failed and nobody reads its events any more: end the body.
                self._body_scope.cancel()

    # --- closing --------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the session gracefully: flush queued input, close frame 1000, end tasks.

        Idempotent. Cancellation does not prevent the close: the socket and the tasks are
        torn down either way (the flush is then skipped). Called from one of the session's
        own tasks (a handler, a tool), it starts the close and returns at once: the caller
        is one of the tasks the close ends.
        """
        await self._shutdown(flush=True)

    async def _shutdown(self, *, flush: bool) -> None:
        """End the session: optionally flush, close the socket, wait (bounded) for the end."""
        if self._done.is_set():
            await trio.lowlevel.checkpoint()
            return
        self._user_close = True
        if self._status not in (Status.CLOSING, Status.CLOSED):
            self._set_status(Status.CLOSING)
        self._outbound.close(LiveError("the session is closed"))
        inside = self._inside_session()
        try:
            if flush and self._serving and self._conn_end is None:
                with trio.move_on_after(_CLOSE_FLUSH_TIMEOUT):
                    await self._flushed()
        finally:
            self._end_connection(_ConnectionEnd("user", 1000, "closed by the client"))
            if not inside:
                # Bounded: the close handshake, then on_close, each bounded themselves.
                with trio.CancelScope(shield=True), trio.move_on_after(_SHUTDOWN_TIMEOUT) as cs:
                    await self._done.wait()
                if cs.cancelled_caught:
                    self._scope.cancel()
                    with trio.CancelScope(shield=True):
                        await self._done.wait()
        await trio.lowlevel.checkpoint()

    def _inside_session(self) -> bool:
        """Whether the current task is one of the session's own (a handler, a tool...)."""
        task: trio.lowlevel.Task | None = trio.lowlevel.current_task()
        while task is not None:
            if task is self._main_task:
                return True
            nursery = task.parent_nursery
            task = nursery.parent_task if nursery is not None else None
        return False

    close = aclose

    async def _flushed(self) -> None:
        """Wait until every queued frame was written (or the connection ended)."""
        while (len(self._outbound) or self._in_flight) and self._conn_end is None:
            await self._drained.park()

    # --- internals: status ----------------------------------------------------------------

    def _set_status(self, status: Status) -> None:
        """Move to ``status`` (through the protocol's table) and wake every waiter."""
        if self._proto is not None and self._proto.status is not status:
            self._proto.transition(status)
        self._sync_status()

    def _sync_status(self) -> None:
        """Publish the protocol's status (changed by it or by us) to ``wait_status``."""
        status = self._proto.status if self._proto is not None else self._status
        if status is self._status:
            return
        self._entered[self._status] = trio.Event()
        self._status = status
        self._entered[status].set()
        changed, self._changed = self._changed, trio.Event()
        changed.set()

    def _closed_error(self) -> LiveError:
        if self._error is not None:
            return self._error
        return LiveError("the session is closed")

    # --- internals: the main task ---------------------------------------------------------

    async def _main(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> (
        None
    ):
        started = False
        self._main_task = trio.lowlevel.current_task()

        def on_started() -> None:
            nonlocal started
            started = True
            task_status.started()

        try:
            with self._scope:
                try:
                    async with trio.open_nursery() as nursery:
                        self._nursery = nursery
                        if any(self._handlers.values()):
                            nursery.start_soon(self._dispatch_handlers)
                        try:
                            await self._connection_loop(on_started)
                        finally:
                            nursery.cancel_scope.cancel()
                finally:
                    self._finish()
        finally:
            on_close = self._handlers.get("on_close")
            if started and on_close is not None and self._closed_event is not None:
                with trio.CancelScope(shield=True), trio.move_on_after(_DISCONNECT_TIMEOUT):
                    await self._call_handler(on_close, self._closed_event)
            self._done.set()

    def _finish(self) -> None:
        if self._status is not Status.CLOSED:
            self._set_status(Status.CLOSED)
        closed = self._closed_event or ev.SessionClosed(code=None, reason="session ended")
        self._closed_event = closed
        self._events.put(closed)
        self._events.close(self._error)
        self._outbound.close(self._closed_error())
        for task in self._tool_tasks.values():
            task.scope.cancel()
        if self._error is not None and self._readers == 0:
            self._body_scope.cancel()
        log.info("session closed: %s %s", closed.code, closed.reason)

    async def _connection_loop(self, on_started: Callable[[], None]) -> None:
        started = False
        attempt = 0
        while True:
            try:
                await self._connect_once(None if started else on_started)
                started = True
                end = self._conn_end or _ConnectionEnd("closed", None, "")
                # Only a connection that lived (or ended by goAway, as they all do after
                # ~10 minutes) resets the attempt count: a server that accepts the setup
                # and drops at once must meet the backoff and the budget, not a hot loop.
                lived = trio.current_time() - self._ready_at
                stable_after = self._policy.stable_after if self._policy else 0.0
                if end.kind == "go_away" or lived >= stable_after:
                    attempt = 0
                error: SessionClosedError | None = None
            except _SetupFailed as failed:
                if not started:
                    self._error = failed.error
                    self._closed_event = ev.SessionClosed(
                        code=getattr(failed.error, "code", None),
                        reason=getattr(failed.error, "reason", str(failed.error)),
                    )
                    raise failed.error from failed.error.__cause__
                end = failed.end
                if isinstance(failed.error, SetupError):
                    # A reconnection's setup that timed out or got a garbled answer: the
                    # server's trouble, retried within the budget like a drop.
                    error = TransientError(None, str(failed.error))
                elif isinstance(failed.error, SessionClosedError):
                    # Keep the precise error (an HTTP 403 at the handshake is not a 1006).
                    error = failed.error
                else:
                    self._fail(failed.error)  # credentials that cannot be had: fatal
                    return
            if self._user_close or end.kind == "user":
                self._closed_event = ev.SessionClosed(code=1000, reason="closed by the client")
                return
            if error is None:
                error = self._classify(end)
            self._interrupt_turn()
            retry = (
                self._policy is not None
                and (end.kind in ("go_away", "keepalive") or error.retryable)
                and attempt < self._policy.max_attempts
            )
            if not retry:
                self._fail(error)
                return
            assert self._policy is not None
            attempt += 1
            self._reconnects += 1
            reason = end.reason or (f"close code {end.code}" if end.code else end.kind)
            log.info("reconnecting (attempt %d): %s", attempt, reason)
            self._emit(ev.Reconnecting(attempt=attempt, reason=reason))
            delay = self._policy.backoff(attempt, self._rng)
            with trio.CancelScope() as wait:
                self._conn_scope = wait
                if self._user_close:
                    wait.cancel()
                await trio.sleep(delay)
            self._conn_scope = None
            if self._user_close:
                self._closed_event = ev.SessionClosed(code=1000, reason="closed by the client")
                return

    def _classify(self, end: _ConnectionEnd) -> SessionClosedError:
        if end.kind == "go_away":
            return TransientError(end.code, end.reason or "reconnecting before the goAway deadline")
        if end.kind == "keepalive":
            return TransientError(1011, "keepalive ping timeout", hint="no pong in time")
        after_go_away = self._go_away_seen or (
            self._proto is not None and self._proto.go_away_deadline is not None
        )
        return classify_close(end.code, end.reason, after_go_away=after_go_away)

    def _fail(self, error: LiveError) -> None:
        if self._error is None:
            self._error = error
        code = getattr(error, "code", None)
        reason = getattr(error, "reason", str(error))
        self._closed_event = ev.SessionClosed(code=code, reason=reason)
        log.warning("session failed: %s", error)
        self._report_error(error)

    def _interrupt_turn(self) -> None:
        """A connection ended mid-turn: that turn never finishes (issue 5)."""
        proto = self._proto
        if proto is not None and proto.in_turn:
            proto.in_turn = False
            self._emit(ev.Interrupted())
            self._emit(ev.TurnComplete(reason="CONNECTION_LOST"))
        self._update_idle()

    async def _connect_once(self, on_started: Callable[[], None] | None) -> None:
        """One connection, from opening to its end (recorded in ``self._conn_end``).

        Raises:
            _SetupFailed: the connection or its setup failed.
        """
        proto = self._proto
        assert proto is not None
        self._conn_end = None
        if self._user_close:
            self._conn_end = _ConnectionEnd("user", 1000, "closed by the client")
            return
        resumed = proto.handle is not None
        self._set_status(Status.CONNECTING)
        url = "(not resolved)"
        # Connecting (credentials, TCP, TLS, the WebSocket handshake) is bounded for every
        # transport, injected ones too; the bound is lifted once the socket is open.
        conn_scope = trio.CancelScope(deadline=trio.current_time() + _CONNECT_TIMEOUT)
        self._conn_scope = conn_scope
        try:
            with conn_scope:
                try:
                    # Vertex tokens are refreshed here, before every connection (issue 5).
                    target = await self._auth.target(
                        model=self._model, api_version=self._api_version, endpoint=self._endpoint
                    )
                except LiveError as exc:
                    raise _SetupFailed(exc, _ConnectionEnd("closed", None, str(exc))) from exc
                url = target.url
                log.info("connecting to %s", url)
                async with self._connect(target.url, target.headers) as ws:
                    # From here on, ending the connection cancels only this inner scope:
                    # the transport (which may run a reader task of its own, as
                    # trio-websocket does) must live on to complete the close handshake.
                    conn_scope.deadline = math.inf
                    serve_scope = trio.CancelScope()
                    self._conn_scope = serve_scope
                    if conn_scope.cancel_called:
                        serve_scope.cancel()
                    try:
                        with serve_scope:
                            await self._setup_and_serve(ws, target, on_started, resumed)
                    finally:
                        end = self._conn_end
                        if end is not None and end.kind in ("user", "go_away", "keepalive"):
                            # Break before make (PROTOCOL.md 6): close this socket first.
                            with trio.CancelScope(shield=True):
                                await self._close_socket(
                                    ws, 1011 if end.kind == "keepalive" else 1000
                                )
        except _SetupFailed:
            raise
        except trio_websocket.ConnectionRejected as exc:
            error = _rejected_error(exc)
            raise _SetupFailed(error, _ConnectionEnd("closed", 1006, str(error))) from None
        except trio_websocket.ConnectionClosed as exc:
            end = _close_end(exc.reason)
            if self._status is Status.READY or self._conn_end is not None:
                self._conn_end = self._conn_end or end
            else:
                raise _SetupFailed(classify_close(end.code, end.reason), end) from None
        except ssl.SSLCertVerificationError as exc:
            # Not transient: retrying cannot make an untrusted certificate trusted.
            error = SessionClosedError(
                1015, f"TLS certificate verification failed for {url}: {exc}"
            )
            raise _SetupFailed(error, _ConnectionEnd("closed", 1015, str(error))) from None
        except trio.TooSlowError:
            error = TransientError(
                1006, f"could not connect to {url} within {_CONNECT_TIMEOUT:g} s"
            )
            raise _SetupFailed(error, _ConnectionEnd("closed", 1006, str(error))) from None
        except (trio_websocket.HandshakeError, OSError, trio.BrokenResourceError) as exc:
            end = _ConnectionEnd("closed", 1006, f"connection failed: {exc}")
            if self._status is Status.READY or self._conn_end is not None:
                self._conn_end = self._conn_end or end
            else:
                raise _SetupFailed(
                    TransientError(1006, f"could not connect to {url}: {type(exc).__name__} {exc}"),
                    end,
                ) from exc
        finally:
            self._conn_scope = None
            self._conn_nursery = None
            # connection_lost() forgets the goAway; how the close is classified depends on
            # it (1000 / 1011 deadline after goAway: resume, PROTOCOL.md 7), so keep it.
            self._go_away_seen = proto.go_away_deadline is not None
            self._serving = False
            if proto.status in (Status.CONNECTING, Status.SETUP_PENDING, Status.READY):
                proto.connection_lost()
                self._sync_status()
        if self._conn_end is None and conn_scope.cancelled_caught:
            if not self._user_close:
                error = TransientError(
                    1006, f"could not connect to {url} within {_CONNECT_TIMEOUT:g} s"
                )
                raise _SetupFailed(error, _ConnectionEnd("closed", 1006, str(error)))
            self._conn_end = _ConnectionEnd("user", 1000, "closed by the client")

    async def _setup_and_serve(
        self,
        ws: WebSocketLike,
        target: ConnectTarget,
        on_started: Callable[[], None] | None,
        resumed: bool,
    ) -> None:
        proto = self._proto
        assert proto is not None
        await self._setup(ws, target)
        log.info("session ready (session id %s)", proto.session_id)
        if on_started is not None:
            on_started()
        else:
            transparent = self._transparent()
            if not resumed or not transparent:
                # The server sends `resumable: false` while calls are pending, so the latest
                # handle predates every pending call: the resumed (or new) session never
                # issued them, and answers to them would be refused (PROTOCOL.md 4).
                self._drop_stale_tool_responses()
                self._cancel_tool_calls(
                    "the session resumed from before these calls"
                    if resumed
                    else "the session restarted without resumption"
                )
            resend = self._since_handle.take()
            if resumed and not transparent and resend:
                log.info("re-sending %d messages sent after the resumed handle", len(resend))
                self._outbound.push_front(resend)
            self._emit(ev.Reconnected(resumed=resumed))
        await self._serve(ws)

    def _transparent(self) -> bool:
        assert self._proto is not None
        config = self._proto.setup.session_resumption
        return bool(config and config.transparent)

    async def _setup(self, ws: WebSocketLike, target: ConnectTarget) -> None:
        proto = self._proto
        assert proto is not None
        self._vertex = target.vertex
        with trio.move_on_after(self._setup_timeout) as timeout:
            await self._stop_if_closing()
            frame = proto.setup_frame()
            self._sync_status()
            await ws.send_message(frame.decode())
            log.debug("sent setup (%d bytes)", len(frame))
            try:
                data = await ws.get_message()
            except trio_websocket.ConnectionClosed as exc:
                end = _close_end(exc.reason)
                raise _SetupFailed(classify_close(end.code, end.reason), end) from None
            # aclose() may have run while the answer was on its way: a close, not an error.
            await self._stop_if_closing()
            try:
                message = w.decode_server_message(data)
                events = proto.receive_message(message, _raw(data), trio.current_time())
            except ProtocolError as exc:
                error = SetupError(f"invalid answer to setup: {exc}")
                raise _SetupFailed(error, _ConnectionEnd("closed", None, str(error))) from None
        if timeout.cancelled_caught:
            error = SetupError(f"no setupComplete within {self._setup_timeout:g} s")
            raise _SetupFailed(error, _ConnectionEnd("closed", None, str(error)))
        self._set_status(Status.READY)
        self._ready_at = trio.current_time()
        self._dispatch(message, events)

    async def _stop_if_closing(self) -> None:
        """Checkpoint; when the user is closing, end this connection attempt here."""
        if self._user_close:
            self._end_connection(_ConnectionEnd("user", 1000, "closed by the client"))
        await trio.lowlevel.checkpoint()

    async def _serve(self, ws: WebSocketLike) -> None:
        """Run the connection's tasks until one of them ends it."""
        proto = self._proto
        assert proto is not None
        replay = self._replay.take()
        if replay:
            log.info("re-sending %d unacknowledged messages", len(replay))
            self._outbound.push_front(replay)
        try:
            async with trio.open_nursery() as nursery:
                self._conn_nursery = nursery
                self._serving = True
                nursery.start_soon(self._receiver, ws, nursery.cancel_scope)
                nursery.start_soon(self._sender, ws, nursery.cancel_scope)
                if self._keepalive_interval:
                    nursery.start_soon(self._keepalive, ws, nursery.cancel_scope)
        finally:
            # Frames handled while the socket closes (the close drain) must not start
            # tasks here any more: a goAway then is moot (review: nursery closed).
            self._conn_nursery = None

    def _end_connection(self, end: _ConnectionEnd) -> None:
        if self._conn_end is None:
            self._conn_end = end
        self._drained.unpark_all()
        if self._conn_scope is not None:
            self._conn_scope.cancel()

    async def _receiver(self, ws: WebSocketLike, scope: trio.CancelScope) -> None:
        try:
            while True:
                self._handle_frame(await ws.get_message())
        except trio_websocket.ConnectionClosed as exc:
            self._end_connection(_close_end(exc.reason))
        scope.cancel()

    def _handle_frame(self, data: str | bytes) -> None:
        proto = self._proto
        assert proto is not None
        try:
            message = w.decode_server_message(data)
            events = proto.receive_message(message, _raw(data), trio.current_time())
        except ProtocolError as exc:
            # PROTOCOL.md 8.7: a malformed or unexpected frame never crashes the session.
            self._protocol_errors += 1
            log.warning("ignored a malformed server message: %s", exc)
            self._report_error(exc)
            return
        self._dispatch(message, events)

    async def _close_socket(self, ws: WebSocketLike, code: int) -> None:
        """Close with ``code``, still draining (and handling) what the server sends.

        The server's close reply comes after whatever it was sending: someone must read
        those frames for the handshake to complete (in the default transport the reader is
        this drain; trio-websocket's own reader stalls while its one-message queue is full).
        Frames read here are handled as usual, e.g. a last resumption handle.
        """
        async def drain() -> None:
            try:
                while True:
                    self._handle_frame(await ws.get_message())
            except (trio_websocket.ConnectionClosed, trio.BrokenResourceError, OSError):
                pass

        with trio.move_on_after(_DISCONNECT_TIMEOUT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(drain)
                try:
                    await ws.aclose(code)
                except (trio_websocket.ConnectionClosed, trio.BrokenResourceError, OSError):
                    pass
                nursery.cancel_scope.cancel()

    def _send_direct(self, item: OutboundItem) -> bool:
        """Issue 7: write ``item`` from the caller's task when nothing is queued or in flight.

        Saves waking the send task (two task steps per message, most of a real-time
        session's scheduling cost). Only when the write needs no waiting (the lean
        transport's ``try_send_message``); otherwise, and whenever anything is queued or
        being written, the frame goes through the queue as before, so order is kept. The
        caller checkpoints (``send_*`` stay schedule points) and checks cancellation before
        calling this, so a cancelled call has sent nothing. ``True``: written (or committed:
        a partial write is finished by the send task, woken with a flush marker).
        """
        direct = self._direct
        if (
            direct is None
            or self._in_flight
            or len(self._outbound)
            or self._conn_end is not None
            or self._outbound.closed
        ):
            return False
        written = direct(item.frame)
        if written is None:
            return False
        self._count_sent(item)
        if written is False:
            # The rest of the frame is the stream's to write before anything else: wake the
            # send task to flush it now rather than at the next frame.
            self._outbound.push_front([OutboundItem("", 0.0, _FLUSH)])
        return True

    def _count_sent(self, item: OutboundItem) -> None:
        """A frame was written: give it its index and keep what resumption needs."""
        # The index of each frame on this connection, as the server counts them for
        # lastConsumedClientMessageIndex: setup is 0, the first frame after it is 1
        # (PROTOCOL.md 4). Counted when a frame is actually written, not when it is queued
        # (``LiveProtocol.client_frame`` runs at queue time, possibly during an earlier
        # connection), so that acknowledgements match the frames they name.
        self._sent_index += 1
        if self._sent_transparent:
            self._replay.sent(self._sent_index, item)
        elif item.kind in _RESENT_AFTER_RESUME:
            self._since_handle.sent(item, turn=item.kind in _TURNS)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("sent %s frame #%d", item.kind, self._sent_index)

    async def _sender(self, ws: WebSocketLike, scope: trio.CancelScope) -> None:
        proto = self._proto
        assert proto is not None
        self._sent_transparent = self._transparent()
        self._sent_index = 0
        outbound = self._outbound
        # Issue 7: the lean transport writes a whole batch with one send_all (one TLS write,
        # one syscall); an injected trio-websocket-like connection gets one frame per call.
        send_batch = getattr(ws, "send_messages", None)
        self._direct = getattr(ws, "try_send_message", None)
        try:
            await self._send_loop(ws, scope, outbound, send_batch)
        finally:
            self._direct = None

    async def _send_loop(
        self,
        ws: WebSocketLike,
        scope: trio.CancelScope,
        outbound: OutboundQueue,
        send_batch: Callable[[list[str]], Awaitable[None]] | None,
    ) -> None:
        while True:
            batch = [await outbound.get()]
            if send_batch is not None:
                # Every frame queued at this moment, up to a bound, in queue order.
                size = len(batch[0].frame)
                while len(batch) < _MAX_BATCH_FRAMES and size < _MAX_BATCH_CHARS:
                    more = outbound.get_nowait()
                    if more is None:
                        break
                    batch.append(more)
                    size += len(more.frame)
            self._in_flight = True
            try:
                if send_batch is not None:
                    # A flush marker has no frame: the write finishes a partial direct one.
                    await send_batch([item.frame for item in batch if item.kind != _FLUSH])
                elif batch[0].kind != _FLUSH:
                    await ws.send_message(batch[0].frame)
            except (trio_websocket.ConnectionClosed, trio.BrokenResourceError,
                    trio.ClosedResourceError):
                # Not (fully) sent: the whole batch goes out first on the next connection,
                # in its order.
                outbound.push_front(batch)
                reason = getattr(ws, "closed", None)
                self._end_connection(
                    _ConnectionEnd(
                        "closed",
                        getattr(reason, "code", None),
                        getattr(reason, "reason", "") or "",
                    )
                )
                scope.cancel()
                return
            except BaseException:
                # Cancelled mid-send: whether it reached the server is unknown; keep it.
                outbound.push_front(batch)
                raise
            finally:
                self._in_flight = False
                if not len(outbound):
                    self._drained.unpark_all()
            for item in batch:
                if item.kind != _FLUSH:
                    self._count_sent(item)

    async def _keepalive(self, ws: WebSocketLike, scope: trio.CancelScope) -> None:
        assert self._keepalive_interval is not None
        while True:
            await trio.sleep(self._keepalive_interval)
            with trio.move_on_after(self._keepalive_timeout) as timeout:
                try:
                    await ws.ping()
                except (trio_websocket.ConnectionClosed, trio.BrokenResourceError):
                    return  # the receive task reports the close
            if timeout.cancelled_caught:
                log.warning("no pong within %g s: reconnecting", self._keepalive_timeout)
                self._end_connection(_ConnectionEnd("keepalive", 1011, "keepalive ping timeout"))
                scope.cancel()
                return

    async def _go_away_timer(self, deadline: float) -> None:
        """Reconnect before ``deadline``, at a safe point when time allows (issue 5)."""
        assert self._policy is not None
        now = trio.current_time()
        margin = min(self._policy.go_away_margin, max(0.0, deadline - now) / 2)
        latest = deadline - margin
        with trio.move_on_at(latest):
            while True:
                proto = self._proto
                if proto is None or (not proto.in_turn and not proto.active_tool_calls):
                    break
                idle = self._idle
                await idle.wait()
                await trio.lowlevel.checkpoint()
        log.info("reconnecting before the goAway deadline")
        self._end_connection(_ConnectionEnd("go_away", 1000, "goAway"))

    # --- internals: dispatch --------------------------------------------------------------

    def _emit(self, event: ev.Event) -> None:
        self._events.put(event)
        handler = self._handlers.get(_HANDLER_FOR.get(type(event), ""))
        if handler is not None:
            self._queue_handler(handler, event)

    def _dispatch(self, message: w.ServerMessage, events: list[ev.Event]) -> None:
        on_message = self._handlers.get("on_message")
        if on_message is not None:
            self._queue_handler(on_message, message)
        if (
            len(events) == 1
            and type(events[0]) is ev.AudioChunk
            and not log.isEnabledFor(logging.DEBUG)
        ):
            # The hot path (PROTOCOL.md 4: output audio is most of the traffic): no handler
            # takes audio chunks, and the model is in a turn.
            self._events.put(events[0])
            if self._idle.is_set():
                self._idle = trio.Event()
            return
        proto = self._proto
        assert proto is not None
        if log.isEnabledFor(logging.DEBUG):
            log.debug("received %s", ", ".join(type(e).__name__ for e in events) or "nothing")
        for event in events:
            kind = type(event)
            if kind is ev.ToolCallCancellation:
                self._on_cancellation(event)  # type: ignore[arg-type]
            elif kind is ev.ToolCall:
                self._on_tool_call(event)  # type: ignore[arg-type]
            elif kind is ev.SessionResumptionUpdate:
                update: ev.SessionResumptionUpdate = event  # type: ignore[assignment]
                if update.last_consumed_index is not None:
                    self._replay.acknowledge(update.last_consumed_index)
                if update.resumable and update.handle:
                    self._since_handle.covered()
            elif kind is ev.GoAway:
                self._on_go_away()
            elif kind is ev.TurnComplete:
                self._since_handle.turn_completed()
            self._emit(event)
        self._update_idle()

    def _update_idle(self) -> None:
        """``_idle`` is set exactly while no model turn and no tool call is in progress:
        the safe point the goAway timer waits for (derived from the protocol, never kept
        by hand)."""
        proto = self._proto
        busy = proto is not None and (proto.in_turn or bool(proto.active_tool_calls))
        if busy and self._idle.is_set():
            self._idle = trio.Event()
        elif not busy:
            self._idle.set()

    def _on_go_away(self) -> None:
        proto = self._proto
        assert proto is not None
        deadline = proto.go_away_deadline
        log.info("goAway: the server closes this connection in %.1f s",
                 (deadline or 0) - trio.current_time())
        if self._policy is None or deadline is None or self._conn_scope is None:
            return
        nursery = self._conn_nursery
        if nursery is not None:
            nursery.start_soon(self._go_away_timer, deadline)

    def _queue_handler(self, handler: Handler, arg: Any) -> None:
        self._handler_queue.append((handler, arg))
        if len(self._handler_queue) > _MAX_HANDLER_QUEUE:
            # A handler far behind: drop the oldest on_message item (never a control
            # event), so that memory stays bounded and the receive task never waits.
            on_message = self._handlers.get("on_message")
            for index, (queued, _) in enumerate(self._handler_queue):
                if queued is on_message:
                    del self._handler_queue[index]
                    self._dropped_handler_items += 1
                    break
        self._handler_lot.unpark()

    async def _dispatch_handlers(self) -> None:
        while True:
            while not self._handler_queue:
                await self._handler_lot.park()
            handler, arg = self._handler_queue.popleft()
            await self._call_handler(handler, arg)

    async def _call_handler(self, handler: Handler, arg: Any) -> Any:
        try:
            result = handler(arg)
            if inspect.isawaitable(result):
                result = await result
            return result
        except Exception as exc:
            self._handler_errors += 1
            name = getattr(handler, "__qualname__", repr(handler))
            log.exception("handler %s raised", name)
            on_error = self._handlers.get("on_error")
            if on_error is not None and handler is not on_error:
                try:
                    result = on_error(exc)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("on_error handler raised")
            return None

    def _report_error(self, error: BaseException) -> None:
        on_error = self._handlers.get("on_error")
        if on_error is not None:
            self._queue_handler(on_error, error)

    # --- internals: tool calls ------------------------------------------------------------

    def _on_tool_call(self, event: ev.ToolCall) -> None:
        nursery = self._nursery
        if nursery is None:
            return
        registry = self._tools
        handler = self._handlers.get("on_tool_call")
        manual: list[w.FunctionCall] = []
        for call in event.calls:
            if registry is not None and (
                registry.get(call.name) is not None
                or (handler is None and call.name not in self._declared_by_config)
            ):
                # A registered tool, or a function nobody declared or handles: the registry
                # answers it with an error, since every call must be answered (PROTOCOL.md 3.4).
                nursery.start_soon(self._run_registered_tool, call, self._track([call]))
            else:
                manual.append(call)
        if manual and handler is not None:
            batch = ev.ToolCall(calls=tuple(manual))
            nursery.start_soon(self._run_tool_handler, handler, batch, self._track(manual))

    def _track(self, calls: Iterable[w.FunctionCall]) -> _CallTask:
        """Register the task that will answer ``calls`` now, before it starts: a cancellation
        in the same message (or the next) must find it."""
        task = _CallTask(call.id for call in calls if call.id is not None)
        for call_id in task.ids:
            self._tool_tasks[call_id] = task
        return task

    def _on_cancellation(self, event: ev.ToolCallCancellation) -> None:
        for call_id in event.ids:
            task = self._tool_tasks.pop(call_id, None)
            if task is not None:
                task.ids.discard(call_id)
                if not task.ids:
                    # Cancelled only when all its calls are: the others must still be answered.
                    task.scope.cancel()

    def _still_active(self, ids: Iterable[str]) -> list[str]:
        """Of ``ids``, those not cancelled; they stop being tracked (they are being answered)."""
        return [call_id for call_id in ids if self._tool_tasks.pop(call_id, None) is not None]

    def _cancel_tool_calls(self, why: str) -> None:
        proto = self._proto
        if proto is None:
            return
        ids = tuple(proto.active_tool_calls)
        if not ids:
            return
        log.info("cancelling %d pending tool calls: %s", len(ids), why)
        proto.active_tool_calls.clear()
        event = ev.ToolCallCancellation(ids=ids)
        self._on_cancellation(event)
        self._emit(event)
        self._update_idle()

    def _drop_stale_tool_responses(self) -> None:
        """Answers queued for calls the new session never issued would be refused (PROTOCOL.md
        3.4, 4): they go, from the queue and from the buffers of frames to re-send, and the
        application is told with a ``ToolCallCancellation`` for those calls (it answered a
        call that no longer exists; the model issues it again if it still needs it)."""
        dropped = self._outbound.discard_kind("tool_response")
        dropped += self._replay.discard_kind("tool_response")
        if not dropped:
            return
        ids: list[str] = []
        for item in dropped:
            message = msgspec.json.decode(item.frame, type=w.ClientMessage)
            assert message.tool_response is not None
            ids.extend(r.id for r in message.tool_response.function_responses or () if r.id)
        log.info("dropped %d answers to calls of the previous session", len(ids))
        if ids:
            self._emit(ev.ToolCallCancellation(ids=tuple(ids)))

    async def _run_registered_tool(self, call: w.FunctionCall, task: _CallTask) -> None:
        """Run a call with its registered tool; answer it exactly once unless cancelled."""
        assert call.id is not None
        if task.scope.cancel_called:
            return  # cancelled before it started (a bundled toolCallCancellation)
        response: w.FunctionResponse | None = None
        with task.scope:
            # The tool's own timeout answers first; the session's bounds tools without one.
            with trio.move_on_after(
                self._tool_timeout if self._tool_timeout is not None else math.inf
            ) as timeout:
                response = await self._tools.handle(call)
            if timeout.cancelled_caught:
                response = w.FunctionResponse(
                    id=call.id,
                    name=call.name,
                    response={"error": f"the tool call timed out after {self._tool_timeout:g} s"},
                )
        if not self._still_active([call.id]) or response is None:
            return  # cancelled by toolCallCancellation: a cancelled call is not answered
        await self._answer([response])

    async def _run_tool_handler(self, handler: Handler, event: ev.ToolCall, task: _CallTask) -> (
        None
    ):
        ids = [call.id for call in event.calls if call.id is not None]
        if task.scope.cancel_called:
            return  # every call was cancelled before the handler started
        result: Any = None
        failure: str | None = None
        with task.scope:
            try:
                with trio.fail_after(self._tool_timeout if self._tool_timeout else math.inf):
                    result = handler(event)
                    if inspect.isawaitable(result):
                        result = await result
            except trio.TooSlowError:
                failure = f"the tool call timed out after {self._tool_timeout:g} s"
            except Exception as exc:
                self._handler_errors += 1
                log.exception("on_tool_call raised")
                self._report_error(exc)
                failure = f"{type(exc).__name__}: {exc}"
        live_ids = self._still_active(ids)
        if not live_ids:
            return  # every call was cancelled by toolCallCancellation (or the session ended)
        if failure is None and result is None:
            return  # the handler answers by itself (send_tool_response)
        by_id: dict[str, w.FunctionResponse] = {}
        if failure is None:
            try:
                for i, item in enumerate(_as_list(result)):
                    resp = _inputs.tool_response(_fill(item, event), i, vertex=self._vertex)
                    by_id[resp.id or ""] = resp
            except (TypeError, ValueError) as exc:
                failure = f"on_tool_call returned an invalid response: {exc}"
                self._report_error(exc)
                by_id = {}
        names = {call.id: call.name for call in event.calls}
        answers: list[w.FunctionResponse] = []
        for call_id in live_ids:
            if call_id in by_id:
                answers.append(by_id[call_id])
            else:
                answers.append(
                    w.FunctionResponse(
                        id=call_id,
                        name=names.get(call_id),
                        response={"error": failure or "the handler gave no response for this call"},
                    )
                )
        if answers:
            await self._answer(answers)

    async def _answer(self, responses: list[w.FunctionResponse]) -> None:
        if self._vertex:
            # PROTOCOL.md 3.1: Vertex breaks on these Gemini-API-only fields.
            responses = [
                msgspec.structs.replace(r, scheduling=None, will_continue=None) for r in responses
            ]
        try:
            await self._send(
                w.ClientMessage(tool_response=w.ToolResponse(function_responses=responses)),
                "tool_response",
            )
        except LiveError as exc:
            log.info("tool response not sent: %s", exc)


class _CallTask:
    """The task answering some tool calls: cancelled once all of them are cancelled."""

    __slots__ = ("ids", "scope")

    def __init__(self, ids: Iterable[str]) -> None:
        self.ids = set(ids)
        self.scope = trio.CancelScope()


class _SetupFailed(Exception):
    def __init__(self, error: LiveError, end: _ConnectionEnd) -> None:
        super().__init__(str(error))
        self.error = error
        self.end = end


_MAX_HANDLER_QUEUE: Final = 4096
#: The send task's batch (issue 7): frames and characters of JSON written with one send_all.
_MAX_BATCH_FRAMES: Final = 64
_MAX_BATCH_CHARS: Final = 512 * 1024
#: The kind of the queue marker that makes the send task finish a partial direct write.
_FLUSH: Final = "flush"
#: What is re-sent after a non-transparent resume: the user's words. Audio and video are
#: real time (stale by then); tool responses answer calls the resumed state never issued.
_RESENT_AFTER_RESUME: Final = frozenset({"client_content", "client_turn", "text"})
#: Of those, the messages the model answers with a turn of its own (realtime text too).
_TURNS: Final = frozenset({"client_turn", "text"})

_HANDLER_FOR: Final[dict[type, str]] = {
    ev.ToolCallCancellation: "on_tool_call_cancellation",
    ev.InputTranscription: "on_transcription",
    ev.OutputTranscription: "on_transcription",
    ev.VoiceActivity: "on_voice_activity",
    ev.SessionResumptionUpdate: "on_session_resumption",
    ev.GoAway: "on_go_away",
}


def _close_end(reason: Any) -> _ConnectionEnd:
    if reason is None:
        return _ConnectionEnd("closed", 1006, "")
    return _ConnectionEnd("closed", reason.code, reason.reason or "")


def _raw(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else data


def _as_list(result: Any) -> list[Any]:
    if isinstance(result, (w.FunctionResponse, Mapping)):
        return [result]
    return list(result)


def _fill(item: Any, event: ev.ToolCall) -> Any:
    """A handler answering a single call may leave out its id and name."""
    if len(event.calls) != 1:
        return item
    call = event.calls[0]
    if isinstance(item, w.FunctionResponse):
        return msgspec.structs.replace(item, id=item.id or call.id, name=item.name or call.name)
    if isinstance(item, Mapping):
        return {"id": call.id, "name": call.name, **item}
    return item


def _rejected_error(exc: trio_websocket.ConnectionRejected) -> LiveError:
    from ._errors import AuthRejectedError, NotFoundError

    body = (exc.body or b"").decode("utf-8", "replace")[:300]
    status = exc.status_code
    if status in (401, 403):
        return AuthRejectedError(1008, f"HTTP {status} during the handshake: {body}".strip())
    if status == 404:
        return NotFoundError(1008, f"HTTP 404 during the handshake: {body}".strip())
    if status == 429:
        from ._errors import QuotaExceededError

        return QuotaExceededError(1008, f"HTTP 429 during the handshake: {body}".strip())
    return TransientError(1006, f"HTTP {status} during the handshake: {body}".strip())


_NOT_GIVEN: Final = object()


@asynccontextmanager
async def open_live_session(
    nursery: trio.Nursery,
    *,
    model: str,
    auth: Auth | None = None,
    config: LiveConfig | None = None,
    api_version: str = "v1beta",
    endpoint: str | None = None,
    resume_handle: str | None = None,
    reconnect: ReconnectPolicy | bool | Any = _NOT_GIVEN,
    connect: Connect | None = None,
    ssl_context: ssl.SSLContext | None = None,
    tools: Iterable[Any] | None = None,
    setup_timeout: float = 30.0,
    keepalive_interval: float | None = 30.0,
    keepalive_timeout: float = 90.0,
    input_sample_rate: int = _DEFAULT_INPUT_RATE,
    max_event_audio_seconds: float = 60.0,
    max_outbound_messages: int = 256,
    max_outbound_audio_seconds: float = 5.0,
    tool_timeout: float | None = 60.0,
    on_message: Handler | None = None,
    on_error: Handler | None = None,
    on_close: Handler | None = None,
    on_tool_call: Handler | None = None,
    on_tool_call_cancellation: Handler | None = None,
    on_transcription: Handler | None = None,
    on_voice_activity: Handler | None = None,
    on_session_resumption: Handler | None = None,
    on_go_away: Handler | None = None,
) -> AsyncIterator[LiveSession]:
    """Open a Live API session; yields a ready :class:`LiveSession`.

    Connects, sends ``setup`` and returns once ``setupComplete`` arrived. The session's
    background tasks run in ``nursery`` under a cancel scope the session owns; leaving the
    block closes the session gracefully (queued input flushed, close frame 1000) and ends
    them. An exception raised inside the block comes out as itself; a cancellation from
    outside is a clean cancel; a fatal error of the session comes out of the block as the
    session's :class:`~trio_gemini_live.LiveError`.

    Args:
        nursery: where the session's tasks run.
        model: the model name (``"gemini-2.5-flash-native-audio-preview-12-2025"``).
        auth: :class:`ApiKey`, :class:`VertexAI` or :class:`EphemeralToken`; ``None`` reads
            the environment as the official SDK does.
        config: the setup (:class:`LiveConfig`).
        api_version: ``"v1beta"`` (default), ``"v1alpha"`` or ``"v1"``.
        endpoint: ``"ws://host:port"`` or ``"wss://host:port"`` in place of Google's host.
        resume_handle: resume this session handle on the first connection.
        reconnect: a :class:`ReconnectPolicy`, ``False`` to never reconnect, or omitted for
            the default policy when ``session_resumption`` is configured (else no
            reconnection: without a handle the context would be lost).
        connect: inject the transport: ``connect(url, headers)`` returns an async context
            manager of a trio-websocket-like connection.
        ssl_context: TLS settings for ``wss://`` (default: verification on, system store).
        tools: Python functions (see :mod:`trio_gemini_live.tools`) declared in the setup
            and run automatically when the model calls them.
        setup_timeout: seconds to wait for ``setupComplete`` (``SetupError`` after).
        keepalive_interval: seconds between pings (``None``: no keepalive pings).
        keepalive_timeout: seconds to wait for a pong; generous on purpose: the server's
            pongs have been measured at 8-30 s (PROTOCOL.md 6).
        input_sample_rate: the rate of raw PCM given to ``send_realtime_input(audio=...)``.
        max_event_audio_seconds: model audio kept queued for a slow ``events()`` reader
            before the oldest is dropped (counted in :meth:`LiveSession.statistics`).
        max_outbound_messages: non-audio messages queued before ``send_*`` waits.
        max_outbound_audio_seconds: input audio kept queued (e.g. during a reconnect)
            before the oldest is dropped.
        tool_timeout: seconds a tool or ``on_tool_call`` may take before the call is
            answered with an error (``None``: no limit).
        on_*: the optional handlers ``on_message``, ``on_error``, ``on_close``,
            ``on_tool_call``, ``on_tool_call_cancellation``, ``on_transcription``,
            ``on_voice_activity``, ``on_session_resumption`` and ``on_go_away``: sync or
            async, run in a task of their own so that a slow handler never stalls the
            socket; one that raises is logged and reported to ``on_error``.
            ``on_tool_call(event)`` may return responses, which are sent automatically.

    Raises:
        SetupError: no ``setupComplete`` in time, or a malformed answer.
        SessionClosedError: the server refused the setup (its code and reason).
        AuthError: no usable credentials.
        TypeError, ValueError: invalid arguments (before anything is sent).
    """
    if not isinstance(model, str) or not model.strip():
        raise ValueError("model must be a non-empty model name")
    if config is None:
        config = LiveConfig()
    elif not isinstance(config, LiveConfig):
        raise TypeError("config must be a LiveConfig")
    if input_sample_rate <= 0:
        raise ValueError("input_sample_rate must be positive")
    if setup_timeout <= 0 or keepalive_timeout <= 0:
        raise ValueError("timeouts must be positive")
    if keepalive_interval is not None and not keepalive_interval > 0:
        raise ValueError("keepalive_interval must be positive, or None for no pings")
    if tool_timeout is not None and not tool_timeout > 0:
        raise ValueError("tool_timeout must be positive, or None for no limit")
    resolved_auth = auth if auth is not None else auth_from_env()
    if reconnect is _NOT_GIVEN:
        policy: ReconnectPolicy | None = (
            ReconnectPolicy() if config.session_resumption is not None else None
        )
    elif reconnect is False or reconnect is None:
        policy = None
    elif reconnect is True:
        policy = ReconnectPolicy()
    elif isinstance(reconnect, ReconnectPolicy):
        policy = reconnect
    else:
        raise TypeError("reconnect must be a ReconnectPolicy or a bool")
    registry = None
    extra_tools: list[w.Tool] = []
    if tools is not None:
        from .tools import ToolRegistry

        registry = ToolRegistry(tools)
        extra_tools = registry.declarations()
    handlers: dict[str, Handler | None] = {
        "on_message": on_message,
        "on_error": on_error,
        "on_close": on_close,
        "on_tool_call": on_tool_call,
        "on_tool_call_cancellation": on_tool_call_cancellation,
        "on_transcription": on_transcription,
        "on_voice_activity": on_voice_activity,
        "on_session_resumption": on_session_resumption,
        "on_go_away": on_go_away,
    }
    for name, handler in handlers.items():
        if handler is not None and not callable(handler):
            raise TypeError(f"{name} must be callable")
    session = LiveSession(
        model=model,
        auth=resolved_auth,
        config=config,
        api_version=api_version,
        endpoint=endpoint,
        resume_handle=resume_handle,
        reconnect=policy,
        connect=_unwrapping(connect) if connect else _default_connect(ssl_context),
        handlers=handlers,
        setup_timeout=setup_timeout,
        keepalive_interval=keepalive_interval,
        keepalive_timeout=keepalive_timeout,
        input_sample_rate=input_sample_rate,
        max_event_audio_seconds=max_event_audio_seconds,
        max_outbound_messages=max_outbound_messages,
        max_outbound_audio_seconds=max_outbound_audio_seconds,
        tool_timeout=tool_timeout,
        tools=registry,
    )
    # The model's wire name depends on the backend: ask the auth for it before building
    # the setup (Vertex credentials may be refreshed here, in a thread, and again before
    # every connection if they expire).
    target = await resolved_auth.target(model=model, api_version=api_version, endpoint=endpoint)
    setup = config.to_setup(target.model, extra_tools, vertex=target.vertex)
    session._vertex = target.vertex
    session._proto = LiveProtocol(setup, resume_handle=resume_handle)
    try:
        await nursery.start(session._main)
    except BaseExceptionGroup as group:
        # A failed setup crosses _main's own nursery: raise the LiveError itself (the
        # exception-group policy of DESIGN.md), not a group around it.
        _raise_lone(group)
    try:
        with session._body_scope:
            yield session
    except BaseException:
        # After an exception or a cancellation: tear down at once, bounded, no flush.
        with trio.CancelScope(shield=True):
            await session._shutdown(flush=False)
        raise
    await session.aclose()
    if session._body_scope.cancelled_caught and session._error is not None:
        raise session._error


