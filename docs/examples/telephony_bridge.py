"""How-to: a telephony bridge at 8 kHz μ-law (G.711), against the local emulator.

Phone systems (Twilio media streams, SIP gateways) carry 8 kHz μ-law; the Live API wants
16 kHz PCM in and sends 24 kHz PCM out (PROTOCOL.md 3.3 and 4). The bridge converts both
ways with *streaming* resamplers, so that chunk boundaries make no clicks. Here the phone
line is a pair of Trio memory channels; in production it is your telephony WebSocket.
"""

from __future__ import annotations

import trio

from trio_gemini_live import ApiKey, LiveConfig, open_live_session
from trio_gemini_live import events as ev
from trio_gemini_live.audio import Resampler, chunk_pcm, mulaw_decode, mulaw_encode, resample
from trio_gemini_live.testing import LiveEmulator, speech_like_pcm

MODEL = "gemini-3.8-live"
PHONE_RATE = 8000


async def caller(to_bridge: trio.MemorySendChannel[bytes]) -> None:
    """The far end: 20 ms μ-law frames of speech, then silence, as a phone sends them."""
    pcm_8k = resample(speech_like_pcm(1.0, trail_silence=0.8), 16000, PHONE_RATE)
    async with to_bridge:
        for frame in chunk_pcm(pcm_8k, sample_rate=PHONE_RATE, ms=20):
            await to_bridge.send(mulaw_encode(frame))


async def main() -> None:
    emulator = LiveEmulator()
    to_bridge, from_phone = trio.open_memory_channel[bytes](50)
    async with trio.open_nursery() as nursery:
        await nursery.start(emulator.serve)
        async with open_live_session(
            nursery,
            model=MODEL,
            auth=ApiKey("test-api-key"),
            endpoint=emulator.url,
            config=LiveConfig(response_modalities=["AUDIO"]),
        ) as session:
            upsample = Resampler(PHONE_RATE, 16000)  # phone -> model
            downsample = Resampler(24000, PHONE_RATE)  # model -> phone

            async def phone_to_model() -> None:
                async for ulaw in from_phone:
                    pcm = upsample.process(mulaw_decode(ulaw))
                    if pcm:
                        await session.send_realtime_input(audio=pcm)

            nursery.start_soon(caller, to_bridge)
            nursery.start_soon(phone_to_model)
            to_phone = bytearray()  # in production: send each piece to the phone line
            async for event in session.events():
                match event:
                    case ev.AudioChunk(data=data):
                        to_phone += mulaw_encode(downsample.process(data))
                    case ev.Interrupted():
                        downsample.reset()  # barge-in: drop what the filter holds too
                    case ev.TurnComplete():
                        to_phone += mulaw_encode(downsample.flush())
                        break
            seconds = len(to_phone) / PHONE_RATE  # one μ-law byte per sample
            print(f"sent {len(to_phone)} μ-law bytes ({seconds:.2f} s) to the phone")
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
