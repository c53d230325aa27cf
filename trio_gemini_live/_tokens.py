"""Minting ephemeral tokens: ``POST /v1alpha/auth_tokens`` (PROTOCOL.md 1).

A trusted server holding the API key mints a short-lived ``auth_tokens/...`` token and hands
it to a browser or mobile client, which opens sessions with
:class:`~trio_gemini_live.EphemeralToken` on ``BidiGenerateContentConstrained``.

The request body is the official SDK's (google-genai 3.6.x, ``tokens.py`` and
``_tokens_converters.py``)::

    {"uses": 1, "expireTime": "2025-05-01T00:30:00Z", "newSessionExpireTime": "...",
     "bidiGenerateContentSetup": {"model": "models/x", "generationConfig": {...}},
     "fieldMask": "model,generationConfig.responseModalities,generationConfig.temperature"}

The field mask follows the SDK's rules: without ``lock_fields`` there is no mask (the server
locks the whole ``bidiGenerateContentSetup``); with ``lock_fields`` (even empty) the mask
lists the setup's own fields (``key`` or, for a non-empty object, ``key.subkey``) followed by
the extra fields, where a generation setting such as ``temperature`` means
``generationConfig.temperature``.

The HTTP call uses the standard library (``http.client``) in a worker thread: one short
request does not justify a new dependency. TLS is verified (the system store, which OpenSSL
extends with ``SSL_CERT_FILE``/``SSL_CERT_DIR``, or the given context). The key travels in
the ``x-goog-api-key`` header, never in the URL.
"""

from __future__ import annotations

import http.client
import io
import re
import socket
import ssl
import time
import urllib.parse
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec
import trio

from . import _wire as w
from ._auth import ApiKey, EphemeralToken
from ._config import LiveConfig, merge_extra
from ._errors import AuthError, LiveError
from ._target import _GEMINI_HOST, USER_AGENT, _base_url, _gemini_model

__all__ = ["TokenAuthError", "TokenRequestError", "create_ephemeral_token"]

_PATH: Final = "/v1alpha/auth_tokens"
# One request to one endpoint: generous for a slow network, bounded so a dead (or dripping)
# server cannot hang the caller forever (callers can still cancel sooner: the thread is
# abandoned). It bounds the whole request, not each socket operation (see _post_blocking).
_TIMEOUT: Final = 30.0
_MAX_ANSWER: Final = 1024 * 1024
_MAX_MESSAGE: Final = 500
_GENERATION_FIELDS: Final = dict(
    zip(w.GenerationConfig.__struct_fields__, w.GenerationConfig.__struct_encode_fields__,
        strict=True)
)
_SETUP_FIELDS: Final = dict(
    zip(w.Setup.__struct_fields__, w.Setup.__struct_encode_fields__, strict=True)
)
_FIELD_PATH: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_RFC3339: Final = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE
)


class TokenRequestError(LiveError):
    """Minting the token failed: the server answered an error, or could not be reached.

    Attributes:
        status: the HTTP status (``None`` when no answer arrived).
        message: Google's error message (or what went wrong).
    """

    def __init__(self, status: int | None, message: str) -> None:
        self.status = status
        self.message = message
        prefix = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"creating the ephemeral token failed: {prefix}{message}")

    def __reduce__(self) -> tuple[object, ...]:
        return (self.__class__, (self.status, self.message))


