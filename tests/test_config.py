"""``LiveConfig``: every setup field of PROTOCOL.md 3.1, structs or dicts, errors up front."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from trio_gemini_live import Content, LiveConfig, Part, Tool
from trio_gemini_live import _wire as w


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
