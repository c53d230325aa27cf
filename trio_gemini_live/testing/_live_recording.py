"""The value of the ``live_recording`` fixture, apart from the pytest plugin.

``trio_gemini_live.testing`` exports :class:`LiveRecording`; the plugin module imports pytest,
which is not a dependency of the library, so the class lives here: importing it (or
``from trio_gemini_live.testing import *``) must work where pytest is not installed (issue 16:
the installed wheel's import check found it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ._recorder import Recorder
    from ._replay import ReplayServer

__all__ = ["LiveRecording"]


@dataclass
class LiveRecording:
    """What the ``live_recording`` fixture gives a test marked ``live_recording``.

    Attributes:
        mode: ``"replay"`` (the recording is served) or ``"record"`` (``--live-record``:
            the session is recorded against the real service).
        path: the recording's file.
        kwargs: keyword arguments for :func:`~trio_gemini_live.open_live_session`
            (``endpoint``, ``auth``, ``connect``...): what ``live_endpoint`` gives.
        server: the :class:`~trio_gemini_live.testing.ReplayServer` when replaying.
        recorder: the :class:`~trio_gemini_live.testing.Recorder` when recording.
    """

    mode: Literal["replay", "record"]
    path: Path
    kwargs: dict[str, Any] = field(default_factory=dict)
    server: ReplayServer | None = None
    recorder: Recorder | None = None
