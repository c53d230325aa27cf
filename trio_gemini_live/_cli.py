"""The command line: ``trio-gemini-live`` / ``python -m trio_gemini_live``.

* ``emulator``: serve the local Live API emulator until interrupted.
* ``demo``: a real conversation through the library against the in-process emulator (no API
  key needed), or against Google with ``--live``: a text turn, an audio turn (the reply saved
  as a WAV file), a tool call answered by a Python function, and a ``goAway`` survived by
  resumption; printed as a timed transcript.
* ``chat``: an interactive text conversation (Google, or ``--emulator``); Ctrl-D or Ctrl-C
  ends it cleanly.
* ``talk``: speak to the model (Google, or ``--emulator``): a WAV file (``--wav``) streamed in
  real time, or the microphone (``--mic``), goes in; both transcriptions are printed as they
  arrive (``you: ...`` / ``model: ...``) and the spoken reply is saved as a 24 kHz WAV file
  (``--out``) and/or played (``--play``). ``--mic`` and ``--play`` need the optional
  ``sounddevice`` package (not part of the ``audio`` extra).

Bad arguments print the usage and exit with status 2 (argparse), never a traceback; so do
missing credentials. Every wait for the model is bounded: a silent server ends the command
with an error message and status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import os
import ssl
import sys
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any, TextIO, cast

import trio

from . import _cli_recording
from . import events as ev
from ._auth import ApiKey, Auth, auth_from_env
from ._config import LiveConfig
from ._errors import AuthError, LiveError
from ._open import open_live_session
from ._session import LiveSession
from .audio import (
    INPUT_RATE,
    OUTPUT_RATE,
    PlaybackBuffer,
    chunk_pcm,
    read_wav,
    resample,
    to_16k,
    write_wav,
)
from .testing import DEFAULT_MODEL, LiveEmulator, speech_like_pcm
from .tools import tool

__all__ = ["main"]

_DEMO_KEY = "demo-key"
_TALK_OUT = "talk-reply.wav"
# The demo waits this long for each model turn (and for the reconnection after goAway).
_TURN_TIMEOUT = 60.0
# A playback device may lag the audio it was handed by this much before drain() gives up.
_DRAIN_SLACK = 2.0


class _NoReplyError(Exception):
    """The model did not answer (or stopped answering) within the time allowed."""


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

    talk = commands.add_parser(
        "talk", help="speak to the model: a WAV file or the microphone in, the spoken reply out",
        description="Stream a WAV file (or the microphone) into a session in real time, print "
                    "both transcriptions as they arrive, and save and/or play the spoken reply.")
    source = talk.add_mutually_exclusive_group()
    source.add_argument("--wav", metavar="FILE",
                        help="a 16-bit PCM WAV file to say (any rate; stereo is mixed down)")
    source.add_argument("--mic", action="store_true",
                        help="speak into the microphone until Ctrl-C (needs sounddevice)")
    talk.add_argument("--out", metavar="FILE",
                      help=f"save the reply as a 24 kHz WAV file ({_TALK_OUT} unless --play)")
    talk.add_argument("--play", action="store_true",
                      help="play the reply as it arrives (needs sounddevice)")
    talk.add_argument("--emulator", action="store_true",
                      help="talk to an in-process emulator instead of Google (no key needed)")
    talk.add_argument("--model", default=DEFAULT_MODEL, help=f"model ({DEFAULT_MODEL})")
    talk.add_argument("--voice", help="a prebuilt voice, e.g. Puck")
    pacing = talk.add_mutually_exclusive_group()
    pacing.add_argument("--realtime", dest="fast", action="store_false",
                        help="send the WAV file at the pace of speech (the default)")
    pacing.add_argument("--fast", dest="fast", action="store_true",
                        help="send the WAV file as fast as possible (for tests)")
    talk.add_argument("--reply-timeout", type=_positive, default=30.0, metavar="SECONDS",
                      help="give up if no reply starts this long after the audio ended (30)")
    talk.set_defaults(fast=False)
    _cli_recording.add_parsers(commands)  # record, replay, inspect (issue 15)
    return parser


def main(argv: Sequence[str] | None = None, *,
         session_options: dict[str, Any] | None = None) -> int:
    """Run the command line; returns the exit status.

    0 on success, 1 for an error (a message on stderr), 2 for missing credentials, 130
    after Ctrl-C. Bad arguments make argparse print the usage and raise ``SystemExit(2)``.
    ``session_options``: more ``open_live_session`` arguments for ``chat`` and ``talk``
    (``record`` passes its recorder's ``connect`` hook).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    args.auth = None
    args.session_options = session_options or {}
    if args.command in _cli_recording.COMMANDS:
        return _cli_recording.run(parser, args)
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
            if args.live:
                args.auth = _env_auth("demo --live")
                if args.auth is None:
                    return 2
            trio.run(_demo, args, sys.stdout)
        elif args.command == "talk":
            return _talk_main(parser, args)
        else:
            if not args.emulator:
                args.auth = _env_auth("chat (or use --emulator)")
                if args.auth is None:
                    return 2
            trio.run(_chat, args)
    except BaseException as exc:
        # Trio nurseries wrap errors in exception groups: look at the single cause.
        leaf = _leaf(exc)
        if isinstance(leaf, KeyboardInterrupt):
            print(file=sys.stderr)
            return 130
        if isinstance(leaf, (LiveError, _NoReplyError)):
            print(f"error: {leaf}", file=sys.stderr)
            return 1
        raise
    return 0


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _env_auth(command: str) -> Auth | None:
    """The credentials ``auth=None`` would use (``auth_from_env``), or None after saying why.

    The same reading as the library's (API key or Vertex AI variables), done once up front
    so that missing credentials are a usage error (exit 2) rather than a failed connection.
    """
    try:
        return auth_from_env()
    except AuthError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
    except ValueError:
        # The value itself is not echoed: it may be (part of) a key.
        print(f"{command}: a credential variable in the environment is malformed",
              file=sys.stderr)
    return None


def _at_output_rate(chunk: ev.AudioChunk) -> bytes:
    """A reply chunk as 16-bit PCM at OUTPUT_RATE (the Live API's 24 kHz, PROTOCOL.md 4).

    The server says its rate in each chunk's MIME type; one at another rate is resampled
    (chunk by chunk: good enough for a demo's WAV file and playback).
    """
    if chunk.sample_rate == OUTPUT_RATE:
        return chunk.data
    return resample(chunk.data, chunk.sample_rate, OUTPUT_RATE)


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
    """Read one model turn; print what was heard and said; return the text and the audio.

    The audio is at OUTPUT_RATE. Raises _NoReplyError when the turn does not complete within
    ``_TURN_TIMEOUT``.
    """
    heard: list[str] = []
    said: list[str] = []
    text: list[str] = []
    audio = bytearray()
    with trio.move_on_after(_TURN_TIMEOUT) as waited:
        await _read_turn(session, log, heard, said, text, audio)
    if waited.cancelled_caught:
        raise _NoReplyError(f"the model's turn did not complete within {_TURN_TIMEOUT:g} s")
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
            audio += _at_output_rate(event)
        elif isinstance(event, ev.ToolCall):
            for call in event.calls:
                log.say("tool", f"the model calls {call.name}({call.args}); running it")
        elif isinstance(event, ev.TurnComplete):
            break


async def _demo(args: argparse.Namespace, out: TextIO) -> None:
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
                write_wav(args.output, audio, OUTPUT_RATE)
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
    with trio.move_on_after(_TURN_TIMEOUT) as waited:
        async for event in session.events():
            if isinstance(event, ev.GoAway):
                log.say("server", f"goAway: this connection ends in {event.time_left:g} s")
            elif isinstance(event, ev.Reconnected):
                log.say("demo", "reconnected and resumed the session"
                        if event.resumed else "reconnected (a new session)")
                break
    if waited.cancelled_caught:
        raise _NoReplyError(f"no reconnection within {_TURN_TIMEOUT:g} s after goAway")
    prompt = "Are you still there?"
    log.say("user", prompt)
    await session.send_client_content(prompt)
    await _model_turn(session, log)


# --- chat ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _open_session(
    nursery: trio.Nursery, args: argparse.Namespace, config: LiveConfig
) -> AsyncGenerator[LiveSession, None]:
    """A session with the in-process emulator (``--emulator``) or Google (the environment)."""
    if args.emulator:
        emulator = LiveEmulator(api_key=_DEMO_KEY)
        await nursery.start(emulator.serve)
        async with emulator.open_session(
            nursery, model=args.model, auth=ApiKey(_DEMO_KEY), config=config,
            **args.session_options,
        ) as session:
            yield session
    else:
        async with open_live_session(
            nursery, model=args.model, auth=args.auth, config=config, **args.session_options
        ) as session:
            yield session


