"""A session's settings, its statistics, and the bounds of its waits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgspec

from ._latency import LatencyStatistics
from ._protocol import Status

__all__ = [
    "CLOSE_FLUSH_TIMEOUT",
    "DISCONNECT_TIMEOUT",
    "QUICK_CLOSE_TIMEOUT",
    "SessionOptions",
    "SessionStatistics",
]

#: The longest a graceful close waits for queued input to be written.
CLOSE_FLUSH_TIMEOUT: Final = 5.0
#: The close handshake's bound (the server's close frame after ours).
DISCONNECT_TIMEOUT: Final = 3.0
#: The close handshake's bound when the session is cancelled or the server is not
#: answering (issue 12: an outer cancellation returns within 0.5 s).
QUICK_CLOSE_TIMEOUT: Final = 0.25
#: The send task's batch (issue 7): frames and characters of JSON written with one write.
MAX_BATCH_FRAMES: Final = 64
MAX_BATCH_CHARS: Final = 512 * 1024


@dataclass(frozen=True, kw_only=True)
class SessionOptions:
    """The bounds and settings of a session (``open_live_session``'s keyword arguments)."""

    setup_timeout: float
    connect_timeout: float
    keepalive_interval: float | None
    keepalive_timeout: float
    input_sample_rate: int
    max_event_audio_seconds: float
    max_event_bytes: int
    tool_timeout: float | None
    reseed_conversation: bool
    reconnect_on_stall: bool


class SessionStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of a session's queues and history (``LiveSession.statistics()``)."""

    status: Status
    queued_events: int
    #: Bytes counted for the queued events (bounded by ``max_event_bytes``).
    queued_event_bytes: int
    queued_outbound: int
    queued_outbound_audio_seconds: float
    dropped_input_audio_chunks: int
    dropped_input_audio_seconds: float
    dropped_output_audio_chunks: int
    dropped_output_audio_bytes: int
    reconnects: int
    connections: int
    #: Turns sent again after a reconnection (issue 12: none is silently lost).
    resent_turns: int
    #: Tool answers not sent because the new connection never issued their calls
    #: (reported with ``ToolCallCancellation``).
    dropped_tool_responses: int
    handler_errors: int
    dropped_handler_messages: int
    protocol_errors: int
    #: Latency percentiles over the call (issue 14): see ``events.TurnMetrics``.
    latency: LatencyStatistics
    #: ``Stalled`` events so far.
    stalls: int
