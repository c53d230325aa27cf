"""The Live API wire format as msgspec Structs (PROTOCOL.md sections 3 and 4).

Every JSON object of the protocol is a Struct here. Python names are snake_case; the wire
names are lowerCamelCase (``rename="camel"``), as proto3 JSON wants. Fields default to
``None`` and ``omit_defaults=True`` leaves them out of the JSON, so an unset field is never
sent (PROTOCOL.md 3.1: never send ``"handle": null``).

There is one encoder and one decoder, created once at import:

* :func:`encode` turns any client Struct into the UTF-8 JSON of a text frame. ``bytes``
  fields are base64-encoded in C with the standard alphabet.
* :func:`decode_server_message` turns a server frame (binary or text) into a
  :class:`ServerMessage`. The decoder is *lax* (``strict=False``): proto3 JSON writes int64
  values as strings, and the server is free to write them as numbers; both are accepted.
  Unknown fields and unknown message types are ignored (the server grows). Media bytes in
  the standard alphabet are decoded in C; URL-safe or unpadded base64 takes a slower, exact
  repair path (:func:`_repair_base64`).

Enumerations the client sends are ``Literal`` types, so a typo fails before anything is
sent; enumerations the server sends are plain ``str``, so a value added by Google tomorrow
never fails decoding.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from typing import Any, Final, Literal, TypeAlias

import msgspec

from ._errors import ProtocolError

__all__ = [
    "ActivityEnd",
    "ActivityStart",
    "AudioMetadata",
    "AudioTranscriptionConfig",
    "AuthorAttribution",
    "AutomaticActivityDetection",
    "AvatarConfig",
    "Blob",
    "BuiltinToolCall",
    "BuiltinToolResponse",
    "ClientContent",
    "ClientMessage",
    "CodeExecution",
    "CodeExecutionResult",
    "Content",
    "ContextUpdate",
    "ContextUpdateTools",
    "ContextWindowCompression",
    "CustomizedAvatar",
    "DocumentMetadata",
    "ExecutableCode",
    "FileData",
    "FileSearch",
    "FunctionCall",
    "FunctionDeclaration",
    "FunctionResponse",
    "FunctionResponsePart",
    "GenerationConfig",
    "GoAway",
    "GoogleMaps",
    "GoogleMapsGroundingTypes",
    "GoogleMapsPlaces",
    "GoogleMapsRouting",
    "GoogleSearch",
    "GroundingChunk",
    "GroundingChunkCustomMetadata",
    "GroundingChunkImage",
    "GroundingChunkMaps",
    "GroundingChunkRetrievedContext",
    "GroundingChunkStringList",
    "GroundingChunkWeb",
    "GroundingMetadata",
    "GroundingSupport",
    "HistoryConfig",
    "ImageSearch",
    "Interval",
    "LanguageAuto",
    "LanguageHints",
    "MapsRoute",
    "ModalityTokenCount",
    "MultiSpeakerVoiceConfig",
    "Part",
    "PartMediaResolution",
    "PartialArg",
    "PlaceAnswerSources",
    "PrebuiltVoiceConfig",
    "Proactivity",
    "RagChunk",
    "RagChunkPageSpan",
    "RealtimeInput",
    "RealtimeInputConfig",
    "ReplicatedVoiceConfig",
    "RetrievalMetadata",
    "ReviewSnippet",
    "SafetySetting",
    "Schema",
    "SearchEntryPoint",
    "SearchTypes",
    "Segment",
    "ServerContent",
    "ServerMessage",
    "SessionResumptionConfig",
    "SessionResumptionUpdate",
    "Setup",
    "SetupComplete",
    "SlidingWindow",
    "SourceFlaggingUri",
    "SpeakerVoiceConfig",
    "SpeechConfig",
    "SpeechMetadata",
    "SpreadsheetMetadata",
    "ThinkingConfig",
    "Tool",
    "ToolCall",
    "ToolCallCancellation",
    "ToolResponse",
    "Transcription",
    "TranslationConfig",
    "UrlContext",
    "UrlContextMetadata",
    "UrlMetadata",
    "UsageMetadata",
    "VideoMetadata",
    "VoiceActivity",
    "VoiceActivityDetectionSignal",
    "VoiceConfig",
    "VoiceConsentSignature",
    "WebSearch",
    "WordInfo",
    "decode_server_message",
    "encode",
]


class WireStruct(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    """Base of every wire type: camelCase on the wire, unset fields omitted."""


# --- enumerations the client sends (checked before sending) -------------------------------
# Each is a subset of the official SDK's enum of the same meaning (tests/test_referee.py
# checks it). Enumerations of types the server sends too (``Part`` and what it holds) are
# plain ``str`` instead: the server may grow them.

Modality: TypeAlias = Literal["TEXT", "AUDIO", "IMAGE", "VIDEO"]
MediaResolution: TypeAlias = Literal[
    "MEDIA_RESOLUTION_UNSPECIFIED",
    "MEDIA_RESOLUTION_LOW",
    "MEDIA_RESOLUTION_MEDIUM",
    "MEDIA_RESOLUTION_HIGH",
]
ThinkingLevel: TypeAlias = Literal[
    "THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH"
]
SchemaType: TypeAlias = Literal[
    "TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"
]
Behavior: TypeAlias = Literal["UNSPECIFIED", "BLOCKING", "NON_BLOCKING"]
Scheduling: TypeAlias = Literal["SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"]
StartSensitivity: TypeAlias = Literal[
    "START_SENSITIVITY_UNSPECIFIED", "START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW"
]
EndSensitivity: TypeAlias = Literal[
    "END_SENSITIVITY_UNSPECIFIED", "END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW"
]
ActivityHandling: TypeAlias = Literal[
    "ACTIVITY_HANDLING_UNSPECIFIED", "START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION"
]
TurnCoverage: TypeAlias = Literal[
    "TURN_COVERAGE_UNSPECIFIED",
    "TURN_INCLUDES_ONLY_ACTIVITY",
    "TURN_INCLUDES_ALL_INPUT",
    "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
]
TranscriptionMode: TypeAlias = Literal["MODE_UNSPECIFIED", "VERBATIM", "SMART"]
HarmCategory: TypeAlias = Literal[
    "HARM_CATEGORY_UNSPECIFIED",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
    "HARM_CATEGORY_JAILBREAK",
    "HARM_CATEGORY_IMAGE_HATE",
    "HARM_CATEGORY_IMAGE_DANGEROUS_CONTENT",
    "HARM_CATEGORY_IMAGE_HARASSMENT",
    "HARM_CATEGORY_IMAGE_SEXUALLY_EXPLICIT",
]
HarmBlockMethod: TypeAlias = Literal["HARM_BLOCK_METHOD_UNSPECIFIED", "SEVERITY", "PROBABILITY"]
HarmBlockThreshold: TypeAlias = Literal[
    "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
    "BLOCK_LOW_AND_ABOVE",
    "BLOCK_MEDIUM_AND_ABOVE",
    "BLOCK_ONLY_HIGH",
    "BLOCK_NONE",
    "OFF",
]
PhishBlockThreshold: TypeAlias = Literal[
    "PHISH_BLOCK_THRESHOLD_UNSPECIFIED",
    "BLOCK_LOW_AND_ABOVE",
    "BLOCK_MEDIUM_AND_ABOVE",
    "BLOCK_HIGH_AND_ABOVE",
    "BLOCK_HIGHER_AND_ABOVE",
    "BLOCK_VERY_HIGH_AND_ABOVE",
    "BLOCK_ONLY_EXTREMELY_HIGH",
]
Role: TypeAlias = Literal["user", "model"]

#: A protobuf Duration: ``"50s"``/``"1.5s"`` in proto3 JSON; numbers are accepted too.
Duration: TypeAlias = str | float


# --- content (shared by client and server) -------------------------------------------------


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


# --- setup ---------------------------------------------------------------------------------


class PrebuiltVoiceConfig(WireStruct):
    voice_name: str | None = None


class VoiceConsentSignature(WireStruct):
    """The server's signature of a voice-cloning consent (reuse it to skip the consent)."""

    signature: str | None = None


