"""Golden tests: the server messages of PROTOCOL.md section 4 decode to the documented events.

Each example is the JSON of PROTOCOL.md 4 (``<b64>`` replaced with real base64), decoded by
``_wire.decode_server_message`` + ``_protocol.message_events`` and by ``LiveProtocol.receive``,
from a binary and from a text frame. Events come in the order documented in ``events``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from trio_gemini_live import _wire as w
from trio_gemini_live import events as ev
from trio_gemini_live._errors import ProtocolError
from trio_gemini_live._messages import message_events
from trio_gemini_live._protocol import LiveProtocol, Status

PCM = bytes(range(256)) * 4  # 1024 bytes; every byte value, so base64 has '+' and '/'
B64 = base64.b64encode(PCM).decode()
AUDIO = ev.AudioChunk(data=PCM, sample_rate=24000, mime_type="audio/pcm;rate=24000")


def ready() -> LiveProtocol:
    proto = LiveProtocol(w.Setup(model="models/m"))
    proto.transition(Status.CONNECTING)
    proto.setup_frame()
    proto.receive(b'{"setupComplete": {}}')
    return proto


def decode_all_ways(obj: Any) -> list[ev.Event]:
    """The events of a message, checked to be the same on every path."""
    raw = json.dumps(obj).encode()
    direct = message_events(w.decode_server_message(raw), raw)
    assert message_events(w.decode_server_message(raw.decode()), raw) == direct
    if "setupComplete" in obj:
        proto = LiveProtocol(w.Setup(model="models/m"))
        proto.transition(Status.CONNECTING)
        proto.setup_frame()
        assert proto.receive(raw) == direct
    else:
        assert ready().receive(raw) == direct
        assert ready().receive(raw.decode()) == direct
    return direct


# --- PROTOCOL.md 4, example by example -------------------------------------------------------


def test_setup_complete() -> None:
    assert decode_all_ways({"setupComplete": {"sessionId": "..."}}) == [
        ev.SetupComplete(session_id="...")
    ]


def test_the_full_server_content_example() -> None:
    message = {
        "serverContent": {
            "modelTurn": {"parts": [
                {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": B64}},
                {"text": "...", "thought": True},
            ]},
            "generationComplete": True, "turnComplete": True, "interrupted": True,
            "inputTranscription": {"text": "hel", "finished": False},
            "outputTranscription": {"text": "Hi th"},
            "groundingMetadata": {}, "urlContextMetadata": {},
            "turnCompleteReason": "...", "waitingForInput": True,
            "interimInputTranscription": {}, "interactionStatus": "IN_PROGRESS",
        },
        "usageMetadata": {
            "promptTokenCount": 147, "responseTokenCount": 36, "totalTokenCount": 183,
            "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 120}],
        },
    }
    assert decode_all_ways(message) == [
        AUDIO,
        ev.TextChunk(text="...", thought=True),
        ev.InputTranscription(text="hel", finished=False),
        ev.OutputTranscription(text="Hi th", finished=False),
        ev.Grounding(metadata=w.GroundingMetadata(), url_context=w.UrlContextMetadata()),
        ev.Interrupted(),
        ev.GenerationComplete(),
        ev.UsageUpdate(usage=ev.Usage(
            prompt_tokens=147, response_tokens=36, total_tokens=183,
            prompt_details=(w.ModalityTokenCount(modality="AUDIO", token_count=120),),
        )),
        ev.TurnComplete(reason="..."),
    ]


def test_tool_call() -> None:
    message = {"toolCall": {"functionCalls": [
        {"id": "fc_1", "name": "get_weather", "args": {"city": "Paris"}}]}}
    assert decode_all_ways(message) == [
        ev.ToolCall(calls=(w.FunctionCall(id="fc_1", name="get_weather", args={"city": "Paris"}),))
    ]


def test_tool_call_cancellation() -> None:
    assert decode_all_ways({"toolCallCancellation": {"ids": ["fc_1"]}}) == [
        ev.ToolCallCancellation(ids=("fc_1",))
    ]


def test_go_away() -> None:
    assert decode_all_ways({"goAway": {"timeLeft": "50s"}}) == [ev.GoAway(time_left=50.0)]


def test_session_resumption_update() -> None:
    message = {"sessionResumptionUpdate": {
        "newHandle": "...", "resumable": True, "lastConsumedClientMessageIndex": "42"}}
    assert decode_all_ways(message) == [
        ev.SessionResumptionUpdate(handle="...", resumable=True, last_consumed_index=42)
    ]


def test_voice_activity() -> None:
    message = {"voiceActivity": {"type": "ACTIVITY_START", "audioOffset": "1.2s"}}
    assert decode_all_ways(message) == [ev.VoiceActivity(kind="ACTIVITY_START", audio_offset=1.2)]


def test_voice_activity_detection_signal() -> None:
    message = {"voiceActivityDetectionSignal": {"vadSignalType": "VAD_SIGNAL_TYPE_SOS"}}
    assert decode_all_ways(message) == [ev.VoiceActivity(kind="VAD_SIGNAL_TYPE_SOS")]


# --- 3.x bundling and variants -------------------------------------------------------------


def test_bundled_3x_message() -> None:
    # 3.x models put audio, its transcript, usage and turnComplete in one message
    # (PROTOCOL.md 4): content first, then usage, then the end of the turn.
    message = {
        "usageMetadata": {"promptTokenCount": 10, "responseTokenCount": 20,
                          "totalTokenCount": 30},
        "serverContent": {
            "turnComplete": True,
            "outputTranscription": {"text": "Hello there", "finished": True},
            "modelTurn": {"parts": [
                {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": B64}}]},
        },
    }
    assert decode_all_ways(message) == [
        AUDIO,
        ev.OutputTranscription(text="Hello there", finished=True),
        ev.UsageUpdate(usage=ev.Usage(prompt_tokens=10, response_tokens=20, total_tokens=30)),
        ev.TurnComplete(),
    ]
    proto = ready()
    proto.receive(json.dumps(message))
    assert not proto.in_turn  # the content came before turnComplete
    assert proto.usage.total_tokens == 30


def test_parts_keep_their_order() -> None:
    parts = [{"text": "a"}, {"inlineData": {"mimeType": "audio/pcm", "data": B64}},
             {"text": "b", "thought": False}, {"text": ""},
             {"inlineData": {"mimeType": "audio/pcm;rate=16000", "data": "AAA="}}]
    assert decode_all_ways({"serverContent": {"modelTurn": {"parts": parts}}}) == [
        ev.TextChunk(text="a"),
        ev.AudioChunk(data=PCM, sample_rate=24000, mime_type="audio/pcm"),
        ev.TextChunk(text="b"),
        ev.AudioChunk(data=b"\x00\x00", sample_rate=16000, mime_type="audio/pcm;rate=16000"),
    ]


def test_vertex_usage_names() -> None:
    message = {"usageMetadata": {
        "promptTokenCount": 5, "candidatesTokenCount": 7, "totalTokenCount": 12,
        "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 7}],
        "trafficType": "ON_DEMAND",
    }}
    assert decode_all_ways(message) == [ev.UsageUpdate(usage=ev.Usage(
        prompt_tokens=5, response_tokens=7, total_tokens=12,
        response_details=(w.ModalityTokenCount(modality="AUDIO", token_count=7),),
    ))]


def test_every_usage_field() -> None:
    message = {"usageMetadata": {
        "promptTokenCount": 1, "cachedContentTokenCount": 2, "responseTokenCount": 3,
        "toolUsePromptTokenCount": 4, "thoughtsTokenCount": 5, "totalTokenCount": 15,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1}],
        "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 3}],
    }}
    assert decode_all_ways(message) == [ev.UsageUpdate(usage=ev.Usage(
        prompt_tokens=1, cached_tokens=2, response_tokens=3, tool_use_prompt_tokens=4,
        thoughts_tokens=5, total_tokens=15,
        prompt_details=(w.ModalityTokenCount(modality="TEXT", token_count=1),),
        response_details=(w.ModalityTokenCount(modality="AUDIO", token_count=3),),
    ))]


@pytest.mark.parametrize("value", ["183", 183, "183.0", 183.0])
def test_int64_as_string_and_number(value: Any) -> None:
    events = decode_all_ways({"usageMetadata": {"totalTokenCount": value}})
    assert events == [ev.UsageUpdate(usage=ev.Usage(total_tokens=183))]


@pytest.mark.parametrize("value", ["9223372036854775807", 9223372036854775807])
def test_int64_extremes(value: Any) -> None:
    message = {"sessionResumptionUpdate": {"lastConsumedClientMessageIndex": value}}
    assert decode_all_ways(message) == [ev.SessionResumptionUpdate(
        handle=None, resumable=False, last_consumed_index=2**63 - 1)]


@pytest.mark.parametrize(
    ("value", "seconds"), [("50s", 50.0), ("1.5s", 1.5), (50, 50.0), (1.5, 1.5), ("0s", 0.0)]
)
def test_go_away_durations(value: Any, seconds: float) -> None:
    assert decode_all_ways({"goAway": {"timeLeft": value}}) == [ev.GoAway(time_left=seconds)]


def test_go_away_without_time_left() -> None:
    assert decode_all_ways({"goAway": {}}) == [ev.GoAway(time_left=0.0)]


@pytest.mark.parametrize("value", ["1.5s", 1.5])
def test_voice_activity_offset_durations(value: Any) -> None:
    message = {"voiceActivity": {"type": "ACTIVITY_END", "audioOffset": value}}
    assert decode_all_ways(message) == [ev.VoiceActivity(kind="ACTIVITY_END", audio_offset=1.5)]


def test_voice_activity_type_sdk_name() -> None:
    # The SDK names the field voiceActivityType; PROTOCOL.md names it type. Both work.
    message = {"voiceActivity": {"voiceActivityType": "ACTIVITY_START"}}
    assert decode_all_ways(message) == [ev.VoiceActivity(kind="ACTIVITY_START")]


@pytest.mark.parametrize(
    "encoded",
    [
        base64.urlsafe_b64encode(PCM).decode(),
        B64.rstrip("="),
        base64.urlsafe_b64encode(PCM[:1000]).decode().rstrip("="),
    ],
    ids=["url-safe", "unpadded", "url-safe-unpadded"],
)
def test_url_safe_and_unpadded_audio(encoded: str) -> None:
    expected = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    message = {"serverContent": {"modelTurn": {"parts": [
        {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": encoded}}]}}}
    assert decode_all_ways(message) == [
        ev.AudioChunk(data=expected, sample_rate=24000, mime_type="audio/pcm;rate=24000")
    ]


def test_unknown_message_type() -> None:
    raw = b'{"brandNewMessage": {"field": [1, 2, 3]}}'
    assert message_events(w.decode_server_message(raw), raw) == [ev.UnknownMessage(raw=raw)]
    assert ready().receive(raw) == [ev.UnknownMessage(raw=raw)]


def test_unknown_extra_fields_are_ignored() -> None:
    message = {
        "serverContent": {"turnComplete": True, "someNewFlag": True,
                          "modelTurn": {"parts": [{"text": "x", "partMetadata": {"a": 1}}],
                                        "newThing": []}},
        "brandNewTopLevel": {"x": 1},
    }
    assert decode_all_ways(message) == [ev.TextChunk(text="x"), ev.TurnComplete()]


def test_resumable_false_without_handle() -> None:
    # PROTOCOL.md 4: sent while the model executes tools or generates.
    message = {"sessionResumptionUpdate": {"resumable": False}}
    assert decode_all_ways(message) == [ev.SessionResumptionUpdate(handle=None, resumable=False)]


def test_interrupted_then_turn_complete_without_generation_complete() -> None:
    message = {"serverContent": {"interrupted": True, "turnComplete": True}}
    assert decode_all_ways(message) == [ev.Interrupted(), ev.TurnComplete()]


def test_empty_transcriptions_are_not_events() -> None:
    message = {"serverContent": {"inputTranscription": {}, "outputTranscription": {"text": ""}}}
    assert decode_all_ways(message) == []


def test_transcription_finished_without_text() -> None:
    message = {"serverContent": {"inputTranscription": {"finished": True}}}
    assert decode_all_ways(message) == [ev.InputTranscription(text="", finished=True)]


def test_a_bad_duration_is_a_protocol_error() -> None:
    raw = json.dumps({"goAway": {"timeLeft": "soon"}})
    with pytest.raises(ProtocolError):
        ready().receive(raw)


def test_every_event_kind_in_one_message_keeps_the_documented_order() -> None:
    message = {
        "voiceActivity": {"type": "ACTIVITY_END"},
        "goAway": {"timeLeft": "1s"},
        "sessionResumptionUpdate": {"newHandle": "h", "resumable": True},
        "toolCallCancellation": {"ids": ["x"]},
        "toolCall": {"functionCalls": [{"id": "y", "name": "f"}]},
        "usageMetadata": {"totalTokenCount": 1},
        "serverContent": {
            "turnComplete": True, "generationComplete": True, "interrupted": True,
            "groundingMetadata": {"webSearchQueries": ["q"]},
            "outputTranscription": {"text": "o"}, "inputTranscription": {"text": "i"},
            "modelTurn": {"parts": [{"text": "t"}]},
        },
    }
    kinds = [type(e) for e in decode_all_ways(message)]
    assert kinds == [
        ev.TextChunk, ev.InputTranscription, ev.OutputTranscription, ev.Grounding,
        ev.Interrupted, ev.GenerationComplete, ev.UsageUpdate, ev.TurnComplete, ev.ToolCall,
        ev.ToolCallCancellation, ev.VoiceActivity, ev.SessionResumptionUpdate, ev.GoAway,
    ]


def test_inline_data_that_is_not_audio_is_not_an_audio_chunk() -> None:
    parts = [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}, {"text": "caption"}]
    assert decode_all_ways({"serverContent": {"modelTurn": {"parts": parts}}}) == [
        ev.TextChunk(text="caption")
    ]


def test_many_distinct_audio_mime_types() -> None:
    # The server picks MIME strings; the per-type cache is bounded and must stay correct.
    for rate in range(8000, 8000 + 200):
        mime = f"audio/pcm;rate={rate}"
        message = {"serverContent": {"modelTurn": {"parts": [
            {"inlineData": {"mimeType": mime, "data": "AAAA"}}]}}}
        assert decode_all_ways(message) == [
            ev.AudioChunk(data=b"\x00\x00\x00", sample_rate=rate, mime_type=mime)
        ]
