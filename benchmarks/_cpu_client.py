"""One client's CPU per message, measured inside its own process.

``python benchmarks/_cpu_client.py KIND PORT CAFILE CHUNKS MESSAGES`` with KIND one of
``ours`` (a :class:`trio_gemini_live.LiveSession`), ``sdk`` (google-genai's asyncio live
session) or ``floor`` (bare trio-websocket sending prebuilt frames, reading raw messages).

After setup and a warm-up, it measures ``time.process_time()`` (this process's CPU, all
threads; never wall time) around (1) sending CHUNKS audio chunks of 3200 bytes followed by a
``sync`` command whose answer proves they all arrived, and (2) a ``send MESSAGES`` command and
receiving that many 4800-byte audio messages. Prints one JSON line: microseconds per message.
"""

from __future__ import annotations

import base64
import json
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

IN_CHUNK = 3200
MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
PCM = bytes(range(256)) * (IN_CHUNK // 256) + bytes(IN_CHUNK % 256)
WARMUP = 50


Sample = tuple[float, int]


async def measure(
    send_audio: Callable[[], Awaitable[None]],
    send_text: Callable[[str], Awaitable[None]],
    until_turn_complete: Callable[[], Awaitable[int]],
    chunks: int,
    messages: int,
) -> tuple[Sample, Sample]:
    """The measurement, the same for every client (trio or asyncio: it only awaits them).

    Sends CHUNKS audio chunks then a ``sync`` command whose answer proves they arrived;
    then asks for MESSAGES audio messages and receives them. Each phase after a warm-up.
    """

    async def send(n: int) -> None:
        for _ in range(n):
            await send_audio()
        await send_text("sync")
        await until_turn_complete()

    await send(WARMUP)
    start = time.process_time()
    await send(chunks)
    sent = (time.process_time() - start, chunks)
    await send_text(f"send {WARMUP}")
    await until_turn_complete()
    start = time.process_time()
    await send_text(f"send {messages}")
    got = await until_turn_complete()
    received = (time.process_time() - start, messages)
    if got != messages:
        raise RuntimeError(f"lost messages: {got} of {messages}")
    return sent, received


def result(send: Sample, receive: Sample) -> None:
    print(json.dumps({
        "send_us": send[0] * 1e6 / send[1],
        "receive_us": receive[0] * 1e6 / receive[1],
    }))


def ours(port: int, cafile: str, chunks: int, messages: int) -> None:
    import trio

    from trio_gemini_live import ApiKey, LiveConfig, open_live_session
    from trio_gemini_live import events as ev

    async def main() -> None:
        context = ssl.create_default_context(cafile=cafile)
        async with trio.open_nursery() as nursery, open_live_session(
            nursery, model=MODEL, auth=ApiKey("k"), endpoint=f"wss://127.0.0.1:{port}",
            ssl_context=context, keepalive_interval=None,
            config=LiveConfig(response_modalities=["AUDIO"]),
            # Faster than real time on purpose: queue everything, drop nothing.
            max_outbound_audio_seconds=1e6, max_event_audio_seconds=1e6,
        ) as session:
            stream = session.events()

            async def until_turn_complete() -> int:
                audio = 0
                async for event in stream:
                    if isinstance(event, ev.AudioChunk):
                        audio += 1
                    elif isinstance(event, ev.TurnComplete):
                        return audio
                raise RuntimeError("the session ended")

            async def send_audio() -> None:
                await session.send_realtime_input(audio=PCM)

            async def send_text(text: str) -> None:
                await session.send_realtime_input(text=text)

            sent, received = await measure(
                send_audio, send_text, until_turn_complete, chunks, messages)
            stats = session.statistics()
            if stats.dropped_input_audio_chunks:
                raise RuntimeError(f"dropped input audio: {stats}")
        result(sent, received)

    trio.run(main)


def sdk(port: int, cafile: str, chunks: int, messages: int) -> None:
    import asyncio

    from google import genai
    from google.genai import types

    async def main() -> None:
        context = ssl.create_default_context(cafile=cafile)
        client = genai.Client(api_key="k", http_options=types.HttpOptions(
            base_url=f"https://127.0.0.1:{port}", async_client_args={"ssl": context}))
        config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
        async with client.aio.live.connect(model=MODEL, config=config) as session:

            async def until_turn_complete() -> int:
                audio = 0
                async for message in session.receive():  # ends after turnComplete
                    if message.data:
                        audio += 1
                return audio

            async def send_audio() -> None:
                # A Blob per chunk, as the SDK's users write it.
                await session.send_realtime_input(
                    audio=types.Blob(data=PCM, mime_type="audio/pcm;rate=16000"))

            async def send_text(text: str) -> None:
                await session.send_realtime_input(text=text)

            sent, received = await measure(
                send_audio, send_text, until_turn_complete, chunks, messages)
        result(sent, received)

    asyncio.run(main())


def floor(port: int, cafile: str, chunks: int, messages: int) -> None:
    import trio
    import trio_websocket

    frame = json.dumps({"realtimeInput": {"audio": {
        "data": base64.b64encode(PCM).decode(), "mimeType": "audio/pcm;rate=16000"}}})
    setup = json.dumps({"setup": {"model": f"models/{MODEL}"}})

    def command(text: str) -> str:
        return json.dumps({"realtimeInput": {"text": text}})

    async def main() -> None:
        context = ssl.create_default_context(cafile=cafile)
        async with trio_websocket.open_websocket_url(
            f"wss://127.0.0.1:{port}/ws", ssl_context=context, max_message_size=2**24,
            message_queue_size=1,
        ) as ws:
            await ws.send_message(setup)
            await ws.get_message()

            async def until_turn_complete() -> int:
                audio = 0
                while True:
                    message: Any = await ws.get_message()
                    if len(message) < 100 and b"turnComplete" in message:
                        return audio
                    audio += 1

            async def send_audio() -> None:
                await ws.send_message(frame)  # prebuilt: the floor encodes nothing

            async def send_text(text: str) -> None:
                await ws.send_message(command(text))

            sent, received = await measure(
                send_audio, send_text, until_turn_complete, chunks, messages)
        result(sent, received)

    trio.run(main)


if __name__ == "__main__":
    kind, port, cafile, chunks, messages = sys.argv[1:6]
    {"ours": ours, "sdk": sdk, "floor": floor}[kind](int(port), cafile, int(chunks),
                                                     int(messages))
