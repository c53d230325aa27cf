"""TEMPORARY: the transport contract over the old ``_transport`` (replaced by the adapter over
``websockets``' sans-IO protocol, issue 11). Same names and errors as the real module."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

import trio
import trio_websocket

from . import _transport

__all__ = [
    "CLOSE_TIMEOUT",
    "CONNECT_TIMEOUT",
    "MAX_MESSAGE_SIZE",
    "ConnectionClosed",
    "HandshakeFailed",
    "HandshakeRejected",
    "MessageConnection",
    "WebSocket",
    "open_connection",
]

MAX_MESSAGE_SIZE: Final = _transport.MAX_MESSAGE_SIZE
CONNECT_TIMEOUT: Final = _transport.CONNECT_TIMEOUT
CLOSE_TIMEOUT: Final = _transport.CLOSE_TIMEOUT


class ConnectionClosed(Exception):
    def __init__(self, code: int, reason: str = "", remote_error: str | None = None) -> None:
        super().__init__(f"connection closed: {code} {reason}")
        self.code = code
        self.reason = reason
        self.remote_error = remote_error


class HandshakeRejected(Exception):
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = headers
        self.body = body


class HandshakeFailed(Exception):
    pass


def _closed(reason: Any) -> ConnectionClosed:
    if reason is None:
        return ConnectionClosed(1006, "")
    code = int(reason.code)
    return ConnectionClosed(code, reason.reason or "")


class WebSocket:
    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.try_send_message = getattr(inner, "try_send_message", lambda m: None)

    @classmethod
    async def handshake(cls, stream: trio.abc.Stream, host: str, resource: str,
                        headers: Sequence[tuple[str, str]] = (), **kwargs: Any) -> WebSocket:
        try:
            inner = await _transport.WebSocketConnection.handshake(
                stream, host, resource, [(k.encode(), v.encode()) for k, v in headers],
                **{k: v for k, v in kwargs.items() if k != "max_fragments"})
        except trio_websocket.ConnectionRejected as exc:
            raise HandshakeRejected(exc.status_code, exc.headers, exc.body or b"") from None
        except trio_websocket.HandshakeError as exc:
            raise HandshakeFailed(str(exc)) from None
        return cls(inner)

    @property
    def closed(self) -> ConnectionClosed | None:
        reason = self._inner.closed
        return None if reason is None else _closed(reason)

    async def get_message(self) -> str | bytes:
        try:
            return await self._inner.get_message()  # type: ignore[no-any-return]
        except trio_websocket.ConnectionClosed as exc:
            raise _closed(exc.reason) from None

    async def send_message(self, message: str | bytes) -> None:
        await self.send_messages([message])

    async def send_messages(self, messages: Sequence[str | bytes]) -> None:
        try:
            await self._inner.send_messages(messages)
        except trio_websocket.ConnectionClosed as exc:
            raise _closed(exc.reason) from None

    async def ping(self, payload: bytes | None = None) -> None:
        try:
            await self._inner.ping(payload)
        except trio_websocket.ConnectionClosed as exc:
            raise _closed(exc.reason) from None

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        await self._inner.aclose(code, reason or None)


class MessageConnection:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    @property
    def closed(self) -> ConnectionClosed | None:
        reason = getattr(self._inner, "closed", None)
        return None if reason is None else _closed(reason)

    def try_send_message(self, message: str | bytes) -> bool | None:
        return None

    async def get_message(self) -> str | bytes:
        try:
            return await self._inner.get_message()  # type: ignore[no-any-return]
        except trio_websocket.ConnectionClosed as exc:
            raise _closed(exc.reason) from None
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise ConnectionClosed(1006, "") from None

    async def send_message(self, message: str | bytes) -> None:
        try:
            await self._inner.send_message(message)
        except trio_websocket.ConnectionClosed as exc:
            raise _closed(exc.reason) from None
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise ConnectionClosed(1006, "") from None

    async def send_messages(self, messages: Sequence[str | bytes]) -> None:
        for message in messages:
            await self.send_message(message)

    async def ping(self, payload: bytes | None = None) -> None:
        try:
            await self._inner.ping(payload)
        except trio_websocket.ConnectionClosed as exc:
            raise _closed(exc.reason) from None
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise ConnectionClosed(1006, "") from None

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        try:
            await self._inner.aclose(code, reason or None)
        except (trio_websocket.ConnectionClosed, trio.BrokenResourceError,
                trio.ClosedResourceError):
            pass


@asynccontextmanager
async def open_connection(url: str, headers: Sequence[tuple[str, str]] = (), *,
                          ssl_context: ssl.SSLContext | None = None, native: bool = True,
                          connect_timeout: float = CONNECT_TIMEOUT,
                          close_timeout: float = CLOSE_TIMEOUT,
                          max_message_size: int = MAX_MESSAGE_SIZE,
                          max_fragments: int = 0, receive_size: int = 65536,
                          ) -> AsyncIterator[WebSocket]:
    del native, max_fragments
    try:
        async with _transport.open_connection(
            url, headers, ssl_context=ssl_context, connect_timeout=connect_timeout,
            close_timeout=close_timeout, max_message_size=max_message_size,
            receive_size=receive_size,
        ) as inner:
            yield WebSocket(inner)
    except trio_websocket.ConnectionRejected as exc:
        raise HandshakeRejected(exc.status_code, exc.headers, exc.body or b"") from None
    except trio_websocket.HandshakeError as exc:
        raise HandshakeFailed(str(exc)) from None
