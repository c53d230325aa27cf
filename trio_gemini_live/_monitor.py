"""What the session watches besides the protocol (issue 14): the conversation record, the
latency of each turn, and the stall watchdog, fed from the few places the session sends
and receives.

The pieces are sans-IO (:mod:`._transcript`, :mod:`._latency`); this module feeds them and
runs the watchdog's timer. The audio hot path costs one attribute test
(``latency.awaiting_audio``) and one store (``watchdog.heard``) per chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

import trio

from . import _wire as w
from . import events as ev
from ._latency import LatencyTracker, StallWatchdog
from ._transcript import ConversationRecord

__all__ = ["Monitor"]

log: Final = logging.getLogger("trio_gemini_live")


class Monitor:
    """The session's conversation record, latency tracker and stall watchdog.

    Args:
        conversation_turns: completed turns the record keeps (``0``: no record).
        stall_timeout: seconds of silence, while the model owes an answer, that make a
            :class:`~trio_gemini_live.events.Stalled` event (``None``: no watchdog).
    """

    def __init__(self, *, conversation_turns: int, stall_timeout: float | None) -> None:
        self.record = ConversationRecord(conversation_turns)
        self.latency = LatencyTracker()
        self.watchdog = StallWatchdog(stall_timeout) if stall_timeout is not None else None
        self._owed = trio.Event()

    # --- what the client sends ------------------------------------------------------------

    def sent(self, message: w.ClientMessage, kind: str, now: float) -> None:
        """A message was committed to be sent; ``kind`` is the send kind (``"text"``,
        ``"client_turn"``, ``"activity_end"``...)."""
        self.latency.sent(kind, now)
        watchdog = self.watchdog
        if watchdog is not None and watchdog.sent(kind, now):
            self._owed.set()
        record = self.record
        if not record.enabled:
            return
        if message.client_content is not None:
            content = message.client_content
            record.client_content(
                content.turns or (), now, turn_complete=bool(content.turn_complete)
            )
        elif message.realtime_input is not None and message.realtime_input.text is not None:
            record.user_text(message.realtime_input.text, now)
        elif message.tool_response is not None:
            responses = message.tool_response.function_responses or []
            record.tool_results(responses, now)
            if watchdog is not None and watchdog.tool_responses_sent(responses, now):
                self._owed.set()

    def tool_responses(self, responses: list[w.FunctionResponse], now: float) -> None:
        """Tool responses were sent without passing :meth:`sent` (none do today)."""
        self.record.tool_results(responses, now)

    # --- what the server sends ------------------------------------------------------------

    def event(self, event: ev.Event, now: float) -> ev.TurnMetrics | None:
        """A (non-audio) event the session emits; returns the turn's metrics to emit after
        a ``TurnComplete``."""
        self.record.event(event, now)
        watchdog = self.watchdog
        if watchdog is not None and watchdog.event(event, now):
            self._owed.set()
        return self.latency.event(event, now)

    def connection_lost(self, now: float) -> None:
        self.record.connection_lost(now)
        self.latency.connection_lost(now)
        if self.watchdog is not None:
            self.watchdog.connection_lost()

    def connected(self, now: float) -> None:
        if self.watchdog is not None:
            self.watchdog.connected(now)
            self._owed.set()

    # --- the watchdog's timer -------------------------------------------------------------

    async def watch(self, emit: Callable[[ev.Event], None], stalled: Callable[[], None]) -> (
        None
    ):
        """A connection's watchdog task: emit ``Stalled``, then call ``stalled()``."""
        watchdog = self.watchdog
        if watchdog is None:
            return
        while True:
            deadline = watchdog.deadline()
            if deadline is None:
                await self._owed.wait()
                self._owed = trio.Event()
                continue
            with trio.move_on_at(deadline):
                await self._owed.wait()
                self._owed = trio.Event()
                continue
            event = watchdog.check(trio.current_time())
            if event is not None:
                log.warning(
                    "no answer from the model for %.1f s (it owes a %s)", event.seconds, event.owed
                )
                emit(event)
                stalled()
