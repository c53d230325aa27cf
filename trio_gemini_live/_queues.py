"""The session's two queues: events for the consumer, frames for the socket.

Both exist so that one slow side never stalls the other (STYLE.md, trio-websocket note):

* :class:`EventQueue` is filled by the receive task, which must keep draining the socket
  (trio-websocket stops answering pings when its own queue is full, PROTOCOL.md 6). Putting
  never blocks. Memory stays bounded by dropping the *oldest audio* once the queued audio
  exceeds its budget; control events (turn boundaries, tool calls, handles, goAway...) and
  text are never dropped, and they are small and few.
* :class:`OutboundQueue` is filled by ``send_*`` and drained by the one send task. Text,
  client content and tool responses are never dropped: when too many are queued, ``put``
  waits (backpressure). Audio never waits: beyond its budget in seconds the oldest queued
  audio is dropped and counted (issue 5: audio buffered up to 5 s during a reconnect).
"""

from __future__ import annotations

from collections import deque

import msgspec
import trio

from . import events as ev

__all__ = ["EventQueue", "OutboundItem", "OutboundQueue", "QueueClosed"]

class QueueClosed(Exception):
    """The queue was closed; carries the error it was closed with, if any."""

    def __init__(self, error: BaseException | None) -> None:
        super().__init__("queue closed")
        self.error = error


class EventQueue:
    """Events for one consumer. ``put`` never blocks; audio over budget is dropped oldest-first.

    Args:
        max_audio_bytes: the most PCM bytes of :class:`~.events.AudioChunk` kept queued.
    """

    def __init__(self, max_audio_bytes: int) -> None:
        if max_audio_bytes < 0:
            raise ValueError("max_audio_bytes must be >= 0")
        self._items: deque[ev.Event] = deque()
        self._audio_bytes = 0
        self._max_audio_bytes = max_audio_bytes
        self._lot = trio.lowlevel.ParkingLot()
        self._closed = False
        self._error: BaseException | None = None
        self.dropped_audio_chunks = 0
        self.dropped_audio_bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: ev.Event) -> None:
        """Queue ``event``; never blocks (the oldest audio goes when over budget)."""
        if self._closed:
            return
        self._items.append(event)
        if type(event) is ev.AudioChunk:
            self._audio_bytes += len(event.data)
            while self._audio_bytes > self._max_audio_bytes:
                self._drop_oldest_audio()
        self._lot.unpark()

    def _drop_oldest_audio(self) -> None:
        for index, item in enumerate(self._items):
            if type(item) is ev.AudioChunk:
                del self._items[index]
                size = len(item.data)
                self._audio_bytes -= size
                self.dropped_audio_chunks += 1
                self.dropped_audio_bytes += size
                return
        self._audio_bytes = 0  # pragma: no cover - unreachable: the count tracks the items

    def close(self, error: BaseException | None = None) -> None:
        """No more events will come. Queued events are still delivered, then ``error``."""
        if not self._closed:
            self._closed = True
            self._error = error
            self._lot.unpark_all()

    async def get(self) -> ev.Event:
        """The next event. Raises :class:`QueueClosed` once closed and drained.

        One schedule point per call, as a memory channel's ``receive()``: when the queue was
        empty, the wait was it (waking up is the reschedule), so the event is taken at once
        (issue 7: a second yield per event cost a task step per message at scale).
        Cancellation loses nothing: an event is taken only after the last checkpoint.
        """
        items = self._items
        if items:
            await trio.lowlevel.checkpoint_if_cancelled()
            item = items.popleft()
            if type(item) is ev.AudioChunk:
                self._audio_bytes -= len(item.data)
            await trio.lowlevel.cancel_shielded_checkpoint()
            return item
        while not items:
            if self._closed:
                await trio.lowlevel.checkpoint()
                raise QueueClosed(self._error)
            await self._lot.park()
        item = items.popleft()
        if type(item) is ev.AudioChunk:
            self._audio_bytes -= len(item.data)
        return item


class OutboundItem(msgspec.Struct):
    """One encoded client frame waiting for the socket."""

    frame: str
    audio_seconds: float = 0.0
    kind: str = "other"


