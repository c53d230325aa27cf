"""The ``demo`` and ``chat`` commands.

* ``demo``: a real conversation through the library against the in-process emulator (no API
  key needed), or against Google with ``--live``: a text turn, an audio turn (the reply saved
  as a WAV file), a tool call answered by a Python function, and a ``goAway`` survived by
  resumption; printed as a timed transcript.
* ``chat``: an interactive text conversation (Google, or ``--emulator``); Ctrl-D or Ctrl-C
  ends it cleanly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

import trio

from . import events as ev
from ._auth import ApiKey
from ._cli_common import DEMO_KEY, EMULATOR_HEARS, NoReplyError, at_output_rate, open_session
from ._config import LiveConfig
from ._open import open_live_session
from ._session import LiveSession
from .audio import OUTPUT_RATE, chunk_pcm, write_wav
from .testing import LiveEmulator, speech_like_pcm
from .tools import tool

__all__ = ["chat", "demo", "get_weather"]

# The demo waits this long for each model turn (and for the reconnection after goAway).
_TURN_TIMEOUT = 60.0
# What the emulator is told the demo's speech-like audio says (it recognises no speech).
_HEARD = "What's the weather like in Paris?"


@tool
def get_weather(city: str) -> dict[str, Any]:
    """Get the current weather in a city.

    Args:
        city: The city, e.g. "Paris".
    """
    return {"city": city, "temperature_c": 21, "sky": "clear"}


class _Transcript:
    """Prints ``[  0.12s] who: text`` lines, timed from the start of the demo."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.start = trio.current_time()

    def say(self, who: str, text: str) -> None:
        print(f"[{trio.current_time() - self.start:6.2f}s] {who}: {text}", file=self.out,
              flush=True)


async def _model_turn(session: LiveSession, log: _Transcript) -> tuple[str, bytes]:
    """Read one model turn; print what was heard and said; return the text and the audio.

    The audio is at OUTPUT_RATE. Raises NoReplyError when the turn does not complete within
    ``_TURN_TIMEOUT``.
    """
    heard: list[str] = []
    said: list[str] = []
    text: list[str] = []
    audio = bytearray()
    with trio.move_on_after(_TURN_TIMEOUT) as waited:
        await _read_turn(session, log, heard, said, text, audio)
    if waited.cancelled_caught:
        raise NoReplyError(f"the model's turn did not complete within {_TURN_TIMEOUT:g} s")
    if heard:
        log.say("user (transcribed)", "".join(heard).strip())
    reply = ("".join(said) or "".join(text)).strip()
    seconds = len(audio) / (2 * OUTPUT_RATE)
    log.say("model", f"{reply}  [{seconds:.1f}s of audio]" if audio else reply)
    return reply, bytes(audio)


async def _read_turn(session: LiveSession, log: _Transcript, heard: list[str], said: list[str],
                     text: list[str], audio: bytearray) -> None:
    """Collect one model turn's events into the lists (up to TurnComplete)."""
    async for event in session.events():
        if isinstance(event, ev.InputTranscription):
            heard.append(event.text)
        elif isinstance(event, ev.OutputTranscription):
            said.append(event.text)
        elif isinstance(event, ev.TextChunk) and not event.thought:
            text.append(event.text)
        elif isinstance(event, ev.AudioChunk):
            audio += at_output_rate(event)
        elif isinstance(event, ev.ToolCall):
            for call in event.calls:
                log.say("tool", f"the model calls {call.name}({call.args}); running it")
        elif isinstance(event, ev.TurnComplete):
            break