class ReplicatedVoiceConfig(WireStruct):
    """A voice cloned from a sample: the sample's audio, and the speaker's consent.

    ``consent_audio`` (a recording of the consent) or ``voice_consent_signature`` (from an
    earlier ``setupComplete``) are Gemini-API-only.
    """

    mime_type: str | None = None
    voice_sample_audio: bytes | None = None
    consent_audio: bytes | None = None
    voice_consent_signature: VoiceConsentSignature | None = None


class VoiceConfig(WireStruct):
    """One voice: a prebuilt one (``prebuilt_voice_config``), a replicated one, or a name."""

    prebuilt_voice_config: PrebuiltVoiceConfig | None = None
    replicated_voice_config: ReplicatedVoiceConfig | None = None
    voice: str | None = None


class SpeakerVoiceConfig(WireStruct):
    """The voice of one named speaker (multi-speaker speech)."""

    speaker: str | None = None
    voice_config: VoiceConfig | None = None


class MultiSpeakerVoiceConfig(WireStruct):
    speaker_voice_configs: list[SpeakerVoiceConfig] | None = None


class SpeechConfig(WireStruct):
    """``generationConfig.speechConfig``: the voice (or voices) and the language of the answer."""

    voice_config: VoiceConfig | None = None
    multi_speaker_voice_config: MultiSpeakerVoiceConfig | None = None
    language_code: str | None = None


