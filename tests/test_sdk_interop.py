"""The official google-genai SDK (asyncio) holds conversations with the emulator over wss://.

The emulator runs under ``trio.run`` in a background thread, bound to a free loopback port
with a trustme certificate; the SDK runs under ``asyncio.run`` in the test's thread and is
told to trust the trustme CA through ``HttpOptions.async_client_args={"ssl": context}``
(the SDK passes it to ``websockets.connect``; no system state is touched).

Every frame the emulator sends must validate against the SDK's strict pydantic model
``types.LiveServerMessage`` (``extra='forbid'``), with one documented exception:
PROTOCOL.md 4 names the kind of a ``voiceActivity`` ``type`` while the SDK's model has
``voiceActivityType``; PROTOCOL.md decides what the emulator sends, and the SDK's runtime
parsing (``_from_response``) is lenient about it (the audio test below proves it), so the
check renames that one field before validating.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trio

genai = pytest.importorskip("google.genai")
from google.genai import _live_converters, types  # noqa: E402

from trio_gemini_live.testing import LiveEmulator, speech_like_pcm  # noqa: E402

from .conftest import tls_contexts  # noqa: E402

KEY = "test-api-key"
MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
WEATHER = types.Tool(function_declarations=[types.FunctionDeclaration(
    name="get_weather", description="The weather in a city",
    parameters=types.Schema(type=types.Type.OBJECT, properties={
        "city": types.Schema(type=types.Type.STRING),
        "days": types.Schema(type=types.Type.INTEGER)}, required=["city"]))])
SDK_TIMEOUT = 20


class EmulatorThread:
    """A :class:`LiveEmulator` served over wss:// by ``trio.run`` in a background thread."""

    def __init__(self, **kwargs: Any) -> None:
        server, self.client_ssl = tls_contexts()
        self.emulator = LiveEmulator(ssl_context=server, **kwargs)
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # reported by stop()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        with trio.CancelScope() as scope:
            self._scope = scope
            self._token = trio.lowlevel.current_trio_token()
            async with trio.open_nursery() as nursery:
                await nursery.start(self.emulator.serve)
                self._ready.set()

    def __enter__(self) -> EmulatorThread:
        self._thread.start()
        assert self._ready.wait(10), "the emulator did not start"
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._scope is not None and self._token is not None:
            scope = self._scope
            try:
                trio.from_thread.run_sync(scope.cancel, trio_token=self._token)
            except trio.RunFinishedError:
                pass
        self._thread.join(10)
        assert not self._thread.is_alive()
        if self._error is not None:
            raise self._error

    def client(self) -> Any:
        return genai.Client(api_key=KEY, http_options=types.HttpOptions(
            base_url=f"https://127.0.0.1:{self.emulator.port}",
            async_client_args={"ssl": self.client_ssl}))


@pytest.fixture
def served() -> Iterator[EmulatorThread]:
    with EmulatorThread() as thread:
        yield thread
    check_schema(thread.emulator)


def run(coro: Any) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, SDK_TIMEOUT)

    return asyncio.run(bounded())


def check_schema(emulator: LiveEmulator) -> None:
    """Every frame the emulator sent is known to the SDK's strict schema (module docstring)."""
    count = 0
    for record in emulator.connections:
        for frame in record.sent:
            assert isinstance(frame, bytes), "JSON in binary frames (PROTOCOL.md 2)"
            message = json.loads(frame)
            activity = message.get("voiceActivity")
            if activity is not None and "type" in activity:
                activity["voiceActivityType"] = activity.pop("type")
            if record.backend == "vertex":
                message = _live_converters._LiveServerMessage_from_vertex(message)
            types.LiveServerMessage.model_validate_json(json.dumps(message))
            count += 1
    assert count > 0


async def collect_turn(session: Any) -> list[Any]:
    out = []
    async for message in session.receive():  # the SDK's receive() ends at turnComplete
        out.append(message)
    return out


