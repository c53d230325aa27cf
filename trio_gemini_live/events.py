"""The typed events a session yields (DESIGN.md, "The public API").

One server message becomes zero or more events, always in this order::

    SetupComplete, TextChunk / AudioChunk (in the order of the model turn's parts),
    InputTranscription, OutputTranscription, Grounding, Interrupted, GenerationComplete,
    UsageUpdate, TurnComplete, TurnMetrics, ToolCall, ToolCallCancellation, VoiceActivity,
    SessionResumptionUpdate, GoAway, UnknownMessage

Content always comes before ``TurnComplete`` (PROTOCOL.md 4). The session adds its own
events: :class:`TurnMetrics` (right after the ``TurnComplete`` it measures),
:class:`Stalled`, :class:`Reconnecting`, :class:`Reconnected` and :class:`SessionClosed`.

Events are small frozen structs, meant for ``match``::

    match event:
        case ev.TextChunk(text=text):
            print(text, end="")
        case ev.TurnComplete():
            ...
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from ._wire import FunctionCall, GroundingMetadata, ModalityTokenCount, UrlContextMetadata

__all__ = [
    "AudioChunk",
    "Event",
    "GenerationComplete",
    "GoAway",
    "Grounding",
    "InputTranscription",
    "Interrupted",
    "OutputTranscription",
    "Reconnected",
    "Reconnecting",
    "SessionClosed",
    "SessionResumptionUpdate",
    "SetupComplete",
    "Stalled",
    "TextChunk",
    "ToolCall",
    "ToolCallCancellation",
    "TurnComplete",
    "TurnMetrics",
    "UnknownMessage",
    "Usage",
    "UsageUpdate",
    "VoiceActivity",
]


class _Event(msgspec.Struct, frozen=True, kw_only=True):
    pass


class SetupComplete(_Event, frozen=True):
    """The server accepted the setup; the session is ready."""

    session_id: str | None = None


class TextChunk(_Event, frozen=True):
    """A piece of the model's text answer. ``thought=True`` is thinking, not the answer."""

    text: str
    thought: bool = False


class AudioChunk(_Event, frozen=True):
    """A piece of the model's spoken answer: 16-bit little-endian mono PCM."""

    data: bytes
    sample_rate: int = 24000
    mime_type: str = "audio/pcm;rate=24000"


class InputTranscription(_Event, frozen=True):
    """A fragment of the transcript of the user's audio; concatenate the fragments."""

    text: str
    finished: bool = False


class OutputTranscription(_Event, frozen=True):
    """A fragment of the transcript of the model's audio; concatenate the fragments."""

    text: str
    finished: bool = False


class Grounding(_Event, frozen=True):
    """Search grounding or URL-context metadata for the current turn."""

    metadata: GroundingMetadata | None = None
    url_context: UrlContextMetadata | None = None


class Interrupted(_Event, frozen=True):
    """The user interrupted the model: stop and flush playback now."""


class GenerationComplete(_Event, frozen=True):
    """The model finished generating (the turn ends later, with :class:`TurnComplete`)."""


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    """Token counts of one ``usageMetadata`` report, with Gemini API and Vertex names merged.

    Whether the server reports per turn or cumulatively is disputed (PROTOCOL.md 4): this is
    what the server said, as it said it.
    """

    prompt_tokens: int = 0
    response_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    thoughts_tokens: int = 0
    tool_use_prompt_tokens: int = 0
    prompt_details: tuple[ModalityTokenCount, ...] = ()
    response_details: tuple[ModalityTokenCount, ...] = ()


class UsageUpdate(_Event, frozen=True):
    """The server reported token usage."""

    usage: Usage


class TurnComplete(_Event, frozen=True):
    """The model's turn is over. ``reason`` is the server's ``turnCompleteReason``, if any."""

    reason: str | None = None


class ToolCall(_Event, frozen=True):
    """The model asks for these functions to be run; answer every one of them."""

    calls: tuple[FunctionCall, ...]


