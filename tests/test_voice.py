"""Sending a voice (issue 14): manual turns with pre-roll, and audio files streamed in real
time and ended as turns must end (PROTOCOL.md 3.3)."""

from __future__ import annotations

import base64
import io
import wave
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trio_gemini_live import Blob, LiveConfig, LiveSession
from trio_gemini_live import events as ev
from trio_gemini_live.audio import chunk_pcm, pcm_duration, tone, write_wav
from trio_gemini_live.testing import LiveEmulator, speech_like_pcm
from trio_gemini_live.video import VideoPacer
from trio_gemini_live.voice import ManualTurns, stream_pcm, stream_wav

MANUAL = LiveConfig(response_modalities=["TEXT"], realtime_input_config={
    "automatic_activity_detection": {"disabled": True}})
AUTO = LiveConfig(response_modalities=["TEXT"], input_audio_transcription={})


def realtime_inputs(emulator: LiveEmulator) -> list[tuple[str, Any]]:
    """The client's realtimeInput messages: (field, value), audio decoded to bytes."""
    out: list[tuple[str, Any]] = []
    for message in emulator.received():
        rti = message.get("realtimeInput")
        if rti is None:
            continue
        ((field, value),) = rti.items()
        if field == "audio":
            value = (value["mimeType"], base64.b64decode(value["data"]))
        out.append((field, value))
    return out


async def answer(session: LiveSession) -> str:
    text = []
    async for event in session.events():
        if isinstance(event, ev.TextChunk):
            text.append(event.text)
        elif isinstance(event, ev.TurnComplete):
            return "".join(text)
    raise AssertionError("no answer")


# --- ManualTurns -------------------------------------------------------------------------------


async def test_pre_roll_arrives_right_after_activity_start(
        live_emulator: LiveEmulator, nursery: trio.Nursery) -> None:
    mic = tone(300, 1.0, 16000)  # one second of "microphone" before the VAD fires
    live = tone(500, 0.5, 16000)
    with trio.fail_after(10):
        async with live_emulator.open_session(nursery, config=MANUAL, in_memory=True) as session:
            turns = ManualTurns(session, pre_roll_ms=300)
            for chunk in chunk_pcm(mic, ms=20):
                await turns.feed(chunk)
            assert turns.buffered_seconds == pytest.approx(0.3)
            assert realtime_inputs(live_emulator) == []  # nothing sent before the turn
            await turns.start()
            assert turns.active and turns.turns == 1 and turns.buffered_seconds == 0
            for chunk in chunk_pcm(live, ms=20):
                await turns.feed(chunk)
            await turns.end()
            assert not turns.active
            text = await answer(session)
    inputs = realtime_inputs(live_emulator)
    assert inputs[0] == ("activityStart", {})
    assert inputs[-1] == ("activityEnd", {})
    audio = b"".join(value[1] for field, value in inputs[1:-1])
    assert {field for field, _ in inputs[1:-1]} == {"audio"}
    # The last 300 ms before start(), then the live audio, in order.
    assert audio == mic[-2 * 4800:] + live
    assert "[audio 0.8s]" in text


