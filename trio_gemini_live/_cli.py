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
import ssl
import sys
from collections.abc import Sequence
from typing import Any

import trio

from . import _cli_demo, _cli_recording, _cli_talk
from ._cli_common import NoReplyError, env_auth, leaf, port_number, positive_number
from ._errors import LiveError
from ._version import __version__
from .testing import LiveEmulator

__all__ = ["build_parser", "main"]

#: The model the commands use unless --model says otherwise: today's Live model
#: (PROTOCOL.md 9). The library applies each model's rules (trio_gemini_live.models).
DEFAULT_MODEL = "gemini-3.8-live"

# What each command's --help says (issue 14: demo, chat and emulator had none).
_EMULATOR_HELP = """\
Serve the local Live API emulator until Ctrl-C: a faithful, offline stand-in for Google's
server (authentication, strict setup checks, a canned model with text, audio, tools and
barge-in, resumption and goAway). Point any client at the URL it prints, with the same API
key: in Python, open_live_session(..., endpoint=URL, auth=ApiKey(KEY)).
"""
_DEMO_HELP = """\
A scripted conversation through the library, printed as a timed transcript: a text turn,
an audio turn (the spoken reply saved as a WAV file), a tool call answered by a Python
function, and a goAway survived by resumption. It runs against an in-process emulator, so
no API key is needed; its canned model repeats what it heard and recognises no speech (this
demo scripts the audio's transcript). --live runs the same script against Google.
"""
_CHAT_HELP = """\
An interactive text conversation, the model's answers printed as they stream in. Talks to
Google's Live API with the key in GEMINI_API_KEY (or GOOGLE_API_KEY; for Vertex AI,
GOOGLE_GENAI_USE_VERTEXAI=true with GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION), or to
a local emulator with --emulator (no key needed). Ctrl-D or Ctrl-C ends it.
"""
_TALK_HELP = """\
Stream a WAV file (or the microphone) into a session in real time, print both
transcriptions as they arrive, and save and/or play the spoken reply. With --emulator,
your audio is transcribed as its length ("[audio 2.8s]"): the emulator recognises no speech.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="trio-gemini-live",
        description="A Trio-native client for the Gemini Live API, and a local emulator of it.",
        epilog="Run 'trio-gemini-live COMMAND --help' for a command's options. Start with "
               "'demo': it needs no API key.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    emulator = commands.add_parser(
        "emulator", help="serve the local Live API emulator", description=_EMULATOR_HELP)
    emulator.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    emulator.add_argument("--port", type=port_number, default=0, help="port (0: a free port)")
    emulator.add_argument("--api-key", required=True, help="the API key clients must send")
    emulator.add_argument("--certfile", help="PEM with the key and certificate chain: wss://")
    emulator.add_argument("--connection-lifetime", type=positive_number, default=600.0,
                          metavar="SECONDS", help="seconds before goAway's close (600)")

    demo = commands.add_parser(
        "demo", help="a scripted conversation (no API key needed)", description=_DEMO_HELP)
    demo.add_argument("--live", action="store_true",
                      help="talk to Google (key from GEMINI_API_KEY / GOOGLE_API_KEY)")
    demo.add_argument("--model", default=DEFAULT_MODEL, help=f"model ({DEFAULT_MODEL})")
    demo.add_argument("--output", default="demo-reply.wav", help="the reply's WAV file")
    demo.add_argument("--fast", action="store_true",
                      help="no real-time pacing (the emulator answers at once; for tests)")

    chat = commands.add_parser(
        "chat", help="an interactive text conversation", description=_CHAT_HELP)
    chat.add_argument("--emulator", action="store_true",
                      help="talk to an in-process emulator instead of Google")
    chat.add_argument("--model", default=DEFAULT_MODEL, help=f"model ({DEFAULT_MODEL})")

    talk = commands.add_parser(
        "talk", help="speak to the model: a WAV file or the microphone in, the spoken reply out",
        description=_TALK_HELP)
    source = talk.add_mutually_exclusive_group()
    source.add_argument("--wav", metavar="FILE",
                        help="a 16-bit PCM WAV file to say (any rate; stereo is mixed down)")
    source.add_argument("--mic", action="store_true",
                        help="speak into the microphone until Ctrl-C (needs sounddevice)")
    talk.add_argument("--out", metavar="FILE",
                      help="save the reply as a 24 kHz WAV file "
                           f"({_cli_talk.TALK_OUT} unless --play)")
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
    talk.add_argument("--reply-timeout", type=positive_number, default=30.0, metavar="SECONDS",
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
    (``record`` passes its recorder).
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
                args.auth = env_auth("demo --live", "drop --live to run the demo against the "
                                     "local emulator")
                if args.auth is None:
                    return 2
            trio.run(_cli_demo.demo, args, sys.stdout)
        elif args.command == "talk":
            return _cli_talk.talk_main(parser, args)
        else:
            if not args.emulator:
                args.auth = env_auth("chat", "use --emulator to chat with the local emulator")
                if args.auth is None:
                    return 2
            trio.run(_cli_demo.chat, args)
    except BaseException as exc:
        # Trio nurseries wrap errors in exception groups: look at the single cause.
        cause = leaf(exc)
        if isinstance(cause, KeyboardInterrupt):
            print(file=sys.stderr)
            return 130
        if isinstance(cause, (LiveError, NoReplyError)):
            print(f"error: {cause}", file=sys.stderr)
            return 1
        raise
    return 0


async def _serve(args: argparse.Namespace, context: ssl.SSLContext | None) -> None:
    emulator = LiveEmulator(api_key=args.api_key, ssl_context=context,
                            connection_lifetime=args.connection_lifetime)
    async with trio.open_nursery() as nursery:
        await nursery.start(emulator.serve, args.host, args.port)
        print(f"Live API emulator serving on {emulator.url} (Ctrl-C to stop)", flush=True)


