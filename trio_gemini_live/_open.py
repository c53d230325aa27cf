"""``open_live_session``: check the arguments, build the session, run its main task."""

from __future__ import annotations

import functools
import logging
import os
import ssl
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final

import trio

from . import _connection, _inputs
from . import _wire as w
from . import events as ev
from ._auth import Auth, auth_from_env
from ._config import LiveConfig, encode_setup
from ._connection import Connect
from ._handlers import HANDLER_NAMES, Handler, HandlerDispatcher
from ._mime import INPUT_RATE
from ._monitor import Monitor
from ._options import DISCONNECT_TIMEOUT, SessionOptions
from ._protocol import LiveProtocol, Status
from ._resume import ReconnectPolicy
from ._session import LiveSession
from ._toolcalls import ToolCallRunner
from .models import ModelProfile, profile_for

if TYPE_CHECKING:
    from .testing._recorder import Recorder

__all__ = ["open_live_session"]

log: Final = logging.getLogger("trio_gemini_live")

_NOT_GIVEN: Final[Any] = object()
#: The default bound of the events queue (issue 12: documented, at most 64 MiB).
MAX_EVENT_BYTES: Final = 32 * 1024 * 1024


@asynccontextmanager
async def open_live_session(
    nursery: trio.Nursery,
    *,
    model: str,
    auth: Auth | None = None,
    config: LiveConfig | None = None,
    api_version: str = "v1beta",
    endpoint: str | None = None,
    resume_handle: str | None = None,
    reconnect: ReconnectPolicy | bool | Any = _NOT_GIVEN,
    connect: Connect | None = None,
    ssl_context: ssl.SSLContext | None = None,
    native_sockets: bool = True,
    tools: Iterable[Any] | None = None,
    connect_timeout: float = 30.0,
    setup_timeout: float = 30.0,
    keepalive_interval: float | None = 30.0,
    keepalive_timeout: float = 90.0,
    input_sample_rate: int = INPUT_RATE,
    max_event_audio_seconds: float = 60.0,
    max_event_bytes: int = MAX_EVENT_BYTES,
    max_outbound_messages: int = 256,
    max_outbound_audio_seconds: float = 5.0,
    tool_timeout: float | None = 60.0,
    conversation_turns: int = 100,
    reseed_conversation: bool = True,
    stall_timeout: float | None = 30.0,
    reconnect_on_stall: bool = False,
    record: str | os.PathLike[str] | Recorder | None = None,
    history: Any = None,
    profile: ModelProfile | None = None,
    on_message: Handler | None = None,
    on_error: Handler | None = None,
    on_close: Handler | None = None,
    on_tool_call: Handler | None = None,
    on_tool_call_cancellation: Handler | None = None,
    on_transcription: Handler | None = None,
    on_voice_activity: Handler | None = None,
    on_session_resumption: Handler | None = None,
    on_go_away: Handler | None = None,
) -> AsyncIterator[LiveSession]:
    """Open a Live API session; yields a ready :class:`LiveSession`.

    Connects, sends ``setup`` and returns once ``setupComplete`` arrived. The session's
    background tasks run in ``nursery`` under a cancel scope the session owns; leaving the
    block closes the session gracefully (queued input flushed, close frame 1000) and ends
    them. An exception raised inside the block comes out as itself; a cancellation from
    outside is a clean cancel (the close handshake then waits at most a quarter second);
    a fatal error of the session comes out of the block as the session's
    :class:`~trio_gemini_live.LiveError`.

    Args:
        nursery: where the session's tasks run.
        model: the model name (``"gemini-2.5-flash-native-audio-preview-12-2025"``).
        auth: :class:`ApiKey`, :class:`VertexAI` or :class:`EphemeralToken`; ``None`` reads
            the environment as the official SDK does.
        config: the setup (:class:`LiveConfig`).
        api_version: ``"v1beta"`` (default), ``"v1alpha"`` or ``"v1"``.
        endpoint: ``"ws://host:port"`` or ``"wss://host:port"`` in place of Google's host.
        resume_handle: resume this session handle on the first connection.
        reconnect: a :class:`ReconnectPolicy`, ``False`` to never reconnect, or omitted for
            the default policy when ``session_resumption`` is configured (else no
            reconnection: without a handle the context would be lost).
        connect: inject the transport: ``connect(url, headers)`` returns an async context
            manager of a Trio byte stream (the library's WebSocket runs over it, as over a
            socket) or of a message-level connection with trio-websocket's
            ``send_message``/``get_message``/``aclose``/``ping``.
        ssl_context: TLS settings for ``wss://`` (default: verification on, system store).
        native_sockets: drive the socket (and TLS, with the ``ssl`` module) directly, the
            fast path (issue 7); ``False`` uses Trio's ``SocketStream``/``SSLStream``.
        tools: Python functions (see :mod:`trio_gemini_live.tools`) declared in the setup
            and run automatically when the model calls them.
        connect_timeout: seconds for credentials, TCP, TLS and the WebSocket handshake.
        setup_timeout: seconds to wait for ``setupComplete`` (``SetupError`` after).
        keepalive_interval: seconds between pings (``None``: no keepalive pings).
        keepalive_timeout: seconds to wait for a pong; generous on purpose: the server's
            pongs have been measured at 8-30 s (PROTOCOL.md 6).
        input_sample_rate: the rate of raw PCM given to ``send_realtime_input(audio=...)``.
        max_event_audio_seconds: model audio kept queued for a slow ``events()`` reader
            before the oldest is dropped (counted in :meth:`LiveSession.statistics`).
        max_event_bytes: the most bytes of events kept queued for a slow ``events()``
            reader (32 MiB by default); beyond it (audio dropped first) the session ends
            with :class:`~trio_gemini_live.SlowConsumerError`.
        max_outbound_messages: non-audio messages queued before ``send_*`` waits.
        max_outbound_audio_seconds: input audio kept queued (e.g. during a reconnect)
            before the oldest is dropped.
        tool_timeout: seconds a tool or ``on_tool_call`` may take before the call is
            answered with an error (``None``: no limit).
        conversation_turns: completed turns kept in :attr:`LiveSession.conversation`
            (``0``: none).
        reseed_conversation: on a fresh reconnection (no resumption handle: the model
            remembers nothing) send the conversation so far as initial history, so that
            the call goes on with its context (issue 14).
        stall_timeout: seconds without any server message while the model owes an answer
            (a turn or a tool response was sent) before a
            :class:`~trio_gemini_live.events.Stalled` event (``None``: no watchdog). A
            healthy socket can carry a dead stream; the keepalive only sees dead sockets.
        reconnect_on_stall: after a ``Stalled`` event, reconnect (resuming the session).
        history: the conversation so far, as turns in any form ``send_client_content``
            takes (roles ``user`` and ``model``): sent as ``clientContent`` right after
            ``setupComplete``, before anything else, on the first connection and on every
            fresh (non-resumed) one; with ``historyConfig`` in the setup where the model
            needs it (PROTOCOL.md 9).
        profile: the model's rules (:class:`~trio_gemini_live.models.ModelProfile`);
            default :func:`~trio_gemini_live.models.profile_for` ``(model)``. Pass your own
            when Google changes a rule before this library does.
        record: write every frame of the session, both ways, to this JSON-lines file (or
            :class:`~trio_gemini_live.testing.Recorder`), to replay it later in tests
            (issue 15). Secrets are never written; writing never blocks the session.
        on_*: the optional handlers ``on_message``, ``on_error``, ``on_close``,
            ``on_tool_call``, ``on_tool_call_cancellation``, ``on_transcription``,
            ``on_voice_activity``, ``on_session_resumption`` and ``on_go_away``: sync or
            async, run in a task of their own so that a slow handler never stalls the
            socket; one that raises is logged and reported to ``on_error``.
            ``on_tool_call(event)`` may return responses, which are sent automatically.

    Raises:
        ValueError: the model does not accept the config (a NON_BLOCKING tool,
            ``thinking_budget`` or ``proactivity`` on 3.1, ``thinking_level`` on 2.5...):
            the message names the model and what to do instead; nothing is sent.
        SetupError: no ``setupComplete`` in time, or a malformed answer.
        SessionClosedError: the server refused the setup (its code and reason).
        AuthError: no usable credentials.
        TypeError, ValueError: invalid arguments (before anything is sent).
    """
    if not isinstance(model, str) or not model.strip():
        raise ValueError("model must be a non-empty model name")
    if config is None:
        config = LiveConfig()
    elif not isinstance(config, LiveConfig):
        raise TypeError("config must be a LiveConfig")
    if input_sample_rate <= 0:
        raise ValueError("input_sample_rate must be positive")
    if setup_timeout <= 0 or keepalive_timeout <= 0 or connect_timeout <= 0:
        raise ValueError("timeouts must be positive")
    if keepalive_interval is not None and not keepalive_interval > 0:
        raise ValueError("keepalive_interval must be positive, or None for no pings")
    if tool_timeout is not None and not tool_timeout > 0:
        raise ValueError("tool_timeout must be positive, or None for no limit")
    if not isinstance(max_event_bytes, int) or max_event_bytes < 1:
        raise ValueError("max_event_bytes must be a positive number of bytes")
    if stall_timeout is not None and not stall_timeout > 0:
        raise ValueError("stall_timeout must be positive, or None for no watchdog")
    monitor = Monitor(conversation_turns=conversation_turns, stall_timeout=stall_timeout)
    if profile is None:
        profile = profile_for(model)
    elif not isinstance(profile, ModelProfile):
        raise TypeError("profile must be a trio_gemini_live.models.ModelProfile")
    history_turns = _inputs.history(history) if history is not None else []
    resolved_auth = auth if auth is not None else auth_from_env()
    policy = _policy(reconnect, config)
    registry = None
    extra_tools: list[w.Tool] = []
    if tools is not None:
        from .tools import ToolRegistry

        registry = ToolRegistry(tools)
        extra_tools = registry.declarations()
    given = {
        "on_message": on_message,
        "on_error": on_error,
        "on_close": on_close,
        "on_tool_call": on_tool_call,
        "on_tool_call_cancellation": on_tool_call_cancellation,
        "on_transcription": on_transcription,
        "on_voice_activity": on_voice_activity,
        "on_session_resumption": on_session_resumption,
        "on_go_away": on_go_away,
    }
    assert tuple(given) == HANDLER_NAMES
    for name, handler in given.items():
        if handler is not None and not callable(handler):
            raise TypeError(f"{name} must be callable")
    handlers = HandlerDispatcher(given, max_bytes=max_event_bytes)
    options = SessionOptions(
        setup_timeout=setup_timeout,
        connect_timeout=connect_timeout,
        keepalive_interval=keepalive_interval,
        keepalive_timeout=keepalive_timeout,
        input_sample_rate=input_sample_rate,
        max_event_audio_seconds=max_event_audio_seconds,
        max_event_bytes=max_event_bytes,
        tool_timeout=tool_timeout,
        reseed_conversation=reseed_conversation,
        reconnect_on_stall=reconnect_on_stall,
    )
    # The model's wire name depends on the backend: ask the auth for it before building
    # the setup (Vertex credentials may be refreshed here, in a thread, and again before
    # every connection if they expire).
    target = await resolved_auth.target(model=model, api_version=api_version, endpoint=endpoint)
    setup = config.to_setup(target.model, extra_tools, vertex=target.vertex)
    if history_turns:
        setup = profile.history_setup(setup)  # and refused here if the model takes none
    # The model's rules (PROTOCOL.md 9), before anything is sent: what it refuses with 1007.
    profile.check_setup(
        setup, api_version=api_version, vertex=target.vertex, extra=config.extra
    )
    recorder: Recorder | None = None
    if record is not None:
        from .testing._recorder import Recorder

        recorder = Recorder.open(
            record,
            model=model,
            api_version=api_version,
            backend="vertex" if target.vertex else "gemini",
        )
    proto = LiveProtocol(
        setup,
        resume_handle=resume_handle,
        policy=policy,
        vertex=target.vertex,
        max_outbound_items=max_outbound_messages,
        max_outbound_audio_seconds=max_outbound_audio_seconds,
        history=history_turns,
        encode_setup=functools.partial(encode_setup, extra=config.extra),
        history_setup=(
            profile.history_setup if profile.initial_history != "unsupported" else None
        ),
    )
    if history_turns:
        monitor.record.client_content(history_turns, trio.current_time(), turn_complete=False)
    tool_runner = ToolCallRunner(
        registry=registry,
        handlers=handlers,
        # Functions declared in LiveConfig(tools=...): their calls are the user's to answer.
        declared_by_config=frozenset(
            decl.name for tool in config.tools or () for decl in tool.function_declarations or ()
        ),
        tool_timeout=tool_timeout,
        answer=lambda responses: session._answer(responses),
        vertex=target.vertex,
    )
    session = LiveSession(
        model=model,
        config=config,
        profile=profile,
        auth=resolved_auth,
        api_version=api_version,
        endpoint=endpoint,
        proto=proto,
        options=options,
        connect=(
            _connection.hook_connect(connect)
            if connect is not None
            else _connection.default_connect(
                ssl_context, native=native_sockets, connect_timeout=connect_timeout
            )
        ),
        handlers=handlers,
        tools=tool_runner,
        monitor=monitor,
        recorder=recorder,
    )
    try:
        await nursery.start(_main, session)
    except BaseExceptionGroup as group:
        # A failed setup crosses _main's own nursery: raise the LiveError itself (the
        # exception-group policy of DESIGN.md), not a group around it.
        _connection._raise_lone(group)
    try:
        with session._body_scope:
            yield session
    except BaseException:
        # After an exception or a cancellation: tear down at once, bounded, no flush.
        with trio.CancelScope(shield=True):
            await session._shutdown(flush=False)
        raise
    await session.aclose()
    if session._body_scope.cancelled_caught and session._error is not None:
        raise session._error


