"""Backpressure: a slow consumer never stalls the socket and memory stays bounded (issue 5)."""

from __future__ import annotations

import trio
import trio.testing

from trio_gemini_live import ApiKey, LiveConfig, Status, open_live_session
from trio_gemini_live import events as ev
from trio_gemini_live.testing import LiveEmulator

from .conftest import API_KEY, MODEL

AUDIO = LiveConfig(response_modalities=["AUDIO"], session_resumption={})


async def test_slow_consumer_keeps_the_connection_healthy_and_memory_bounded(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emu = LiveEmulator(api_key=API_KEY, audio_chunk_delay=0.02)
    await nursery.start(emu.serve_in_memory)
    max_seconds = 2.0
    bound = int(max_seconds * 24000 * 2)  # 24 kHz 16-bit mono output (PROTOCOL.md 4)
    with trio.fail_after(600):
        async with trio.open_nursery() as inner, open_live_session(
            inner, model=MODEL, auth=ApiKey(API_KEY), config=AUDIO,
            connect=emu.connect_in_memory(), max_event_audio_seconds=max_seconds,
            keepalive_interval=5.0, keepalive_timeout=20.0,
        ) as session:
            start = trio.current_time()
            turns = 0
            # 60 simulated seconds of model speech, and nobody reads events().
            while trio.current_time() - start < 60:
                await session.send_client_content(f"tell me a long story number {turns}")
                turns += 1
                await trio.sleep(2.0)
                # The audio budget plus the few small control events of each turn.
                assert session.statistics().queued_event_bytes <= bound + 64 * 1024
            stats = session.statistics()
            assert stats.status is Status.READY
            assert stats.reconnects == 0  # keepalive pings kept being answered
            assert stats.dropped_output_audio_bytes > 0
            assert stats.dropped_output_audio_chunks > 0
            sent_audio = sum(
                len(p["inlineData"]["data"]) * 3 // 4
                for m in emu.connections[0].sent_messages()
                for p in m.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
            )
            assert sent_audio > 10 * bound  # far more than the budget was streamed
            # The session still works: a new turn is answered.
            await session.send_client_content("and now?")
            done = 0
            async for event in session.events():
                history = emu.history()
                if isinstance(event, ev.TurnComplete):
                    done += 1
                    if history[-2:-1] == [{"role": "user", "text": "and now?"}]:
                        break  # the answer to the new turn, after everything queued before it
            # Control events are never dropped: one TurnComplete per turn was queued.
            assert done >= turns
            assert session.status is Status.READY
    assert len(emu.connections) == 1
    assert emu.connections[0].close_code == 1000
