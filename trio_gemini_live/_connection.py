"""The session's connections: open one, set it up, serve it, close it; then ask the core.

:func:`run` is the session's main task. It opens a connection (credentials, TCP, TLS, the
WebSocket handshake: bounded by ``connect_timeout``), sends ``setup`` and waits for
``setupComplete`` (bounded by ``setup_timeout``), serves the connection (the pumps of
:mod:`._session`) until something ends it, and closes it (break before make, PROTOCOL.md
6). What then happens (reconnect after a delay, or end the session with an error) is the
protocol core's decision (:meth:`~._protocol.LiveProtocol.connection_ended`); this module
only waits for that delay.

The transport is :mod:`._websocket`'s: our adapter over ``websockets``' sans-IO protocol
on a socket, or on the byte stream a ``connect=`` hook gives (the emulator's in-memory
transport), or a message-level connection a hook gives (trio-websocket's, or the user's).
"""

from __future__ import annotations

import logging
import math
import ssl
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeAlias
from urllib.parse import urlsplit

import trio

from . import _receive, _websocket
from . import _wire as w
from . import events as ev
from ._errors import LiveError, ProtocolError, SessionClosedError, SetupError, TransientError
from ._options import DISCONNECT_TIMEOUT, QUICK_CLOSE_TIMEOUT
from ._protocol import FAILED, GO_AWAY, KEEPALIVE, STALLED, USER, ConnectionEnd, Outcome
from ._transcript import history_from_turns
from ._websocket import (
    ConnectionClosed,
    HandshakeFailed,
    HandshakeRejected,
    MessageConnection,
    WebSocket,
)

if TYPE_CHECKING:
    from ._auth import ConnectTarget
    from ._session import LiveSession

__all__ = ["Connect", "default_connect", "hook_connect", "run"]

log: Final = logging.getLogger("trio_gemini_live")

#: ``connect(url, headers)``: an async context manager of a Trio byte stream (the
#: WebSocket runs over it) or of a message-level connection.
Connect: TypeAlias = Callable[[str, list[tuple[str, str]]], AbstractAsyncContextManager[Any]]
#: What the session drives.
Opened: TypeAlias = Callable[
    [str, list[tuple[str, str]]],
    AbstractAsyncContextManager[WebSocket | MessageConnection],
]
_SECRET_HEADERS: Final = frozenset({"x-goog-api-key", "authorization"})


def default_connect(
    ssl_context: ssl.SSLContext | None, *, native: bool, connect_timeout: float
) -> Opened:
    """Our WebSocket over TCP (and TLS): ``native`` drives the socket directly (issue 7),
    otherwise Trio's ``SocketStream``/``SSLStream`` (the documented switch back)."""

    @asynccontextmanager
    async def connect(
        url: str, headers: list[tuple[str, str]]
    ) -> AsyncIterator[WebSocket | MessageConnection]:
        async with _websocket.open_connection(
            url,
            headers,
            ssl_context=ssl_context,
            native=native,
            connect_timeout=connect_timeout,
            close_timeout=DISCONNECT_TIMEOUT,
        ) as ws:
            yield ws

    return connect


def hook_connect(hook: Connect) -> Opened:
    """A ``connect=`` hook: over a byte stream our WebSocket runs exactly as over a socket;
    a message-level object is wrapped so that its errors are ours. Errors cross the hook
    unwrapped (a hook with a nursery of its own wraps them in an ``ExceptionGroup``)."""

    @asynccontextmanager
    async def connect(
        url: str, headers: list[tuple[str, str]]
    ) -> AsyncIterator[WebSocket | MessageConnection]:
        try:
            async with hook(url, headers) as conn:
                if isinstance(conn, trio.abc.Stream):
                    parts = urlsplit(url)
                    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                    ws = await WebSocket.handshake(
                        conn, parts.netloc or "localhost", resource, headers
                    )
                    try:
                        yield ws
                    finally:
                        with trio.CancelScope(shield=True):
                            with trio.move_on_after(DISCONNECT_TIMEOUT):
                                await ws.aclose()
                else:
                    yield MessageConnection(conn)
        except BaseExceptionGroup as group:
            _raise_lone(group)
        except Exception as exc:
            _translate_hook_error(exc)
            raise

    return connect


