"""Golden tests: the server messages of PROTOCOL.md section 4 decode to the documented events.

Each example is the JSON of PROTOCOL.md 4 (``<b64>`` replaced with real base64), decoded by
``_wire.decode_server_message`` + ``_protocol.message_events`` and by
``LiveProtocol.receive_message``, from a binary and from a text frame. Events come in the
order documented in ``events``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
import pytest

from trio_gemini_live import _wire as w
from trio_gemini_live import events as ev
from trio_gemini_live._errors import ProtocolError
from trio_gemini_live._messages import message_events
from trio_gemini_live._protocol import LiveProtocol, Status

from .core import receive_frame

PCM = bytes(range(256)) * 4  # 1024 bytes; every byte value, so base64 has '+' and '/'
B64 = base64.b64encode(PCM).decode()
AUDIO = ev.AudioChunk(data=PCM, sample_rate=24000, mime_type="audio/pcm;rate=24000")


def ready() -> LiveProtocol:
    proto = LiveProtocol(w.Setup(model="models/m"))
    proto.transition(Status.CONNECTING)
    proto.setup_frame()
    receive_frame(proto, b'{"setupComplete": {}}')
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
        assert receive_frame(proto, raw) == direct
    else:
        assert receive_frame(ready(), raw) == direct
        assert receive_frame(ready(), raw.decode()) == direct
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
        ev.WaitingForInput(),
        ev.UsageUpdate(usage=ev.Usage(
            prompt_tokens=147, response_tokens=36, total_tokens=183,
            prompt_details=(w.ModalityTokenCount(modality="AUDIO", token_count=120),),
        )),
        ev.TurnComplete(reason="..."),
        ev.InteractionStatus(status="IN_PROGRESS"),
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
    receive_frame(proto, json.dumps(message))
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
        traffic_type="ON_DEMAND",
    ))]


def test_every_usage_field() -> None:
    message = {"usageMetadata": {
        "promptTokenCount": 1, "cachedContentTokenCount": 2, "responseTokenCount": 3,
        "toolUsePromptTokenCount": 4, "thoughtsTokenCount": 5, "totalTokenCount": 15,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1}],
        "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 3}],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 2}],
        "toolUsePromptTokensDetails": [{"modality": "TEXT", "tokenCount": 4}],
        "trafficType": "PROVISIONED_THROUGHPUT", "serviceTier": "priority",
    }}
    assert decode_all_ways(message) == [ev.UsageUpdate(usage=ev.Usage(
        prompt_tokens=1, cached_tokens=2, response_tokens=3, tool_use_prompt_tokens=4,
        thoughts_tokens=5, total_tokens=15,
        prompt_details=(w.ModalityTokenCount(modality="TEXT", token_count=1),),
        response_details=(w.ModalityTokenCount(modality="AUDIO", token_count=3),),
        cache_details=(w.ModalityTokenCount(modality="TEXT", token_count=2),),
        tool_use_prompt_details=(w.ModalityTokenCount(modality="TEXT", token_count=4),),
        traffic_type="PROVISIONED_THROUGHPUT", service_tier="priority",
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
    assert receive_frame(ready(), raw) == [ev.UnknownMessage(raw=raw)]


def test_unknown_extra_fields_are_ignored() -> None:
    message = {
        "serverContent": {"turnComplete": True, "someNewFlag": True,
                          "modelTurn": {"parts": [{"text": "x", "brandNewPartField": {"a": 1}}],
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
        receive_frame(ready(), raw)


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
    parts = [{"inlineData": {"mimeType": "image/png", "data": "AAAA", "displayName": "p"}},
             {"text": "caption"},
             {"inlineData": {"mimeType": "audio/opus", "data": "AAAA"}},
             {"inlineData": {"mimeType": "audio/pcm;rate=0", "data": "AAAA"}}]
    assert decode_all_ways({"serverContent": {"modelTurn": {"parts": parts}}}) == [
        ev.InlineData(data=b"\x00\x00\x00", mime_type="image/png", display_name="p"),
        ev.TextChunk(text="caption"),
        ev.InlineData(data=b"\x00\x00\x00", mime_type="audio/opus"),
        ev.InlineData(data=b"\x00\x00\x00", mime_type="audio/pcm;rate=0"),
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


# --- the fields of the official SDK 3.6 (issue 13) ------------------------------------------


def test_setup_complete_with_a_voice_consent_signature() -> None:
    message = {"setupComplete": {"sessionId": "s", "voiceConsentSignature": {"signature": "sig"}}}
    assert decode_all_ways(message) == [
        ev.SetupComplete(session_id="s", voice_consent_signature="sig")
    ]


def test_interim_input_transcription_comes_before_the_final_one() -> None:
    message = {"serverContent": {
        "inputTranscription": {"text": "hello", "finished": True},
        "interimInputTranscription": {"text": "hel"},
    }}
    assert decode_all_ways(message) == [
        ev.InterimInputTranscription(text="hel"),
        ev.InputTranscription(text="hello", finished=True),
    ]


def test_every_transcription_field() -> None:
    transcription = {
        "text": "bonjour", "finished": True, "languageCode": "fr-FR", "speakerLabel": "spk_1",
        "words": [{"word": "bonjour", "startOffset": "0.100s", "endOffset": "0.5s"},
                  {"word": "x"}],
        "startOffset": "0.1s", "endOffset": 0.5,
    }
    expected = {
        "text": "bonjour", "finished": True, "language_code": "fr-FR",
        "speaker_label": "spk_1",
        "words": (ev.Word(word="bonjour", start_offset=0.1, end_offset=0.5), ev.Word(word="x")),
        "start_offset": 0.1, "end_offset": 0.5,
    }
    message = {"serverContent": {"interimInputTranscription": transcription,
                                 "inputTranscription": transcription,
                                 "outputTranscription": transcription}}
    assert decode_all_ways(message) == [
        ev.InterimInputTranscription(**expected),
        ev.InputTranscription(**expected),
        ev.OutputTranscription(**expected),
    ]


def test_a_transcription_with_only_a_language_is_an_event() -> None:
    message = {"serverContent": {"outputTranscription": {"languageCode": "de-DE"}}}
    assert decode_all_ways(message) == [
        ev.OutputTranscription(text="", language_code="de-DE")
    ]


def test_waiting_for_input() -> None:
    message = {"serverContent": {"waitingForInput": True}}
    assert decode_all_ways(message) == [ev.WaitingForInput()]
    assert decode_all_ways({"serverContent": {"waitingForInput": False}}) == []


@pytest.mark.parametrize("status", ["IDLE", "IN_PROGRESS", "REQUIRES_ACTION", "NEW_ONE"])
def test_interaction_status_follows_turn_complete(status: str) -> None:
    message = {"serverContent": {"interactionStatus": status, "turnComplete": True}}
    assert decode_all_ways(message) == [ev.TurnComplete(), ev.InteractionStatus(status=status)]


def test_code_execution_parts() -> None:
    parts = [
        {"executableCode": {"language": "PYTHON", "code": "print(6 * 7)", "id": "c1"}},
        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "42\n", "id": "c1"}},
        {"text": "It is 42."},
    ]
    assert decode_all_ways({"serverContent": {"modelTurn": {"parts": parts}}}) == [
        ev.ExecutableCode(code="print(6 * 7)", language="PYTHON", id="c1"),
        ev.CodeExecutionResult(outcome="OUTCOME_OK", output="42\n", id="c1"),
        ev.TextChunk(text="It is 42."),
    ]


def test_thought_signature_rides_with_its_text() -> None:
    parts = [{"text": "hmm", "thought": True, "thoughtSignature": "AQI="},
             {"thoughtSignature": "AwQ="}]
    assert decode_all_ways({"serverContent": {"modelTurn": {"parts": parts}}}) == [
        ev.TextChunk(text="hmm", thought=True, thought_signature=b"\x01\x02"),
        ev.ModelPart(part=w.Part(thought_signature=b"\x03\x04")),
    ]


@pytest.mark.parametrize(
    "part",
    [
        {"fileData": {"mimeType": "video/mp4", "fileUri": "gs://b/v.mp4"}},
        {"toolCall": {"id": "t1", "toolType": "GOOGLE_SEARCH_WEB", "args": {"q": "x"}}},
        {"toolResponse": {"id": "t1", "toolType": "GOOGLE_SEARCH_WEB", "response": {"r": 1}}},
        {"functionCall": {"id": "f", "name": "g", "args": {}}},
        {"functionResponse": {"id": "f", "name": "g", "response": {"ok": True}}},
        {"audioTranscription": {"text": "hi"}},
        {"speechMetadata": {"speaker": "Joe", "style": "calm"}},
        {"partMetadata": {"a": 1}},
        {"videoMetadata": {"startOffset": "1s", "fps": 2.0}},
        {"mediaResolution": {"level": "MEDIA_RESOLUTION_LOW"}},
        {"mediaProcessing": "AGENTIC"},
        {"documentMetadata": {"startPage": 1}},
        {"spreadsheetMetadata": {"sheetIndex": 2}},
        {"audioMetadata": {"startOffset": "1s"}},
    ],
    ids=lambda part: next(iter(part)),
)
def test_a_part_no_other_event_describes_is_a_model_part(part: dict[str, Any]) -> None:
    message = {"serverContent": {"modelTurn": {"parts": [part, {"text": "after"}]}}}
    (first, second) = decode_all_ways(message)
    assert first == ev.ModelPart(part=msgspec.convert(part, w.Part))
    assert second == ev.TextChunk(text="after")


def test_text_with_metadata_is_a_text_chunk_and_a_model_part() -> None:
    part = {"text": "hi", "partMetadata": {"k": "v"}}
    assert decode_all_ways({"serverContent": {"modelTurn": {"parts": [part]}}}) == [
        ev.TextChunk(text="hi"), ev.ModelPart(part=w.Part(text="hi", part_metadata={"k": "v"})),
    ]


def test_an_audio_part_is_only_an_audio_chunk() -> None:
    # The hot path: an audio part's other fields (none is documented for output audio)
    # are not looked at; text in the same part is.
    parts = [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": B64},
              "partMetadata": {"k": "v"}},
             {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": B64},
              "text": "spoken", "partMetadata": {"k": "v"}}]
    assert decode_all_ways({"serverContent": {"modelTurn": {"parts": parts}}}) == [
        AUDIO, ev.TextChunk(text="spoken"), AUDIO,
    ]


def test_streamed_function_call_arguments() -> None:
    # Vertex AI streams a call's arguments (FunctionCall.partialArgs, willContinue).
    message = {"toolCall": {"functionCalls": [{
        "id": "fc_1", "name": "book", "willContinue": True,
        "partialArgs": [
            {"jsonPath": "$.city", "stringValue": "Par", "willContinue": True},
            {"jsonPath": "$.nights", "numberValue": 2},
            {"jsonPath": "$.late", "boolValue": False},
            {"jsonPath": "$.note", "nullValue": "NULL_VALUE"},
        ]}]}}
    (event,) = decode_all_ways(message)
    assert isinstance(event, ev.ToolCall)
    (call,) = event.calls
    assert call.will_continue is True
    assert call.partial_args is not None
    assert [(a.json_path, a.value, a.will_continue) for a in call.partial_args] == [
        ("$.city", "Par", True), ("$.nights", 2.0, None), ("$.late", False, None),
        ("$.note", None, None),
    ]
    assert call.partial_args[3].null_value == "NULL_VALUE"


def test_every_grounding_kind_reaches_the_grounding_event() -> None:
    metadata = {
        "webSearchQueries": ["q"], "imageSearchQueries": ["cats"], "retrievalQueries": ["r"],
        "groundingChunks": [
            {"web": {"uri": "https://a", "title": "A", "domain": "a"}},
            {"image": {"sourceUri": "https://s", "imageUri": "https://i", "title": "I",
                       "domain": "i"}},
            {"maps": {"placeId": "p1", "title": "Cafe", "uri": "https://m", "text": "t",
                      "placeAnswerSources": {
                          "flagContentUri": "https://f",
                          "reviewSnippets": [{"review": "good", "reviewId": "r1",
                                              "authorAttribution": {"displayName": "Ann"}}]},
                      "route": {"distanceMeters": 1200, "duration": "300s",
                                "encodedPolyline": "abc"}}},
            {"retrievedContext": {"uri": "gs://x", "title": "Doc", "text": "chunk",
                                  "documentName": "d", "fileSearchStore": "fs",
                                  "pageNumber": 3, "mediaId": "m",
                                  "ragChunk": {"text": "t", "pageSpan": {"firstPage": 1,
                                                                         "lastPage": 2}},
                                  "customMetadata": [{"key": "k", "numericValue": 1.5,
                                                      "stringListValue": {"values": ["a"]}}]}},
        ],
        "groundingSupports": [{"segment": {"startIndex": 0, "endIndex": 5, "text": "hello"},
                               "groundingChunkIndices": [0], "confidenceScores": [0.9],
                               "renderedParts": [0]}],
        "searchEntryPoint": {"renderedContent": "<div/>"},
        "retrievalMetadata": {"googleSearchDynamicRetrievalScore": 0.7},
        "googleMapsWidgetContextToken": "tok",
        "sourceFlaggingUris": [{"sourceId": "s", "flagContentUri": "https://f"}],
    }
    message = {"serverContent": {"groundingMetadata": metadata,
                                 "urlContextMetadata": {"urlMetadata": [{
                                     "retrievedUrl": "https://u",
                                     "urlRetrievalStatus": "URL_RETRIEVAL_STATUS_SUCCESS"}]}}}
    (event,) = decode_all_ways(message)
    assert isinstance(event, ev.Grounding)
    assert event.metadata is not None
    # Nothing of what the server said is lost: the struct encodes back to the same JSON.
    assert msgspec.to_builtins(event.metadata) == metadata
    assert event.url_context is not None
    assert msgspec.to_builtins(event.url_context) == message["serverContent"][
        "urlContextMetadata"]


def test_every_new_event_kind_in_one_message_keeps_the_documented_order() -> None:
    message = {
        "goAway": {"timeLeft": "1s"},
        "toolCall": {"functionCalls": [{"id": "y", "name": "f"}]},
        "usageMetadata": {"totalTokenCount": 1},
        "serverContent": {
            "interactionStatus": "IDLE", "turnComplete": True, "waitingForInput": True,
            "generationComplete": True, "interrupted": True,
            "urlContextMetadata": {}, "outputTranscription": {"text": "o"},
            "inputTranscription": {"text": "i"}, "interimInputTranscription": {"text": "i?"},
            "modelTurn": {"parts": [
                {"fileData": {"fileUri": "gs://x"}},
                {"codeExecutionResult": {"outcome": "OUTCOME_OK"}},
                {"executableCode": {"code": "1"}},
                {"inlineData": {"mimeType": "image/jpeg", "data": "AAAA"}},
                {"inlineData": {"mimeType": "audio/pcm", "data": "AAAA"}},
                {"text": "t"},
            ]},
        },
        "setupComplete": {},
    }
    raw = json.dumps(message).encode()
    kinds = [type(e) for e in message_events(w.decode_server_message(raw), raw)]
    assert kinds == [
        ev.SetupComplete, ev.ModelPart, ev.CodeExecutionResult, ev.ExecutableCode,
        ev.InlineData, ev.AudioChunk, ev.TextChunk, ev.InterimInputTranscription,
        ev.InputTranscription, ev.OutputTranscription, ev.Grounding, ev.Interrupted,
        ev.GenerationComplete, ev.WaitingForInput, ev.UsageUpdate, ev.TurnComplete,
        ev.InteractionStatus, ev.ToolCall, ev.GoAway,
    ]
