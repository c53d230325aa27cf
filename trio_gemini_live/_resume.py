"""The reconnection policy (PROTOCOL.md 5-7); the protocol core (``_protocol``) applies it."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["ReconnectPolicy"]


@dataclass(frozen=True, kw_only=True)
class ReconnectPolicy:
    """How a session survives the end of a connection.

    Resumption happens when the setup has ``session_resumption``: on ``goAway`` the session
    reconnects before the deadline at a safe point (no model turn or tool call in progress,
    when time allows), and on a transient drop (1006, 1011 internal/unavailable/deadline,
    1000 after goAway) it reconnects with exponential backoff and jitter. Fatal closes
    (1007, 1008, quota) are never retried.

    Every reconnection counts against ``max_attempts``, those after a goAway included; a
    connection that did useful work (a turn completed, a new resumable handle, or ready for
    ``stable_after`` seconds) gives the budget back. So a server that ends every connection
    at once (with a goAway right after the setup, or a drop) meets the backoff and then a
    final error: never a reconnect loop (issue 12).

    Args:
        max_attempts: reconnections without useful work before giving up.
        initial_backoff: seconds before the second attempt (the first after a goAway or a
            drop waits only for ``min_interval``).
        max_backoff: the cap of the exponential backoff.
        multiplier: backoff growth per attempt.
        jitter: the backoff is multiplied by a random factor in ``[1 - jitter, 1 + jitter]``.
        go_away_margin: reconnect at the latest this many seconds before the goAway deadline
            (capped to half the time left).
        stable_after: a connection that stayed ready this long did useful work (see above).
        min_interval: seconds at least between the starts of two connections.
        seed: seed of the jitter's random generator (tests).
    """

    max_attempts: int = 8
    initial_backoff: float = 0.25
    max_backoff: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.2
    go_away_margin: float = 5.0
    stable_after: float = 10.0
    min_interval: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.multiplier < 1:
            raise ValueError("backoffs must be >= 0 and multiplier >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.go_away_margin < 0 or self.stable_after < 0 or self.min_interval < 0:
            raise ValueError("go_away_margin, stable_after and min_interval must be >= 0")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before attempt number ``attempt`` (1-based; attempt 1 waits 0)."""
        if attempt <= 1:
            return 0.0
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 2))
        return base * rng.uniform(1 - self.jitter, 1 + self.jitter)
