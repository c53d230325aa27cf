"""Handlers: each one called, sync or async; slow and raising handlers; on_tool_call."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing

from trio_gemini_live import ApiKey, LiveConfig, Status, open_live_session
from trio_gemini_live import _wire as w
from trio_gemini_live import events as ev
from trio_gemini_live.testing import LiveEmulator, speech_like_pcm

from .conftest import API_KEY
from .test_session import WEATHER, live, text_of, until

pytestmark = pytest.mark.usefixtures("referee")

TOOLS = LiveConfig(response_modalities=["TEXT"], tools=[WEATHER])


async def test_every_handler_is_called_sync_and_async(emu: LiveEmulator) -> None:
    got: dict[str, list[Any]] = {}

    def sync(name: str) -> Any:
        return lambda arg: got.setdefault(name, []).append(arg)

    def asynchronous(name: str) -> Any:
        async def handler(arg: Any) -> None:
            await trio.lowlevel.checkpoint()
            got.setdefault(name, []).append(arg)

        return handler

    config = LiveConfig(
        response_modalities=["TEXT"], session_resumption={}, input_audio_transcription={}
    )
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            async with live(
                nursery, emu, config=config,
                on_message=sync("message"),
                on_transcription=asynchronous("transcription"),
                on_voice_activity=sync("voice"),
                on_session_resumption=asynchronous("resumption"),
                on_go_away=sync("go_away"),
                on_close=asynchronous("close"),
                on_error=sync("error"),
            ) as session:
                await session.send_realtime_input(
                    audio=speech_like_pcm(0.6, lead_silence=0.1, trail_silence=0.8)
                )
                await until(session, ev.TurnComplete)
                await emu.send_go_away(30)
                await until(session, ev.GoAway)
                await trio.testing.wait_all_tasks_blocked()
            assert session.status is Status.CLOSED
    assert all(isinstance(m, w.ServerMessage) for m in got["message"])
    assert got["message"][0].setup_complete is not None
    assert [v.kind for v in got["voice"]] == ["ACTIVITY_START", "ACTIVITY_END"]
    assert "".join(t.text for t in got["transcription"]).startswith("[audio")
    assert all(isinstance(t, ev.InputTranscription) for t in got["transcription"])
    assert all(isinstance(r, ev.SessionResumptionUpdate) for r in got["resumption"])
    assert got["go_away"] == [ev.GoAway(time_left=30.0)]
    assert got["close"] == [ev.SessionClosed(code=1000, reason="closed by the client")]
    assert "error" not in got


async def test_slow_handler_does_not_stall_the_session(
    nursery: trio.Nursery, autojump_clock: trio.abc.Clock
) -> None:
    emu = LiveEmulator(api_key=API_KEY, connection_lifetime=10_000)
    await nursery.start(emu.serve_in_memory)
    calls = 0

    async def slow(message: Any) -> None:
        nonlocal calls
        calls += 1
        await trio.sleep(3600)

    with trio.fail_after(100):
        async with trio.open_nursery() as inner, live(
            inner, emu, on_message=slow, keepalive_interval=10
        ) as session:
            for text in ("one", "two", "three"):
                await session.send_client_content(text)
                events = await until(session, ev.TurnComplete)
                assert text in text_of(events)
            await trio.sleep(50)  # keepalive pings go on meanwhile
            assert session.status is Status.READY
    assert calls == 1  # the first message is still being handled


async def test_raising_handler_is_reported_and_the_session_goes_on(
    emu: LiveEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[BaseException] = []

    def broken(message: Any) -> None:
        raise RuntimeError("handler bug")

    async def on_error(exc: BaseException) -> None:
        errors.append(exc)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(
            nursery, emu, on_message=broken, on_error=on_error
        ) as session:
            await session.send_client_content("still fine?")
            events = await until(session, ev.TurnComplete)
            await trio.testing.wait_all_tasks_blocked()
            assert session.status is Status.READY
            assert session.statistics().handler_errors >= 2
    assert "still fine?" in text_of(events)
    assert errors and all(isinstance(e, RuntimeError) for e in errors)
    assert any(
        r.levelno == logging.ERROR and "raised" in r.getMessage() and r.exc_info
        for r in caplog.records
    )


async def test_on_tool_call_return_value_is_sent(emu: LiveEmulator) -> None:
    calls: list[ev.ToolCall] = []

    def on_tool_call(event: ev.ToolCall) -> list[dict[str, Any]]:
        calls.append(event)
        return [{"response": {"output": "22 C"}}]  # id and name filled in

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(
            nursery, emu, config=TOOLS, on_tool_call=on_tool_call
        ) as session:
            await session.send_client_content("get_weather in Oslo")
            events = await until(session, ev.TurnComplete)
    assert 'The result of get_weather is {"output": "22 C"}.' in text_of(events)
    (call,) = calls[0].calls
    assert emu.connections[0].received[-1] == {
        "toolResponse": {
            "functionResponses": [
                {"id": call.id, "name": "get_weather", "response": {"output": "22 C"}}
            ]
        }
    }


async def test_on_tool_call_returning_none_leaves_it_to_the_app(emu: LiveEmulator) -> None:
    async def on_tool_call(event: ev.ToolCall) -> None:
        return None

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(
            nursery, emu, config=TOOLS, on_tool_call=on_tool_call
        ) as session:
            await session.send_client_content("get_weather in Rome")
            call = (await until(session, ev.ToolCall))[-1]
            assert isinstance(call, ev.ToolCall)
            await trio.testing.wait_all_tasks_blocked()
            assert not any("toolResponse" in m for m in emu.connections[0].received)
            fc = call.calls[0]
            await session.send_tool_response({"id": fc.id, "name": fc.name, "response": {}})
            await until(session, ev.TurnComplete)


async def test_raising_on_tool_call_sends_an_error_response(emu: LiveEmulator) -> None:
    errors: list[BaseException] = []

    def on_tool_call(event: ev.ToolCall) -> None:
        raise ValueError("no weather today")

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(
            nursery, emu, config=TOOLS, on_tool_call=on_tool_call, on_error=errors.append
        ) as session:
            await session.send_client_content("get_weather in Lima")
            events = await until(session, ev.TurnComplete)
    assert "no weather today" in text_of(events)
    response = emu.connections[0].received[-1]["toolResponse"]["functionResponses"][0]
    assert response["response"] == {"error": "ValueError: no weather today"}
    assert any(isinstance(e, ValueError) for e in errors)


async def test_tool_call_cancellation_cancels_the_handler(emu: LiveEmulator) -> None:
    started = trio.Event()
    cancelled: list[ev.ToolCallCancellation] = []
    handler_cancelled = False

    async def on_tool_call(event: ev.ToolCall) -> list[dict[str, Any]]:
        nonlocal handler_cancelled
        started.set()
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            handler_cancelled = True
            raise
        return []  # pragma: no cover

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(
            nursery, emu, config=TOOLS, on_tool_call=on_tool_call,
            on_tool_call_cancellation=cancelled.append,
        ) as session:
            await session.send_client_content("get_weather in Oslo")
            await started.wait()
            await session.send_client_content("never mind")  # barge-in
            await until(session, ev.ToolCallCancellation)
            await trio.testing.wait_all_tasks_blocked()
            assert session.active_tool_calls == {}
    assert handler_cancelled
    assert len(cancelled) == 1 and cancelled[0].ids
    assert not any("toolResponse" in m for m in emu.connections[0].received)


async def test_handlers_must_be_callable(emu: LiveEmulator) -> None:
    async with trio.open_nursery() as nursery:
        with pytest.raises(TypeError, match="on_close"):
            async with open_live_session(
                nursery, model="gemini-live-2.5-flash-preview", connect=emu.connect_in_memory(),
                auth=ApiKey(API_KEY), on_close=42,  # type: ignore[arg-type]
            ):
                raise AssertionError("opened")
