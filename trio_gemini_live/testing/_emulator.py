"""The Live API emulator: a local server that behaves as PROTOCOL.md says Google does.

The pieces, in the order a connection meets them:

* transport: TCP (``ws://``), TLS over TCP (``wss://``, :attr:`LiveEmulator.ssl_context`)
  or an in-memory stream pair (:meth:`LiveEmulator.connect_in_memory`); the WebSocket is
  trio-websocket's, wrapped around the stream so that a fault can drop the stream itself
  (``_link.Link``: one live connection and what is done to it alone).
* routing and auth (``_admission.route``, ``check_auth``, ``admit_token``): PROTOCOL.md 1.
* strict setup (``_strict`` + ``_admission.check_setup``): PROTOCOL.md 2 and 3.1, and each
  model's rules (PROTOCOL.md 9) from :mod:`trio_gemini_live.models`, the same data the
  session reads.
* the session store (``_sessions``): history and resumption handles across connections
  (PROTOCOL.md 6).
* the scripted model (``_conversation`` and ``_model``): PROTOCOL.md 3-5.
* faults on demand (:class:`Fault`, :meth:`LiveEmulator.schedule_fault` and friends).
* records: :class:`ConnectionRecord`, one per connection, for assertions.

``_link`` (where :class:`ConnectionRecord` and :class:`Fault` are defined, re-exported here),
``_admission`` and ``_sessions`` were split out of this module (issue 11: modules of at most
about 700 lines).

Every server message is built from the ``_wire`` server Structs and sent as JSON in a
**binary** frame, as Google sends it (PROTOCOL.md 2).
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import parse_qsl, urlsplit

import trio
import trio.testing
import trio_websocket

from .. import _wire as w
from ..models import ModelProfile, model_id, profile_for
from . import _admission as admission
from ._conversation import Conversation, Counters, ModelSettings, wire
from ._link import DEADLINE, CloseMarker, Link, Tracked
from ._link import ConnectionRecord as ConnectionRecord
from ._link import Fault as Fault
from ._memory import memory_connect
from ._rest import (
    ReplayStream,
    TokenStore,
    is_websocket_upgrade,
    read_request_head,
    redact,
    serve_http,
)
from ._sessions import SessionStore
from ._strict import INVALID_ARGUMENT, ClientFrameError, parse_client_frame

if TYPE_CHECKING:
    from .._session import LiveSession
    from ._recording import Recording
    from ._replay import ReplayServer

__all__ = ["DEFAULT_MODEL", "DEFAULT_MODELS", "ConnectionRecord", "Fault", "LiveEmulator"]

#: The model :meth:`LiveEmulator.open_session` uses by default (PROTOCOL.md 9).
DEFAULT_MODEL: Final = "gemini-2.5-flash-native-audio-preview-12-2025"

#: The models the emulator knows by default (PROTOCOL.md 9, plus the 2.5 half-cascade one).
DEFAULT_MODELS: Final = frozenset({
    "gemini-2.5-flash-native-audio-preview-12-2025",
    "gemini-2.5-flash-native-audio-preview-09-2025",
    "gemini-live-2.5-flash-native-audio",
    "gemini-live-2.5-flash-preview",
    "gemini-3.1-flash-live-preview",
    "gemini-3.8-live",
})

_MAX_MESSAGE: Final = 16 * 1024 * 1024  # PROTOCOL.md 2
_CLOSE_GRACE: Final = 5.0
_SECRET_QUERY: Final = frozenset({"key", "access_token"})


@dataclass
class _Scheduled:
    fault: Fault
    counter: Literal["client", "server"]
    count: int
    connection: int | None
    done: bool = False


class LiveEmulator:
    """A local, deterministic Gemini Live API server for tests and demos (PROTOCOL.md).

    Start it in a nursery: ``await nursery.start(emulator.serve)``; then :attr:`url` is
    ``ws://127.0.0.1:PORT`` (``wss://`` with an ``ssl_context``). Or, without sockets,
    ``await nursery.start(emulator.serve_in_memory)`` and pass
    :meth:`connect_in_memory` as a session's ``connect=`` hook.

    Args:
        api_key: the key accepted in ``x-goog-api-key`` (or ``?key=``) on the Gemini API
            path. ``None`` turns credential checks off on every path.
        ephemeral_tokens: tokens accepted in ``Authorization: Token ...`` (or
            ``?access_token=``) on the ``BidiGenerateContentConstrained`` path; empty: any
            ``auth_tokens/...`` token. Tokens minted on the emulator's own
            ``POST /v1alpha/auth_tokens`` (:attr:`tokens`) are honoured with their uses,
            expiry times and locked setup (see ``trio_gemini_live.testing._rest``).
        vertex_tokens: bearer tokens accepted on the Vertex path; empty: any bearer token.
        models: model ids (without ``models/``) the emulator serves.
        connection_lifetime: seconds a connection lives before Google's deadline close.
        go_away_notice: how long before the end ``goAway`` is sent (capped to the lifetime).
        ssl_context: a server TLS context: serve ``wss://``.
        text_chunk_delay: seconds between the text chunks of a reply.
        audio_chunk_ms: the duration of one output audio chunk.
        audio_chunk_delay: seconds between output audio chunks.
        audio_transcript: the input transcription of any audio turn (default
            ``"[audio N.Ns]"``, the utterance's duration).
        vad_threshold: RMS (of 16-bit samples) above which a 20 ms input frame is speech.
        handle_lifetime: seconds a resumption handle stays valid after its session's last
            connection ended (PROTOCOL.md 6: 2 hours), measured with ``trio.current_time()``
            (so ``autojump_clock`` tests can pass it); an expired handle is refused like an
            unknown one.
        model_rules: model id -> :class:`~trio_gemini_live.models.ModelProfile`: the rules
            the emulator applies to that model instead of its built-in profile (to relax or
            change a rule for a test, e.g. ``dataclasses.replace(GEMINI_3_1_FLASH_LIVE,
            mid_session_client_content=True)``). The models named here are served too.
        accept_fields: setup (or other message) fields the emulator takes although it does
            not know them, as camelCase paths without list indices
            (``"setup.generationConfig.responseMimeType"``, ``"setup.tools.mcpServers"``):
            for apps that send a field Google added with ``LiveConfig(extra=...)``. Their
            values are not checked and the scripted model ignores them.

    **Model rules.** By default every model gets its family's profile
    (:func:`~trio_gemini_live.models.profile_for`), which takes the strictest documented
    reading of each rule, so an app that passes here works on Google whichever way a rule is
    read today. What a model refuses closes the connection as Google does, with 1007 and
    "Request contains an invalid argument." (or, for a field the API version lacks, the
    "Unknown name" text): on 3.x models a ``clientContent`` after the initial history, an
    initial history without ``historyConfig.initialHistoryInClientContent``, realtime input
    before the history when that config is set, ``realtimeInput.mediaChunks``,
    ``"handle": null``; on 3.1 NON_BLOCKING functions, ``thinkingBudget``, proactivity and
    affective dialog; on 2.5 ``thinkingLevel``, and proactivity or affective dialog outside
    v1alpha; ``contextUpdate`` on models before 3.8.

    **What the scripted model does beyond text and audio.** A user turn containing "your
    instructions" is answered with the current system instruction (``contextUpdate`` changes
    it, and its tools, for the rest of the connection). With the ``codeExecution`` tool, a
    turn containing "code" gets an ``executableCode`` and a ``codeExecutionResult`` part
    before the answer. On 3.x models (profiles with ``bundled_server_content``) the output
    transcription rides in the same message as its audio, ``interimInputTranscription``
    comes while the user speaks (with input transcription on), ``turnComplete`` carries
    ``interactionStatus`` (``IN_PROGRESS`` while an asynchronous tool call is unanswered,
    else ``IDLE``), and user text ending in "..." gets ``waitingForInput`` (the model waits
    for the rest, which the next text turn completes). A function declared without
    ``behavior`` runs as the profile's ``default_tool_behavior`` (asynchronous on 3.8).
    """

    #: Seconds the emulator waits for what a client must send before it can be served: a
    #: request head, a REST request's body, the ``setup`` message. A client that sends
    #: nothing does not hold a task forever: its connection is closed (the REST body gets
    #: a 408; a missing ``setup`` Google's deadline close, 1011). Tests may shorten it.
    request_timeout: float = 10.0

    def __init__(
        self,
        *,
        api_key: str | None = "test-api-key",
        ephemeral_tokens: Collection[str] = (),
        vertex_tokens: Collection[str] = (),
        models: Collection[str] = DEFAULT_MODELS,
        connection_lifetime: float = 600.0,
        go_away_notice: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
        text_chunk_delay: float = 0.0,
        audio_chunk_ms: int = 40,
        audio_chunk_delay: float = 0.0,
        audio_transcript: str | None = None,
        vad_threshold: float = 500.0,
        handle_lifetime: float = 7200.0,
        model_rules: Mapping[str, ModelProfile] | None = None,
        accept_fields: Collection[str] = (),
    ) -> None:
        if connection_lifetime <= 0 or go_away_notice < 0:
            raise ValueError("connection_lifetime must be > 0 and go_away_notice >= 0")
        if handle_lifetime <= 0:
            raise ValueError("handle_lifetime must be > 0")
        if audio_chunk_ms <= 0:
            raise ValueError("audio_chunk_ms must be > 0")
        self.api_key = api_key
        self.ephemeral_tokens = frozenset(ephemeral_tokens)
        self.vertex_tokens = frozenset(vertex_tokens)
        rules: dict[str, ModelProfile] = {}
        for name, profile in (model_rules or {}).items():
            if not isinstance(profile, ModelProfile):
                raise TypeError(f"model_rules[{name!r}] must be a ModelProfile, "
                                f"not {type(profile).__name__}")
            rules[model_id(name)] = profile
        if isinstance(accept_fields, str):
            raise TypeError("accept_fields must be a collection of paths, not a string")
        #: model id -> the rules applied instead of its built-in profile.
        self.model_rules = rules
        #: Unknown fields taken anyway (see ``accept_fields``).
        self.accept_fields = frozenset(accept_fields)
        self.models = frozenset(models) | frozenset(rules)
        self.connection_lifetime = connection_lifetime
        self.go_away_notice = go_away_notice
        self.handle_lifetime = handle_lifetime
        self.ssl_context = ssl_context
        self.settings = ModelSettings(
            text_chunk_delay=text_chunk_delay, audio_chunk_ms=audio_chunk_ms,
            audio_chunk_delay=audio_chunk_delay, audio_transcript=audio_transcript,
            vad_threshold=vad_threshold,
        )
        #: Every connection, in the order they were accepted.
        self.connections: list[ConnectionRecord] = []
        #: Seconds to wait before sending each server message (a slow server).
        self.send_delay = 0.0
        self.host = "127.0.0.1"
        self.port = 0
        self._nursery: trio.Nursery | None = None
        self._links: dict[int, Link] = {}
        self._store = SessionStore()
        # Handle and function call numbers, per emulator: ids do not depend on what other
        # emulators (other tests) did before.
        self._counters = Counters()
        self._scheduled: list[_Scheduled] = []
        self._sending = trio.Event()
        self._sending.set()
        self._new_connection = trio.Event()
        #: Ephemeral tokens minted on ``POST /v1alpha/auth_tokens``, the REST requests
        #: answered, and the wall clock tokens expire by (PROTOCOL.md 1).
        self.tokens = TokenStore()

    @classmethod
    def replay(cls, recording: str | os.PathLike[str] | Recording,
               **options: Any) -> ReplayServer:
        """A server replaying ``recording``: :class:`ReplayServer` (same options, same serving API).

        ``LiveEmulator.replay(path)`` is ``ReplayServer(path)``: start it as the emulator
        (``await nursery.start(server.serve)``, or ``serve_in_memory`` with
        ``connect_in_memory``) and point a session at it (``open_session``,
        ``session_kwargs``). It answers each client message with what the server sent after
        it in the recording, and reports the first divergence (issue 15).

        Args:
            recording: a :class:`Recording`, or the path of one.
            options: :class:`ReplayServer`'s keyword arguments (``pace``, ``check_setup``,
                ``check_content``, ``wait_timeout``, ``raise_on_divergence``,
                ``ssl_context``).

        Raises:
            RecordingError: the recording is unreadable or incomplete, or lost frames while
                it was made.
            OSError: its file cannot be read.
            ValueError: a bad ``pace`` or ``wait_timeout``.
            TypeError: an option :class:`ReplayServer` does not take.
        """
        from ._replay import ReplayServer

        return ReplayServer(recording, **options)

    def rules_for(self, model: str) -> ModelProfile:
        """The rules the emulator applies to ``model`` (an id, ``models/...`` or a Vertex
        name): its ``model_rules`` entry, else its built-in profile."""
        return self.model_rules.get(model_id(model)) or profile_for(model)

    # -- serving ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``ws://host:port`` (``wss://`` with TLS): pass it as a session's ``endpoint``."""
        scheme = "wss" if self.ssl_context is not None else "ws"
        return f"{scheme}://{self.host}:{self.port}"

    async def serve(self, host: str = "127.0.0.1", port: int = 0, *,
                    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on ``host:port`` (0: a free port) until cancelled.

        Reports started once listening, so ``await nursery.start(emulator.serve)`` returns
        with :attr:`port` and :attr:`url` set. In-memory connections work too meanwhile.
        """
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            listeners = await nursery.start(
                functools.partial(trio.serve_tcp, self._handle_tcp, port, host=host)
            )
            sockname = listeners[0].socket.getsockname()
            self.host, self.port = host, int(sockname[1])
            task_status.started()

    async def serve_in_memory(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve in-memory connections only (:meth:`connect_in_memory`) until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def connect_in_memory(
        self,
    ) -> Callable[..., AbstractAsyncContextManager[trio.abc.Stream]]:
        """A session ``connect=`` hook that reaches this emulator over an in-memory stream.

        The hook takes ``(url, headers)`` (headers as ``(name, value)`` string pairs); only
        the URL's path and query matter. The emulator must be serving
        (:meth:`serve` or :meth:`serve_in_memory`).

        The hook yields the client end of an in-memory byte stream: the session runs its own
        WebSocket over it, exactly as over a socket (issue 11: every test of a session runs
        the transport the library ships).
        """

        return memory_connect("emulator", lambda: self._nursery, self._handle_stream)

    def open_session(self, nursery: trio.Nursery, *, model: str = DEFAULT_MODEL,
                     in_memory: bool = False, **kwargs: Any,
                     ) -> AbstractAsyncContextManager[LiveSession]:
        """``open_live_session`` pointed at this emulator, with its API key.

        Args:
            nursery: where the session's tasks run.
            model: the model id (without ``models/``).
            in_memory: connect over an in-memory stream (:meth:`connect_in_memory`) rather
                than over the loopback socket.
            kwargs: anything else :func:`~trio_gemini_live.open_live_session` takes
                (``config``, ``resume_handle``, ``ssl_context`` for ``wss://``, handlers...).
        """
        from .._auth import ApiKey
        from .._open import open_live_session

        kwargs.setdefault("auth", ApiKey(self.api_key or "unchecked"))
        if in_memory:
            kwargs.setdefault("connect", self.connect_in_memory())
            kwargs.setdefault("endpoint", "ws://emulator.invalid")
        else:
            if not self.port:
                raise RuntimeError("the emulator is not listening: start serve() first")
            kwargs.setdefault("endpoint", self.url)
        return open_live_session(nursery, model=model, **kwargs)

    async def _handle_tcp(self, stream: trio.SocketStream) -> None:
        if self.ssl_context is not None:
            await self._handle_stream(trio.SSLStream(stream, self.ssl_context, server_side=True))
        else:
            await self._handle_stream(stream)

    async def _handle_stream(self, stream: trio.abc.Stream) -> None:
        try:
            # The same port serves the REST endpoint for ephemeral tokens (PROTOCOL.md 1):
            # read the request head, answer plain HTTP here, and hand a WebSocket upgrade to
            # trio-websocket with the bytes read so far replayed.
            head = None
            with trio.move_on_after(self.request_timeout):
                conn, head, seen = await read_request_head(stream)
            if head is None:
                return  # garbage, the peer went away, or nothing in time
            if not is_websocket_upgrade(head):
                await serve_http(conn, head, stream, self.tokens, self.api_key,
                                 body_timeout=self.request_timeout)
                return
            async with trio.open_nursery() as nursery:
                request = await trio_websocket.wrap_server_stream(
                    nursery, ReplayStream(stream, seen), max_message_size=_MAX_MESSAGE)
                try:
                    await self._handle_request(request, stream)
                finally:
                    # trio-websocket's reader completes the close handshake (it answers a
                    # client's close frame, then closes the stream) and then ends: let it,
                    # rather than cancel it and leave the client waiting for a reply.
                    nursery.cancel_scope.deadline = trio.current_time() + _CLOSE_GRACE
        except* (trio.BrokenResourceError, trio.ClosedResourceError,
                 trio_websocket.ConnectionClosed, trio_websocket.HandshakeError):
            # The client went away: nothing to serve. ``except*``: raised inside the nursery
            # above, these come wrapped in an ExceptionGroup (Trio's strict groups).
            pass
        finally:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)

    async def _handle_request(self, request: trio_websocket.WebSocketRequest,
                              stream: trio.abc.Stream) -> None:
        parts = urlsplit(request.path)
        route = admission.route(parts.path)
        if route is None:
            await request.reject(404, body=b"Not Found")
            return
        backend, version, method = route
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
        query = dict(parse_qsl(parts.query))
        ws = await request.accept()
        # The index is taken only now, with no checkpoint before the append: connections
        # accepted concurrently each get their own number (and their own ``_links`` slot).
        record = ConnectionRecord(
            index=len(self.connections), path=parts.path,
            query=redact(query, _SECRET_QUERY), headers=headers, api_version=version,
            backend=backend, method=method,
        )
        self.connections.append(record)
        link = Link(record, ws, stream)
        self._links[record.index] = link
        self._new_connection.set()
        self._new_connection = trio.Event()
        try:
            with link.scope:
                await self._run(link, query)
        finally:
            if record.close_code is None:
                closed = ws.closed
                record.close_code = int(closed.code) if closed is not None else 1006
                record.close_reason = (closed.reason or "") if closed is not None else ""
            del self._links[record.index]
            if record.session_key is not None:
                # Handles expire counting from here (PROTOCOL.md 6); a later connection of
                # the session moves it on.
                self._store.sessions[record.session_key].ended_at = trio.current_time()
            record.closed.set()

    # -- one connection --------------------------------------------------------------------

    async def _run(self, link: Link, query: dict[str, str]) -> None:
        record = link.record
        refusal = admission.check_auth(self, record, query)
        if refusal is not None:
            # Google reads the setup, then closes with the reason (PROTOCOL.md 7).
            with trio.move_on_after(self.request_timeout):
                await link.receive()
            await link.close(*refusal)
            return
        first = None
        with trio.move_on_after(self.request_timeout) as waiting:
            first = await link.receive()
        if waiting.cancelled_caught:
            # No setup in time: the emulator's choice is Google's deadline close.
            await link.close(1011, DEADLINE)
            return
        if first is None:
            return
        try:
            normalised, message = parse_client_frame(first, accept=self.accept_fields)
            record.received.append(normalised)
            if message.setup is None:
                # PROTOCOL.md 2: the first message must be ``setup``.
                raise ClientFrameError(INVALID_ARGUMENT)
            record.setup = normalised["setup"]
            setup, raw_setup, charge = admission.admit_token(
                self, record, query, message.setup, normalised["setup"])
            admission.check_setup(self, record, setup, raw_setup)
            session = self._store.open(record, setup, handle_lifetime=self.handle_lifetime,
                                       live=self._links.values())
        except ClientFrameError as exc:
            await link.close(exc.code, exc.reason)
            return
        if charge is not None:
            # Only an accepted new session uses up a token use (PROTOCOL.md 1).
            self.tokens.use(charge)
        record.session_key = session.key
        session.ended_at = None  # live again: its handles do not expire meanwhile

        def message_index() -> int:
            return len(record.received) - 1

        conversation = Conversation(
            setup=setup, backend=record.backend, session=session,
            profile=self.rules_for(setup.model), resumed=record.resumed_from is not None,
            settings=self.settings, emit=link.emit,
            message_index=message_index, counters=self._counters,
            register_handle=lambda handle, index, snap: self._store.register_handle(
                handle, session, (record.index, index), snap),
        )
        link.conversation = conversation
        setup_complete = w.ServerMessage(setup_complete=w.SetupComplete(
            session_id=f"emu-session-{record.index}" if record.backend == "vertex" else None))
        await link.emit(wire(setup_complete))
        async with trio.open_nursery() as nursery:
            link.nursery = nursery
            nursery.start_soon(self._sender, link)
            nursery.start_soon(self._lifetime, link)
            nursery.start_soon(conversation.run)
            # Faults scheduled after the setup message fire here, once the connection runs
            # (a goAway needs its nursery).
            await self._after_client_message(link)
            while True:
                frame = await link.receive()
                if frame is None:
                    break
                try:
                    normalised, message = parse_client_frame(
                        frame, accept=self.accept_fields)
                    record.received.append(normalised)
                    await conversation.handle(message)
                except ClientFrameError as exc:
                    await link.close(exc.code, exc.reason)
                    break
                await self._after_client_message(link)
            nursery.cancel_scope.cancel()

    async def _sender(self, link: Link) -> None:
        async for frame in link.out_recv:
            await self._sending.wait()
            if isinstance(frame, CloseMarker):
                await link.close(frame.code, frame.reason)
                return
            sent: trio.Event | None = None
            if isinstance(frame, Tracked):
                sent = frame.sent
                frame = frame.frame
            if self.send_delay:
                await trio.sleep(self.send_delay)
            try:
                await link.ws.send_message(frame)
            except trio_websocket.ConnectionClosed:
                if not link.closing:
                    link.scope.cancel()
                # Else our own close is under way (_close): cancelling the connection now
                # would cut it before its close frame is out, and the client would see a
                # 1006 instead of the code (a refused frame's 1007 looking transient).
                return
            link.record.sent.append(frame)
            link.server_count += 1
            if sent is not None:
                sent.set()
            await self._after_server_message(link)

    async def _lifetime(self, link: Link) -> None:
        # PROTOCOL.md 4 and 6: goAway about a minute ahead, then the deadline close.
        notice = min(self.go_away_notice, self.connection_lifetime)
        await trio.sleep(self.connection_lifetime - notice)
        await link.go_away(notice)

    # -- faults ------------------------------------------------------------------------------

    def _link(self, conn: int | ConnectionRecord | None) -> Link:
        if conn is None:
            if not self.connections:
                raise LookupError("no connection yet")
            conn = self.connections[-1]
        index = conn.index if isinstance(conn, ConnectionRecord) else conn
        link = self._links.get(index)
        if link is None:
            raise LookupError(f"connection {index} is not live")
        return link

    async def inject(self, fault: Fault, conn: int | ConnectionRecord | None = None) -> None:
        """Apply ``fault`` now to ``conn`` (default: the latest connection)."""
        await self._apply(self._link(conn), fault)

    async def _apply(self, link: Link, fault: Fault) -> None:
        if fault.action == "drop":
            await link.drop()
        elif fault.action == "close":
            if link.nursery is None or link.closing:
                await link.close(fault.code, fault.reason)
            else:
                # After what is already queued: a server sends its last words, then closes.
                await trio.lowlevel.checkpoint()
                link.out_send.send_nowait(CloseMarker(fault.code, fault.reason))
        elif fault.action == "raw":
            await link.emit_raw(fault.data)
        elif fault.action == "go_away":
            if link.nursery is None:
                raise RuntimeError("goAway before setupComplete")
            link.nursery.start_soon(link.go_away, fault.time_left)
        elif fault.action == "pause":
            self.pause()
        elif fault.action == "stop_reading":
            link.stop_reading()

    async def drop(self, conn: int | ConnectionRecord | None = None) -> None:
        """Drop the connection without a close frame (the client sees 1006)."""
        await self.inject(Fault.drop(), conn)

    async def close(self, code: int, reason: str = "",
                    conn: int | ConnectionRecord | None = None) -> None:
        """Close the connection with ``code`` and ``reason``.

        The close frame follows the messages already queued (e.g. by :meth:`send_raw`); while
        sending is paused, it waits too. :meth:`drop`, like a network cut, is immediate.
        """
        await self.inject(Fault.close(code, reason), conn)

    async def send_raw(self, data: bytes | str,
                       conn: int | ConnectionRecord | None = None) -> None:
        """Send ``data`` as is, in order with the model's messages (bytes: binary frame)."""
        await self.inject(Fault.raw(data), conn)

    async def send_go_away(self, time_left: float = 1.0,
                           conn: int | ConnectionRecord | None = None) -> None:
        """Send ``goAway`` now, then Google's deadline close ``time_left`` seconds later."""
        await self.inject(Fault.go_away(time_left), conn)

    def pause(self) -> None:
        """Stop sending on every connection (messages queue up) until :meth:`resume`."""
        if self._sending.is_set():
            self._sending = trio.Event()

    def resume(self) -> None:
        """Send again after :meth:`pause`."""
        self._sending.set()

    def stop_reading(self, conn: int | ConnectionRecord | None = None) -> None:
        """Stop reading client frames on ``conn`` (the client's sends back up)."""
        self._link(conn).stop_reading()

    def resume_reading(self, conn: int | ConnectionRecord | None = None) -> None:
        """Read client frames again after :meth:`stop_reading`."""
        self._link(conn).reading.set()

    def schedule_fault(self, fault: Fault, *, after_client_messages: int | None = None,
                       after_server_messages: int | None = None,
                       connection: int | None = None) -> None:
        """Apply ``fault`` once a connection has received or sent N messages.

        Exactly one of ``after_client_messages`` (counting ``setup``) or
        ``after_server_messages`` (counting ``setupComplete``) must be given. The fault fires
        once, on connection number ``connection`` (default: the first connection reaching
        the count), so chaos tests can inject faults at reproducible points.
        """
        if (after_client_messages is None) == (after_server_messages is None):
            raise ValueError("give exactly one of after_client_messages, after_server_messages")
        count = after_client_messages if after_client_messages is not None else (
            after_server_messages)
        assert count is not None
        if count < 1:
            raise ValueError("the message count must be >= 1")
        counter: Literal["client", "server"] = (
            "client" if after_client_messages is not None else "server")
        self._scheduled.append(_Scheduled(fault, counter, count, connection))

    async def _after_client_message(self, link: Link) -> None:
        await self._fire(link, "client", link.client_count)

    async def _after_server_message(self, link: Link) -> None:
        await self._fire(link, "server", link.server_count)

    async def _fire(self, link: Link, counter: str, count: int) -> None:
        for item in self._scheduled:
            if item.done or item.counter != counter or item.count != count:
                continue
            if item.connection is not None and item.connection != link.record.index:
                continue
            item.done = True
            await self._apply(link, item.fault)

    # -- records -----------------------------------------------------------------------------

    async def wait_connection(self, count: int = 1) -> ConnectionRecord:
        """Wait until at least ``count`` connections were accepted; return the latest."""
        while len(self.connections) < count:
            await self._new_connection.wait()
        return self.connections[-1]

    def _session_key(self, session: str | None) -> str | None:
        """``session``, or by default the latest connection's session (``None``: none yet)."""
        if session is not None:
            return session
        keyed = [c.session_key for c in self.connections if c.session_key is not None]
        return keyed[-1] if keyed else None

    def received(self, session: str | None = None) -> list[dict[str, Any]]:
        """Every client message of a logical session, across its connections, in order.

        ``session`` is a session key (:attr:`ConnectionRecord.session_key`); default: the
        latest connection's session.
        """
        session = self._session_key(session)
        if session is None:
            return []
        return [msg for c in self.connections if c.session_key == session for msg in c.received]

    def consumed(self, session: str | None = None) -> list[dict[str, Any]]:
        """The client messages (``setup`` excluded) a logical session's state includes.

        :meth:`received` is what arrived on the wire; this is what the session *kept*. A
        resumption handle names the session's state when it was issued: on connection
        ``c``, after message index ``i`` (``setup`` is index 0, the first message after it
        1: the convention of ``lastConsumedClientMessageIndex``, PROTOCOL.md 4). Resuming
        from that handle restores that state, so messages that arrived after it (on ``c``,
        or on any later connection of an abandoned branch) are not consumed; the client is
        expected to send them again (transparent resumption replays exactly those).

        ``session`` is a session key; default: the latest connection's session.
        """
        session = self._session_key(session)
        if session is None:
            return []
        kept: list[tuple[int, int, dict[str, Any]]] = []
        for conn in self.connections:
            if conn.session_key != session:
                continue
            if conn.resumed_from is not None:
                kept = [item for item in kept if item[:2] <= conn.resumed_from]
            kept.extend((conn.index, i, msg) for i, msg in enumerate(conn.received) if i > 0)
        return [msg for _, _, msg in kept]

    def history(self, session: str | None = None) -> list[dict[str, Any]]:
        """The conversation the emulator remembers for a session (default: the latest)."""
        state = self._store.sessions.get(self._session_key(session) or "")
        return list(state.history) if state is not None else []