class ToolCallCancellation(_Event, frozen=True):
    """These calls should not run any more (the user interrupted)."""

    ids: tuple[str, ...]


class VoiceActivity(_Event, frozen=True):
    """Server voice activity: ``ACTIVITY_START``/``ACTIVITY_END`` or a VAD signal type."""

    kind: str
    audio_offset: float | None = None


class SessionResumptionUpdate(_Event, frozen=True):
    """A resumption handle. Only ``resumable=True`` handles can be resumed."""

    handle: str | None
    resumable: bool
    last_consumed_index: int | None = None


class GoAway(_Event, frozen=True):
    """The server will close this connection in ``time_left`` seconds."""

    time_left: float


class UnknownMessage(_Event, frozen=True):
    """A server message with nothing this library knows; ``raw`` is the frame as received."""

    raw: bytes


class Reconnecting(_Event, frozen=True):
    """The connection ended and the session is reconnecting (attempt 1, 2, ...)."""

    attempt: int
    reason: str


class Reconnected(_Event, frozen=True):
    """The session is connected again.

    ``resumed`` tells whether the context survived (a resumption handle). ``resent_turns``
    counts the user's turns sent again on the new connection: those the handle did not
    include, or, on a fresh connection, those not known to be answered (issue 12).
    """

    resumed: bool
    resent_turns: int = 0


class SessionClosed(_Event, frozen=True):
    """The session ended: the last event of ``events()``."""

    code: int | None = None
    reason: str = ""


class TurnMetrics(_Event, frozen=True):
    """How long the model took, measured on the client's clock (issue 14).

    Emitted by the session right after the :class:`TurnComplete` of every model turn that
    had output. Times are in seconds; a figure the turn does not allow is ``None``.

    * ``time_to_first_output``: from the end of the user's turn to the model's first output
      (text, transcript, audio or a tool call). ``None`` when the end of the user's turn was
      not seen (automatic voice activity detection without the server's ``voiceActivity``
      or a finished input transcription; a proactive turn).
    * ``time_to_first_audio``: from the end of the user's turn to the first audio chunk
      (``None`` also for a turn without audio). With a tool call in the turn, it includes
      the time the tool took.
    * ``duration``: from the first output to ``TurnComplete``.
    * ``tokens_per_second``: ``response_tokens`` over the time from the first output to
      ``GenerationComplete`` (or ``TurnComplete``), when usage was reported.
    * ``response_tokens``: the response token count of the turn's last usage report, as the
      server gave it (whether reports are per turn or cumulative is disputed, PROTOCOL.md 4).
    * ``interrupted``: the turn was interrupted (barge-in).
    * ``user_turn_end``: what marked the end of the user's turn: ``"text"``,
      ``"client_turn"``, ``"activity_end"``, ``"audio_stream_end"``, ``"voice_activity"``,
      ``"input_transcription"``, or ``None``.
    """

    time_to_first_output: float | None = None
    time_to_first_audio: float | None = None
    duration: float = 0.0
    tokens_per_second: float | None = None
    response_tokens: int | None = None
    interrupted: bool = False
    user_turn_end: str | None = None


class Stalled(_Event, frozen=True):
    """The model owes an answer and the server has sent nothing for ``seconds`` (issue 14).

    ``owed`` is ``"turn"`` (a user turn was sent, or the server heard one end) or
    ``"tool_response"`` (tool results were sent). A healthy socket can carry a dead stream
    (the keepalive only catches dead sockets). Reported once per silence; any server
    message ends the stall.
    """

    seconds: float
    owed: str


Event: TypeAlias = (
    SetupComplete
    | TextChunk
    | AudioChunk
    | InputTranscription
    | OutputTranscription
    | Grounding
    | Interrupted
    | GenerationComplete
    | UsageUpdate
    | TurnComplete
    | TurnMetrics
    | ToolCall
    | ToolCallCancellation
    | VoiceActivity
    | SessionResumptionUpdate
    | GoAway
    | UnknownMessage
    | Stalled
    | Reconnecting
    | Reconnected
    | SessionClosed
)