def _translate_hook_error(exc: Exception) -> None:
    """A hook that brings trio-websocket refused or failed the handshake: the same error
    as ours (trio-websocket is imported only if the hook did)."""
    tw = sys.modules.get("trio_websocket")
    if tw is None:
        return
    if isinstance(exc, tw.ConnectionRejected):
        answer = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in exc.headers or ())
        raise HandshakeRejected(exc.status_code, answer, exc.body or b"") from None
    if isinstance(exc, tw.HandshakeError):
        raise HandshakeFailed(str(exc)) from None


def _raise_lone(group: BaseExceptionGroup[BaseException]) -> NoReturn:
    """Raise the single non-group exception inside ``group`` (nested), else the group."""
    inner: BaseException = group
    while isinstance(inner, BaseExceptionGroup):
        if len(inner.exceptions) != 1:
            raise group
        inner = inner.exceptions[0]
    if not isinstance(inner, Exception):
        raise group
    raise inner from inner.__cause__


class _SetupFailed(Exception):
    def __init__(self, error: LiveError) -> None:
        super().__init__(str(error))
        self.error = error


async def run(session: LiveSession, on_started: Callable[[], None]) -> None:
    """The connection loop: connect, serve, and reconnect as long as the core says so."""
    proto = session._proto
    while True:
        end = await _connect_once(session, on_started if proto.connections == 0 else None)
        now = trio.current_time()
        session._monitor.connection_lost(now)
        outcome = proto.connection_ended(end, now, closing=session._user_close)
        session._sync_status()
        session._sync_idle()
        for event in outcome.events:
            session._emit(event)
        late = session._slow or session._late_error
        if (late is not None and outcome.error is None) or (
            session._slow is not None and outcome.reconnect
        ):
            # The events queue overflowed as the connection ended, or the server refused
            # the last input while the client closed: the session ends with that error.
            assert late is not None
            outcome = Outcome(
                error=late,
                closed=ev.SessionClosed(
                    code=getattr(late, "code", None), reason=getattr(late, "reason", str(late))
                ),
            )
        if not outcome.reconnect:
            if outcome.error is not None and session._error is None:
                session._error = outcome.error
                log.warning("session failed: %s", outcome.error)
                session._handlers.report(outcome.error)
            session._closed_event = outcome.closed
            if outcome.error is not None and not proto.ever_ready:
                # The first connection never became ready: open_live_session raises it.
                raise outcome.error from outcome.error.__cause__
            return
        reconnecting = outcome.events[-1]
        assert isinstance(reconnecting, ev.Reconnecting)
        log.info("reconnecting (attempt %d): %s", reconnecting.attempt, reconnecting.reason)
        with trio.CancelScope() as wait:
            session._conn_scope = wait
            if session._user_close:
                wait.cancel()
            await trio.sleep(outcome.delay)
        session._conn_scope = None
        if session._user_close:
            session._closed_event = proto.connection_ended(
                ConnectionEnd(USER), trio.current_time(), closing=True
            ).closed
            return


