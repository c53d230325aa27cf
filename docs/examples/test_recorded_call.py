"""How-to: a test that runs against a recording of the real Live API (run with ``pytest``).

The first time, record it against Google (``GEMINI_API_KEY`` in the environment)::

    pytest docs/examples/test_recorded_call.py --live-record

From then on (in CI, offline, without a key) the test replays
``docs/examples/recordings/weather.jsonl``: the same frames in the same order, the tool
call included, and a clear failure if the code under test starts sending something else.
(The recording committed with these docs was made against the emulator.)
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from trio_gemini_live import LiveConfig, LiveSession, open_live_session
from trio_gemini_live import events as ev
from trio_gemini_live.tools import tool

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
CONFIG = LiveConfig(response_modalities=["AUDIO"], output_audio_transcription={})
CALLS: list[str] = []


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Get the current weather in a city.

    Args:
        city: The city, e.g. "Paris".
    """
    CALLS.append(city)
    return {"city": city, "celsius": 21, "sky": "clear"}


# --- the application under test ----------------------------------------------------------


async def ask(session: LiveSession, question: str) -> str:
    """Your app: one question, the transcript of the spoken answer."""
    await session.send_text(question)
    answer: list[str] = []
    async for event in session.events():
        match event:
            case ev.OutputTranscription(text=text):
                answer.append(text)
            case ev.TurnComplete():
                break
    return "".join(answer)


# --- the test ----------------------------------------------------------------------------
# ``live_endpoint`` (the package's pytest plugin) is what open_live_session needs to reach
# the recording's replay (or, with --live-record, Google, recording the session).


@pytest.mark.live_recording("docs/examples/recordings/weather.jsonl")
async def test_the_weather_question_calls_the_tool(live_endpoint: dict[str, Any]) -> None:
    CALLS.clear()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            async with open_live_session(nursery, model=MODEL, config=CONFIG,
                                         tools=[get_weather], **live_endpoint) as session:
                answer = await ask(session, "Please call get_weather for Paris.")
            nursery.cancel_scope.cancel()
    assert len(CALLS) == 1  # the model called the tool once (the session answered it)
    assert answer  # and then said something
