"""The emulator through raw trio-websocket clients, with JSON written by hand (PROTOCOL.md)."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
import trio_websocket

from trio_gemini_live.testing import Fault, LiveEmulator, speech_like_pcm

from .conftest import raw_websocket, tls_contexts

KEY = "test-api-key"
V1BETA = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
CONSTRAINED = (
    "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"
)
VERTEX = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
MODEL = "models/gemini-2.5-flash-native-audio-preview-12-2025"
VERTEX_MODEL = (
    "projects/p/locations/us-central1/publishers/google/models/gemini-live-2.5-flash-native-audio"
)
TEXT = {"generationConfig": {"responseModalities": ["TEXT"]}}
WEATHER = {"functionDeclarations": [{
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "OBJECT", "properties": {
        "city": {"type": "STRING"}, "days": {"type": "INTEGER"},
        "unit": {"type": "STRING", "enum": ["C", "F"]}}, "required": ["city"]}}]}


async def start(nursery: trio.Nursery, **kwargs: Any) -> LiveEmulator:
    emulator = LiveEmulator(**kwargs)
    await nursery.start(emulator.serve)
    return emulator


@asynccontextmanager
async def connect(emulator: LiveEmulator, path: str = V1BETA, *,
                  headers: tuple[tuple[str, str], ...] = (("x-goog-api-key", KEY),),
                  query: str = "",
                  ssl_context: ssl.SSLContext | None = None,
                  ) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    url = emulator.url + path + (f"?{query}" if query else "")
    async with trio_websocket.open_websocket_url(
        url, ssl_context=ssl_context, extra_headers=[(k.encode(), v.encode()) for k, v in headers],
        max_message_size=16 * 2**20,
    ) as ws:
        yield ws


async def send(ws: trio_websocket.WebSocketConnection, message: dict[str, Any]) -> None:
    await ws.send_message(json.dumps(message))


async def recv(ws: trio_websocket.WebSocketConnection) -> dict[str, Any]:
    frame = await ws.get_message()
    assert isinstance(frame, bytes), "Google sends JSON in binary frames (PROTOCOL.md 2)"
    out: dict[str, Any] = msgspec.json.decode(frame)
    return out


async def until(ws: trio_websocket.WebSocketConnection,
                stop: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Messages up to and including the first one ``stop`` accepts."""
    out = []
    while True:
        message = await recv(ws)
        out.append(message)
        if stop(message):
            return out


def turn_complete(message: dict[str, Any]) -> bool:
    return bool(message.get("serverContent", {}).get("turnComplete"))


async def setup(ws: trio_websocket.WebSocketConnection, model: str = MODEL,
                **fields: Any) -> None:
    await send(ws, {"setup": {"model": model, **fields}})
    assert await recv(ws) == {"setupComplete": {}}


async def closed_with(ws: trio_websocket.WebSocketConnection) -> tuple[int, str]:
    with pytest.raises(trio_websocket.ConnectionClosed) as info:
        while True:
            await ws.get_message()
    reason = info.value.reason
    return reason.code, reason.reason or ""


def text_of(messages: list[dict[str, Any]]) -> str:
    return "".join(
        part.get("text", "")
        for m in messages
        for part in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
    )


def user_turn(text: str, *, snake: bool = False) -> dict[str, Any]:
    if snake:
        return {"client_content": {"turns": [{"role": "user", "parts": [{"text": text}]}],
                                   "turn_complete": True}}
    return {"clientContent": {"turns": [{"role": "user", "parts": [{"text": text}]}],
                              "turnComplete": True}}


def audio(pcm: bytes, rate: int = 16000) -> dict[str, Any]:
    return {"realtimeInput": {"audio": {"mimeType": f"audio/pcm;rate={rate}",
                                        "data": base64.b64encode(pcm).decode()}}}


# --- text turns, framing, records --------------------------------------------------------


async def test_text_turn_in_chunks_with_usage(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws, **TEXT)
            await send(ws, user_turn("Hello there"))
            messages = await until(ws, turn_complete)
        texts = [m for m in messages if "modelTurn" in m.get("serverContent", {})]
        assert len(texts) >= 2
        assert text_of(messages) == 'I heard: "Hello there". This is turn 1 of our conversation.'
        assert messages[-2] == {"serverContent": {"generationComplete": True}}
        usage = messages[-1]["usageMetadata"]
        assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["responseTokenCount"]
        record = emulator.connections[0]
        assert record.received[1]["clientContent"]["turnComplete"] is True
        assert record.backend == "gemini" and record.api_version == "v1beta"


