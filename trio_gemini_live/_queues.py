"""The waiting around the session's two queues: events for the consumer, frames for the socket.

Both exist so that one slow side never stalls the other (STYLE.md, trio-websocket note):

* :class:`EventQueue` is filled by the receive task, which must keep draining the socket
  (WebSocket libraries stop answering pings when their queue is full, PROTOCOL.md 6), so
  ``put`` never blocks. Memory stays bounded (issue 12): the oldest *audio* goes once the
  queued audio exceeds its budget (counted); the other events are never dropped, and when
  everything queued exceeds ``max_bytes`` the queue reports it, and the session ends with
  :class:`~trio_gemini_live.SlowConsumerError`. O(1) per event: audio and the rest are two
  lanes with sequence numbers, so the oldest audio is found at once.
* :class:`OutboundQueue` adds the waiting to the protocol core's
  :class:`~._buffers.Outbox`: ``send_*`` waits while it is full of non-audio frames
  (backpressure); audio never waits (its budget drops the oldest); the one send task waits
  while it is empty.
"""

from __future__ import annotations

from collections import deque
from typing import Final

import trio

from . import events as ev
from ._buffers import AUDIO, OutboundItem, Outbox

__all__ = ["EVENT_OVERHEAD", "EventQueue", "OutboundQueue", "QueueClosed"]

#: Bytes an event is counted for on top of its payload (the struct and its queue slot).
EVENT_OVERHEAD: Final = 96
_TEXT_EVENTS: Final = frozenset({ev.TextChunk, ev.InputTranscription, ev.OutputTranscription})


class QueueClosed(Exception):
    """The queue was closed; carries the error it was closed with, if any."""

    def __init__(self, error: BaseException | None) -> None:
        super().__init__("queue closed")
        self.error = error


class EventQueue:
    """Events for one consumer. ``put`` never blocks.

    Args:
        max_audio_bytes: the most PCM bytes of :class:`~.events.AudioChunk` kept queued.
        max_bytes: the most bytes of events of any kind kept queued (audio dropped first).
    """

    def __init__(self, max_audio_bytes: int, max_bytes: int) -> None:
        if max_audio_bytes < 0 or max_bytes < 1:
            raise ValueError("max_audio_bytes must be >= 0 and max_bytes >= 1")
        self._audio: deque[ev.AudioChunk] = deque()
        self._audio_seq: deque[int] = deque()
        self._other: deque[ev.Event] = deque()
        self._other_seq: deque[int] = deque()
        self._other_sizes: deque[int] = deque()
        self._next = 0
        self._audio_bytes = 0
        self._other_bytes = 0
        self._max_audio_bytes = max_audio_bytes
        self._max_bytes = max_bytes
        self._lot = trio.lowlevel.ParkingLot()
        self._closed = False
        self._sealed = False
        self._error: BaseException | None = None
        self.dropped_audio_chunks = 0
        self.dropped_audio_bytes = 0

    def __len__(self) -> int:
        return len(self._audio) + len(self._other)

    def seal(self) -> None:
        """Queue nothing more (the session is ending); :meth:`close` ends the queue."""
        self._sealed = True

    @property
    def queued_bytes(self) -> int:
        """The bytes counted for the queued events."""
        return self._audio_bytes + self._other_bytes

    def put(self, event: ev.Event, size: int = 0) -> bool:
        """Queue ``event``; never blocks.

        Args:
            event: the event.
            size: bytes to count for it besides its text or audio (e.g. a tool call's frame).

        Returns:
            ``False`` when the queue is over ``max_bytes`` even without audio: the consumer
            is too slow (the event is queued all the same; the caller ends the session).
        """
        if self._closed or self._sealed:
            return True
        seq = self._next
        self._next = seq + 1
        if type(event) is ev.AudioChunk:
            self._audio.append(event)
            self._audio_seq.append(seq)
            self._audio_bytes += len(event.data) + EVENT_OVERHEAD
            if self._audio_bytes > self._max_audio_bytes:
                self._drop_audio(self._max_audio_bytes)
        else:
            if type(event) in _TEXT_EVENTS:
                size += len(event.text)  # type: ignore[union-attr]
            size += EVENT_OVERHEAD
            self._other.append(event)
            self._other_seq.append(seq)
            self._other_sizes.append(size)
            self._other_bytes += size
        if self._lot:  # a consumer waits (ParkingLot's truth is its length)
            self._lot.unpark()
        if self._audio_bytes + self._other_bytes > self._max_bytes:
            self._drop_audio(max(0, self._max_bytes - self._other_bytes))
            return self._other_bytes <= self._max_bytes
        return True

    def _drop_audio(self, keep: int) -> None:
        """Drop the oldest audio until at most ``keep`` bytes of it remain."""
        while self._audio and self._audio_bytes > keep:
            chunk = self._audio.popleft()
            self._audio_seq.popleft()
            size = len(chunk.data)
            self._audio_bytes -= size + EVENT_OVERHEAD
            self.dropped_audio_chunks += 1
            self.dropped_audio_bytes += size

    def close(self, error: BaseException | None = None) -> None:
        """No more events will come. Queued events are still delivered, then ``error``."""
        if not self._closed:
            self._closed = True
            self._error = error
            self._lot.unpark_all()

    def _pop(self) -> ev.Event:
        audio, other = self._audio, self._other
        if audio and (not other or self._audio_seq[0] < self._other_seq[0]):
            self._audio_seq.popleft()
            chunk = audio.popleft()
            self._audio_bytes -= len(chunk.data) + EVENT_OVERHEAD
            return chunk
        self._other_seq.popleft()
        self._other_bytes -= self._other_sizes.popleft()
        return other.popleft()

    async def get(self) -> ev.Event:
        """The next event. Raises :class:`QueueClosed` once closed and drained.

        One schedule point per call, as a memory channel's ``receive()``: when the queue was
        empty, the wait was it (waking up is the reschedule), so the event is taken at once
        (issue 7: a second yield per event cost a task step per message at scale).
        Cancellation loses nothing: an event is taken only after the last checkpoint.
        """
        if self._audio or self._other:
            await trio.lowlevel.checkpoint_if_cancelled()
            item = self._pop()
            await trio.lowlevel.cancel_shielded_checkpoint()
            return item
        while not (self._audio or self._other):
            if self._closed:
                await trio.lowlevel.checkpoint()
                raise QueueClosed(self._error)
            await self._lot.park()
        return self._pop()


