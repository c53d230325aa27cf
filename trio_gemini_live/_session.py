"""``LiveSession``: the public session, and the pumps that move its bytes (DESIGN.md).

Shape::

    send_*  -> check, encode once (core) -> written directly, or OutboundQueue -> send task
    socket -> receive task (always drains) -> LiveProtocol (core) -> EventQueue -> events()
                                                              \\-> handler task, tool-call tasks

Every protocol decision is the core's (:mod:`._protocol`); this module only pumps bytes,
time and cancellation. The connection loop is in :mod:`._connection`, the pumps' bodies in
:mod:`._send` and :mod:`._receive`, the handlers in :mod:`._handlers`, the tool-call tasks
in :mod:`._toolcalls`, ``open_live_session`` in :mod:`._open`.

Error policy: the session never raises into the caller's nursery. A fatal error is stored;
``events()`` delivers what was queued and then raises it; ``send_*`` raise it; and when no
task is reading ``events()``, the body of ``async with open_live_session(...)`` is cancelled
and the error comes out of the ``async with`` as itself.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Final

import msgspec
import trio

from . import _inputs, _receive, _send
from . import _wire as w
from . import events as ev
from ._buffers import AUDIO
from ._errors import LiveError, SlowConsumerError
from ._events_stream import EventStream
from ._handlers import HandlerDispatcher
from ._monitor import Monitor
from ._options import (
    CLOSE_FLUSH_TIMEOUT,
    DISCONNECT_TIMEOUT,
    QUICK_CLOSE_TIMEOUT,
    SessionOptions,
    SessionStatistics,
)
from ._protocol import (
    FAILED,
    USER,
    ConnectionEnd,
    LiveProtocol,
    Status,
)
from ._queues import EventQueue, OutboundQueue
from ._toolcalls import ToolCallRunner
from ._transcript import Turn

if TYPE_CHECKING:
    from ._auth import Auth
    from ._config import LiveConfig
    from ._connection import Connect
    from ._websocket import MessageConnection, WebSocket
    from .models import ModelProfile
    from .testing._recorder import Recorder

__all__ = ["LiveSession"]

log: Final = logging.getLogger("trio_gemini_live")

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
        config: LiveConfig,
        profile: ModelProfile,
        auth: Auth,
        api_version: str,
        endpoint: str | None,
        proto: LiveProtocol,
        options: SessionOptions,
        connect: Connect,
        handlers: HandlerDispatcher,
        tools: ToolCallRunner,
        monitor: Monitor,
        recorder: Recorder | None = None,
    ) -> None:
        self._model = model
        self._config = config
        self._profile = profile
        self._auth = auth
        self._api_version = api_version
        self._endpoint = endpoint
        self._proto = proto
        self._options = options
        self._connect = connect
        self._handlers = handlers
        self._tools = tools
        self._monitor = monitor
        self._recorder = recorder
        self._events = EventQueue(
            int(options.max_event_audio_seconds * 24000 * 2), options.max_event_bytes
        )
        self._outbound = OutboundQueue(proto.outbox)
        # Issue 11: what only a waiter needs is made by the first waiter (_changed,
        # _turn_done, _drained), and the statuses entered are counted rather than each kept
        # as an event: fewer objects per session for the garbage collector to scan.
        #: Set (and dropped) at every status change; made by the first ``wait_status``.
        self._changed: trio.Event | None = None
        self._status = Status.DISCONNECTED
        #: How many times each status was entered.
        self._entries = dict.fromkeys(Status, 0)
        self._entries[Status.DISCONNECTED] = 1
        self._error: LiveError | None = None
        self._closed_event: ev.SessionClosed | None = None
        self._done = trio.Event()
        self._scope = trio.CancelScope()
        self._body_scope = trio.CancelScope()
        self._conn_scope: trio.CancelScope | None = None
        self._conn_end: ConnectionEnd | None = None
        self._conn_nursery: trio.Nursery | None = None
        self._in_flight = False
        #: The connection's synchronous write while its send task runs, for the direct path.
        self._direct: Callable[[str], bool | None] | None = None
        self._serving = False
        self._main_task: trio.lowlevel.Task | None = None
        self._error_delivered = False
        self._drained: trio.lowlevel.ParkingLot | None = None
        self._user_close = False
        self._quick_close = False
        self._readers = 0
        #: Set when the core is next not busy; made by the goAway timer when it must wait
        #: (an event per session, replaced at every turn, was an object for the collector).
        self._idle: trio.Event | None = None
        #: Set (and dropped) at every turnComplete: what aclose(finish_turn=...) waits for.
        self._turn_done: trio.Event | None = None
        self._protocol_errors = 0
        #: aclose(finish_turn=...) is waiting for the model: the session's own answers go out.
        self._finishing = False
        #: The close handshake's scope while one runs (``_hurry`` shortens it).
        self._close_scope: trio.CancelScope | None = None
        #: The events queue overflowed while a connection was ending: the session's error.
        self._slow: SlowConsumerError | None = None
        #: A fatal close the server sent during the client's own close (its answer to the
        #: last input): the session's error, not a normal close.
        self._late_error: LiveError | None = None

    # --- public state ---------------------------------------------------------------------

    @property
    def status(self) -> Status:
        """The current :class:`~trio_gemini_live.Status`."""
        return self._status

    @property
    def model(self) -> str:
        """The model name, as given to ``open_live_session``."""
        return self._model

    @property
    def config(self) -> LiveConfig:
        """The session's :class:`~trio_gemini_live.LiveConfig` (as given)."""
        return self._config

    @property
    def profile(self) -> ModelProfile:
        """The rules of the session's model (:mod:`trio_gemini_live.models`)."""
        return self._profile

    @property
    def session_id(self) -> str | None:
        """The server's session id (from ``setupComplete``), if it sent one."""
        return self._proto.session_id

    @property
    def session_handle(self) -> str | None:
        """The latest resumable handle: pass it as ``resume_handle`` to resume later."""
        return self._proto.handle

    @property
    def usage(self) -> ev.Usage:
        """The latest token usage report (see :class:`~trio_gemini_live.events.Usage`)."""
        return self._proto.usage

    @property
    def active_tool_calls(self) -> dict[str, w.FunctionCall]:
        """Tool calls the server issued that are not yet answered or cancelled, by id."""
        return dict(self._proto.active_tool_calls)

    @property
    def conversation(self) -> tuple[Turn, ...]:
        """The conversation so far, one entry per completed turn (issue 14).

        User turns come from text sent and input transcription, model turns from text and
        output transcription; fragments are joined, turns cut by an interruption or a lost
        connection are marked ``cut``, tool calls and results are included. Bounded by
        ``open_live_session(conversation_turns=...)`` (``0``: not kept). With
        ``reseed_conversation`` (the default) a fresh reconnection starts from it.
        """
        return self._monitor.record.turns

    @property
    def error(self) -> LiveError | None:
        """The error that ended the session, if one did."""
        return self._error

    def statistics(self) -> SessionStatistics:
        """Queue depths, drops and reconnections so far."""
        proto = self._proto
        return SessionStatistics(
            status=self._status,
            queued_events=len(self._events),
            queued_event_bytes=self._events.queued_bytes,
            queued_outbound=len(self._outbound),
            queued_outbound_audio_seconds=proto.outbox.audio_seconds,
            dropped_input_audio_chunks=proto.dropped_audio_chunks,
            dropped_input_audio_seconds=proto.dropped_audio_seconds,
            dropped_output_audio_chunks=self._events.dropped_audio_chunks,
            dropped_output_audio_bytes=self._events.dropped_audio_bytes,
            reconnects=proto.reconnects,
            connections=proto.connections,
            resent_turns=proto.resent_turns,
            dropped_tool_responses=proto.dropped_tool_responses,
            handler_errors=self._handlers.errors,
            dropped_handler_messages=self._handlers.dropped,
            protocol_errors=self._protocol_errors,
            latency=self._monitor.latency.statistics(),
            stalls=self._monitor.watchdog.stalls if self._monitor.watchdog else 0,
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
        entries = self._entries[status]
        while self._status is not status and self._entries[status] == entries:
            if self._status is Status.CLOSED:
                raise self._closed_error()
            if self._changed is None:
                self._changed = trio.Event()
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
        profile = self._profile
        if not profile.mid_session_client_content:
            # PROTOCOL.md 9: answered with a fatal 1007 on this model; refused here instead,
            # and the session goes on.
            await trio.lowlevel.checkpoint()
            raise ValueError(
                f"{self._model} ({profile.family} rules) does not accept clientContent "
                "during the session (the server closes it with 1007): send user text with "
                "send_text(), and earlier turns as open_live_session(history=...); pass "
                "open_live_session(profile=...) if Google changed this rule"
            )
        # A turn the model answers (turn_complete) is tracked until its turnComplete arrives.
        await self._send(message, "client_turn" if turn_complete else "client_content")

    async def send_text(self, text: str) -> None:
        """Send user text the way the session's model accepts it (PROTOCOL.md 9).

        ``realtimeInput.text`` on every built-in model (what each accepts), or a
        ``clientContent`` turn where the model's profile says so. The model answers it with
        a turn. The form every example uses.

        Raises:
            TypeError: ``text`` is not a string (nothing is sent).
            LiveError: the session is closed.
        """
        message = self._profile.user_text_message(text)
        await self._send(message, "text" if message.realtime_input is not None else "client_turn")

    async def send_context_update(
        self,
        system_instruction: str | w.Content | Mapping[str, Any] | None = None,
        tools: Iterable[Any] | None = None,
    ) -> None:
        """Change the system instruction and/or the tools mid-session (PROTOCOL.md 3.5).

        Only what is given changes; ``tools=[]`` removes every tool. ``tools`` take what
        ``open_live_session(tools=...)`` and ``LiveConfig(tools=...)`` take: Python
        functions (run by the session from now on, in place of the earlier ones), and
        :class:`Tool` entries or dicts. The update is sent in order with the other input,
        and kept: a later fresh (non-resumed) connection's setup carries it. It invalidates
        the server's prefix cache (the next answer is slower): send it only on change.

        Raises:
            ValueError: neither argument; a model that does not take context updates (the
                message says what to do instead); tools the model refuses.
            TypeError: an argument of the wrong kind (nothing is sent).
            LiveError: the session is closed.
        """
        profile = self._profile
        if not profile.context_update and (system_instruction is not None or tools is not None):
            raise ValueError(
                f"{self._model} ({profile.family} rules) does not accept contextUpdate "
                "(PROTOCOL.md 3.5): open a new session with the new config instead, or pass "
                "open_live_session(profile=...) if Google added it"
            )
        proto = self._proto
        update, registry, declared = _inputs.context_update(system_instruction, tools)
        if update.tools is not None:
            profile.check_setup(
                w.Setup(model=proto.setup.model, tools=update.tools.tools), vertex=proto.vertex
            )
        await self._send(w.ClientMessage(context_update=update), "context_update")
        # Committed: from now on, the session runs these tools, and a fresh connection's
        # setup says what the update said (PROTOCOL.md 3.5, LiveKit agents #5041).
        setup = proto.setup
        if update.system_instruction is not None:
            setup = msgspec.structs.replace(setup, system_instruction=update.system_instruction)
        if update.tools is not None:
            setup = msgspec.structs.replace(setup, tools=update.tools.tools or None)
            self._tools.registry = registry
            self._tools.declared_by_config = frozenset(
                d.name for t in declared for d in t.function_declarations or ()
            )
        proto.set_setup(setup)

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
            self._options.input_sample_rate,
            audio=audio,
            video=video,
            text=text,
            activity_start=activity_start,
            activity_end=activity_end,
            audio_stream_end=audio_stream_end,
        )
        await self._send(message, _REALTIME_KINDS.get(kind, kind), seconds, kind)

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
            TypeError, ValueError: a response without ``id`` or ``name``, a non-dict
                ``response``, or the Gemini-API-only fields on Vertex AI.
            LiveError: the session is closed.
        """
        message = _inputs.tool_responses(responses, vertex=self._proto.vertex)
        await self._send(message, "tool_response")

    async def _answer(self, responses: list[w.FunctionResponse]) -> None:
        """The tool-call tasks' answers: already checked; a closed session drops them."""
        message = w.ClientMessage(tool_response=w.ToolResponse(function_responses=responses))
        try:
            await self._send(message, "tool_response", internal=True)
        except LiveError as exc:
            log.info("tool response not sent: %s", exc)

    async def _send(
        self,
        message: w.ClientMessage,
        kind: str,
        audio_seconds: float = 0.0,
        send_kind: str | None = None,
        *,
        internal: bool = False,
    ) -> None:
        if self._status in (Status.CLOSING, Status.CLOSED) and not (
            # aclose(finish_turn=...) waits for the model: a tool's answer it needs goes out.
            internal and self._finishing
        ):
            await trio.lowlevel.checkpoint()
            raise self._closed_error()
        proto = self._proto
        item = proto.prepare(message, kind, audio_seconds)
        dropped_before = proto.outbox.dropped_audio_chunks
        if self._direct is None:
            await self._outbound.put(item)
        else:
            # Cancelled: raises here, nothing sent. Not cancelled: no schedule point, so
            # nothing changes before the direct write.
            await trio.lowlevel.checkpoint_if_cancelled()
            if _send.send_direct(self, item):
                await trio.lowlevel.cancel_shielded_checkpoint()
            else:
                await self._outbound.put(item)
        if item.call_ids:
            # Only once committed: a cancelled send leaves its calls active (and unanswered).
            proto.queued(item)
            self._sync_idle()
        if kind != AUDIO:
            self._monitor.sent(message, send_kind or kind, trio.current_time())
        dropped = proto.outbox.dropped_audio_chunks
        if dropped != dropped_before and (dropped_before == 0 or dropped % 50 == 0):
            # Issue 5: beyond the audio budget the oldest input audio goes, and is reported.
            log.warning(
                "input audio over the %.1f s buffer: dropped the oldest (%d chunks, %.1f s so far)",
                proto.outbox.max_audio_seconds,
                dropped,
                proto.outbox.dropped_audio_seconds,
            )
        if log.isEnabledFor(logging.DEBUG):
            log.debug("queued %s (%d bytes)", kind, len(item.frame))

    # --- receiving ------------------------------------------------------------------------

    def events(self) -> EventStream:
        """Iterate over the session's events, across turns and reconnections.

        ``async for event in session.events():``. The iterator does not stop at a turn's
        end; it ends after :class:`~trio_gemini_live.events.SessionClosed` when the session
        was closed, and raises the session's error (after the events queued before it) if
        it failed. Breaking out of the loop loses nothing: the next call continues where it
        stopped. It is an iterator object, not an async generator, so ``break`` releases it
        at once (no finaliser left for the garbage collector).
        """
        return EventStream(self)

    # --- closing --------------------------------------------------------------------------

    async def aclose(self, *, finish_turn: float = 0.0) -> None:
        """Close the session gracefully: flush queued input, close frame 1000, end tasks.

        Idempotent. Cancellation does not prevent the close: the socket and the tasks are
        torn down either way (the flush is then skipped). Called from one of the session's
        own tasks (a handler, a tool), it starts the close and returns at once: the caller
        is one of the tasks the close ends.

        Args:
            finish_turn: seconds to wait, after the flush, for the model to finish answering
                (a turn sent and not answered, a turn in progress, a tool call): the way to
                hang up once the goodbye was spoken (issue 14). Its events are delivered to
                ``events()`` as usual meanwhile; nothing new can be sent.
        """
        if not finish_turn >= 0:
            raise ValueError("finish_turn must be >= 0 seconds")
        await self._shutdown(flush=True, finish_turn=finish_turn)

    close = aclose

    async def _shutdown(self, *, flush: bool, finish_turn: float = 0.0) -> None:
        """End the session: optionally flush, close the socket, wait (bounded) for the end.

        Cancelled at any point, the close handshake gets the short bound (issue 12: an
        outer cancellation returns within about half a second).
        """
        if self._done.is_set():
            await trio.lowlevel.checkpoint()
            return
        self._user_close = True
        if not flush or trio.current_effective_deadline() == -math.inf:
            self._hurry()
        self._proto.closing()
        self._sync_status()
        self._finishing = bool(finish_turn)
        if not self._finishing:
            self._outbound.close(LiveError("the session is closed"))
        inside = self._inside_session()
        try:
            if flush and self._serving and self._conn_end is None:
                with trio.move_on_after(CLOSE_FLUSH_TIMEOUT):
                    await self._flushed()
            if finish_turn and not inside:
                with trio.move_on_after(finish_turn):
                    while self._proto.owes_answer and self._serving and self._conn_end is None:
                        if self._turn_done is None:
                            self._turn_done = trio.Event()
                        await self._turn_done.wait()
                    # A tool's answer sent meanwhile goes out before the close frame.
                    await self._flushed()
        except trio.Cancelled:
            self._hurry()
            raise
        finally:
            self._finishing = False
            self._outbound.close(LiveError("the session is closed"))
            self._end_connection(ConnectionEnd(USER, 1000, "closed by the client"))
            if not inside:
                await self._wait_done()
        await trio.lowlevel.checkpoint()

    async def _wait_done(self) -> None:
        """Wait for the session's end: bounded (the close handshake, then on_close, each
        bounded themselves), and short if cancelled meanwhile."""
        bound = 2 * DISCONNECT_TIMEOUT + 2.0
        with trio.move_on_after(bound) as waited:
            try:
                await self._done.wait()
            except trio.Cancelled:
                self._hurry()
                with trio.CancelScope(shield=True):
                    await self._done.wait()
                raise
        if waited.cancelled_caught:
            self._scope.cancel()
            with trio.CancelScope(shield=True):
                await self._done.wait()

    def _hurry(self) -> None:
        """The close handshake under way (or to come) gets the short bound."""
        self._quick_close = True
        scope = self._close_scope
        if scope is not None:
            scope.deadline = min(scope.deadline, trio.current_time() + QUICK_CLOSE_TIMEOUT)

    def _inside_session(self) -> bool:
        """Whether the current task is one of the session's own (a handler, a tool...)."""
        task: trio.lowlevel.Task | None = trio.lowlevel.current_task()
        while task is not None:
            if task is self._main_task:
                return True
            nursery = task.parent_nursery
            task = nursery.parent_task if nursery is not None else None
        return False

    async def _flushed(self) -> None:
        """Wait until every queued frame was written (or the connection ended)."""
        while (len(self._outbound) or self._in_flight) and self._conn_end is None:
            if self._drained is None:
                self._drained = trio.lowlevel.ParkingLot()
            await self._drained.park()

    # --- internals: status ----------------------------------------------------------------

    def _sync_status(self) -> None:
        """Publish the core's status to ``wait_status``."""
        status = self._proto.status
        if status is self._status:
            return
        self._status = status
        self._entries[status] += 1
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    def _closed_error(self) -> LiveError:
        if self._error is not None:
            return self._error
        return LiveError("the session is closed")

    def _sync_idle(self) -> None:
        """Wake the goAway timer if it waits and the core is not busy (no turn, no tool
        call): the safe point to reconnect."""
        idle = self._idle
        if idle is not None and not self._proto.busy:
            self._idle = None
            idle.set()

    def _end_connection(self, end: ConnectionEnd) -> None:
        if self._conn_end is None:
            self._conn_end = end
        self._set_turn_done()
        if self._drained:
            self._drained.unpark_all()
        if self._conn_scope is not None:
            self._conn_scope.cancel()

    def _set_turn_done(self) -> None:
        done, self._turn_done = self._turn_done, None
        if done is not None:
            done.set()

    def _fail_now(self, error: LiveError) -> None:
        """End the session with ``error`` (no reconnection), from inside a connection."""
        self._end_connection(ConnectionEnd(FAILED, error=error))

    # --- internals: the pumps -------------------------------------------------------------

    async def _serve(self, ws: WebSocket | MessageConnection) -> None:
        """Run the connection's tasks until one of them ends it."""
        try:
            async with trio.open_nursery() as nursery:
                self._conn_nursery = nursery
                self._serving = True
                nursery.start_soon(_receive.receiver, self, ws, nursery.cancel_scope)
                nursery.start_soon(_send.sender, self, ws, nursery.cancel_scope)
                if self._options.keepalive_interval:
                    nursery.start_soon(_send.keepalive, self, ws, nursery.cancel_scope)
                if self._proto.go_away_latest is not None:
                    nursery.start_soon(_receive.go_away_timer, self)
                if self._monitor.watchdog is not None:
                    on_stall = partial(_receive.on_stall, self)
                    nursery.start_soon(self._monitor.watch, self._emit, on_stall)
        finally:
            # Frames handled while the socket closes (the close drain) must not start
            # tasks here any more: a goAway then is moot.
            self._conn_nursery = None

    def _emit(self, event: ev.Event, size: int = 0) -> None:
        if not self._events.put(event, size):
            _receive.slow_consumer(self)
        self._handlers.event(event)


#: realtime_input's field name -> the kind of frame (``_buffers``).
_REALTIME_KINDS: Final = {
    "audio": AUDIO,
    "video": "video",
    "text": "text",
    "activity_start": "activity",
    "activity_end": "activity",
    "audio_stream_end": "activity",
}