async def test_snake_case_is_accepted_and_recorded_as_camel_case(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws, generation_config={"response_modalities": ["TEXT"]})
            await send(ws, user_turn("hi", snake=True))
            await until(ws, turn_complete)
        assert emulator.received() == [
            {"setup": {"model": MODEL, "generationConfig": {"responseModalities": ["TEXT"]}}},
            user_turn("hi"),
        ]


async def test_realtime_text_is_a_turn(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws, **TEXT)
            await send(ws, {"realtimeInput": {"text": "typed"}})
            assert '"typed"' in text_of(await until(ws, turn_complete))


async def test_every_api_version_and_the_key_query_parameter(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        for version in ("v1beta", "v1alpha", "v1"):
            path = V1BETA.replace("v1beta", version)
            async with connect(emulator, path) as ws:
                await setup(ws)
        async with connect(emulator, headers=(), query=f"key={KEY}") as ws:
            await setup(ws)
        assert [c.api_version for c in emulator.connections] == ["v1beta", "v1alpha", "v1",
                                                                  "v1beta"]
        assert KEY not in repr(emulator.connections)


async def test_unknown_path_is_refused(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        with pytest.raises(trio_websocket.HandshakeError):
            async with connect(emulator, "/ws/nothing"):
                pass  # pragma: no cover


# --- auth --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers", "code", "words"),
    [
        (V1BETA, (), 1008, "unregistered callers"),
        (V1BETA, (("x-goog-api-key", "wrong"),), 1007, "API key not valid"),
        (CONSTRAINED, (("authorization", "Token auth_tokens/nope"),), 1008, "credentials"),
        (VERTEX, (), 1008, "invalid authentication credentials"),
        (VERTEX, (("authorization", "Bearer wrong"),), 1008, "invalid authentication"),
    ],
)
async def test_bad_credentials_are_refused_like_google(
        nursery: trio.Nursery, path: str, headers: tuple[tuple[str, str], ...], code: int,
        words: str) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery, ephemeral_tokens=["auth_tokens/ok"],
                               vertex_tokens=["ya29.ok"])
        async with connect(emulator, path, headers=headers) as ws:
            await send(ws, {"setup": {"model": MODEL}})
            got_code, reason = await closed_with(ws)
        assert got_code == code and words in reason
        assert "wrong" not in repr(emulator.connections[0])


async def test_ephemeral_token_and_vertex_bearer_are_accepted(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery, ephemeral_tokens=["auth_tokens/ok"],
                               vertex_tokens=["ya29.ok"])
        async with connect(emulator, CONSTRAINED,
                           headers=(("authorization", "Token auth_tokens/ok"),)) as ws:
            await setup(ws)
        async with connect(emulator, CONSTRAINED, headers=(),
                           query="access_token=auth_tokens/ok") as ws:
            await setup(ws)
        async with connect(emulator, VERTEX, headers=(("authorization", "Bearer ya29.ok"),)) as ws:
            await send(ws, {"setup": {"model": VERTEX_MODEL}})
            first = await recv(ws)
        assert first["setupComplete"]["sessionId"]
        assert emulator.connections[1].query == {"access_token": "<redacted>"}
        assert emulator.connections[2].backend == "vertex"


