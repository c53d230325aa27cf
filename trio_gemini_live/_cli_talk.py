"""The ``talk`` command: speak to the model, hear (and keep) its spoken reply.

A WAV file (``--wav``) streamed in real time, or the microphone (``--mic``), goes in; both
transcriptions are printed as they arrive (``you: ...`` / ``model: ...``) and the spoken
reply is saved as a 24 kHz WAV file (``--out``) and/or played (``--play``). ``--mic`` and
``--play`` need the optional ``sounddevice`` package (not part of the ``audio`` extra).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import os
import sys
import threading
from collections.abc import AsyncGenerator
from typing import Any, TextIO, cast

import trio

from . import events as ev
from ._cli_common import EMULATOR_HEARS, at_output_rate, env_auth, leaf, open_session
from ._config import LiveConfig
from ._session import LiveSession
from .audio import INPUT_RATE, OUTPUT_RATE, PlaybackBuffer, chunk_pcm, read_wav, to_16k, write_wav

__all__ = ["TALK_OUT", "talk_main"]

#: Where ``talk`` saves the reply unless ``--out`` or ``--play`` says otherwise.
TALK_OUT = "talk-reply.wav"
# A playback device may lag the audio it was handed by this much before drain() gives up.
_DRAIN_SLACK = 2.0

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


def talk_main(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Check ``talk``'s arguments (bad ones exit 2 with the usage), then run it."""
    if args.wav is None and not args.mic:
        parser.error("talk needs --wav FILE or --mic")
    if args.out is None and not args.play:
        args.out = TALK_OUT
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
        args.auth = env_auth("talk", "use --emulator to talk to the local emulator")
        if args.auth is None:
            return 2
    try:
        return trio.run(_talk, args, config, pcm, sd, sys.stdout)
    except BaseException as exc:
        # No microphone or speaker, a device busy or unplugged: a message, not a traceback.
        cause = leaf(exc)
        if sd is not None and isinstance(cause, sd.PortAudioError):
            print(f"error: sound device: {cause}", file=sys.stderr)
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
            event = ev.AudioChunk(data=at_output_rate(event), sample_rate=OUTPUT_RATE)
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
            self.audio += at_output_rate(event)
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
            async with open_session(nursery, args, config) as session:
                where = "the local emulator" if args.emulator else "Google's Live API"
                print(f"Connected to {where} ({args.model}).", file=out, flush=True)
                if args.emulator:
                    print(f"Note: {EMULATOR_HEARS}, and its canned model answers that.",
                          file=out, flush=True)
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
