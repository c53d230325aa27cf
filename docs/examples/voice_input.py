"""How-to: send a voice and camera frames, against the local emulator.

A recording whose turn is ended properly, then push-to-talk with a pre-roll buffer and
camera frames paced to one a second. Needs Pillow for the JPEG frames
(``pip install 'trio-gemini-live[video]'``). Run it with
``python docs/examples/voice_input.py``: no API key, no network.
"""

from __future__ import annotations

from typing import Any

import trio
from PIL import Image

from trio_gemini_live import ApiKey, LiveConfig, LiveSession, open_live_session
from trio_gemini_live import events as ev
from trio_gemini_live.audio import chunk_pcm
from trio_gemini_live.testing import LiveEmulator, speech_like_pcm
from trio_gemini_live.video import VideoPacer, encode_jpeg
from trio_gemini_live.voice import ManualTurns, stream_pcm

MODEL = "gemini-3.8-live"


async def answer(session: LiveSession) -> str:
    text: list[str] = []
    async for event in session.events():
        match event:
            case ev.TextChunk(text=piece):
                text.append(piece)
            case ev.TurnComplete():
                break
    return "".join(text)


async def main() -> None:
    emulator = LiveEmulator(api_key="test-api-key")
    async with trio.open_nursery() as nursery:
        await nursery.start(emulator.serve)
        connect: dict[str, Any] = {
            "model": MODEL, "auth": ApiKey("test-api-key"), "endpoint": emulator.url
        }

        # 1. A recording that stops in mid-speech (no trailing silence). stream_pcm sends it
        #    in real time and then audio_stream_end, without which the turn never ends.
        config = LiveConfig(response_modalities=["TEXT"])
        async with open_live_session(nursery, config=config, **connect) as session:
            seconds = await stream_pcm(session, speech_like_pcm(1.0))
            print(f"streamed {seconds:.1f} s, then audio_stream_end")
            print("model:", await answer(session))

        # 2. Push-to-talk: automatic voice activity detection off, the app decides.
        config = LiveConfig(
            response_modalities=["TEXT"],
            realtime_input_config={"automatic_activity_detection": {"disabled": True}},
        )
        async with (
            open_live_session(nursery, config=config, **connect) as session,
            VideoPacer(session, fps=1.0) as camera,
        ):
            turns = ManualTurns(session, pre_roll_ms=300, video=camera)
            frame = encode_jpeg(Image.new("RGB", (1920, 1080), "navy"))  # 1024 x 576
            # The user starts speaking at 0.5 s; the app's VAD notices 0.2 s later. The
            # 300 ms pre-roll holds the start of the first syllable.
            microphone = speech_like_pcm(1.0, lead_silence=0.5)
            for n, chunk in enumerate(chunk_pcm(microphone, ms=20)):
                if n % 5 == 0:
                    camera.submit(frame)  # 10 frames a second; at most 1 goes out
                await turns.feed(chunk)
                if n == 35:  # 0.7 s
                    await turns.start()
                await trio.sleep(0.02)  # a real microphone gives 20 ms every 20 ms
            await turns.end()
            print("model:", await answer(session))
            stats = camera.statistics()
            print(f"frames: {stats.submitted} submitted, {stats.sent} sent")
        nursery.cancel_scope.cancel()  # stop the emulator


if __name__ == "__main__":
    trio.run(main)