class OutboundQueue:
    """Frames for the socket, in order. Non-audio ``put`` waits when full; audio never waits.

    Args:
        max_items: non-audio frames queued before ``put`` waits.
        max_audio_seconds: seconds of audio kept queued; the oldest beyond it is dropped.
    """

    def __init__(self, max_items: int, max_audio_seconds: float) -> None:
        if max_items < 1:
            raise ValueError("max_items must be >= 1")
        if max_audio_seconds < 0:
            raise ValueError("max_audio_seconds must be >= 0")
        self._items: deque[OutboundItem] = deque()
        self._other = 0
        self._audio_seconds = 0.0
        self._max_items = max_items
        self._max_audio_seconds = max_audio_seconds
        self._readers = trio.lowlevel.ParkingLot()
        self._writers = trio.lowlevel.ParkingLot()
        self._closed: BaseException | None = None
        self.dropped_audio_chunks = 0
        self.dropped_audio_seconds = 0.0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def audio_seconds(self) -> float:
        """Seconds of audio queued now."""
        return self._audio_seconds

    @property
    def max_audio_seconds(self) -> float:
        """The audio budget: beyond it the oldest queued audio is dropped."""
        return self._max_audio_seconds

    async def put(self, item: OutboundItem) -> None:
        """Queue ``item``; waits while ``max_items`` non-audio frames are queued.

        Raises the exception given to :meth:`close` once the queue is closed.
        """
        if item.kind == "audio":
            await trio.lowlevel.checkpoint()
            self._check_open()
            self._items.append(item)
            self._audio_seconds += item.audio_seconds
            while self._audio_seconds > self._max_audio_seconds + 1e-9:
                self._drop_oldest_audio()
        else:
            await trio.lowlevel.checkpoint_if_cancelled()
            while self._other >= self._max_items:
                self._check_open()
                await self._writers.park()
            self._check_open()
            self._items.append(item)
            self._other += 1
            await trio.lowlevel.cancel_shielded_checkpoint()
        self._readers.unpark()

    def _check_open(self) -> None:
        if self._closed is not None:
            raise self._closed

    def _drop_oldest_audio(self) -> None:
        for index, queued in enumerate(self._items):
            if queued.kind == "audio":
                del self._items[index]
                self._audio_seconds -= queued.audio_seconds
                self.dropped_audio_chunks += 1
                self.dropped_audio_seconds += queued.audio_seconds
                return
        self._audio_seconds = 0.0  # pragma: no cover

    def push_front(self, items: list[OutboundItem]) -> None:
        """Put back frames that were not sent (or must be re-sent), ahead of everything."""
        for item in reversed(items):
            self._items.appendleft(item)
            if item.kind == "audio":
                self._audio_seconds += item.audio_seconds
            else:
                self._other += 1
        if items:
            self._readers.unpark()

    async def get(self) -> OutboundItem:
        """The next frame; waits until there is one."""
        while not self._items:
            await self._readers.park()
        await trio.lowlevel.checkpoint_if_cancelled()
        return self._pop()

    def get_nowait(self) -> OutboundItem | None:
        return self._pop() if self._items else None

    def _pop(self) -> OutboundItem:
        item = self._items.popleft()
        if item.kind == "audio":
            self._audio_seconds = max(0.0, self._audio_seconds - item.audio_seconds)
        else:
            self._other -= 1
            self._writers.unpark()
        return item

    def discard_kind(self, kind: str) -> list[OutboundItem]:
        """Forget the queued frames of ``kind`` (never audio); returns them, oldest first."""
        if kind == "audio":
            raise ValueError("audio is bounded by its budget, not discarded by kind")
        dropped = [item for item in self._items if item.kind == kind]
        if dropped:
            self._items = deque(item for item in self._items if item.kind != kind)
            self._other -= len(dropped)
            self._writers.unpark_all()
        return dropped

    @property
    def closed(self) -> bool:
        """:meth:`close` was called: ``put`` raises."""
        return self._closed is not None

    def close(self, error: BaseException) -> None:
        """Refuse further ``put``s with ``error``; wakes writers waiting for room."""
        if self._closed is None:
            self._closed = error
            self._writers.unpark_all()