class ThinkingConfig(WireStruct):
    """``generationConfig.thinkingConfig``: a budget (2.5 models) or a level (3.x models).

    Which one a model reads is in its profile (:mod:`trio_gemini_live.models`).
    """

    include_thoughts: bool | None = None
    thinking_budget: int | None = None
    thinking_level: ThinkingLevel | None = None


class TranslationConfig(WireStruct):
    """Speech-to-speech translation (Gemini API): answer in ``target_language_code``."""

    target_language_code: str | None = None
    echo_target_language: bool | None = None


class GenerationConfig(WireStruct):
    """``setup.generationConfig``, the subset the Live API supports (PROTOCOL.md 3.1).

    The SDK's other ``GenerationConfig`` fields (``responseMimeType``, ``stopSequences``...)
    are not supported by the Live API; ``LiveConfig(extra=...)`` can still send them.
    """

    candidate_count: int | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    response_modalities: list[Modality] | None = None
    speech_config: SpeechConfig | None = None
    media_resolution: MediaResolution | None = None
    thinking_config: ThinkingConfig | None = None
    enable_affective_dialog: bool | None = None
    translation_config: TranslationConfig | None = None


class Schema(WireStruct):
    """The OpenAPI subset used for function parameters (``type`` is upper case)."""

    type: SchemaType | None = None
    format: str | None = None
    title: str | None = None
    description: str | None = None
    nullable: bool | None = None
    enum: list[str] | None = None
    items: Schema | None = None
    max_items: int | None = None
    min_items: int | None = None
    properties: dict[str, Schema] | None = None
    required: list[str] | None = None
    property_ordering: list[str] | None = None
    min_properties: int | None = None
    max_properties: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    any_of: list[Schema] | None = None
    default: Any = None
    example: Any = None
    additional_properties: Any = None
    defs: dict[str, Schema] | None = None
    ref: str | None = None


