"""No secret in any log line, repr or error message, through whole sessions."""

from __future__ import annotations

import logging

import pytest
import trio

from trio_gemini_live import (
    ApiKey,
    EphemeralToken,
    LiveConfig,
    LiveError,
    VertexAI,
    open_live_session,
)
from trio_gemini_live import events as ev
from trio_gemini_live.testing import LiveEmulator

from .conftest import API_KEY, MODEL
from .test_session import WEATHER, until

pytestmark = pytest.mark.usefixtures("referee")

TOKEN = "auth_tokens/ephemeral-secret-4242"


async def test_no_secret_anywhere_through_a_whole_session(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="trio_gemini_live")
    emu = LiveEmulator(api_key=API_KEY, ephemeral_tokens=[TOKEN])
    await nursery.start(emu.serve)
    texts: list[str] = []
    auth = ApiKey(API_KEY)
    config = LiveConfig(response_modalities=["TEXT"], tools=[WEATHER], session_resumption={})
    with trio.fail_after(10):
        async with trio.open_nursery() as inner:
            async with open_live_session(
                inner, model=MODEL, auth=auth, endpoint=emu.url, config=config,
                on_tool_call=lambda e: [{"response": {"output": "ok"}}],
            ) as session:
                texts += [repr(session), str(session), repr(session.statistics())]
                await session.send_client_content("hello")
                await until(session, ev.TurnComplete)
                await session.send_client_content("get_weather now")
                await until(session, ev.TurnComplete)
                await session.send_realtime_input(audio=b"\0\0" * 100)
                await emu.send_raw(b"garbage")
                await session.send_realtime_input(text="x")
                await until(session, ev.TurnComplete)
            texts.append(repr(session))
            with pytest.raises(LiveError) as closed:
                await session.send_client_content("late")
            texts += [str(closed.value), repr(closed.value)]
            # Errors: a refused key, a refused token, a server close, a setup timeout.
            for bad_auth in (ApiKey(API_KEY + "x"), EphemeralToken(TOKEN + "x")):
                with pytest.raises(LiveError) as refused:
                    async with open_live_session(
                        inner, model=MODEL, auth=bad_auth, endpoint=emu.url, config=config
                    ):
                        pass
                texts += [str(refused.value), repr(refused.value), repr(bad_auth), str(bad_auth)]
            with pytest.raises(LiveError) as failed:
                async with open_live_session(
                    inner, model=MODEL, auth=auth, endpoint=emu.url, config=config,
                    reconnect=False,
                ):
                    await emu.close(1007, "Request contains an invalid argument.")
                    await trio.sleep_forever()
            texts += [str(failed.value), repr(failed.value)]
    vertex = VertexAI(project="p", location="us-central1")
    texts += [repr(auth), str(auth), repr(EphemeralToken(TOKEN)), repr(vertex), repr(config)]
    texts += [repr(c) for c in emu.connections]
    logged = [r.getMessage() for r in caplog.records]
    logged += [caplog.text]
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert any(r.levelno == logging.INFO and "connecting" in r.getMessage()
               for r in caplog.records)
    for text in texts + logged:
        assert API_KEY not in text
        assert TOKEN.removeprefix("auth_tokens/") not in text
    # The key did travel, in the header only.
    assert emu.connections[0].headers["x-goog-api-key"] == API_KEY
    assert all(API_KEY not in c.path for c in emu.connections)