class OutboundQueue:
    """The waiting around the core's :class:`~._buffers.Outbox` (which keeps the frames)."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self._readers = trio.lowlevel.ParkingLot()
        # Made when a writer first waits (the outbox full of non-audio frames, which most
        # sessions never see): one object less per session for the garbage collector to
        # scan meanwhile (issue 11).
        self._writers: trio.lowlevel.ParkingLot | None = None
        self._closed: BaseException | None = None

    def __len__(self) -> int:
        return len(self.outbox)

    async def put(self, item: OutboundItem) -> None:
        """Queue ``item``; waits while the outbox is full of non-audio frames.

        Raises the exception given to :meth:`close` once the queue is closed. Cancelled,
        nothing was queued.
        """
        if item.kind == AUDIO:
            await trio.lowlevel.checkpoint()
            self._check_open()
        else:
            await trio.lowlevel.checkpoint_if_cancelled()
            while self.outbox.full:
                self._check_open()
                if self._writers is None:
                    self._writers = trio.lowlevel.ParkingLot()
                await self._writers.park()
            self._check_open()
            await trio.lowlevel.cancel_shielded_checkpoint()
        self.outbox.append(item)
        if self._readers:
            self._readers.unpark()

    def _check_open(self) -> None:
        if self._closed is not None:
            raise self._closed

    def push_front(self, items: list[OutboundItem]) -> None:
        """Put back frames that were not sent (or must be sent again), ahead of everything."""
        self.outbox.push_front(items)
        self.wake()

    def wake(self) -> None:
        """The outbox changed behind our back (the core's resume plan): wake every waiter."""
        if len(self.outbox):
            self._readers.unpark_all()
        if not self.outbox.full and self._writers:
            self._writers.unpark_all()

    async def get(self) -> OutboundItem:
        """The next frame; waits until there is one."""
        while not len(self.outbox):
            await self._readers.park()
        await trio.lowlevel.checkpoint_if_cancelled()
        item = self.get_nowait()
        assert item is not None
        return item

    def get_nowait(self) -> OutboundItem | None:
        item = self.outbox.popleft()
        if item is not None and item.kind != AUDIO and self._writers:
            self._writers.unpark()
        return item

    @property
    def closed(self) -> bool:
        """:meth:`close` was called: ``put`` raises."""
        return self._closed is not None

    def close(self, error: BaseException) -> None:
        """Refuse further ``put``s with ``error``; wakes writers waiting for room."""
        if self._closed is None:
            self._closed = error
            if self._writers:
                self._writers.unpark_all()
