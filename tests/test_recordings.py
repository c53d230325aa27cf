"""Recordings committed under tests/recordings/, made against the emulator (issue 15).

In CI these tests replay their recordings through the package's own pytest plugin (the
``live_recording`` marker): the format, the reader and the replay server are exercised end
to end on every run. This module's ``live_record_target`` points ``--live-record`` at the
emulator, never at Google, so the recordings are regenerated with::

    pytest tests/test_recordings.py --live-record

(and committed with their WAV side files). ``test_rerecording_gives_the_committed_kinds``
records the same scenarios again and compares the message kinds with the committed files,
so a change in what the client or the emulator sends shows up here.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_gemini_live import events as ev
from trio_gemini_live.audio import chunk_pcm
from trio_gemini_live.testing import LiveEmulator, LiveRecording, Recorder, Recording

from .conftest import API_KEY, MODEL, until
from .recording_scenarios import (
    AUDIO,
    SCENARIOS,
    emulator_kwargs,
    record_scenario,
    run_scenario,
)

RECORDINGS = Path(__file__).resolve().parent / "recordings"
# Which scenario (tests/recording_scenarios.py) each test of this module plays.
SCENARIO_OF = {"test_conversation": "conversation", "test_faults": "faults"}


@pytest.fixture
async def live_record_target(request: pytest.FixtureRequest,
                             nursery: trio.Nursery) -> dict[str, Any]:
    """``--live-record`` records this module's tests against the emulator (with the faults
    their scenario needs while recording), not against Google."""
    emulator = LiveEmulator(api_key=API_KEY)
    scenario = SCENARIO_OF.get(request.node.originalname)
    if scenario is not None:
        SCENARIOS[scenario][1](emulator)
    await nursery.start(emulator.serve)
    return emulator_kwargs(emulator)


def said(events: list[ev.Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, ev.OutputTranscription | ev.TextChunk))


@pytest.mark.live_recording("tests/recordings/conversation.jsonl")
async def test_conversation(live_recording: LiveRecording) -> None:
    with trio.fail_after(60):
        events = await run_scenario("conversation", live_recording.kwargs)
    text = said(events)
    assert 'I heard: "Hello". This is turn 1 of our conversation.' in text
    assert 'I heard: "[audio 1.' in text
    assert "The result of get_weather is" in text
    calls = [c for e in events if isinstance(e, ev.ToolCall) for c in e.calls]
    assert [c.name for c in calls] == ["get_weather"]
    assert [type(e) for e in events if isinstance(e, ev.GoAway | ev.Reconnected)] == [
        ev.GoAway, ev.Reconnected]
    assert [e.resumed for e in events if isinstance(e, ev.Reconnected)] == [True]
    assert 'I heard: "Please hold. Are you still there?"' in text
    audio = [e for e in events if isinstance(e, ev.AudioChunk)]
    assert audio and {e.sample_rate for e in audio} == {24000}


@pytest.mark.live_recording("tests/recordings/faults.jsonl")
async def test_faults(live_recording: LiveRecording) -> None:
    with trio.fail_after(60):
        events = await run_scenario("faults", live_recording.kwargs)
    assert [e.resumed for e in events if isinstance(e, ev.Reconnected)] == [True, True]
    # Each question was sent again after its connection was lost, and answered once.
    text = said(events)
    for number, word in enumerate(("one", "two", "three"), start=1):
        assert text.count(f'I heard: "{word}". This is turn {number} of our conversation.') == 1


@pytest.mark.live_recording("tests/recordings/voice.jsonl", audio="wav")
async def test_voice(live_recording: LiveRecording) -> None:
    """Audio kept in WAV side files: a replay sends the model's real voice back."""
    from trio_gemini_live import LiveConfig, open_live_session

    config = LiveConfig(response_modalities=["AUDIO"], input_audio_transcription={})
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            async with open_live_session(nursery, model=MODEL, config=config,
                                         **live_recording.kwargs) as session:
                for chunk in chunk_pcm(AUDIO, sample_rate=16000, ms=100):
                    await session.send_realtime_input(audio=chunk)
                events = await until(session, ev.TurnComplete)
            nursery.cancel_scope.cancel()
    pcm = b"".join(e.data for e in events if isinstance(e, ev.AudioChunk))
    assert len(pcm) > 24000 and any(pcm[i:i + 2] != b"\0\0" for i in range(0, len(pcm), 2))
    heard = "".join(e.text for e in events if isinstance(e, ev.InputTranscription))
    assert heard.startswith("[audio 1.")


def test_the_committed_recordings_are_complete_and_small() -> None:
    for name in ("conversation", "faults", "voice"):
        recording = Recording.load(RECORDINGS / f"{name}.jsonl")
        assert recording.complete and recording.dropped == 0
        assert recording.header.backend == "gemini"
    voice = Recording.load(RECORDINGS / "voice.jsonl")
    assert voice.header.audio == "wav"
    assert {p.name for p in RECORDINGS.glob("voice.*.wav")} == {
        "voice.c0.client.wav", "voice.c0.server.wav"}


def _shape(recording: Recording) -> list[tuple[list[str], Counter[str], Any]]:
    """Per connection: the client's kinds in order, the server's kinds counted (how many
    chunks a reply takes is the emulator's business), and how it ended."""
    return [
        ([f.kind for f in c.frames if f.sender == "client"],
         Counter(f.kind for f in c.frames if f.sender == "server"),
         (c.end.by, c.end.code) if c.end else None)
        for c in recording.connections
    ]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_rerecording_gives_the_committed_kinds(name: str, tmp_path: Path,
                                                     nursery: trio.Nursery) -> None:
    emulator = LiveEmulator(api_key=API_KEY)
    await nursery.start(emulator.serve)
    path = tmp_path / f"{name}.jsonl"
    with trio.fail_after(60):
        async with Recorder(path) as recorder:
            await record_scenario(name, {**emulator_kwargs(emulator),
                                         "connect": recorder.wrap_connect()}, emulator)
    fresh, committed = Recording.load(path), Recording.load(RECORDINGS / f"{name}.jsonl")
    assert [s[0] for s in _shape(fresh)] == [s[0] for s in _shape(committed)]
    assert [s[2] for s in _shape(fresh)] == [s[2] for s in _shape(committed)]
    assert [set(s[1]) for s in _shape(fresh)] == [set(s[1]) for s in _shape(committed)]
