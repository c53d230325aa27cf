"""What the voice and video helpers read from a session: its config and model rules.

One place for it, so that the helpers (:mod:`.voice`, :mod:`.video`) stay written against
the session's public surface (``LiveSession.config`` and ``.model``); they return
``None`` for anything else that looks like a session (test doubles).
"""

from __future__ import annotations

import importlib
from typing import Any

from ._config import LiveConfig

__all__ = ["manual_activity", "session_config", "turn_coverage"]


def session_config(session: Any) -> LiveConfig | None:
    """The session's :class:`LiveConfig`, if it can be read."""
    config = getattr(session, "config", None)
    return config if isinstance(config, LiveConfig) else None


def session_model(session: Any) -> str | None:
    """The session's model id, if it can be read."""
    model = getattr(session, "model", None)
    return model if isinstance(model, str) else None


def manual_activity(session: Any) -> bool | None:
    """Whether automatic voice activity detection is disabled; ``None``: unknown."""
    config = session_config(session)
    if config is None:
        return None
    rtc = config.realtime_input_config
    aad = rtc.automatic_activity_detection if rtc is not None else None
    return bool(aad is not None and aad.disabled)


def turn_coverage(session: Any) -> str | None:
    """The session's turn coverage (PROTOCOL.md 3.1, 9): set in its config, else its model's
    default from ``trio_gemini_live.models.profile_for`` where that exists; ``None``: unknown."""
    config = session_config(session)
    rtc = config.realtime_input_config if config is not None else None
    if rtc is not None and rtc.turn_coverage not in (None, "TURN_COVERAGE_UNSPECIFIED"):
        return str(rtc.turn_coverage)
    model = session_model(session)
    if model is None:
        return None
    try:
        profile_for = importlib.import_module("trio_gemini_live.models").profile_for
    except (ImportError, AttributeError):
        return None  # the model profiles (issue 12) are not in this build
    coverage = getattr(profile_for(model), "turn_coverage", None)
    return str(coverage) if coverage is not None else None