async def demo(args: argparse.Namespace, out: TextIO) -> None:
    log = _Transcript(out)
    config = LiveConfig(response_modalities=["AUDIO"], input_audio_transcription={},
                        output_audio_transcription={}, session_resumption={},
                        system_instruction="You are a friendly, brief assistant.")
    async with trio.open_nursery() as nursery:
        emulator: LiveEmulator | None = None
        if args.live:
            opener: Callable[[], Any] = lambda: open_live_session(  # noqa: E731
                nursery, model=args.model, auth=args.auth, config=config, tools=[get_weather])
            log.say("demo", f"talking to Google's Live API with {args.model}")
        else:
            # Paced like a real server, so the transcript reads like a conversation.
            pace = 0.0 if args.fast else 1.0
            emulator = LiveEmulator(api_key=DEMO_KEY, text_chunk_delay=0.05 * pace,
                                    audio_chunk_delay=0.01 * pace,
                                    audio_transcript=_HEARD)
            await nursery.start(emulator.serve)
            em = emulator
            opener = lambda: em.open_session(  # noqa: E731
                nursery, model=args.model, auth=ApiKey(DEMO_KEY), config=config,
                tools=[get_weather])
            log.say("demo", f"local emulator on {emulator.url} (no API key needed)")
        async with opener() as session:
            log.say("demo", "session ready")
            # 1. A text turn.
            prompt = "Hello! Who are you?"
            log.say("user", prompt)
            await session.send_text(prompt)
            await _model_turn(session, log)
            # 2. An audio turn: speech-like audio in, streamed in real time.
            pcm = speech_like_pcm(1.5, lead_silence=0.2, trail_silence=1.0)
            log.say("user", "(speaking for 1.5 s)")
            if emulator is not None:
                # Say it here, or `talk --emulator` later looks broken (issue 14).
                log.say("demo", f"{EMULATOR_HEARS}; this demo scripts what it hears")
            for chunk in chunk_pcm(pcm, sample_rate=16000, ms=100):
                await session.send_realtime_input(audio=chunk)
                if not args.fast:
                    await trio.sleep(0.1)  # a microphone delivers audio in real time
            _, audio = await _model_turn(session, log)
            if audio:
                write_wav(args.output, audio, OUTPUT_RATE)
                log.say("demo", f"saved the spoken reply to {args.output}")
            # 3. A tool call, answered by a Python function (get_weather above).
            prompt = "Please call get_weather for Paris."
            log.say("user", prompt)
            await session.send_text(prompt)
            await _model_turn(session, log)
            if session.profile.default_tool_behavior == "NON_BLOCKING":
                # This model runs tools asynchronously (3.8, PROTOCOL.md 9): it went on
                # talking, and reports the result in a turn of its own.
                await _model_turn(session, log)
            # 4. goAway survived by resumption (the session reconnects by itself).
            if emulator is not None:
                await _survive_go_away(session, emulator, log)
            log.say("demo", f"done; tokens used: {session.usage.total_tokens}")
        nursery.cancel_scope.cancel()


async def _survive_go_away(session: LiveSession, emulator: LiveEmulator,
                           log: _Transcript) -> None:
    await emulator.send_go_away(2.0)
    with trio.move_on_after(_TURN_TIMEOUT) as waited:
        async for event in session.events():
            if isinstance(event, ev.GoAway):
                log.say("server", f"goAway: this connection ends in {event.time_left:g} s")
            elif isinstance(event, ev.Reconnected):
                log.say("demo", "reconnected and resumed the session"
                        if event.resumed else "reconnected (a new session)")
                break
    if waited.cancelled_caught:
        raise NoReplyError(f"no reconnection within {_TURN_TIMEOUT:g} s after goAway")
    prompt = "Are you still there?"
    log.say("user", prompt)
    await session.send_text(prompt)
    await _model_turn(session, log)


async def chat(args: argparse.Namespace) -> None:
    config = LiveConfig(response_modalities=["AUDIO"], output_audio_transcription={},
                        session_resumption={})
    async with trio.open_nursery() as nursery:
        async with open_session(nursery, args, config) as session:
            print("Connected. Type a message; Ctrl-D or Ctrl-C to quit.", flush=True)
            read: Callable[[], Awaitable[str]] = lambda: trio.to_thread.run_sync(  # noqa: E731
                sys.stdin.readline, abandon_on_cancel=True)
            while True:
                print("you> ", end="", flush=True)
                line = await read()
                if not line:  # Ctrl-D
                    print()
                    break
                if not line.strip():
                    continue
                await session.send_text(line.strip())
                print("model> ", end="", flush=True)
                async for event in session.events():
                    if isinstance(event, ev.OutputTranscription | ev.TextChunk) and not (
                            isinstance(event, ev.TextChunk) and event.thought):
                        print(event.text, end="", flush=True)
                    elif isinstance(event, ev.TurnComplete):
                        print(flush=True)
                        break
        nursery.cancel_scope.cancel()