# --- strict setup ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup_fields", "code", "reason"),
    [
        ({"model": MODEL, "generationConfig": {"foo": 1}}, 1007,
         'Invalid JSON payload received. Unknown name "foo" at \'setup.generation_config\': '
         "Cannot find field."),
        ({"model": MODEL, "tools": [{"functionDeclarations": [{"name": "f", "bar": 1}]}]}, 1007,
         "Unknown name \"bar\" at 'setup.tools[0].function_declarations[0]'"),
        # PROTOCOL.md 9: 3.x models refuse "handle": null (2.5 tolerates it:
        # tests/test_emulator_models.py).
        ({"model": "models/gemini-3.1-flash-live-preview", "sessionResumption": {"handle": None}},
         1007, "Request contains an invalid argument."),
        ({"model": MODEL, "sessionResumption": {"transparent": True}}, 1007,
         'Unknown name "transparent"'),
        ({"model": MODEL, "explicitVadSignal": True}, 1007, 'Unknown name "explicitVadSignal"'),
        ({"model": "gemini-2.5-flash-native-audio-preview-12-2025"}, 1008,
         "models/gemini-2.5-flash-native-audio-preview-12-2025 is not found for API version "
         "v1beta, or is not supported for bidiGenerateContent"),
        ({"model": "models/gemini-9"}, 1008, "models/gemini-9 is not found for API version"),
        ({"model": MODEL, "generationConfig": {"responseModalities": ["SMELL"]}}, 1007,
         "Invalid value at 'setup.generation_config.response_modalities[0]'"),
    ],
)
async def test_strict_setup(nursery: trio.Nursery, setup_fields: dict[str, Any], code: int,
                            reason: str) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await send(ws, {"setup": setup_fields})
            got_code, got_reason = await closed_with(ws)
        record = emulator.connections[0]
        assert got_code == code == record.close_code
        assert record.close_reason is not None and reason in record.close_reason
        # A close frame's reason holds at most 123 bytes (RFC 6455 5.5): the record keeps all.
        assert got_reason == record.close_reason.encode()[:123].decode()


async def test_free_form_maps_are_not_checked(nursery: trio.Nursery) -> None:
    tool = {"functionDeclarations": [{
        "name": "f", "parameters": {"type": "OBJECT", "properties": {"anyName": {
            "type": "STRING", "default": {"x": 1}}}},
        "parametersJsonSchema": {"whatever": True}}]}
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws, tools=[tool])
        assert emulator.connections[0].setup is not None


@pytest.mark.parametrize(
    "message",
    [
        {"clientContent": {"turns": []}},  # before setup
        {"setup": {"model": MODEL}},  # a second setup (sent after the first below)
    ],
)
async def test_message_order_rules(nursery: trio.Nursery, message: dict[str, Any]) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            if "setup" in message:
                await setup(ws)
            await send(ws, message)
            code, reason = await closed_with(ws)
        assert (code, reason) == (1007, "Request contains an invalid argument.")


@pytest.mark.parametrize(
    "message",
    [
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000",
                                     "data": base64.b64encode(b"\x00\x01\x02").decode()}}},
        {"realtimeInput": {"audio": {"mimeType": "audio/wav", "data": "AAAA"}}},
        {"clientContent": {"turns": [{"role": "user", "parts": [
            {"functionResponse": {"name": "f", "response": {}}}]}]}},
        {"toolResponse": {"functionResponses": [{"id": "nope", "name": "f", "response": {}}]}},
        {"clientContent": {}, "realtimeInput": {"text": "two at once"}},
        {"unknownMessage": {}},
    ],
)
async def test_invalid_input_closes_1007(nursery: trio.Nursery, message: dict[str, Any]) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws)
            await send(ws, message)
            code, _ = await closed_with(ws)
        assert code == 1007


async def test_url_safe_base64_is_accepted(nursery: trio.Nursery) -> None:
    pcm = bytes([0xFB, 0xFF] * 8)  # encodes with '+' / '/' in the standard alphabet
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws)
            data = base64.urlsafe_b64encode(pcm).decode().rstrip("=")
            await send(ws, {"realtimeInput": {"audio": {"mimeType": "audio/pcm", "data": data}}})
            await send(ws, {"realtimeInput": {"text": "after the audio"}})
            await until(ws, turn_complete)  # frames are handled in order: the audio was read
        recorded = emulator.connections[0].received[1]["realtimeInput"]["audio"]["data"]
        assert base64.b64decode(recorded) == pcm


# --- audio: VAD, transcription ------------------------------------------------------------


