"""The ``connect=`` hook of an in-process server (the emulator's and the replay server's
``connect_in_memory``): a session reaches the server over an in-memory byte stream and runs
its own WebSocket over it, exactly as over a socket (issue 11)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import trio
import trio.testing

__all__ = ["memory_connect"]


def memory_connect(
    server: str,
    nursery: Callable[[], trio.Nursery | None],
    handle_stream: Callable[[trio.abc.Stream], Awaitable[None]],
) -> Callable[..., AbstractAsyncContextManager[trio.abc.Stream]]:
    """A hook that hands ``handle_stream`` the server end of a new in-memory stream pair,
    in the server's nursery (``nursery()``, ``None`` while it is not serving: the hook then
    raises ``RuntimeError`` naming ``server``), and yields the client end."""

    @asynccontextmanager
    async def connect(url: str, headers: Collection[tuple[str, str]] = (),
                      **_: Any) -> AsyncIterator[trio.abc.Stream]:
        serving = nursery()
        if serving is None:
            raise RuntimeError(f"the {server} is not serving: start serve_in_memory first")
        client_stream, server_stream = trio.testing.memory_stream_pair()
        serving.start_soon(handle_stream, server_stream)
        try:
            yield client_stream
        finally:
            # The session closed its WebSocket over it first (bounded); this only ends
            # the stream, at once.
            await trio.aclose_forcefully(client_stream)

    return connect
