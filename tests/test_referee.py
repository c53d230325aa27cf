"""The referee: every client frame we produce passes the official SDK's strict schema.

``google.genai.types.LiveClientMessage`` (google-genai, test-only) is a pydantic model with
camelCase aliases and ``extra='forbid'``: a misspelt or misplaced field fails validation. The
SDK also *warns* when a value is not one of an enum's members, so warnings are errors here.
Beyond acceptance, the SDK's reading of each frame must be our message, field for field (a
field the SDK would read differently, or drop, fails too).
"""

from __future__ import annotations

import datetime
import enum
import json
import warnings
from typing import Any

import msgspec
import pydantic
import pytest
from google.genai import types
from hypothesis import HealthCheck, given, settings

from trio_gemini_live import _wire as w
from trio_gemini_live._config import LiveConfig, encode_setup

from .strategies import CLIENT_ENUM_LISTS, CLIENT_ENUMS, audio_blobs, client_messages

#: Setup fields the API takes that the SDK's ``LiveClientSetup`` model lacks. Each is
#: stripped before validation, and the test below fails if the SDK gains or loses one.
#:
#: * ``realtimeInputConfig``: PROTOCOL.md 3.1. The SDK itself sends it (its converter
#:   ``_LiveConnectConfig_to_mldev`` moves ``LiveConnectConfig.realtime_input_config`` to
#:   ``setup.realtimeInputConfig``), but ``types.LiveClientSetup`` has no such field.
SDK_MISSING_SETUP_FIELDS: dict[str, str] = {
    "realtimeInputConfig": "sent by the SDK's converter, absent from types.LiveClientSetup",
}

PCM = bytes(range(256)) * 2  # every byte value; the base64 has '+' and '/'
JPEG = b"\xff\xd8\xff\xe0" + bytes(60) + b"\xff\xd9"


def referee(frame: bytes) -> types.LiveClientMessage:
    """Validate ``frame`` with the SDK, warnings as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return types.LiveClientMessage.model_validate_json(frame)


def assert_sdk_reads_it_as_we_wrote_it(frame: bytes, parsed: types.LiveClientMessage) -> None:
    """The SDK's model of the frame holds exactly our values (bytes as bytes)."""
    ours = msgspec.json.decode(frame, type=w.ClientMessage)
    expected = msgspec.to_builtins(ours, builtin_types=(bytes, datetime.datetime))
    got = parsed.model_dump(by_alias=True, exclude_none=True, mode="python")
    assert _plain(got) == _plain(expected)


def _plain(value: Any) -> Any:
    """Enums to their values and numbers to floats, so that a dump compares with ours.

    Numbers: JSON has one number type and the SDK types some integer fields as ``float``
    (``generationConfig.topK``), so it reads ``9007199254740993`` as ``9007199254740992.0``.
    """
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def check(message: w.ClientMessage) -> None:
    frame = w.encode(message)
    assert_sdk_reads_it_as_we_wrote_it(frame, referee(frame))


# --- setup with every field set ------------------------------------------------------------

FULL_SCHEMA = w.Schema(
    type="OBJECT",
    format="custom",
    title="Weather query",
    description="Where and how",
    nullable=False,
    enum=["a", "b"],
    items=w.Schema(type="STRING"),
    max_items=3,
    min_items=1,
    properties={"city": w.Schema(type="STRING"), "days": w.Schema(type="INTEGER")},
    required=["city"],
    property_ordering=["city", "days"],
    min_properties=1,
    max_properties=2,
    min_length=1,
    max_length=20,
    pattern="^[A-Z]",
    minimum=0.0,
    maximum=10.5,
    any_of=[w.Schema(type="STRING"), w.Schema(type="NULL")],
    default={"city": "Paris"},
    example={"city": "Lyon", "days": 2},
    additional_properties=False,
    defs={"Day": w.Schema(type="INTEGER")},
    ref="#/defs/Day",
)

