"""How-to: a phone-quality voice agent, against the local emulator (no key, no network).

A phone call at 8 kHz μ-law (G.711) bridged to a Live session: the caller types an order
number, a tool looks it up, the caller talks over the answer to say goodbye (barge-in), and
the agent hangs up once its own goodbye has been heard. Per-turn latency, the stall
watchdog and the conversation record come with the session.
"""

from __future__ import annotations

import functools

import trio

from trio_gemini_live import ApiKey, LiveConfig, LiveSession, Status, open_live_session
from trio_gemini_live import events as ev
from trio_gemini_live.audio import PlaybackBuffer, Resampler, chunk_pcm, mulaw_decode, mulaw_encode
from trio_gemini_live.testing import LiveEmulator, speech_like_pcm
from trio_gemini_live.tools import tool

MODEL = "gemini-3.8-live"
FRAME = 0.02  # phone lines carry 20 ms frames: 160 μ-law bytes at 8 kHz


@tool
async def look_up_order(order_number: str) -> dict[str, str]:
    """Find where a customer's order is.

    Args:
        order_number: The order number the caller gave.
    """
    return {"status": "out for delivery", "eta": "18:30"}


async def caller(to_agent: trio.MemorySendChannel[bytes | str],
                 from_agent: trio.MemoryReceiveChannel[bytes]) -> None:
    """The phone side, scripted (in production: Twilio, a SIP gateway). A frame every 20 ms,
    silence between words; keypad digits come as events. Talks over the agent at 1.8 s."""
    goodbye = chunk_pcm(speech_like_pcm(0.6, rate=8000), sample_rate=8000, ms=20)
    silence, heard, talking = bytes(320), 0.0, False
    async with to_agent:
        await to_agent.send("4711")  # keypad (DTMF): the order number
        while True:
            try:
                while True:  # the agent's voice that arrived since the last frame
                    heard += len(from_agent.receive_nowait()) / 8000
            except trio.WouldBlock:
                pass
            except trio.EndOfChannel:
                return  # the agent hung up
            talking = talking or heard >= 1.8  # "Great, thanks. Bye!" over the agent
            await to_agent.send(mulaw_encode(next(goodbye, silence) if talking else silence))
            await trio.sleep(FRAME)


async def phone_to_model(session: LiveSession,
                         line: trio.MemoryReceiveChannel[bytes | str]) -> None:
    """8 kHz μ-law in, 16 kHz PCM to the session, frame by frame. A phone line never
    pauses: the server's voice activity detection hears the silence after each utterance
    and ends the caller's turn."""
    upsample = Resampler(8000, 16000)  # streaming: no clicks at frame boundaries
    async for frame in line:
        if isinstance(frame, str):  # keypad digits: text (the emulator needs the tool's name)
            await session.send_text(
                f"The caller typed order number {frame} on the keypad: look_up_order.")
        elif session.status in (Status.CLOSING, Status.CLOSED):
            continue  # hanging up: nothing more goes to the model
        elif pcm := upsample.process(mulaw_decode(frame)):
            await session.send_realtime_input(audio=pcm)
    await session.aclose()  # the caller hung up (nothing to do if the agent did)


async def model_to_phone(session: LiveSession, playback: PlaybackBuffer,
                         line: trio.MemorySendChannel[bytes]) -> None:
    """The model's voice to the phone: 20 ms of 24 kHz PCM as 8 kHz μ-law every 20 ms.
    Hangs up (closes the line) once the session is over and its last words were played."""
    downsample = Resampler(24000, 8000)
    async with line:
        tick = trio.current_time()
        while session.status is not Status.CLOSED or playback.queued_bytes:
            if pcm := playback.read(960):  # 20 ms at 24 kHz
                await line.send(mulaw_encode(downsample.process(pcm)))
            tick += FRAME
            await trio.sleep_until(tick)


def timing(metrics: ev.TurnMetrics) -> str:
    """A turn's latency, measured on the client's clock."""
    cut = ", interrupted" if metrics.interrupted else ""
    if metrics.time_to_first_audio is None:  # e.g. an asynchronous tool's result
        return f"no user turn before it{cut}"
    first = metrics.time_to_first_audio * 1000
    return f"first audio {first:.0f} ms after the user's turn ({metrics.user_turn_end}){cut}"


