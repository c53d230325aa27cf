"""Reproduction (issue 14, found by the phone-agent how-to): ``aclose(finish_turn=...)``
does not wait for an answer the model owes when nothing the *client* sent started a turn.

``LiveProtocol.owes_answer`` counted text turns sent, a model turn already in progress and
unanswered tool calls. It did not count a spoken turn ended by ``activity_end`` (manual
VAD) or by the server's VAD (its ``voiceActivity`` / finished input transcription), nor a
tool response sent before the model's next output, although the stall watchdog treats all
of them as owed. ``aclose(finish_turn=30)`` then closes at once and the answer (the
goodbye a caller should hear) is cut: the events show a synthesized ``Interrupted`` and
``TurnComplete(reason="CONNECTION_LOST")``.

Fixed: the protocol core counts what the model owes (``LiveProtocol.owes_answer``): a frame
it answers was written (a turn, ``activityEnd``, a tool response it reads), or the server
heard the user's speech end, until the next ``turnComplete``.
"""

from __future__ import annotations

import trio
import trio.testing

from trio_gemini_live import LiveConfig, LiveSession
from trio_gemini_live import events as ev
from trio_gemini_live.audio import chunk_pcm
from trio_gemini_live.testing import LiveEmulator, speech_like_pcm

from .conftest import API_KEY

MODEL = "gemini-3.8-live"


async def _close_and_collect(session: LiveSession) -> tuple[list[ev.Event], float]:
    start = trio.current_time()
    await session.aclose(finish_turn=30)
    waited = trio.current_time() - start
    return [e async for e in session.events()], waited


def _answered_in_full(events: list[ev.Event]) -> bool:
    completes = [e for e in events if isinstance(e, ev.TurnComplete)]
    return (
        bool(completes)
        and all(e.reason is None for e in completes)
        and not any(isinstance(e, ev.Interrupted) for e in events)
    )


async def test_finish_turn_waits_for_the_answer_to_activity_end(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emu = LiveEmulator(api_key=API_KEY, audio_chunk_delay=0.05)
    await nursery.start(emu.serve_in_memory)
    config = LiveConfig(
        response_modalities=["AUDIO"],
        realtime_input_config={"automatic_activity_detection": {"disabled": True}},
    )
    with trio.fail_after(120):
        async with emu.open_session(nursery, model=MODEL, in_memory=True,
                                    config=config) as session:
            await session.send_realtime_input(activity_start=True)
            for chunk in chunk_pcm(speech_like_pcm(0.5), ms=40):
                await session.send_realtime_input(audio=chunk)
            await session.send_realtime_input(activity_end=True)  # "Bye!"
            events, _ = await _close_and_collect(session)
    assert _answered_in_full(events), [type(e).__name__ for e in events]


async def test_finish_turn_waits_for_the_answer_to_a_turn_the_server_vad_ended(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emu = LiveEmulator(api_key=API_KEY, audio_chunk_delay=0.05)
    await nursery.start(emu.serve_in_memory)
    config = LiveConfig(response_modalities=["AUDIO"], input_audio_transcription={})
    with trio.fail_after(120):
        async with emu.open_session(nursery, model=MODEL, in_memory=True,
                                    config=config) as session:
            for chunk in chunk_pcm(speech_like_pcm(0.5, trail_silence=0.7), ms=40):
                await session.send_realtime_input(audio=chunk)
            async for event in session.events():  # the server heard the end of speech
                if isinstance(event, ev.InputTranscription) and event.finished:
                    break
            events, _ = await _close_and_collect(session)
    assert _answered_in_full(events), [type(e).__name__ for e in events]


async def test_finish_turn_waits_for_the_answer_to_a_tool_response(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    # 2.5: an asynchronous call's first turn ends with a plain turnComplete (no
    # interactionStatus); the result is spoken in a turn the client did not start.
    emu = LiveEmulator(api_key=API_KEY, text_chunk_delay=1.0)
    await nursery.start(emu.serve_in_memory)
    config = LiveConfig(response_modalities=["TEXT"], tools=[{"function_declarations": [
        {"name": "hang_up", "description": "End the call.", "behavior": "NON_BLOCKING"}]}])
    with trio.fail_after(120):
        async with emu.open_session(nursery, model="gemini-2.5-flash-native-audio-preview-12-2025",
                                    in_memory=True, config=config) as session:
            await session.send_text("Thanks, hang_up please")
            calls = []
            async for event in session.events():  # "I started hang_up in the background."
                if isinstance(event, ev.ToolCall):
                    calls.extend(event.calls)
                elif isinstance(event, ev.TurnComplete):
                    break
            await session.send_tool_response(
                [{"id": c.id, "name": c.name, "response": {"output": "ok"}} for c in calls])
            events, _ = await _close_and_collect(session)
    assert _answered_in_full(events), [type(e).__name__ for e in events]
    assert "The result of hang_up" in "".join(
        e.text for e in events if isinstance(e, ev.TextChunk))
