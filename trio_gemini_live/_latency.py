"""Latency per turn and the stall watchdog, on the client's clock (issue 14). Sans-IO.

Two pure state machines the session feeds; time is passed in (``trio.current_time()`` in
the session), so there is no event loop here and the tests script the timestamps.

:class:`LatencyTracker` measures each model turn:

* the end of the user's turn: what the client sent that ends it (text, a client turn,
  ``activityEnd``), else what the server said (``voiceActivity`` end of speech, the input
  transcription ``finished``, or the ``audioStreamEnd`` the client sent, which ends a turn
  only if the user was speaking). Client-side ends are exact, on our clock: the earliest
  since the user last started counts. Server-side ends arrive late and in no guaranteed
  order (PROTOCOL.md 4): the latest counts, only while no model turn is open, and never
  over a client-side end;
* the first model output (an answer's text, a transcript, audio or a tool call; thoughts
  are not output) and the first audio;
* ``generationComplete`` and ``turnComplete``, and the turn's ``usageMetadata``.

At ``TurnComplete`` it returns a :class:`~trio_gemini_live.events.TurnMetrics` event (the
session emits it right after the ``TurnComplete``) and adds the turn to reservoirs for
percentiles over the call (:meth:`LatencyTracker.statistics`): exact for up to
``reservoir`` turns, a uniform random sample of the call beyond (bounded memory).

:class:`StallWatchdog` decides when "the model owes an answer and the server has said
nothing for ``timeout`` seconds" (issue 14: a healthy socket can carry a dead stream,
cookbook #1225; the keepalive only catches dead sockets). The session runs the timer.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any, Final, Literal

import msgspec

from . import events as ev
from ._wire import FunctionResponse

__all__ = ["LatencyStatistics", "LatencyTracker", "StallWatchdog", "percentile"]

#: Turns whose figures are kept exactly for the percentiles.
DEFAULT_RESERVOIR: Final = 1000

# What ends the user's turn. Client sends are the session's send kinds (_inputs).
_CLIENT_ENDS: Final = frozenset({"text", "client_turn", "activity_end"})
_VAD_STARTS: Final = frozenset({"ACTIVITY_START", "VAD_SIGNAL_TYPE_SOS"})
_VAD_ENDS: Final = frozenset({"ACTIVITY_END", "VAD_SIGNAL_TYPE_EOS"})


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` (0..1) quantile of sorted values, ``None`` for no values.

    Linear interpolation between the closest ranks (numpy's default, ``statistics.quantiles``
    with ``method="inclusive"``): the median of ``[1, 2, 3, 4]`` is 2.5, its p95 3.85.
    """
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class _Reservoir:
    """Algorithm R: a uniform sample of at most ``size`` values of a stream.

    The list and the random generator are made when first needed (issue 11: a session that
    measures no turn, or fewer than ``size``, keeps no generator (2.5 KB) and no list for
    the garbage collector to scan; ``Random(seed)`` made late draws what it would have
    drawn made early).
    """

    __slots__ = ("_rng", "_seed", "seen", "size", "values")

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.values: list[float] | None = None
        self.seen = 0
        self._seed = seed
        self._rng: random.Random | None = None

    def add(self, value: float) -> None:
        self.seen += 1
        values = self.values
        if values is None:
            values = self.values = []
        if len(values) < self.size:
            values.append(value)
        else:
            rng = self._rng
            if rng is None:
                rng = self._rng = random.Random(self._seed)
            slot = rng.randrange(self.seen)
            if slot < self.size:
                values[slot] = value

    def quantiles(self) -> tuple[float | None, float | None]:
        ordered = sorted(self.values or ())
        return percentile(ordered, 0.5), percentile(ordered, 0.95)


class LatencyStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """Latency over a call (:meth:`LatencyTracker.statistics`), in seconds.

    Percentiles are exact over the first ``reservoir`` turns measured, then estimated from
    a uniform sample of the call; ``None`` until a turn gave the figure.

    Attributes:
        turns: Model turns measured (completed with ``TurnComplete``).
        time_to_first_output_p50, time_to_first_output_p95: From the end of the user's
            turn to the model's first output.
        time_to_first_audio_p50, time_to_first_audio_p95: From the end of the user's turn
            to the model's first audio.
    """

    turns: int = 0
    time_to_first_output_p50: float | None = None
    time_to_first_output_p95: float | None = None
    time_to_first_audio_p50: float | None = None
    time_to_first_audio_p95: float | None = None


