"""The session's optional handlers (``on_message``, ``on_transcription``...), run in a task.

The receive task never runs user code: it queues ``(handler, argument)`` here and one
dispatcher task calls the handlers in order, so a slow handler never stalls the socket.
The queue is bounded and O(1) per item (issue 12): past :data:`MAX_QUEUED` items, or past
``max_bytes`` of queued frames (``on_message`` holds each decoded frame), the oldest
*droppable* item (``on_message``, ``on_transcription``, ``on_voice_activity``: a stream of
notifications) goes, counted; the rare control notifications (goAway, handles,
cancellations, errors) are kept up to the same bound again, then the oldest of those goes.
A handler that raises is logged and reported to ``on_error``; it never ends the session.
"""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Final, TypeAlias

import trio

from . import events as ev

__all__ = ["HANDLER_NAMES", "Handler", "HandlerDispatcher"]

log: Final = logging.getLogger("trio_gemini_live")

Handler: TypeAlias = Callable[[Any], Any]

#: Every handler ``open_live_session`` takes.
HANDLER_NAMES: Final = (
    "on_message",
    "on_error",
    "on_close",
    "on_tool_call",
    "on_tool_call_cancellation",
    "on_transcription",
    "on_voice_activity",
    "on_session_resumption",
    "on_go_away",
)
#: The handler an event goes to (besides ``events()``).
_HANDLER_FOR: Final[dict[type, str]] = {
    ev.ToolCallCancellation: "on_tool_call_cancellation",
    ev.InputTranscription: "on_transcription",
    ev.InterimInputTranscription: "on_transcription",
    ev.OutputTranscription: "on_transcription",
    ev.VoiceActivity: "on_voice_activity",
    ev.SessionResumptionUpdate: "on_session_resumption",
    ev.GoAway: "on_go_away",
}
_DROPPABLE: Final = frozenset({"on_message", "on_transcription", "on_voice_activity"})
MAX_QUEUED: Final = 4096


class HandlerDispatcher:
    """Queues handler calls from the receive task and runs them in one task, in order."""

    # Made only when a handler is set (below): most sessions set none, and each of these
    # is an object the garbage collector scans for as long as the session lives (issue 11).
    _droppable: deque[tuple[int, Handler, Any, int]]
    _control: deque[tuple[int, Handler, Any, int]]
    _lot: trio.lowlevel.ParkingLot

    def __init__(self, handlers: dict[str, Handler | None], *, max_bytes: int) -> None:
        self._handlers = handlers
        self._bytes = 0
        #: Bytes of queued frames kept at most (``open_live_session(max_event_bytes=)``).
        self.max_bytes = max_bytes
        #: Whether any handler is set (otherwise no dispatcher task is needed). Fixed at
        #: creation: the receive path reads it for every message.
        self.any = any(handlers.values())
        if self.any:
            self._droppable = deque()
            self._control = deque()
            self._lot = trio.lowlevel.ParkingLot()
        self._next = 0
        #: Handler calls that raised.
        self.errors = 0
        #: Notifications dropped because the handlers fell far behind.
        self.dropped = 0

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def event(self, event: ev.Event) -> None:
        """Queue ``event`` for its handler, if it has one and it is set."""
        name = _HANDLER_FOR.get(type(event))
        if name is not None:
            self.queue(name, event)

    def queue(self, name: str, arg: Any, size: int = 0) -> None:
        """Queue a call of handler ``name`` (if set) with ``arg`` (``size`` bytes of frame
        it holds); never blocks."""
        handler = self._handlers.get(name)
        if handler is None:
            return
        lane = self._droppable if name in _DROPPABLE else self._control
        lane.append((self._next, handler, arg, size))
        self._bytes += size
        self._next += 1
        while len(self._droppable) + len(self._control) > MAX_QUEUED or (
            self._bytes > self.max_bytes and self._droppable
        ):
            # A handler far behind: drop the oldest notification, so that memory stays
            # bounded and the receive task never waits.
            dropped = (self._droppable or self._control).popleft()
            self._bytes -= dropped[3]
            self.dropped += 1
        self._lot.unpark()

    def report(self, error: BaseException) -> None:
        """Hand ``error`` to ``on_error`` (if set)."""
        self.queue("on_error", error)

    async def run(self) -> None:
        """The dispatcher task: call the queued handlers, forever, in order."""
        if not self.any:
            await trio.sleep_forever()  # nothing can be queued
        while True:
            while not (self._droppable or self._control):
                await self._lot.park()
            droppable, control = self._droppable, self._control
            if droppable and (not control or droppable[0][0] < control[0][0]):
                _, handler, arg, size = droppable.popleft()
            else:
                _, handler, arg, size = control.popleft()
            self._bytes -= size
            await self.call(handler, arg)

    async def call(self, handler: Handler, arg: Any) -> Any:
        """Call ``handler(arg)`` (awaiting it if async); errors are logged and reported."""
        try:
            result = handler(arg)
            if inspect.isawaitable(result):
                result = await result
            return result
        except Exception as exc:
            self.errors += 1
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
