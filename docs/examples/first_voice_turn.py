"""Tutorial: a text turn, then a first voice turn, against the local emulator.

Run it with ``python docs/examples/first_voice_turn.py``: no API key, no network.
"""

from __future__ import annotations

import trio

from trio_gemini_live import ApiKey, LiveConfig, open_live_session
from trio_gemini_live import events as ev
from trio_gemini_live.audio import chunk_pcm
from trio_gemini_live.testing import LiveEmulator, speech_like_pcm

MODEL = "gemini-3.8-live"


async def main() -> None:
    emulator = LiveEmulator(api_key="test-api-key")
    async with trio.open_nursery() as nursery:
        # The emulator listens on a free loopback port until the nursery is cancelled.
        await nursery.start(emulator.serve)
        config = LiveConfig(
            response_modalities=["AUDIO"],
            input_audio_transcription={},
            output_audio_transcription={},
        )
        async with open_live_session(
            nursery,
            model=MODEL,
            auth=ApiKey("test-api-key"),
            endpoint=emulator.url,
            config=config,
        ) as session:
            # 1. A text turn: the answer is spoken; its transcript arrives as fragments.
            await session.send_text("Hello!")
            transcript: list[str] = []
            async for event in session.events():
                match event:
                    case ev.OutputTranscription(text=text):
                        transcript.append(text)
                    case ev.TurnComplete():
                        break
            print("model said:", "".join(transcript))

            # 2. A voice turn: stream 16 kHz PCM in 40 ms chunks, as a microphone would.
            # One second of speech, then silence, so voice activity detection ends the turn.
            pcm = speech_like_pcm(1.0, trail_silence=0.8)
            for chunk in chunk_pcm(pcm, sample_rate=16000, ms=40):
                await session.send_realtime_input(audio=chunk)
            audio_bytes = 0
            rate = 24000  # the model's output rate (each AudioChunk says it too)
            heard: list[str] = []
            async for event in session.events():
                match event:
                    case ev.InputTranscription(text=text):
                        heard.append(text)  # fragments: concatenate them
                    case ev.AudioChunk(data=data, sample_rate=rate):
                        audio_bytes += len(data)  # 24 kHz PCM: hand it to your speaker
                    case ev.TurnComplete():
                        break
            print("you said:", "".join(heard))
            print(f"model answered with {audio_bytes / 2 / rate:.2f} s of audio")
        nursery.cancel_scope.cancel()  # stop the emulator


if __name__ == "__main__":
    trio.run(main)