async def _chat(args: argparse.Namespace) -> None:
    config = LiveConfig(response_modalities=["AUDIO"], output_audio_transcription={},
                        session_resumption={})
    async with trio.open_nursery() as nursery:
        async with _open_session(nursery, args, config) as session:
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


# --- talk ------------------------------------------------------------------------------------

# Silence sent after the recording: longer than the server's default end-of-speech silence
# (500 ms, PROTOCOL.md 3.1 ``silenceDurationMs``), so automatic VAD ends the user's turn even
# if ``audioStreamEnd`` were ignored.
_TRAILING_SILENCE = 1.0
# After the input ended and the model's turn completed, wait this long for more: a reply
# to the last stretch of speech may still be coming (the server decides when turns end).
_SETTLE = 1.0


def _sounddevice() -> Any:
    """The optional ``sounddevice`` module, or None (it also fails without PortAudio)."""
    try:
        return importlib.import_module("sounddevice")
    except (ImportError, OSError):
        return None


def _talk_main(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Check ``talk``'s arguments (bad ones exit 2 with the usage), then run it."""
    if args.wav is None and not args.mic:
        parser.error("talk needs --wav FILE or --mic")
    if args.out is None and not args.play:
        args.out = _TALK_OUT
    if args.out is not None:
        # Refuse an unwritable destination now, not after the whole conversation.
        folder = os.path.dirname(os.path.abspath(args.out))
        if os.path.isdir(args.out) or not os.path.isdir(folder):
            parser.error(f"--out {args.out}: not a file in an existing directory")
    pcm = b""
    if args.wav is not None:
        try:
            pcm, rate = read_wav(args.wav, mix_to_mono=True)
        except (OSError, ValueError) as exc:
            parser.error(f"--wav {args.wav}: {exc}")
        if not pcm:
            parser.error(f"--wav {args.wav}: the file holds no audio")
        if rate != INPUT_RATE:
            pcm = to_16k(pcm, rate)  # 16 kHz is the Live API's native input (PROTOCOL.md 3.3)
    try:
        config = LiveConfig(response_modalities=["AUDIO"], input_audio_transcription={},
                            output_audio_transcription={}, voice=args.voice)
    except (TypeError, ValueError) as exc:
        parser.error(f"--voice {args.voice!r}: {exc}")
    sd = None
    if args.mic or args.play:
        sd = _sounddevice()
        if sd is None:
            print(f"talk {'--mic' if args.mic else '--play'} needs the sounddevice package "
                  "and PortAudio: pip install sounddevice (or use --wav FILE / --out FILE)",
                  file=sys.stderr)
            return 2
    if not args.emulator:
        args.auth = _env_auth("talk (or use --emulator)")
        if args.auth is None:
            return 2
    try:
        return trio.run(_talk, args, config, pcm, sd, sys.stdout)
    except BaseException as exc:
        # No microphone or speaker, a device busy or unplugged: a message, not a traceback.
        leaf = _leaf(exc)
        if sd is not None and isinstance(leaf, sd.PortAudioError):
            print(f"error: sound device: {leaf}", file=sys.stderr)
            return 1
        raise


class _Lines:
    """Prints transcription fragments as they arrive, one ``who: ...`` line per speaker."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.speaker: str | None = None

    def fragment(self, who: str, text: str) -> None:
        if who != self.speaker:
            self.end()
            print(f"{who}: ", end="", file=self.out)
            self.speaker = who
            text = text.lstrip()
        print(text, end="", file=self.out, flush=True)

    def end(self) -> None:
        if self.speaker is not None:
            print(file=self.out, flush=True)
            self.speaker = None


class _Player:
    """Plays the reply through ``sounddevice`` as it arrives; barge-in flushes it."""

    def __init__(self, sd: Any) -> None:
        self.buffer = PlaybackBuffer(OUTPUT_RATE)
        # The device callback runs on PortAudio's thread (PlaybackBuffer is sans-IO).
        self.lock = threading.Lock()
        self.stream = sd.RawOutputStream(samplerate=OUTPUT_RATE, channels=1, dtype="int16",
                                         callback=self._callback)

    def _callback(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        with self.lock:
            outdata[:] = self.buffer.read(2 * frames, pad=True)

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.AudioChunk) and event.sample_rate != OUTPUT_RATE:
            # The buffer plays OUTPUT_RATE and refuses other rates: resample first.
            event = ev.AudioChunk(data=_at_output_rate(event), sample_rate=OUTPUT_RATE)
        with self.lock:
            self.buffer.handle(event)

    async def drain(self) -> None:
        """Wait until everything queued was handed to the device.

        Bounded: a device that stopped calling back is given the queued audio's length plus
        ``_DRAIN_SLACK`` seconds, then abandoned.
        """
        await trio.lowlevel.checkpoint()
        with self.lock:
            left = self.buffer.queued_seconds
        with trio.move_on_after(left + _DRAIN_SLACK):
            while left:
                await trio.sleep(min(left, 0.1))
                with self.lock:
                    left = self.buffer.queued_seconds


class _Replies:
    """Reads the session's events while the input streams: prints and collects the reply.

    The input is over when :meth:`input_done` is called; the conversation is over when,
    after that, the model completed a turn, is not speaking, and said nothing more for
    ``_SETTLE`` seconds (with automatic VAD the server decides where turns end, so a long
    recording can get several replies, PROTOCOL.md 5).
    """

    def __init__(self, out: TextIO, player: _Player | None, reply_timeout: float) -> None:
        self.lines = _Lines(out)
        self.player = player
        self.reply_timeout = reply_timeout
        self.audio = bytearray()
        self.turns = 0
        self.speaking = False  # the model's turn has started and not completed
        self.input_ended = False
        self.closed = False
        self._wait: trio.CancelScope | None = None

    def input_done(self) -> None:
        """The whole input was sent: wake the reader to re-check whether it is done."""
        self.input_ended = True
        if self._wait is not None:
            self._wait.cancel()

    async def run(self, session: LiveSession) -> bool:
        """Read events until the conversation is over; False if no reply came in time.

        "In time": within ``reply_timeout`` after the input ended, and, while the model is
        speaking, with no gap longer than ``reply_timeout`` between its events.
        """
        while not self.closed:
            settled = self.input_ended and self.turns > 0 and not self.speaking
            waiting = (self.input_ended and self.turns == 0 and not self.speaking) or (
                self.speaking
            )
            deadline = math.inf  # the input is still streaming: input_done() wakes us
            if settled:
                deadline = trio.current_time() + _SETTLE
            elif waiting:
                deadline = trio.current_time() + self.reply_timeout
            with trio.CancelScope(deadline=deadline) as scope:
                self._wait = scope
                event = await _next_event(session)
            self._wait = None
            if scope.cancelled_caught:
                if settled:
                    return True
                if waiting:
                    return False
                continue  # input_done() woke us: the deadline changes
            self._handle(event)
        return True

    def _handle(self, event: ev.Event | None) -> None:
        if event is None or isinstance(event, ev.SessionClosed):
            self.closed = True
        elif isinstance(event, ev.InputTranscription):
            self.lines.fragment("you", event.text)
        elif isinstance(event, ev.OutputTranscription):
            self.speaking = True
            self.lines.fragment("model", event.text)
        elif isinstance(event, ev.AudioChunk):
            self.speaking = True
            self.audio += _at_output_rate(event)
        elif isinstance(event, ev.TextChunk):
            self.speaking = True
        elif isinstance(event, ev.Interrupted):
            self.lines.end()
            print("(interrupted)", file=self.lines.out, flush=True)
        elif isinstance(event, ev.TurnComplete):
            self.lines.end()
            self.turns += 1
            self.speaking = False
        if self.player is not None and event is not None:
            self.player.handle(event)


async def _next_event(session: LiveSession) -> ev.Event | None:
    """The session's next event (None once it closed), safe to cancel.

    A cancelled ``async for`` would finish the events generator; a fresh one per event
    loses nothing (``LiveSession.events`` continues where the last one stopped).
    """
    generator = cast("AsyncGenerator[ev.Event, None]", session.events())
    async with contextlib.aclosing(generator) as events:
        async for event in events:
            return event
    return None


async def _send_wav(session: LiveSession, pcm: bytes, fast: bool, replies: _Replies) -> None:
    """Stream a recording (16 kHz) like a microphone would, then end the audio stream."""
    pcm += bytes(2 * int(INPUT_RATE * _TRAILING_SILENCE))
    start = trio.current_time()
    sent = 0.0
    for chunk in chunk_pcm(pcm, sample_rate=INPUT_RATE, ms=100):
        await session.send_realtime_input(audio=chunk)
        sent += len(chunk) / (2 * INPUT_RATE)
        if not fast:
            # Absolute deadlines: the pace does not drift with the time sending takes.
            await trio.sleep_until(start + sent)
    # PROTOCOL.md 3.3: with automatic VAD, audioStreamEnd ends an utterance still open.
    await session.send_realtime_input(audio_stream_end=True)
    replies.input_done()


async def _send_mic(session: LiveSession, sd: Any, out: TextIO) -> None:
    """Stream the microphone (16 kHz mono, 100 ms blocks) until cancelled (Ctrl-C)."""
    send, receive = trio.open_memory_channel[bytes](50)
    token = trio.lowlevel.current_trio_token()

    def offer(data: bytes) -> None:
        try:
            send.send_nowait(data)
        except trio.WouldBlock:
            pass  # the session is 5 s behind the microphone: drop rather than pile up
        except trio.BrokenResourceError:
            # The receiving loop ended (Ctrl-C, or the session closed) while PortAudio's
            # thread still had a block on its way: nobody wants it any more.
            pass

    def callback(indata: Any, frames: int, time: Any, status: Any) -> None:
        # PortAudio's thread: hand the block over to Trio.
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(offer, bytes(indata))

    with sd.RawInputStream(samplerate=INPUT_RATE, channels=1, dtype="int16",
                           blocksize=INPUT_RATE // 10, callback=callback):
        print("Listening; speak, and press Ctrl-C to stop.", file=out, flush=True)
        async with receive:
            async for block in receive:
                await session.send_realtime_input(audio=block)


async def _talk(args: argparse.Namespace, config: LiveConfig, pcm: bytes, sd: Any,
                out: TextIO) -> int:
    player = _Player(sd) if args.play else None
    replies = _Replies(out, player, args.reply_timeout)
    answered = True
    try:
        async with trio.open_nursery() as nursery:
            async with _open_session(nursery, args, config) as session:
                where = "the local emulator" if args.emulator else "Google's Live API"
                print(f"Connected to {where} ({args.model}).", file=out, flush=True)
                if player is not None:
                    player.stream.start()
                async with trio.open_nursery() as talking:
                    if args.mic:
                        talking.start_soon(_send_mic, session, sd, out)
                    else:
                        talking.start_soon(_send_wav, session, pcm, args.fast, replies)
                    answered = await replies.run(session)
                    talking.cancel_scope.cancel()
                if player is not None:
                    await player.drain()
            nursery.cancel_scope.cancel()
    finally:
        replies.lines.end()
        if player is not None:
            player.stream.stop()
            player.stream.close()
        # Also after Ctrl-C (the way --mic ends): keep what the model said so far.
        if args.out is not None and replies.audio:
            write_wav(args.out, replies.audio, OUTPUT_RATE)
            seconds = len(replies.audio) / (2 * OUTPUT_RATE)
            print(f"Saved {seconds:.1f} s of the reply to {args.out}", file=out, flush=True)
    if not answered:
        print(f"error: no reply within {args.reply_timeout:g} s after the audio ended "
              "(or the reply stopped for that long)", file=sys.stderr)
        return 1
    if not replies.audio:
        print("The model sent no audio.", file=out, flush=True)
    return 0
