"""The content both directions carry (PROTOCOL.md 3.2, 3.4 and 4; see ``_wire``).

A turn (:class:`Content`) and its parts: text, inline and file media with the part of the
file they stand for, function calls and responses, code execution, built-in tool calls,
transcriptions. ``_wire`` re-exports every name, and code imports them from there;
``_wire.ClientContent``, ``Setup`` and ``ServerContent`` carry them.
"""

from __future__ import annotations

from typing import Any

from ._wire_common import Duration, Scheduling, WireStruct

__all__ = [
    "AudioMetadata",
    "Blob",
    "BuiltinToolCall",
    "BuiltinToolResponse",
    "CodeExecutionResult",
    "Content",
    "DocumentMetadata",
    "ExecutableCode",
    "FileData",
    "FunctionCall",
    "FunctionResponse",
    "FunctionResponsePart",
    "Part",
    "PartMediaResolution",
    "PartialArg",
    "SpeechMetadata",
    "SpreadsheetMetadata",
    "Transcription",
    "VideoMetadata",
    "WordInfo",
]


class Blob(WireStruct):
    """Inline media: ``{"mimeType": ..., "data": <base64>}``."""

    mime_type: str | None = None
    data: bytes | None = None
    display_name: str | None = None


class FileData(WireStruct):
    """A reference to an uploaded file."""

    mime_type: str | None = None
    file_uri: str | None = None
    display_name: str | None = None


class PartialArg(WireStruct):
    """One streamed piece of a function call's arguments (Vertex AI; ``partialArgs``).

    ``json_path`` (RFC 9535, e.g. ``"$.city"``) names the argument; exactly one of the
    ``*_value`` fields holds (a piece of) its value; ``will_continue`` says that more pieces
    of the same path follow (string values are then concatenated).
    """

    json_path: str | None = None
    string_value: str | None = None
    number_value: float | None = None
    bool_value: bool | None = None
    #: ``"NULL_VALUE"`` for a JSON null.
    null_value: str | None = None
    will_continue: bool | None = None

    @property
    def value(self) -> str | float | bool | None:
        """The value this piece carries (``None`` for a null or for no value)."""
        if self.string_value is not None:
            return self.string_value
        if self.number_value is not None:
            return self.number_value
        if self.bool_value is not None:
            return self.bool_value
        return None


class FunctionCall(WireStruct):
    """A call the model asks the client to run (``toolCall.functionCalls[]``).

    On Vertex AI a call may be streamed: ``partial_args`` holds pieces of the arguments and
    ``will_continue=True`` says that more pieces of the same call follow.
    """

    id: str | None = None
    name: str | None = None
    args: dict[str, Any] | None = None
    partial_args: list[PartialArg] | None = None
    will_continue: bool | None = None


class PartMediaResolution(WireStruct):
    """Per-part media resolution: a ``level`` (``MEDIA_RESOLUTION_*``) or a token count."""

    level: str | None = None
    num_tokens: int | None = None


class VideoMetadata(WireStruct):
    """Which part of a video a part stands for, and at what frame rate."""

    start_offset: Duration | None = None
    end_offset: Duration | None = None
    fps: float | None = None
    #: ``FRAMES``, ``AUDIO``, ``TRANSCRIPT``.
    content_layers: list[str] | None = None


class DocumentMetadata(WireStruct):
    """Which pages of a document a part stands for."""

    start_page: int | None = None
    end_page: int | None = None
    #: ``PAGE_IMAGE``, ``PAGE_TEXT``.
    content_layers: list[str] | None = None


class SpreadsheetMetadata(WireStruct):
    """Which cells of a spreadsheet a part stands for."""

    visible_cells: str | None = None
    sheet_index: int | None = None
    #: ``DATA``, ``FORMULAS``, ``VISUAL``.
    content_layers: list[str] | None = None


class AudioMetadata(WireStruct):
    """Which part of an audio file a part stands for."""

    start_offset: Duration | None = None
    end_offset: Duration | None = None


