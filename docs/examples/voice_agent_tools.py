"""How-to: a voice agent with tools, against the local emulator.

The emulator's scripted model calls a declared function whenever the user's words name it;
here the caller's (scripted) speech is transcribed as "get_weather in Paris, please".
The session runs the tool by itself and answers the call (PROTOCOL.md 3.4): every call is
answered, even when the tool raises.
"""

from __future__ import annotations

import trio

from trio_gemini_live import ApiKey, LiveConfig, open_live_session
from trio_gemini_live import events as ev
from trio_gemini_live.audio import PlaybackBuffer, chunk_pcm
from trio_gemini_live.testing import LiveEmulator, speech_like_pcm
from trio_gemini_live.tools import tool

MODEL = "gemini-3.8-live"


@tool
async def get_weather(city: str) -> dict[str, float]:
    """Get the current temperature in a city.

    Args:
        city: The city, e.g. "Paris".
    """
    await trio.sleep(0.01)  # stands for a request to a weather service
    return {"celsius": 21.0}


async def main() -> None:
    emulator = LiveEmulator(audio_transcript="get_weather in Paris, please")
    async with trio.open_nursery() as nursery:
        await nursery.start(emulator.serve)
        async with open_live_session(
            nursery,
            model=MODEL,
            auth=ApiKey("test-api-key"),
            endpoint=emulator.url,
            config=LiveConfig(
                response_modalities=["AUDIO"],
                system_instruction="You are a friendly weather assistant.",
                output_audio_transcription={},
            ),
            tools=[get_weather],  # declared in the setup and run automatically
        ) as session:
            pcm = speech_like_pcm(1.0, trail_silence=0.8)
            for chunk in chunk_pcm(pcm, sample_rate=16000, ms=40):
                await session.send_realtime_input(audio=chunk)

            # The speaker side: audio arrives in bursts, faster than real time, and an
            # Interrupted event must flush it at once; PlaybackBuffer does both.
            playback = PlaybackBuffer(sample_rate=24000)
            answer: list[str] = []
            async for event in session.events():
                playback.handle(event)
                match event:
                    case ev.ToolCall(calls=calls):
                        print("model calls:", [(c.name, c.args) for c in calls])
                    case ev.OutputTranscription(text=text):
                        answer.append(text)
                    case ev.TurnComplete() if answer:
                        said = "".join(answer)
                        answer.clear()
                        print("model said:", said)
                        # A model that runs tools asynchronously (3.8: PROTOCOL.md 9)
                        # first says it started the call; the result has a turn of its own.
                        if said.startswith("The result of"):
                            break
            print(f"audio queued for the speaker: {playback.queued_seconds:.2f} s")
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
