"""Latency per turn, percentiles over a call, and the stall watchdog (issue 14).

The state machines are pure: most tests script the timestamps. The emulator tests feed them
a real session's events on the (autojump) Trio clock, the way the session will, and check
the figures against the emulator's configured delays."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import pytest
import trio
import trio.testing

from trio_gemini_live import FunctionCall, FunctionResponse, LiveConfig, LiveSession
from trio_gemini_live import events as ev
from trio_gemini_live._latency import LatencyTracker, StallWatchdog, percentile
from trio_gemini_live.testing import LiveEmulator, speech_like_pcm

AUDIO = ev.AudioChunk(data=b"\0\0")


def run(tracker: LatencyTracker, *items: tuple[float, ev.Event | str]) -> list[ev.TurnMetrics]:
    """Feed scripted sends (a send kind) and events at their times; the metrics emitted."""
    out: list[ev.TurnMetrics] = []
    for now, item in items:
        if isinstance(item, str):
            tracker.sent(item, now)
        else:
            metrics = tracker.event(item, now)
            if metrics is not None:
                out.append(metrics)
    return out


# --- per turn --------------------------------------------------------------------------------


def test_a_text_turn() -> None:
    tracker = LatencyTracker()
    (metrics,) = run(tracker,
                     (10.0, "client_turn"),
                     (10.4, ev.TextChunk(text="thinking", thought=True)),  # not output
                     (10.6, ev.TextChunk(text="Hi")),
                     (10.8, AUDIO),
                     (11.6, ev.GenerationComplete()),
                     (11.7, ev.UsageUpdate(usage=ev.Usage(response_tokens=50))),
                     (12.0, ev.TurnComplete()))
    assert metrics == ev.TurnMetrics(
        time_to_first_output=pytest.approx(0.6), time_to_first_audio=pytest.approx(0.8),
        duration=pytest.approx(1.4), tokens_per_second=pytest.approx(50.0),
        response_tokens=50, interrupted=False, user_turn_end="client_turn")


def test_manual_activity_counts_from_activity_end() -> None:
    tracker = LatencyTracker()
    (metrics,) = run(tracker,
                     (1.0, "activity_start"),
                     (3.0, "activity_end"),
                     (3.2, ev.InputTranscription(text="hi", finished=True)),  # later: ignored
                     (3.5, AUDIO),
                     (4.0, ev.TurnComplete()))
    assert metrics.time_to_first_output == pytest.approx(0.5)
    assert metrics.time_to_first_audio == pytest.approx(0.5)
    assert metrics.user_turn_end == "activity_end"
    assert metrics.tokens_per_second is None and metrics.response_tokens is None


def test_automatic_vad_counts_from_the_servers_end_of_speech() -> None:
    tracker = LatencyTracker()
    (metrics,) = run(tracker,
                     (1.0, ev.VoiceActivity(kind="ACTIVITY_START")),
                     (2.0, ev.VoiceActivity(kind="ACTIVITY_END")),
                     (2.1, ev.InputTranscription(text="hello", finished=True)),  # latest wins
                     (2.6, ev.OutputTranscription(text="Hi")),
                     (2.7, AUDIO),
                     (3.0, ev.TurnComplete()))
    assert metrics.user_turn_end == "input_transcription"
    assert metrics.time_to_first_output == pytest.approx(0.5)
    assert metrics.time_to_first_audio == pytest.approx(0.6)


def test_a_new_start_forgets_an_earlier_end() -> None:
    # The microphone paused with no speech; the user spoke later (server VAD start/end).
    tracker = LatencyTracker()
    (metrics,) = run(tracker,
                     (0.0, "audio_stream_end"),
                     (5.0, ev.VoiceActivity(kind="ACTIVITY_START")),
                     (6.0, ev.VoiceActivity(kind="ACTIVITY_END")),
                     (6.5, AUDIO),
                     (7.0, ev.TurnComplete()))
    assert metrics.time_to_first_output == pytest.approx(0.5)


def test_late_transcription_does_not_start_the_next_turn() -> None:
    tracker = LatencyTracker()
    run(tracker, (0.0, "text"), (1.0, AUDIO),
        (1.5, ev.InputTranscription(text="x", finished=True)),  # while the model answers
        (2.0, ev.TurnComplete()))
    (metrics,) = run(tracker, (9.0, AUDIO), (9.5, ev.TurnComplete()))  # proactive turn
    assert metrics.time_to_first_output is None and metrics.user_turn_end is None


def test_text_sent_during_an_answer_is_the_next_turn() -> None:
    tracker = LatencyTracker()
    first, second = run(tracker,
                        (0.0, "text"),
                        (1.0, ev.TextChunk(text="A long")),
                        (2.0, "text"),  # interrupts (PROTOCOL.md 3.2)
                        (2.1, ev.Interrupted()),
                        (2.2, ev.TurnComplete()),
                        (2.5, ev.TextChunk(text="OK")),
                        (3.0, ev.TurnComplete()))
    assert first.interrupted and first.time_to_first_output == pytest.approx(1.0)
    assert first.time_to_first_audio is None  # a turn without audio
    assert not second.interrupted and second.time_to_first_output == pytest.approx(0.5)


def test_tool_call_is_output_and_audio_includes_the_tool_time() -> None:
    tracker = LatencyTracker()
    (metrics,) = run(tracker,
                     (0.0, "text"),
                     (0.3, ev.ToolCall(calls=(FunctionCall(id="1", name="f"),))),
                     (2.0, AUDIO),
                     (2.5, ev.TurnComplete()))
    assert metrics.time_to_first_output == pytest.approx(0.3)
    assert metrics.time_to_first_audio == pytest.approx(2.0)


def test_hot_path_flag_and_empty_turns() -> None:
    tracker = LatencyTracker()
    assert tracker.awaiting_audio
    tracker.sent("text", 0.0)
    tracker.audio(0.2)
    assert not tracker.awaiting_audio  # the rest of the turn's chunks cost one test each
    tracker.audio(0.3)
    metrics = tracker.event(ev.TurnComplete(), 1.0)
    assert metrics is not None and metrics.time_to_first_audio == pytest.approx(0.2)
    assert tracker.awaiting_audio
    # A TurnComplete with no output (interrupted at once) measures nothing.
    assert tracker.event(ev.TurnComplete(), 2.0) is None
    assert tracker.turns == 1


def test_connection_lost_keeps_the_wait_of_an_unanswered_turn() -> None:
    tracker = LatencyTracker()
    tracker.sent("text", 0.0)
    tracker.connection_lost(1.0)
    (metrics,) = run(tracker, (4.0, AUDIO), (5.0, ev.TurnComplete()))
    assert metrics.time_to_first_output == pytest.approx(4.0)
    # A turn in progress when the connection is lost is not measured.
    run(tracker, (6.0, "text"), (6.5, AUDIO))
    tracker.connection_lost(7.0)
    assert tracker.event(ev.TurnComplete(), 8.0) is None
    assert tracker.turns == 1


# --- percentiles ---------------------------------------------------------------------------


def test_percentile_interpolates() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.95) == pytest.approx(3.85)
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == pytest.approx(
        statistics.quantiles(values, n=20, method="inclusive")[-1])


def turns_with(tracker: LatencyTracker, latencies: list[float]) -> None:
    now = 0.0
    for latency in latencies:
        tracker.sent("text", now)
        tracker.audio(now + latency)
        tracker.event(ev.TurnComplete(), now + latency + 1)
        now += latency + 10


def test_statistics_are_exact_up_to_the_reservoir() -> None:
    tracker = LatencyTracker(reservoir=100)
    assert tracker.statistics().time_to_first_output_p50 is None
    latencies = [0.1 * (i % 17 + 1) for i in range(100)]
    turns_with(tracker, latencies)
    stats = tracker.statistics()
    ordered = sorted(latencies)
    assert stats.turns == 100
    assert stats.time_to_first_output_p50 == pytest.approx(percentile(ordered, 0.5))
    assert stats.time_to_first_audio_p95 == pytest.approx(percentile(ordered, 0.95))
    fields = tracker.statistics_fields()
    assert fields["time_to_first_audio_p95"] == stats.time_to_first_audio_p95
    assert fields["measured_turns"] == 100
    assert set(fields) == {"measured_turns", "time_to_first_output_p50", "time_to_first_output_p95",
                           "time_to_first_audio_p50", "time_to_first_audio_p95"}


def test_statistics_beyond_the_reservoir_are_bounded_and_representative() -> None:
    tracker = LatencyTracker(reservoir=200)
    # 2,000 turns: the first half fast (0.5 s), the second half slow (1.5 s).
    turns_with(tracker, [0.5] * 1000 + [1.5] * 1000)
    stats = tracker.statistics()
    assert stats.turns == 2000
    assert len(tracker._first_output.values) == 200  # bounded memory
    # A sample of the whole call, not only its end: both halves are in it.
    values = set(tracker._first_output.values)
    assert values == {0.5, 1.5}
    assert stats.time_to_first_output_p95 == pytest.approx(1.5)


def test_bad_reservoir() -> None:
    with pytest.raises(ValueError):
        LatencyTracker(reservoir=0)


# --- the watchdog --------------------------------------------------------------------------


def test_watchdog_fires_once_per_silence() -> None:
    dog = StallWatchdog(5.0)
    assert dog.deadline() is None  # nothing owed
    assert dog.sent("audio", 0.0) is False
    assert dog.sent("text", 1.0) is True
    assert dog.owed == "turn" and dog.deadline() == 6.0
    assert dog.check(5.9) is None
    assert dog.check(6.5) == ev.Stalled(seconds=5.5, owed="turn")
    assert dog.check(7.0) is None and dog.deadline() is None  # reported once
    dog.heard(8.0)  # alive again: re-armed
    assert dog.deadline() == 13.0
    assert dog.check(13.0) == ev.Stalled(seconds=5.0, owed="turn")
    assert dog.stalls == 2


def test_watchdog_a_slow_live_stream_never_stalls() -> None:
    dog = StallWatchdog(5.0)
    dog.sent("client_turn", 0.0)
    for t in range(4, 60, 4):  # a message every 4 s, for a minute
        assert dog.check(float(t)) is None
        dog.heard(float(t))
    dog.event(ev.TurnComplete(), 60.0)
    assert dog.owed is None and dog.check(1000.0) is None


@pytest.mark.parametrize("done", [ev.GenerationComplete(), ev.TurnComplete(), ev.Interrupted(),
                                  ev.ToolCall(calls=())])
def test_watchdog_nothing_owed_after_the_answer(done: ev.Event) -> None:
    dog = StallWatchdog(1.0)
    dog.sent("activity_end", 0.0)
    dog.event(done, 0.5)
    assert dog.check(100.0) is None


def test_watchdog_tool_responses_and_server_end_of_speech() -> None:
    dog = StallWatchdog(2.0)
    silent = FunctionResponse(id="1", name="f", response={}, scheduling="SILENT")
    more = FunctionResponse(id="1", name="f", response={}, will_continue=True)
    assert dog.tool_responses_sent([silent, more], 0.0) is False
    assert dog.check(10.0) is None
    assert dog.tool_responses_sent([FunctionResponse(id="2", name="g", response={})], 10.0)
    assert dog.check(12.0) == ev.Stalled(seconds=2.0, owed="tool_response")
    dog.event(ev.TurnComplete(), 13.0)
    assert dog.event(ev.VoiceActivity(kind="ACTIVITY_END"), 20.0) is True
    assert dog.check(22.0) == ev.Stalled(seconds=2.0, owed="turn")


def test_watchdog_pauses_while_disconnected() -> None:
    dog = StallWatchdog(2.0)
    dog.sent("text", 0.0)
    dog.connection_lost()
    assert dog.deadline() is None and dog.check(100.0) is None
    dog.connected(100.0)  # still owed: timed from the new connection
    assert dog.deadline() == 102.0


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), float("nan"), True])
def test_watchdog_bad_timeout(timeout: float) -> None:
    with pytest.raises(ValueError):
        StallWatchdog(timeout)


# --- against the emulator, through the session ---------------------------------------------


async def collect(session: LiveSession, until: Callable[[ev.Event], bool],
                  seen: list[ev.Event] | None = None) -> list[ev.Event]:
    """The session's events up to the first that ``until`` accepts (appended to ``seen``)."""
    seen = [] if seen is None else seen
    async for event in session.events():
        seen.append(event)
        if until(event):
            break
    return seen