class SlowSession:
    """Records realtime inputs; every send yields to other tasks first."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    async def send_realtime_input(self, **kwargs: Any) -> None:
        await trio.sleep(0.01)
        ((field, value),) = kwargs.items()
        self.sent.append((field, value))


async def test_live_audio_never_overtakes_the_pre_roll(
        autojump_clock: trio.testing.MockClock) -> None:
    session = SlowSession()
    turns = ManualTurns(session, pre_roll_ms=100, sample_rate=1000)  # 100 samples
    pre = bytes(range(200))
    await turns.feed(pre)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(turns.start)
        await trio.testing.wait_all_tasks_blocked()  # start() is sending activity_start
        await turns.feed(b"LIVE")  # waits for start() to finish
        nursery.start_soon(turns.end)
    assert session.sent == [("activity_start", True), ("audio", pre), ("audio", b"LIVE"),
                            ("activity_end", True)]


async def test_manual_turns_edges(autojump_clock: trio.testing.MockClock) -> None:
    session = SlowSession()
    turns = ManualTurns(session, pre_roll_ms=0)
    await turns.feed(b"\x01\x00" * 10)
    assert turns.buffered_seconds == 0
    await turns.end()  # not active: nothing
    await turns.start()
    await turns.start()  # a VAD firing twice: one turn
    await turns.end()
    await turns.end()
    assert session.sent == [("activity_start", True), ("activity_end", True)]
    # The buffer keeps exactly pre_roll_ms, cutting inside a chunk.
    turns = ManualTurns(session, pre_roll_ms=2, sample_rate=1000)  # 2 samples: 4 bytes
    await turns.feed(b"abcdef")
    await turns.feed(b"gh")
    assert turns.buffered_seconds == pytest.approx(0.002)
    session.sent.clear()
    await turns.start()
    assert session.sent[1] == ("audio", b"efgh")
    with pytest.raises(ValueError, match="odd"):
        await turns.feed(b"abc")
    with pytest.raises(ValueError):
        ManualTurns(session, pre_roll_ms=-1)


async def test_manual_turns_refuses_automatic_vad(live_emulator: LiveEmulator,
                                                  nursery: trio.Nursery) -> None:
    with trio.fail_after(10):
        async with live_emulator.open_session(nursery, config=AUTO, in_memory=True) as session:
            with pytest.raises(ValueError, match="automatic voice activity detection"):
                ManualTurns(session)


async def test_manual_turns_tell_the_video_pacer(autojump_clock: trio.testing.MockClock) -> None:
    session = SlowSession()
    pacer = VideoPacer(session, send_only_during_activity=True)
    turns = ManualTurns(session, video=pacer)
    await turns.start()
    assert pacer.active
    await turns.end()
    assert not pacer.active


# --- streaming a recording ---------------------------------------------------------------------


@pytest.mark.live_emulator(audio_transcript="what is the weather")
async def test_audio_without_trailing_silence_needs_its_turn_ended(
        live_emulator: LiveEmulator, nursery: trio.Nursery,
        autojump_clock: trio.testing.MockClock) -> None:
    """Issue 14, the first hour: speech with no trailing silence. Streamed alone it never
    ends the turn (the server's VAD waits for silence); stream_pcm ends it."""
    pcm = speech_like_pcm(1.5, 48000)  # stops in mid-speech, no trailing silence
    with trio.fail_after(120):
        async with live_emulator.open_session(nursery, config=AUTO, in_memory=True) as session:
            # The trap: the audio alone, in real time, and nothing ends the turn.
            await stream_pcm(session, pcm, sample_rate=48000, end_turn=False)
            with trio.move_on_after(30):
                await answer(session)
                raise AssertionError("a turn without trailing silence was answered")
            # The helper ends it: audio_stream_end after the last chunk.
            start = trio.current_time()
            seconds = await stream_pcm(session, pcm, sample_rate=48000)
            # In real time: the last chunk (20 ms) goes out 1.48 s after the first.
            assert trio.current_time() - start == pytest.approx(1.48)
            assert '"what is the weather"' in await answer(session)
    assert seconds == pytest.approx(1.5)
    inputs = realtime_inputs(live_emulator)
    assert inputs[-1] == ("audioStreamEnd", True)
    assert {value[0] for field, value in inputs if field == "audio"} == {"audio/pcm;rate=16000"}


async def test_stream_wav_mixes_resamples_and_ends_the_turn(
        live_emulator: LiveEmulator, nursery: trio.Nursery, tmp_path: Path) -> None:
    # Real clock: the file is read in a worker thread (an autojump clock would jump then).
    mono = speech_like_pcm(0.3, 44100)
    stereo = b"".join(mono[i : i + 2] * 2 for i in range(0, len(mono), 2))
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(44100)
        wav.writeframes(stereo)
    with trio.fail_after(20):
        async with live_emulator.open_session(nursery, config=AUTO, in_memory=True) as session:
            seconds = await stream_wav(session, path)
            assert "[audio 0.3s]" in await answer(session)
    assert seconds == pytest.approx(0.3, abs=1e-4)
    inputs = realtime_inputs(live_emulator)
    audio = b"".join(value[1] for field, value in inputs if field == "audio")
    assert pcm_duration(audio) == pytest.approx(0.3, abs=1e-4)
    assert inputs[-1] == ("audioStreamEnd", True)


async def test_chunks_are_paced_against_the_start_time(
        autojump_clock: trio.testing.MockClock) -> None:
    # Every send takes 10 ms: sleeping a chunk's duration after each send would drift by
    # 10 ms a chunk; sleeping until start + position does not.
    session = SlowSession()
    times: list[float] = []
    send = session.send_realtime_input

    async def timed(**kwargs: Any) -> None:
        times.append(trio.current_time())
        await send(**kwargs)

    session.send_realtime_input = timed  # type: ignore[method-assign]
    start = trio.current_time()
    pcm = bytes(2 * 16000 * 2)  # 2 s at 16 kHz
    seconds = await stream_pcm(session, pcm, chunk_ms=50, manual=False)
    audio_times = times[:-1]
    assert len(audio_times) == 40 and seconds == 2.0
    for k, t in enumerate(audio_times):
        assert t - start == pytest.approx(k * 0.05, abs=1e-9)
    assert session.sent[-1] == ("audio_stream_end", True)
    assert all(isinstance(v, Blob) and v.mime_type == "audio/pcm;rate=16000"
               for f, v in session.sent[:-1])


async def test_stream_with_manual_activity(live_emulator: LiveEmulator,
                                           nursery: trio.Nursery) -> None:
    buffer = io.BytesIO()
    write_wav(buffer, tone(200, 0.75, 8000), 8000)
    buffer.seek(0)
    with trio.fail_after(60):
        async with live_emulator.open_session(nursery, config=MANUAL, in_memory=True) as session:
            seconds = await stream_wav(session, buffer, chunk_ms=100, realtime=False)
            text = await answer(session)
    assert seconds == pytest.approx(0.75)
    assert "[audio 0.8s]" in text  # 0.75 s, as the emulator rounds it
    inputs = realtime_inputs(live_emulator)
    assert inputs[0] == ("activityStart", {}) and inputs[-1] == ("activityEnd", {})
    audio = b"".join(value[1] for field, value in inputs if field == "audio")
    assert pcm_duration(audio) == pytest.approx(0.75)


async def test_stream_checks_its_input() -> None:
    session = SlowSession()
    with pytest.raises(ValueError):
        await stream_pcm(session, b"\x00", manual=False)
    with pytest.raises(ValueError, match="chunk_ms"):
        await stream_pcm(session, b"", chunk_ms=500, manual=False)
    with pytest.raises(ValueError, match="WAV"):
        await stream_wav(session, io.BytesIO(b"not a wav"))
    assert session.sent == []
