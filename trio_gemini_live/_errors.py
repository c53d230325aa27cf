"""The exception hierarchy, and what a close code and reason mean (PROTOCOL.md 7).

::

    LiveError
     +-- SetupError              setup not acknowledged in time / malformed setup exchange
     +-- AuthError               no usable credentials (client side)
     +-- ProtocolError           the server broke the protocol (a malformed frame, bad framing)
     +-- SlowConsumerError       events() was not read while the events queue filled up
     +-- SessionClosedError      the connection closed: carries code and reason
          +-- InvalidArgumentError   1007: bad setup field, bad input, context exhausted (fatal)
          |    +-- AuthRejectedError  the server refused the credentials (also an AuthError)
          +-- NotFoundError          1008: model / API version mismatch, policy (fatal)
          +-- QuotaExceededError     1011 "quota" / RESOURCE_EXHAUSTED (fatal)
          +-- TransientError         1006, 1011 internal / unavailable / deadline (retry, resume)
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

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
    "SlowConsumerError",
    "TransientError",
    "classify_close",
    "classify_refusal",
    "redact",
]


class LiveError(Exception):
    """The root of every error this library raises on purpose.

    ``retryable`` tells whether reconnecting (and resuming) can help.
    """

    retryable: bool = False


class SetupError(LiveError):
    """The server did not complete the setup (timeout, or a malformed answer)."""


class AuthError(LiveError):
    """Credentials are missing, unusable, or were refused."""


class ProtocolError(LiveError):
    """The server sent something that breaks the protocol.

    Raised for a frame that is not a valid Live API message (the session ignores such a
    frame, counts it and reports it to ``on_error``: PROTOCOL.md 8), and as the session's
    error when the server broke the WebSocket protocol itself (reserved bits, a masked
    frame, invalid UTF-8 in a text frame, a message over the size or fragment limit):
    ``code`` is then the close code the client sent. The server's fault, so retryable: with
    resumption, the session reconnects within its budget, as after a drop (issue 12).
    """

    retryable = True

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = message

    def __reduce__(self) -> tuple[object, ...]:
        return (self.__class__, (self.reason,), {"code": self.code})


class SlowConsumerError(LiveError):
    """Nobody read ``events()`` while its queue grew past ``max_event_bytes`` (issue 12).

    The session never stalls the socket for a slow reader and never grows without bound:
    audio beyond its budget is dropped (counted), and when the other events alone exceed the
    bound the session ends with this error. Read ``events()`` (or raise the bound).
    """


class SessionClosedError(LiveError):
    """The connection closed. ``code`` and ``reason`` are the close frame's (1006: none).

    ``retryable`` tells whether reconnecting (and resuming) can help.
    """

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


def classify_refusal(status: int, body: str) -> SessionClosedError:
    """The error for an HTTP answer other than 101 to the WebSocket upgrade.

    ``body`` must already be redacted (:func:`redact`): it is quoted in the message.
    """
    text = f"HTTP {status} during the handshake: {body}".strip()
    if status in (401, 403):
        return AuthRejectedError(1008, text)
    if status == 404:
        return NotFoundError(1008, text, hint=_MODEL_HINT)
    if status == 429:
        return QuotaExceededError(1008, text, hint="quota exhausted: not retried")
    return TransientError(1006, text)


#: What a secret becomes in any text shown (issue 12).
REDACTED = "<redacted>"


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced, as given and URL-encoded (servers echo either)."""
    for secret in secrets:
        if len(secret) < 4:
            continue  # not a real secret: replacing it would garble the text
        if secret in text:
            text = text.replace(secret, REDACTED)
        quoted = quote(secret, safe="")
        if quoted != secret and quoted in text:
            text = text.replace(quoted, REDACTED)
    return text