VOICE = w.VoiceConfig(
    prebuilt_voice_config=w.PrebuiltVoiceConfig(voice_name="Puck"),
    replicated_voice_config=w.ReplicatedVoiceConfig(
        mime_type="audio/pcm;rate=24000", voice_sample_audio=b"\x00\x01" * 8,
        consent_audio=b"\x02\x03" * 8,
        voice_consent_signature=w.VoiceConsentSignature(signature="sig-1"),
    ),
    voice="custom-voice",
)

FULL_SETUP = w.Setup(
    model="models/gemini-2.5-flash-native-audio-preview-12-2025",
    generation_config=w.GenerationConfig(
        candidate_count=1,
        max_output_tokens=1024,
        temperature=0.8,
        top_p=0.95,
        top_k=40,
        presence_penalty=0.0,
        frequency_penalty=0.5,
        seed=7,
        response_modalities=["AUDIO"],
        speech_config=w.SpeechConfig(
            voice_config=VOICE,
            multi_speaker_voice_config=w.MultiSpeakerVoiceConfig(speaker_voice_configs=[
                w.SpeakerVoiceConfig(speaker="Joe", voice_config=VOICE),
                w.SpeakerVoiceConfig(speaker="Jane", voice_config=w.VoiceConfig(
                    prebuilt_voice_config=w.PrebuiltVoiceConfig(voice_name="Kore"))),
            ]),
            language_code="en-US",
        ),
        media_resolution="MEDIA_RESOLUTION_LOW",
        thinking_config=w.ThinkingConfig(
            include_thoughts=False, thinking_budget=0, thinking_level="XHIGH"
        ),
        enable_affective_dialog=True,
        translation_config=w.TranslationConfig(
            target_language_code="fr-FR", echo_target_language=False
        ),
    ),
    system_instruction=w.Content(role="user", parts=[w.Part(text="You are helpful.")]),
    tools=[
        w.Tool(function_declarations=[
            w.FunctionDeclaration(
                name="get_weather",
                description="The weather in a city",
                parameters=FULL_SCHEMA,
                parameters_json_schema={"type": "object", "properties": {"x": {}}},
                response=w.Schema(type="OBJECT"),
                response_json_schema={"type": "object"},
                behavior="NON_BLOCKING",
            )
        ]),
        w.Tool(google_search=w.GoogleSearch(
            search_types=w.SearchTypes(web_search=w.WebSearch(), image_search=w.ImageSearch()),
            time_range_filter=w.Interval(
                start_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
                end_time=datetime.datetime(2026, 3, 1, 12, 30, tzinfo=datetime.UTC),
            ),
            exclude_domains=["example.com"],
            blocking_confidence="BLOCK_MEDIUM_AND_ABOVE",
        )),
        w.Tool(code_execution=w.CodeExecution()),
        w.Tool(url_context=w.UrlContext()),
        w.Tool(google_maps=w.GoogleMaps(
            enable_widget=True,
            grounding_types=w.GoogleMapsGroundingTypes(
                places=w.GoogleMapsPlaces(), routing=w.GoogleMapsRouting()),
        )),
        w.Tool(file_search=w.FileSearch(
            file_search_store_names=["fileSearchStores/s1"], top_k=5,
            metadata_filter="year > 2020",
        )),
    ],
    realtime_input_config=w.RealtimeInputConfig(
        automatic_activity_detection=w.AutomaticActivityDetection(
            disabled=False,
            start_of_speech_sensitivity="START_SENSITIVITY_HIGH",
            end_of_speech_sensitivity="END_SENSITIVITY_LOW",
            prefix_padding_ms=20,
            silence_duration_ms=500,
        ),
        activity_handling="START_OF_ACTIVITY_INTERRUPTS",
        turn_coverage="TURN_INCLUDES_ONLY_ACTIVITY",
        interim_transcript_timestamp_enabled=True,
    ),
    session_resumption=w.SessionResumptionConfig(handle="h-123", transparent=True),
    context_window_compression=w.ContextWindowCompression(
        trigger_tokens=25600, sliding_window=w.SlidingWindow(target_tokens=12800)
    ),
    input_audio_transcription=w.AudioTranscriptionConfig(
        language_codes=["en-US"],
        language_auto=w.LanguageAuto(),
        language_hints=w.LanguageHints(language_codes=["en-US", "es-ES"]),
        custom_vocabulary=["Trio", "msgspec"],
        adaptation_phrases=["open a nursery"],
        word_timestamp=True,
        diarization=True,
        mode="VERBATIM",
        source_text="What the user reads aloud",
    ),
    output_audio_transcription=w.AudioTranscriptionConfig(language_codes=["fr-FR", "en-US"]),
    proactivity=w.Proactivity(proactive_audio=True, proactive_video=True),
    history_config=w.HistoryConfig(initial_history_in_client_content=True),
    explicit_vad_signal=True,
    safety_settings=[
        w.SafetySetting(category="HARM_CATEGORY_HARASSMENT", threshold="BLOCK_ONLY_HIGH",
                        method="SEVERITY"),
        w.SafetySetting(category="HARM_CATEGORY_DANGEROUS_CONTENT", threshold="OFF"),
    ],
    avatar_config=w.AvatarConfig(
        avatar_name="Ava",
        customized_avatar=w.CustomizedAvatar(image_mime_type="image/png", image_data=b"\x89P"),
        audio_bitrate_bps=64000,
        video_bitrate_bps=1_000_000,
    ),
    labels={"safety_identifier": "user_session_123"},
)