class _ModelTurn:
    __slots__ = ("first_audio", "first_output", "generated", "interrupted", "tokens", "user_end",
                 "user_end_kind")

    def __init__(self, now: float, user_end: float | None, user_end_kind: str | None) -> None:
        self.first_output = now
        self.first_audio: float | None = None
        self.generated: float | None = None
        self.tokens: int | None = None
        self.interrupted = False
        self.user_end = user_end
        self.user_end_kind = user_end_kind


class LatencyTracker:
    """Per-turn latency on the client's clock, and percentiles over the call (sans-IO).

    Feed it from the session (``now`` is ``trio.current_time()``):

    * :meth:`sent` after each message is handed to the transport's queue, with the send
      kind (``"text"``, ``"client_turn"``, ``"activity_start"``, ``"activity_end"``,
      ``"audio_stream_end"``; others are ignored);
    * :meth:`event` for every event the session emits except audio chunks; it returns a
      :class:`~trio_gemini_live.events.TurnMetrics` to emit after a ``TurnComplete``;
    * on the audio hot path, ``if tracker.awaiting_audio: tracker.audio(now)``: one
      attribute test per chunk, a call only for the first chunk of a turn;
    * :meth:`connection_lost` when a connection ends.

    Args:
        reservoir: How many turns' figures are kept for the percentiles.
        seed: The reservoir's random seed (deterministic statistics for a given call).

    Raises:
        ValueError: ``reservoir`` below 1.
    """

    def __init__(self, reservoir: int = DEFAULT_RESERVOIR, *, seed: int = 0) -> None:
        if isinstance(reservoir, bool) or not isinstance(reservoir, int) or reservoir < 1:
            raise ValueError(f"reservoir must be a positive integer, got {reservoir!r}")
        #: True while the next audio chunk would be the first of a turn: the one test the
        #: audio hot path makes.
        self.awaiting_audio = True
        self._turn: _ModelTurn | None = None
        self._end: float | None = None  # the end of the user's turn, pending an answer
        self._end_kind: str | None = None
        self._end_is_client = False
        self._first_output = _Reservoir(reservoir, seed)
        self._first_audio = _Reservoir(reservoir, seed + 1)
        self._turns = 0

    # --- input ----------------------------------------------------------------------------

    def sent(self, kind: str, now: float) -> None:
        """The client sent a message of this kind (the session's send kinds)."""
        if kind in _CLIENT_ENDS:
            if kind == "text" or kind == "client_turn":
                # Text interrupts and replaces what the model was about to answer
                # (PROTOCOL.md 3.2): the latest text is the turn the model answers.
                self._set_end(now, kind, client=True, replace=True)
            else:
                self._set_end(now, kind, client=True, replace=False)
        elif kind == "activity_start":
            self._clear_end()
        elif kind == "audio_stream_end":
            self._set_end(now, kind, client=False, replace=True)

    def event(self, event: ev.Event, now: float) -> ev.TurnMetrics | None:
        """A session event; returns the turn's metrics at ``TurnComplete`` (else ``None``)."""
        kind = type(event)
        if kind is ev.AudioChunk:
            self.audio(now)
        elif kind is ev.TextChunk:
            if not event.thought and event.text:  # type: ignore[union-attr]
                self._output(now)
        elif kind is ev.OutputTranscription:
            if event.text:  # type: ignore[union-attr]
                self._output(now)
        elif kind is ev.ToolCall:
            self._output(now)
        elif kind is ev.GenerationComplete:
            if self._turn is not None and self._turn.generated is None:
                self._turn.generated = now
        elif kind is ev.UsageUpdate:
            if self._turn is not None:
                tokens = event.usage.response_tokens  # type: ignore[union-attr]
                self._turn.tokens = tokens or self._turn.tokens
        elif kind is ev.Interrupted:
            if self._turn is not None:
                self._turn.interrupted = True
        elif kind is ev.TurnComplete:
            return self._complete(now)
        elif kind is ev.InputTranscription:
            if event.finished:  # type: ignore[union-attr]
                self._set_end(now, "input_transcription", client=False, replace=True)
        elif kind is ev.VoiceActivity:
            vad = event.kind  # type: ignore[union-attr]
            if vad in _VAD_STARTS:
                self._clear_end()
            elif vad in _VAD_ENDS:
                self._set_end(now, "voice_activity", client=False, replace=True)
        return None

    def audio(self, now: float) -> None:
        """Model audio arrived (call it for the first chunk of a turn, or for every one)."""
        if not self.awaiting_audio:
            return
        turn = self._output(now)
        turn.first_audio = now
        self.awaiting_audio = False

    def connection_lost(self, now: float) -> None:
        """The connection ended: the model turn in progress is not measured.

        The end of a user turn still waiting for an answer is kept: if the answer comes on
        the next connection, its latency is what the user waited, reconnection included.
        """
        self._turn = None
        self.awaiting_audio = True

    # --- output ---------------------------------------------------------------------------

    @property
    def turns(self) -> int:
        """Model turns measured so far."""
        return self._turns

    def statistics(self) -> LatencyStatistics:
        """Percentiles over the call (see :class:`LatencyStatistics`)."""
        out_p50, out_p95 = self._first_output.quantiles()
        audio_p50, audio_p95 = self._first_audio.quantiles()
        return LatencyStatistics(
            turns=self._turns,
            time_to_first_output_p50=out_p50,
            time_to_first_output_p95=out_p95,
            time_to_first_audio_p50=audio_p50,
            time_to_first_audio_p95=audio_p95,
        )

    def statistics_fields(self) -> dict[str, Any]:
        """:meth:`statistics` as keyword arguments for flat ``SessionStatistics`` fields:
        ``measured_turns`` and the four percentiles, under their own names."""
        fields = msgspec.structs.asdict(self.statistics())
        fields["measured_turns"] = fields.pop("turns")
        return fields

    # --- internals ------------------------------------------------------------------------

    def _set_end(self, now: float, kind: str, *, client: bool, replace: bool) -> None:
        if client:
            if self._end_is_client and not replace:
                return  # the earliest client-side end since the user started counts
            self._end, self._end_kind, self._end_is_client = now, kind, True
            return
        if self._end_is_client or self._turn is not None:
            # A server-side end never overrides an exact one, and one that arrives while the
            # model answers is the late transcription of the turn being answered.
            return
        self._end, self._end_kind = now, kind

    def _clear_end(self) -> None:
        self._end = self._end_kind = None
        self._end_is_client = False

    def _output(self, now: float) -> _ModelTurn:
        turn = self._turn
        if turn is None:
            turn = self._turn = _ModelTurn(now, self._end, self._end_kind)
            self._clear_end()
        return turn

    def _complete(self, now: float) -> ev.TurnMetrics | None:
        turn = self._turn
        self._turn = None
        self.awaiting_audio = True
        if turn is None:
            return None  # a turn with no output (e.g. interrupted at once): nothing measured
        self._turns += 1
        first_output = first_audio = None
        if turn.user_end is not None:
            first_output = turn.first_output - turn.user_end
            self._first_output.add(first_output)
            if turn.first_audio is not None:
                first_audio = turn.first_audio - turn.user_end
                self._first_audio.add(first_audio)
        generating = (turn.generated if turn.generated is not None else now) - turn.first_output
        tokens_per_second = (
            turn.tokens / generating if turn.tokens and generating > 0 else None
        )
        return ev.TurnMetrics(
            time_to_first_output=first_output,
            time_to_first_audio=first_audio,
            duration=now - turn.first_output,
            tokens_per_second=tokens_per_second,
            response_tokens=turn.tokens,
            interrupted=turn.interrupted,
            user_turn_end=turn.user_end_kind,
        )