def _policy(reconnect: Any, config: LiveConfig) -> ReconnectPolicy | None:
    if reconnect is _NOT_GIVEN:
        return ReconnectPolicy() if config.session_resumption is not None else None
    if reconnect is False or reconnect is None:
        return None
    if reconnect is True:
        return ReconnectPolicy()
    if isinstance(reconnect, ReconnectPolicy):
        return reconnect
    raise TypeError("reconnect must be a ReconnectPolicy or a bool")


async def _main(session: LiveSession, *, task_status: trio.TaskStatus[None]) -> None:
    """The session's one task in the caller's nursery: everything else runs inside it."""
    started = False
    session._main_task = trio.lowlevel.current_task()

    def on_started() -> None:
        nonlocal started
        started = True
        task_status.started()

    handlers = session._handlers
    try:
        with session._scope:
            try:
                async with trio.open_nursery() as nursery:
                    session._tools.nursery = nursery
                    if handlers.any:
                        nursery.start_soon(handlers.run)
                    try:
                        await _connection.run(session, on_started)
                    finally:
                        nursery.cancel_scope.cancel()
            finally:
                _finish(session)
    finally:
        on_close = handlers.get("on_close")
        if started and on_close is not None and session._closed_event is not None:
            with trio.CancelScope(shield=True), trio.move_on_after(DISCONNECT_TIMEOUT):
                await handlers.call(on_close, session._closed_event)
        if session._recorder is not None:
            # The file is complete when the session is (its writer thread is bounded).
            with trio.CancelScope(shield=True), trio.move_on_after(10):
                await session._recorder.aclose()
        session._done.set()


def _finish(session: LiveSession) -> None:
    session._proto.closed()
    session._sync_status()
    closed = session._closed_event or ev.SessionClosed(code=None, reason="session ended")
    session._closed_event = closed
    session._events.put(closed)
    session._events.close(session._error)
    session._outbound.close(session._closed_error())
    session._tools.cancel_all()
    if session._error is not None and session._readers == 0:
        session._body_scope.cancel()
    log.info("session closed: %s %s", closed.code, closed.reason)
    assert session._status is Status.CLOSED