async def test_audio_turn_with_automatic_vad_and_transcriptions(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws, inputAudioTranscription={}, outputAudioTranscription={},
                        realtimeInputConfig={"automaticActivityDetection": {
                            "silenceDurationMs": 300, "prefixPaddingMs": 40}})
            pcm = speech_like_pcm(1.2, lead_silence=0.2, trail_silence=0.5)
            for i in range(0, len(pcm), 3200):  # 100 ms chunks
                await send(ws, audio(pcm[i : i + 3200]))
            messages = await until(ws, turn_complete)
        kinds = [m["voiceActivity"]["type"] for m in messages if "voiceActivity" in m]
        assert kinds == ["ACTIVITY_START", "ACTIVITY_END"]
        heard = "".join(m["serverContent"]["inputTranscription"]["text"]
                        for m in messages if "inputTranscription" in m.get("serverContent", {}))
        assert heard.startswith("[audio 1.")
        said = "".join(m["serverContent"]["outputTranscription"]["text"]
                       for m in messages if "outputTranscription" in m.get("serverContent", {}))
        assert said == f'I heard: "{heard}". This is turn 1 of our conversation.'
        chunks = [base64.b64decode(p["inlineData"]["data"])
                  for m in messages
                  for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])]
        assert chunks and all(len(c) % 2 == 0 for c in chunks)
        assert len(chunks[0]) == 1920  # 40 ms at 24 kHz, 16-bit
        mimes = {p["inlineData"]["mimeType"] for m in messages
                 for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])}
        assert mimes == {"audio/pcm;rate=24000"}
        assert messages[-1]["usageMetadata"]["promptTokensDetails"][0]["modality"] == "AUDIO"


async def test_audio_stream_end_flushes_and_transcript_is_configurable(
        nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery, audio_transcript="what is the weather", )
        async with connect(emulator) as ws:
            await setup(ws, inputAudioTranscription={}, **TEXT)
            await send(ws, audio(speech_like_pcm(0.6, rate=48000), 48000))
            await send(ws, {"realtimeInput": {"audioStreamEnd": True}})
            messages = await until(ws, turn_complete)
        assert '"what is the weather"' in text_of(messages)
        fragments = [m["serverContent"]["inputTranscription"] for m in messages
                     if "inputTranscription" in m.get("serverContent", {})]
        assert [f["text"] for f in fragments] == ["what ", "is ", "the ", "weather"]
        assert fragments[-1].get("finished") is True


async def test_manual_activity(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws, realtimeInputConfig={"automaticActivityDetection": {"disabled": True}},
                        **TEXT)
            await send(ws, {"realtimeInput": {"activityStart": {}}})
            await send(ws, audio(bytes(32000)))  # one second, even of silence: manual mode
            await send(ws, {"realtimeInput": {"activityEnd": {}}})
            assert "[audio 1.0s]" in text_of(await until(ws, turn_complete))


async def test_activity_signals_need_manual_mode(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws)
            await send(ws, {"realtimeInput": {"activityStart": {}}})
            code, reason = await closed_with(ws)
        assert code == 1007 and "automatic activity detection" in reason


# --- tools --------------------------------------------------------------------------------


async def test_blocking_tool_call(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws, tools=[WEATHER], sessionResumption={}, **TEXT)
            await recv(ws)  # the first resumption handle
            await send(ws, user_turn("call get_weather please"))
            call_message = await recv(ws)
            (call,) = call_message["toolCall"]["functionCalls"]
            assert call["name"] == "get_weather"
            assert call["args"] == {"city": "city", "days": 1, "unit": "C"}
            assert await recv(ws) == {"sessionResumptionUpdate": {"resumable": False}}
            await send(ws, {"toolResponse": {"functionResponses": [
                {"id": call["id"], "name": "get_weather", "response": {"output": {"temp": 21}}}]}})
            messages = await until(ws, turn_complete)
        assert text_of(messages) == 'The result of get_weather is {"output": {"temp": 21}}.'


async def test_non_blocking_tool_call_when_idle(nursery: trio.Nursery) -> None:
    tool = {"functionDeclarations": [{**WEATHER["functionDeclarations"][0],
                                      "behavior": "NON_BLOCKING"}]}
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws, tools=[tool], **TEXT)
            await send(ws, user_turn("get_weather"))
            call = (await recv(ws))["toolCall"]["functionCalls"][0]
            first = await until(ws, turn_complete)  # the model keeps talking
            assert "in the background" in text_of(first)
            await send(ws, {"toolResponse": {"functionResponses": [
                {"id": call["id"], "name": "get_weather", "response": {"output": 1},
                 "scheduling": "SILENT"}]}})
            await send(ws, user_turn("thanks"))
            second = await until(ws, turn_complete)
            assert "thanks" in text_of(second)  # SILENT: nothing said about the result


