"""The emulator through our own session, with the ``live_emulator`` pytest fixture."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from trio_gemini_live import (
    ApiKey,
    AuthRejectedError,
    LiveConfig,
    LiveSession,
    NotFoundError,
)
from trio_gemini_live import (
    events as ev,
)
from trio_gemini_live.testing import Fault, LiveEmulator, speech_like_pcm

from .conftest import opening_error

TEXT = LiveConfig(response_modalities=["TEXT"])


async def turn(session: LiveSession) -> list[ev.Event]:
    """Events up to and including the next ``TurnComplete``."""
    out: list[ev.Event] = []
    async for event in session.events():
        out.append(event)
        if isinstance(event, ev.TurnComplete):
            return out
    raise AssertionError("the session ended before the turn did")  # pragma: no cover


def text(events: list[ev.Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, ev.TextChunk))


async def test_fixture_gives_a_running_emulator_and_a_session(
        live_emulator: LiveEmulator, nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        async with live_emulator.open_session(nursery, config=TEXT) as session:
            await session.send_client_content("Hello")
            events = await turn(session)
        assert text(events) == 'I heard: "Hello". This is turn 1 of our conversation.'
        assert any(isinstance(e, ev.UsageUpdate) for e in events)
        assert session.usage.total_tokens > 0
        assert live_emulator.received()[1]["clientContent"]["turns"][0]["parts"] == [
            {"text": "Hello"}]


async def test_in_memory_session(live_emulator: LiveEmulator, nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        async with live_emulator.open_session(nursery, config=TEXT, in_memory=True) as session:
            await session.send_realtime_input(text="typed")
            assert '"typed"' in text(await turn(session))


async def test_audio_turn_through_the_session(live_emulator: LiveEmulator,
                                              nursery: trio.Nursery) -> None:
    config = LiveConfig(response_modalities=["AUDIO"], input_audio_transcription={},
                        output_audio_transcription={})
    pcm = speech_like_pcm(1.0, lead_silence=0.1, trail_silence=0.8)
    with trio.fail_after(10):
        async with live_emulator.open_session(nursery, config=config) as session:
            for i in range(0, len(pcm), 3200):
                await session.send_realtime_input(audio=pcm[i : i + 3200])
            events = await turn(session)
    heard = "".join(e.text for e in events if isinstance(e, ev.InputTranscription))
    said = "".join(e.text for e in events if isinstance(e, ev.OutputTranscription))
    audio = b"".join(e.data for e in events if isinstance(e, ev.AudioChunk))
    assert heard.startswith("[audio 1.")
    assert said == f'I heard: "{heard}". This is turn 1 of our conversation.'
    assert audio and {e.sample_rate for e in events if isinstance(e, ev.AudioChunk)} == {24000}
    kinds = [e.kind for e in events if isinstance(e, ev.VoiceActivity)]
    assert kinds[:2] == ["ACTIVITY_START", "ACTIVITY_END"]


async def test_tool_call_answered_through_the_session(live_emulator: LiveEmulator,
                                                      nursery: trio.Nursery) -> None:
    config = LiveConfig(response_modalities=["TEXT"], tools=[{"function_declarations": [{
        "name": "get_weather", "parameters": {"type": "OBJECT", "properties": {
            "city": {"type": "STRING"}}}}]}])
    with trio.fail_after(10):
        async with live_emulator.open_session(nursery, config=config) as session:
            await session.send_client_content("What does get_weather say?")
            events: list[ev.Event] = []
            async for event in session.events():
                events.append(event)
                if isinstance(event, ev.ToolCall):
                    (call,) = event.calls
                    assert call.args == {"city": "city"}
                    await session.send_tool_response(
                        [{"id": call.id, "name": call.name, "response": {"output": "sunny"}}])
                if isinstance(event, ev.TurnComplete):
                    break
    assert text(events) == 'The result of get_weather is {"output": "sunny"}.'


@pytest.mark.live_emulator(connection_lifetime=20, go_away_notice=10)
async def test_go_away_is_survived_by_resumption(
        live_emulator: LiveEmulator, nursery: trio.Nursery,
        autojump_clock: trio.testing.MockClock) -> None:
    config = LiveConfig(response_modalities=["TEXT"], session_resumption={})
    with trio.fail_after(100):
        async with live_emulator.open_session(nursery, config=config,
                                              in_memory=True) as session:
            await session.send_client_content("one")
            await turn(session)
            async for event in session.events():
                if isinstance(event, ev.Reconnected):
                    assert event.resumed
                    break
            await session.send_client_content("two")
            assert "turn 2 of" in text(await turn(session))
    first, second = live_emulator.connections[:2]
    assert first.session_key == second.session_key
    assert second.setup is not None and second.setup["sessionResumption"]["handle"]


async def test_drop_is_survived_by_resumption(live_emulator: LiveEmulator,
                                              nursery: trio.Nursery) -> None:
    config = LiveConfig(response_modalities=["TEXT"], session_resumption={})
    with trio.fail_after(20):
        async with live_emulator.open_session(nursery, config=config) as session:
            await session.send_client_content("one")
            await turn(session)
            # The emulator sends the turn's resumption handle just after turnComplete: drop
            # only once it arrived, else the resume uses the older handle and "one" is
            # re-sent (a race the faster transport of issue 7 lost most of the time).
            async for event in session.events():
                if isinstance(event, ev.SessionResumptionUpdate):
                    break
            await live_emulator.inject(Fault.drop())
            async for event in session.events():
                if isinstance(event, ev.Reconnected):
                    break
            await session.send_client_content("two")
            assert "turn 2 of" in text(await turn(session))
    assert live_emulator.connections[0].close_code == 1006


async def test_errors_come_out_typed(live_emulator: LiveEmulator, nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        error = await opening_error(live_emulator.open_session(nursery, auth=ApiKey("wrong")))
        assert isinstance(error, AuthRejectedError) and "API key not valid" in str(error)
        error = await opening_error(live_emulator.open_session(nursery, model="gemini-0"))
        assert isinstance(error, NotFoundError)
        assert "models/gemini-0 is not found" in str(error)