async def _connect_once(session: LiveSession, on_started: Callable[[], None] | None) -> (
    ConnectionEnd
):
    """One connection, from opening to its end; returns how it ended."""
    proto = session._proto
    session._conn_end = None
    if session._user_close:
        return ConnectionEnd(USER, 1000, "closed by the client")
    proto.connecting(trio.current_time())
    session._sync_status()
    url = "(not resolved)"
    timeout = session._options.connect_timeout
    # Connecting (credentials, TCP, TLS, the WebSocket handshake) is bounded for every
    # transport, injected ones too; the bound is lifted once the socket is open.
    conn_scope = trio.CancelScope(deadline=trio.current_time() + timeout)
    session._conn_scope = conn_scope
    try:
        with conn_scope:
            try:
                # Vertex tokens are refreshed here, before every connection (issue 5).
                target = await session._auth.target(
                    model=session._model,
                    api_version=session._api_version,
                    endpoint=session._endpoint,
                )
            except LiveError as exc:
                return ConnectionEnd(FAILED, error=exc)
            url = target.url
            proto.add_secrets(_secrets(target))
            log.info("connecting to %s", url)
            async with session._connect(target.url, list(target.headers)) as opened:
                conn_scope.deadline = math.inf
                ws: Any = opened
                if session._recorder is not None:
                    ws = session._recorder.wrap(ws, url=target.url, headers=target.headers)
                try:
                    await _use(session, ws, target, on_started, conn_scope.cancel_called)
                finally:
                    if session._recorder is not None:
                        ws.finish()  # its end, if the connection did not report one
    except _SetupFailed as failed:
        return ConnectionEnd(FAILED, error=failed.error)
    except HandshakeRejected as exc:
        return ConnectionEnd(FAILED, error=proto.refusal(exc.status, exc.body))
    except ConnectionClosed as exc:
        return session._conn_end or _receive.closed_end(exc)
    except ssl.SSLCertVerificationError as exc:
        # Not transient: retrying cannot make an untrusted certificate trusted.
        error = SessionClosedError(1015, f"TLS certificate verification failed for {url}: {exc}")
        return ConnectionEnd(FAILED, error=error)
    except trio.TooSlowError:
        return ConnectionEnd(FAILED, error=_timed_out(url, timeout))
    except (HandshakeFailed, OSError, trio.BrokenResourceError) as exc:
        if session._conn_end is not None:
            return session._conn_end
        detail = f"could not connect to {url}: {type(exc).__name__} {proto.redact(str(exc))}"
        return ConnectionEnd(FAILED, error=TransientError(1006, detail))
    finally:
        session._conn_scope = None
        session._conn_nursery = None
        session._serving = False
    if session._conn_end is not None:
        return session._conn_end
    if conn_scope.cancelled_caught and not session._user_close:
        return ConnectionEnd(FAILED, error=_timed_out(url, timeout))
    return ConnectionEnd(USER, 1000, "closed by the client")


async def _use(
    session: LiveSession,
    ws: WebSocket | MessageConnection,
    target: ConnectTarget,
    on_started: Callable[[], None] | None,
    cancelled: bool,
) -> None:
    """Set up and serve an open connection, then close it (break before make)."""
    serve_scope = trio.CancelScope()
    session._conn_scope = serve_scope
    if cancelled:
        serve_scope.cancel()
    try:
        with serve_scope:
            await _setup_and_serve(session, ws, target, on_started)
    except BaseException:
        # Cancelled from outside, or the setup failed: the server may be gone or mute; a
        # short bound for the close handshake (issue 12: cancelling returns at once).
        with trio.CancelScope(shield=True):
            await _close(ws, 1000, QUICK_CLOSE_TIMEOUT)
        raise
    end = session._conn_end
    if end is not None and end.kind in (USER, GO_AWAY, KEEPALIVE, STALLED, FAILED):
        # Break before make (PROTOCOL.md 6): close this socket first.
        bound = QUICK_CLOSE_TIMEOUT if session._quick_close else DISCONNECT_TIMEOUT
        session._quick_close = False
        # After a fatal end (a slow consumer...) what still comes is not handled, only read.
        handle = end.kind != FAILED
        with trio.CancelScope(shield=True) as close_scope:
            session._close_scope = close_scope
            try:
                await _close_draining(
                    session, ws, 1011 if end.kind == KEEPALIVE else 1000, bound, handle=handle
                )
            finally:
                session._close_scope = None
        closed = ws.closed
        if end.kind == USER and closed is not None and closed.code not in (1000, 1005, 1006):
            # The server closed with an error while the client closed: its answer to the
            # last input (issue 12 review). A fatal one is the session's error.
            error = session._proto.classify(_receive.closed_end(closed))
            if not error.retryable:
                session._late_error = error


def _timed_out(url: str, timeout: float) -> TransientError:
    return TransientError(1006, f"could not connect to {url} within {timeout:g} s")