class FunctionDeclaration(WireStruct):
    """A function the model may call. ``behavior`` NON_BLOCKING lets the model keep talking.

    Which behaviours a model supports, and its default, is in its profile
    (:mod:`trio_gemini_live.models`; PROTOCOL.md 9).
    """

    name: str
    description: str | None = None
    parameters: Schema | None = None
    parameters_json_schema: dict[str, Any] | None = None
    response: Schema | None = None
    response_json_schema: dict[str, Any] | None = None
    behavior: Behavior | None = None


class WebSearch(WireStruct):
    """Web results for Google Search (``{}`` enables them)."""


class ImageSearch(WireStruct):
    """Image results for Google Search (``{}`` enables them)."""


class SearchTypes(WireStruct):
    """Which Google Search kinds to use (web, image)."""

    web_search: WebSearch | None = None
    image_search: ImageSearch | None = None


class Interval(WireStruct):
    """A time range (RFC 3339 timestamps on the wire)."""

    start_time: datetime.datetime | None = None
    end_time: datetime.datetime | None = None


class GoogleSearch(WireStruct):
    """Grounding with Google Search (``{}`` enables it).

    ``exclude_domains`` and ``blocking_confidence`` are Vertex-AI-only.
    """

    search_types: SearchTypes | None = None
    time_range_filter: Interval | None = None
    exclude_domains: list[str] | None = None
    blocking_confidence: PhishBlockThreshold | None = None


class GoogleMapsPlaces(WireStruct):
    """Ground on places (``{}`` enables it)."""


class GoogleMapsRouting(WireStruct):
    """Ground on routes (``{}`` enables it)."""


class GoogleMapsGroundingTypes(WireStruct):
    places: GoogleMapsPlaces | None = None
    routing: GoogleMapsRouting | None = None


class GoogleMaps(WireStruct):
    """Grounding with Google Maps (``{}`` enables it); ``grounding_types`` is Vertex-only."""

    enable_widget: bool | None = None
    grounding_types: GoogleMapsGroundingTypes | None = None


class FileSearch(WireStruct):
    """Retrieval from file search stores (Gemini API)."""

    file_search_store_names: list[str] | None = None
    top_k: int | None = None
    metadata_filter: str | None = None


class CodeExecution(WireStruct):
    """The code-execution tool (``{}`` enables it)."""


class UrlContext(WireStruct):
    """The URL-context tool (``{}`` enables it)."""


class Tool(WireStruct):
    """One entry of ``setup.tools``: function declarations or a built-in tool.

    The SDK's other tool kinds (retrieval, enterprise web search, computer use, MCP
    servers...) can be sent in ``LiveConfig(extra={"tools": [...]})``.
    """

    function_declarations: list[FunctionDeclaration] | None = None
    google_search: GoogleSearch | None = None
    code_execution: CodeExecution | None = None
    url_context: UrlContext | None = None
    google_maps: GoogleMaps | None = None
    file_search: FileSearch | None = None


class AutomaticActivityDetection(WireStruct):
    """Server-side voice activity detection; ``disabled=True`` means manual activity signals."""

    disabled: bool | None = None
    start_of_speech_sensitivity: StartSensitivity | None = None
    end_of_speech_sensitivity: EndSensitivity | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None


class RealtimeInputConfig(WireStruct):
    """How realtime input is turned into user turns.

    ``turn_coverage``'s default depends on the model (PROTOCOL.md 9).
    """

    automatic_activity_detection: AutomaticActivityDetection | None = None
    activity_handling: ActivityHandling | None = None
    turn_coverage: TurnCoverage | None = None
    interim_transcript_timestamp_enabled: bool | None = None


class SessionResumptionConfig(WireStruct):
    """``{}`` asks for handles; ``handle`` resumes; ``transparent`` is Vertex-only."""

    handle: str | None = None
    transparent: bool | None = None


class SlidingWindow(WireStruct):
    target_tokens: int | None = None


class ContextWindowCompression(WireStruct):
    trigger_tokens: int | None = None
    sliding_window: SlidingWindow | None = None