class FunctionResponsePart(WireStruct):
    """Media in a tool result (``FunctionResponse.parts``): images, audio, files."""

    inline_data: Blob | None = None
    file_data: FileData | None = None
    #: ``STATIC`` or ``AGENTIC`` (video only; Gemini API only).
    media_processing: str | None = None
    media_resolution: PartMediaResolution | None = None
    video_metadata: VideoMetadata | None = None
    document_metadata: DocumentMetadata | None = None
    spreadsheet_metadata: SpreadsheetMetadata | None = None
    audio_metadata: AudioMetadata | None = None


class FunctionResponse(WireStruct):
    """The client's answer to a :class:`FunctionCall` (PROTOCOL.md 3.4).

    ``parts`` carries media with the result (an image a tool produced, say). ``scheduling``
    and ``will_continue`` are Gemini-API-only (Vertex breaks on them).
    """

    id: str | None = None
    name: str | None = None
    response: dict[str, Any] | None = None
    parts: list[FunctionResponsePart] | None = None
    will_continue: bool | None = None
    scheduling: Scheduling | None = None


class ExecutableCode(WireStruct):
    """Code the model generated for the code-execution tool."""

    language: str | None = None
    code: str | None = None
    id: str | None = None


class CodeExecutionResult(WireStruct):
    """The result of running :class:`ExecutableCode`."""

    outcome: str | None = None
    output: str | None = None
    id: str | None = None


class BuiltinToolCall(WireStruct):
    """A call of a built-in, server-side tool (``Part.toolCall``; the SDK's ``ToolCall``).

    The server runs it; the client does not answer it. ``tool_type`` is e.g.
    ``GOOGLE_SEARCH_WEB``, ``URL_CONTEXT``, ``GOOGLE_MAPS``, ``FILE_SEARCH``.
    """

    id: str | None = None
    tool_type: str | None = None
    args: dict[str, Any] | None = None


class BuiltinToolResponse(WireStruct):
    """The result of a :class:`BuiltinToolCall` (``Part.toolResponse``)."""

    id: str | None = None
    tool_type: str | None = None
    response: dict[str, Any] | None = None


class WordInfo(WireStruct):
    """One word of a transcription, with its time in the audio (word timestamps)."""

    word: str | None = None
    start_offset: Duration | None = None
    end_offset: Duration | None = None


class Transcription(WireStruct):
    """A transcription fragment: concatenate ``text``; ``finished`` ends the utterance.

    ``language_code`` (BCP-47), ``speaker_label`` (diarization), ``words`` (word timestamps)
    and the offsets come when the transcription config asks for them.
    """

    text: str | None = None
    finished: bool | None = None
    language_code: str | None = None
    speaker_label: str | None = None
    words: list[WordInfo] | None = None
    start_offset: Duration | None = None
    end_offset: Duration | None = None


class SpeechMetadata(WireStruct):
    """How a part should be spoken (multi-speaker speech): the speaker and a style."""

    speaker: str | None = None
    style: str | None = None


class Part(WireStruct):
    """One part of a :class:`Content`: text, inline media, a call, a response, code...

    A part holds one kind of data (``text``, ``inline_data``, ``file_data``,
    ``function_call``, ``function_response``, ``executable_code``,
    ``code_execution_result``, ``tool_call``, ``tool_response``, ``audio_transcription``);
    the other fields describe it.
    """

    text: str | None = None
    inline_data: Blob | None = None
    file_data: FileData | None = None
    function_call: FunctionCall | None = None
    function_response: FunctionResponse | None = None
    executable_code: ExecutableCode | None = None
    code_execution_result: CodeExecutionResult | None = None
    tool_call: BuiltinToolCall | None = None
    tool_response: BuiltinToolResponse | None = None
    audio_transcription: Transcription | None = None
    thought: bool | None = None
    thought_signature: bytes | None = None
    video_metadata: VideoMetadata | None = None
    media_resolution: PartMediaResolution | None = None
    #: ``STATIC`` or ``AGENTIC``: how the model reads this part's video.
    media_processing: str | None = None
    speech_metadata: SpeechMetadata | None = None
    document_metadata: DocumentMetadata | None = None
    spreadsheet_metadata: SpreadsheetMetadata | None = None
    audio_metadata: AudioMetadata | None = None
    part_metadata: dict[str, Any] | None = None


class Content(WireStruct):
    """A turn: a role and its parts."""

    role: str | None = None
    parts: list[Part] | None = None
