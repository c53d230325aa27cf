"""Reconnection policy and the transparent-resumption replay buffer (PROTOCOL.md 5-7)."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from ._queues import OutboundItem

__all__ = ["ReconnectPolicy", "ReplayBuffer", "TurnBuffer"]


@dataclass(frozen=True, kw_only=True)
class ReconnectPolicy:
    """How a session survives the end of a connection.

    Resumption happens when the setup has ``session_resumption``: on ``goAway`` the session
    reconnects before the deadline at a safe point (no model turn or tool call in progress,
    when time allows), and on a transient drop (1006, 1011 internal/unavailable/deadline,
    1000 after goAway) it reconnects with exponential backoff and jitter. Fatal closes
    (1007, 1008, quota) are never retried.

    Args:
        max_attempts: consecutive failed attempts before giving up (the counter resets once
            a connection is ready again).
        initial_backoff: seconds before the second attempt (the first after a goAway or a
            drop is immediate).
        max_backoff: the cap of the exponential backoff.
        multiplier: backoff growth per attempt.
        jitter: the backoff is multiplied by a random factor in ``[1 - jitter, 1 + jitter]``.
        go_away_margin: reconnect at the latest this many seconds before the goAway deadline
            (capped to half the time left).
        stable_after: a connection that stayed ready this long (or ended by goAway) resets
            the attempt count; shorter ones count against ``max_attempts``, so a server that
            accepts the setup and drops at once meets the backoff, not a reconnect loop.
        seed: seed of the jitter's random generator (tests).
    """

    max_attempts: int = 8
    initial_backoff: float = 0.25
    max_backoff: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.2
    go_away_margin: float = 5.0
    stable_after: float = 10.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.multiplier < 1:
            raise ValueError("backoffs must be >= 0 and multiplier >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.go_away_margin < 0 or self.stable_after < 0:
            raise ValueError("go_away_margin and stable_after must be >= 0")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before attempt number ``attempt`` (1-based; attempt 1 waits 0)."""
        if attempt <= 1:
            return 0.0
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 2))
        return base * rng.uniform(1 - self.jitter, 1 + self.jitter)


class ReplayBuffer:
    """Frames sent on the current connection that the server has not yet acknowledged.

    With transparent resumption (Vertex) the server reports
    ``lastConsumedClientMessageIndex``: the index, on the connection, of the last client
    message its state includes (``setup`` is index 0, so the first message after it is 1).
    Frames after that index are re-sent, exactly once, on the next connection.

    Audio is bounded as in the outbound queue: beyond ``max_audio_seconds`` the oldest
    audio frame goes (counted); other frames are never dropped.
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
        if item.kind == "audio":
            self._audio_seconds += item.audio_seconds
            while self._audio_seconds > self._max_audio_seconds + 1e-9:
                self._drop_oldest_audio()

    def _drop_oldest_audio(self) -> None:
        for position, (_, queued) in enumerate(self._frames):
            if queued.kind == "audio":
                del self._frames[position]
                self._audio_seconds -= queued.audio_seconds
                self.dropped_audio_chunks += 1
                self.dropped_audio_seconds += queued.audio_seconds
                return
        self._audio_seconds = 0.0  # pragma: no cover - the sum tracks the frames

    def acknowledge(self, index: int) -> None:
        """The server's state includes every frame up to ``index``."""
        while self._frames and self._frames[0][0] <= index:
            _, item = self._frames.popleft()
            if item.kind == "audio":
                self._audio_seconds -= item.audio_seconds

    def discard_kind(self, kind: str) -> list[OutboundItem]:
        """Forget the frames of ``kind``; returns them, oldest first."""
        dropped = [item for _, item in self._frames if item.kind == kind]
        if dropped:
            self._frames = deque(entry for entry in self._frames if entry[1].kind != kind)
        return dropped

    def take(self) -> list[OutboundItem]:
        """The unacknowledged frames, oldest first; the buffer is emptied."""
        items = [item for _, item in self._frames]
        self.clear()
        return items

    def clear(self) -> None:
        self._frames.clear()
        self._audio_seconds = 0.0


class TurnBuffer:
    """The user's words a resumption handle may not include (no transparent resumption).

    The server only issues a resumable handle between model turns (``resumable: false``
    while it generates or waits on tools, PROTOCOL.md 4), so a handle covers every user turn
    the model already finished answering, and nothing after the oldest turn it has not: a
    turn sent while the model was still busy (queued, or in flight when the handle was
    made) is not covered, and would be lost by a resume with that handle. So each sent text
    turn is kept until its ``turnComplete`` (one per turn, in order) *and* a later handle;
    content that starts no turn is covered by the next handle. :meth:`take` gives what a
    resume must send again, in the order it was first sent.
    """

    def __init__(self) -> None:
        # [frame, answered]: content that starts no turn counts as answered at once.
        self._entries: deque[list[Any]] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def sent(self, item: OutboundItem, *, turn: bool) -> None:
        self._entries.append([item, not turn])

    def turn_completed(self) -> None:
        """A ``turnComplete``: the oldest unanswered turn was answered (or interrupted)."""
        for entry in self._entries:
            if not entry[1]:
                entry[1] = True
                return

    def covered(self) -> None:
        """A resumable handle: it includes every answered entry before the first unanswered."""
        while self._entries and self._entries[0][1]:
            self._entries.popleft()

    def take(self) -> list[OutboundItem]:
        """What a resume must send again, oldest first; the buffer is emptied."""
        items = [entry[0] for entry in self._entries]
        self._entries.clear()
        return items

    def clear(self) -> None:
        self._entries.clear()