class LanguageAuto(WireStruct):
    """Detect the spoken language automatically (``{}``)."""


class LanguageHints(WireStruct):
    """The languages the audio is expected in (BCP-47 codes)."""

    language_codes: list[str] | None = None


class AudioTranscriptionConfig(WireStruct):
    """``{}`` turns transcription on; the fields tune it (newer models).

    ``language_codes`` / ``language_hints`` / ``language_auto`` choose the language,
    ``custom_vocabulary`` and ``adaptation_phrases`` bias recognition, ``word_timestamp``
    adds :class:`WordInfo` timings, ``diarization`` adds speaker labels, ``mode`` is
    ``VERBATIM`` or ``SMART``.
    """

    language_codes: list[str] | None = None
    language_auto: LanguageAuto | None = None
    language_hints: LanguageHints | None = None
    custom_vocabulary: list[str] | None = None
    adaptation_phrases: list[str] | None = None
    word_timestamp: bool | None = None
    diarization: bool | None = None
    mode: TranscriptionMode | None = None
    source_text: str | None = None


class Proactivity(WireStruct):
    """Let the model decide not to answer irrelevant input (audio), or speak up on video.

    Which models take it, and on which API version, is in their profile (PROTOCOL.md 9).
    """

    proactive_audio: bool | None = None
    proactive_video: bool | None = None


class HistoryConfig(WireStruct):
    """3.x models: the initial history arrives as ``clientContent``."""

    initial_history_in_client_content: bool | None = None


class SafetySetting(WireStruct):
    """One safety filter: a harm category and the threshold that blocks it.

    ``method`` is Vertex-AI-only.
    """

    category: HarmCategory | None = None
    threshold: HarmBlockThreshold | None = None
    method: HarmBlockMethod | None = None


class CustomizedAvatar(WireStruct):
    image_mime_type: str | None = None
    image_data: bytes | None = None


class AvatarConfig(WireStruct):
    """A video avatar that speaks the answers (a named one, or from an image)."""

    avatar_name: str | None = None
    customized_avatar: CustomizedAvatar | None = None
    audio_bitrate_bps: int | None = None
    video_bitrate_bps: int | None = None


class Setup(WireStruct):
    """The first client message (PROTOCOL.md 3.1).

    ``labels`` is Gemini-API-only; ``explicit_vad_signal`` is Vertex-only.
    """

    model: str
    generation_config: GenerationConfig | None = None
    system_instruction: Content | None = None
    tools: list[Tool] | None = None
    realtime_input_config: RealtimeInputConfig | None = None
    session_resumption: SessionResumptionConfig | None = None
    context_window_compression: ContextWindowCompression | None = None
    input_audio_transcription: AudioTranscriptionConfig | None = None
    output_audio_transcription: AudioTranscriptionConfig | None = None
    proactivity: Proactivity | None = None
    history_config: HistoryConfig | None = None
    explicit_vad_signal: bool | None = None
    safety_settings: list[SafetySetting] | None = None
    avatar_config: AvatarConfig | None = None
    labels: dict[str, str] | None = None


# --- the other client messages -------------------------------------------------------------


class ClientContent(WireStruct):
    """Turns appended to the history (PROTOCOL.md 3.2)."""

    turns: list[Content] | None = None
    turn_complete: bool | None = None


class ActivityStart(WireStruct):
    """Manual voice activity: the user started speaking."""


class ActivityEnd(WireStruct):
    """Manual voice activity: the user stopped speaking."""


class RealtimeInput(WireStruct):
    """Streamed input, exactly one field per message (PROTOCOL.md 3.3).

    ``media_chunks`` is deprecated and refused by 3.x models (PROTOCOL.md 9): the session
    never sends it.
    """

    audio: Blob | None = None
    video: Blob | None = None
    text: str | None = None
    activity_start: ActivityStart | None = None
    activity_end: ActivityEnd | None = None
    audio_stream_end: bool | None = None
    media_chunks: list[Blob] | None = None