async def answer_call(endpoint: str, line_in: trio.MemoryReceiveChannel[bytes | str],
                      line_out: trio.MemorySendChannel[bytes]) -> None:
    playback = PlaybackBuffer(sample_rate=24000)  # the model's audio, until played
    async with trio.open_nursery() as nursery:
        async with open_live_session(
            nursery, model=MODEL, auth=ApiKey("test-api-key"), endpoint=endpoint,
            config=LiveConfig(
                response_modalities=["AUDIO"],
                system_instruction="You answer the phone for a pizzeria. Be brief.",
                input_audio_transcription={},  # the caller's words, for the record
                output_audio_transcription={},  # the agent's words, for the record
                session_resumption={},  # survive goAway and drops (PROTOCOL.md 6)
            ),
            tools=[look_up_order],
            reseed_conversation=True,  # the default: a fresh connection starts from the record
            stall_timeout=8.0,  # a caller hangs up after a few seconds of dead air
            reconnect_on_stall=True,
        ) as session:
            nursery.start_soon(phone_to_model, session, line_in)
            nursery.start_soon(model_to_phone, session, playback, line_out)
            caller_said, hanging_up = "", False
            async for event in session.events():
                playback.handle(event)  # queue audio; flush it all on Interrupted
                match event:
                    case ev.ToolCall(calls=calls):
                        print("tool call:", ", ".join(f"{c.name}({c.args})" for c in calls))
                    case ev.Interrupted():
                        print(f"barge-in: the caller heard {playback.played_seconds:.2f} s, "
                              f"{playback.dropped_seconds:.2f} s flushed")
                    case ev.TurnMetrics():
                        print("turn metrics:", timing(event))
                    case ev.InputTranscription(text=text):
                        caller_said += text.lower()
                    case ev.OutputTranscription() if "bye" in caller_said and not hanging_up:
                        # The agent has begun answering the goodbye: aclose waits for
                        # this turn's TurnComplete (at most 10 s), then closes.
                        hanging_up = True
                        print("the caller said goodbye: hanging up after this turn")
                        nursery.start_soon(functools.partial(session.aclose, finish_turn=10))
                    case ev.TurnComplete() if hanging_up:
                        print("goodbye generated (TurnComplete)")
                    case ev.SessionClosed():
                        print(f"session closed, {playback.queued_seconds:.1f} s still to play")
                    case ev.Stalled(seconds=seconds, owed=owed):
                        # The model owes a turn or a tool answer and a live socket has
                        # been silent. Fill the dead air ("one moment, please");
                        # reconnect_on_stall resumes on a new connection. Without it:
                        # reconnect yourself, or transfer the call to a person.
                        print(f"stalled: nothing for {seconds:.0f} s (owed: {owed})")
        stats = session.statistics()
        latency = stats.latency
        print(f"latency over {latency.turns} turns: first audio "
              f"p50 {latency.time_to_first_audio_p50 or 0:.3f} s, "
              f"p95 {latency.time_to_first_audio_p95 or 0:.3f} s; stalls: {stats.stalls}")
        print("conversation:")
        for turn in session.conversation:
            said = [turn.text.strip()] if turn.text.strip() else []
            said += [f"calls {c.name}({c.args})" for c in turn.tool_calls]
            said += [f"{r.name} -> {r.response}" for r in turn.tool_results]
            print(f"  {turn.role}{' (cut)' if turn.cut else ''}: {'; '.join(said)}")
    print("line closed: the caller heard the whole goodbye")


async def main() -> None:
    # The emulator recognises no speech: it is told what the caller says. It speaks at
    # 1.3 x real time (Google's servers, too, send audio faster than it plays).
    emulator = LiveEmulator(audio_transcript="Great, thanks. Bye!", audio_chunk_delay=0.03)
    to_agent, line_in = trio.open_memory_channel[bytes | str](50)
    line_out, from_agent = trio.open_memory_channel[bytes](500)
    async with trio.open_nursery() as nursery:
        await nursery.start(emulator.serve)
        nursery.start_soon(caller, to_agent, from_agent)
        await answer_call(emulator.url, line_in, line_out)
        nursery.cancel_scope.cancel()  # stop the emulator


if __name__ == "__main__":
    trio.run(main)