def after_turn(event: ev.Event) -> bool:
    # TurnMetrics comes right after its TurnComplete (the documented order).
    return isinstance(event, ev.TurnMetrics)


@pytest.mark.live_emulator(audio_chunk_delay=0.1)
async def test_latency_figures_against_the_emulators_delays(
        live_emulator: LiveEmulator, nursery: trio.Nursery,
        autojump_clock: trio.testing.MockClock) -> None:
    live_emulator.send_delay = 0.25  # before every server message
    config = LiveConfig(response_modalities=["AUDIO"], output_audio_transcription={})
    with trio.fail_after(60):
        async with live_emulator.open_session(nursery, config=config, in_memory=True) as session:
            record = await live_emulator.wait_connection()
            for text in ("Hello", "Two words please"):
                before = len(record.sent)
                await session.send_client_content(text)
                seen = await collect(session, after_turn)
                assert isinstance(seen[-2], ev.TurnComplete)
                metrics = [e for e in seen if isinstance(e, ev.TurnMetrics)]
                assert len(metrics) == 1
                (m,) = metrics
                # The model's first message is its first audio chunk: one send delay.
                assert m.time_to_first_output == pytest.approx(0.25)
                assert m.time_to_first_audio == pytest.approx(0.25)
                # The model makes its audio chunks 0.1 s apart, faster than the emulator
                # sends them: every later message of the turn waits one send delay.
                messages = len(record.sent) - before
                assert messages > 10
                assert m.duration == pytest.approx((messages - 1) * 0.25)
                assert m.response_tokens and m.tokens_per_second == pytest.approx(
                    m.response_tokens / (m.duration - 0.25))  # GenerationComplete: 1 delay
                assert m.user_turn_end == "client_turn" and not m.interrupted
            stats = session.statistics().latency
    assert stats.turns == 2 and stats.time_to_first_audio_p95 == pytest.approx(0.25)
    assert stats.time_to_first_output_p50 == pytest.approx(0.25)


