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
import re
import ssl
import urllib.parse
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec
import trio

from . import _wire as w
from ._auth import _GEMINI_HOST, USER_AGENT, ApiKey, EphemeralToken, _base_url, _gemini_model
from ._config import LiveConfig
from ._errors import AuthError, LiveError

__all__ = ["TokenAuthError", "TokenRequestError", "create_ephemeral_token"]

_PATH: Final = "/v1alpha/auth_tokens"
# One request to one endpoint: generous for a slow network, bounded so a dead server cannot
# hang the caller forever (callers can still cancel sooner: the thread is abandoned).
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


def _rfc3339(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat(timespec="microseconds")
    return text.removesuffix("+00:00").removesuffix(".000000") + "Z"


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
        rest = ".".join(_camel(part) for part in rest.split("."))
        return f"{head}.{rest}"
    return head


def _camel(name: str) -> str:
    first, *others = name.split("_")
    return first + "".join(p[:1].upper() + p[1:] for p in others)


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
        body["expireTime"] = _rfc3339(expire)
    if new_session is not None:
        body["newSessionExpireTime"] = _rfc3339(new_session)
    setup: dict[str, Any] = {}
    if model is not None or config is not None:
        wire_model = _gemini_model(model) if model is not None else ""
        built = (config or LiveConfig()).to_setup(wire_model)
        setup = msgspec.to_builtins(built)
        if model is None:
            setup.pop("model", None)
    if setup:
        body["bidiGenerateContentSetup"] = setup
    if lock_fields is not None:
        extra = [_mask_name(name) for name in lock_fields]
        mask = _setup_mask(setup) + [p for p in extra if p not in _setup_mask(setup)]
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


def _post_blocking(secure: bool, host: str, port: int | None, body: bytes, key: str,
                   ssl_context: ssl.SSLContext | None) -> tuple[int, bytes]:
    connection: http.client.HTTPConnection
    if secure:
        # create_default_context verifies certificates and host names against the system
        # store (and SSL_CERT_FILE / SSL_CERT_DIR).
        context = ssl_context if ssl_context is not None else ssl.create_default_context()
        connection = http.client.HTTPSConnection(host, port, timeout=_TIMEOUT, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=_TIMEOUT)
    try:
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


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r"(.+?T[0-9:]+)(\.\d+)?(Z|[+-]\d\d:\d\d)", value, re.IGNORECASE)
    if match is None:
        return None
    whole, fraction, zone = match.groups()
    micro = (fraction or ".0")[1:7].ljust(6, "0")
    try:
        return datetime.fromisoformat(
            f"{whole}.{micro}{'+00:00' if zone.upper() == 'Z' else zone}")
    except ValueError:
        return None


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

    Cancellation: the HTTP request runs in a worker thread; cancelling abandons it (it ends by
    itself within its 30 s socket timeout).
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
            None, f"could not reach {host}: {type(exc).__name__}: {exc}"
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
        token = EphemeralToken(name)
    except ValueError:
        raise TokenRequestError(status, "the answer's token name is malformed") from None
    return EphemeralToken(
        token._token,
        expire_time=_parse_time(resource.get("expireTime")) or _parse_time(
            body.get("expireTime")),
        new_session_expire_time=_parse_time(resource.get("newSessionExpireTime")) or (
            _parse_time(body.get("newSessionExpireTime"))),
        uses=answered_uses if isinstance(answered_uses, int) else uses,
    )
