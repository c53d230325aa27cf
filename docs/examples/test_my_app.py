"""How-to: test your own application against the emulator (run with ``pytest``).

``ask()`` stands for your application code: it takes an open session and returns the
model's answer. The tests run it against :class:`~trio_gemini_live.testing.LiveEmulator`
(no network, no API key, milliseconds per test), check what the app sent,
and check how it behaves when the server fails.
"""

from __future__ import annotations

import pytest
import trio

from trio_gemini_live import InvalidArgumentError, LiveConfig, LiveSession
from trio_gemini_live import events as ev
from trio_gemini_live.testing import Fault, LiveEmulator

# --- the application under test ----------------------------------------------------------


async def ask(session: LiveSession, question: str) -> str:
    """Your app: send one question, collect the text answer of that turn."""
    await session.send_text(question)
    answer: list[str] = []
    async for event in session.events():
        match event:
            case ev.TextChunk(text=text, thought=False):
                answer.append(text)
            case ev.TurnComplete():
                break
    return "".join(answer)


# --- the tests ---------------------------------------------------------------------------
# ``live_emulator`` is the package's pytest fixture (installed with the package, needs
# pytest-trio): a LiveEmulator serving on a free loopback port for one test.


async def test_ask_returns_the_answer(live_emulator: LiveEmulator, nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        # open_session(): open_live_session pointed at the emulator, with its API key.
        async with live_emulator.open_session(
            nursery, config=LiveConfig(response_modalities=["TEXT"])
        ) as session:
            assert await ask(session, "Hello") == (
                'I heard: "Hello". This is turn 1 of our conversation.'
            )
    # What the app sent, as the server received it (camelCase JSON).
    [connection] = live_emulator.connections
    assert connection.setup is not None
    assert connection.setup["generationConfig"]["responseModalities"] == ["TEXT"]
    assert connection.received[-1] == {"realtimeInput": {"text": "Hello"}}


@pytest.mark.live_emulator(api_key="my-test-key")  # keyword arguments for LiveEmulator
async def test_ask_reports_a_refused_request(
    live_emulator: LiveEmulator, nursery: trio.Nursery
) -> None:
    # The server refuses the second client message (the question) with close 1007.
    live_emulator.schedule_fault(
        Fault.close(1007, "Request contains an invalid argument."), after_client_messages=2
    )
    with trio.fail_after(10), pytest.raises(InvalidArgumentError) as excinfo:
        async with live_emulator.open_session(
            nursery,
            config=LiveConfig(response_modalities=["TEXT"]),
            in_memory=True,  # no socket at all: an in-memory stream
        ) as session:
            await ask(session, "Hello")
    assert excinfo.value.code == 1007