async def test_latency_of_a_voice_turn_ended_by_activity_end(
        live_emulator: LiveEmulator, nursery: trio.Nursery,
        autojump_clock: trio.testing.MockClock) -> None:
    live_emulator.send_delay = 0.5
    config = LiveConfig(response_modalities=["AUDIO"], realtime_input_config={
        "automatic_activity_detection": {"disabled": True}})
    with trio.fail_after(60):
        async with live_emulator.open_session(nursery, config=config, in_memory=True) as session:
            await session.send_realtime_input(activity_start=True)
            await session.send_realtime_input(audio=speech_like_pcm(0.5))
            await trio.sleep(1.0)
            await session.send_realtime_input(activity_end=True)
            seen = await collect(session, after_turn)
    (m,) = [e for e in seen if isinstance(e, ev.TurnMetrics)]
    assert m.user_turn_end == "activity_end"
    assert m.time_to_first_audio == pytest.approx(0.5)


async def test_watchdog_fires_on_a_stalled_stream(
        live_emulator: LiveEmulator, nursery: trio.Nursery,
        autojump_clock: trio.testing.MockClock) -> None:
    config = LiveConfig(response_modalities=["TEXT"])
    with trio.fail_after(60):
        async with live_emulator.open_session(
            nursery, config=config, in_memory=True, stall_timeout=5.0
        ) as session:
            live_emulator.pause()  # the socket stays healthy; the stream is dead
            await session.send_client_content("Hello")
            start = trio.current_time()
            seen: list[ev.Event] = []
            with trio.move_on_after(20):
                await collect(session, lambda e: False, seen)
            stalled = [e for e in seen if isinstance(e, ev.Stalled)]
            assert stalled == [ev.Stalled(seconds=pytest.approx(5.0), owed="turn")]
            assert session.statistics().stalls == 1
            assert session.statistics().reconnects == 0  # only an event by default
            live_emulator.resume()
            seen = await collect(session, lambda e: isinstance(e, ev.TurnComplete))
            assert not [e for e in seen if isinstance(e, ev.Stalled)]
            assert trio.current_time() - start >= 20