class TokenAuthError(TokenRequestError, AuthError):
    """The server refused the API key used to mint the token (HTTP 400 bad key, 401, 403)."""


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` (proto3 JSON's ``Timestamp`` form, PROTOCOL.md 1).

    Shared with the emulator's REST side (``testing._rest``).
    """
    text = value.astimezone(UTC).isoformat(timespec="microseconds")
    return text.removesuffix("+00:00").removesuffix(".000000") + "Z"


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp (proto3 JSON ``Timestamp``) as an aware datetime, else ``None``.

    Nanosecond fractions are valid RFC 3339; datetime keeps microseconds. Shared with the
    emulator's REST side (``testing._rest``), which turns ``None`` into Google's 400.
    """
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    whole, fraction, zone = match.groups()
    micro = (fraction or ".0")[1:7].ljust(6, "0")
    zone = "+00:00" if zone.upper() == "Z" else zone
    try:
        return datetime.fromisoformat(f"{whole}.{micro}{zone}")
    except ValueError:  # well-formed but impossible, e.g. month 13
        return None


def camel(name: str) -> str:
    """``snake_case`` as ``camelCase`` (proto3 JSON names; shared with ``testing._rest``)."""
    first, *others = name.split("_")
    return first + "".join(p[:1].upper() + p[1:] for p in others)


def _when(value: datetime | timedelta | None, name: str, now: datetime) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        if value <= timedelta():
            raise ValueError(f"{name} must be a positive timedelta, got {value!r}")
        return now + value
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"{name} must be timezone-aware (e.g. datetime.now(timezone.utc) + ...): a "
                "naive datetime is ambiguous"
            )
        if value <= now:
            raise ValueError(f"{name} must be in the future, got {value.isoformat()}")
        return value
    raise TypeError(
        f"{name} must be a datetime, a timedelta or None, not {type(value).__name__}"
    )


def _mask_name(name: object) -> str:
    """A lock_fields entry as a camelCase setup path (the SDK's generationConfig rule)."""
    if not isinstance(name, str):
        raise TypeError(f"lock_fields entries must be strings, not {type(name).__name__}")
    if not _FIELD_PATH.fullmatch(name):
        raise ValueError(f"invalid field name {name!r} in lock_fields")
    head, _, rest = name.partition(".")
    if head in _SETUP_FIELDS or head in _SETUP_FIELDS.values():
        head = _SETUP_FIELDS.get(head, head)
    elif head in _GENERATION_FIELDS or head in _GENERATION_FIELDS.values():
        # The SDK: a GenerationConfig field name locks generationConfig.<name>.
        head = f"generationConfig.{_GENERATION_FIELDS.get(head, head)}"
    else:
        raise ValueError(
            f"unknown field {name!r} in lock_fields: expected a setup field such as "
            "'system_instruction' or a generation setting such as 'temperature'"
        )
    if rest:
        rest = ".".join(camel(part) for part in rest.split("."))
        return f"{head}.{rest}"
    return head


def _setup_mask(setup: dict[str, Any]) -> list[str]:
    # The SDK's _get_field_masks: "key.subkey" for a non-empty object, else "key".
    out: list[str] = []
    for key, value in setup.items():
        if isinstance(value, dict) and value:
            out.extend(f"{key}.{sub}" for sub in value)
        else:
            out.append(key)
    return out


def build_request_body(
    *,
    uses: int = 1,
    expire_time: datetime | timedelta | None = None,
    new_session_expire_time: datetime | timedelta | None = None,
    model: str | None = None,
    config: LiveConfig | None = None,
    lock_fields: Sequence[str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /v1alpha/auth_tokens`` (see the module docstring).

    Args: as :func:`create_ephemeral_token`; ``now`` is the time relative times count from.

    Raises:
        TypeError, ValueError: as :func:`create_ephemeral_token`.
    """
    if isinstance(uses, bool) or not isinstance(uses, int):
        raise TypeError(f"uses must be an int, not {type(uses).__name__}")
    if uses < 0:
        raise ValueError(f"uses must be >= 0 (0 means unlimited), got {uses}")
    now = datetime.now(UTC) if now is None else now
    expire = _when(expire_time, "expire_time", now)
    new_session = _when(new_session_expire_time, "new_session_expire_time", now)
    if expire is not None and new_session is not None and new_session > expire:
        raise ValueError("new_session_expire_time must not be after expire_time")
    if config is not None and not isinstance(config, LiveConfig):
        raise TypeError(f"config must be a LiveConfig, not {type(config).__name__}")
    if lock_fields is not None and (
        isinstance(lock_fields, (str, bytes)) or not isinstance(lock_fields, Sequence)
    ):
        raise TypeError("lock_fields must be a sequence of field names, e.g. ['temperature']")
    body: dict[str, Any] = {"uses": uses}
    if expire is not None:
        body["expireTime"] = format_time(expire)
    if new_session is not None:
        body["newSessionExpireTime"] = format_time(new_session)
    setup: dict[str, Any] = {}
    if model is not None or config is not None:
        wire_model = _gemini_model(model) if model is not None else ""
        built = (config or LiveConfig()).to_setup(wire_model)
        # LiveConfig(extra=...) locks what it sets too (merged as the session sends it).
        setup = merge_extra(msgspec.to_builtins(built), config.extra if config else None)
        if model is None:
            setup.pop("model", None)
    if setup:
        body["bidiGenerateContentSetup"] = setup
    if lock_fields is not None:
        # The setup's own paths first, then the extra ones, each once (a repeated entry in
        # lock_fields, or one the setup already locks, adds nothing).
        mask = list(dict.fromkeys(
            _setup_mask(setup) + [_mask_name(name) for name in lock_fields]))
        if mask:
            body["fieldMask"] = ",".join(mask)
    return body


def _endpoint(endpoint: str | None, ssl_context: ssl.SSLContext | None) -> tuple[bool, str,
                                                                                  int | None]:
    # _base_url validates (no path, query or credentials) and maps http(s) to ws(s).
    base = _base_url(endpoint, _GEMINI_HOST)
    parts = urllib.parse.urlsplit(base)
    secure = parts.scheme == "wss"
    if not secure and ssl_context is not None:
        raise ValueError("ssl_context was given for a plain http:// endpoint")
    assert parts.hostname is not None
    return secure, parts.hostname, parts.port


class _DeadlineReader(io.RawIOBase):
    """The reading side of ``sock``, bounded by one deadline for the whole answer.

    ``http.client``'s timeout applies to each socket operation: a server that drips a byte
    now and then would keep the request (and its worker thread) alive forever. Each read
    here may only wait for what is left of the request's time.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        # The socket's own raw reader, as http.client would use: it keeps the descriptor
        # open while the answer is read, even after http.client closed the connection's
        # socket (it does so on ``connection: close``).
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no complete answer in time")
        self._sock.settimeout(remaining)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """What ``HTTPResponse`` needs of a socket (``makefile``), reading via _DeadlineReader."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        assert mode == "rb"
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))


def _post_blocking(secure: bool, host: str, port: int | None, body: bytes, key: str,
                   ssl_context: ssl.SSLContext | None,
                   timeout: float | None = None) -> tuple[int, bytes]:
    """POST ``body``; the status and at most ``_MAX_ANSWER`` bytes of the answer.

    ``timeout`` (default ``_TIMEOUT``), counted from the start, bounds the whole request
    (sending, reading the answer), not each socket operation; connecting and the TLS
    handshake are bounded by ``timeout`` each (see below).

    Raises:
        OSError (``TimeoutError`` when the time is up), http.client.HTTPException.
    """
    if timeout is None:
        timeout = _TIMEOUT
    deadline = time.monotonic() + timeout

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete answer within {timeout:g} s")
        return left

    class Response(http.client.HTTPResponse):
        # http.client builds the response from the connection's socket: hand it the
        # deadline-bounded reader instead (the socket itself stays the connection's).
        def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
            super().__init__(_DeadlineSocket(sock, deadline), *args,  # type: ignore[arg-type]
                             **kwargs)

    connection: http.client.HTTPConnection
    if secure:
        # create_default_context verifies certificates and host names against the system
        # store (and SSL_CERT_FILE / SSL_CERT_DIR).
        context = ssl_context if ssl_context is not None else ssl.create_default_context()
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    connection.response_class = Response
    try:
        # Connecting is bounded by ``timeout`` and so is the TLS handshake (ssl counts one
        # deadline for the whole handshake, not one per read); what is left of the time
        # bounds the rest, so the request ends within twice ``timeout`` at worst.
        connection.connect()
        assert connection.sock is not None
        # sendall's timeout covers the whole send (Python >= 3.5).
        connection.sock.settimeout(remaining())
        connection.request("POST", _PATH, body=body, headers={
            "content-type": "application/json",
            "x-goog-api-key": key,
            "user-agent": USER_AGENT,
            "x-goog-api-client": USER_AGENT,
        })
        response = connection.getresponse()
        return response.status, response.read(_MAX_ANSWER)
    finally:
        connection.close()


def _error_message(answer: bytes, key: str) -> tuple[str, bool]:
    """Google's error message (``key`` redacted, then cut) and whether it is about the key.

    Redacting before cutting matters: cutting first could leave a prefix of the key that
    no longer matches it whole.
    """
    try:
        value = msgspec.json.decode(answer)
    except (msgspec.DecodeError, RecursionError):
        text = answer.decode("utf-8", "replace").strip().replace(key, "<redacted>")
        return (text[:_MAX_MESSAGE] or "no error message"), False
    error = value.get("error") if isinstance(value, dict) else None
    if not isinstance(error, dict):
        return "unexpected error answer", False
    message = str(error.get("message") or error.get("status") or "no error message")
    details = error.get("details")
    # Anything may come back: only a list of objects is read for reasons.
    reasons = [d.get("reason") for d in details if isinstance(d, dict)] if isinstance(
        details, list) else []
    about_key = "API_KEY_INVALID" in reasons or "api key" in message.lower()
    status = error.get("status")
    if isinstance(status, str) and status not in message:
        message = f"{status}: {message}"
    return message.replace(key, "<redacted>")[:_MAX_MESSAGE], about_key


async def create_ephemeral_token(
    *,
    auth: ApiKey | None = None,
    uses: int = 1,
    expire_time: datetime | timedelta | None = None,
    new_session_expire_time: datetime | timedelta | None = None,
    model: str | None = None,
    config: LiveConfig | None = None,
    lock_fields: Sequence[str] | None = None,
    endpoint: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> EphemeralToken:
    """Mint an ephemeral token on the Gemini API (``POST /v1alpha/auth_tokens``, PROTOCOL.md 1).

    Run this on your server, where the API key lives; give the token to the browser or mobile
    client, which connects with ``open_live_session(..., auth=token)``.

    Args:
        auth: the API key that pays for the sessions; ``None``: :meth:`ApiKey.from_env`.
        uses: how many sessions the token may start (0: unlimited). Resuming a session does
            not count as a use.
        expire_time: when the token stops working: an aware ``datetime``, or a ``timedelta``
            from now; ``None``: the server's default (30 minutes).
        new_session_expire_time: when the token stops starting new sessions (resumptions keep
            working); ``None``: the server's default (60 seconds).
        model: lock the sessions to this model (``"gemini-x"`` or ``"models/gemini-x"``).
        config: lock the sessions' setup to this config (with ``model``, it becomes the
            token's ``bidiGenerateContentSetup``).
        lock_fields: ``None``: the whole locked setup is fixed and no field mask is sent.
            A sequence (even empty): the field mask is the setup's own fields plus these
            (setup field names such as ``"system_instruction"`` or generation settings such
            as ``"temperature"``, snake_case or camelCase), as the official SDK sends it.
        endpoint: ``None`` for Google's host, or ``"http://127.0.0.1:PORT"`` /
            ``"https://host[:port]"`` (``ws://``/``wss://`` are accepted too, so an emulator's
            ``url`` works).
        ssl_context: the TLS context for an ``https://`` endpoint (default: the system's
            trusted certificates, verified).

    Returns:
        The token, with ``expire_time``, ``new_session_expire_time`` and ``uses`` as the
        server confirmed them (or as requested, when the answer omits them).

    Raises:
        TypeError, ValueError: a bad argument (negative ``uses``, a time in the past or
            naive, an unknown field name, a malformed endpoint...). Nothing is sent.
        AuthError: no API key is configured (``auth=None``), or the server refused the key
            (:class:`TokenAuthError`, with ``status``).
        LiveError: the request failed (:class:`TokenRequestError`, with ``status`` and
            Google's message, or without status when the server could not be reached).

    Cancellation: the HTTP request runs in a worker thread; cancelling abandons it. It ends by
    itself within 30 s counted from its start, however slowly the server answers (even byte by
    byte); only connecting and the TLS handshake, 30 s each at most, can stretch that to a
    minute.
    """
    if auth is not None and not isinstance(auth, ApiKey):
        raise TypeError(
            "auth must be an ApiKey (ephemeral tokens are minted with an API key on the "
            f"Gemini API), not {type(auth).__name__}"
        )
    body = build_request_body(
        uses=uses, expire_time=expire_time, new_session_expire_time=new_session_expire_time,
        model=model, config=config, lock_fields=lock_fields,
    )
    secure, host, port = _endpoint(endpoint, ssl_context)
    key = (auth if auth is not None else ApiKey.from_env())._key
    if key.startswith("auth_tokens/"):
        raise ValueError("an ephemeral token cannot mint tokens: pass the API key")
    payload = msgspec.json.encode(body)
    try:
        status, answer = await trio.to_thread.run_sync(
            _post_blocking, secure, host, port, payload, key, ssl_context,
            abandon_on_cancel=True,
        )
    except (OSError, http.client.HTTPException) as exc:
        # These never contain the key: it is only in a request header.
        raise TokenRequestError(
            None, f"no answer from {host}: {type(exc).__name__}: {exc}"
        ) from exc
    if status != 200:
        message, about_key = _error_message(answer, key)
        if status in (401, 403) or (status == 400 and about_key):
            raise TokenAuthError(status, message)
        raise TokenRequestError(status, message)
    try:
        resource = msgspec.json.decode(answer)
    except msgspec.DecodeError:
        resource = None
    name = resource.get("name") if isinstance(resource, dict) else None
    if not isinstance(name, str) or not name.startswith("auth_tokens/"):
        raise TokenRequestError(status, "the answer has no 'auth_tokens/...' name")
    assert isinstance(resource, dict)
    answered_uses = resource.get("uses")
    try:
        return EphemeralToken(
            name,
            expire_time=parse_time(resource.get("expireTime")) or parse_time(
                body.get("expireTime")),
            new_session_expire_time=parse_time(resource.get("newSessionExpireTime")) or (
                parse_time(body.get("newSessionExpireTime"))),
            uses=answered_uses if isinstance(answered_uses, int) else uses,
        )
    except ValueError:
        raise TokenRequestError(status, "the answer's token name is malformed") from None