class ToolResponse(WireStruct):
    function_responses: list[FunctionResponse] | None = None


class ContextUpdateTools(WireStruct):
    """The tools of a :class:`ContextUpdate`: ``tools=[]`` removes every tool."""

    tools: list[Tool] | None = None


class ContextUpdate(WireStruct):
    """Change the system instruction or the tools mid-session (PROTOCOL.md 3.5).

    On the wire: ``{"systemInstruction": ..., "tools": {"tools": [...]}}`` (the official
    SDK 3.6's shape). Only the fields present change.
    """

    system_instruction: Content | None = None
    tools: ContextUpdateTools | None = None


class ClientMessage(WireStruct):
    """A client frame: exactly one field is set."""

    setup: Setup | None = None
    client_content: ClientContent | None = None
    realtime_input: RealtimeInput | None = None
    tool_response: ToolResponse | None = None
    context_update: ContextUpdate | None = None


# --- server messages -----------------------------------------------------------------------


class SetupComplete(WireStruct):
    session_id: str | None = None
    voice_consent_signature: VoiceConsentSignature | None = None


class GroundingChunkWeb(WireStruct):
    uri: str | None = None
    title: str | None = None
    domain: str | None = None


class GroundingChunkImage(WireStruct):
    source_uri: str | None = None
    image_uri: str | None = None
    title: str | None = None
    domain: str | None = None


class AuthorAttribution(WireStruct):
    display_name: str | None = None
    photo_uri: str | None = None
    uri: str | None = None


class ReviewSnippet(WireStruct):
    author_attribution: AuthorAttribution | None = None
    flag_content_uri: str | None = None
    google_maps_uri: str | None = None
    relative_publish_time_description: str | None = None
    review: str | None = None
    review_id: str | None = None
    title: str | None = None


class PlaceAnswerSources(WireStruct):
    review_snippet: ReviewSnippet | None = None
    review_snippets: list[ReviewSnippet] | None = None
    flag_content_uri: str | None = None


class MapsRoute(WireStruct):
    distance_meters: int | None = None
    duration: Duration | None = None
    encoded_polyline: str | None = None


class GroundingChunkMaps(WireStruct):
    place_answer_sources: PlaceAnswerSources | None = None
    place_id: str | None = None
    text: str | None = None
    title: str | None = None
    uri: str | None = None
    route: MapsRoute | None = None


class RagChunkPageSpan(WireStruct):
    first_page: int | None = None
    last_page: int | None = None


class RagChunk(WireStruct):
    page_span: RagChunkPageSpan | None = None
    text: str | None = None
    chunk_id: str | None = None
    file_id: str | None = None


class GroundingChunkStringList(WireStruct):
    values: list[str] | None = None


class GroundingChunkCustomMetadata(WireStruct):
    key: str | None = None
    numeric_value: float | None = None
    string_list_value: GroundingChunkStringList | None = None
    string_value: str | None = None


class GroundingChunkRetrievedContext(WireStruct):
    document_name: str | None = None
    rag_chunk: RagChunk | None = None
    text: str | None = None
    title: str | None = None
    uri: str | None = None
    custom_metadata: list[GroundingChunkCustomMetadata] | None = None
    file_search_store: str | None = None
    page_number: int | None = None
    media_id: str | None = None


class GroundingChunk(WireStruct):
    """One source: a web page, an image, a place or route, or retrieved context."""

    web: GroundingChunkWeb | None = None
    image: GroundingChunkImage | None = None
    maps: GroundingChunkMaps | None = None
    retrieved_context: GroundingChunkRetrievedContext | None = None


class Segment(WireStruct):
    start_index: int | None = None
    end_index: int | None = None
    part_index: int | None = None
    text: str | None = None


