"""Client code that recordings are made of and replayed with (issue 15), shared by the tests.

The same functions run against the emulator (recording) and against a
:class:`~trio_gemini_live.testing.ReplayServer` (replaying): what the server does that the
client does not cause (a ``goAway``, a drop, a close) comes from emulator faults scheduled
at a client message count while recording, and from the recording while replaying.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
import trio

from trio_gemini_live import LiveConfig, LiveSession
from trio_gemini_live import events as ev
from trio_gemini_live.audio import chunk_pcm
from trio_gemini_live.testing import Fault, LiveEmulator, speech_like_pcm
from trio_gemini_live.tools import tool

from .conftest import API_KEY, MODEL, until

CONFIG = LiveConfig(response_modalities=["AUDIO"], input_audio_transcription={},
                    output_audio_transcription={}, session_resumption={})
TEXT_CONFIG = LiveConfig(response_modalities=["TEXT"], session_resumption={})
#: 1.9 s of speech-like input, sent in 100 ms chunks (3200 bytes at 16 kHz).
AUDIO = speech_like_pcm(1.0, lead_silence=0.1, trail_silence=0.8)
AUDIO_CHUNKS = math.ceil(len(AUDIO) / 3200)


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Get the current weather in a city.

    Args:
        city: The city, e.g. "Paris".
    """
    return {"city": city, "celsius": 21}


TOOLS = [get_weather]

#: The client messages of the conversation's first connection: setup, "Hello", the audio,
#: the tool prompt, the tool response (sent by the session), "Please hold." (no answer: the
#: goAway comes after it, so nothing else is in flight).
CONVERSATION_FIRST_CONNECTION = 1 + 1 + AUDIO_CHUNKS + 1 + 1 + 1


async def turn(session: LiveSession) -> list[ev.Event]:
    """The events of a model turn, up to the resumption handle the server sends after it.

    Waiting for that handle before sending anything else keeps the client's next message
    from racing it: which messages a session sends again after resuming depends on whether
    they were sent before or after its latest handle (PROTOCOL.md 6), and a race would make
    the client's behaviour depend on the transport's buffering rather than on the server.
    """
    events = await until(session, ev.TurnComplete)
    return events + await until(session, ev.SessionResumptionUpdate)


async def conversation(session: LiveSession) -> list[ev.Event]:
    """Text, audio, a tool call, a goAway survived by resumption, text again."""
    events: list[ev.Event] = []
    await session.send_client_content("Hello")
    events += await turn(session)
    for chunk in chunk_pcm(AUDIO, sample_rate=16000, ms=100):
        await session.send_realtime_input(audio=chunk)
    events += await turn(session)
    await session.send_client_content("Please call get_weather for Paris.")
    events += await turn(session)
    await session.send_client_content("Please hold.", turn_complete=False)
    events += await until(session, ev.Reconnected)
    await session.send_client_content("Are you still there?")
    events += await turn(session)
    return events


def conversation_faults(emulator: LiveEmulator) -> None:
    """While recording :func:`conversation`: the goAway after "Please hold."."""
    emulator.schedule_fault(Fault.go_away(0.5),
                            after_client_messages=CONVERSATION_FIRST_CONNECTION, connection=0)


async def answered(session: LiveSession) -> list[ev.Event]:
    """Events until a reply completes (a turn cut short by a lost connection does not
    count), and the resumption handle after it (see :func:`turn`)."""
    events: list[ev.Event] = []
    while True:
        events += await until(session, ev.TurnComplete)
        last = events[-1]
        if isinstance(last, ev.TurnComplete) and last.reason != "CONNECTION_LOST":
            break
    return events + await until(session, ev.SessionResumptionUpdate)


async def faults(session: LiveSession) -> list[ev.Event]:
    """Three text turns across a dropped connection (1006) and a transient close (1011):
    each question is sent again on the new connection, and answered once."""
    # The first handle before anything else (see :func:`turn`).
    events = await until(session, ev.SessionResumptionUpdate)
    for text in ("one", "two", "three"):
        await session.send_client_content(text)
        events += await answered(session)
    return events


def faults_faults(emulator: LiveEmulator) -> None:
    """While recording :func:`faults`: the first connection drops as "one" arrives (its
    message 2, after setup); the second closes with 1011 as "two" arrives (its message 3,
    after setup and "one" sent again)."""
    emulator.schedule_fault(Fault.drop(), after_client_messages=2, connection=0)
    emulator.schedule_fault(Fault.close(1011, "Internal error occurred."),
                            after_client_messages=3, connection=1)


SCENARIOS = {
    "conversation": (conversation, conversation_faults, CONFIG),
    "faults": (faults, faults_faults, TEXT_CONFIG),
}


def digest(events: list[ev.Event], *, audio: bool = False) -> list[tuple[str, Any]]:
    """Events as comparable values: type and payload (audio data by length, or as is)."""
    out: list[tuple[str, Any]] = []
    for event in events:
        name = type(event).__name__
        if isinstance(event, ev.AudioChunk):
            out.append((name, (event.data if audio else len(event.data), event.sample_rate)))
        elif isinstance(event, ev.TurnMetrics):
            # Times on the client's clock differ from run to run; what was measured does not.
            out.append((name, (event.response_tokens, event.interrupted, event.user_turn_end)))
        else:
            out.append((name, msgspec.to_builtins(event)))
    return out


async def record_scenario(name: str, kwargs: dict[str, Any],
                          emulator: LiveEmulator) -> list[ev.Event]:
    """Run scenario ``name`` with session ``kwargs`` against ``emulator`` (faults scheduled)."""
    SCENARIOS[name][1](emulator)
    return await run_scenario(name, kwargs)


async def run_scenario(name: str, kwargs: dict[str, Any]) -> list[ev.Event]:
    """Run scenario ``name``'s client code with session ``kwargs`` (no faults: replaying)."""
    script, _, config = SCENARIOS[name]
    async with trio.open_nursery() as inner:
        async with _open(inner, kwargs, config) as session:
            events = await script(session)
        inner.cancel_scope.cancel()
    return events


def _open(nursery: trio.Nursery, kwargs: dict[str, Any], config: LiveConfig) -> Any:
    from trio_gemini_live import open_live_session

    options = {"model": MODEL, "config": config, "tools": TOOLS, **kwargs}
    return open_live_session(nursery, **options)


def emulator_kwargs(emulator: LiveEmulator) -> dict[str, Any]:
    """Session kwargs for the emulator over loopback (its URL and key)."""
    from trio_gemini_live import ApiKey

    return {"endpoint": emulator.url, "auth": ApiKey(API_KEY)}
