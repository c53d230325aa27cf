"""The typed events a session yields (DESIGN.md, "The public API").

One server message becomes zero or more events, always in this order::

    SetupComplete,
    TextChunk / AudioChunk / InlineData / ExecutableCode / CodeExecutionResult / ModelPart
        (in the order of the model turn's parts),
    InterimInputTranscription, InputTranscription, OutputTranscription, Grounding,
    Interrupted, GenerationComplete, WaitingForInput, UsageUpdate, TurnComplete,
    TurnMetrics, InteractionStatus, ToolCall, ToolCallCancellation, VoiceActivity,
    SessionResumptionUpdate, GoAway, UnknownMessage

Content always comes before ``TurnComplete`` (PROTOCOL.md 4). The session adds its own
events: :class:`TurnMetrics` (right after the ``TurnComplete`` it measures),
:class:`Stalled`, :class:`Reconnecting`, :class:`Reconnected` and :class:`SessionClosed`.

Every field the official SDK (3.6) knows in a server message reaches an event: the typed
fields below, or the wire struct an event carries (:class:`ToolCall` holds
:class:`~trio_gemini_live.FunctionCall` structs with their streamed ``partial_args``;
:class:`Grounding` the whole grounding metadata; :class:`ModelPart` a part no other event
describes). The one exception is the metadata of an audio part, which is not looked at, to
keep the audio path short. Fields the server adds later, which this library does not know
yet, are ignored; a message with none that it knows becomes an :class:`UnknownMessage`.

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

from ._wire import (
    FunctionCall,
    GroundingMetadata,
    ModalityTokenCount,
    Part,
    UrlContextMetadata,
)

__all__ = [
    "AudioChunk",
    "CodeExecutionResult",
    "Event",
    "ExecutableCode",
    "GenerationComplete",
    "GoAway",
    "Grounding",
    "InlineData",
    "InputTranscription",
    "InteractionStatus",
    "InterimInputTranscription",
    "Interrupted",
    "ModelPart",
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
    "WaitingForInput",
    "Word",
]


class _Event(msgspec.Struct, frozen=True, kw_only=True):
    pass


class SetupComplete(_Event, frozen=True):
    """The server accepted the setup; the session is ready.

    ``voice_consent_signature`` comes with a replicated voice whose consent the server
    accepted: pass it as ``ReplicatedVoiceConfig.voice_consent_signature`` next time.
    """

    session_id: str | None = None
    voice_consent_signature: str | None = None


class TextChunk(_Event, frozen=True):
    """A piece of the model's text answer. ``thought=True`` is thinking, not the answer.

    ``thought_signature`` is the model's opaque signature of its thinking, when it sends one.
    """

    text: str
    thought: bool = False
    thought_signature: bytes | None = None


class AudioChunk(_Event, frozen=True):
    """A piece of the model's spoken answer: 16-bit little-endian mono PCM."""

    data: bytes
    sample_rate: int = 24000
    mime_type: str = "audio/pcm;rate=24000"


class InlineData(_Event, frozen=True):
    """Media in the model's turn that is not 16-bit PCM audio (an image, another encoding)."""

    data: bytes
    mime_type: str
    display_name: str | None = None


class ExecutableCode(_Event, frozen=True):
    """Code the model wrote for the code-execution tool (the server runs it)."""

    code: str
    language: str = "PYTHON"
    id: str | None = None


class CodeExecutionResult(_Event, frozen=True):
    """The result of running :class:`ExecutableCode`: ``OUTCOME_OK`` or a failure, and output."""

    outcome: str
    output: str = ""
    id: str | None = None


class ModelPart(_Event, frozen=True):
    """A part of the model's turn that the events above do not describe, as received.

    For example a file reference (``file_data``), a call of a built-in tool the server
    ran (``tool_call``/``tool_response``), or per-part metadata. A part that is audio
    only ever becomes an :class:`AudioChunk`.
    """

    part: Part


class Word(msgspec.Struct, frozen=True, kw_only=True):
    """One word of a transcription, with its time in the audio, in seconds (if known)."""

    word: str
    start_offset: float | None = None
    end_offset: float | None = None


