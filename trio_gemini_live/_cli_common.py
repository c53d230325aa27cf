"""What the command line's commands share: the session they open, the reply's audio rate."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncGenerator

import trio

from . import events as ev
from ._auth import ApiKey, Auth, auth_from_env
from ._config import LiveConfig
from ._errors import AuthError
from ._open import open_live_session
from ._session import LiveSession
from .audio import OUTPUT_RATE, resample
from .testing import LiveEmulator

__all__ = [
    "DEMO_KEY",
    "EMULATOR_HEARS",
    "NoReplyError",
    "at_output_rate",
    "env_auth",
    "leaf",
    "open_session",
]

#: The API key of the in-process emulator (``--emulator``, and the demo).
DEMO_KEY = "demo-key"

#: Said wherever a user may speak to the emulator: its model is canned and recognises no
#: speech, so a transcript that reads ``[audio 2.8s]`` is expected, not a bug (issue 14).
EMULATOR_HEARS = (
    "the emulator recognises no speech: it transcribes audio as its length, e.g. [audio 2.8s]"
)


class NoReplyError(Exception):
    """The model did not answer (or stopped answering) within the time allowed."""


def at_output_rate(chunk: ev.AudioChunk) -> bytes:
    """A reply chunk as 16-bit PCM at OUTPUT_RATE (the Live API's 24 kHz, PROTOCOL.md 4).

    The server says its rate in each chunk's MIME type; one at another rate is resampled
    (chunk by chunk: good enough for a demo's WAV file and playback).
    """
    if chunk.sample_rate == OUTPUT_RATE:
        return chunk.data
    return resample(chunk.data, chunk.sample_rate, OUTPUT_RATE)



@contextlib.asynccontextmanager
async def open_session(
    nursery: trio.Nursery, args: argparse.Namespace, config: LiveConfig
) -> AsyncGenerator[LiveSession, None]:
    """A session with the in-process emulator (``--emulator``) or Google (the environment)."""
    if args.emulator:
        emulator = LiveEmulator(api_key=DEMO_KEY)
        await nursery.start(emulator.serve)
        async with emulator.open_session(
            nursery, model=args.model, auth=ApiKey(DEMO_KEY), config=config,
            **getattr(args, "session_options", {}),
        ) as session:
            yield session
    else:
        async with open_live_session(
            nursery, model=args.model, auth=args.auth, config=config,
            **getattr(args, "session_options", {}),
        ) as session:
            yield session



def leaf(exc: BaseException) -> BaseException:
    """The single exception inside nested one-member groups (Trio's nurseries wrap errors)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def env_auth(command: str, alternative: str) -> Auth | None:
    """The credentials ``auth=None`` would use (``auth_from_env``), or None after saying why.

    The same reading as the library's (API key or Vertex AI variables), done once up front
    so that missing credentials are a usage error (exit 2) rather than a failed connection.
    The advice is for someone at a shell, not the library's ``pass auth=...`` (issue 14).

    Args:
        command: the command, as the message names it (``"chat"``).
        alternative: what to do instead of setting credentials (``"use --emulator ..."``).
    """
    try:
        return auth_from_env()
    except AuthError:
        print(f"{command}: no credentials found. Set GEMINI_API_KEY to a Gemini API key "
              "(or GOOGLE_GENAI_USE_VERTEXAI=true, GOOGLE_CLOUD_PROJECT and "
              f"GOOGLE_CLOUD_LOCATION for Vertex AI), or {alternative}.", file=sys.stderr)
    except ValueError:
        # The value itself is not echoed: it may be (part of) a key.
        print(f"{command}: a credential variable in the environment is malformed",
              file=sys.stderr)
    return None


def positive_number(text: str) -> float:
    """An argparse type: a number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 to 65535 (0: a free port)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    return value
