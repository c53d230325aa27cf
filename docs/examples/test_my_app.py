"""How-to: test your own application against the emulator (run with ``pytest``).

``ask()`` stands for your application code: it takes an open session and returns the
model's answer. The tests run it against :class:`~trio_gemini_live.testing.LiveEmulator`
served in memory (no sockets, no API key, milliseconds per test), check what the app sent,
and check how it behaves when the server fails.
"""

from __future__ import annotations

import pytest
import trio

from trio_gemini_live import (
    ApiKey,
    InvalidArgumentError,
    LiveConfig,
    LiveSession,
    open_live_session,
)
from trio_gemini_live import events as ev
from trio_gemini_live.testing import Fault, LiveEmulator

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"


# --- the application under test ----------------------------------------------------------


async def ask(session: LiveSession, question: str) -> str:
    """Your app: send one question, collect the text answer of that turn."""
    await session.send_client_content(question)
    answer: list[str] = []
    async for event in session.events():
        match event:
            case ev.TextChunk(text=text, thought=False):
                answer.append(text)
            case ev.TurnComplete():
                break
    return "".join(answer)


# --- the tests ---------------------------------------------------------------------------


@pytest.fixture
async def emulator(nursery: trio.Nursery) -> LiveEmulator:
    """An emulator serving in-memory connections for the duration of one test."""
    emu = LiveEmulator(api_key="test-api-key")
    await nursery.start(emu.serve_in_memory)
    return emu


async def test_ask_returns_the_answer(nursery: trio.Nursery, emulator: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with open_live_session(
            nursery,
            model=MODEL,
            auth=ApiKey("test-api-key"),
            config=LiveConfig(response_modalities=["TEXT"]),
            connect=emulator.connect_in_memory(),
        ) as session:
            assert await ask(session, "Hello") == (
                'I heard: "Hello". This is turn 1 of our conversation.'
            )
    # What the app sent, as the server received it (camelCase JSON).
    [connection] = emulator.connections
    assert connection.setup is not None
    assert connection.setup["generationConfig"]["responseModalities"] == ["TEXT"]
    assert connection.received[-1]["clientContent"]["turns"][0]["parts"] == [{"text": "Hello"}]


async def test_ask_reports_a_refused_request(
    nursery: trio.Nursery, emulator: LiveEmulator
) -> None:
    # The server refuses the second client message (the question) with close 1007.
    emulator.schedule_fault(
        Fault.close(1007, "Request contains an invalid argument."), after_client_messages=2
    )
    with trio.fail_after(10), pytest.raises(InvalidArgumentError) as excinfo:
        async with open_live_session(
            nursery,
            model=MODEL,
            auth=ApiKey("test-api-key"),
            config=LiveConfig(response_modalities=["TEXT"]),
            connect=emulator.connect_in_memory(),
        ) as session:
            await ask(session, "Hello")
    assert excinfo.value.code == 1007
