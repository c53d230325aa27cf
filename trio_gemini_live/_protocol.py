"""The Live API protocol as a sans-IO state machine: every protocol decision, no I/O.

Everything that affects the state of a session lives here (h11's first rule): the Trio
layer (``_session`` and its helpers) only moves bytes, time and cancellation. Time is
passed in (``now``), never read; randomness (backoff jitter) comes from a seeded generator.
The calls, in the order a session makes them::

    connecting(now) -> setup_frame() -> receive_message(message, frame, now)... -> after_setup(now)
    prepare(message, kind) -> [queued(item)] -> written(item)       (client frames)
    connection_ended(end, now) -> Outcome: reconnect after a delay, or end with an error

The rules, in plain words:

1. **Status** (:data:`TRANSITIONS`). A session starts DISCONNECTED; opening a connection
   makes it CONNECTING; sending ``setup`` SETUP_PENDING; ``setupComplete`` READY. A
   connection that ends while CONNECTING, SETUP_PENDING or READY makes it DISCONNECTED,
   from where it reconnects or ends. Closing on purpose goes through CLOSING to CLOSED; a
   fatal error goes straight to CLOSED, which is terminal. Any other transition is a bug in
   the caller (:class:`IllegalTransition`).
2. **Turns.** The model is in a turn from its first output (text, audio, output
   transcription, other model parts) until ``turnComplete``; where the server reports an
   ``interactionStatus`` (3.x models), until it is ``IDLE``, as the official SDK reads it.
   A connection lost mid-turn ends that turn: the core synthesizes ``Interrupted`` and
   ``TurnComplete(reason="CONNECTION_LOST")``.
3. **Tool calls** are active from their ``toolCall`` until answered (a tool response is
   queued) or cancelled (``toolCallCancellation``, or a new connection whose server state
   never issued them). Calls without an id (Vertex) get one that the server never sees.
4. **Client message indexes.** ``setup`` is index 0 on each connection; every frame
   written after it takes the next index *when it is written*, not when it is queued, so
   that ``lastConsumedClientMessageIndex`` names exactly the frames it acknowledges.
5. **What survives the end of a connection** (:meth:`after_setup`, the resume plan):

   * resumed with transparent resumption (Vertex): every written frame the server did not
     acknowledge is sent again first, in order;
   * resumed with a handle: the user's words that the handle does not include
     (:class:`~._buffers.TurnBuffer`) are sent again;
   * fresh (no handle: the model remembers nothing): the initial history, then every turn
     not known to be answered (issue 12);
   * unless transparently resumed, the active tool calls are cancelled
     (``ToolCallCancellation``), and queued answers to them are dropped and reported the
     same way: the new server state never issued those calls;
   * audio is real time: beyond its budget the oldest queued audio is dropped and counted.

   Nothing the user sent is silently lost: it is delivered, or reported in an event and
   in the statistics.
6. **goAway.** The server closes the connection at the deadline; the session reconnects
   at the first idle point (no turn, no active tool call: :attr:`busy` false) or, at the
   latest, at :attr:`go_away_latest`.
7. **The end of a connection** is classified (:mod:`._errors`: close codes and reasons,
   HTTP refusals, a server that broke the WebSocket protocol). A retryable end is retried
   within the :class:`~._resume.ReconnectPolicy`'s budget: every reconnection counts, goAway
   ones included, and only a connection that did useful work (a turn completed, a new
   resumable handle, or ready for ``stable_after`` seconds) gives the budget back, so a
   server that ends every connection at once meets the backoff and then a final error,
   never a reconnect loop (issue 12). Connections start at least ``min_interval`` apart.
   A connection that never became ready on the first attempt is fatal at once.
8. **Secrets.** Every secret the session holds (API key, tokens) is replaced in any text
   the server provides (close reasons, refusal bodies) before it is stored, logged or
   raised: some servers and proxies echo the request (issue 12).

The error contract (as h11's): anything malformed *from the server* raises exactly
:class:`~trio_gemini_live.ProtocolError`; any other exception is a bug.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias, TypeVar

import msgspec

from . import _wire as w
from . import events as ev
from ._buffers import (
    FLUSH,
    HISTORY,
    TOOL_RESPONSE,
    TURNS,
    WORDS,
    OutboundItem,
    Outbox,
    ReplayBuffer,
    TurnBuffer,
)
from ._errors import (
    LiveError,
    ProtocolError,
    SessionClosedError,
    SetupError,
    TransientError,
    classify_close,
    classify_refusal,
    redact,
)
from ._messages import message_events
from ._resume import ReconnectPolicy

__all__ = [
    "TRANSITIONS",
    "ConnectionEnd",
    "IllegalTransition",
    "LiveProtocol",
    "Outcome",
    "Status",
]


class Status(enum.Enum):
    """Where a session is in its life (DESIGN.md)."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    SETUP_PENDING = "setup_pending"
    READY = "ready"
    CLOSING = "closing"
    CLOSED = "closed"