#: Types whose every field FULL_SETUP sets (Content, Part and Tool are one-ofs).
_COMPLETE_TYPES = {
    w.Setup, w.GenerationConfig, w.SpeechConfig, w.PrebuiltVoiceConfig,
    w.ThinkingConfig, w.FunctionDeclaration, w.RealtimeInputConfig,
    w.AutomaticActivityDetection, w.SessionResumptionConfig, w.ContextWindowCompression,
    w.SlidingWindow, w.Proactivity, w.HistoryConfig, w.ReplicatedVoiceConfig,
    w.VoiceConsentSignature, w.MultiSpeakerVoiceConfig, w.SpeakerVoiceConfig,
    w.TranslationConfig, w.SearchTypes, w.Interval, w.GoogleSearch, w.GoogleMaps,
    w.GoogleMapsGroundingTypes, w.FileSearch, w.LanguageHints,
    w.AvatarConfig, w.CustomizedAvatar,
}
#: Complete in at least one place of FULL_SETUP (the other places set a subset on purpose).
_COMPLETE_SOMEWHERE = {w.VoiceConfig, w.AudioTranscriptionConfig, w.SafetySetting}


def _unset(value: Any, path: str = "setup") -> list[str]:
    """Paths of fields left ``None`` in structs of the complete types."""
    missing: list[str] = []
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            item = getattr(value, name)
            if item is None and type(value) in _COMPLETE_TYPES:
                missing.append(f"{path}.{name}")
            missing += _unset(item, f"{path}.{name}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            missing += _unset(item, f"{path}[{i}]")
    return missing


def _instances(value: Any, cls: type) -> list[Any]:
    found = [value] if isinstance(value, cls) else []
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            found += _instances(getattr(value, name), cls)
    elif isinstance(value, list):
        for item in value:
            found += _instances(item, cls)
    return found


def test_full_setup_sets_every_field() -> None:
    assert _unset(FULL_SETUP) == []
    for cls in _COMPLETE_SOMEWHERE:
        assert any(
            all(getattr(obj, n) is not None for n in cls.__struct_fields__)
            for obj in _instances(FULL_SETUP, cls)
        ), cls
    # The top-level function schema sets every Schema field.
    assert [n for n in FULL_SCHEMA.__struct_fields__ if getattr(FULL_SCHEMA, n) is None] == []
    # Every built-in tool and the declarations appear in some Tool entry.
    tools = FULL_SETUP.tools or []
    for name in w.Tool.__struct_fields__:
        assert any(getattr(tool, name) is not None for tool in tools), name


def test_full_setup_passes_the_referee_once_documented_gaps_are_stripped() -> None:
    frame = w.encode(w.ClientMessage(setup=FULL_SETUP))
    obj = json.loads(frame)
    stripped = {name: obj["setup"].pop(name) for name in SDK_MISSING_SETUP_FIELDS}
    assert all(stripped.values())
    parsed = referee(json.dumps(obj).encode())
    # What the SDK read is exactly what we sent, minus the stripped fields.
    without = msgspec.structs.replace(
        FULL_SETUP,
        **{_snake(name): None for name in SDK_MISSING_SETUP_FIELDS},
    )
    assert_sdk_reads_it_as_we_wrote_it(w.encode(w.ClientMessage(setup=without)), parsed)


def test_documented_gaps_are_exactly_the_sdk_gaps() -> None:
    """Fails when the SDK gains a documented field or loses another one."""
    frame = json.loads(w.encode(w.ClientMessage(setup=FULL_SETUP)))
    with pytest.raises(pydantic.ValidationError) as info:
        referee(json.dumps(frame).encode())
    rejected = {".".join(str(p) for p in error["loc"]) for error in info.value.errors()}
    assert {error["type"] for error in info.value.errors()} == {"extra_forbidden"}
    assert rejected == {f"setup.{name}" for name in SDK_MISSING_SETUP_FIELDS}
    # And by name: our Setup fields the SDK model has no alias for.
    sdk_aliases = {f.alias for f in types.LiveClientSetup.model_fields.values()}
    ours = {f.encode_name for f in msgspec.structs.fields(w.Setup)}
    assert ours - sdk_aliases == set(SDK_MISSING_SETUP_FIELDS)


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


# --- realtime input, every kind (PROTOCOL.md 3.3) ------------------------------------------

REALTIME_INPUTS = {
    "audio": w.RealtimeInput(audio=w.Blob(mime_type="audio/pcm;rate=16000", data=PCM)),
    "video": w.RealtimeInput(video=w.Blob(mime_type="image/jpeg", data=JPEG)),
    "text": w.RealtimeInput(text="typed input"),
    "activityStart": w.RealtimeInput(activity_start=w.ActivityStart()),
    "activityEnd": w.RealtimeInput(activity_end=w.ActivityEnd()),
    "audioStreamEnd": w.RealtimeInput(audio_stream_end=True),
    "mediaChunks": w.RealtimeInput(
        media_chunks=[w.Blob(mime_type="audio/pcm;rate=16000", data=PCM)]
    ),
}


@pytest.mark.parametrize("kind", sorted(REALTIME_INPUTS))
def test_every_realtime_input_kind(kind: str) -> None:
    message = w.ClientMessage(realtime_input=REALTIME_INPUTS[kind])
    assert list(json.loads(w.encode(message))["realtimeInput"]) == [kind]
    check(message)


def test_realtime_input_kinds_cover_the_struct() -> None:
    assert {f.encode_name for f in msgspec.structs.fields(w.RealtimeInput)} == set(
        REALTIME_INPUTS
    )


# --- client content: every part kind (PROTOCOL.md 3.2) -------------------------------------

PARTS = {
    "text": w.Part(text="Hello"),
    "inlineData": w.Part(inline_data=w.Blob(mime_type="image/png", data=JPEG)),
    "thought": w.Part(text="thinking...", thought=True, thought_signature=b"\x01\xfe\xff"),
    "executableCode": w.Part(
        executable_code=w.ExecutableCode(language="PYTHON", code="print(1)", id="c1")
    ),
    "codeExecutionResult": w.Part(
        code_execution_result=w.CodeExecutionResult(outcome="OUTCOME_OK", output="1\n", id="c1")
    ),
    "fileData": w.Part(file_data=w.FileData(mime_type="video/mp4", file_uri="gs://b/v.mp4"),
                       video_metadata=w.VideoMetadata(start_offset="1s", fps=0.5),
                       media_resolution=w.PartMediaResolution(num_tokens=64),
                       media_processing="STATIC"),
    "toolCall": w.Part(tool_call=w.BuiltinToolCall(id="t1", tool_type="GOOGLE_SEARCH_WEB",
                                                   args={"q": "trio"})),
    "toolResponse": w.Part(tool_response=w.BuiltinToolResponse(
        id="t1", tool_type="GOOGLE_SEARCH_WEB", response={"results": []})),
    "audioTranscription": w.Part(audio_transcription=w.Transcription(
        text="hi", finished=True, language_code="en-US", speaker_label="spk_1",
        words=[w.WordInfo(word="hi", start_offset="0s", end_offset="0.2s")],
        start_offset="0s", end_offset="0.2s")),
    "speechMetadata": w.Part(text="Hello", speech_metadata=w.SpeechMetadata(
        speaker="Joe", style="calm")),
    "documentMetadata": w.Part(file_data=w.FileData(file_uri="gs://b/d.pdf"),
                               document_metadata=w.DocumentMetadata(start_page=2)),
    "spreadsheetMetadata": w.Part(file_data=w.FileData(file_uri="gs://b/s.csv"),
                                  spreadsheet_metadata=w.SpreadsheetMetadata(sheet_index=1)),
    "audioMetadata": w.Part(file_data=w.FileData(file_uri="gs://b/a.wav"),
                            audio_metadata=w.AudioMetadata(end_offset="3s")),
    "partMetadata": w.Part(text="x", part_metadata={"source": "history"}),
}


@pytest.mark.parametrize("kind", sorted(PARTS))
@pytest.mark.parametrize("turn_complete", [True, False])
def test_client_content_parts(kind: str, turn_complete: bool) -> None:
    check(w.ClientMessage(client_content=w.ClientContent(
        turns=[w.Content(role="user", parts=[PARTS[kind]])], turn_complete=turn_complete,
    )))


def test_client_content_history_with_every_part() -> None:
    check(w.ClientMessage(client_content=w.ClientContent(turns=[
        w.Content(role="user", parts=list(PARTS.values())),
        w.Content(role="model", parts=[w.Part(text="Hi")]),
    ], turn_complete=True)))


# --- tool responses (PROTOCOL.md 3.4) ------------------------------------------------------


@pytest.mark.parametrize(
    "scheduling", ["SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT", None]
)
@pytest.mark.parametrize("will_continue", [True, False, None])
def test_tool_response(scheduling: Any, will_continue: bool | None) -> None:
    check(w.ClientMessage(tool_response=w.ToolResponse(function_responses=[
        w.FunctionResponse(
            id="fc_1",
            name="get_weather",
            response={"output": {"temp": 21, "sky": ["clear", None], "ok": True}},
            scheduling=scheduling,
            will_continue=will_continue,
        ),
        w.FunctionResponse(id="fc_2", name="fail", response={"error": "boom"}),
    ])))


def test_context_update() -> None:
    check(w.ClientMessage(context_update=w.ContextUpdate(
        system_instruction=w.Content(parts=[w.Part(text="Be brief.")])
    )))


def test_context_update_tools_have_the_sdk_shape() -> None:
    # PROTOCOL.md 3.5 and SDK 3.6's send_context_update: {"tools": {"tools": [...]}}.
    message = w.ClientMessage(context_update=w.ContextUpdate(
        system_instruction=w.Content(parts=[w.Part(text="You are now a billing expert.")]),
        tools=w.ContextUpdateTools(tools=[
            w.Tool(function_declarations=[w.FunctionDeclaration(name="refund")]),
            w.Tool(google_search=w.GoogleSearch()),
        ]),
    ))
    assert json.loads(w.encode(message)) == {"contextUpdate": {
        "systemInstruction": {"parts": [{"text": "You are now a billing expert."}]},
        "tools": {"tools": [{"functionDeclarations": [{"name": "refund"}]},
                            {"googleSearch": {}}]},
    }}
    check(message)
    # "tools": {"tools": []} removes every tool.
    cleared = w.ClientMessage(context_update=w.ContextUpdate(tools=w.ContextUpdateTools(
        tools=[])))
    assert json.loads(w.encode(cleared)) == {"contextUpdate": {"tools": {"tools": []}}}
    check(cleared)


def test_multimodal_tool_result() -> None:
    check(w.ClientMessage(tool_response=w.ToolResponse(function_responses=[
        w.FunctionResponse(
            id="fc_1", name="snapshot", response={"output": "here is the picture"},
            parts=[
                w.FunctionResponsePart(
                    inline_data=w.Blob(mime_type="image/jpeg", data=JPEG, display_name="cam"),
                    media_resolution=w.PartMediaResolution(level="MEDIA_RESOLUTION_HIGH"),
                ),
                w.FunctionResponsePart(
                    file_data=w.FileData(mime_type="video/mp4", file_uri="gs://b/v.mp4"),
                    media_processing="AGENTIC",
                    video_metadata=w.VideoMetadata(start_offset="1s", end_offset="2.5s",
                                                   fps=1.0, content_layers=["FRAMES"]),
                ),
                w.FunctionResponsePart(
                    file_data=w.FileData(mime_type="application/pdf", file_uri="gs://b/d"),
                    document_metadata=w.DocumentMetadata(start_page=1, end_page=2,
                                                         content_layers=["PAGE_TEXT"]),
                ),
                w.FunctionResponsePart(
                    file_data=w.FileData(mime_type="text/csv", file_uri="gs://b/s"),
                    spreadsheet_metadata=w.SpreadsheetMetadata(
                        visible_cells="A1:B2", sheet_index=0, content_layers=["DATA"]),
                ),
                w.FunctionResponsePart(
                    inline_data=w.Blob(mime_type="audio/pcm;rate=16000", data=PCM),
                    audio_metadata=w.AudioMetadata(start_offset="0s", end_offset="0.5s"),
                ),
            ],
        ),
    ])))


# --- LiveConfig(extra=...): the escape hatch, checked by the SDK (issue 13) ------------------

#: SDK 3.6.1 setup fields this library does not type, as a user would send them.
EXTRA = {
    "generationConfig": {
        "responseMimeType": "text/plain",
        "stopSequences": ["STOP"],
        "audioTimestamp": True,
        "enableEnhancedCivicAnswers": False,
        "modelSelectionConfig": {"featureSelectionPreference": "BALANCED"},
        "speechConfig": {"languageCode": "de-DE"},
    },
    "tools": [
        {"enterpriseWebSearch": {"excludeDomains": ["example.com"]}},
        {"computerUse": {"environment": "ENVIRONMENT_BROWSER"}},
        {"googleSearchRetrieval": {"dynamicRetrievalConfig": {"mode": "MODE_DYNAMIC",
                                                             "dynamicThreshold": 0.5}}},
        {"retrieval": {"vertexAiSearch": {"datastore": "projects/p/datastores/d"}}},
    ],
    "inputAudioTranscription": {"languageCodes": ["de-DE"]},
    "contextWindowCompression": {"triggerTokens": 1000},
}


def test_extra_merged_into_the_setup_passes_the_referee() -> None:
    config = LiveConfig(
        response_modalities=["AUDIO"], voice="Puck", tools=[{"google_search": {}}],
        input_audio_transcription={}, system_instruction="Be brief.", extra=EXTRA,
    )
    frame = encode_setup(config.to_setup("models/gemini-3.1-flash-live-preview"), config.extra)
    parsed = referee(frame)
    setup = parsed.setup
    assert setup is not None
    # The typed fields are kept, the extra ones are added.
    assert setup.generation_config is not None
    assert setup.generation_config.response_modalities == [types.Modality.AUDIO]
    assert setup.generation_config.response_mime_type == "text/plain"
    assert setup.generation_config.stop_sequences == ["STOP"]
    speech = setup.generation_config.speech_config
    assert isinstance(speech, types.SpeechConfig)
    assert speech.language_code == "de-DE"
    assert speech.voice_config is not None
    assert speech.voice_config.prebuilt_voice_config is not None
    assert speech.voice_config.prebuilt_voice_config.voice_name == "Puck"
    assert setup.tools is not None
    assert [next(iter(t.model_dump(exclude_none=True))) for t in setup.tools] == [
        "google_search", "enterprise_web_search", "computer_use", "google_search_retrieval",
        "retrieval",
    ]
    assert setup.input_audio_transcription is not None
    assert setup.input_audio_transcription.language_codes == ["de-DE"]
    assert setup.context_window_compression is not None
    assert setup.context_window_compression.trigger_tokens == 1000
    assert setup.system_instruction is not None


def test_encode_setup_without_extra_is_the_plain_encoding() -> None:
    setup = w.Setup(model="models/m", tools=[w.Tool(url_context=w.UrlContext())])
    assert encode_setup(setup) == w.encode(w.ClientMessage(setup=setup))
    assert encode_setup(setup, {}) == w.encode(w.ClientMessage(setup=setup))


def test_strategy_enums_are_the_sdk_enums() -> None:
    sdk: dict[tuple[type, str], type[enum.Enum]] = {
        (w.ExecutableCode, "language"): types.Language,
        (w.CodeExecutionResult, "outcome"): types.Outcome,
        (w.PartMediaResolution, "level"): types.PartMediaResolutionLevel,
        (w.Part, "media_processing"): types.MediaProcessing,
        (w.FunctionResponsePart, "media_processing"): types.MediaProcessing,
        (w.BuiltinToolCall, "tool_type"): types.ToolType,
        (w.BuiltinToolResponse, "tool_type"): types.ToolType,
        (w.VideoMetadata, "content_layers"): types.VideoMetadataContentLayer,
        (w.DocumentMetadata, "content_layers"): types.DocumentMetadataContentLayer,
        (w.SpreadsheetMetadata, "content_layers"): types.SpreadsheetMetadataContentLayer,
    }
    for key, members in sdk.items():
        ours = CLIENT_ENUMS.get(key) or CLIENT_ENUM_LISTS[key]
        assert ours == tuple(e.value for e in members), key
    assert CLIENT_ENUMS[(w.PartialArg, "null_value")] == ("NULL_VALUE",)


def test_our_literals_are_sdk_enum_values() -> None:
    """Every Literal a client may send names a member of the SDK's matching enum."""
    pairs: dict[str, type[enum.Enum]] = {
        "Modality": types.Modality, "MediaResolution": types.MediaResolution,
        "ThinkingLevel": types.ThinkingLevel, "SchemaType": types.Type,
        "Behavior": types.Behavior, "Scheduling": types.FunctionResponseScheduling,
        "StartSensitivity": types.StartSensitivity, "EndSensitivity": types.EndSensitivity,
        "ActivityHandling": types.ActivityHandling, "TurnCoverage": types.TurnCoverage,
        "TranscriptionMode": types.AudioTranscriptionConfigMode,
        "HarmCategory": types.HarmCategory, "HarmBlockMethod": types.HarmBlockMethod,
        "HarmBlockThreshold": types.HarmBlockThreshold,
        "PhishBlockThreshold": types.PhishBlockThreshold,
    }
    for alias, members in pairs.items():
        values = set(getattr(w, alias).__args__)
        assert values <= {e.value for e in members}, alias


# --- random valid client messages ----------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(client_messages())
def test_random_client_messages_pass_the_referee(message: w.ClientMessage) -> None:
    frame = w.encode(message)
    setup = message.setup
    if setup is not None and setup.realtime_input_config is not None:
        # The documented gap, stripped as above.
        frame = w.encode(
            w.ClientMessage(setup=msgspec.structs.replace(setup, realtime_input_config=None))
        )
    assert_sdk_reads_it_as_we_wrote_it(frame, referee(frame))


@settings(max_examples=50, deadline=None)
@given(audio_blobs)
def test_random_audio_chunks_pass_the_referee(blob: w.Blob) -> None:
    check(w.ClientMessage(realtime_input=w.RealtimeInput(audio=blob)))