async def test_scheduling_is_refused_on_vertex(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator, VERTEX, headers=(("authorization", "Bearer t"),)) as ws:
            await send(ws, {"setup": {"model": VERTEX_MODEL, "tools": [WEATHER], **TEXT}})
            await recv(ws)
            await send(ws, user_turn("get_weather"))
            call = (await recv(ws))["toolCall"]["functionCalls"][0]
            await send(ws, {"toolResponse": {"functionResponses": [
                {"id": call["id"], "name": "get_weather", "response": {},
                 "scheduling": "SILENT"}]}})
            code, reason = await closed_with(ws)
        assert code == 1007 and "scheduling" in reason


# --- barge-in -----------------------------------------------------------------------------


async def test_client_content_interrupts_a_pending_tool_call(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws, tools=[WEATHER], **TEXT)
            await send(ws, user_turn("get_weather"))
            call = (await recv(ws))["toolCall"]["functionCalls"][0]
            await send(ws, user_turn("never mind"))
            assert await recv(ws) == {"serverContent": {"interrupted": True}}
            assert await recv(ws) == {"toolCallCancellation": {"ids": [call["id"]]}}
            assert await recv(ws) == {"serverContent": {"turnComplete": True}}
            assert "never mind" in text_of(await until(ws, turn_complete))


@asynccontextmanager
async def connect_in_memory(nursery: trio.Nursery, **kwargs: Any,
                            ) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    """In memory, virtual time only moves when every task (both ends) is blocked."""
    emulator = LiveEmulator(**kwargs)
    await nursery.start(emulator.serve_in_memory)
    async with raw_websocket(emulator, "ws://x" + V1BETA, [("x-goog-api-key", KEY)]) as ws:
        yield ws