class GroundingSupport(WireStruct):
    segment: Segment | None = None
    grounding_chunk_indices: list[int] | None = None
    confidence_scores: list[float] | None = None
    rendered_parts: list[int] | None = None


class SearchEntryPoint(WireStruct):
    rendered_content: str | None = None
    sdk_blob: bytes | None = None


class RetrievalMetadata(WireStruct):
    google_search_dynamic_retrieval_score: float | None = None


class SourceFlaggingUri(WireStruct):
    flag_content_uri: str | None = None
    source_id: str | None = None


class GroundingMetadata(WireStruct):
    """Grounding: the queries, the sources (web, image, maps, retrieval) and what they support."""

    web_search_queries: list[str] | None = None
    image_search_queries: list[str] | None = None
    retrieval_queries: list[str] | None = None
    grounding_chunks: list[GroundingChunk] | None = None
    grounding_supports: list[GroundingSupport] | None = None
    search_entry_point: SearchEntryPoint | None = None
    retrieval_metadata: RetrievalMetadata | None = None
    google_maps_widget_context_token: str | None = None
    source_flagging_uris: list[SourceFlaggingUri] | None = None


class UrlMetadata(WireStruct):
    retrieved_url: str | None = None
    url_retrieval_status: str | None = None


class UrlContextMetadata(WireStruct):
    url_metadata: list[UrlMetadata] | None = None


class ServerContent(WireStruct):
    """``serverContent``: model output and turn signals; 3.x models bundle several fields."""

    model_turn: Content | None = None
    generation_complete: bool | None = None
    turn_complete: bool | None = None
    interrupted: bool | None = None
    grounding_metadata: GroundingMetadata | None = None
    url_context_metadata: UrlContextMetadata | None = None
    input_transcription: Transcription | None = None
    output_transcription: Transcription | None = None
    interim_input_transcription: Transcription | None = None
    turn_complete_reason: str | None = None
    waiting_for_input: bool | None = None
    interaction_status: str | None = None


class ToolCall(WireStruct):
    function_calls: list[FunctionCall] | None = None


class ToolCallCancellation(WireStruct):
    ids: list[str] | None = None


class ModalityTokenCount(WireStruct):
    modality: str | None = None
    token_count: int | None = None


class UsageMetadata(WireStruct):
    """Token counts, under the Gemini API names and the Vertex names (PROTOCOL.md 4)."""

    prompt_token_count: int | None = None
    cached_content_token_count: int | None = None
    response_token_count: int | None = None
    candidates_token_count: int | None = None
    tool_use_prompt_token_count: int | None = None
    thoughts_token_count: int | None = None
    total_token_count: int | None = None
    prompt_tokens_details: list[ModalityTokenCount] | None = None
    cache_tokens_details: list[ModalityTokenCount] | None = None
    response_tokens_details: list[ModalityTokenCount] | None = None
    candidates_tokens_details: list[ModalityTokenCount] | None = None
    tool_use_prompt_tokens_details: list[ModalityTokenCount] | None = None
    traffic_type: str | None = None
    service_tier: str | None = None


class GoAway(WireStruct):
    time_left: Duration | None = None


class SessionResumptionUpdate(WireStruct):
    new_handle: str | None = None
    resumable: bool | None = None
    last_consumed_client_message_index: int | None = None


class VoiceActivity(WireStruct):
    """``voiceActivity``. PROTOCOL.md names the kind ``type``; the SDK ``voiceActivityType``."""

    type: str | None = None
    voice_activity_type: str | None = None
    audio_offset: Duration | None = None


class VoiceActivityDetectionSignal(WireStruct):
    vad_signal_type: str | None = None


class ServerMessage(WireStruct):
    """A server frame: any of these keys, several at once (``usageMetadata`` with content)."""

    setup_complete: SetupComplete | None = None
    server_content: ServerContent | None = None
    tool_call: ToolCall | None = None
    tool_call_cancellation: ToolCallCancellation | None = None
    usage_metadata: UsageMetadata | None = None
    go_away: GoAway | None = None
    session_resumption_update: SessionResumptionUpdate | None = None
    voice_activity: VoiceActivity | None = None
    voice_activity_detection_signal: VoiceActivityDetectionSignal | None = None