class _Transcript(_Event, frozen=True):
    """The fields of every transcription event (the SDK's ``Transcription``)."""

    text: str
    finished: bool = False
    #: The BCP-47 language of the fragment, when the server says.
    language_code: str | None = None
    #: Who spoke (``"spk_1"``...), with diarization on.
    speaker_label: str | None = None
    #: Word timings, with word timestamps on.
    words: tuple[Word, ...] = ()
    #: Where the fragment starts and ends in the audio, in seconds.
    start_offset: float | None = None
    end_offset: float | None = None


class InterimInputTranscription(_Transcript, frozen=True):
    """A provisional, low-latency transcript of what the user is saying now.

    Each one replaces the previous one (do not concatenate); the final text comes as
    :class:`InputTranscription`.

    Fields: ``text``, ``finished``; and when the server says: ``language_code`` (BCP-47),
    ``speaker_label`` (with diarization), ``words`` (:class:`Word` timings, with word
    timestamps), ``start_offset`` / ``end_offset`` (seconds into the audio).
    """


class InputTranscription(_Transcript, frozen=True):
    """A fragment of the transcript of the user's audio; concatenate the fragments.

    Fields: ``text``, ``finished``; and when the server says: ``language_code`` (BCP-47),
    ``speaker_label`` (with diarization), ``words`` (:class:`Word` timings, with word
    timestamps), ``start_offset`` / ``end_offset`` (seconds into the audio).
    """


class OutputTranscription(_Transcript, frozen=True):
    """A fragment of the transcript of the model's audio; concatenate the fragments.

    Fields: ``text``, ``finished``; and when the server says: ``language_code`` (BCP-47),
    ``speaker_label`` (with diarization), ``words`` (:class:`Word` timings, with word
    timestamps), ``start_offset`` / ``end_offset`` (seconds into the audio).
    """


class Grounding(_Event, frozen=True):
    """Search grounding or URL-context metadata for the current turn."""

    metadata: GroundingMetadata | None = None
    url_context: UrlContextMetadata | None = None


class Interrupted(_Event, frozen=True):
    """The user interrupted the model: stop and flush playback now."""


class GenerationComplete(_Event, frozen=True):
    """The model finished generating (the turn ends later, with :class:`TurnComplete`)."""


class WaitingForInput(_Event, frozen=True):
    """The model is not generating because it expects more input (the user paused)."""


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
    cache_details: tuple[ModalityTokenCount, ...] = ()
    tool_use_prompt_details: tuple[ModalityTokenCount, ...] = ()
    #: Vertex AI: ``ON_DEMAND``, ``PROVISIONED_THROUGHPUT``...
    traffic_type: str | None = None
    #: ``standard``, ``flex``, ``priority``...
    service_tier: str | None = None


class UsageUpdate(_Event, frozen=True):
    """The server reported token usage."""

    usage: Usage


class TurnComplete(_Event, frozen=True):
    """The model's turn is over. ``reason`` is the server's ``turnCompleteReason``, if any."""

    reason: str | None = None


class InteractionStatus(_Event, frozen=True):
    """Whether the server is still working on the user's input (comes with turnComplete).

    ``IDLE``: everything is done, the interaction is over. ``IN_PROGRESS``: the model's turn
    ended but the server is still working (background reasoning, an asynchronous tool):
    more output may follow. ``REQUIRES_ACTION`` is deprecated (read as not done, as the
    official SDK does). The official SDK ends its ``receive()`` at ``IDLE`` when a status
    is sent, at ``turnComplete`` when none is.
    """

    status: str


class ToolCall(_Event, frozen=True):
    """The model asks for these functions to be run; answer every one of them.

    On Vertex AI a call's arguments may be streamed: a call with ``will_continue=True``
    and ``partial_args`` is a piece; more pieces of the same call follow.
    """

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
    | InlineData
    | ExecutableCode
    | CodeExecutionResult
    | ModelPart
    | InterimInputTranscription
    | InputTranscription
    | OutputTranscription
    | Grounding
    | Interrupted
    | GenerationComplete
    | WaitingForInput
    | UsageUpdate
    | TurnComplete
    | TurnMetrics
    | InteractionStatus
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