# --- the stall watchdog --------------------------------------------------------------------

Owed = Literal["turn", "tool_response"]


class StallWatchdog:
    """Is the model silent while it owes an answer? (issue 14; sans-IO)

    The model owes an answer once the client sent a turn (text, a client turn,
    ``activityEnd``) or a tool response it must answer, or once the server reported the end
    of the user's speech (``voiceActivity``), until the answer is done: ``generationComplete``,
    ``turnComplete``, ``interrupted`` (the user speaks again) or a ``toolCall`` (now the
    client owes). Any server message in between shows the stream is alive: a slow answer
    never stalls, only silence does. ``audioStreamEnd`` alone owes nothing (the microphone
    may pause with no speech).

    The session runs the timer; a sketch of its task (``changed`` is a ``trio.Event`` the
    session sets whenever :meth:`sent` or :meth:`event` returns ``True``)::

        while True:
            deadline = watchdog.deadline()
            if deadline is None:
                await changed.wait(); changed = trio.Event(); continue
            await trio.sleep_until(deadline)
            stalled = watchdog.check(trio.current_time())
            if stalled is not None:
                emit(stalled)   # then, optionally, reconnect with resumption

    and on the receive path, for every server message, ``watchdog.heard(now)`` (one
    attribute store).

    Args:
        timeout: Seconds of silence, while an answer is owed, that make a stall.

    Raises:
        ValueError: a timeout that is not a positive number.
    """

    def __init__(self, timeout: float) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not (
                timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.timeout = float(timeout)
        #: What the model owes, if anything.
        self.owed: Owed | None = None
        self.last_heard = -math.inf
        self._since = 0.0
        self._paused = False
        self._fired_at: float | None = None  # the silence start a Stalled was reported for
        self._stalls = 0

    @property
    def stalls(self) -> int:
        """How many stalls were reported."""
        return self._stalls

    def heard(self, now: float) -> None:
        """A server message arrived (any kind): the stream is alive."""
        self.last_heard = now

    def sent(self, kind: str, now: float) -> bool:
        """The client sent a message of this send kind; ``True`` if an answer is now owed."""
        if kind in _CLIENT_ENDS:
            return self._owe("turn", now)
        return False

    def tool_responses_sent(self, responses: Sequence[FunctionResponse], now: float) -> bool:
        """Tool responses were sent; ``True`` if the model now owes an answer.

        ``SILENT`` responses (only added to the context) and ``willContinue`` ones (more
        follow) call for no answer.
        """
        if any(r.scheduling != "SILENT" and not r.will_continue for r in responses):
            return self._owe("tool_response", now)
        return False

    def event(self, event: ev.Event, now: float) -> bool:
        """A session event; ``True`` if an answer is now owed (the server heard the user)."""
        kind = type(event)
        if kind in (ev.GenerationComplete, ev.TurnComplete, ev.Interrupted, ev.ToolCall):
            self.owed = None
        elif kind is ev.VoiceActivity and event.kind in _VAD_ENDS:  # type: ignore[union-attr]
            return self._owe("turn", now)
        return False

    def connection_lost(self) -> None:
        """No connection: nothing can arrive, so nothing stalls until :meth:`connected`."""
        self._paused = True

    def connected(self, now: float) -> None:
        """A connection is ready: an answer still owed is timed from now."""
        self._paused = False
        self._since = max(self._since, now)

    def deadline(self) -> float | None:
        """When :meth:`check` may report a stall; ``None`` while nothing can stall."""
        if self.owed is None or self._paused:
            return None
        start = max(self._since, self.last_heard)
        if self._fired_at == start:
            return None  # reported; re-armed by the next message or send
        return start + self.timeout

    def check(self, now: float) -> ev.Stalled | None:
        """A :class:`~trio_gemini_live.events.Stalled` event if the model is stalled at ``now``.

        Reported once per silence: the next server message or send re-arms it.
        """
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return None
        start = max(self._since, self.last_heard)
        self._fired_at = start
        self._stalls += 1
        assert self.owed is not None
        return ev.Stalled(seconds=now - start, owed=self.owed)

    def _owe(self, what: Owed, now: float) -> bool:
        self.owed = what
        self._since = now
        return True
