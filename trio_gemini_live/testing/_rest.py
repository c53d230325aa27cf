"""The emulator's REST side: ``POST /v1alpha/auth_tokens`` and the tokens it mints (PROTOCOL.md 1).

Google mints ephemeral tokens on ``POST /v1alpha/auth_tokens`` with a body such as::

    {"uses": 1, "expireTime": "2025-05-01T00:30:00Z", "newSessionExpireTime": "...",
     "bidiGenerateContentSetup": {"model": "models/x", "generationConfig": {...}},
     "fieldMask": "model,generationConfig.temperature"}

and answers with the token resource, whose ``name`` (``auth_tokens/...``) is the token. The
emulator serves that endpoint on the same port as the WebSocket API (the request head is
read with h11; a WebSocket upgrade goes on to trio-websocket) and then honours the tokens on
``BidiGenerateContentConstrained``:

* an expired token (``expireTime`` passed) refuses every connection, resumptions included;
* a new session (a setup without a resumption handle) consumes one use; when ``uses`` (not 0,
  which means unlimited) are used up, or ``newSessionExpireTime`` has passed, new sessions are
  refused, while resuming an existing session still works (PROTOCOL.md 1: "resuming does not
  count as a use");
* the locked setup (``bidiGenerateContentSetup``): the locked fields are the paths in
  ``fieldMask`` or, without a mask, every top-level field of the token's setup (the official
  SDK's meaning of "no ``lock_additional_fields``: the whole setup is locked"). The client may
  leave a locked field out (the token's value is used) or repeat the token's value; sending a
  *different* value, or any value for a locked field the token leaves unset, closes the
  connection with 1007 ``Request contains an invalid argument.``-style text naming the field.
  Token setup fields outside the mask are defaults the client may override, at any depth:
  the client's setup is deep-merged over them (objects field by field, anything else, lists
  included, replaced as a whole), so a token ``generationConfig`` of ``{"temperature": 0.2,
  "responseModalities": ["TEXT"]}`` with only ``generationConfig.temperature`` masked keeps
  ``responseModalities`` unless the client sends its own. A locked path is compared as a
  whole: without a mask, a client ``generationConfig`` must equal the token's entire
  ``generationConfig`` (or be left out); a mask such as ``generationConfig.temperature``
  locks just that setting.

Google does not document the close reasons of refused ephemeral tokens. The emulator closes
with 1008 and texts that name the auth token (so the client's ``classify_close`` reports an
``AuthRejectedError``): an unknown token gets the same text as any unknown credential.

Times: the emulator compares against its own wall clock, :meth:`TokenStore.now`, which is the
real UTC time plus an offset that tests move with :meth:`TokenStore.advance` (deterministic, no
sleeping, no dependence on Trio's clock while HTTP requests run in worker threads).
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import h11
import msgspec
import trio

from .._tokens import camel, format_time
from .._tokens import parse_time as _parse_time
from ._strict import BAD_KEY, NO_CREDENTIALS, TOO_DEEP, ClientFrameError, parse_client_frame

__all__ = [
    "MintedToken", "ReplayStream", "RestError", "RestRecord", "TokenStore",
    "is_websocket_upgrade", "read_request_head", "redact", "serve_http",
]

_TOKENS_PATH: Final = "/v1alpha/auth_tokens"
_MAX_BODY: Final = 1024 * 1024
_MAX_HEAD: Final = 64 * 1024
# Google's defaults for a token without explicit times (PROTOCOL.md 1).
_DEFAULT_EXPIRE: Final = timedelta(minutes=30)
_DEFAULT_NEW_SESSION_EXPIRE: Final = timedelta(seconds=60)
_BODY_FIELDS: Final = frozenset(
    {"uses", "expireTime", "newSessionExpireTime", "bidiGenerateContentSetup", "fieldMask"}
)
_SNAKE_BODY_FIELDS: Final = {
    "expire_time": "expireTime",
    "new_session_expire_time": "newSessionExpireTime",
    "bidi_generate_content_setup": "bidiGenerateContentSetup",
    "field_mask": "fieldMask",
}

# Reason texts of refused tokens (the emulator's: Google does not document them, see above).
TOKEN_EXPIRED: Final = "The auth token has expired."
TOKEN_USED_UP: Final = "The auth token has no uses left for new sessions."
TOKEN_NEW_SESSION_EXPIRED: Final = (
    "The auth token can no longer start new sessions (newSessionExpireTime has passed)."
)
_MISSING: Final = object()


class RestError(Exception):
    """A REST request Google would refuse: answer ``status`` with Google's error JSON."""

    def __init__(self, status: int, message: str, status_name: str = "INVALID_ARGUMENT",
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.status_name = status_name
        self.reason = reason

    def body(self) -> dict[str, Any]:
        """Google's error envelope (``{"error": {"code", "message", "status"}}``)."""
        error: dict[str, Any] = {
            "code": self.status, "message": self.message, "status": self.status_name}
        if self.reason is not None:
            error["details"] = [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": self.reason, "domain": "googleapis.com",
            }]
        return {"error": error}


