"""Flow abuse (issue 12, finding 4): floods nobody reads, a server that stops reading.

Memory is measured with tracemalloc (Python's allocations, process-wide, from the moment
the meter starts): stable where RSS is not. The server's own frames are built before the
meter starts and sent from one buffer, so what grows is the client's.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
import trio
import trio.testing

import trio_gemini_live
from trio_gemini_live import LiveConfig, LiveError, LiveSession, Status
from trio_gemini_live import events as ev

from .conftest import Serve, open_session, traced
from .server import Attack, Peer, frame

MiB = 1024 * 1024


def flood(data: bytes, *, then_close: bool = False) -> Attack:
    """An attack: a normal opening, then ``data`` (prebuilt frames) in one go."""

    async def attack(peer: Peer) -> None:
        await peer.setup()
        await peer.send(data)
        if then_close:
            await peer.close(1000, b"flood over")
        await peer.drain()

    return attack


def text_flood(total: int, chunk: int = 8 * 1024) -> bytes:
    message = json.dumps(
        {"serverContent": {"modelTurn": {"parts": [{"text": "t" * chunk}]}}}
    ).encode()
    return frame(message) * (total // chunk)


def audio_message(pcm_bytes: int) -> bytes:
    data = base64.b64encode(b"\x01\x00" * (pcm_bytes // 2)).decode()
    return json.dumps({"serverContent": {"modelTurn": {"parts": [
        {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}]}}}).encode()


def audio_and_transcripts(pairs: int) -> bytes:
    """``pairs`` times: 100 ms of model audio, then a fragment of its transcription."""
    audio = frame(audio_message(4800))
    text = frame(json.dumps(
        {"serverContent": {"outputTranscription": {"text": "word "}}}).encode())
    return (audio + text) * pairs


async def texts_of_the_turn(session: LiveSession) -> list[str]:
    """The text chunks of the session's events up to the turn's ``TurnComplete``."""
    texts: list[str] = []
    async for event in session.events():
        if isinstance(event, ev.TextChunk):
            texts.append(event.text)
        elif isinstance(event, ev.TurnComplete):
            break
    return texts


async def test_text_flood_nobody_reads_ends_with_slow_consumer_error(
    serve: Serve, nursery: trio.Nursery
) -> None:
    """Finding 4: today 33 -> 190 MB in 20 s. The events queue is bounded in bytes
    (``max_event_bytes``); past it the session ends with SlowConsumerError."""
    server = await serve(flood(text_flood(32 * MiB)))
    slow_consumer = trio_gemini_live.SlowConsumerError
    assert issubclass(slow_consumer, LiveError)
    with trio.fail_after(30), traced() as memory, pytest.raises(slow_consumer) as raised:
        async with open_session(nursery, server, max_event_bytes=MiB) as session:
            await trio.sleep_forever()  # nobody reads events()
    assert type(raised.value) is slow_consumer
    assert "events" in str(raised.value)
    assert memory.peak < 12 * MiB, f"peak {memory.peak / MiB:.1f} MiB"
    # events() delivers what was queued, then raises the same error.
    with trio.fail_after(10), pytest.raises(slow_consumer):
        async for _ in session.events():
            pass


async def test_default_event_bound_is_at_most_64_mib(
    serve: Serve, nursery: trio.Nursery
) -> None:
    """Finding 4: the documented default bound holds without any setting."""
    server = await serve(flood(text_flood(96 * MiB, chunk=64 * 1024)))
    slow_consumer = trio_gemini_live.SlowConsumerError
    with trio.fail_after(40), traced() as memory, pytest.raises(slow_consumer):
        async with open_session(nursery, server):
            await trio.sleep_forever()
    assert memory.peak < 80 * MiB, f"peak {memory.peak / MiB:.1f} MiB"


async def _cpu_of_unread(serve: Serve, nursery: trio.Nursery, data: bytes, audio: int) -> (
    float
):
    """CPU seconds (process) for a session to take ``data`` with nobody reading events;
    ``audio`` chunks in it, all but a few dropped (0.5 s are kept)."""
    server = await serve(flood(data, then_close=True))
    start = time.process_time()
    try:
        async with open_session(nursery, server, max_event_audio_seconds=0.5) as session:
            await session.wait_status(Status.CLOSED)
    except LiveError:
        pass  # the server's close 1000 after the flood
    elapsed = time.process_time() - start
    assert session.statistics().dropped_output_audio_chunks >= audio - 10
    return elapsed


async def test_dropping_audio_behind_transcripts_is_o1(
    serve: Serve, nursery: trio.Nursery
) -> None:
    """Finding 4: each dropped audio chunk scanned past every queued transcript (quadratic:
    the receive task pinned the CPU). 10,000 audio chunks and 10,000 transcripts, unread,
    must cost no more than 20,000 audio chunks alone (where the oldest audio is always at
    the front) within a factor of 2: today about 4."""
    mixed = audio_and_transcripts(10_000)
    audio_only = frame(audio_message(4800)) * 20_000
    with trio.fail_after(60):
        with_transcripts = await _cpu_of_unread(serve, nursery, mixed, 10_000)
        alone = await _cpu_of_unread(serve, nursery, audio_only, 20_000)
    assert with_transcripts < 2 * alone, (
        f"{with_transcripts:.2f} s CPU with transcripts queued, {alone:.2f} s without"
    )


async def test_audio_flood_nobody_reads_stays_bounded(serve: Serve, nursery: trio.Nursery) -> (
    None
):
    """Model audio nobody reads: the oldest goes beyond ``max_event_audio_seconds``."""
    # 500 s of audio, then a normal close (which ends the session: no resumption).
    server = await serve(flood(frame(audio_message(48_000)) * 500, then_close=True))
    with trio.fail_after(30), traced() as memory:
        try:
            async with open_session(nursery, server, max_event_audio_seconds=1.0) as session:
                await session.wait_status(Status.CLOSED)  # nobody reads events()
        except LiveError:
            pass  # the close 1000 after the flood
    assert session.statistics().dropped_output_audio_chunks >= 499
    assert memory.peak < 12 * MiB, f"peak {memory.peak / MiB:.1f} MiB"


async def test_server_that_stops_reading_meets_backpressure(
    serve: Serve, nursery: trio.Nursery
) -> None:
    """send_* wait (text) or drop the oldest (audio) when the server stops reading; memory
    stays bounded and nothing hangs."""

    async def attack(peer: Peer) -> None:
        await peer.setup()
        await trio.sleep_forever()  # never reads again

    server = await serve(attack)
    text = "x" * 16 * 1024
    sent = 0
    with trio.fail_after(30), traced() as memory, trio.CancelScope() as body:
        async with open_session(nursery, server, max_outbound_audio_seconds=1.0) as session:
            for _ in range(10_000):
                with trio.move_on_after(0.5) as blocked:
                    await session.send_realtime_input(text=text)
                if blocked.cancelled_caught:
                    break
                sent += 1
            assert blocked.cancelled_caught, "send_realtime_input never waited"
            for _ in range(100):  # 10 s of audio: never waits, the oldest goes
                with trio.fail_after(1):
                    await session.send_realtime_input(audio=b"\0\0" * 1600)
            stats = session.statistics()
            assert stats.dropped_input_audio_chunks > 0
            assert stats.queued_outbound_audio_seconds <= 1.0
            body.cancel()  # leave without a flush the server would never read
    assert session.status is Status.CLOSED
    assert memory.peak < 24 * MiB, f"peak {memory.peak / MiB:.1f} MiB after {sent} sends"


@pytest.mark.parametrize("config", [LiveConfig(response_modalities=["TEXT"])])
async def test_flood_then_reader_gets_every_text_in_order(
    serve: Serve, nursery: trio.Nursery, config: LiveConfig
) -> None:
    """Within the bound nothing is lost: a late reader gets every text chunk, in order."""
    messages = [
        frame(json.dumps({"serverContent": {"modelTurn": {"parts": [{"text": f"{i} "}]}}})
              .encode())
        for i in range(2_000)
    ]
    done = frame(b'{"serverContent": {"turnComplete": true}}')
    sent = trio.Event()

    async def attack(peer: Peer) -> None:
        await peer.setup()
        await peer.send(b"".join(messages) + done)
        sent.set()
        await peer.drain()

    server = await serve(attack)
    with trio.fail_after(20):
        async with open_session(nursery, server, config=config) as session:
            # Read late: once the flood was written and the session went idle with it.
            await sent.wait()
            await trio.testing.wait_all_tasks_blocked(0.05)
            texts = await texts_of_the_turn(session)
    assert "".join(texts) == "".join(f"{i} " for i in range(2_000))


async def test_a_burst_with_malformed_frames_keeps_the_rest_whole_and_in_order(
    serve: Serve, nursery: trio.Nursery
) -> None:
    """The receive task handles a read's messages in one step (issue 11), up to a bound:
    a malformed frame among them is skipped and counted, the others arrive in order."""
    good = [
        frame(json.dumps({"serverContent": {"modelTurn": {"parts": [{"text": f"{i} "}]}}})
              .encode())
        for i in range(500)
    ]
    bad = frame(b'{"serverContent": {"modelTurn": 7}}')
    burst = b"".join(g + (bad if i % 50 == 25 else b"") for i, g in enumerate(good))
    done = frame(b'{"serverContent": {"turnComplete": true}}')

    async def attack(peer: Peer) -> None:
        await peer.setup()
        await peer.send(burst + done)
        await peer.drain()

    server = await serve(attack)
    with trio.fail_after(20):
        async with open_session(nursery, server) as session:
            texts = await texts_of_the_turn(session)
            assert session.statistics().protocol_errors == 10
    assert "".join(texts) == "".join(f"{i} " for i in range(500))
