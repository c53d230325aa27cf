"""Unit tests of the reconnection policy and the buffers of frames to send again (_resume)."""

from __future__ import annotations

import random

import pytest

from trio_gemini_live import ReconnectPolicy
from trio_gemini_live._queues import OutboundItem
from trio_gemini_live._resume import ReplayBuffer, TurnBuffer


def item(name: str, kind: str = "client_turn", seconds: float = 0.0) -> OutboundItem:
    return OutboundItem(name, seconds, kind)


def test_backoff_first_attempt_immediate_then_exponential_with_jitter_and_cap() -> None:
    policy = ReconnectPolicy(initial_backoff=1.0, multiplier=2.0, max_backoff=5.0, jitter=0.1)
    rng = random.Random(3)
    assert policy.backoff(1, rng) == 0.0
    for attempt, base in [(2, 1.0), (3, 2.0), (4, 4.0), (5, 5.0), (9, 5.0)]:
        delay = policy.backoff(attempt, rng)
        assert base * 0.9 <= delay <= base * 1.1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"initial_backoff": -1},
        {"multiplier": 0.5},
        {"jitter": 1.0},
        {"go_away_margin": -1},
        {"stable_after": -1},
    ],
)
def test_invalid_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ReconnectPolicy(**kwargs)  # type: ignore[arg-type]


def test_replay_buffer_keeps_what_follows_the_acknowledged_index() -> None:
    buffer = ReplayBuffer()
    for index, name in enumerate("abcd", start=1):
        buffer.sent(index, item(name))
    buffer.acknowledge(2)
    assert [i.frame for i in buffer.take()] == ["c", "d"]
    assert len(buffer) == 0


def test_replay_buffer_drops_the_oldest_audio_beyond_its_budget_never_text() -> None:
    buffer = ReplayBuffer(max_audio_seconds=0.25)
    buffer.sent(1, item("a1", "audio", 0.1))
    buffer.sent(2, item("t", "client_turn"))
    buffer.sent(3, item("a2", "audio", 0.1))
    buffer.sent(4, item("a3", "audio", 0.1))
    assert [i.frame for i in buffer.take()] == ["t", "a2", "a3"]
    assert buffer.dropped_audio_chunks == 1
    assert buffer.dropped_audio_seconds == pytest.approx(0.1)


def test_replay_buffer_discards_a_kind_and_returns_it() -> None:
    buffer = ReplayBuffer()
    buffer.sent(1, item("r1", "tool_response"))
    buffer.sent(2, item("t"))
    buffer.sent(3, item("r2", "tool_response"))
    assert [i.frame for i in buffer.discard_kind("tool_response")] == ["r1", "r2"]
    assert [i.frame for i in buffer.take()] == ["t"]


def test_turn_buffer_a_handle_covers_answered_turns_only() -> None:
    buffer = TurnBuffer()
    buffer.sent(item("one"), turn=True)
    buffer.sent(item("context"), turn=False)  # content that starts no turn
    buffer.sent(item("two"), turn=True)
    buffer.turn_completed()  # "one" answered (or interrupted)
    buffer.covered()  # a handle: includes "one" and "context", not "two"
    assert [i.frame for i in buffer.take()] == ["two"]


def test_turn_buffer_keeps_order_behind_an_unanswered_turn() -> None:
    buffer = TurnBuffer()
    buffer.sent(item("one"), turn=True)
    buffer.sent(item("note"), turn=False)
    buffer.covered()  # "one" not answered yet: nothing is covered
    assert len(buffer) == 2
    buffer.turn_completed()
    buffer.covered()
    assert len(buffer) == 0
