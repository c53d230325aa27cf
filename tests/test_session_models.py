"""The session under each model family's rules (issue 13), against the strict emulator.

Every test runs on each built-in family: what a new user's code does (``send_text``,
``history=``, ``send_context_update``) works the same on 2.5, 3.1 and 3.8, and what a model
refuses is refused before anything is sent. The official SDK's strict schema checks every
frame the session sends (``referee``).
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from trio_gemini_live import LiveConfig, ReconnectPolicy
from trio_gemini_live import events as ev
from trio_gemini_live.models import profile_for
from trio_gemini_live.testing import LiveEmulator

from .conftest import API_KEY, until

MODELS = [
    "gemini-2.5-flash-native-audio-preview-12-2025",
    "gemini-3.1-flash-live-preview",
    "gemini-3.8-live",
]
TEXT = LiveConfig(response_modalities=["TEXT"])
HISTORY = [
    {"role": "user", "parts": [{"text": "My name is Ada."}]},
    {"role": "model", "parts": [{"text": "Nice to meet you, Ada."}]},
]

pytestmark = pytest.mark.usefixtures("referee")


def said(events: list[ev.Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, ev.TextChunk) and not e.thought)


def sent(emulator: LiveEmulator, connection: int = 0) -> list[dict[str, Any]]:
    return emulator.connections[connection].received


@pytest.fixture
async def emulator(nursery: trio.Nursery) -> LiveEmulator:
    emu = LiveEmulator(api_key=API_KEY)
    await nursery.start(emu.serve_in_memory)
    return emu


@pytest.mark.parametrize("model", MODELS)
async def test_text_only(emulator: LiveEmulator, nursery: trio.Nursery, model: str) -> None:
    with trio.fail_after(20):
        async with emulator.open_session(
            nursery, model=model, in_memory=True, config=TEXT
        ) as session:
            await session.send_text("Hello there")
            answer = await until(session, ev.TurnComplete)
    assert 'I heard: "Hello there"' in said(answer)
    assert [list(m) for m in sent(emulator)] == [["setup"], ["realtimeInput"]]
    assert sent(emulator)[1]["realtimeInput"] == {"text": "Hello there"}


@pytest.mark.parametrize("model", MODELS)
async def test_history_then_text(
    emulator: LiveEmulator, nursery: trio.Nursery, model: str
) -> None:
    with trio.fail_after(20):
        async with emulator.open_session(
            nursery, model=model, in_memory=True, config=TEXT, history=HISTORY
        ) as session:
            # Sent at once: realtime input must wait behind the history (pipecat #4171).
            await session.send_text("What is my name?")
            answer = await until(session, ev.TurnComplete)
            assert [t.text for t in session.conversation][:2] == [
                "My name is Ada.", "Nice to meet you, Ada."
            ]
    messages = sent(emulator)
    setup = messages[0]["setup"]
    if profile_for(model).history_needs_config:
        assert setup["historyConfig"] == {"initialHistoryInClientContent": True}
    else:
        assert "historyConfig" not in setup
    assert messages[1] == {"clientContent": {"turns": HISTORY, "turnComplete": False}}
    assert messages[2] == {"realtimeInput": {"text": "What is my name?"}}
    assert emulator.history()[:2] == [
        {"role": "user", "text": "My name is Ada."},
        {"role": "model", "text": "Nice to meet you, Ada."},
    ]
    assert 'I heard: "What is my name?"' in said(answer)


@pytest.mark.parametrize("model", MODELS)
async def test_a_history_turn_that_cannot_be_history_is_refused_before_connecting(
    emulator: LiveEmulator, nursery: trio.Nursery, model: str
) -> None:
    bad_histories: list[tuple[Any, str]] = [
        ([{"role": "user", "parts": [{"function_call": {"name": "f"}}]}], "function"),
        ([{"role": "system", "parts": [{"text": "hi"}]}], "role"),
        ([{"parts": [{"text": "no role"}]}], "role"),
    ]
    for history, words in bad_histories:
        with trio.fail_after(5), pytest.raises(ValueError, match=words):
            async with emulator.open_session(
                nursery, model=model, in_memory=True, config=TEXT, history=history
            ):
                pass
    assert emulator.connections == []


@pytest.mark.parametrize(
    ("model", "config", "words"),
    [
        (MODELS[1], {"thinking_config": {"thinking_budget": 0}}, "thinking_level"),
        (MODELS[1], {"proactivity": {"proactive_audio": True}}, "proactiv"),
        (MODELS[0], {"thinking_config": {"thinking_level": "LOW"}}, "thinking_budget"),
        (MODELS[1], {"tools": [{"function_declarations": [
            {"name": "f", "behavior": "NON_BLOCKING"}]}]}, "NON_BLOCKING"),
    ],
)
async def test_a_config_the_model_refuses_opens_no_connection(
    emulator: LiveEmulator, nursery: trio.Nursery, model: str, config: dict[str, Any],
    words: str,
) -> None:
    with trio.fail_after(5), pytest.raises(ValueError, match=words) as info:
        async with emulator.open_session(
            nursery, model=model, in_memory=True, config=LiveConfig(**config)
        ):
            pass
    assert model in str(info.value)  # the message names the model
    assert emulator.connections == []


@pytest.mark.parametrize("model", MODELS)
async def test_a_context_update_survives_a_fresh_reconnection(
    emulator: LiveEmulator, nursery: trio.Nursery, model: str,
    autojump_clock: trio.testing.MockClock,
) -> None:
    profile = profile_for(model)
    with trio.fail_after(60):
        async with emulator.open_session(
            nursery, model=model, in_memory=True, config=TEXT, reconnect=ReconnectPolicy(),
            reseed_conversation=False,
        ) as session:
            if not profile.context_update:
                with pytest.raises(ValueError, match="contextUpdate"):
                    await session.send_context_update("You are a pirate.")
                return
            await session.send_context_update("You are a pirate.")
            await session.send_text("Tell me your instructions")
            first = await until(session, ev.TurnComplete)
            await emulator.drop()
            seen = await until(session, ev.Reconnected)
            assert seen[-1] == ev.Reconnected(resumed=False)
            await session.send_text("Tell me your instructions again")
            second = await until(session, ev.TurnComplete)
    assert "You are a pirate." in said(first)
    # The fresh connection's setup carries the update, not the original (empty) one.
    setup = sent(emulator, 1)[0]["setup"]
    assert setup["systemInstruction"] == {"parts": [{"text": "You are a pirate."}]}
    assert "You are a pirate." in said(second)
    assert not [m for m in sent(emulator, 1) if "contextUpdate" in m]


async def test_context_update_tools_change_what_the_session_runs(
    emulator: LiveEmulator, nursery: trio.Nursery
) -> None:
    def get_weather(city: str) -> dict[str, Any]:
        """The weather in a city.

        Args:
            city: the city.
        """
        return {"city": city, "sky": "clear"}

    with trio.fail_after(20):
        async with emulator.open_session(
            nursery, model=MODELS[2], in_memory=True, config=TEXT
        ) as session:
            await session.send_context_update(tools=[get_weather])
            await session.send_text("Please call get_weather for Paris")
            events = await until(session, ev.TurnComplete)
            # 3.8 runs tools asynchronously: the result comes in a later turn.
            while "The result of get_weather" not in said(events):
                events += await until(session, ev.TurnComplete)
    assert any(isinstance(e, ev.ToolCall) for e in events)
    update = next(m for m in sent(emulator) if "contextUpdate" in m)["contextUpdate"]
    assert update["tools"]["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    responses = [m["toolResponse"] for m in sent(emulator) if "toolResponse" in m]
    assert responses and responses[0]["functionResponses"][0]["response"] == {
        "output": {"city": "Paris", "sky": "clear"}
    }


async def test_bad_context_updates_are_refused(
    emulator: LiveEmulator, nursery: trio.Nursery
) -> None:
    with trio.fail_after(20):
        async with emulator.open_session(
            nursery, model=MODELS[2], in_memory=True, config=TEXT
        ) as session:
            with pytest.raises(ValueError, match="system_instruction, tools"):
                await session.send_context_update()
            with pytest.raises(TypeError):
                await session.send_context_update(tools="get_weather")
            with pytest.raises(TypeError):
                await session.send_text(b"bytes")  # type: ignore[arg-type]
            await session.send_text("still fine")
            await until(session, ev.TurnComplete)
    assert [list(m) for m in sent(emulator)] == [["setup"], ["realtimeInput"]]
