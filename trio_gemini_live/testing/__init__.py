"""Test helpers: a faithful local Live API server and its pytest plugin.

* :class:`LiveEmulator`: a trio + trio-websocket server that behaves as PROTOCOL.md says
  Google's does (auth, strict setup, a scripted deterministic model with text, audio, voice
  activity, tools, barge-in and resumption, connection lifetime and ``goAway``), with faults
  on demand and a record of every client message.
* :class:`Fault`, :class:`ConnectionRecord`: fault injection and what a connection saw.
* ``speech_like_pcm``: speech-like 16 kHz input audio that triggers the emulator's VAD.
* The pytest plugin (``trio_gemini_live.testing._plugin``) provides the ``live_emulator``
  fixture.
"""

# The names are imported on first use (PEP 562): the pytest plugin lives in this package,
# and every pytest run of a project that merely has this library installed loads it, so
# loading it must not load the emulator (issue 11).

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._emulator import DEFAULT_MODEL as DEFAULT_MODEL
    from ._emulator import DEFAULT_MODELS as DEFAULT_MODELS
    from ._emulator import ConnectionRecord as ConnectionRecord
    from ._emulator import Fault as Fault
    from ._emulator import LiveEmulator as LiveEmulator
    from ._model import speech_like_pcm as speech_like_pcm
    from ._strict import ClientFrameError as ClientFrameError
    from ._strict import parse_client_frame as parse_client_frame

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_MODELS",
    "ClientFrameError",
    "ConnectionRecord",
    "Fault",
    "LiveEmulator",
    "parse_client_frame",
    "speech_like_pcm",
]

# Where each public name lives.
_HOMES = {
    "DEFAULT_MODEL": "._emulator",
    "DEFAULT_MODELS": "._emulator",
    "ConnectionRecord": "._emulator",
    "Fault": "._emulator",
    "LiveEmulator": "._emulator",
    "speech_like_pcm": "._model",
    "ClientFrameError": "._strict",
    "parse_client_frame": "._strict",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