@pytest.mark.live_emulator(text_chunk_delay=4.0)
async def test_watchdog_quiet_on_a_slow_live_stream(
        live_emulator: LiveEmulator, nursery: trio.Nursery,
        autojump_clock: trio.testing.MockClock) -> None:
    # Chunks 4 s apart: the answer takes longer than the 5 s timeout, and never stalls.
    config = LiveConfig(response_modalities=["TEXT"])
    with trio.fail_after(60):
        async with live_emulator.open_session(
            nursery, config=config, in_memory=True, stall_timeout=5.0
        ) as session:
            start = trio.current_time()
            await session.send_client_content("Tell me a long story with many words in it")
            seen = await collect(session, lambda e: isinstance(e, ev.TurnComplete))
            assert trio.current_time() - start > 5.0
            assert session.statistics().stalls == 0
    assert not [e for e in seen if isinstance(e, ev.Stalled)]


async def test_a_stall_can_reconnect_and_resume(
        live_emulator: LiveEmulator, nursery: trio.Nursery,
        autojump_clock: trio.testing.MockClock) -> None:
    # Issue 14 (cookbook #1225): a dead stream on a healthy socket; reconnect_on_stall
    # resumes the session on a new connection, where the turn is answered.
    config = LiveConfig(response_modalities=["TEXT"], session_resumption={})
    with trio.fail_after(60):
        async with live_emulator.open_session(
            nursery, config=config, in_memory=True, stall_timeout=5.0, reconnect_on_stall=True
        ) as session:
            await collect(session, lambda e: isinstance(e, ev.SessionResumptionUpdate))
            live_emulator.pause()
            await session.send_client_content("Hello")
            seen = await collect(session, lambda e: isinstance(e, ev.Stalled))
            live_emulator.resume()  # for the next connection (this one is abandoned)
            seen = await collect(session, lambda e: isinstance(e, ev.Reconnected), seen)
            kinds = [type(e) for e in seen]
            assert kinds.index(ev.Stalled) < kinds.index(ev.Reconnecting)
            reconnected = seen[-1]
            assert isinstance(reconnected, ev.Reconnected) and reconnected.resumed
            answer = await collect(session, lambda e: isinstance(e, ev.TurnComplete))
            assert "Hello" in "".join(e.text for e in answer if isinstance(e, ev.TextChunk))