#: Every wire type, for tests and tools that walk the schema.
WIRE_TYPES: Final[tuple[type[WireStruct], ...]] = tuple(
    obj
    for obj in list(globals().values())
    if isinstance(obj, type) and issubclass(obj, WireStruct) and obj is not WireStruct
)

# --- the codec -----------------------------------------------------------------------------

_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(ServerMessage, strict=False)
_generic_decoder: Final = msgspec.json.Decoder(strict=False)

#: Encode a client Struct to the JSON of one text frame (UTF-8 bytes).
encode: Final = _encoder.encode


def decode_server_message(data: bytes | bytearray | memoryview | str) -> ServerMessage:
    """Decode one server frame (binary or text) into a :class:`ServerMessage`.

    Raises:
        ProtocolError: the frame is not JSON, not an object, or a field has the wrong
            type. Unknown fields never raise.
    """
    try:
        return _decoder.decode(data)
    except msgspec.ValidationError as exc:
        if "Invalid base64" not in str(exc):
            raise ProtocolError(str(exc)) from None
        error = exc
    except msgspec.DecodeError as exc:
        raise ProtocolError(str(exc)) from None
    except RecursionError:
        # msgspec refuses deeply nested JSON with RecursionError; from the server that is
        # a malformed frame like any other (the sans-IO contract: only ProtocolError).
        raise ProtocolError(_TOO_DEEP) from None
    try:
        return _repair_base64(data, error)
    except RecursionError:
        raise ProtocolError(_TOO_DEEP) from None


_TOO_DEEP: Final = "the frame's JSON is nested too deeply"


_PATH_RE: Final = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def _repair_base64(data: bytes | bytearray | memoryview | str, exc: Exception) -> ServerMessage:
    """Accept URL-safe and unpadded base64 (PROTOCOL.md 2), off the hot path.

    msgspec decodes only the padded standard alphabet. When it refuses a field, the error
    names the field's exact path: re-encode just that string in the standard alphabet and
    try again, once per offending field.
    """
    obj = _generic_decoder.decode(data)
    for _ in range(10_000):  # bounded: one pass per repaired field
        message = str(exc)
        _, _, path = message.rpartition(" - at `$")
        parent: Any = obj
        keys = [m.group(1) if m.group(1) is not None else int(m.group(2))
                for m in _PATH_RE.finditer(path.rstrip("`"))]
        try:
            for key in keys[:-1]:
                parent = parent[key]
            value = parent[keys[-1]]
            padded = value + "=" * (-len(value) % 4)
            raw = base64.b64decode(padded, altchars=b"-_", validate=True)
            parent[keys[-1]] = base64.b64encode(raw).decode()
        except (KeyError, IndexError, TypeError, ValueError, binascii.Error):
            raise ProtocolError(message) from None
        try:
            return msgspec.convert(obj, ServerMessage, strict=False)
        except msgspec.ValidationError as again:
            if "Invalid base64" not in str(again):
                raise ProtocolError(str(again)) from None
            exc = again
    raise ProtocolError("too many malformed base64 fields")  # pragma: no cover


def parse_duration(value: Duration | None) -> float | None:
    """Seconds in a protobuf Duration (``"50s"``, ``"1.5s"``, ``"-0.5s"``) or a number.

    Returns ``None`` for ``None``. Raises :class:`ProtocolError` for anything else.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = value.strip()
        if text.endswith("s"):
            text = text[:-1]
        try:
            seconds = float(text)
        except ValueError:
            raise ProtocolError(f"invalid Duration {value!r}") from None
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ProtocolError(f"invalid Duration {value!r}")
    return seconds