async def test_speech_interrupts_a_generation(
        nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(100):
        async with connect_in_memory(nursery, text_chunk_delay=10.0) as ws:
            await setup(ws, **TEXT)
            await send(ws, user_turn("tell me a long story"))
            assert "modelTurn" in (await recv(ws))["serverContent"]
            await send(ws, audio(speech_like_pcm(0.3)))
            messages = await until(ws, lambda m: "interrupted" in m.get("serverContent", {}))
            assert messages[-1] == {"serverContent": {"interrupted": True}}
            assert all("generationComplete" not in m.get("serverContent", {}) for m in messages)
            assert await recv(ws) == {"serverContent": {"turnComplete": True}}


async def test_no_interruption(nursery: trio.Nursery,
                               autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(100):
        async with connect_in_memory(nursery, text_chunk_delay=10.0) as ws:
            await setup(ws, realtimeInputConfig={"activityHandling": "NO_INTERRUPTION"}, **TEXT)
            await send(ws, user_turn("first"))
            head = await recv(ws)
            await send(ws, user_turn("second"))
            first = [head, *await until(ws, turn_complete)]
            second = await until(ws, turn_complete)
        assert all("interrupted" not in m.get("serverContent", {}) for m in first + second)
        assert "first" in text_of(first) and "second" in text_of(second)


# --- sessions -----------------------------------------------------------------------------


async def test_resumption_restores_the_conversation(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws, sessionResumption={}, **TEXT)
            await recv(ws)
            await send(ws, user_turn("one"))
            await until(ws, turn_complete)
            update = (await recv(ws))["sessionResumptionUpdate"]
            assert update["resumable"] is True
        handle = update["newHandle"]
        async with connect(emulator) as ws:
            await setup(ws, sessionResumption={"handle": handle}, **TEXT)
            await recv(ws)
            await send(ws, user_turn("two"))
            assert "turn 2 of" in text_of(await until(ws, turn_complete))
        first, second = emulator.connections
        assert first.session_key == second.session_key
        assert [m.get("clientContent", {}).get("turns", [{}])[0].get("parts")
                for m in emulator.received() if "clientContent" in m] == [
            [{"text": "one"}], [{"text": "two"}]]
        assert [h["text"] for h in emulator.history() if h["role"] == "user"] == ["one", "two"]


async def test_unknown_handle_is_refused(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await send(ws, {"setup": {"model": MODEL, "sessionResumption": {"handle": "nope"}}})
            assert (await closed_with(ws))[0] == 1007


async def test_transparent_resumption_on_vertex(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator, VERTEX, headers=(("authorization", "Bearer t"),)) as ws:
            await send(ws, {"setup": {"model": VERTEX_MODEL, "sessionResumption": {
                "transparent": True}, **TEXT}})
            await recv(ws)
            assert (await recv(ws))["sessionResumptionUpdate"][
                "lastConsumedClientMessageIndex"] == "0"
            await send(ws, user_turn("x"))
            messages = await until(ws, lambda m: "sessionResumptionUpdate" in m)
        assert messages[-1]["sessionResumptionUpdate"]["lastConsumedClientMessageIndex"] == "1"
        assert "candidatesTokenCount" in messages[-2]["usageMetadata"]


async def test_connection_lifetime_go_away_then_deadline_close(
        nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    # In memory: simulated time only moves when both ends are blocked (over TCP, the
    # autojump clock could jump while bytes are in the kernel).
    with trio.fail_after(100):
        async with connect_in_memory(nursery, connection_lifetime=30, go_away_notice=10) as ws:
            start_time = trio.current_time()
            await setup(ws)
            assert await recv(ws) == {"goAway": {"timeLeft": "10s"}}
            assert trio.current_time() - start_time == pytest.approx(20, abs=1e-6)
            code, reason = await closed_with(ws)
            assert trio.current_time() - start_time == pytest.approx(30, abs=1e-6)
        assert (code, reason) == (1011, "Deadline expired before operation could complete.")


# --- faults -------------------------------------------------------------------------------


async def test_drop_gives_1006(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws)
            await emulator.drop()
            assert (await closed_with(ws))[0] == 1006
        assert emulator.connections[0].close_code == 1006


async def test_close_raw_unknown_and_scheduled_faults(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        emulator.schedule_fault(Fault.close(1011, "Internal error occurred."),
                                after_client_messages=2)
        async with connect(emulator) as ws:
            await setup(ws, **TEXT)
            await emulator.send_raw("not json {")
            assert await ws.get_message() == "not json {"
            await emulator.inject(Fault.unknown_message())
            assert await recv(ws) == {"brandNewMessage": {"x": 1}}
            await send(ws, user_turn("hi"))  # the second client message: closed after it
            code, reason = await closed_with(ws)
        assert (code, reason) == (1011, "Internal error occurred.")


async def test_scheduled_drop_after_server_messages(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        emulator.schedule_fault(Fault.drop(), after_server_messages=3)
        async with connect(emulator) as ws:
            await setup(ws, **TEXT)
            await send(ws, user_turn("hi"))
            code, _ = await closed_with(ws)
        assert code == 1006
        assert len(emulator.connections[0].sent) == 3


async def test_pause_and_resume_sending(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws, **TEXT)
            emulator.pause()
            await send(ws, user_turn("hi"))
            await trio.testing.wait_all_tasks_blocked()
            assert len(emulator.connections[0].sent) == 1
            emulator.resume()
            await until(ws, turn_complete)


async def test_stop_reading(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await start(nursery)
        async with connect(emulator) as ws:
            await setup(ws, **TEXT)
            emulator.stop_reading()
            await send(ws, user_turn("hi"))
            await trio.testing.wait_all_tasks_blocked()
            assert len(emulator.connections[0].received) == 1
            emulator.resume_reading()
            await until(ws, turn_complete)
        assert len(emulator.connections[0].received) == 2


async def test_send_go_away_fault(nursery: trio.Nursery,
                                  autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(10):
        emulator = LiveEmulator()
        await nursery.start(emulator.serve_in_memory)
        async with raw_websocket(emulator, "ws://x" + V1BETA, [("x-goog-api-key", KEY)]
                                                ) as ws:
            await setup(ws)
            await emulator.send_go_away(2.5)
            assert await recv(ws) == {"goAway": {"timeLeft": "2.5s"}}
            sent_at = trio.current_time()
            assert (await closed_with(ws))[0] == 1011
            assert trio.current_time() - sent_at == pytest.approx(2.5, abs=1e-6)


# --- transports ---------------------------------------------------------------------------


async def test_wss_with_a_trustme_certificate(nursery: trio.Nursery) -> None:
    server_context, client_context = tls_contexts()
    with trio.fail_after(10):
        emulator = await start(nursery, ssl_context=server_context)
        assert emulator.url.startswith("wss://127.0.0.1:")
        async with connect(emulator, ssl_context=client_context) as ws:
            await setup(ws, **TEXT)
            await send(ws, user_turn("secure"))
            assert "secure" in text_of(await until(ws, turn_complete))
            await emulator.drop()
            assert (await closed_with(ws))[0] == 1006


async def test_wss_a_drop_just_before_the_emulator_closes_the_stream_leaves_it_serving(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by the chaos run over wss:// (tests/test_chaos.py, seed 567): the emulator's
    # trio-websocket reader had answered a close frame and was about to close the stream
    # when a drop fault closed the TCP socket under the TLS stream. Closing the TLS stream
    # then sent close_notify into the closed socket: ClosedResourceError came out of the
    # reader task and ended the emulator's serve().
    server_context, client_context = tls_contexts()
    original = trio_websocket.WebSocketConnection._close_stream
    dropped: list[int] = []

    async def drop_first(self: trio_websocket.WebSocketConnection) -> None:
        if self.is_server and not dropped:
            dropped.append(link.record.index)
            await link.drop()  # the fault lands just before the stream is closed
        await original(self)

    monkeypatch.setattr(trio_websocket.WebSocketConnection, "_close_stream", drop_first)
    with trio.fail_after(10):
        emulator = await start(nursery, ssl_context=server_context)
        async with connect(emulator, ssl_context=client_context) as ws:
            await setup(ws, **TEXT)
            link = emulator._links[0]
            # Leaving the block closes: the emulator answers, then closes its stream.
        await emulator.connections[0].closed.wait()
        assert dropped == [0]
        async with connect(emulator, ssl_context=client_context) as ws:
            await setup(ws, **TEXT)  # still serving
            await send(ws, user_turn("after"))
            assert "after" in text_of(await until(ws, turn_complete))


@pytest.mark.parametrize(
    "error",
    [trio.ClosedResourceError, trio.BrokenResourceError,
     lambda: trio_websocket.ConnectionClosed(None)],
)
async def test_a_client_gone_inside_the_connection_nursery_leaves_the_emulator_serving(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, error: Any
) -> None:
    # Raised inside _handle_stream's nursery, these come wrapped in an ExceptionGroup: they
    # must still count as "the client went away", not end serve().
    original = LiveEmulator._handle_request
    failed: list[bool] = []

    async def fail_once(self: LiveEmulator, request: Any, stream: Any) -> None:
        if not failed:
            failed.append(True)
            await request.reject(503)
            raise error()
        await original(self, request, stream)

    monkeypatch.setattr(LiveEmulator, "_handle_request", fail_once)
    with trio.fail_after(10):
        emulator = await start(nursery)
        with pytest.raises(trio_websocket.ConnectionRejected):
            async with connect(emulator):
                pass  # pragma: no cover
        async with connect(emulator) as ws:
            await setup(ws, **TEXT)  # still serving
            await send(ws, user_turn("after"))
            assert "after" in text_of(await until(ws, turn_complete))
    assert failed == [True]


async def test_in_memory_connections(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = LiveEmulator()
        await nursery.start(emulator.serve_in_memory)
        url = "ws://emulator" + V1BETA
        async with raw_websocket(emulator, url, [("x-goog-api-key", KEY)]) as ws:
            await setup(ws, **TEXT)
            await send(ws, user_turn("memory"))
            assert "memory" in text_of(await until(ws, turn_complete))
            await emulator.drop()
            assert (await closed_with(ws))[0] == 1006


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="connection_lifetime"):
        LiveEmulator(connection_lifetime=0)
    with pytest.raises(ValueError, match="handle_lifetime"):
        LiveEmulator(handle_lifetime=0)
    with pytest.raises(ValueError, match="exactly one"):
        LiveEmulator().schedule_fault(Fault.drop())
    with pytest.raises(LookupError):
        LiveEmulator().stop_reading()
