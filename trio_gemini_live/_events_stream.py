"""The async iterator of ``LiveSession.events()``: an object, not an async generator.

``break`` out of ``async for event in session.events()`` drops the last reference to it at
once (CPython), and with it the reader (issue 11, ASYNC900: an async generator's
``finally`` would wait for the garbage collector and run in another task). The session
counts its readers: when it fails and nobody reads its events any more, the body of
``async with open_live_session(...)`` is cancelled and the error comes out of the block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from . import events as ev
from ._queues import QueueClosed

if TYPE_CHECKING:
    from ._session import LiveSession

__all__ = ["EventStream"]


class EventStream:
    """The async iterator of :meth:`LiveSession.events` (an object: ``break`` frees it)."""

    __slots__ = ("_done", "_session")

    def __init__(self, session: LiveSession) -> None:
        self._session = session
        self._done = False
        session._readers += 1

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> ev.Event:
        if self._done:
            await trio.lowlevel.checkpoint()
            raise StopAsyncIteration
        session = self._session
        try:
            return await session._events.get()
        except QueueClosed as closed:
            if closed.error is not None:
                session._error_delivered = True
            self._release()
            if closed.error is not None:
                raise closed.error from None
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        """Stop iterating (what ``async with aclosing(...)`` calls); idempotent."""
        self._release()
        await trio.lowlevel.checkpoint()

    def _release(self) -> None:
        if self._done:
            return
        self._done = True
        session = self._session
        session._readers -= 1
        if (
            session._readers == 0
            and session._error is not None
            and not session._error_delivered
            and session._done.is_set()
        ):
            # The session failed and nobody reads its events any more: end the body.
            session._body_scope.cancel()

    def __del__(self) -> None:
        # ``break`` out of ``async for``: the last reference goes at once (CPython), and so
        # does the reader. Never raises.
        try:
            self._release()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass
