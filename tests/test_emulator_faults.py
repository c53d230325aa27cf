"""The emulator's concurrency, faults, resumption rules and refusals, in memory.

Raw trio-websocket clients over :meth:`LiveEmulator.connect_in_memory`, so that simulated
time (``autojump_clock``) only moves when both ends are blocked and timing can be asserted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket

from trio_gemini_live.testing import Fault, LiveEmulator

from .conftest import raw_websocket
from .test_emulator import (
    KEY,
    MODEL,
    TEXT,
    V1BETA,
    closed_with,
    recv,
    send,
    setup,
    text_of,
    turn_complete,
    until,
    user_turn,
)


async def serving(nursery: trio.Nursery, **kwargs: Any) -> LiveEmulator:
    emulator = LiveEmulator(**kwargs)
    await nursery.start(emulator.serve_in_memory)
    return emulator


@asynccontextmanager
async def client(emulator: LiveEmulator) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    async with raw_websocket(emulator, "ws://x" + V1BETA, [("x-goog-api-key", KEY)]) as ws:
        yield ws


# --- concurrency and records ----------------------------------------------------------------


async def test_concurrent_connections_get_distinct_indices(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        hold = trio.Event()
        ready = trio.Semaphore(0)

        async def one(i: int) -> None:
            async with client(emulator) as ws:
                await setup(ws, **TEXT)
                ready.release()
                await hold.wait()
                await send(ws, user_turn(f"client {i}"))
                assert f"client {i}" in text_of(await until(ws, turn_complete))

        async with trio.open_nursery() as clients:
            for i in range(4):
                clients.start_soon(one, i)
            for _ in range(4):
                await ready.acquire()
            assert sorted(c.index for c in emulator.connections) == [0, 1, 2, 3]
            hold.set()
        for record in emulator.connections:
            with trio.fail_after(5):
                await record.closed.wait()
        assert len({c.session_key for c in emulator.connections}) == 4


# --- hostile client frames --------------------------------------------------------------------


def _nested_parameters(depth: int) -> str:
    return '{"properties": {"a": ' * depth + "{}" + "}}" * depth


@pytest.mark.parametrize("depth", [400, 3000])
async def test_deeply_nested_setup_closes_1007_and_the_emulator_keeps_serving(
        nursery: trio.Nursery, depth: int) -> None:
    # 400 levels overflow the strict walk, 3000 msgspec's decoder: both are RecursionError.
    frame = ('{"setup": {"model": "' + MODEL + '", "tools": [{"functionDeclarations": '
             '[{"name": "f", "parameters": ' + _nested_parameters(depth) + "}]}]}}")
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with client(emulator) as ws:
            await ws.send_message(frame)
            code, reason = await closed_with(ws)
        assert code == 1007 and "nested too deeply" in reason
        async with client(emulator) as ws:  # still serving
            await setup(ws, **TEXT)
            await send(ws, {"realtimeInput": {"text": "deep " + "[" * 3000}})
            assert "deep" in text_of(await until(ws, turn_complete))
            await ws.send_message('{"realtimeInput": {"text": "x"}, "z": ' + "[" * 3000
                                  + "]" * 3000 + "}")
            assert (await closed_with(ws))[0] == 1007


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": ["q"]},
    {"type": "object", "properties": {"q": {"type": "string"}, "n": 5}},
    {"type": "object", "properties": {"q": {"type": "string", "enum": "abc"},
                                      "k": {"type": ["integer"]}}},
])
async def test_malformed_parameters_json_schema_still_gives_a_tool_call(
        nursery: trio.Nursery, schema: Any) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with client(emulator) as ws:
            await setup(ws, tools=[{"functionDeclarations": [
                {"name": "lookup", "parametersJsonSchema": schema}]}], **TEXT)
            await send(ws, {"realtimeInput": {"text": "please lookup"}})
            call = (await recv(ws))["toolCall"]["functionCalls"][0]
        assert call["name"] == "lookup" and isinstance(call.get("args", {}), dict)


async def test_parameters_json_schema_args_follow_the_schema(nursery: trio.Nursery) -> None:
    schema = {"type": "object", "properties": {
        "city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"enum": ["C", "F"]},
        "hourly": {"type": "boolean"}, "tags": {"type": "array"}}}
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with client(emulator) as ws:
            await setup(ws, tools=[{"functionDeclarations": [
                {"name": "forecast", "parametersJsonSchema": schema}]}], **TEXT)
            await send(ws, user_turn("forecast please"))
            call = (await recv(ws))["toolCall"]["functionCalls"][0]
        assert call["args"] == {"city": "city", "days": 1, "unit": "C", "hourly": True,
                                "tags": ["tags"]}


# --- resumption -----------------------------------------------------------------------------


def resumption_update(message: dict[str, Any]) -> bool:
    return "sessionResumptionUpdate" in message


async def test_a_handle_issued_while_a_turn_is_queued_excludes_that_turn(
        nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with client(emulator) as ws:
            await setup(ws, sessionResumption={}, **TEXT)
            await recv(ws)  # the handle of the empty session
            await send(ws, user_turn("one"))
            await send(ws, user_turn("two"))  # interrupts "one"; queued behind it
            messages = await until(ws, resumption_update)
            # Issued after the interruption of "one", while "two" still waits.
            assert {"serverContent": {"interrupted": True}} in messages
            assert 'I heard: "two"' not in text_of(messages)
            handle = messages[-1]["sessionResumptionUpdate"]["newHandle"]
        async with client(emulator) as ws:
            await setup(ws, sessionResumption={"handle": handle}, **TEXT)
            await recv(ws)
            # "two" was not consumed by that handle's state: the client sends it again.
            assert [m["clientContent"]["turns"][0]["parts"][0]["text"]
                    for m in emulator.consumed()] == ["one"]
            await send(ws, user_turn("two"))
            assert 'I heard: "two". This is turn 2 of' in text_of(await until(ws, turn_complete))
        assert [h["text"] for h in emulator.history() if h["role"] == "user"] == ["one", "two"]


async def test_transparent_index_stops_before_a_queued_turn(nursery: trio.Nursery) -> None:
    vertex = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
    model = ("projects/p/locations/l/publishers/google/models/"
             "gemini-live-2.5-flash-native-audio")
    with trio.fail_after(10):
        emulator = await serving(nursery)
        headers = [("authorization", "Bearer t")]
        async with raw_websocket(emulator, "ws://x" + vertex, headers) as ws:
            await send(ws, {"setup": {"model": model, "sessionResumption": {
                "transparent": True}, **TEXT}})
            await recv(ws)
            await recv(ws)
            await send(ws, user_turn("one"))  # message 1
            await send(ws, user_turn("two"))  # message 2: queued when the handle comes
            update = (await until(ws, resumption_update))[-1]["sessionResumptionUpdate"]
            assert update["lastConsumedClientMessageIndex"] == "1"
            update = (await until(ws, resumption_update))[-1]["sessionResumptionUpdate"]
            assert update["lastConsumedClientMessageIndex"] == "2"


async def test_no_resumable_handle_while_a_call_is_pending(nursery: trio.Nursery) -> None:
    tools = [{"functionDeclarations": [{"name": "ping", "behavior": "NON_BLOCKING"}]}]
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with client(emulator) as ws:
            await setup(ws, sessionResumption={}, tools=tools, **TEXT)
            await recv(ws)
            await send(ws, user_turn("ping it"))
            messages = await until(ws, turn_complete)
            messages.append(await recv(ws))
            call = next(m for m in messages if "toolCall" in m)["toolCall"]["functionCalls"][0]
            assert messages[-1] == {"sessionResumptionUpdate": {"resumable": False}}
            await send(ws, {"toolResponse": {"functionResponses": [
                {"id": call["id"], "name": "ping", "response": {"ok": True}}]}})
            after = await until(ws, resumption_update)
        assert after[-1]["sessionResumptionUpdate"]["resumable"] is True


# --- faults -----------------------------------------------------------------------------------


async def test_go_away_deadline_counts_from_the_wire_behind_a_slow_sender(
        nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(100):
        emulator = await serving(nursery)
        async with client(emulator) as ws:
            await setup(ws)
            emulator.send_delay = 1.0
            await emulator.send_raw(b'{"x": 1}')
            await trio.testing.wait_all_tasks_blocked()  # that frame is in flight now
            await emulator.send_go_away(0.5)
            assert await recv(ws) == {"x": 1}
            assert await recv(ws) == {"goAway": {"timeLeft": "0.5s"}}
            sent_at = trio.current_time()
            code, _ = await closed_with(ws)
            assert trio.current_time() - sent_at == pytest.approx(0.5, abs=1e-6)
        assert code == 1011


async def test_go_away_deadline_waits_for_a_paused_sender(
        nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(100):
        emulator = await serving(nursery)
        async with client(emulator) as ws:
            await setup(ws)
            emulator.pause()
            await emulator.send_go_away(1.0)
            await trio.sleep(5)
            emulator.resume()
            assert await recv(ws) == {"goAway": {"timeLeft": "1s"}}
            sent_at = trio.current_time()
            await closed_with(ws)
            assert trio.current_time() - sent_at == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("twice", ["fault", "method"])
async def test_stop_reading_twice_then_resume_reads_again(nursery: trio.Nursery,
                                                          twice: str) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with client(emulator) as ws:
            await setup(ws, **TEXT)
            await emulator.inject(Fault.stop_reading())
            await send(ws, user_turn("held"))
            await trio.testing.wait_all_tasks_blocked()  # the frame is held: reader waits
            assert len(emulator.connections[0].received) == 1
            if twice == "fault":
                await emulator.inject(Fault.stop_reading())
            else:
                emulator.stop_reading()
            emulator.resume_reading()
            assert "held" in text_of(await until(ws, turn_complete))


async def test_scheduled_pause_holds_every_message_until_resume(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        emulator.schedule_fault(Fault.pause(), after_server_messages=2)
        async with client(emulator) as ws:
            await setup(ws, **TEXT)
            await send(ws, user_turn("paused"))
            first = await recv(ws)  # the 2nd server message went out, then the pause
            await trio.testing.wait_all_tasks_blocked()
            assert len(emulator.connections[0].sent) == 2
            emulator.resume()
            rest = await until(ws, turn_complete)
        assert "paused" in text_of([first, *rest])


async def test_scheduled_stop_reading_holds_client_messages(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        emulator.schedule_fault(Fault.stop_reading(), after_client_messages=1)
        async with client(emulator) as ws:
            await setup(ws, **TEXT)
            await send(ws, user_turn("later"))
            await trio.testing.wait_all_tasks_blocked()
            assert len(emulator.connections[0].received) == 1
            emulator.resume_reading()
            assert "later" in text_of(await until(ws, turn_complete))


async def test_wait_connection(nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        got: list[int] = []

        async def waiter() -> None:
            got.append((await emulator.wait_connection(2)).index)

        nursery.start_soon(waiter)
        async with client(emulator) as ws:
            await setup(ws)
            await trio.testing.wait_all_tasks_blocked()
            assert got == []
            async with client(emulator) as ws2:
                await setup(ws2)
                await trio.testing.wait_all_tasks_blocked()
        assert got == [1]
        assert (await emulator.wait_connection(1)).index == 1


# --- client content rules ---------------------------------------------------------------------


@pytest.mark.parametrize("fields", [
    {},
    {"text": "hi", "audioStreamEnd": True},
    {"text": "hi", "audio": {"mimeType": "audio/pcm;rate=16000", "data": "AAAA"}},
])
async def test_realtime_input_needs_exactly_one_field(nursery: trio.Nursery,
                                                      fields: dict[str, Any]) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with client(emulator) as ws:
            await setup(ws, **TEXT)
            await send(ws, {"realtimeInput": fields})
            assert (await closed_with(ws))[0] == 1007


async def test_every_turn_of_a_multi_turn_client_content_is_history(
        nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with client(emulator) as ws:
            await setup(ws, **TEXT)
            await send(ws, {"clientContent": {"turns": [
                {"role": "user", "parts": [{"text": "my name is Ada"}]},
                {"role": "model", "parts": [{"text": "hello Ada"}]},
                {"role": "user", "parts": [{"text": "what is my name?"}]},
            ], "turnComplete": True}})
            await until(ws, turn_complete)
        assert [(h["role"], h["text"]) for h in emulator.history()][:3] == [
            ("user", "my name is Ada"), ("model", "hello Ada"), ("user", "what is my name?")]


# --- resumption rules (PROTOCOL.md 6) ---------------------------------------------------------


async def first_handle(ws: trio_websocket.WebSocketConnection, **fields: Any) -> str:
    """Set up a resumable session on ``ws``; the handle of its (empty) state."""
    await setup(ws, sessionResumption={}, **fields, **TEXT)
    handle: str = (await recv(ws))["sessionResumptionUpdate"]["newHandle"]
    return handle


async def test_resuming_while_the_old_connection_is_open_closes_the_new_one_1011(
        nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        emulator = await serving(nursery)
        async with client(emulator) as old:
            handle = await first_handle(old)
            async with client(emulator) as new:
                await send(new, {"setup": {"model": MODEL, "sessionResumption": {
                    "handle": handle}, **TEXT}})
                assert await closed_with(new) == (1011, "Internal error occurred.")
            # The old connection is not disturbed.
            await send(old, user_turn("still here"))
            assert "still here" in text_of(await until(old, turn_complete))
        # Break-before-make: once the old connection is closed, the handle resumes.
        async with client(emulator) as ws:
            await setup(ws, sessionResumption={"handle": handle}, **TEXT)
        assert emulator.connections[2].session_key == emulator.connections[0].session_key


async def test_a_handle_expires_after_the_sessions_last_connection(
        nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(1000):
        emulator = await serving(nursery, handle_lifetime=100)
        async with client(emulator) as ws:
            handle = await first_handle(ws)
            # The lifetime counts from the end of the session's last connection: time
            # spent connected does not use it up.
            await trio.sleep(150)
        await trio.sleep(90)
        async with client(emulator) as ws:
            await setup(ws, sessionResumption={"handle": handle}, **TEXT)
            await recv(ws)
        # That connection ended now: the lifetime starts again from here.
        await trio.sleep(90)
        async with client(emulator) as ws:
            await setup(ws, sessionResumption={"handle": handle}, **TEXT)
            await recv(ws)
        await trio.sleep(101)
        async with client(emulator) as ws:
            await send(ws, {"setup": {"model": MODEL, "sessionResumption": {
                "handle": handle}, **TEXT}})
            # Refused like an unknown handle.
            assert await closed_with(ws) == (1007, "Request contains an invalid argument.")


async def test_ids_are_numbered_per_emulator(nursery: trio.Nursery) -> None:
    tools = [{"functionDeclarations": [{"name": "ping"}]}]
    seen: list[tuple[str, str]] = []
    with trio.fail_after(10):
        for _ in range(2):
            emulator = await serving(nursery)
            async with client(emulator) as ws:
                handle = await first_handle(ws, tools=tools)
                await send(ws, {"clientContent": {"turns": [{"role": "user", "parts": [
                    {"text": "ping"}]}], "turnComplete": True}})
                call = (await recv(ws))["toolCall"]["functionCalls"][0]
            seen.append((handle, call["id"]))
    # A second emulator (another test) starts from the same numbers as the first.
    assert seen[0] == seen[1] == ("emu-s1-1", "fc_1")


async def test_a_barge_in_drops_the_interrupted_turns_tool_results(
        nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    tools = [{"functionDeclarations": [{"name": "ping", "behavior": "NON_BLOCKING"}]}]
    with trio.fail_after(1000):
        emulator = await serving(nursery, text_chunk_delay=10.0)
        async with client(emulator) as ws:
            await setup(ws, sessionResumption={}, tools=tools, **TEXT)
            await recv(ws)
            await send(ws, user_turn("ping it"))
            messages = await until(ws, lambda m: "modelTurn" in m.get("serverContent", {}))
            call = next(m for m in messages if "toolCall" in m)["toolCall"]["functionCalls"][0]
            # The model is still talking: the WHEN_IDLE result waits for it to be idle...
            await send(ws, {"toolResponse": {"functionResponses": [
                {"id": call["id"], "name": "ping", "response": {"ok": True}}]}})
            # ... and then the user barges in.
            await send(ws, user_turn("stop"))
            interrupted = await until(ws, resumption_update)
            assert {"serverContent": {"interrupted": True}} in interrupted
            # Nothing of the interrupted generation is pending: resumable at once.
            assert interrupted[-1]["sessionResumptionUpdate"]["resumable"] is True
            assert 'I heard: "stop"' in text_of(await until(ws, turn_complete))
            await until(ws, resumption_update)
            await send(ws, user_turn("next"))
            # The dropped result is not spoken after the next idle moment.
            assert 'I heard: "next"' in text_of(await until(ws, turn_complete))


# --- bounded waits ----------------------------------------------------------------------------


async def test_a_silent_peer_is_closed_after_request_timeout(
        nursery: trio.Nursery, autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(100):
        emulator = await serving(nursery)
        emulator.request_timeout = 5.0
        # Nothing at all: not even a request head.
        peer, server = trio.testing.memory_stream_pair()
        nursery.start_soon(emulator._handle_stream, server)
        assert await peer.receive_some() == b""
        # A REST request whose body never comes: 408.
        peer, server = trio.testing.memory_stream_pair()
        nursery.start_soon(emulator._handle_stream, server)
        await peer.send_all(b"POST /v1alpha/auth_tokens HTTP/1.1\r\nhost: x\r\n"
                            b"content-length: 100\r\n\r\n{")
        answer = b""
        while chunk := await peer.receive_some():
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert emulator.tokens.requests[-1].status == 408
        # A WebSocket that never sends its setup: Google's deadline close.
        async with client(emulator) as ws:
            assert await closed_with(ws) == (
                1011, "Deadline expired before operation could complete.")
        # Still serving.
        async with client(emulator) as ws:
            await setup(ws)