@dataclass(eq=False)
class RestRecord:
    """One plain-HTTP request the emulator answered, for assertions.

    Attributes:
        method, path: the request line (path without the query).
        query: the query parameters (``key`` redacted).
        headers: the request headers, lower-cased names (secrets kept for tests, redacted in
            ``repr``).
        body: the request body decoded as JSON (``None`` when it was not JSON).
        status: the HTTP status of the answer.
        response: the JSON answer.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(repr=False)
    body: Any = None
    status: int = 0
    response: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(eq=False)
class MintedToken:
    """A token minted by the emulator, and how much of it is left.

    Attributes:
        name: the token (``auth_tokens/...``).
        uses: the allowed new sessions (0: unlimited).
        used: the new sessions started so far.
        expire_time: after this no connection is accepted.
        new_session_expire_time: after this no new session is accepted.
        setup: the locked setup, camelCase (``None`` when unconstrained).
        field_mask: the locked paths, camelCase (``None``: every field of ``setup``).
    """

    name: str = field(repr=False)
    uses: int
    expire_time: datetime
    new_session_expire_time: datetime
    setup: dict[str, Any] | None = None
    field_mask: list[str] | None = None
    used: int = 0

    def locked_paths(self) -> list[str]:
        """The setup paths the client must not change (see the module docstring)."""
        if self.field_mask is not None:
            return list(self.field_mask)
        return sorted(self.setup or ())

    def resource(self) -> dict[str, Any]:
        """The token resource as Google's REST answer shows it."""
        out: dict[str, Any] = {
            "name": self.name,
            "uses": self.uses,
            "expireTime": format_time(self.expire_time),
            "newSessionExpireTime": format_time(self.new_session_expire_time),
        }
        if self.setup is not None:
            out["bidiGenerateContentSetup"] = self.setup
        if self.field_mask is not None:
            out["fieldMask"] = ",".join(self.field_mask)
        return out


def parse_time(value: object, name: str) -> datetime:
    """An RFC 3339 timestamp (proto3 JSON ``Timestamp``), as an aware datetime.

    Raises:
        RestError: 400, Google's text, for anything else (an impossible date too).
    """
    parsed = _parse_time(value)
    if parsed is None:
        raise RestError(400, f"Invalid value at '{name}' (type.googleapis.com/"
                        f"google.protobuf.Timestamp), Field '{name}', Invalid time format")
    return parsed


