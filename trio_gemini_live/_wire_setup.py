"""The parts of the ``setup`` message (PROTOCOL.md 3.1; see ``_wire``).

Generation settings, voices, tools, voice activity detection, transcription, resumption,
compression, safety settings, avatars. ``_wire`` re-exports every name, and code imports
them from there; ``_wire.Setup`` puts them together.
"""

from __future__ import annotations

import datetime
from typing import Any

from ._wire_common import (
    ActivityHandling,
    Behavior,
    EndSensitivity,
    HarmBlockMethod,
    HarmBlockThreshold,
    HarmCategory,
    MediaResolution,
    Modality,
    PhishBlockThreshold,
    SchemaType,
    StartSensitivity,
    ThinkingLevel,
    TranscriptionMode,
    TurnCoverage,
    WireStruct,
)

__all__ = [
    "AudioTranscriptionConfig",
    "AutomaticActivityDetection",
    "AvatarConfig",
    "CodeExecution",
    "ContextWindowCompression",
    "CustomizedAvatar",
    "FileSearch",
    "FunctionDeclaration",
    "GenerationConfig",
    "GoogleMaps",
    "GoogleMapsGroundingTypes",
    "GoogleMapsPlaces",
    "GoogleMapsRouting",
    "GoogleSearch",
    "HistoryConfig",
    "ImageSearch",
    "Interval",
    "LanguageAuto",
    "LanguageHints",
    "MultiSpeakerVoiceConfig",
    "PrebuiltVoiceConfig",
    "Proactivity",
    "RealtimeInputConfig",
    "ReplicatedVoiceConfig",
    "SafetySetting",
    "Schema",
    "SearchTypes",
    "SessionResumptionConfig",
    "SlidingWindow",
    "SpeakerVoiceConfig",
    "SpeechConfig",
    "ThinkingConfig",
    "Tool",
    "TranslationConfig",
    "UrlContext",
    "VoiceConfig",
    "VoiceConsentSignature",
    "WebSearch",
]


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
