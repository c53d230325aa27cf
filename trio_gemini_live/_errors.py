"""The exception hierarchy, and what a close code and reason mean (PROTOCOL.md 7).

::

    LiveError
     +-- SetupError              setup not acknowledged in time / malformed setup exchange
     +-- AuthError               no usable credentials (client side)
     +-- ProtocolError           a malformed server frame or sequence (sans-IO contract)
     +-- SessionClosedError      the connection closed: carries code and reason
          +-- InvalidArgumentError   1007: bad setup field, bad input, context exhausted (fatal)
          |    +-- AuthRejectedError  the server refused the credentials (also an AuthError)
          +-- NotFoundError          1008: model / API version mismatch, policy (fatal)
          +-- QuotaExceededError     1011 "quota" / RESOURCE_EXHAUSTED (fatal)
          +-- TransientError         1006, 1011 internal / unavailable / deadline (retry, resume)
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "AuthRejectedError",
    "InvalidArgumentError",
    "LiveError",
    "NotFoundError",
    "ProtocolError",
    "QuotaExceededError",
    "SessionClosedError",
    "SetupError",
    "TransientError",
    "classify_close",
]


class LiveError(Exception):
    """The root of every error this library raises on purpose."""


class SetupError(LiveError):
    """The server did not complete the setup (timeout, or a malformed answer)."""


class AuthError(LiveError):
    """Credentials are missing, unusable, or were refused."""


class ProtocolError(LiveError):
    """The server sent something that is not a valid Live API message or sequence."""


class SessionClosedError(LiveError):
    """The connection closed. ``code`` and ``reason`` are the close frame's (1006: none).

    ``retryable`` tells whether reconnecting (and resuming) can help.
    """

    retryable: bool = False

    def __init__(self, code: int | None, reason: str = "", *, hint: str = "") -> None:
        self.code = code
        self.reason = reason
        self.hint = hint
        text = f"connection closed with code {code}"
        if reason:
            text += f": {reason}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)

    def __reduce__(self) -> tuple[object, ...]:
        # ``args`` too: the message includes the hint, which __init__ only gets by keyword.
        return (self.__class__, (self.code, self.reason), {"hint": self.hint, "args": self.args})


class InvalidArgumentError(SessionClosedError):
    """1007: the server refused what was sent. Fatal: retrying replays the same error."""


class AuthRejectedError(InvalidArgumentError, AuthError):
    """The server refused the credentials (expired or invalid key, missing permission)."""


class NotFoundError(SessionClosedError):
    """1008: the model is unknown for this API version, or the operation is not allowed."""


class QuotaExceededError(SessionClosedError):
    """The project ran out of quota (1011 "quota" / RESOURCE_EXHAUSTED). Fatal."""


class TransientError(SessionClosedError):
    """A drop or a server-side hiccup (1006, 1011 internal/unavailable/deadline, 1001)."""

    retryable = True


_AUTH_WORDS = (
    "api key",
    "api_key",
    "unauthenticated",
    "permission denied",
    "permission_denied",
    "invalid authentication",
    "access token",
    "auth token",
    "token expired",
)
_QUOTA_WORDS = ("quota", "resource_exhausted", "resource exhausted", "rate limit")
_MODEL_HINT = (
    "check the model name and that it supports bidiGenerateContent with this API version "
    "(e.g. v1alpha for proactivity and affective dialog)"
)


def classify_close(code: int | None, reason: str = "", *, after_go_away: bool = False) -> (
    SessionClosedError
):
    """The error a close with this code and reason means (PROTOCOL.md 7).

    Args:
        code: the close code; ``None`` or 1006 when the connection dropped without a frame.
        reason: the close reason text.
        after_go_away: the server announced the close with ``goAway`` first, so a normal or
            deadline close is the expected end of the connection (resumable).
    """
    low = reason.lower()
    if any(word in low for word in _QUOTA_WORDS):
        return QuotaExceededError(code, reason, hint="quota exhausted: not retried")
    if code == 1007:
        if any(word in low for word in _AUTH_WORDS):
            return AuthRejectedError(code, reason)
        return InvalidArgumentError(code, reason)
    if code == 1008:
        if any(word in low for word in _AUTH_WORDS):
            return AuthRejectedError(code, reason)
        return NotFoundError(code, reason, hint=_MODEL_HINT)
    if code in (None, 1006, 1001, 1011, 1012, 1013, 1014):
        if code == 1011 and "keepalive ping timeout" in low:
            return TransientError(code, reason, hint="the keepalive pong timeout elapsed")
        return TransientError(code, reason)
    if code == 1000 and after_go_away:
        return TransientError(code, reason, hint="the connection ended after goAway")
    return SessionClosedError(code, reason)
