"""Test helpers: a faithful local Live API server and its pytest plugin.

* :class:`LiveEmulator`: a trio + trio-websocket server that behaves as PROTOCOL.md says
  Google's does (auth, strict setup, a scripted deterministic model with text, audio, voice
  activity, tools, barge-in and resumption, connection lifetime and ``goAway``), with faults
  on demand and a record of every client message.
* :class:`Fault`, :class:`ConnectionRecord`: fault injection and what a connection saw.
* ``speech_like_pcm``: speech-like 16 kHz input audio that triggers the emulator's VAD.
* Recordings (issue 15): :class:`Recorder` writes every frame of a session (against Google
  or the emulator) to a JSON-lines file, :class:`Recording` reads and checks one, and
  :class:`ReplayServer` serves one, checking that the client does what the recorded client
  did (:class:`ReplayDivergence` otherwise).
* The pytest plugin (``trio_gemini_live.testing._plugin``) provides the ``live_emulator``
  fixture, and the ``live_recording`` marker with the ``live_recording`` and
  ``live_endpoint`` fixtures (replay a recording, or record it with ``--live-record``).

The names are imported on first use (PEP 562): the pytest plugin lives in this package, and
every pytest run of a project that merely has this library installed loads it, so loading
it must not load the emulator (issue 11).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._emulator import DEFAULT_MODEL as DEFAULT_MODEL
    from ._emulator import DEFAULT_MODELS as DEFAULT_MODELS
    from ._emulator import ConnectionRecord as ConnectionRecord
    from ._emulator import Fault as Fault
    from ._emulator import LiveEmulator as LiveEmulator
    from ._live_recording import LiveRecording as LiveRecording
    from ._model import speech_like_pcm as speech_like_pcm
    from ._recorder import Recorder as Recorder
    from ._recorder import RecordingConnection as RecordingConnection
    from ._recording import RecordedConnection as RecordedConnection
    from ._recording import RecordedEnd as RecordedEnd
    from ._recording import RecordedFrame as RecordedFrame
    from ._recording import Recording as Recording
    from ._recording import RecordingError as RecordingError
    from ._recording import RecordingHeader as RecordingHeader
    from ._recording import message_kind as message_kind
    from ._replay import ReplayDivergence as ReplayDivergence
    from ._replay import ReplayServer as ReplayServer
    from ._strict import ClientFrameError as ClientFrameError
    from ._strict import parse_client_frame as parse_client_frame

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_MODELS",
    "ClientFrameError",
    "ConnectionRecord",
    "Fault",
    "LiveEmulator",
    "LiveRecording",
    "RecordedConnection",
    "RecordedEnd",
    "RecordedFrame",
    "Recorder",
    "Recording",
    "RecordingConnection",
    "RecordingError",
    "RecordingHeader",
    "ReplayDivergence",
    "ReplayServer",
    "message_kind",
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
    "LiveRecording": "._live_recording",  # not ._plugin: that needs pytest
    "Recorder": "._recorder",
    "RecordingConnection": "._recorder",
    "RecordedConnection": "._recording",
    "RecordedEnd": "._recording",
    "RecordedFrame": "._recording",
    "Recording": "._recording",
    "RecordingError": "._recording",
    "RecordingHeader": "._recording",
    "message_kind": "._recording",
    "ReplayDivergence": "._replay",
    "ReplayServer": "._replay",
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
