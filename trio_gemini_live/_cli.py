"""The command line: ``trio-gemini-live`` / ``python -m trio_gemini_live``.

* ``emulator``: serve the local Live API emulator until interrupted.
* ``demo``: a real conversation through the library against the in-process emulator (no API
  key needed), or against Google with ``--live``: a text turn, an audio turn (the reply saved
  as a WAV file), a tool call answered by a Python function, and a ``goAway`` survived by
  resumption; printed as a timed transcript.
* ``chat``: an interactive text conversation (Google, or ``--emulator``); Ctrl-D or Ctrl-C
  ends it cleanly.

Bad arguments print the usage and exit with status 2 (argparse), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TextIO

import trio

from . import events as ev
from ._auth import ApiKey
from ._config import LiveConfig
from ._errors import LiveError
from ._session import LiveSession, open_live_session
from .audio import chunk_pcm, write_wav
from .testing import DEFAULT_MODEL, LiveEmulator, speech_like_pcm
from .tools import tool

__all__ = ["main"]

_DEMO_KEY = "demo-key"


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="trio-gemini-live",
        description="A Trio-native client for the Gemini Live API, and a local emulator of it.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    emulator = commands.add_parser("emulator", help="serve the local Live API emulator")
    emulator.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    emulator.add_argument("--port", type=_port, default=0, help="port (0: a free port)")
    emulator.add_argument("--api-key", required=True, help="the API key clients must send")
    emulator.add_argument("--certfile", help="PEM with the key and certificate chain: wss://")
    emulator.add_argument("--connection-lifetime", type=_positive, default=600.0,
                          metavar="SECONDS", help="seconds before goAway's close (600)")

    demo = commands.add_parser("demo", help="a scripted conversation (no API key needed)")
    demo.add_argument("--live", action="store_true",
                      help="talk to Google (key from GEMINI_API_KEY / GOOGLE_API_KEY)")
    demo.add_argument("--model", default=DEFAULT_MODEL, help=f"model ({DEFAULT_MODEL})")
    demo.add_argument("--output", default="demo-reply.wav", help="the reply's WAV file")
    demo.add_argument("--fast", action="store_true",
                      help="no real-time pacing (the emulator answers at once; for tests)")

    chat = commands.add_parser("chat", help="an interactive text conversation")
    chat.add_argument("--emulator", action="store_true",
                      help="talk to an in-process emulator instead of Google")
    chat.add_argument("--model", default=DEFAULT_MODEL, help=f"model ({DEFAULT_MODEL})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "emulator":
            context = None
            if args.certfile:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                try:
                    context.load_cert_chain(args.certfile)
                except (OSError, ssl.SSLError) as exc:
                    parser.error(f"--certfile {args.certfile}: {exc}")
            trio.run(_serve, args, context)
        elif args.command == "demo":
            if args.live and not _env_key():
                print("demo --live needs GEMINI_API_KEY or GOOGLE_API_KEY in the environment",
                      file=sys.stderr)
                return 2
            trio.run(_demo, args, sys.stdout)
        else:
            if not args.emulator and not _env_key():
                print("chat needs GEMINI_API_KEY or GOOGLE_API_KEY (or use --emulator)",
                      file=sys.stderr)
                return 2
            trio.run(_chat, args)
    except BaseException as exc:
        # Trio nurseries wrap errors in exception groups: look at the single cause.
        leaf = _leaf(exc)
        if isinstance(leaf, KeyboardInterrupt):
            print(file=sys.stderr)
            return 130
        if isinstance(leaf, LiveError):
            print(f"error: {leaf}", file=sys.stderr)
            return 1
        raise
    return 0


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _env_key() -> str | None:
    return os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")


async def _serve(args: argparse.Namespace, context: ssl.SSLContext | None) -> None:
    emulator = LiveEmulator(api_key=args.api_key, ssl_context=context,
                            connection_lifetime=args.connection_lifetime)
    async with trio.open_nursery() as nursery:
        await nursery.start(emulator.serve, args.host, args.port)
        print(f"Live API emulator serving on {emulator.url} (Ctrl-C to stop)", flush=True)


# --- the demo --------------------------------------------------------------------------------


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
    """Read one model turn; print what was heard and said; return the text and the audio."""
    heard, said, text = [], [], []
    audio = bytearray()
    async for event in session.events():
        if isinstance(event, ev.InputTranscription):
            heard.append(event.text)
        elif isinstance(event, ev.OutputTranscription):
            said.append(event.text)
        elif isinstance(event, ev.TextChunk) and not event.thought:
            text.append(event.text)
        elif isinstance(event, ev.AudioChunk):
            audio += event.data
        elif isinstance(event, ev.ToolCall):
            for call in event.calls:
                log.say("tool", f"the model calls {call.name}({call.args}); running it")
        elif isinstance(event, ev.TurnComplete):
            break
    if heard:
        log.say("user (transcribed)", "".join(heard).strip())
    reply = ("".join(said) or "".join(text)).strip()
    seconds = len(audio) / 48000
    log.say("model", f"{reply}  [{seconds:.1f}s of audio]" if audio else reply)
    return reply, bytes(audio)


async def _demo(args: argparse.Namespace, out: TextIO) -> None:
    log = _Transcript(out)
    config = LiveConfig(response_modalities=["AUDIO"], input_audio_transcription={},
                        output_audio_transcription={}, session_resumption={},
                        system_instruction="You are a friendly, brief assistant.")
    async with trio.open_nursery() as nursery:
        emulator: LiveEmulator | None = None
        if args.live:
            opener: Callable[[], Any] = lambda: open_live_session(  # noqa: E731
                nursery, model=args.model, auth=None, config=config, tools=[get_weather])
            log.say("demo", f"talking to Google's Live API with {args.model}")
        else:
            # Paced like a real server, so the transcript reads like a conversation.
            pace = 0.0 if args.fast else 1.0
            emulator = LiveEmulator(api_key=_DEMO_KEY, text_chunk_delay=0.05 * pace,
                                    audio_chunk_delay=0.01 * pace,
                                    audio_transcript="What's the weather like in Paris?")
            await nursery.start(emulator.serve)
            em = emulator
            opener = lambda: em.open_session(  # noqa: E731
                nursery, model=args.model, auth=ApiKey(_DEMO_KEY), config=config,
                tools=[get_weather])
            log.say("demo", f"local emulator on {emulator.url} (no API key needed)")
        async with opener() as session:
            log.say("demo", "session ready")
            # 1. A text turn.
            prompt = "Hello! Who are you?"
            log.say("user", prompt)
            await session.send_client_content(prompt)
            await _model_turn(session, log)
            # 2. An audio turn: speech-like audio in, streamed in real time.
            pcm = speech_like_pcm(1.5, lead_silence=0.2, trail_silence=1.0)
            log.say("user", "(speaking for 1.5 s)")
            for chunk in chunk_pcm(pcm, sample_rate=16000, ms=100):
                await session.send_realtime_input(audio=chunk)
                if not args.fast:
                    await trio.sleep(0.1)  # a microphone delivers audio in real time
            _, audio = await _model_turn(session, log)
            if audio:
                write_wav(args.output, audio, 24000)
                log.say("demo", f"saved the spoken reply to {args.output}")
            # 3. A tool call, answered by a Python function (get_weather above).
            prompt = "Please call get_weather for Paris."
            log.say("user", prompt)
            await session.send_client_content(prompt)
            await _model_turn(session, log)
            # 4. goAway survived by resumption (the session reconnects by itself).
            if emulator is not None:
                await _survive_go_away(session, emulator, log)
            log.say("demo", f"done; tokens used: {session.usage.total_tokens}")
        nursery.cancel_scope.cancel()


async def _survive_go_away(session: LiveSession, emulator: LiveEmulator,
                           log: _Transcript) -> None:
    await emulator.send_go_away(2.0)
    async for event in session.events():
        if isinstance(event, ev.GoAway):
            log.say("server", f"goAway: this connection ends in {event.time_left:g} s")
        elif isinstance(event, ev.Reconnected):
            log.say("demo", "reconnected and resumed the session"
                    if event.resumed else "reconnected (a new session)")
            break
    prompt = "Are you still there?"
    log.say("user", prompt)
    await session.send_client_content(prompt)
    await _model_turn(session, log)


# --- chat ------------------------------------------------------------------------------------


async def _chat(args: argparse.Namespace) -> None:
    config = LiveConfig(response_modalities=["AUDIO"], output_audio_transcription={},
                        session_resumption={})
    async with trio.open_nursery() as nursery:
        opener: Callable[[], Any]
        if args.emulator:
            emulator = LiveEmulator(api_key=_DEMO_KEY)
            await nursery.start(emulator.serve)
            opener = lambda: emulator.open_session(  # noqa: E731
                nursery, model=args.model, auth=ApiKey(_DEMO_KEY), config=config)
        else:
            opener = lambda: open_live_session(  # noqa: E731
                nursery, model=args.model, auth=None, config=config)
        async with opener() as session:
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
                await session.send_client_content(line.strip())
                print("model> ", end="", flush=True)
                async for event in session.events():
                    if isinstance(event, ev.OutputTranscription | ev.TextChunk) and not (
                            isinstance(event, ev.TextChunk) and event.thought):
                        print(event.text, end="", flush=True)
                    elif isinstance(event, ev.TurnComplete):
                        print(flush=True)
                        break
        nursery.cancel_scope.cancel()
