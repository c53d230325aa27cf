"""``LiveConfig``: every setup field of PROTOCOL.md 3.1, structs or dicts, errors up front."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import msgspec
import pytest

from trio_gemini_live import Content, LiveConfig, Part, Tool
from trio_gemini_live import _wire as w
from trio_gemini_live._config import encode_setup, merge_extra, setup_with_extra


def setup_of(config: LiveConfig) -> dict[str, Any]:
    wire: dict[str, Any] = msgspec.to_builtins(config.to_setup("models/m"))
    return wire


def test_every_setup_field_in_snake_case() -> None:
    config = LiveConfig(
        response_modalities=["AUDIO"],
        voice="Puck",
        temperature=0.5,
        top_p=0.9,
        top_k=40,
        max_output_tokens=100,
        candidate_count=1,
        presence_penalty=0.25,
        frequency_penalty=0.5,
        seed=7,
        media_resolution="MEDIA_RESOLUTION_LOW",
        thinking_config={"thinking_budget": 0},
        enable_affective_dialog=True,
        system_instruction="Be brief.",
        tools=[{"google_search": {}}],
        realtime_input_config={"automatic_activity_detection": {"silence_duration_ms": 300}},
        session_resumption={},
        context_window_compression={"sliding_window": {"target_tokens": 1000}},
        input_audio_transcription={},
        output_audio_transcription={},
        proactivity={"proactive_audio": True},
        history_config={"initial_history_in_client_content": True},
        explicit_vad_signal=True,  # Vertex-only (PROTOCOL.md 3.1): hence vertex=True below
    )
    # The whole setup: a field left out or misnamed shows up here.
    setup: dict[str, Any] = msgspec.to_builtins(config.to_setup("models/m", vertex=True))
    assert setup == {
        "model": "models/m",
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Puck"}}},
            "temperature": 0.5,
            "topP": 0.9,
            "topK": 40,
            "maxOutputTokens": 100,
            "candidateCount": 1,
            "presencePenalty": 0.25,
            "frequencyPenalty": 0.5,
            "seed": 7,
            "mediaResolution": "MEDIA_RESOLUTION_LOW",
            "thinkingConfig": {"thinkingBudget": 0},
            "enableAffectiveDialog": True,
        },
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": [{"googleSearch": {}}],
        "realtimeInputConfig": {"automaticActivityDetection": {"silenceDurationMs": 300}},
        "sessionResumption": {},
        "contextWindowCompression": {"slidingWindow": {"targetTokens": 1000}},
        "inputAudioTranscription": {},
        "outputAudioTranscription": {},
        "proactivity": {"proactiveAudio": True},
        "historyConfig": {"initialHistoryInClientContent": True},
        "explicitVadSignal": True,
    }
    assert config.response_modalities == ["AUDIO"]


def test_structs_and_dicts_are_equivalent() -> None:
    as_dicts = LiveConfig(
        system_instruction={"parts": [{"text": "hi"}]},
        tools=[{"function_declarations": [{"name": "f", "parameters": {"type": "OBJECT"}}]}],
    )
    as_structs = LiveConfig(
        system_instruction=Content(parts=[Part(text="hi")]),
        tools=[Tool(function_declarations=[
            w.FunctionDeclaration(name="f", parameters=w.Schema(type="OBJECT"))])],
    )
    assert as_dicts == as_structs
    assert as_dicts.tools is not None
    assert as_dicts.tools[0].function_declarations is not None  # nested snake_case kept


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"bogus": 1}, TypeError, "bogus"),
        ({"session_resumption": {"handel": "x"}}, TypeError, "unknown field 'handel'"),
        ({"tools": [{"function_declarations": [{"nmae": "f"}]}]}, TypeError, "nmae"),
        ({"system_instruction": {"parts": [{"txt": "x"}]}}, TypeError, "txt"),
        ({"temperature": "hot"}, ValueError, "generation_config"),
        ({"response_modalities": "TEXT"}, TypeError, "list"),
        ({"voice": "Puck", "speech_config": {}}, ValueError, "not both"),
        ({"temperature": 1, "generation_config": {"temperature": 1}}, ValueError, "both"),
        ({"session_resumption": {"handle": "h"}}, ValueError, "resume_handle"),
        ({"explicit_vad_signal": "yes"}, TypeError, "bool"),
        ({"tools": {"google_search": {}}}, TypeError, "list"),
        ({"realtime_input_config": 5}, TypeError, "RealtimeInputConfig"),
    ],
)
def test_invalid_config_raises(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        LiveConfig(**kwargs)


def test_repr_shows_only_set_fields() -> None:
    assert repr(LiveConfig()) == "LiveConfig()"
    assert "session_resumption" in repr(LiveConfig(session_resumption={}))


# --- the new typed fields (issue 13) ---------------------------------------------------------


def test_new_typed_fields() -> None:
    config = LiveConfig(
        response_modalities=["AUDIO", "VIDEO"],
        speech_config={
            "multi_speaker_voice_config": {"speaker_voice_configs": [
                {"speaker": "Joe", "voice_config": {"prebuilt_voice_config": {
                    "voice_name": "Kore"}}},
                {"speaker": "Jane", "voice_config": {"replicated_voice_config": {
                    "mime_type": "audio/pcm;rate=24000", "voice_sample_audio": b"\x00\x01"}}},
            ]},
        },
        thinking_config={"thinking_level": "XHIGH"},
        translation_config={"target_language_code": "fr-FR"},
        tools=[
            {"google_search": {"search_types": {"web_search": {}, "image_search": {}}}},
            {"google_maps": {"enable_widget": True}},
            {"file_search": {"file_search_store_names": ["fileSearchStores/a"]}},
        ],
        realtime_input_config={"interim_transcript_timestamp_enabled": True},
        input_audio_transcription={
            "language_hints": {"language_codes": ["en-US"]}, "language_auto": {},
            "custom_vocabulary": ["Trio"], "word_timestamp": True, "diarization": True,
        },
        proactivity={"proactive_video": True},
        safety_settings=[{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        avatar_config={"avatar_name": "Ava"},
        labels={"safety_identifier": "user-1"},
    )
    setup = setup_of(config)
    assert setup["generationConfig"]["responseModalities"] == ["AUDIO", "VIDEO"]
    assert setup["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "XHIGH"}
    assert setup["generationConfig"]["translationConfig"] == {"targetLanguageCode": "fr-FR"}
    speakers = setup["generationConfig"]["speechConfig"]["multiSpeakerVoiceConfig"]
    assert speakers["speakerVoiceConfigs"][1]["voiceConfig"]["replicatedVoiceConfig"] == {
        "mimeType": "audio/pcm;rate=24000", "voiceSampleAudio": "AAE="}
    assert setup["tools"] == [
        {"googleSearch": {"searchTypes": {"webSearch": {}, "imageSearch": {}}}},
        {"googleMaps": {"enableWidget": True}},
        {"fileSearch": {"fileSearchStoreNames": ["fileSearchStores/a"]}},
    ]
    assert setup["realtimeInputConfig"] == {"interimTranscriptTimestampEnabled": True}
    assert setup["inputAudioTranscription"] == {
        "languageHints": {"languageCodes": ["en-US"]}, "languageAuto": {},
        "customVocabulary": ["Trio"], "wordTimestamp": True, "diarization": True,
    }
    assert setup["proactivity"] == {"proactiveVideo": True}
    assert setup["safetySettings"] == [
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    assert setup["avatarConfig"] == {"avatarName": "Ava"}
    assert setup["labels"] == {"safety_identifier": "user-1"}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"thinking_config": {"thinking_level": "ULTRA"}}, ValueError, "thinkingLevel"),
        ({"safety_settings": {"category": "x"}}, TypeError, "list"),
        ({"safety_settings": [{"category": "HARM_CATEGORY_NOPE"}]}, ValueError,
         "safety_settings"),
        ({"labels": {"a": 1}}, TypeError, "labels"),
        ({"labels": ["a"]}, TypeError, "labels"),
        ({"input_audio_transcription": {"mode": "LOUD"}}, ValueError, "mode"),
    ],
)
def test_invalid_new_fields(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        LiveConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "vertex", "match"),
    [
        ({"labels": {"a": "b"}}, True, r"setup\.labels: Gemini-API-only"),
        ({"tools": [{"file_search": {}}]}, True, r"setup\.tools\[0\]\.fileSearch"),
        ({"translation_config": {"target_language_code": "de"}}, True, "translationConfig"),
        ({"speech_config": {"voice_config": {"replicated_voice_config": {
            "consent_audio": b"x"}}}}, True, "consentAudio"),
        ({"safety_settings": [{"method": "SEVERITY"}]}, False, "Vertex-AI-only"),
        ({"tools": [{"google_search": {"exclude_domains": ["a.com"]}}]}, False,
         "excludeDomains"),
        ({"tools": [{"google_maps": {"grounding_types": {"places": {}}}}]}, False,
         "groundingTypes"),
        ({"explicit_vad_signal": True}, False, "explicitVadSignal"),
    ],
)
def test_fields_of_the_other_backend_are_refused(kwargs: dict[str, Any], vertex: bool,
                                                 match: str) -> None:
    config = LiveConfig(**kwargs)
    with pytest.raises(ValueError, match=match):
        config.to_setup("models/m", vertex=vertex)
    config.to_setup("models/m", vertex=not vertex)  # the right backend takes it


# --- immutability and replace() (issue 11) --------------------------------------------------


def test_a_config_is_immutable() -> None:
    config = LiveConfig(temperature=0.5, tools=[{"google_search": {}}])
    with pytest.raises(AttributeError, match=r"immutable.*replace\(temperature="):
        config.temperature = 0.7  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="immutable"):
        config.tools = None  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del config.tools
    assert isinstance(config.tools, tuple)
    # What a caller passed in is copied: changing it later changes nothing.
    instruction = Content(parts=[Part(text="Be brief.")])
    config = LiveConfig(system_instruction=instruction)
    assert instruction.parts is not None
    instruction.parts.append(Part(text="And rude."))
    assert config.system_instruction == Content(parts=[Part(text="Be brief.")])


def test_copy_deepcopy_and_pickle() -> None:
    config = LiveConfig(temperature=0.5, tools=[{"google_search": {}}], labels={"a": "b"},
                        extra={"generationConfig": {"stopSequences": ["x"]}})
    assert copy.copy(config) == config
    deep = copy.deepcopy(config)
    assert deep == config
    assert deep.tools is not None and config.tools is not None
    assert deep.tools[0] is not config.tools[0]
    assert pickle.loads(pickle.dumps(config)) == config
    with pytest.raises(AttributeError, match="immutable"):
        deep.labels = None  # type: ignore[misc]


def test_replace_gives_a_modified_copy() -> None:
    config = LiveConfig(temperature=0.5, voice="Puck", response_modalities=["AUDIO"],
                        system_instruction="Be brief.", session_resumption={},
                        extra={"generationConfig": {"responseMimeType": "text/plain"}})
    warmer = config.replace(temperature=0.9)
    assert setup_of(warmer)["generationConfig"] == {
        "temperature": 0.9, "responseModalities": ["AUDIO"],
        "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Puck"}}},
    }
    assert warmer.extra == config.extra
    assert warmer.system_instruction == config.system_instruction
    assert setup_of(config)["generationConfig"]["temperature"] == 0.5  # unchanged
    assert config.replace() == config
    assert config.replace() is not config
    other_voice = config.replace(voice="Kore")
    assert setup_of(other_voice)["generationConfig"]["speechConfig"] == {
        "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}}
    no_temperature = config.replace(temperature=None)
    assert "temperature" not in setup_of(no_temperature)["generationConfig"]
    fresh_gen = config.replace(generation_config={"seed": 3})
    assert setup_of(fresh_gen)["generationConfig"] == {"seed": 3}
    assert config.replace(extra=None).extra is None
    assert config.replace(session_resumption=None).session_resumption is None
    with pytest.raises(TypeError):
        config.replace(bogus=1)
    with pytest.raises(ValueError, match="not both"):
        config.replace(voice="Kore", speech_config={})


def test_equality_and_repr_include_extra() -> None:
    a = LiveConfig(extra={"avatarConfig": {"avatarName": "Ava"}})
    b = LiveConfig(extra={"avatarConfig": {"avatarName": "Bob"}})
    assert a != b
    assert a == LiveConfig(extra={"avatarConfig": {"avatarName": "Ava"}})
    assert repr(a) == "LiveConfig(extra={'avatarConfig': {'avatarName': 'Ava'}})"


# --- LiveConfig(extra=...): the escape hatch (issue 13) --------------------------------------


def frame_of(config: LiveConfig, model: str = "models/m") -> dict[str, Any]:
    out: dict[str, Any] = msgspec.json.decode(
        encode_setup(config.to_setup(model), config.extra))["setup"]
    return out


def test_extra_is_deep_merged_and_typed_fields_are_kept() -> None:
    config = LiveConfig(
        temperature=0.5, voice="Puck", tools=[{"google_search": {}}],
        session_resumption={},
        extra={
            "generationConfig": {"responseMimeType": "text/plain",
                                 "speechConfig": {"languageCode": "de-DE"}},
            "tools": [{"enterpriseWebSearch": {}}],
            "sessionResumption": {"transparent": True},
            "brandNewField": {"anything_goes": [1, None]},
        },
    )
    assert frame_of(config) == {
        "model": "models/m",
        "generationConfig": {
            "temperature": 0.5, "responseMimeType": "text/plain",
            "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Puck"}},
                             "languageCode": "de-DE"},
        },
        "tools": [{"googleSearch": {}}, {"enterpriseWebSearch": {}}],
        "sessionResumption": {"transparent": True},
        "brandNewField": {"anything_goes": [1, None]},
    }
    # The tools of open_live_session(tools=...) come before the extra ones too.
    setup = config.to_setup("models/m", [Tool(url_context=w.UrlContext())])
    tools = msgspec.json.decode(encode_setup(setup, config.extra))["setup"]["tools"]
    assert tools == [{"googleSearch": {}}, {"urlContext": {}}, {"enterpriseWebSearch": {}}]


def test_extra_is_copied() -> None:
    extra: dict[str, Any] = {"generationConfig": {"stopSequences": ["a"]}}
    config = LiveConfig(extra=extra)
    extra["generationConfig"]["stopSequences"].append("b")
    assert config.extra == {"generationConfig": {"stopSequences": ["a"]}}
    got = config.extra
    assert got is not None
    got["generationConfig"] = {}
    assert config.extra == {"generationConfig": {"stopSequences": ["a"]}}


def test_extra_is_kept_as_json() -> None:
    config = LiveConfig(tools=[{"url_context": {}}],
                        extra={"tools": ({"enterpriseWebSearch": {}},),
                               "avatarConfig": {"customizedAvatar": {"imageData": b"\x89P"}}})
    assert config.extra == {"tools": [{"enterpriseWebSearch": {}}],
                            "avatarConfig": {"customizedAvatar": {"imageData": "iVA="}}}
    assert frame_of(config)["tools"] == [{"urlContext": {}}, {"enterpriseWebSearch": {}}]


def test_an_equal_value_in_extra_is_no_conflict() -> None:
    config = LiveConfig(temperature=0.5, extra={"generationConfig": {"temperature": 0.5}})
    assert frame_of(config)["generationConfig"] == {"temperature": 0.5}


def test_merge_extra_conflicts_at_encode_time() -> None:
    # What the session adds after the config is built (the history config) conflicts too.
    config = LiveConfig(extra={"historyConfig": {"initialHistoryInClientContent": False}})
    setup = config.to_setup("models/m")
    setup = msgspec.structs.replace(
        setup, history_config=w.HistoryConfig(initial_history_in_client_content=True))
    with pytest.raises(ValueError, match=r"historyConfig\.initialHistoryInClientContent"):
        encode_setup(setup, config.extra)
    base = {"a": {"b": 1}}
    assert merge_extra(base, {"a": {"c": 2}}) == {"a": {"b": 1, "c": 2}}
    assert base == {"a": {"b": 1}}  # not modified
    assert merge_extra(base, None) is base


@pytest.mark.parametrize(
    ("extra", "error", "match"),
    [
        ([("a", 1)], TypeError, "dict of camelCase"),
        ("generationConfig", TypeError, "dict of camelCase"),
        ({"generation_config": {}}, ValueError, "write 'generationConfig'"),
        ({"generationConfig": {"response_mime_type": "x"}}, ValueError,
         r"\['generationConfig'\]\['response_mime_type'\].*responseMimeType"),
        ({"tools": [{"google_search": {}}]}, ValueError, "googleSearch"),
        ({"Model": "x"}, ValueError, "camelCase"),
        ({1: "x"}, TypeError, "keys must be strings"),
        ({"model": "models/other"}, ValueError, r"open_live_session\(model=...\)"),
        ({"sessionResumption": {"handle": "h"}}, ValueError, "resume_handle"),
        ({"sessionResumption": {"handle": None}}, ValueError, "resume_handle"),
        ({"generationConfig": 5}, TypeError, "expected a dict"),
        ({"tools": {"googleSearch": {}}}, TypeError, "expected a list"),
        ({"tools": ["googleSearch"]}, TypeError, "expected a dict"),
        ({"labels": ["a"]}, TypeError, "expected a dict"),
        ({"generationConfig": {"temperature": None}}, ValueError, "leave the key out"),
        ({"generationConfig": {"temperature": 0.9}}, ValueError,
         "would replace the typed setting generationConfig.temperature"),
        ({"systemInstruction": {"parts": [{"text": "other"}]}}, ValueError,
         "would replace"),
        ({"newThing": object()}, TypeError, "JSON"),
    ],
)
def test_bad_extra_is_refused(extra: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        LiveConfig(temperature=0.5, system_instruction="Be brief.", extra=extra)


def test_extra_keys_inside_user_data_are_not_checked() -> None:
    # Map keys and free-form values are the user's: labels, schema property names,
    # JSON schemas, and fields this library does not know.
    config = LiveConfig(extra={
        "labels": {"safety_identifier": "x"},
        "tools": [{"functionDeclarations": [{
            "name": "f", "parametersJsonSchema": {"$defs": {"snake_case": {}}},
            "parameters": {"type": "OBJECT", "properties": {"snake_name": {"type": "STRING"}}},
        }]}],
        "unknownMessage": {"snake_case_inside": 1},
    })
    assert frame_of(config)["labels"] == {"safety_identifier": "x"}


def test_setup_with_extra_is_the_typed_view() -> None:
    setup = w.Setup(model="models/m")
    extra = {"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}},
             "unknownField": 1}
    view = setup_with_extra(setup, extra)
    assert view.generation_config == w.GenerationConfig(
        thinking_config=w.ThinkingConfig(thinking_budget=0))
    assert setup_with_extra(setup, None) is setup
    # A value the typed structs cannot hold (a newer enumeration value): the setup as is.
    newer = {"generationConfig": {"thinkingConfig": {"thinkingLevel": "ULTRA"}}}
    assert setup_with_extra(setup, newer) is setup
