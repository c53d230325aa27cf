"""The Live API protocol as a sans-IO state machine (no trio, no sockets).

The session's tasks only pump: frames from the socket go into :meth:`LiveProtocol.receive`,
which returns typed events; frames for the socket come from :meth:`LiveProtocol.setup_frame`
and :meth:`LiveProtocol.client_frame`. Everything else the protocol knows is kept here:
the status, the session id, the latest resumable handle, the last usage report, the tool
calls awaiting an answer, whether the model is in the middle of a turn, and the goAway
deadline. Time is passed in (``now``), never read, so tests need no clock.

The status machine, in plain words (the table is :data:`TRANSITIONS`):

* A session starts DISCONNECTED. Opening a connection makes it CONNECTING; once the socket is
  open and ``setup`` is sent it is SETUP_PENDING; ``setupComplete`` makes it READY.
* A connection that ends while CONNECTING, SETUP_PENDING or READY makes it DISCONNECTED
  again, from where it may connect again (resumption) or end (CLOSED).
* Closing on purpose goes through CLOSING to CLOSED; a fatal error goes straight to CLOSED.
  CLOSED is terminal.

Any other transition is a bug in the caller and raises :class:`IllegalTransition`.

The error contract (as h11's): anything malformed *from the server* raises exactly
:class:`~trio_gemini_live.ProtocolError`; any other exception is a bug.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Mapping
from typing import Final, TypeAlias, TypeVar

import msgspec

from . import _wire as w
from . import events as ev
from ._errors import ProtocolError
from .audio import OUTPUT_RATE, parse_mime

__all__ = ["TRANSITIONS", "IllegalTransition", "LiveProtocol", "Status", "message_events"]


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


_NOT_AUDIO: Final = -1
#: MIME type -> sample rate, or _NOT_AUDIO. Every chunk carries its MIME type and a session
#: sees one or two distinct ones: one dict lookup per chunk instead of a prefix test and a
#: regex search (measured with benchmarks/bench_codec.py).
_AUDIO_RATES: Final[dict[str, int]] = {}
_AUDIO_RATES_MAX: Final = 64


def _audio_rate(mime_type: str) -> int:
    """The sample rate of a PCM MIME type (24 kHz unless it says), or _NOT_AUDIO.

    ``audio.parse_mime`` decides (one parser for the whole library): only 16-bit mono
    ``audio/pcm`` with a positive rate is an AudioChunk (PROTOCOL.md 4); any other type,
    other audio encodings and a bad rate included, is inline data that is not audio.
    """
    try:
        rate = parse_mime(mime_type, default_rate=OUTPUT_RATE)[1]
    except ValueError:
        rate = _NOT_AUDIO
    if len(_AUDIO_RATES) < _AUDIO_RATES_MAX:  # bounded: the server picks these strings
        _AUDIO_RATES[mime_type] = rate
    return rate


def _usage(meta: w.UsageMetadata) -> ev.Usage:
    return ev.Usage(
        prompt_tokens=meta.prompt_token_count or 0,
        response_tokens=meta.response_token_count or meta.candidates_token_count or 0,
        total_tokens=meta.total_token_count or 0,
        cached_tokens=meta.cached_content_token_count or 0,
        thoughts_tokens=meta.thoughts_token_count or 0,
        tool_use_prompt_tokens=meta.tool_use_prompt_token_count or 0,
        prompt_details=tuple(meta.prompt_tokens_details or ()),
        response_details=tuple(
            meta.response_tokens_details or meta.candidates_tokens_details or ()
        ),
    )


def message_events(message: w.ServerMessage, raw: _Frame = b"") -> list[ev.Event]:
    """The events of one decoded server message, in the documented order (see ``events``).

    ``raw`` is the frame the message was decoded from; it is copied only into an
    :class:`~trio_gemini_live.events.UnknownMessage` (so the common case copies nothing).
    Stateless; :meth:`LiveProtocol.receive` adds the bookkeeping. Raises
    :class:`ProtocolError` for a field that cannot mean anything (a bad Duration).
    """
    out: list[ev.Event] = []
    if message.setup_complete is not None:
        out.append(ev.SetupComplete(session_id=message.setup_complete.session_id))
    content = message.server_content
    if content is not None:
        turn = content.model_turn
        if turn is not None and turn.parts:
            for part in turn.parts:
                if part.text is not None and part.text != "":
                    out.append(ev.TextChunk(text=part.text, thought=bool(part.thought)))
                blob = part.inline_data
                if blob is not None and blob.data is not None:
                    mime = blob.mime_type or "audio/pcm"
                    rate = _AUDIO_RATES.get(mime)
                    if rate is None:
                        rate = _audio_rate(mime)
                    if rate >= 0:  # _NOT_AUDIO is negative
                        out.append(ev.AudioChunk(data=blob.data, sample_rate=rate, mime_type=mime))
        tr = content.input_transcription
        if tr is not None and (tr.text or tr.finished):
            out.append(ev.InputTranscription(text=tr.text or "", finished=bool(tr.finished)))
        tr = content.output_transcription
        if tr is not None and (tr.text or tr.finished):
            out.append(ev.OutputTranscription(text=tr.text or "", finished=bool(tr.finished)))
        if content.grounding_metadata is not None or content.url_context_metadata is not None:
            out.append(
                ev.Grounding(
                    metadata=content.grounding_metadata,
                    url_context=content.url_context_metadata,
                )
            )
        if content.interrupted:
            out.append(ev.Interrupted())
        if content.generation_complete:
            out.append(ev.GenerationComplete())
    if message.usage_metadata is not None:
        out.append(ev.UsageUpdate(usage=_usage(message.usage_metadata)))
    if content is not None and content.turn_complete:
        out.append(ev.TurnComplete(reason=content.turn_complete_reason))
    if message.tool_call is not None:
        out.append(ev.ToolCall(calls=tuple(message.tool_call.function_calls or ())))
    if message.tool_call_cancellation is not None:
        out.append(ev.ToolCallCancellation(ids=tuple(message.tool_call_cancellation.ids or ())))
    if message.voice_activity is not None:
        va = message.voice_activity
        kind = va.type or va.voice_activity_type or "TYPE_UNSPECIFIED"
        out.append(ev.VoiceActivity(kind=kind, audio_offset=w.parse_duration(va.audio_offset)))
    if message.voice_activity_detection_signal is not None:
        signal = message.voice_activity_detection_signal
        kind = signal.vad_signal_type or "VAD_SIGNAL_TYPE_UNSPECIFIED"
        out.append(ev.VoiceActivity(kind=kind))
    if message.session_resumption_update is not None:
        upd = message.session_resumption_update
        out.append(
            ev.SessionResumptionUpdate(
                handle=upd.new_handle or None,
                resumable=bool(upd.resumable),
                last_consumed_index=upd.last_consumed_client_message_index,
            )
        )
    if message.go_away is not None:
        left = w.parse_duration(message.go_away.time_left)
        out.append(ev.GoAway(time_left=max(0.0, left if left is not None else 0.0)))
    if not out and not _has_known_field(message):
        out.append(ev.UnknownMessage(raw=raw.encode() if isinstance(raw, str) else bytes(raw)))
    return out


def _has_known_field(message: w.ServerMessage) -> bool:
    return any(getattr(message, name) is not None for name in message.__struct_fields__)


_READY: Final = Status.READY
_CLOSING: Final = Status.CLOSING
_SETUP_PENDING: Final = Status.SETUP_PENDING
#: Events that mean the model is producing a turn.
_OUTPUT_EVENTS: Final = frozenset({ev.TextChunk, ev.AudioChunk, ev.OutputTranscription})
class LiveProtocol:
    """The client side of one Live API session, across its connections.

    Args:
        setup: the ``setup`` message to send on every connection. The resumption handle is
            filled in per connection (:meth:`setup_frame`).
        resume_handle: a handle to resume on the first connection.
    """

    def __init__(self, setup: w.Setup, *, resume_handle: str | None = None) -> None:
        self._setup = setup
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
        #: When (in the caller's clock) the server will close this connection, after goAway.
        self.go_away_deadline: float | None = None
        #: Connections that reached SETUP_PENDING so far.
        self.connections: int = 0
        #: Client messages sent on this connection after ``setup``.
        self.sent_on_connection: int = 0
        self._generated_ids: set[str] = set()
        self._id_counter = itertools.count(1)

    # --- status ---------------------------------------------------------------------------

    def transition(self, new: Status) -> None:
        """Move to ``new``; raises :class:`IllegalTransition` if the table forbids it."""
        if new not in TRANSITIONS[self.status]:
            raise IllegalTransition(f"{self.status.name} -> {new.name}")
        self.status = new

    def connection_lost(self) -> None:
        """The current connection ended (any cause). Per-connection state is reset."""
        if self.status in (Status.CONNECTING, Status.SETUP_PENDING, Status.READY):
            self.transition(Status.DISCONNECTED)
        self.go_away_deadline = None
        self.sent_on_connection = 0

    # --- client side ----------------------------------------------------------------------

    @property
    def setup(self) -> w.Setup:
        """The setup sent on each connection (without the per-connection handle)."""
        return self._setup

    def setup_frame(self) -> bytes:
        """The ``setup`` frame for a new connection: CONNECTING -> SETUP_PENDING.

        When the setup asked for session resumption and a resumable handle is known, the
        frame resumes it; otherwise the resumption config goes out as configured (never with
        ``"handle": null``: PROTOCOL.md 3.1).
        """
        self.transition(Status.SETUP_PENDING)
        self.connections += 1
        self.sent_on_connection = 0
        setup = self._setup
        if self.handle is not None:
            base = setup.session_resumption or w.SessionResumptionConfig()
            setup = _replace(
                setup, session_resumption=_replace(base, handle=self.handle)
            )
        return w.encode(w.ClientMessage(setup=setup))

    def client_frame(self, message: w.ClientMessage) -> bytes:
        """Encode a message sent after setup, and count its answered tool calls as sent.

        :meth:`encode_client` and then :meth:`answered`, for callers that queue nothing.

        Raises:
            ValueError: ``message`` is a setup.
        """
        frame = self.encode_client(message)
        self.answered(message)
        return frame

    def encode_client(self, message: w.ClientMessage) -> bytes:
        """Encode a message sent after setup, without changing any state.

        Tool responses to calls that came without an id (Vertex, PROTOCOL.md 3.4) lose the
        id this class made up for them: the server must not see it.

        Raises:
            ValueError: ``message`` is a setup.
        """
        if message.setup is not None:
            raise ValueError("setup is sent by setup_frame(), once per connection")
        self.sent_on_connection += 1
        response = message.tool_response
        if response is None or not any(
            r.id in self._generated_ids for r in response.function_responses or ()
        ):
            return w.encode(message)
        fixed = [
            _replace(r, id=None) if r.id in self._generated_ids else r
            for r in response.function_responses or ()
        ]
        return w.encode(w.ClientMessage(tool_response=w.ToolResponse(function_responses=fixed)))

    def answered(self, message: w.ClientMessage) -> None:
        """The tool calls ``message`` answers are no longer active (call once it is queued)."""
        if message.tool_response is not None:
            for resp in message.tool_response.function_responses or ():
                if resp.id is not None:
                    self.active_tool_calls.pop(resp.id, None)

    # --- server side ----------------------------------------------------------------------

    def receive(self, data: bytes | bytearray | memoryview | str, now: float = 0.0) -> list[
        ev.Event
    ]:
        """Decode one server frame and return its events, updating the bookkeeping.

        Args:
            data: the frame's payload, binary or text.
            now: the caller's clock, for the goAway deadline.

        Raises:
            ProtocolError: the frame is malformed, or not allowed in the current status.
        """
        # No copy of the frame here: message_events copies it only for an UnknownMessage.
        return self.receive_message(w.decode_server_message(data), data, now)

    def receive_message(self, message: w.ServerMessage, raw: _Frame = b"", now: float = 0.0) -> (
        list[ev.Event]
    ):
        """As :meth:`receive`, for an already decoded message (``raw``: its frame)."""
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
                    if resumable and handle:
                        self.handle = handle
                    if event.last_consumed_index is not None:
                        self.last_consumed_index = event.last_consumed_index
                case ev.GoAway(time_left=time_left):
                    self.go_away_deadline = now + time_left
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
                call_id = f"trio-gemini-live-{next(self._id_counter)}"
                self._generated_ids.add(call_id)
                call = _replace(call, id=call_id)
            named.append(call)
        return _replace(message, tool_call=w.ToolCall(function_calls=named))


_T = TypeVar("_T", bound=msgspec.Struct)


def _replace(obj: _T, **changes: object) -> _T:
    return msgspec.structs.replace(obj, **changes)
