"""The session running tools it was given (``tools=``) and checking backend-only setup fields."""

from __future__ import annotations

import msgspec
import pytest
import trio
import trio.testing
import trio_websocket

from trio_gemini_live import ApiKey, LiveConfig, open_live_session
from trio_gemini_live.tools import tool

from .fakeserver import SETUP_COMPLETE, ScriptedServer

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"


@tool
def known(city: str) -> str:
    """A declared tool.

    Args:
        city: A city.
    """
    return f"sunny in {city}"


async def _calls_then_collect(
    nursery: trio.Nursery, calls: list[dict[str, object]], config: LiveConfig, answers: int
) -> tuple[ScriptedServer, list[dict[str, object]]]:
    """Issue ``calls`` in one toolCall; return the tool responses the client sent."""
    responses: list[dict[str, object]] = []
    got_all = trio.Event()

    async def script(ws: trio_websocket.WebSocketConnection) -> None:
        await server.recv(ws)
        await ws.send_message(SETUP_COMPLETE)
        await ws.send_message(msgspec.json.encode({"toolCall": {"functionCalls": calls}}))
        while len(responses) < answers:
            frame = msgspec.json.decode(await server.recv(ws))
            responses.extend(frame["toolResponse"]["functionResponses"])
        got_all.set()
        await trio.sleep_forever()

    server = ScriptedServer(script)
    with trio.fail_after(10):
        async with trio.open_nursery() as inner, open_live_session(
            inner, model=MODEL, auth=ApiKey("k"), connect=server.connect(nursery),
            config=config, tools=[known],
        ):
            await got_all.wait()
            # Anything else the session would send is sent by now.
            await trio.testing.wait_all_tasks_blocked()
            sent = [
                response
                for frame in server.decoded()
                if "toolResponse" in frame
                for response in frame["toolResponse"]["functionResponses"]
            ]
    assert sent == responses
    return server, responses


async def test_a_call_to_an_undeclared_function_is_answered_with_an_error(
    nursery: trio.Nursery,
) -> None:
    # PROTOCOL.md 3.4: every call must be answered, even one the client cannot run.
    _, responses = await _calls_then_collect(
        nursery,
        [{"id": "c1", "name": "known", "args": {"city": "Oslo"}},
         {"id": "c2", "name": "nobody_declared_this", "args": {}}],
        LiveConfig(response_modalities=["TEXT"]),
        answers=2,
    )
    by_id = {r["id"]: r for r in responses}
    assert by_id["c1"]["response"] == {"output": "sunny in Oslo"}
    error = by_id["c2"]["response"]
    assert isinstance(error, dict) and "nobody_declared_this" in str(error["error"])


async def test_calls_to_functions_declared_in_the_config_are_left_to_the_user(
    nursery: trio.Nursery,
) -> None:
    config = LiveConfig(
        response_modalities=["TEXT"],
        tools=[{"function_declarations": [{"name": "manual_fn"}]}],
    )
    _, responses = await _calls_then_collect(
        nursery,
        [{"id": "c1", "name": "known", "args": {"city": "Rome"}},
         {"id": "c2", "name": "manual_fn", "args": {}}],
        config,
        answers=1,
    )
    assert [r["id"] for r in responses] == ["c1"]  # manual_fn waits for send_tool_response


@pytest.mark.parametrize(
    "fields",
    [{"explicit_vad_signal": True}, {"session_resumption": {"transparent": True}}],
)
async def test_vertex_only_fields_are_refused_before_connecting_to_the_gemini_api(
    nursery: trio.Nursery, fields: dict[str, object]
) -> None:
    async def never(ws: trio_websocket.WebSocketConnection) -> None:
        await trio.sleep_forever()

    server = ScriptedServer(never)
    with pytest.raises(ValueError, match="Vertex-AI-only"):
        async with open_live_session(
            nursery, model=MODEL, auth=ApiKey("k"), connect=server.connect(nursery),
            config=LiveConfig(**fields),  # type: ignore[arg-type]
        ):
            raise AssertionError("the setup was sent")
    assert server.connections == 0
