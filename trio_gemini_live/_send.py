"""The send side of a session: frames from ``send_*`` to the socket (DESIGN.md's data flow).

A frame is written from the caller's task when nothing is queued or being written
(:func:`send_direct`); otherwise it waits in the outbound queue for the connection's send
task (:func:`sender`), which writes everything queued at that moment with one write. Either
way the core indexes a frame when its write starts (``LiveProtocol.written``) and says what
a failed write must send again (``write_failed``); here the bytes move. The keepalive task
(:func:`keepalive`) pings. Functions over the session (its private state is this
package's), as :mod:`._receive` for the other direction.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import trio

from ._buffers import FLUSH, OutboundItem
from ._options import MAX_BATCH_CHARS, MAX_BATCH_FRAMES
from ._protocol import KEEPALIVE, ConnectionEnd
from ._receive import closed_end
from ._websocket import ConnectionClosed

if TYPE_CHECKING:
    from ._session import LiveSession
    from ._websocket import MessageConnection, WebSocket

__all__ = ["keepalive", "send_direct", "sender"]

log: Final = logging.getLogger("trio_gemini_live")


def send_direct(session: LiveSession, item: OutboundItem) -> bool:
    """Issue 7: write ``item`` from the caller's task when nothing is queued or in flight.

    Saves waking the send task (two task steps per message, most of a real-time session's
    scheduling cost). Only when the write needs no waiting; otherwise, and whenever anything
    is queued or being written, the frame goes through the queue, so order is kept.
    ``True``: written (or committed: a partial write is finished by the send task, woken
    with a flush marker).
    """
    direct = session._direct
    if (
        direct is None
        or session._in_flight
        or len(session._outbound)
        or session._conn_end is not None
        or session._outbound.closed
    ):
        return False
    written = direct(item.frame)
    if written is None:
        return False
    session._proto.written(item)
    if written is False:
        # The rest of the frame is the stream's to write before anything else: wake the
        # send task to flush it now rather than at the next frame.
        session._outbound.push_front([OutboundItem("", 0.0, FLUSH)])
    return True


async def sender(
    session: LiveSession, ws: WebSocket | MessageConnection, scope: trio.CancelScope
) -> None:
    """A connection's send task: write what queues, in batches, until the connection ends.

    While it runs, ``send_*`` may write directly (:func:`send_direct`).
    """
    session._direct = ws.try_send_message
    outbound = session._outbound
    proto = session._proto
    try:
        while True:
            # Every frame queued at this moment, up to a bound, in queue order (issue 7:
            # one write, one TLS record, one syscall for the batch).
            batch = [await outbound.get()]
            size = len(batch[0].frame)
            while len(batch) < MAX_BATCH_FRAMES and size < MAX_BATCH_CHARS:
                more = outbound.get_nowait()
                if more is None:
                    break
                batch.append(more)
                size += len(more.frame)
            session._in_flight = True
            # Indexed before the write: the server may acknowledge a frame (or answer a
            # turn) before the write returns.
            for item in batch:
                if item.kind != FLUSH:
                    proto.written(item)
            try:
                # A flush marker has no frame: the write finishes a partial direct one.
                await ws.send_messages([item.frame for item in batch if item.kind != FLUSH])
            except ConnectionClosed as exc:
                # Not (fully) sent: what the core says goes out first on the next connection.
                outbound.push_front(proto.write_failed(batch))
                session._end_connection(closed_end(exc))
                scope.cancel()
                return
            except BaseException:
                # Cancelled mid-send: whether it reached the server is unknown.
                outbound.push_front(proto.write_failed(batch))
                raise
            finally:
                session._in_flight = False
                if session._drained and not len(outbound):
                    session._drained.unpark_all()
    finally:
        session._direct = None


async def keepalive(
    session: LiveSession, ws: WebSocket | MessageConnection, scope: trio.CancelScope
) -> None:
    """A connection's keepalive task: a ping every interval; no pong in time ends it."""
    interval = session._options.keepalive_interval
    timeout = session._options.keepalive_timeout
    assert interval is not None
    while True:
        await trio.sleep(interval)
        with trio.move_on_after(timeout) as waited:
            try:
                await ws.ping()
            except ConnectionClosed:
                return  # the receive task reports the close
        if waited.cancelled_caught:
            log.warning("no pong within %g s: reconnecting", timeout)
            session._quick_close = True
            session._end_connection(ConnectionEnd(KEEPALIVE, 1011, "keepalive ping timeout"))
            scope.cancel()
            return
