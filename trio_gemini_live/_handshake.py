"""The HTTP side of the WebSocket opening handshake (RFC 6455 4.1), sans-I/O.

``websockets``' ``ClientProtocol`` builds the upgrade request and validates the 101 answer;
:meth:`WebSocket.handshake <._websocket.WebSocket.handshake>` pumps the bytes. What this
module adds around it, with no I/O and no Trio:

* :func:`_check_request`: the host, the request target and the extra headers are checked
  before anything is sent, so a bad header is the caller's ``ValueError`` (naming the header,
  never quoting its value: it may be the API key), not a request the server refuses.
* :func:`_final_status`: interim 1xx answers before the final one are dropped (a client must
  accept them, even unasked: RFC 7231 6.2); websockets would take them for a refusal.
* :func:`_answer`: websockets' verdict on the answer as our errors,
  :class:`HandshakeRejected` (an HTTP status other than 101) or :class:`HandshakeFailed`.

Split out of ``_websocket.py`` (issue 11: modules of at most about 700 lines), which
re-exports the two errors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from websockets.client import ClientProtocol
from websockets.http11 import Response

# The helpers keep the underscored names they had in _websocket (which re-exports them).
__all__ = ["HandshakeFailed", "HandshakeRejected"]

#: The most of a refusal's body kept in :attr:`HandshakeRejected.body`.
_MAX_BODY: Final = 64 * 1024
#: The most bytes of interim answers read before the final answer's status line.
_MAX_INTERIM: Final = 64 * 1024


class HandshakeRejected(Exception):
    """The server answered the upgrade with an HTTP status other than 101.

    Attributes:
        status: the HTTP status. headers: its headers. body: up to 64 KiB of its body
        (never part of ``str()``: a refusal may echo the request, key included).
    """

    def __init__(self, status: int, headers: tuple[tuple[str, str], ...], body: bytes) -> None:
        super().__init__(status)
        self.status, self.headers, self.body = status, headers, body

    def __str__(self) -> str:
        return f"the server refused the WebSocket upgrade with HTTP {self.status}"


class HandshakeFailed(Exception):
    """The opening handshake failed otherwise: EOF, a malformed or invalid answer, TLS."""


# --- the request ---------------------------------------------------------------------------

#: RFC 7230 3.2 (token names; visible characters or obs-text, inner spaces or tabs), and
#: RFC 7230 5.3 for the request target.
_NAME: Final = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_VALUE: Final = re.compile(r"(?:[\x21-\x7e\x80-\xff]+(?:[ \t]+[\x21-\x7e\x80-\xff]+)*)?")
_TARGET: Final = re.compile(r"/[\x21-\x7e]*")
_HOST: Final = re.compile(r"[\x21-\x7e]+")
#: Set by the handshake itself: a second one would make the request invalid.
_OWN: Final = frozenset({"host", "upgrade", "connection", "sec-websocket-key",
                         "sec-websocket-version", "sec-websocket-extensions"})


def _check_request(host: str, resource: str, headers: Sequence[tuple[str, str]]) -> None:
    """Refuse what would make an invalid request, naming a header but never its value."""
    if not isinstance(host, str) or not _HOST.fullmatch(host) or "/" in host:
        raise ValueError("the host is not valid in an HTTP request")
    if not isinstance(resource, str) or not _TARGET.fullmatch(resource):
        raise ValueError("the resource is not a valid HTTP request target")
    for name, value in headers:
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("a header's name and value must be str")
        if not _NAME.fullmatch(name):
            raise ValueError(f"invalid HTTP header name {name[:100]!r}")
        if name.lower() in _OWN:
            raise ValueError(f"the header {name!r} is set by the WebSocket handshake")
        if not _VALUE.fullmatch(value):
            # The value may be a secret (x-goog-api-key, Authorization): the name only.
            raise ValueError(f"the value of the HTTP header {name!r} is invalid (control "
                             "characters, a line break, spaces at either end, non-Latin-1)")


# --- the answer ----------------------------------------------------------------------------

#: An interim answer's status line: 1xx but 101 (RFC 7231 6.2).
_INTERIM: Final = re.compile(rb"HTTP/1\.[01] 1(?!01)[0-9][0-9](?![0-9])")
_STATUS: Final = re.compile(rb"HTTP/1\.[01] ([0-9]{3})(?![0-9])")
_HEAD_END: Final = re.compile(rb"\r?\n\r?\n")


def _final_status(head: bytearray) -> int | None:
    """Drop complete interim answers from ``head``; the final answer's status (0 when it
    has none we read), or ``None`` when more bytes are needed.

    websockets takes any answer but 101 for a refusal, so 1xx answers (which a client must
    accept, even unasked: RFC 7231 6.2) never reach it.
    """
    while True:
        line_end = head.find(b"\n")
        if line_end >= 0 and _INTERIM.match(head, 0, line_end) is None:
            status = _STATUS.match(head, 0, line_end)
            return int(status[1]) if status else 0
        end = _HEAD_END.search(head) if line_end >= 0 else None
        if end is None:
            if len(head) > _MAX_INTERIM:
                raise HandshakeFailed("invalid handshake answer: an endless head")
            return None
        del head[: end.end()]


def _answer(proto: ClientProtocol, status: int) -> list[Any] | None:
    """The frames after a 101 answer; ``None`` while incomplete; raises for a failure.

    ``status`` is :func:`_final_status`'s, for a refusal websockets could not parse.
    """
    events = proto.events_received()
    failure = proto.handshake_exc
    if events and isinstance(events[0], Response):
        answer = events[0]
        if failure is None:
            return events[1:]
        if answer.status_code != 101:
            headers = tuple(answer.headers.raw_items())
            raise HandshakeRejected(answer.status_code, headers, bytes(answer.body[:_MAX_BODY]))
    elif failure is None:
        return None
    elif status not in (0, 101):
        # A refusal whose head or body websockets refused (e.g. a body over 1 MiB).
        raise HandshakeRejected(status, (), b"")
    cause = f" ({failure.__cause__})" if failure.__cause__ else ""
    raise HandshakeFailed(f"invalid handshake answer: {failure}{cause}")
