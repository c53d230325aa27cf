"""The emulator enforces each model's profile (PROTOCOL.md 9, issue 13) and sends the newer
server fields; raw frames over an in-memory WebSocket, and the current session where it
already has the call (``send_realtime_input(text=...)``, ``send_client_content``)."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio
import trio_websocket

from trio_gemini_live import LiveConfig, SessionClosedError
from trio_gemini_live import _wire as w
from trio_gemini_live import events as ev
from trio_gemini_live._config import encode_setup
from trio_gemini_live.models import (
    GEMINI_2_5_NATIVE_AUDIO,
    GEMINI_3_1_FLASH_LIVE,
    GEMINI_3_8_LIVE,
    ModelProfile,
    profile_for,
)
from trio_gemini_live.testing import LiveEmulator, speech_like_pcm

from .conftest import opening_error, raw_websocket
from .conftest import until as until_event

KEY = "test-api-key"
V1BETA = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
V1ALPHA = "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContent"
VERTEX = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
M25 = "gemini-2.5-flash-native-audio-preview-12-2025"
M31 = "gemini-3.1-flash-live-preview"
M38 = "gemini-3.8-live"
FAMILIES = [M25, M31, M38]
TEXT = {"generationConfig": {"responseModalities": ["TEXT"]}}
HISTORY_CONFIG = {"historyConfig": {"initialHistoryInClientContent": True}}
INVALID = (1007, "Request contains an invalid argument.")


async def serving(nursery: trio.Nursery, **kwargs: Any) -> LiveEmulator:
    emulator = LiveEmulator(**kwargs)
    await nursery.start(emulator.serve_in_memory)
    return emulator


@asynccontextmanager
async def connect(emulator: LiveEmulator, path: str = V1BETA,
                  ) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    headers = [("authorization", "Bearer t")] if "aiplatform" in path else [
        ("x-goog-api-key", KEY)]
    async with raw_websocket(emulator, "ws://emulator.invalid" + path, headers) as ws:
        yield ws


def api_version_of(path: str) -> str:
    if "aiplatform" in path:
        return "v1beta1"
    return path.split("generativelanguage.")[1].split(".")[0]


def wire_model(model: str, path: str = V1BETA) -> str:
    if "aiplatform" in path:
        return f"projects/p/locations/us-central1/publishers/google/models/{model}"
    return f"models/{model}"


async def send(ws: trio_websocket.WebSocketConnection, message: dict[str, Any]) -> None:
    await ws.send_message(json.dumps(message))


async def recv(ws: trio_websocket.WebSocketConnection) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.json.decode(await ws.get_message())
    return out


async def until(ws: trio_websocket.WebSocketConnection,
                stop: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    out = []
    while True:
        message = await recv(ws)
        out.append(message)
        if stop(message):
            return out


def turn_complete(message: dict[str, Any]) -> bool:
    return bool(message.get("serverContent", {}).get("turnComplete"))


async def setup(ws: trio_websocket.WebSocketConnection, model: str, path: str = V1BETA,
                **fields: Any) -> None:
    await send(ws, {"setup": {"model": wire_model(model, path), **fields}})
    first = await recv(ws)
    assert "setupComplete" in first, first


async def closed_with(ws: trio_websocket.WebSocketConnection) -> tuple[int, str]:
    with pytest.raises(trio_websocket.ConnectionClosed) as info:
        while True:
            await ws.get_message()
    return info.value.reason.code, info.value.reason.reason or ""


def text_of(messages: list[dict[str, Any]]) -> str:
    return "".join(
        part.get("text", "")
        for m in messages
        for part in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
    )


def history(*pairs: tuple[str, str], turn_complete: bool = False) -> dict[str, Any]:
    return {"clientContent": {"turns": [{"role": role, "parts": [{"text": text}]}
                                        for role, text in pairs],
                              "turnComplete": turn_complete}}


def typed(text: str) -> dict[str, Any]:
    return {"realtimeInput": {"text": text}}


def client_turn(text: str) -> dict[str, Any]:
    return history(("user", text), turn_complete=True)


def audio(pcm: bytes) -> dict[str, Any]:
    return {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000",
                                        "data": base64.b64encode(pcm).decode()}}}


# --- what every family accepts -----------------------------------------------------------------


@pytest.mark.parametrize("model", FAMILIES)
async def test_text_only(nursery: trio.Nursery, model: str) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, model, **TEXT)
            await send(ws, typed("Hello"))
            messages = await until(ws, turn_complete)
    assert text_of(messages) == 'I heard: "Hello". This is turn 1 of our conversation.'
    last = messages[-1]["serverContent"]
    if profile_for(model).bundled_server_content:
        assert last == {"turnComplete": True, "interactionStatus": "IDLE"}
    else:
        assert last == {"turnComplete": True}


@pytest.mark.parametrize("model", FAMILIES)
async def test_history_then_text(nursery: trio.Nursery, model: str) -> None:
    # The history right after setupComplete, with historyConfig where the model needs it
    # (the setup ModelProfile.history_setup builds), then realtime text.
    setup_fields = {**TEXT}
    if profile_for(model).history_needs_config:
        setup_fields.update(HISTORY_CONFIG)
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, model, **setup_fields)
            await send(ws, history(("user", "My name is Ada."), ("model", "Hello Ada.")))
            await send(ws, history(("user", "I like trio.")))
            await send(ws, typed("What is my name?"))
            messages = await until(ws, turn_complete)
        assert text_of(messages) == (
            'I heard: "I like trio. What is my name?". This is turn 1 of our conversation.')
        assert emulator.history()[:2] == [{"role": "user", "text": "My name is Ada."},
                                          {"role": "model", "text": "Hello Ada."}]


@pytest.mark.parametrize("model", FAMILIES)
async def test_history_with_turn_complete_is_answered(nursery: trio.Nursery,
                                                      model: str) -> None:
    setup_fields = {**TEXT, **HISTORY_CONFIG}
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, model, **setup_fields)
            await send(ws, history(("user", "Hi, I am back."), turn_complete=True))
            messages = await until(ws, turn_complete)
            assert '"Hi, I am back."' in text_of(messages)
            if profile_for(model).mid_session_client_content:
                return
            # The history is over once answered: more clientContent is mid-session.
            await send(ws, client_turn("again"))
            assert await closed_with(ws) == INVALID


# --- what each family refuses, and how the connection ends --------------------------------------


@pytest.mark.parametrize("model", [M31, M38])
async def test_mid_session_client_content_is_refused_on_3x(nursery: trio.Nursery,
                                                           model: str) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, model, **TEXT)
            await send(ws, typed("Hello"))
            await until(ws, turn_complete)
            await send(ws, client_turn("and now as clientContent"))
            assert await closed_with(ws) == INVALID
        assert emulator.connections[0].close_code == 1007


async def test_mid_session_client_content_is_fine_on_2_5(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, M25, **TEXT)
            await send(ws, typed("Hello"))
            await until(ws, turn_complete)
            await send(ws, client_turn("again"))
            messages = await until(ws, turn_complete)
    assert "turn 2 of" in text_of(messages)


@pytest.mark.parametrize("model", [M31, M38])
async def test_history_without_history_config_is_refused_on_3x(nursery: trio.Nursery,
                                                               model: str) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, model, **TEXT)
            await send(ws, history(("user", "Earlier"), ("model", "Yes")))
            assert await closed_with(ws) == INVALID


@pytest.mark.parametrize("model", [M31, M38])
@pytest.mark.parametrize("first", [typed("hi"), audio(bytes(3200))], ids=["text", "audio"])
async def test_realtime_input_before_the_announced_history_is_refused(
        nursery: trio.Nursery, model: str, first: dict[str, Any]) -> None:
    # pipecat #4171: with historyConfig set, the history must come first.
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, model, **TEXT, **HISTORY_CONFIG)
            await send(ws, first)
            assert await closed_with(ws) == INVALID


async def test_2_5_takes_realtime_input_before_history(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, M25, **TEXT, **HISTORY_CONFIG)
            await send(ws, typed("hi"))
            await until(ws, turn_complete)
            await send(ws, history(("user", "late history")))
            await send(ws, typed("next"))
            assert "late history next" in text_of(await until(ws, turn_complete))


@pytest.mark.parametrize("model", FAMILIES)
async def test_media_chunks(nursery: trio.Nursery, model: str) -> None:
    chunk = {"realtimeInput": {"mediaChunks": [{"mimeType": "audio/pcm;rate=16000",
                                                "data": base64.b64encode(bytes(320)).decode()}]}}
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, model, **TEXT)
            await send(ws, chunk)
            if profile_for(model).media_chunks:
                await send(ws, typed("still there?"))
                assert "still there?" in text_of(await until(ws, turn_complete))
            else:
                assert await closed_with(ws) == INVALID


@pytest.mark.parametrize("model", FAMILIES)
async def test_null_resumption_handle(nursery: trio.Nursery, model: str) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await send(ws, {"setup": {"model": wire_model(model),
                                      "sessionResumption": {"handle": None}}})
            if profile_for(model).null_resumption_handle:
                assert "setupComplete" in await recv(ws)
            else:
                assert await closed_with(ws) == INVALID


#: (model, API path, setup fields, expected close): each refused by the model's profile.
REFUSED_SETUPS: list[tuple[str, str, dict[str, Any], tuple[int, str]]] = [
    (M31, V1BETA, {"tools": [{"functionDeclarations": [
        {"name": "lookup", "behavior": "NON_BLOCKING"}]}]}, INVALID),
    (M31, V1BETA, {"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}, INVALID),
    (M31, V1BETA, {"generationConfig": {"thinkingConfig": {"thinkingLevel": "XHIGH"}}},
     INVALID),
    (M31, V1ALPHA, {"proactivity": {"proactiveAudio": True}}, INVALID),
    (M31, V1BETA, {"proactivity": {"proactiveAudio": True}}, INVALID),
    (M31, V1ALPHA, {"generationConfig": {"enableAffectiveDialog": True}}, INVALID),
    (M38, V1ALPHA, {"proactivity": {"proactiveAudio": True}}, INVALID),
    (M38, V1BETA, {"generationConfig": {"thinkingConfig": {"thinkingBudget": 512}}}, INVALID),
    (M25, V1BETA, {"generationConfig": {"thinkingConfig": {"thinkingLevel": "LOW"}}}, INVALID),
    # The v1beta proto has no such field (PROTOCOL.md 1: v1alpha).
    (M25, V1BETA, {"proactivity": {"proactiveAudio": True}},
     (1007, "Invalid JSON payload received. Unknown name \"proactivity\" at 'setup': "
            "Cannot find field.")),
    (M25, V1BETA, {"generationConfig": {"enableAffectiveDialog": True}},
     (1007, "Invalid JSON payload received. Unknown name \"enableAffectiveDialog\" at "
            "'setup.generation_config': Cannot find field.")),
    (M31, VERTEX, {"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}, INVALID),
]


@pytest.mark.parametrize(("model", "path", "fields", "expected"), REFUSED_SETUPS)
async def test_refused_setups(nursery: trio.Nursery, model: str, path: str,
                              fields: dict[str, Any], expected: tuple[int, str]) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator, path) as ws:
            await send(ws, {"setup": {"model": wire_model(model, path), **fields}})
            assert await closed_with(ws) == expected
    # The same data refuses it in the client, before connecting (ModelProfile.check_setup).
    typed_setup = msgspec.convert({"model": wire_model(model, path), **fields}, w.Setup)
    with pytest.raises(ValueError, match=f"^{model} "):
        profile_for(model).check_setup(typed_setup, api_version=api_version_of(path),
                                       vertex="aiplatform" in path)


@pytest.mark.parametrize(
    ("model", "path", "fields"),
    [
        (M25, V1ALPHA, {"proactivity": {"proactiveAudio": True},
                        "generationConfig": {"enableAffectiveDialog": True}}),
        (M25, VERTEX, {"proactivity": {"proactiveAudio": True}}),
        (M25, V1BETA, {"tools": [{"functionDeclarations": [
            {"name": "lookup", "behavior": "NON_BLOCKING"}]}]}),
        (M31, V1BETA, {"generationConfig": {"thinkingConfig": {"thinkingLevel": "MINIMAL"}}}),
        (M38, V1BETA, {"tools": [{"functionDeclarations": [
            {"name": "lookup", "behavior": "NON_BLOCKING"}]}]}),
    ],
)
async def test_accepted_setups(nursery: trio.Nursery, model: str, path: str,
                               fields: dict[str, Any]) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator, path) as ws:
            await setup(ws, model, path, **fields)


async def test_fields_of_the_other_backend(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator, VERTEX) as ws:
            await send(ws, {"setup": {"model": wire_model(M25, VERTEX), "labels": {"a": "b"}}})
            assert await closed_with(ws) == (
                1007, "Invalid JSON payload received. Unknown name \"labels\" at 'setup': "
                      "Cannot find field.")
        async with connect(emulator) as ws:
            await send(ws, {"setup": {"model": wire_model(M25), "tools": [
                {"googleSearch": {"excludeDomains": ["a.com"]}}]}})
            assert await closed_with(ws) == (
                1007, "Invalid JSON payload received. Unknown name \"excludeDomains\" at "
                      "'setup.tools[0].google_search': Cannot find field.")


# --- model_rules: a test changes a rule ---------------------------------------------------------


async def test_model_rules_relax_a_rule(nursery: trio.Nursery) -> None:
    relaxed = dataclasses.replace(GEMINI_3_1_FLASH_LIVE, mid_session_client_content=True)
    with trio.fail_after(10):
        emulator = await serving(nursery, model_rules={f"models/{M31}": relaxed})
        assert emulator.rules_for(M31) is relaxed
        assert emulator.rules_for(M38) is GEMINI_3_8_LIVE
        async with connect(emulator) as ws:
            await setup(ws, M31, **TEXT)
            await send(ws, client_turn("mid-session, allowed now"))
            assert "allowed now" in text_of(await until(ws, turn_complete))


async def test_model_rules_serve_a_new_model(nursery: trio.Nursery) -> None:
    preview = dataclasses.replace(GEMINI_3_8_LIVE, family="4.0 preview",
                                  proactive_audio="v1alpha")
    with trio.fail_after(10):
        emulator = await serving(nursery, model_rules={"gemini-4.0-live-preview": preview})
        async with connect(emulator, V1ALPHA) as ws:
            await setup(ws, "gemini-4.0-live-preview", V1ALPHA,
                        proactivity={"proactiveAudio": True})


def test_model_rules_must_be_profiles() -> None:
    with pytest.raises(TypeError, match="ModelProfile"):
        LiveEmulator(model_rules={M31: {"mid_session_client_content": True}})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="accept_fields"):
        LiveEmulator(accept_fields="setup.x")


# --- contextUpdate (PROTOCOL.md 3.5) ------------------------------------------------------------


@pytest.mark.parametrize("model", [M25, M31])
async def test_context_update_is_refused_before_3_8(nursery: trio.Nursery, model: str) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, model, **TEXT)
            await send(ws, {"contextUpdate": {"systemInstruction": {"parts": [{"text": "x"}]}}})
            assert await closed_with(ws) == INVALID


async def test_context_update_changes_instructions_and_tools(nursery: trio.Nursery) -> None:
    weather = {"functionDeclarations": [{"name": "get_weather", "behavior": "BLOCKING"}]}
    refund = {"functionDeclarations": [{"name": "refund", "behavior": "BLOCKING"}]}
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, M38, **TEXT, tools=[weather],
                        systemInstruction={"parts": [{"text": "Be a weatherman."}]})
            await send(ws, typed("What are your instructions?"))
            assert text_of(await until(ws, turn_complete)) == (
                'My instructions are: "Be a weatherman.".')
            await send(ws, {"contextUpdate": {
                "systemInstruction": {"parts": [{"text": "You are now a billing expert."}]},
                "tools": {"tools": [refund]}}})
            await send(ws, typed("What are your instructions?"))
            assert text_of(await until(ws, turn_complete)) == (
                'My instructions are: "You are now a billing expert.".')
            # The new tool is called; the old one is gone.
            await send(ws, typed("get_weather then refund"))
            call = await recv(ws)
            assert [c["name"] for c in call["toolCall"]["functionCalls"]] == ["refund"]
            await send(ws, {"toolResponse": {"functionResponses": [{
                "id": call["toolCall"]["functionCalls"][0]["id"], "name": "refund",
                "response": {"output": "done"}}]}})
            assert "The result of refund" in text_of(await until(ws, turn_complete))
            # "tools": {"tools": []} removes every tool.
            await send(ws, {"contextUpdate": {"tools": {"tools": []}}})
            await send(ws, typed("refund please"))
            assert "I heard" in text_of(await until(ws, turn_complete))


async def test_context_update_tools_follow_the_model_rules(nursery: trio.Nursery) -> None:
    # A 3.1 that takes contextUpdate still refuses NON_BLOCKING in it.
    profile = dataclasses.replace(GEMINI_3_1_FLASH_LIVE, context_update=True)
    with trio.fail_after(10):
        emulator = await serving(nursery, model_rules={M31: profile})
        async with connect(emulator) as ws:
            await setup(ws, M31, **TEXT)
            await send(ws, {"contextUpdate": {"tools": {"tools": [{"functionDeclarations": [
                {"name": "f", "behavior": "NON_BLOCKING"}]}]}}})
            assert await closed_with(ws) == INVALID


# --- the newer server fields --------------------------------------------------------------------


def content_keys(messages: list[dict[str, Any]]) -> list[str]:
    return [key for m in messages for key in m.get("serverContent", {})]


@pytest.mark.parametrize("model", FAMILIES)
async def test_audio_turn_messages_by_family(nursery: trio.Nursery, model: str) -> None:
    pcm = speech_like_pcm(1.2, lead_silence=0.1, trail_silence=0.8)
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, model, inputAudioTranscription={}, outputAudioTranscription={})
            for i in range(0, len(pcm), 3200):
                await send(ws, audio(pcm[i : i + 3200]))
            messages = await until(ws, turn_complete)
    interim = [m["serverContent"]["interimInputTranscription"]["text"] for m in messages
               if "interimInputTranscription" in m.get("serverContent", {})]
    bundled_audio = [m for m in messages if {"modelTurn", "outputTranscription"} <= set(
        m.get("serverContent", {}))]
    if profile_for(model).bundled_server_content:
        # 3.x: interim transcripts while the user speaks, each word's transcript with its
        # first audio chunk, interactionStatus with turnComplete.
        # Every half second of the utterance (its silence hangover included).
        assert len(interim) >= 2
        assert interim == [f"[audio {0.5 * k:.1f}s]" for k in range(1, len(interim) + 1)]
        assert bundled_audio
        assert all("outputTranscription" not in m.get("serverContent", {})
                   or "modelTurn" in m["serverContent"] for m in messages)
        assert messages[-1]["serverContent"]["interactionStatus"] == "IDLE"
    else:
        assert interim == [] and bundled_audio == []
        assert "interactionStatus" not in content_keys(messages)


@pytest.mark.parametrize("model", [M31, M38])
async def test_waiting_for_input(nursery: trio.Nursery, model: str) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, model, **TEXT)
            await send(ws, typed("I would like to..."))
            assert await recv(ws) == {"serverContent": {"waitingForInput": True}}
            await send(ws, typed("book a table"))
            messages = await until(ws, turn_complete)
    assert '"I would like to book a table"' in text_of(messages)


async def test_async_tool_on_3_8_keeps_the_interaction_in_progress(
        nursery: trio.Nursery) -> None:
    # PROTOCOL.md 9: 3.8 runs a function declared without behavior asynchronously.
    tool = {"functionDeclarations": [{"name": "lookup"}]}
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, M38, **TEXT, tools=[tool])
            await send(ws, typed("lookup the answer"))
            call = (await recv(ws))["toolCall"]["functionCalls"][0]
            first = await until(ws, turn_complete)
            assert "in the background" in text_of(first)
            assert first[-1]["serverContent"]["interactionStatus"] == "IN_PROGRESS"
            await send(ws, {"toolResponse": {"functionResponses": [{
                "id": call["id"], "name": "lookup", "response": {"output": 42}}]}})
            second = await until(ws, turn_complete)
    assert text_of(second) == 'The result of lookup is {"output": 42}.'
    assert second[-1]["serverContent"]["interactionStatus"] == "IDLE"


async def test_declared_blocking_is_honoured_on_3_8(nursery: trio.Nursery) -> None:
    tool = {"functionDeclarations": [{"name": "lookup", "behavior": "BLOCKING"}]}
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, M38, **TEXT, tools=[tool])
            await send(ws, typed("lookup"))
            call = (await recv(ws))["toolCall"]["functionCalls"][0]
            # The model waits: nothing until the answer.
            with trio.move_on_after(0.2):
                extra = await recv(ws)
                pytest.fail(f"the model did not wait for the blocking call: {extra}")
            await send(ws, {"toolResponse": {"functionResponses": [{
                "id": call["id"], "name": "lookup", "response": {"output": 1}}]}})
            assert "The result of lookup" in text_of(await until(ws, turn_complete))


@pytest.mark.parametrize("model", FAMILIES)
async def test_code_execution_parts(nursery: trio.Nursery, model: str) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, model, **TEXT, tools=[{"codeExecution": {}}])
            await send(ws, typed("run some code"))
            messages = await until(ws, turn_complete)
    parts = [p for m in messages
             for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])]
    assert parts[0] == {"executableCode": {"language": "PYTHON", "code": "print('run some code')"}}
    assert parts[1] == {"codeExecutionResult": {"outcome": "OUTCOME_OK",
                                                "output": "run some code\n"}}
    assert text_of(messages).startswith('I heard: "run some code"')


async def test_no_code_execution_without_the_tool(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with connect(emulator) as ws:
            await setup(ws, M38, **TEXT)
            await send(ws, typed("run some code"))
            messages = await until(ws, turn_complete)
    assert "executableCode" not in json.dumps(messages)


# --- LiveConfig(extra=...) against the emulator -------------------------------------------------


async def test_extra_fields_need_accept_fields(nursery: trio.Nursery) -> None:
    config = LiveConfig(response_modalities=["TEXT"],
                        extra={"generationConfig": {"brandNewKnob": 3},
                               "tools": [{"mcpServers": [{"name": "m"}]}]})
    frame = encode_setup(config.to_setup(f"models/{M38}"), config.extra)
    with trio.fail_after(10):
        strict = await serving(nursery)
        async with connect(strict) as ws:
            await ws.send_message(frame.decode())
            code, reason = await closed_with(ws)
        assert code == 1007 and 'Unknown name "brandNewKnob"' in reason
        told = await serving(nursery, accept_fields={
            "setup.generationConfig.brandNewKnob", "setup.tools.mcpServers"})
        async with connect(told) as ws:
            await ws.send_message(frame.decode())
            assert "setupComplete" in await recv(ws)
            await send(ws, typed("hi"))
            assert "hi" in text_of(await until(ws, turn_complete))
        assert told.connections[0].setup is not None
        assert told.connections[0].setup["generationConfig"]["brandNewKnob"] == 3


# --- the current session against each family ------------------------------------------------------


@pytest.mark.parametrize("model", FAMILIES)
async def test_session_text_turn_events_in_order(nursery: trio.Nursery, model: str) -> None:
    emulator = await serving(nursery)
    with trio.fail_after(10):
        async with emulator.open_session(nursery, model=model, in_memory=True,
                                         config=LiveConfig(response_modalities=["TEXT"])
                                         ) as session:
            await session.send_realtime_input(text="Hello")
            events: list[ev.Event] = []
            async for event in session.events():
                events.append(event)
                if isinstance(event, ev.TurnMetrics) and not profile_for(
                        model).bundled_server_content:
                    break
                if isinstance(event, ev.InteractionStatus):
                    break
    kinds = [type(e) for e in events if not isinstance(e, ev.TextChunk)]
    # TurnMetrics: the session's own event, right after the TurnComplete it measures.
    expected: list[type] = [ev.SetupComplete, ev.GenerationComplete, ev.UsageUpdate,
                            ev.TurnComplete, ev.TurnMetrics]
    if profile_for(model).bundled_server_content:
        expected.append(ev.InteractionStatus)
        assert events[-1] == ev.InteractionStatus(status="IDLE")
    assert kinds == expected


@pytest.mark.parametrize("model", [M31, M38])
async def test_session_refuses_mid_session_client_content_on_3x_and_goes_on(
        nursery: trio.Nursery, model: str) -> None:
    # Issue 13: Google answers it with a fatal 1007 (what users hit in March 2026); the
    # session refuses it before sending, with what to do instead, and stays usable.
    emulator = LiveEmulator()
    await nursery.start(emulator.serve)
    with trio.fail_after(10):
        async with emulator.open_session(nursery, model=model,
                                         config=LiveConfig(response_modalities=["TEXT"])
                                         ) as session:
            with pytest.raises(ValueError, match=r"clientContent.*send_text\(\)"):
                await session.send_client_content("more")
            await session.send_text("Hello")
            events = await until_event(session, ev.TurnComplete)
    assert any(isinstance(e, ev.TextChunk) for e in events)
    assert not [m for m in emulator.connections[0].received if "clientContent" in m]


@pytest.mark.parametrize("model", [M31, M38])
async def test_the_emulator_still_closes_1007_when_a_profile_lets_it_through(
        nursery: trio.Nursery, model: str) -> None:
    # A user profile that allows mid-session clientContent (profile=): the strict emulator
    # answers as Google did at launch, with 1007, classified as fatal.
    emulator = LiveEmulator()
    await nursery.start(emulator.serve)
    relaxed = dataclasses.replace(profile_for(model), mid_session_client_content=True)
    with trio.fail_after(10):
        async with emulator.open_session(nursery, model=model, profile=relaxed,
                                         config=LiveConfig(response_modalities=["TEXT"])
                                         ) as session:
            await session.send_text("Hello")
            await session.send_client_content("more")
            with pytest.raises(SessionClosedError) as info:
                async for _ in session.events():
                    pass
    assert info.value.code == 1007


async def test_session_with_a_refused_setup_fails_before_connecting(
        nursery: trio.Nursery) -> None:
    emulator = await serving(nursery)
    config = LiveConfig(thinking_config={"thinking_budget": 0})
    with trio.fail_after(10), pytest.raises(ValueError, match="thinking"):
        async with emulator.open_session(nursery, model=M31, in_memory=True, config=config):
            pass
    assert emulator.connections == []  # nothing was sent
    # With a profile that lets it through, the emulator refuses it as Google does.
    relaxed = dataclasses.replace(profile_for(M31), thinking="budget", thinking_levels=frozenset())
    with trio.fail_after(10):
        error = await opening_error(emulator.open_session(
            nursery, model=M31, in_memory=True, config=config, profile=relaxed))
    assert isinstance(error, SessionClosedError) and error.code == 1007


def test_every_built_in_profile_is_what_the_emulator_applies() -> None:
    emulator = LiveEmulator()
    for profile in (GEMINI_2_5_NATIVE_AUDIO, GEMINI_3_1_FLASH_LIVE, GEMINI_3_8_LIVE):
        for model in profile.models:
            assert emulator.rules_for(model) is profile
    assert isinstance(emulator.rules_for("gemini-9-live"), ModelProfile)


async def test_a_refused_frame_while_the_model_talks_closes_with_its_code(
        nursery: trio.Nursery) -> None:
    # Regression: the emulator's sender, finding the connection closing under it, cancelled
    # the connection before the close frame was out: the client saw 1006 ("no close
    # frame", transient: retried) instead of the refusal's 1007, about every other time.
    emulator = await serving(nursery)
    # The session refuses the frame itself (issue 13): a profile that lets it through.
    relaxed = dataclasses.replace(profile_for(M38), mid_session_client_content=True)
    for _ in range(8):
        with trio.fail_after(10):
            error = None
            try:
                async with emulator.open_session(
                        nursery, model=M38, in_memory=True, profile=relaxed,
                        config=LiveConfig(response_modalities=["TEXT"])) as session:
                    await session.send_realtime_input(text="Hello there, a long answer")
                    await session.send_client_content("refused mid-session")
                    async for _event in session.events():
                        pass
            except SessionClosedError as exc:
                error = exc
        assert error is not None and error.code == 1007, error
    assert [c.close_code for c in emulator.connections] == [1007] * 8