def _get(tree: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return _MISSING
        tree = tree[key]
    return tree


def _fill_defaults(target: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Deep-merge ``defaults`` under ``target``: only what ``target`` lacks is added."""
    for key, value in defaults.items():
        if key not in target:
            target[key] = copy.deepcopy(value)
        elif isinstance(target[key], dict) and isinstance(value, dict):
            _fill_defaults(target[key], value)


def _set(tree: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        child = tree.get(key)
        if not isinstance(child, dict):
            child = tree[key] = {}
        tree = child
    if value is _MISSING:
        tree.pop(path[-1], None)
    else:
        tree[path[-1]] = value


class TokenStore:
    """The tokens the emulator minted, the REST requests it answered, and its wall clock.

    Attributes:
        tokens: minted tokens by name.
        requests: every plain-HTTP request, in order.
    """

    def __init__(self) -> None:
        self.tokens: dict[str, MintedToken] = {}
        self.requests: list[RestRecord] = []
        self._offset = timedelta()

    def now(self) -> datetime:
        """The emulator's wall clock: real UTC time plus what :meth:`advance` added."""
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta | float) -> None:
        """Move the emulator's wall clock forward (``delta`` in seconds, or a timedelta)."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta():
            raise ValueError("the clock only moves forward")
        self._offset += step

    def mint(self, body: object) -> MintedToken:
        """Mint a token from a ``POST /v1alpha/auth_tokens`` body (PROTOCOL.md 1).

        Raises:
            RestError: the body is not what Google accepts.
        """
        if not isinstance(body, dict):
            raise RestError(400, "Invalid JSON payload received. Expected an object.")
        fields: dict[str, Any] = {}
        for key, value in body.items():
            # proto3 JSON: the snake_case names are accepted too (PROTOCOL.md 2).
            name = _SNAKE_BODY_FIELDS.get(key, key)
            if name not in _BODY_FIELDS:
                raise RestError(400, f'Invalid JSON payload received. Unknown name "{key}": '
                                "Cannot find field.")
            fields[name] = value
        now = self.now()
        uses = fields.get("uses", 1)
        if isinstance(uses, bool) or not isinstance(uses, int) or uses < 0:
            raise RestError(400, "uses must be a non-negative integer.")
        expire = (parse_time(fields["expireTime"], "expire_time")
                  if "expireTime" in fields else now + _DEFAULT_EXPIRE)
        new_session = (
            parse_time(fields["newSessionExpireTime"], "new_session_expire_time")
            if "newSessionExpireTime" in fields else now + _DEFAULT_NEW_SESSION_EXPIRE)
        if expire <= now:
            raise RestError(400, "expire_time must be in the future.")
        if new_session <= now:
            raise RestError(400, "new_session_expire_time must be in the future.")
        setup = fields.get("bidiGenerateContentSetup")
        if setup is not None:
            setup = self._check_setup(setup)
        mask_text = fields.get("fieldMask")
        mask: list[str] | None = None
        if mask_text is not None:
            if not isinstance(mask_text, str):
                raise RestError(400, "Invalid value at 'field_mask': expected a string.")
            mask = [".".join(camel(part) for part in path.strip().split("."))
                    for path in mask_text.split(",") if path.strip()]
        token = MintedToken(
            name=f"auth_tokens/{secrets.token_hex(16)}", uses=uses, expire_time=expire,
            new_session_expire_time=new_session, setup=setup, field_mask=mask,
        )
        self.tokens[token.name] = token
        return token

    @staticmethod
    def _check_setup(setup: object) -> dict[str, Any]:
        if not isinstance(setup, dict):
            raise RestError(400, "Invalid value at 'bidi_generate_content_setup': expected "
                            "an object.")
        # The locked setup is a BidiGenerateContentSetup: checked exactly like a client's;
        # the model is optional here, so a placeholder stands in for the check.
        probe = dict(setup)
        probe.setdefault("model", "models/unset")
        try:
            normalised, _ = parse_client_frame(msgspec.json.encode({"setup": probe}))
        except ClientFrameError as exc:
            raise RestError(400, exc.reason) from None
        result: dict[str, Any] = normalised["setup"]
        if "model" not in setup:
            result.pop("model", None)
        return result

    def check_connection(self, name: str) -> tuple[int, str] | None:
        """``(code, reason)`` if a connection with token ``name`` is refused, else ``None``.

        Only minted tokens are checked here; for others the emulator's older rules apply.
        """
        token = self.tokens.get(name)
        if token is None:
            return None
        if self.now() >= token.expire_time:
            return 1008, TOKEN_EXPIRED
        return None

    def admit(self, name: str, setup: dict[str, Any], *, resuming: bool) -> dict[str, Any]:
        """The setup the session runs with, after the token's checks.

        No use is counted here: the emulator calls :meth:`use` once the session is accepted
        (a session refused later, e.g. for an unknown model, uses nothing).

        Args:
            name: the token.
            setup: the client's setup, normalised (camelCase).
            resuming: the setup carries a resumption handle (no use is consumed).

        Raises:
            ClientFrameError: the session is refused (used up, too late for a new session,
                a locked field changed).
        """
        token = self.tokens.get(name)
        if token is None:
            return setup
        if self.now() >= token.expire_time:
            raise ClientFrameError(TOKEN_EXPIRED, code=1008)
        merged = copy.deepcopy(setup)
        base = token.setup or {}
        locked = token.locked_paths()
        for path_text in locked:
            path = path_text.split(".")
            wanted = _get(base, path)
            given = _get(setup, path)
            if given is _MISSING and wanted is _MISSING:
                continue
            if given is not _MISSING and given != wanted:
                raise ClientFrameError(
                    f"Request contains an invalid argument: setup field '{path_text}' is "
                    "constrained by the ephemeral token and cannot be changed.")
            _set(merged, path, wanted)
        # Token fields outside the mask are defaults, at any depth (see the module
        # docstring). The locked paths are already set: their values equal the token's.
        _fill_defaults(merged, base)
        if not resuming:
            if self.now() >= token.new_session_expire_time:
                raise ClientFrameError(TOKEN_NEW_SESSION_EXPIRED, code=1008)
            if token.uses and token.used >= token.uses:
                raise ClientFrameError(TOKEN_USED_UP, code=1008)
        return merged

    def use(self, name: str) -> None:
        """Count one new session against minted token ``name`` (others: nothing to count)."""
        token = self.tokens.get(name)
        if token is not None:
            token.used += 1


def redact(items: Mapping[str, str], secret: Collection[str]) -> dict[str, str]:
    """``items`` with the values of the ``secret`` names (matched lower-cased) redacted."""
    return {k: ("<redacted>" if k.lower() in secret else v) for k, v in items.items()}


async def _next_event(conn: h11.Connection, stream: trio.abc.Stream) -> Any:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        data = bytes(await stream.receive_some(65536))
        conn.receive_data(data)


async def read_request_head(stream: trio.abc.Stream) -> tuple[h11.Connection, h11.Request | None,
                                                             bytes]:
    """Read one HTTP request head from ``stream`` with h11.

    Returns:
        The h11 connection, the request (``None`` if the peer closed or sent garbage) and
        every byte read so far (to be replayed when the request is a WebSocket upgrade).
    """
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
    seen = bytearray()
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            return conn, None, bytes(seen)
        if isinstance(event, h11.Request):
            return conn, event, bytes(seen)
        if event is not h11.NEED_DATA:
            return conn, None, bytes(seen)
        data = bytes(await stream.receive_some(65536))
        seen += data
        conn.receive_data(data)


def is_websocket_upgrade(request: h11.Request) -> bool:
    """Whether the request asks for a WebSocket (RFC 6455 4.1)."""
    for name, value in request.headers:
        if name == b"upgrade" and value.strip().lower() == b"websocket":
            return True
    return False


async def serve_http(conn: h11.Connection, request: h11.Request, stream: trio.abc.Stream,
                     store: TokenStore, api_key: str | None, *,
                     body_timeout: float = 10.0) -> None:
    """Answer one plain-HTTP request (``POST /v1alpha/auth_tokens``; 404 otherwise).

    Args:
        conn: the h11 connection that parsed ``request``.
        request: the request head.
        stream: the transport, for the body and the answer.
        store: where tokens and records go.
        api_key: the key Google would accept (``None``: no check).
        body_timeout: seconds the whole body may take to arrive; after that the answer is
            408 (a client that never finishes its body does not hold the task forever).
    """
    target = request.target.decode("latin-1")
    parts = urlsplit(target)
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
    query = dict(parse_qsl(parts.query))
    record = RestRecord(method=request.method.decode("latin-1"), path=parts.path,
                        query=redact(query, frozenset({"key"})), headers=headers)
    store.requests.append(record)
    status, answer = 500, RestError(500, "Internal error encountered.", "INTERNAL").body()
    try:
        body = b""
        with trio.move_on_after(body_timeout) as waiting:
            body = await _read_body(conn, stream)
        if waiting.cancelled_caught:
            raise RestError(408, "The request body did not arrive in time.", "DEADLINE_EXCEEDED")
        status, answer = _route(record, body, headers, query, store, api_key)
    except RestError as exc:
        status, answer = exc.status, exc.body()
    except RecursionError:
        # Deeply nested JSON (in the body, or re-encoding its setup) is a bad request, not
        # a crash of the emulator.
        status, answer = 400, RestError(400, TOO_DEEP).body()
    finally:
        record.status, record.response = status, answer
    payload = msgspec.json.encode(answer)
    if conn.our_state is h11.SEND_RESPONSE:
        await stream.send_all(conn.send(h11.Response(status_code=status, headers=[
            (b"content-type", b"application/json; charset=UTF-8"),
            (b"content-length", str(len(payload)).encode()),
            (b"connection", b"close"),
        ])))
        await stream.send_all(conn.send(h11.Data(data=payload)))
        await stream.send_all(conn.send(h11.EndOfMessage()))


async def _read_body(conn: h11.Connection, stream: trio.abc.Stream) -> bytes:
    body = bytearray()
    while True:
        try:
            event = await _next_event(conn, stream)
        except h11.RemoteProtocolError:
            raise RestError(400, "Malformed HTTP request.") from None
        if isinstance(event, h11.Data):
            body += event.data
            if len(body) > _MAX_BODY:
                raise RestError(413, "Request payload size exceeds the limit.")
        elif isinstance(event, h11.EndOfMessage):
            return bytes(body)
        else:
            raise RestError(400, "Malformed HTTP request.")


def _route(record: RestRecord, raw: bytes, headers: dict[str, str], query: dict[str, str],
           store: TokenStore, api_key: str | None) -> tuple[int, dict[str, Any]]:
    if record.path != _TOKENS_PATH:
        raise RestError(404, f"Method not found: {record.path}", "NOT_FOUND")
    if record.method != "POST":
        raise RestError(405, f"Method {record.method} is not allowed on {record.path}.",
                        "METHOD_NOT_ALLOWED")
    if api_key is not None:
        key = headers.get("x-goog-api-key") or query.get("key")
        if not key:
            raise RestError(403, NO_CREDENTIALS, "PERMISSION_DENIED")
        if key != api_key:
            raise RestError(400, BAD_KEY, "INVALID_ARGUMENT", reason="API_KEY_INVALID")
    try:
        body = msgspec.json.decode(raw) if raw else {}
    except msgspec.DecodeError as exc:
        raise RestError(400, f"Invalid JSON payload received. {exc}.") from None
    record.body = body
    token = store.mint(body)
    return 200, token.resource()


class ReplayStream(trio.abc.Stream):
    """``stream``, whose first reads return ``prefix``: the bytes already read for routing.

    The emulator reads a request head to tell REST from WebSocket; trio-websocket must then
    see the whole handshake, so those bytes are handed back before the stream's own.
    """

    def __init__(self, stream: trio.abc.Stream, prefix: bytes) -> None:
        self._stream = stream
        self._prefix = prefix

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """The replayed bytes first, then the wrapped stream's."""
        if self._prefix:
            await trio.lowlevel.checkpoint()
            size = len(self._prefix) if max_bytes is None else max_bytes
            chunk, self._prefix = self._prefix[:size], self._prefix[size:]
            return chunk
        return bytes(await self._stream.receive_some(max_bytes))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send on the wrapped stream."""
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        """As the wrapped stream."""
        await self._stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        """Close the wrapped stream (one whose transport is closed already counts as closed)."""
        self._prefix = b""
        try:
            await self._stream.aclose()
        except trio.ClosedResourceError:
            # The emulator's drop (_link.Link.drop) closes the TCP socket under a TLS stream
            # (no close_notify); trio-websocket may close the TLS stream after that (its
            # reader, answering a close frame): the close_notify then meets the closed socket.
            # Closed all the same.
            pass
