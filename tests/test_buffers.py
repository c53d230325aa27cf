"""Unit tests of the reconnection policy and the core's buffers of client frames (_buffers)."""

from __future__ import annotations

import random

import pytest

from trio_gemini_live import ReconnectPolicy
from trio_gemini_live._buffers import OutboundItem, Outbox, ReplayBuffer, TurnBuffer


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
        {"min_interval": -1},
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
    buffer.sent(item("one"))
    buffer.sent(item("context", "client_content"))  # content that starts no turn
    buffer.sent(item("two", "text"))  # realtime text is a turn too
    buffer.turn_completed()  # "one" answered (or interrupted)
    assert buffer.covered()  # a handle: includes "one", not what came after it
    assert [i.frame for i in buffer.take_resumed()] == ["context", "two"]


def test_turn_buffer_content_is_covered_once_a_later_turn_was_answered() -> None:
    # Issue 12 review: content sent just before a handle arrived is not in that handle's
    # state; it is known to be consumed once a turn sent after it was answered.
    buffer = TurnBuffer()
    buffer.sent(item("I live in Paris.", "client_content"))
    assert not buffer.covered()  # a handle arriving now may predate it
    buffer.sent(item("Where do I live?"))
    buffer.turn_completed()
    assert buffer.covered() and len(buffer) == 0


def test_turn_buffer_keeps_order_behind_an_unanswered_turn() -> None:
    buffer = TurnBuffer()
    buffer.sent(item("one"))
    buffer.sent(item("note", "client_content"))
    assert not buffer.covered()  # "one" not answered yet: nothing is covered
    assert len(buffer) == 2
    buffer.turn_completed()
    assert buffer.covered()
    assert len(buffer) == 1  # the note: no turn after it was answered yet


def test_turn_buffer_a_fresh_connection_gets_every_unanswered_turn_and_what_follows() -> None:
    # Issue 12: a turn sent before the first handle must not be lost on a fresh reconnect.
    buffer = TurnBuffer()
    buffer.sent(item("answered"))
    buffer.sent(item("context", "client_content"))
    buffer.sent(item("open"))
    buffer.sent(item("note", "client_content"))
    buffer.sent(item("typed", "text"))
    buffer.turn_completed()  # "answered"
    assert [i.frame for i in buffer.take_fresh()] == ["context", "open", "note", "typed"]
    assert len(buffer) == 0


def test_turn_buffer_a_fresh_connection_resends_nothing_that_was_answered() -> None:
    buffer = TurnBuffer()
    buffer.sent(item("context", "client_content"))
    buffer.sent(item("one"))
    buffer.turn_completed()
    assert buffer.take_fresh() == []
    # Context sent after the last answered turn is for the next turn: it goes again.
    buffer.sent(item("one"))
    buffer.turn_completed()
    buffer.sent(item("for later", "client_content"))
    assert [i.frame for i in buffer.take_fresh()] == ["for later"]


def test_outbox_keeps_order_across_its_two_lanes() -> None:
    box = Outbox(max_items=10, max_audio_seconds=10.0)
    names = ["a1", "t1", "a2", "a3", "t2", "a4"]
    for name in names:
        box.append(item(name, "audio" if name.startswith("a") else "text", 0.1))
    box.push_front([item("r1", "text"), item("r2", "audio", 0.1)])
    assert [i.frame for i in box] == ["r1", "r2", *names]  # a snapshot, nothing taken
    out = []
    while (popped := box.popleft()) is not None:
        out.append(popped.frame)
    assert out == ["r1", "r2", *names]
    assert box.audio_seconds == 0.0


def test_outbox_drops_the_oldest_audio_past_its_budget_whatever_precedes_it() -> None:
    box = Outbox(max_items=1000, max_audio_seconds=0.25)
    for n in range(500):
        box.append(item(f"t{n}", "text"))  # a long line of text ahead of the audio
    for n in range(5):
        box.append(item(f"a{n}", "audio", 0.1))
    assert box.dropped_audio_chunks == 3
    assert box.dropped_audio_seconds == pytest.approx(0.3)
    frames = []
    while (popped := box.popleft()) is not None:
        frames.append(popped.frame)
    assert frames[-2:] == ["a3", "a4"] and len(frames) == 502


def test_outbox_is_full_of_non_audio_only() -> None:
    box = Outbox(max_items=2, max_audio_seconds=1.0)
    box.append(item("a", "audio", 0.1))
    box.append(item("t1", "text"))
    assert not box.full
    box.append(item("t2", "tool_response"))
    assert box.full
    assert [i.frame for i in box.discard_kind("tool_response")] == ["t2"]
    assert not box.full
    with pytest.raises(ValueError):
        box.discard_kind("audio")
    assert [box.popleft().frame, box.popleft().frame] == ["a", "t1"]  # type: ignore[union-attr]


@pytest.mark.parametrize("kwargs", [{"max_items": 0}, {"max_audio_seconds": -1.0}])
def test_outbox_refuses_bad_bounds(kwargs: dict[str, float]) -> None:
    args = {"max_items": 1, "max_audio_seconds": 1.0, **kwargs}
    with pytest.raises(ValueError):
        Outbox(**args)  # type: ignore[arg-type]
