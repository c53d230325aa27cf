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
from ._messages import message_events

__all__ = ["TRANSITIONS", "IllegalTransition", "LiveProtocol", "Status"]


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