def _secrets(target: ConnectTarget) -> list[str]:
    """The secret values a connection carries (rule 8 of the core: never shown)."""
    out: list[str] = []
    for name, value in target.headers:
        if name.lower() in _SECRET_HEADERS:
            out.append(value)
            _, _, token = value.partition(" ")
            if token:
                out.append(token)
    return out


async def _setup_and_serve(
    session: LiveSession,
    ws: WebSocket | MessageConnection,
    target: ConnectTarget,
    on_started: Callable[[], None] | None,
) -> None:
    proto = session._proto
    proto.vertex = target.vertex
    session._tools.vertex = target.vertex
    setup_timeout = session._options.setup_timeout
    record = session._monitor.record
    if (
        session._options.reseed_conversation
        and record.turns
        and session._profile.initial_history != "unsupported"
    ):
        # Issue 14: a fresh connection (the core sends the history only then) starts from
        # the conversation so far, up to the model's last finished turn. What follows it
        # was not answered: the core sends the user's words again as turns (rule 5).
        turns = list(record.turns)
        while turns and (turns[-1].role != "model" or turns[-1].cut):
            turns.pop()
        history = history_from_turns(turns)
        if history:
            proto.set_history(history)
    with trio.move_on_after(setup_timeout) as timeout:
        await _stop_if_closing(session)
        frame = proto.setup_frame()
        session._sync_status()
        await ws.send_message(frame.decode())
        log.debug("sent setup (%d bytes)", len(frame))
        try:
            data = await ws.get_message()
        except ConnectionClosed as exc:
            end = _receive.closed_end(exc)
            raise _SetupFailed(proto.classify(end)) from None
        # aclose() may have run while the answer was on its way: a close, not an error.
        await _stop_if_closing(session)
        now = trio.current_time()
        try:
            message = w.decode_server_message(data)
            events = proto.receive_message(message, data, now)
        except ProtocolError as exc:
            raise _SetupFailed(SetupError(f"invalid answer to setup: {exc}")) from None
    if timeout.cancelled_caught:
        raise _SetupFailed(SetupError(f"no setupComplete within {setup_timeout:g} s"))
    session._sync_status()
    log.info("session ready (session id %s)", proto.session_id)
    _receive.dispatch(session, message, data, events, now)
    plan = proto.after_setup(now)
    session._outbound.wake()
    for event in plan:
        if isinstance(event, ev.ToolCallCancellation):
            session._tools.cancel(event.ids)
        session._emit(event)
    session._sync_idle()
    session._monitor.connected(trio.current_time())
    if on_started is not None:
        on_started()
    await session._serve(ws)


async def _stop_if_closing(session: LiveSession) -> None:
    """Checkpoint; when the user is closing, end this connection attempt here."""
    if session._user_close:
        session._end_connection(ConnectionEnd(USER, 1000, "closed by the client"))
    await trio.lowlevel.checkpoint()


async def _close(ws: WebSocket | MessageConnection, code: int, bound: float) -> None:
    with trio.move_on_after(bound):
        await ws.aclose(code)


async def _close_draining(
    session: LiveSession,
    ws: WebSocket | MessageConnection,
    code: int,
    bound: float,
    *,
    handle: bool = True,
) -> None:
    """Close with ``code``, still draining (and handling) what the server sends.

    The server's close reply comes after whatever it was sending: someone must read those
    frames for the handshake to complete. Frames read here are handled as usual, e.g. a
    last resumption handle.
    """

    async def drain() -> None:
        try:
            while True:
                frame = await ws.get_message()
                if handle:
                    _receive.handle_frame(session, frame)
        except ConnectionClosed:
            pass

    with trio.move_on_after(bound) as scope:
        if session._quick_close:
            scope.deadline = min(scope.deadline, trio.current_time() + QUICK_CLOSE_TIMEOUT)
        if session._close_scope is not None:
            session._close_scope = scope  # what _hurry() shortens from now on
        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain)
            await ws.aclose(code)
            nursery.cancel_scope.cancel()

