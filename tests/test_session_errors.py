"""Exception-group policy, setup failures, close codes, keepalive (autojump_clock)."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket

from trio_gemini_live import (
    ApiKey,
    AuthRejectedError,
    InvalidArgumentError,
    LiveConfig,
    LiveError,
    NotFoundError,
    QuotaExceededError,
    SessionClosedError,
    SetupError,
    Status,
    TransientError,
    open_live_session,
)
from trio_gemini_live import events as ev
from trio_gemini_live.testing import LiveEmulator

from .conftest import API_KEY, MODEL
from .fakeserver import PingControlled, ScriptedServer, ping_controlled
from .test_session import TEXT, live, until

pytestmark = pytest.mark.usefixtures("referee")


class MyError(Exception):
    pass


async def test_user_exception_comes_out_as_itself(emu: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with pytest.raises(MyError):
                async with live(nursery, emu) as session:
                    raise MyError
            assert session.status is Status.CLOSED
        # Reaching here means the nursery had no task of the session left.
    await emu.connections[0].closed.wait()
    assert emu.connections[0].close_code == 1000


async def test_outer_move_on_after_is_a_clean_cancel(emu: LiveEmulator) -> None:
    with trio.fail_after(10):
        with trio.move_on_after(0.2) as cs:
            async with trio.open_nursery() as nursery, live(nursery, emu):
                await trio.sleep_forever()
        assert cs.cancelled_caught
        record = emu.connections[0]
        await record.closed.wait()
    assert record.close_code in (1000, 1006)


CLOSES = [
    (1007, "Request contains an invalid argument.", InvalidArgumentError),
    (1008, "models/x is not found for API version v1beta", NotFoundError),
    (1011, "You exceeded your current quota, please check your plan.", QuotaExceededError),
    (1007, "API key expired. Please renew the API key.", AuthRejectedError),
]


@pytest.mark.parametrize(("code", "reason", "error"), CLOSES)
async def test_server_close_while_the_body_sleeps_raises_the_error_itself(
    emu: LiveEmulator, code: int, reason: str, error: type[SessionClosedError]
) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with pytest.raises(error) as info:
                async with live(nursery, emu, reconnect=True) as session:
                    await emu.close(code, reason)
                    await trio.sleep_forever()
            assert type(info.value) is error  # not an ExceptionGroup
            assert (info.value.code, info.value.reason) == (code, reason)
            assert session.error is info.value
            assert session.status is Status.CLOSED
            # send_* and wait_status now raise the session's error, without hanging.
            with pytest.raises(error):
                await session.send_client_content("after")
            with pytest.raises(error):
                await session.wait_status(Status.READY)


async def test_not_found_carries_a_model_hint(emu: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with pytest.raises(NotFoundError, match="API version") as info:
                async with live(nursery, emu):
                    await emu.close(1008, "models/x is not found for API version v1beta")
                    await trio.sleep_forever()
    assert "model name" in info.value.hint


async def test_server_close_while_iterating_delivers_queued_events_then_raises(
    emu: LiveEmulator,
) -> None:
    seen: list[ev.Event] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with pytest.raises(InvalidArgumentError) as info:
                async with live(nursery, emu) as session:
                    await emu.send_raw(
                        b'{"serverContent": {"modelTurn": {"parts": [{"text": "a"}]}}}'
                    )
                    await emu.send_raw(b'{"serverContent": {"turnComplete": true}}')
                    while len(emu.connections[0].sent) < 3:  # setupComplete + the two
                        await trio.testing.wait_all_tasks_blocked()
                    await trio.testing.wait_all_tasks_blocked()
                    await emu.close(1007, "Request contains an invalid argument.")
                    async for event in session.events():
                        seen.append(event)
    assert info.value.code == 1007
    kinds = [type(e) for e in seen if not isinstance(e, ev.SetupComplete)]
    assert kinds[:2] == [ev.TextChunk, ev.TurnComplete]
    assert kinds[-1] is ev.SessionClosed
    assert seen[-1] == ev.SessionClosed(code=1007, reason="Request contains an invalid argument.")


async def test_drop_without_reconnection_is_a_transient_error(emu: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with pytest.raises(TransientError) as info:
                async with live(nursery, emu, reconnect=False):
                    await emu.drop()
                    await trio.sleep_forever()
    assert info.value.code == 1006 and info.value.retryable


# --- setup failures ---------------------------------------------------------------------


async def test_unknown_model_is_refused_at_setup(emu: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with pytest.raises(NotFoundError, match="gemini-0-nope"):
                async with open_live_session(
                    nursery, model="gemini-0-nope", auth=ApiKey(API_KEY),
                    connect=emu.connect_in_memory(), config=TEXT,
                ):
                    raise AssertionError("setup succeeded")


async def test_bad_api_key_is_an_auth_error(emu: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with pytest.raises(AuthRejectedError) as info:
                async with live(nursery, emu, auth=ApiKey("AIza-wrong-key")):
                    raise AssertionError("setup succeeded")
    assert "wrong-key" not in str(info.value)


async def _setup_fails(
    nursery: trio.Nursery,
    server: ScriptedServer,
    error: type[Exception],
    match: str,
    **kwargs: Any,
) -> None:
    """Opening a session against ``server`` raises ``error`` (matching ``match``) itself."""
    async with trio.open_nursery() as inner:
        with pytest.raises(error, match=match):
            async with open_live_session(
                inner, model=MODEL, auth=ApiKey(API_KEY), connect=server.connect(nursery),
                **kwargs,
            ):
                raise AssertionError("setup succeeded")


async def test_setup_timeout(nursery: trio.Nursery, autojump_clock: trio.abc.Clock) -> None:
    async def silent(ws: trio_websocket.WebSocketConnection) -> None:
        await server.recv(ws)
        await trio.sleep_forever()

    server = ScriptedServer(silent)
    with trio.fail_after(100):
        start = trio.current_time()
        await _setup_fails(
            nursery, server, SetupError, "no setupComplete within 7 s", setup_timeout=7
        )
        assert trio.current_time() - start >= 7
    assert list(server.decoded()[0]) == ["setup"]


@pytest.mark.parametrize("answer", [b"not json", b'{"serverContent": 5}', "[1, 2]"])
async def test_garbage_answer_to_setup_is_a_setup_error(
    nursery: trio.Nursery, answer: bytes | str
) -> None:
    async def garbage(ws: trio_websocket.WebSocketConnection) -> None:
        await server.recv(ws)
        await ws.send_message(answer)
        await trio.sleep_forever()

    server = ScriptedServer(garbage)
    with trio.fail_after(10):
        await _setup_fails(nursery, server, SetupError, "invalid answer to setup")


async def test_close_during_setup_raises_the_close_error(nursery: trio.Nursery) -> None:
    async def refuse(ws: trio_websocket.WebSocketConnection) -> None:
        await server.recv(ws)
        await ws.aclose(1007, "Invalid JSON payload received.")

    server = ScriptedServer(refuse)
    with trio.fail_after(10):
        await _setup_fails(nursery, server, InvalidArgumentError, "Invalid JSON payload")


async def test_invalid_arguments_raise_before_connecting(emu: LiveEmulator) -> None:
    async with trio.open_nursery() as nursery:
        cases: list[tuple[dict[str, Any], type[Exception]]] = [
            ({"model": ""}, ValueError),
            ({"config": {"response_modalities": ["TEXT"]}}, TypeError),
            ({"setup_timeout": 0}, ValueError),
            ({"input_sample_rate": 0}, ValueError),
            ({"on_message": "not callable"}, TypeError),
            ({"reconnect": "sometimes"}, TypeError),
        ]
        for kwargs, error in cases:
            args: dict[str, Any] = {"model": MODEL, "auth": ApiKey(API_KEY),
                    "connect": emu.connect_in_memory(), **kwargs}
            with pytest.raises(error):
                async with open_live_session(nursery, **args):
                    raise AssertionError("opened")
    assert emu.connections == []


# --- background failures ----------------------------------------------------------------


async def test_malformed_frame_mid_session_is_reported_not_fatal(emu: LiveEmulator) -> None:
    errors: list[BaseException] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery, live(
            nursery, emu, on_error=errors.append
        ) as session:
            await emu.send_raw(b"{{{ not json")
            await session.send_client_content("still there?")
            events = await until(session, ev.TurnComplete)
            assert session.status is Status.READY
            assert session.statistics().protocol_errors == 1
    assert any(isinstance(e, ev.TextChunk) for e in events)
    assert len(errors) == 1 and isinstance(errors[0], LiveError)


# --- keepalive (autojump_clock) -----------------------------------------------------------


async def test_keepalive_without_pong_ends_the_session(
    nursery: trio.Nursery, autojump_clock: trio.abc.Clock
) -> None:
    emu = LiveEmulator(api_key=API_KEY, connection_lifetime=10_000)
    await nursery.start(emu.serve_in_memory)
    made: list[PingControlled] = []
    with trio.fail_after(1000):
        async with trio.open_nursery() as inner:
            with pytest.raises(TransientError, match="keepalive") as info:
                async with open_live_session(
                    inner, model=MODEL, auth=ApiKey(API_KEY), config=TEXT, reconnect=False,
                    connect=ping_controlled(emu.connect_in_memory(), float("inf"), made),
                    keepalive_interval=20, keepalive_timeout=90,
                ):
                    await trio.sleep_forever()
    assert info.value.code == 1011
    assert made[0].pings == 1
    await emu.connections[0].closed.wait()


async def test_slow_pong_within_the_timeout_keeps_the_session(
    nursery: trio.Nursery, autojump_clock: trio.abc.Clock
) -> None:
    emu = LiveEmulator(api_key=API_KEY, connection_lifetime=10_000)
    await nursery.start(emu.serve_in_memory)
    made: list[PingControlled] = []
    with trio.fail_after(1000):
        async with trio.open_nursery() as inner, open_live_session(
            inner, model=MODEL, auth=ApiKey(API_KEY), config=TEXT, reconnect=False,
            connect=ping_controlled(emu.connect_in_memory(), 60, made),
            keepalive_interval=20, keepalive_timeout=90,
        ) as session:
            await trio.sleep(500)  # several pings, each answered after 60 s
            assert made[0].pings >= 4
            assert session.status is Status.READY
            await session.send_client_content("alive")
            events = await until(session, ev.TurnComplete)
    assert any(isinstance(e, ev.TextChunk) for e in events)
    assert len(emu.connections) == 1


async def test_keepalive_pings_the_emulator(
    nursery: trio.Nursery, autojump_clock: trio.abc.Clock
) -> None:
    emu = LiveEmulator(api_key=API_KEY, connection_lifetime=10_000)
    await nursery.start(emu.serve_in_memory)
    made: list[PingControlled] = []
    with trio.fail_after(1000):
        async with trio.open_nursery() as inner, open_live_session(
            inner, model=MODEL, auth=ApiKey(API_KEY), config=TEXT,
            connect=ping_controlled(emu.connect_in_memory(), 0, made),
            keepalive_interval=30,
        ) as session:
            await trio.sleep(95)
            assert made[0].pings == 3  # real pings, answered by the server's trio-websocket
            assert session.status is Status.READY


async def test_send_realtime_before_setup_done_is_impossible_and_config_errors_first() -> None:
    # A bad config fails when the config is built: nothing can be sent with it.
    with pytest.raises(TypeError, match="unknown field"):
        LiveConfig(session_resumption={"handel": "x"})
