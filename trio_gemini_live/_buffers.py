"""The protocol core's buffers of client frames (pure: no Trio, no I/O).

The core (:mod:`._protocol`) owns one of each:

* :class:`Outbox`: encoded frames waiting for the socket, in order. The Trio layer
  (``_queues.OutboundQueue``) only adds the waiting: ``send_*`` waits while the outbox is
  full of non-audio frames, the send task waits while it is empty.
* :class:`ReplayBuffer`: with transparent resumption (Vertex), the frames written on the
  current connection that the server has not acknowledged yet.
* :class:`TurnBuffer`: without it, the user's words that the latest resumable handle may not
  include, and the turns not yet answered.

Audio is real time: beyond a budget in seconds the oldest queued audio goes, and is counted.
Nothing else is ever dropped here. Every operation is O(1) per frame (issue 12: dropping the
oldest audio used to scan past every queued frame that was not audio).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Final

import msgspec

__all__ = [
    "ACTIVITY",
    "AUDIO",
    "CONTENT",
    "CONTEXT",
    "FLUSH",
    "HISTORY",
    "TEXT",
    "TOOL_RESPONSE",
    "TURN",
    "VIDEO",
    "OutboundItem",
    "Outbox",
    "ReplayBuffer",
    "TurnBuffer",
]

# The kinds of client frame (OutboundItem.kind).
AUDIO: Final = "audio"
VIDEO: Final = "video"
#: ``realtimeInput.text``: the model answers it with a turn of its own.
TEXT: Final = "text"
#: ``clientContent`` with ``turnComplete: true``: a turn the model answers.
TURN: Final = "client_turn"
#: ``clientContent`` with ``turnComplete: false``: context, no answer yet.
CONTENT: Final = "client_content"
#: The initial history (or the conversation re-seeded on a fresh connection).
HISTORY: Final = "history"
TOOL_RESPONSE: Final = "tool_response"
#: ``activityStart``, ``activityEnd``, ``audioStreamEnd``.
ACTIVITY: Final = "activity"
CONTEXT: Final = "context_update"
#: A marker with no frame: the send task finishes a partial direct write (issue 7).
FLUSH: Final = "flush"

#: The user's words: what a resume without transparent resumption must send again.
WORDS: Final = frozenset({TEXT, TURN, CONTENT})
#: Of those, the ones the model answers with a turn.
TURNS: Final = frozenset({TEXT, TURN})


class OutboundItem(msgspec.Struct, gc=False):
    """One encoded client frame (``gc=False``: it holds only strings and numbers)."""

    frame: str
    audio_seconds: float = 0.0
    kind: str = "other"
    #: For a tool response: the ids of the calls it answers.
    call_ids: tuple[str, ...] = ()
    #: The model answers this frame (a turn, ``activityEnd``, a tool response it reads).
    answered_by_model: bool = False
    #: Its place in the :class:`Outbox` while queued there (set by the outbox).
    seq: int = 0


class Outbox:
    """Frames for the socket, in order; audio over its budget is dropped oldest first.

    Two lanes (audio, everything else), each item carrying its sequence number
    (``OutboundItem.seq``), so that the oldest audio frame is found in O(1) whatever is
    queued before it, while ``popleft`` still returns frames in the order they were added.

    Args:
        max_items: non-audio frames queued before :attr:`full` (the Trio layer waits).
        max_audio_seconds: seconds of audio kept queued; the oldest beyond it is dropped.
    """

    def __init__(self, max_items: int, max_audio_seconds: float) -> None:
        if max_items < 1:
            raise ValueError("max_items must be >= 1")
        if max_audio_seconds < 0:
            raise ValueError("max_audio_seconds must be >= 0")
        self.max_items = max_items
        self.max_audio_seconds = max_audio_seconds
        self._audio: deque[OutboundItem] = deque()
        self._other: deque[OutboundItem] = deque()
        self._next = 0
        self._front = 0
        self.audio_seconds = 0.0
        self.dropped_audio_chunks = 0
        self.dropped_audio_seconds = 0.0

    def __len__(self) -> int:
        return len(self._audio) + len(self._other)

    def __iter__(self) -> Iterator[OutboundItem]:
        """The queued frames, oldest first (a snapshot; for inspection, not the hot path)."""
        return iter(sorted([*self._audio, *self._other], key=lambda item: item.seq))

    @property
    def full(self) -> bool:
        """``max_items`` non-audio frames are queued: ``send_*`` of one more must wait."""
        return len(self._other) >= self.max_items

    def append(self, item: OutboundItem) -> None:
        """Queue ``item`` last. Audio over the budget drops the oldest audio (counted)."""
        item.seq = seq = self._next
        self._next = seq + 1
        if item.kind == AUDIO:
            self._audio.append(item)
            self.audio_seconds += item.audio_seconds
            while self.audio_seconds > self.max_audio_seconds + 1e-9 and self._audio:
                dropped = self._audio.popleft()
                self.audio_seconds -= dropped.audio_seconds
                self.dropped_audio_chunks += 1
                self.dropped_audio_seconds += dropped.audio_seconds
            if not self._audio:
                self.audio_seconds = 0.0
        else:
            self._other.append(item)

    def push_front(self, items: Iterable[OutboundItem]) -> None:
        """Put frames back ahead of everything, in the order given (not sent, or resent)."""
        for item in reversed(list(items)):
            self._front -= 1
            item.seq = self._front
            if item.kind == AUDIO:
                self._audio.appendleft(item)
                self.audio_seconds += item.audio_seconds
            else:
                self._other.appendleft(item)

    def popleft(self) -> OutboundItem | None:
        """The oldest frame, or ``None`` when empty."""
        audio, other = self._audio, self._other
        if audio and (not other or audio[0].seq < other[0].seq):
            item = audio.popleft()
            self.audio_seconds = self.audio_seconds - item.audio_seconds if audio else 0.0
            return item
        if other:
            return other.popleft()
        return None

    def discard_kind(self, kind: str) -> list[OutboundItem]:
        """Forget the queued non-audio frames of ``kind``; returns them, oldest first."""
        if kind == AUDIO:
            raise ValueError("audio is bounded by its budget, not discarded by kind")
        dropped = [i for i in self._other if i.kind == kind]
        if dropped:
            self._other = deque(i for i in self._other if i.kind != kind)
        return dropped


class ReplayBuffer:
    """Frames written on the current connection that the server has not acknowledged.

    With transparent resumption (Vertex) the server reports
    ``lastConsumedClientMessageIndex``: the index, on the connection, of the last client
    message its state includes (``setup`` is index 0, so the first message after it is 1).
    Frames after that index are sent again, exactly once, on the next connection.

    Audio is bounded as in the outbox: beyond ``max_audio_seconds`` the oldest audio frame
    goes (counted); other frames are never dropped.
    """

    def __init__(self, max_audio_seconds: float = float("inf")) -> None:
        self._frames: deque[tuple[int, OutboundItem]] = deque()
        self._max_audio_seconds = max_audio_seconds
        self._audio_seconds = 0.0
        self.dropped_audio_chunks = 0
        self.dropped_audio_seconds = 0.0

    def __len__(self) -> int:
        return len(self._frames)

    def sent(self, index: int, item: OutboundItem) -> None:
        self._frames.append((index, item))
        if item.kind == AUDIO:
            self._audio_seconds += item.audio_seconds
            while self._audio_seconds > self._max_audio_seconds + 1e-9:
                self._drop_oldest_audio()

    def _drop_oldest_audio(self) -> None:
        # The scan stops at the first audio frame: what precedes it is unacknowledged
        # non-audio, bounded by the outbox's own bound per acknowledgement period.
        for position, (_, queued) in enumerate(self._frames):
            if queued.kind == AUDIO:
                del self._frames[position]
                self._audio_seconds -= queued.audio_seconds
                self.dropped_audio_chunks += 1
                self.dropped_audio_seconds += queued.audio_seconds
                return
        self._audio_seconds = 0.0  # pragma: no cover - the sum tracks the frames

    def acknowledge(self, index: int) -> bool:
        """The server's state includes every frame up to ``index``; whether any was new."""
        acknowledged = False
        while self._frames and self._frames[0][0] <= index:
            _, item = self._frames.popleft()
            acknowledged = True
            if item.kind == AUDIO:
                self._audio_seconds -= item.audio_seconds
        return acknowledged

    def discard_kind(self, kind: str) -> list[OutboundItem]:
        """Forget the frames of ``kind``; returns them, oldest first."""
        dropped = [item for _, item in self._frames if item.kind == kind]
        if dropped:
            self._frames = deque(entry for entry in self._frames if entry[1].kind != kind)
        return dropped

    def take(self) -> list[OutboundItem]:
        """The unacknowledged frames, oldest first; the buffer is emptied."""
        items = [item for _, item in self._frames]
        self._frames.clear()
        self._audio_seconds = 0.0
        return items