S = Status
#: Every legal transition: ``TRANSITIONS[old]`` is the set of states ``old`` may move to.
TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = {
    S.DISCONNECTED: frozenset({S.CONNECTING, S.CLOSING, S.CLOSED}),
    S.CONNECTING: frozenset({S.SETUP_PENDING, S.DISCONNECTED, S.CLOSING, S.CLOSED}),
    S.SETUP_PENDING: frozenset({S.READY, S.DISCONNECTED, S.CLOSING, S.CLOSED}),
    S.READY: frozenset({S.DISCONNECTED, S.CLOSING, S.CLOSED}),
    S.CLOSING: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A transition the table does not allow: a bug in the code driving the protocol."""


#: A server frame as a WebSocket library hands it over.
_Frame: TypeAlias = bytes | bytearray | memoryview | str

# How a connection ended (ConnectionEnd.kind).
#: The server or the network closed it: ``code`` and ``reason`` of the close (1006: none).
CLOSED: Final = "closed"
#: The session ended it before the goAway deadline.
GO_AWAY: Final = "go_away"
#: No pong in time.
KEEPALIVE: Final = "keepalive"
#: The user closed the session.
USER: Final = "user"
#: It could not be opened, or its setup failed: ``error`` says why.
FAILED: Final = "failed"
#: The server broke the WebSocket protocol; ``reason`` says how (issue 12).
BROKEN: Final = "broken"
#: The model stopped answering on a live socket and the session reconnects (issue 14).
STALLED: Final = "stalled"


@dataclass(frozen=True)
class ConnectionEnd:
    """Why a connection ended, as the Trio layer saw it."""

    kind: str
    code: int | None = None
    reason: str = ""
    #: For FAILED: the error (a refusal, a setup that timed out, credentials).
    error: LiveError | None = None


@dataclass
class Outcome:
    """What :meth:`LiveProtocol.connection_ended` decided."""

    #: Events for the user, in order (a synthesized turn end, ``Reconnecting``...).
    events: list[ev.Event] = field(default_factory=list)
    #: Reconnect after ``delay`` seconds; otherwise the session ends (with ``error``).
    reconnect: bool = False
    delay: float = 0.0
    #: The error that ends the session (``None``: it ends normally, or it reconnects).
    error: LiveError | None = None
    #: The session's last event when it ends.
    closed: ev.SessionClosed | None = None


_READY: Final = Status.READY
_CLOSING: Final = Status.CLOSING
_SETUP_PENDING: Final = Status.SETUP_PENDING
#: Events that mean the model is producing a turn.
_OUTPUT_EVENTS: Final = frozenset({
    ev.TextChunk, ev.AudioChunk, ev.OutputTranscription, ev.InlineData, ev.ExecutableCode,
    ev.CodeExecutionResult, ev.ModelPart,
})
#: interactionStatus values after which the interaction is over (the SDK 3.6's reading:
#: anything else, IN_PROGRESS above all, means more output may follow a turnComplete).
_INTERACTION_DONE: Final = frozenset({"IDLE", "INTERACTION_STATUS_UNSPECIFIED"})
#: The most function calls one toolCall may carry (more is a ProtocolError).
MAX_CALLS: Final = 1024
#: Voice activity that ends the user's speech (the server answers it).
_SPEECH_ENDS: Final = frozenset({"ACTIVITY_END", "VAD_SIGNAL_TYPE_EOS"})
_CLIENT_CLOSE: Final = "closed by the client"


class LiveProtocol:
    """The client side of one Live API session, across its connections.

    Args:
        setup: the ``setup`` sent on every connection; the resumption handle is filled in
            per connection.
        resume_handle: a handle to resume on the first connection.
        policy: how to reconnect; ``None``: never.
        vertex: the backend is Vertex AI (tool responses lose Gemini-only fields).
        max_outbound_items: non-audio frames queued before ``send_*`` waits.
        max_outbound_audio_seconds: input audio kept queued (and kept for a replay).
        history: turns sent as ``clientContent`` right after ``setupComplete`` on every
            fresh (non-resumed) connection, before anything else.
        secrets: values never to be shown (API key, tokens): redacted from server text.
        encode_setup: encodes the setup (a hook for ``LiveConfig(extra=...)``).
        history_setup: the setup as it must be when a history follows it (the model's
            rules: ``historyConfig`` on 3.x, PROTOCOL.md 9).
    """

    def __init__(
        self,
        setup: w.Setup,
        *,
        resume_handle: str | None = None,
        policy: ReconnectPolicy | None = None,
        vertex: bool = False,
        max_outbound_items: int = 256,
        max_outbound_audio_seconds: float = 5.0,
        history: Iterable[w.Content] = (),
        secrets: Iterable[str] = (),
        encode_setup: Callable[[w.Setup], bytes] | None = None,
        history_setup: Callable[[w.Setup], w.Setup] | None = None,
    ) -> None:
        self._setup = setup
        self._policy = policy
        self.vertex = vertex
        self._encode_setup = encode_setup or (lambda s: w.encode(w.ClientMessage(setup=s)))
        self._history_setup = history_setup
        # None rather than an empty list, and the set, the generator and the counter below
        # made when first needed: fewer containers per session for the garbage collector
        # to scan (issue 11).
        self._history: list[w.Content] | None = list(history) or None
        self._secrets = tuple(s for s in secrets if s)
        self.status: Status = Status.DISCONNECTED
        #: The ``sessionId`` of the latest ``setupComplete``.
        self.session_id: str | None = None
        #: The latest handle that came with ``resumable: true``.
        self.handle: str | None = resume_handle
        #: ``lastConsumedClientMessageIndex`` of the latest update (transparent resumption).
        self.last_consumed_index: int | None = None
        #: The latest usage report.
        self.usage: ev.Usage = ev.Usage()
        #: Calls issued by the server and not yet answered or cancelled, by id.
        self.active_tool_calls: dict[str, w.FunctionCall] = {}
        #: The model has produced output for a turn that has not completed.
        self.in_turn: bool = False
        #: When (the caller's clock) the server closes this connection, after goAway.
        self.go_away_deadline: float | None = None
        #: The latest time to reconnect before that deadline.
        self.go_away_latest: float | None = None
        #: Connections that reached SETUP_PENDING so far.
        self.connections: int = 0
        #: Reconnections started so far.
        self.reconnects: int = 0
        #: Frames written on this connection after ``setup`` (the last index used).
        self.sent_index: int = 0
        #: Turns sent again after reconnections (rule 5).
        self.resent_turns: int = 0
        #: Tool answers dropped because the new connection never issued their calls.
        self.dropped_tool_responses: int = 0
        #: Frames waiting for the socket (the Trio layer waits on it).
        self.outbox = Outbox(max_outbound_items, max_outbound_audio_seconds)
        self._replay = ReplayBuffer(max_outbound_audio_seconds)
        self._turns = TurnBuffer()
        self._generated_ids: set[str] | None = None
        self._last_generated_id = 0
        self._rng: random.Random | None = None
        self._attempt = 0
        self._ever_ready = False
        self._resumed = False
        self._transparent_now = False
        self._ready_at: float | None = None
        self._useful = False
        self._handle_at_start: str | None = None
        self._last_attempt_at: float | None = None
        self._owed = False

    # --- status ---------------------------------------------------------------------------

    def transition(self, new: Status) -> None:
        """Move to ``new``; raises :class:`IllegalTransition` if the table forbids it."""
        if new not in TRANSITIONS[self.status]:
            raise IllegalTransition(f"{self.status.name} -> {new.name}")
        self.status = new

    @property
    def setup(self) -> w.Setup:
        """The setup sent on each connection (without the per-connection handle)."""
        return self._setup

    @property
    def transparent(self) -> bool:
        """Transparent resumption is configured (Vertex): frames are acknowledged by index."""
        config = self._setup.session_resumption
        return bool(config and config.transparent)

    @property
    def ever_ready(self) -> bool:
        """A connection of this session became ready (else a failure is fatal at once)."""
        return self._ever_ready

    @property
    def reconnects_enabled(self) -> bool:
        """A reconnection policy is set (else the first end of a connection is final)."""
        return self._policy is not None

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """More values never to be shown (a refreshed token, rule 8)."""
        self._secrets = tuple(dict.fromkeys((*self._secrets, *(s for s in secrets if s))))

    @property
    def busy(self) -> bool:
        """A model turn or a tool call is in progress: not a safe point to reconnect."""
        return self.in_turn or bool(self.active_tool_calls)

    @property
    def owes_answer(self) -> bool:
        """The model owes an answer (what ``aclose(finish_turn=...)`` waits for): a turn in
        progress or a tool call (:attr:`busy`), or, since the last ``turnComplete``, a
        frame it answers was written (a text turn, ``activityEnd``, a tool response it
        reads) or the server heard the end of the user's speech."""
        return self._owed or self.busy

    @property
    def dropped_audio_chunks(self) -> int:
        """Input audio chunks dropped (over the budget, queued or kept for a replay)."""
        return self.outbox.dropped_audio_chunks + self._replay.dropped_audio_chunks

    @property
    def dropped_audio_seconds(self) -> float:
        return self.outbox.dropped_audio_seconds + self._replay.dropped_audio_seconds

    def redact(self, text: str) -> str:
        """``text`` with every secret of the session replaced (rule 8)."""
        return redact(text, self._secrets)

    # --- opening a connection -------------------------------------------------------------

    def connecting(self, now: float) -> None:
        """A connection is being opened: DISCONNECTED -> CONNECTING."""
        self.transition(Status.CONNECTING)
        self._last_attempt_at = now

    def setup_frame(self) -> bytes:
        """The ``setup`` frame for a new connection: CONNECTING -> SETUP_PENDING.

        When the setup asked for session resumption and a resumable handle is known, the
        frame resumes it; otherwise the resumption config goes out as configured (never with
        ``"handle": null``: PROTOCOL.md 3.1).
        """
        self.transition(Status.SETUP_PENDING)
        self.connections += 1
        self.sent_index = 0
        self.go_away_deadline = self.go_away_latest = None
        self._resumed = self.handle is not None
        self._handle_at_start = self.handle
        self._transparent_now = self.transparent
        self._ready_at = None
        self._useful = False
        setup = self._setup
        if self.handle is not None:
            base = setup.session_resumption or w.SessionResumptionConfig()
            setup = _replace(setup, session_resumption=_replace(base, handle=self.handle))
        elif self._history and self._history_setup is not None:
            setup = self._history_setup(setup)  # the history follows this setup
        return self._encode_setup(setup)

    def after_setup(self, now: float) -> list[ev.Event]:
        """``setupComplete`` arrived: apply the resume plan (rule 5) to the outbox.

        Returns the events for the user: cancellations, and ``Reconnected`` on every
        connection after the first.
        """
        self._ready_at = now
        first = not self._ever_ready
        self._ever_ready = True
        events: list[ev.Event] = []
        resumed = self._resumed
        transparent = resumed and self._transparent_now
        resend: list[OutboundItem] = []
        if not transparent and not first:
            events.extend(self._cancel_stale_tool_calls(resumed))
        if transparent:
            resend = self._replay.take()
            self._turns.take_resumed()  # not used with transparent resumption
        elif resumed:
            resend = self._turns.take_resumed()
            self._replay.take()
        else:
            # The history goes anew below: an older copy (queued again after a failed
            # write, or not known to be consumed) must not go out too.
            resend = [i for i in self._turns.take_fresh() if i.kind != HISTORY]
            self.outbox.discard_kind(HISTORY)
            self._replay.take()
        resent_turns = sum(1 for item in resend if item.kind in TURNS)
        self.resent_turns += resent_turns
        history = [] if resumed or not self._history else [self._history_item()]
        self.outbox.push_front(history + resend)
        if not first:
            events.append(ev.Reconnected(resumed=resumed, resent_turns=resent_turns))
        return events

    def _history_item(self) -> OutboundItem:
        message = w.ClientMessage(
            client_content=w.ClientContent(turns=self._history, turn_complete=False)
        )
        return OutboundItem(w.encode(message).decode(), 0.0, HISTORY)

    def set_history(self, turns: Iterable[w.Content]) -> None:
        """Replace the turns a fresh connection starts with (re-seeding, issue 14)."""
        self._history = list(turns) or None

    def set_setup(self, setup: w.Setup) -> None:
        """The setup of later connections (a context update changed it, PROTOCOL.md 3.5)."""
        self._setup = setup

    def _cancel_stale_tool_calls(self, resumed: bool) -> list[ev.Event]:
        # The server sends `resumable: false` while calls are pending, so the latest handle
        # predates every pending call: the resumed (or new) session never issued them, and
        # answers to them would be refused (PROTOCOL.md 4).
        events: list[ev.Event] = []
        dropped = self.outbox.discard_kind(TOOL_RESPONSE) + self._replay.discard_kind(
            TOOL_RESPONSE
        )
        answered = tuple(i for item in dropped for i in item.call_ids)
        self.dropped_tool_responses += len(dropped)
        if answered:
            events.append(ev.ToolCallCancellation(ids=answered))
        active = tuple(self.active_tool_calls)
        if active:
            self.active_tool_calls.clear()
            events.append(ev.ToolCallCancellation(ids=active))
        return events

    # --- client frames --------------------------------------------------------------------

    def prepare(self, message: w.ClientMessage, kind: str, audio_seconds: float = 0.0) -> (
        OutboundItem
    ):
        """Encode a message sent after setup into an outbound item (no state changes).

        Tool responses to calls that came without an id (Vertex, PROTOCOL.md 3.4) lose the
        id made up for them here: the server must not see it.

        Raises:
            ValueError: ``message`` is a setup.
        """
        if message.setup is not None:
            raise ValueError("setup is sent by setup_frame(), once per connection")
        response = message.tool_response
        if response is None:
            answered = kind in TURNS or (
                message.realtime_input is not None
                and message.realtime_input.activity_end is not None
            )
            return OutboundItem(w.encode(message).decode(), audio_seconds, kind, (), answered)
        responses = response.function_responses or ()
        ids = tuple(r.id for r in responses if r.id)
        generated = self._generated_ids
        if generated and any(r.id in generated for r in responses):
            fixed = [_replace(r, id=None) if r.id in generated else r for r in responses]
            message = w.ClientMessage(tool_response=w.ToolResponse(function_responses=fixed))
        # SILENT answers only add to the context; willContinue ones are followed by more.
        answered = any(r.scheduling != "SILENT" and not r.will_continue for r in responses)
        return OutboundItem(w.encode(message).decode(), 0.0, kind, ids, answered)

    def queued(self, item: OutboundItem) -> None:
        """``item`` is committed to be sent (queued or written): its calls are answered."""
        for call_id in item.call_ids:
            self.active_tool_calls.pop(call_id, None)

    def written(self, item: OutboundItem) -> int:
        """``item`` is being written on the connection: its index (rule 4), kept for a resume.

        Called when the write *starts* (the server may answer a frame before the write
        returns: an acknowledgement or a ``turnComplete`` must find it here).
        """
        self.sent_index += 1
        if item.answered_by_model:
            self._owed = True
        if self._transparent_now:
            self._replay.sent(self.sent_index, item)
        if item.kind in WORDS or item.kind == HISTORY:
            self._turns.sent(item)
        return self.sent_index

    def write_failed(self, items: list[OutboundItem]) -> list[OutboundItem]:
        """A write of ``items`` failed or was cancelled: what must be queued again, in order.

        Some may have reached the server. With transparent resumption the replay buffer
        holds every frame not acknowledged, so nothing is queued again. Otherwise they are
        all queued again, in their order (the user's words leave the turn buffer, so that
        the resume plan does not send them a second time, nor out of order).
        """
        if self._transparent_now:
            return []
        self._turns.unsend(items)
        return [i for i in items if i.kind != FLUSH]

    # --- server frames --------------------------------------------------------------------

    def receive_message(self, message: w.ServerMessage, raw: _Frame = b"", now: float = 0.0) -> (
        list[ev.Event]
    ):
        """One decoded server message's events, updating the bookkeeping (``raw``: its
        frame, kept for an unknown message). The codec decodes (``_wire``); the receive task
        may do it in a worker thread for a large frame.

        Raises:
            ProtocolError: the message is not allowed in the current status.
        """
        status = self.status
        # Module constants, not Status.X: an Enum attribute costs ~50 ns on Python 3.11.
        if status is _READY or status is _CLOSING:
            if message.setup_complete is not None:
                raise ProtocolError("a second setupComplete on one connection")
        elif status is _SETUP_PENDING:
            if message.setup_complete is None:
                raise ProtocolError("the server sent a message before setupComplete")
        else:
            raise ProtocolError(f"server message while {status.name}")
        if message.tool_call is not None:
            if len(message.tool_call.function_calls or ()) > MAX_CALLS:
                # A task and an answer per call: a hostile frame of 10,000 calls cost
                # hundreds of MB (issue 12 review). No model asks for so many at once.
                raise ProtocolError(f"a toolCall with more than {MAX_CALLS} function calls")
            message = self._name_tool_calls(message)
        events = message_events(message, raw)
        # Bookkeeping only after the whole message decoded into events: a ProtocolError
        # above leaves the state as it was.
        for event in events:
            # Model output is most of the traffic (PROTOCOL.md 4: audio arrives in bursts):
            # one set lookup for it before the match below.
            if type(event) in _OUTPUT_EVENTS:
                self.in_turn = True
                continue
            match event:
                case ev.SetupComplete(session_id=session_id):
                    self.transition(Status.READY)
                    if session_id:
                        self.session_id = session_id
                case ev.TurnComplete():
                    self.in_turn = False
                    self._owed = False
                    self._useful = True
                    self._turns.turn_completed()
                    if self._setup.session_resumption is None:
                        self._turns.covered()  # no handle will come: answered words go
                case ev.VoiceActivity(kind=vad) if vad in _SPEECH_ENDS:
                    self._owed = True  # the server heard the user stop: an answer comes
                case ev.InputTranscription(finished=True):
                    self._owed = True
                case ev.InteractionStatus(status=interaction):
                    # Rule 2 on 3.x models: the interaction may go on after turnComplete
                    # (an asynchronous tool, background reasoning) until IDLE.
                    self.in_turn = interaction not in _INTERACTION_DONE
                case ev.UsageUpdate(usage=usage):
                    self.usage = usage
                case ev.ToolCall(calls=calls):
                    for call in calls:
                        assert call.id is not None
                        self.active_tool_calls[call.id] = call
                case ev.ToolCallCancellation(ids=ids):
                    for call_id in ids:
                        self.active_tool_calls.pop(call_id, None)
                case ev.SessionResumptionUpdate(handle=handle, resumable=resumable):
                    index = event.last_consumed_index
                    if index is not None:
                        self.last_consumed_index = index
                    if resumable and handle:
                        self.handle = handle
                        # Useful work only if it covers something the client sent: a
                        # server that hands out a handle after every setup and then ends
                        # the connection must still meet the budget (issue 12 review).
                        acknowledged = index is not None and self._replay.acknowledge(index)
                        if (self._turns.covered() or acknowledged) and (
                            handle != self._handle_at_start
                        ):
                            self._useful = True
                case ev.GoAway(time_left=time_left):
                    self.go_away_deadline = now + time_left
                    margin = self._policy.go_away_margin if self._policy else 0.0
                    self.go_away_latest = now + time_left - min(margin, time_left / 2)
                case _:
                    pass
        return events

    def _name_tool_calls(self, message: w.ServerMessage) -> w.ServerMessage:
        assert message.tool_call is not None
        calls = message.tool_call.function_calls or []
        if all(call.id for call in calls):
            for call in calls:
                if not call.name:
                    raise ProtocolError(f"tool call {call.id!r} without a name")
            return message
        named: list[w.FunctionCall] = []
        for call in calls:
            if not call.name:
                raise ProtocolError("tool call without a name")
            if not call.id:
                self._last_generated_id += 1
                call_id = f"trio-gemini-live-{self._last_generated_id}"
                if self._generated_ids is None:
                    self._generated_ids = set()
                self._generated_ids.add(call_id)
                call = _replace(call, id=call_id)
            named.append(call)
        return _replace(message, tool_call=w.ToolCall(function_calls=named))

    # --- the end of a connection ----------------------------------------------------------

    def connection_ended(self, end: ConnectionEnd, now: float, *, closing: bool = False) -> (
        Outcome
    ):
        """The current connection ended: classify it and decide what happens (rule 7).

        Args:
            end: how it ended.
            now: the caller's clock.
            closing: the user is closing the session (no reconnection whatever happened).
        """
        out = Outcome()
        if self.status in (Status.CONNECTING, Status.SETUP_PENDING, Status.READY):
            self.transition(Status.DISCONNECTED)
        self._owed = False  # what the old connection owed: resent turns owe it again
        if self.in_turn:
            self.in_turn = False
            out.events += [ev.Interrupted(), ev.TurnComplete(reason="CONNECTION_LOST")]
        after_go_away = self.go_away_deadline is not None
        self.go_away_deadline = self.go_away_latest = None
        if closing or end.kind == USER:
            out.closed = ev.SessionClosed(code=1000, reason=_CLIENT_CLOSE)
            return out
        error = self.classify(end, after_go_away=after_go_away)
        policy = self._policy
        useful = self._useful or (
            self._ready_at is not None
            and policy is not None
            and now - self._ready_at >= policy.stable_after
        )
        if useful:
            self._attempt = 0
        retryable = end.kind in (GO_AWAY, KEEPALIVE, STALLED) or error.retryable
        if (
            policy is None
            or not self._ever_ready
            or not retryable
            or self._attempt >= policy.max_attempts
        ):
            out.error = error
            out.closed = ev.SessionClosed(
                code=getattr(error, "code", None), reason=getattr(error, "reason", str(error))
            )
            return out
        self._attempt += 1
        self.reconnects += 1
        if self._rng is None:
            self._rng = random.Random(policy.seed)
        delay = policy.backoff(self._attempt, self._rng)
        if self._last_attempt_at is not None:
            delay = max(delay, policy.min_interval - (now - self._last_attempt_at))
        if end.kind == FAILED:
            reason = str(error)
        else:
            reason = self.redact(end.reason) or (f"close code {end.code}" if end.code else end.kind)
        out.reconnect = True
        out.delay = max(0.0, delay)
        out.error = error
        out.events.append(ev.Reconnecting(attempt=self._attempt, reason=reason))
        return out

    def classify(self, end: ConnectionEnd, *, after_go_away: bool = False) -> LiveError:
        """The error an end means (PROTOCOL.md 7), with secrets redacted (rule 8)."""
        if end.kind == FAILED and end.error is not None:
            error = end.error
            if self._ever_ready and isinstance(error, SetupError):
                # A reconnection's setup that timed out or got a garbled answer: the
                # server's trouble, retried within the budget like a drop.
                return TransientError(None, self.redact(str(error)))
            return error
        reason = self.redact(end.reason)
        if end.kind == GO_AWAY:
            return TransientError(end.code, reason or "reconnecting before the goAway deadline")
        if end.kind == KEEPALIVE:
            return TransientError(1011, "keepalive ping timeout", hint="no pong in time")
        if end.kind == STALLED:
            return TransientError(None, reason or "the model stopped answering")
        if end.kind == BROKEN:
            return ProtocolError(
                f"the server broke the WebSocket protocol: {reason}", code=end.code
            )
        return classify_close(end.code, reason, after_go_away=after_go_away)

    def refusal(self, status: int, body: bytes) -> SessionClosedError:
        """The error for an HTTP refusal of the WebSocket upgrade (body redacted, rule 8)."""
        text = self.redact(body[:1000].decode("utf-8", "replace"))[:300]
        return classify_refusal(status, text)

    def closing(self) -> None:
        """The user is closing the session: -> CLOSING (unless already ending)."""
        if self.status not in (Status.CLOSING, Status.CLOSED):
            self.transition(Status.CLOSING)

    def closed(self) -> None:
        """The session ended: -> CLOSED."""
        if self.status is not Status.CLOSED:
            self.transition(Status.CLOSED)


_T = TypeVar("_T", bound=msgspec.Struct)


def _replace(obj: _T, **changes: Any) -> _T:
    return msgspec.structs.replace(obj, **changes)
