"""Shared fixtures: the official SDK as referee of client frames, an in-memory emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest
import trio
import trio_websocket

from trio_gemini_live import LiveSession, _websocket
from trio_gemini_live import events as ev
from trio_gemini_live.testing import LiveEmulator

API_KEY = "AIzaTEST-secret-key-0123456789"
MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"

# Setup fields PROTOCOL.md 3.1 documents that google-genai 3.6.x's pydantic models lack; they
# are removed before the strict check, and nothing else is.
_SDK_MISSING_SETUP_FIELDS = ("realtimeInputConfig",)


class Referee:
    """Every client frame, checked by ``google.genai.types.LiveClientMessage`` (strict).

    Attributes:
        frames: every frame a client connection sent (after the check).
        failures: (frame, error) for each frame the SDK refused, or a binary client frame.
    """

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.failures: list[tuple[Any, str]] = []

    def check(self, frame: str | bytes) -> None:
        from google.genai import types

        if not isinstance(frame, str):
            # PROTOCOL.md 2: every official client sends text frames.
            self.failures.append((frame, "binary client frame"))
            return
        self.frames.append(frame)
        try:
            value = msgspec.json.decode(frame)
            setup = value.get("setup") if isinstance(value, dict) else None
            if isinstance(setup, dict):
                for name in _SDK_MISSING_SETUP_FIELDS:
                    setup.pop(name, None)
            types.LiveClientMessage.model_validate_json(msgspec.json.encode(value))
        except Exception as exc:  # the referee records, the test's teardown reports
            self.failures.append((frame[:300], f"{type(exc).__name__}: {exc}"[:2000]))


@pytest.fixture
def referee(monkeypatch: pytest.MonkeyPatch) -> Iterator[Referee]:
    """Check every frame a client connection sends: the library's own WebSocket (every
    session: over sockets and the emulator's in-memory streams), and trio-websocket's (a
    user's ``connect=`` hook).

    Failures are recorded (raising inside the session's send task would only show up as a
    dropped connection) and reported when the test ends.
    """
    ref = Referee()
    original = trio_websocket.WebSocketConnection.send_message

    async def send_message(self: trio_websocket.WebSocketConnection, message: Any) -> None:
        if self.is_client:
            ref.check(message)
        await original(self, message)

    monkeypatch.setattr(trio_websocket.WebSocketConnection, "send_message", send_message)
    # The session's default transport (issue 7) sends singly and in batches.
    lean = _websocket.WebSocket
    lean_one, lean_many = lean.send_message, lean.send_messages

    async def lean_send_message(self: _websocket.WebSocket, message: Any) -> None:
        ref.check(message)
        await lean_one(self, message)

    async def lean_send_messages(self: _websocket.WebSocket, messages: Any) -> None:
        for message in messages:
            ref.check(message)
        await lean_many(self, messages)

    # And directly from the caller's task (the session's direct path, issue 7).
    lean_try = lean.try_send_message

    def lean_try_send_message(self: _websocket.WebSocket, message: Any) -> Any:
        result = lean_try(self, message)
        if result is not None:  # written or committed; None: sent (and checked) later
            ref.check(message)
        return result

    monkeypatch.setattr(lean, "send_message", lean_send_message)
    monkeypatch.setattr(lean, "send_messages", lean_send_messages)
    monkeypatch.setattr(lean, "try_send_message", lean_try_send_message)
    yield ref
    assert not ref.failures, f"the official SDK refused client frames: {ref.failures}"


@asynccontextmanager
async def raw_websocket(
    server: Any, url: str, headers: Sequence[tuple[str, str]] = ()
) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    """A bare trio-websocket client over a server's in-memory stream (``connect_in_memory``),
    for tests that write the protocol's frames by hand, with no session."""
    parts = urlsplit(url)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    async with server.connect_in_memory()(url, headers) as stream, trio.open_nursery() as nursery:
        ws = await trio_websocket.wrap_client_stream(
            nursery, stream, parts.hostname or "localhost", resource,
            extra_headers=[(k.encode(), v.encode()) for k, v in headers],
            max_message_size=16 * 1024 * 1024,
        )
        try:
            yield ws
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await ws.aclose()
            nursery.cancel_scope.cancel()


@pytest.fixture
async def emu(nursery: trio.Nursery) -> LiveEmulator:
    """A :class:`LiveEmulator` serving in memory (pass ``emu.connect_in_memory()``)."""
    emulator = LiveEmulator(api_key=API_KEY)
    await nursery.start(emulator.serve_in_memory)
    return emulator


# --- the command line (tests/test_cli*.py) -------------------------------------------------------

#: ``_cli.main`` runs its own ``trio.run``, so ``trio.fail_after`` cannot bound it: run_main
#: runs it on a worker thread and gives up after this many seconds (a hang fails the test).
CLI_BOUND = 60.0


def run_main(argv: list[str]) -> int:
    """``_cli.main(argv)``, bounded by ``CLI_BOUND``; its exceptions are re-raised here."""
    import threading

    from trio_gemini_live._cli import main

    result: list[Any] = []

    def target() -> None:
        try:
            result.append(main(argv))
        except BaseException as exc:  # re-raised on the test's thread
            result.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(CLI_BOUND)
    assert result, f"main({argv!r}) did not finish within {CLI_BOUND} s"
    if isinstance(result[0], BaseException):
        raise result[0]
    status: int = result[0]
    return status


def read_line(stream: Any, timeout: float = 30.0) -> str:
    """One line from a child process's pipe, or an assertion error after ``timeout`` s."""
    import threading

    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert lines, f"no line from the process within {timeout} s"
    return lines[0]


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials in the environment (neither API keys nor Vertex AI variables)."""
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI",
                 "GOOGLE_GENAI_USE_ENTERPRISE"):
        monkeypatch.delenv(name, raising=False)


# --- sessions that fail to open, TLS with a test CA (test_emulator*.py, test_tokens.py, ...) ---


async def opening_error(opening: Any) -> BaseException:
    """The error entering ``opening`` (an async context manager, e.g. a session) raised.

    Single-exception groups are unwrapped; the test fails if it opened.
    """
    try:
        async with opening:
            pass
    except BaseException as exc:
        while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        return exc
    raise AssertionError("the session opened")


async def until(session: LiveSession, kind: type[Any]) -> list[ev.Event]:
    """The events up to and including the first of type ``kind``."""
    seen: list[ev.Event] = []
    async for event in session.events():
        seen.append(event)
        if isinstance(event, kind):
            return seen
    raise AssertionError(f"events() ended before {kind.__name__}: {seen}")


class ValidCredentials:
    """Vertex AI credentials of google-auth's shape that are already valid (never refreshed:
    no worker thread, so they suit ``autojump_clock`` too)."""

    quota_project_id = None
    valid = True

    def __init__(self, token: str = "ya29.valid") -> None:
        self.token = token

    def refresh(self, request: object) -> None:  # pragma: no cover - never expired
        raise AssertionError("unexpected refresh")


def tls_contexts(host: str = "127.0.0.1") -> tuple[Any, Any]:
    """``(server, client)`` SSL contexts: a trustme certificate for ``host``, and a verifying
    client context that trusts the test CA too (``ssl.SSLContext`` both)."""
    import ssl

    import trustme

    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host).configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client