def test_text_turn_with_usage_and_resumption(served: EmulatorThread) -> None:
    async def conversation() -> tuple[list[Any], list[Any]]:
        client = served.client()
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.TEXT],
            session_resumption=types.SessionResumptionConfig())
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text="Hello")]))
            first = await collect_turn(session)
            handle_message = await anext(session.receive().__aiter__())
        handle = handle_message.session_resumption_update.new_handle
        config.session_resumption = types.SessionResumptionConfig(handle=handle)
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            await session.send_realtime_input(text="again")
            second = await collect_turn(session)
        return first, second

    first, second = run(conversation())
    assert "".join(m.text or "" for m in first) == (
        'I heard: "Hello". This is turn 1 of our conversation.')
    usage = first[-1].usage_metadata
    assert usage.prompt_token_count and usage.response_token_count
    assert usage.total_token_count == usage.prompt_token_count + usage.response_token_count
    assert first[-1].server_content.turn_complete
    assert "turn 2 of" in "".join(m.text or "" for m in second)
    one, two = served.emulator.connections
    assert one.session_key == two.session_key
    assert one.headers["user-agent"].startswith("google-genai-sdk/")


def test_tool_call(served: EmulatorThread) -> None:
    async def conversation() -> list[Any]:
        config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT],
                                         tools=[WEATHER])
        async with served.client().aio.live.connect(model=MODEL, config=config) as session:
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text="get_weather now")]))
            messages = []
            async for message in session.receive():
                messages.append(message)
                if message.tool_call:
                    call = message.tool_call.function_calls[0]
                    assert call.args == {"city": "city", "days": 1}
                    await session.send_tool_response(function_responses=[types.FunctionResponse(
                        id=call.id, name=call.name, response={"output": {"temp": 21}})])
            return messages

    messages = run(conversation())
    assert messages[0].tool_call.function_calls[0].name == "get_weather"
    assert "".join(m.text or "" for m in messages) == (
        'The result of get_weather is {"output": {"temp": 21}}.')
    tool_response = served.emulator.connections[0].received[2]
    assert tool_response["toolResponse"]["functionResponses"][0]["response"] == {
        "output": {"temp": 21}}


