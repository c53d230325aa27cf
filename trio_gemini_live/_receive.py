"""The receive side of a session: frames from the socket, through the protocol core, to the
events queue, the handlers and the tool-call tasks (DESIGN.md's data flow).

One receive task per connection (:func:`receiver`) always drains the socket (PROTOCOL.md 6:
a reader that stalls stops answering the server's pings) and never runs user code. Every
decision about what a message means is the core's (``_protocol``); here the events go
where they are read. Functions over the session (its private state is this package's).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import trio

from . import _wire as w
from . import events as ev
from ._errors import ProtocolError, SlowConsumerError
from ._protocol import BROKEN, CLOSED, GO_AWAY, STALLED, ConnectionEnd
from ._websocket import ConnectionClosed

if TYPE_CHECKING:
    from ._session import LiveSession
    from ._websocket import MessageConnection, WebSocket

__all__ = [
    "closed_end",
    "dispatch",
    "go_away_timer",
    "handle_frame",
    "on_stall",
    "receiver",
]

log: Final = logging.getLogger("trio_gemini_live")

#: Events the events queue counts by their text (the others by their frame's size).
_TEXT_SIZED: Final = frozenset({ev.TextChunk, ev.InputTranscription, ev.OutputTranscription})
#: The most received messages the receive task handles in one task step.
_MAX_RECEIVE_BATCH: Final = 64


async def receiver(
    session: LiveSession, ws: WebSocket | MessageConnection, scope: trio.CancelScope
) -> None:
    """A connection's receive task: handle every frame until the connection ends.

    The other messages a read brought are handled in the same task step (a schedule point
    per message was a tenth of the receive path's CPU), up to a bound, and not once the
    connection is ending. Connections without ``get_message_nowait`` (a test's or a
    ``connect=`` hook's) get a step per message.
    """
    take: Callable[[], str | bytes | None] | None = getattr(ws, "get_message_nowait", None)
    try:
        while True:
            data: str | bytes | None = await ws.get_message()
            taken = 0
            while data is not None:
                if len(data) > w.LARGE_FRAME:
                    await handle_large_frame(session, data)
                else:
                    handle_frame(session, data)
                taken += 1
                if take is None or taken == _MAX_RECEIVE_BATCH or session._conn_end is not None:
                    break
                data = take()
    except ConnectionClosed as exc:
        session._end_connection(closed_end(exc))
    scope.cancel()


async def handle_large_frame(session: LiveSession, data: str | bytes) -> None:
    """A frame over a MiB: decoded in a worker thread, so that a slow decode (hundreds of
    thousands of objects, or the base64 repair) does not stall the program (issue 12)."""
    decoded: w.ServerMessage | ProtocolError
    try:
        decoded = await trio.to_thread.run_sync(w.decode_server_message, data)
    except ProtocolError as exc:
        decoded = exc
    handle_frame(session, data, decoded)


def handle_frame(
    session: LiveSession,
    data: str | bytes,
    decoded: w.ServerMessage | ProtocolError | None = None,
) -> None:
    """One server frame (``decoded`` already, for a large one): core, then dispatch."""
    now = trio.current_time()
    watchdog = session._monitor.watchdog
    if watchdog is not None:
        watchdog.heard(now)
    try:
        if decoded is None:
            message = w.decode_server_message(data)
        elif isinstance(decoded, ProtocolError):
            raise decoded
        else:
            message = decoded
        events = session._proto.receive_message(message, data, now)
    except ProtocolError as exc:
        # PROTOCOL.md 8.7: a malformed or unexpected frame never crashes the session. The
        # message may quote server text (rule 8 of the core: no secret shown, bounded).
        session._protocol_errors += 1
        error = ProtocolError(session._proto.redact(str(exc))[:1000])
        log.warning("ignored a malformed server message: %s", error)
        session._handlers.report(error)
        return
    dispatch(session, message, data, events, now)


def dispatch(
    session: LiveSession,
    message: w.ServerMessage,
    raw: str | bytes,
    events: list[ev.Event],
    now: float,
) -> None:
    """A message's events to the handlers, the tool-call tasks and the events queue."""
    handlers = session._handlers
    if handlers.any:
        handlers.queue("on_message", message, len(raw))
    if len(events) == 1 and type(events[0]) is ev.AudioChunk:
        # The hot path (PROTOCOL.md 4: output audio is most of the traffic): no handler
        # takes audio chunks, and the model is in a turn.
        if not session._events.put(events[0]):
            slow_consumer(session)
        latency = session._monitor.latency
        if latency.awaiting_audio:
            latency.audio(now)
        return
    if log.isEnabledFor(logging.DEBUG):
        log.debug("received %s", ", ".join(type(e).__name__ for e in events) or "nothing")
    size = len(raw)
    monitor = session._monitor
    for event in events:
        kind = type(event)
        if kind is ev.ToolCallCancellation:
            session._tools.cancel(event.ids)  # type: ignore[union-attr]
        elif kind is ev.ToolCall:
            session._tools.call(event)  # type: ignore[arg-type]
        elif kind is ev.GoAway:
            on_go_away(session)
        metrics = monitor.event(event, now)
        # The frame's size is charged once, to its first event that carries no text of
        # its own (which is counted by its length): every payload counts (issue 12 review).
        if size and kind not in _TEXT_SIZED:
            session._emit(event, size)
            size = 0
        else:
            session._emit(event)
        if metrics is not None:
            session._emit(metrics)
        if kind is ev.TurnComplete:
            session._set_turn_done()
    session._sync_idle()


def slow_consumer(session: LiveSession) -> None:
    """The events queue is over its bound: the session ends with SlowConsumerError."""
    session._events.seal()  # nothing more is queued: the session is ending
    if session._error is not None or session._slow is not None:
        return
    error = SlowConsumerError(
        f"the events queue is over its {session._options.max_event_bytes} bytes: nobody "
        "read session.events() fast enough (read it, or raise max_event_bytes)"
    )
    log.warning("%s", error)
    session._slow = error
    if session._conn_end is None:
        session._fail_now(error)
    # Otherwise the connection is already ending (a reconnection's events overflowed it):
    # the connection loop ends the session with this error instead of reconnecting.


def on_stall(session: LiveSession) -> None:
    """The model stopped answering on a live socket: optionally reconnect (resume)."""
    if session._options.reconnect_on_stall and session._proto.reconnects_enabled:
        session._quick_close = True  # the server is not answering: no long close handshake
        session._end_connection(ConnectionEnd(STALLED, None, "the model stopped answering"))


def on_go_away(session: LiveSession) -> None:
    proto = session._proto
    log.info(
        "goAway: the server closes this connection in %.1f s",
        (proto.go_away_deadline or 0) - trio.current_time(),
    )
    nursery = session._conn_nursery
    if proto.go_away_latest is not None and nursery is not None:
        nursery.start_soon(go_away_timer, session)


async def go_away_timer(session: LiveSession) -> None:
    """Reconnect before the goAway deadline, at a safe point when time allows."""
    latest = session._proto.go_away_latest
    if latest is None or not session._proto.reconnects_enabled:
        return
    with trio.move_on_at(latest):
        while session._proto.busy:
            if session._idle is None:
                session._idle = trio.Event()
            await session._idle.wait()
            await trio.lowlevel.checkpoint()
    log.info("reconnecting before the goAway deadline")
    session._end_connection(ConnectionEnd(GO_AWAY, 1000, "goAway"))


def closed_end(exc: ConnectionClosed) -> ConnectionEnd:
    """How a connection that raised ``exc`` ended (a broken protocol is the server's fault)."""
    if exc.remote_error is not None:
        return ConnectionEnd(BROKEN, exc.code, exc.remote_error)
    return ConnectionEnd(CLOSED, exc.code, exc.reason)