class _Entry:
    __slots__ = ("answered", "item")

    def __init__(self, item: OutboundItem, answered: bool) -> None:
        self.item = item
        self.answered = answered


class TurnBuffer:
    """The user's words a resumption handle may not include, and the turns not yet answered.

    The server only issues a resumable handle between model turns (``resumable: false``
    while it generates or waits on tools, PROTOCOL.md 4), so a handle covers every user turn
    the model already finished answering, and nothing after the oldest turn it has not: a
    turn sent while the model was still busy is not covered, and would be lost by a resume
    with that handle. So each sent turn is kept until its ``turnComplete`` (one per turn, in
    order) *and* a later handle; content that starts no turn (and the initial history), until
    a turn sent after it was answered and a handle came after that (the server takes input
    in order). Rather sent twice than lost.

    * :meth:`take_resumed`: what a resume with the latest handle must send again (every
      entry, in the order first sent).
    * :meth:`take_fresh`: what a fresh connection (no handle: the model remembers nothing)
      must send again: everything sent after the last turn known to be answered (issue 12:
      a turn sent before the first handle was lost on a drop).
    """

    def __init__(self) -> None:
        self._entries: deque[_Entry] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def sent(self, item: OutboundItem) -> None:
        # Content that starts no turn is known to be in the server's state only once a
        # later turn was answered (the server takes input in order): until then a handle
        # may predate it (issue 12 review: it arrived just after the content was sent).
        self._entries.append(_Entry(item, False))

    def unsend(self, items: Iterable[OutboundItem]) -> None:
        """Forget ``items`` (the last ones sent: a write that failed); they go out again."""
        gone = {id(item) for item in items}
        while self._entries and id(self._entries[-1].item) in gone:
            self._entries.pop()

    def turn_completed(self) -> None:
        """A ``turnComplete``: the oldest unanswered turn was answered (or interrupted), and
        the content sent before it was consumed."""
        for entry in self._entries:
            if not entry.answered:
                entry.answered = True
                if entry.item.kind in TURNS:
                    return

    def covered(self) -> bool:
        """A resumable handle: it includes every answered entry before the first unanswered.

        Returns whether it covered anything (a handle that does is useful work).
        """
        covered = False
        while self._entries and self._entries[0].answered:
            self._entries.popleft()
            covered = True
        return covered

    def take_resumed(self) -> list[OutboundItem]:
        """Everything the latest handle may not include, in the order first sent."""
        items = [entry.item for entry in self._entries]
        self._entries.clear()
        return items

    def take_fresh(self) -> list[OutboundItem]:
        """Everything sent after the last turn known to be answered, in order (a fresh
        connection: the turns not answered, and the context sent for them)."""
        entries = list(self._entries)
        self._entries.clear()
        start = 0
        for index, entry in enumerate(entries):
            if entry.answered:
                start = index + 1
        return [entry.item for entry in entries[start:]]