def test_audio_turn_with_transcription(served: EmulatorThread) -> None:
    pcm = speech_like_pcm(1.0, lead_silence=0.1, trail_silence=0.8)

    async def conversation() -> list[Any]:
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.AUDIO],
            input_audio_transcription=types.AudioTranscriptionConfig(),
            output_audio_transcription=types.AudioTranscriptionConfig(),
            speech_config=types.SpeechConfig(voice_config=types.VoiceConfig(
                prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Puck"))))
        async with served.client().aio.live.connect(model=MODEL, config=config) as session:
            for i in range(0, len(pcm), 2048):  # 64 ms chunks, as Google's cookbook
                await session.send_realtime_input(audio=types.Blob(
                    data=pcm[i : i + 2048], mime_type="audio/pcm;rate=16000"))
            return await collect_turn(session)

    messages = run(conversation())
    heard = "".join(m.server_content.input_transcription.text for m in messages
                    if m.server_content and m.server_content.input_transcription)
    said = "".join(m.server_content.output_transcription.text for m in messages
                   if m.server_content and m.server_content.output_transcription)
    audio = b"".join(m.data for m in messages if m.data)
    assert heard.startswith("[audio 1.")
    assert said == f'I heard: "{heard}". This is turn 1 of our conversation.'
    assert len(audio) > 24000 and len(audio) % 2 == 0
    assert any(m.voice_activity is not None for m in messages)  # parsed, not choked on
    sent = served.emulator.connections[0].received
    assert base64.b64decode(sent[1]["realtimeInput"]["audio"]["data"]) == pcm[:2048]


def test_every_other_server_message_is_known_to_the_sdk() -> None:
    """goAway, interruption, cancellation, manual activity, Vertex usage: schema-checked."""

    async def scenario(emulator: LiveEmulator) -> None:
        import trio_websocket

        def open_ws(path: str, headers: list[tuple[bytes, bytes]]) -> Any:
            # This emulator has no TLS: its url is ws://.
            return trio_websocket.open_websocket_url(emulator.url + path, extra_headers=headers)

        gemini = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
        async with open_ws(gemini, [(b"x-goog-api-key", KEY.encode())]) as ws:
            await ws.send_message(json.dumps({"setup": {
                "model": f"models/{MODEL}", "tools": [{"functionDeclarations": [
                    {"name": "get_weather"}]}], "sessionResumption": {},
                "generationConfig": {"responseModalities": ["TEXT"]},
                "realtimeInputConfig": {"automaticActivityDetection": {"disabled": True}}}}))
            await ws.get_message()
            await ws.get_message()
            await ws.send_message(json.dumps({"realtimeInput": {"text": "get_weather"}}))
            await ws.get_message()  # toolCall
            await ws.send_message(json.dumps({"realtimeInput": {"activityStart": {}}}))
            while b"turnComplete" not in await ws.get_message():
                pass
            await emulator.send_go_away(0.01)
            with pytest.raises(trio_websocket.ConnectionClosed):
                while True:
                    await ws.get_message()
        vertex = "/ws/google.cloud.aiplatform.v1.LlmBidiService/BidiGenerateContent"
        async with open_ws(vertex, [(b"authorization", b"Bearer t")]) as ws:
            await ws.send_message(json.dumps({"setup": {
                "model": "projects/p/locations/l/publishers/google/models/"
                         "gemini-live-2.5-flash-native-audio",
                "sessionResumption": {"transparent": True}}}))
            await ws.get_message()
            await ws.send_message(json.dumps({"realtimeInput": {"text": "hi"}}))
            while b"turnComplete" not in await ws.get_message():
                pass

    async def main() -> None:
        emulator = LiveEmulator()
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                await nursery.start(emulator.serve)
                await scenario(emulator)
                nursery.cancel_scope.cancel()
        check_schema(emulator)
        kinds = {key for record in emulator.connections
                 for message in record.sent_messages() for key in message}
        assert {"goAway", "toolCallCancellation", "sessionResumptionUpdate", "usageMetadata",
                "setupComplete", "toolCall", "serverContent"} <= kinds

    trio.run(main)


def test_a_3_8_session_with_the_sdk(served: EmulatorThread) -> None:
    """The SDK against the emulator's 3.8 rules (issue 13): realtime text, an asynchronous
    tool (its turnComplete with interactionStatus IN_PROGRESS does not end the SDK's
    receive(); the answer's IDLE does), a context update in the SDK's own shape, interim
    transcripts and bundled audio; every frame is checked against the SDK's schema."""
    lookup = types.Tool(function_declarations=[types.FunctionDeclaration(name="lookup")])
    pcm = speech_like_pcm(1.0, lead_silence=0.1, trail_silence=0.8)

    async def conversation() -> tuple[list[Any], list[Any], list[Any]]:
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.AUDIO], tools=[lookup],
            input_audio_transcription=types.AudioTranscriptionConfig(),
            output_audio_transcription=types.AudioTranscriptionConfig())
        async with served.client().aio.live.connect(model="gemini-3.8-live",
                                                    config=config) as session:
            await session.send_realtime_input(text="lookup the answer")
            tool_turn = []
            async for message in session.receive():
                tool_turn.append(message)
                if message.tool_call:
                    call = message.tool_call.function_calls[0]
                elif (message.server_content and message.server_content.turn_complete
                        and message.server_content.interaction_status
                        == types.InteractionStatus.IN_PROGRESS):
                    await session.send_tool_response(function_responses=[
                        types.FunctionResponse(id=call.id, name=call.name,
                                               response={"output": 42})])
            await session.send_context_update(
                system_instruction="You are a librarian.", tools=[])
            await session.send_realtime_input(text="what are your instructions?")
            instructions = await collect_turn(session)
            for i in range(0, len(pcm), 2048):
                await session.send_realtime_input(audio=types.Blob(
                    data=pcm[i : i + 2048], mime_type="audio/pcm;rate=16000"))
            spoken = await collect_turn(session)
        return tool_turn, instructions, spoken

    tool_turn, instructions, spoken = run(conversation())
    said = "".join(m.server_content.output_transcription.text for m in tool_turn
                   if m.server_content and m.server_content.output_transcription)
    # Two turns in one receive() (fragments concatenated: no space between the turns).
    assert said == ("I started lookup in the background."
                    'The result of lookup is {"output": 42}.')
    statuses = [m.server_content.interaction_status for m in tool_turn
                if m.server_content and m.server_content.turn_complete]
    assert statuses == [types.InteractionStatus.IN_PROGRESS, types.InteractionStatus.IDLE]
    assert "".join(m.server_content.output_transcription.text for m in instructions
                   if m.server_content and m.server_content.output_transcription) == (
        'My instructions are: "You are a librarian.".')
    interim = [m.server_content.interim_input_transcription.text for m in spoken
               if m.server_content and m.server_content.interim_input_transcription]
    assert interim[:2] == ["[audio 0.5s]", "[audio 1.0s]"]
    # 3.x bundles: audio and its transcript in one message.
    assert any(m.server_content and m.server_content.model_turn
               and m.server_content.output_transcription for m in spoken)
    update = served.emulator.connections[0].received[3]
    assert update == {"contextUpdate": {
        "systemInstruction": {"parts": [{"text": "You are a librarian."}], "role": "user"},
        "tools": {"tools": []}}}
