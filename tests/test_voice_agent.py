"""The voice-agent layer through the session (issue 14): the conversation record, re-seeding
a fresh connection from it, and a graceful end that waits for the model's last words."""

from __future__ import annotations

import trio
import trio.testing

from trio_gemini_live import LiveConfig, ReconnectPolicy, Turn
from trio_gemini_live import events as ev
from trio_gemini_live.testing import LiveEmulator

from .conftest import API_KEY

TEXT = LiveConfig(response_modalities=["TEXT"])


async def until(session: object, kind: type, seen: list[ev.Event] | None = None) -> (
    list[ev.Event]
):
    seen = [] if seen is None else seen
    async for event in session.events():  # type: ignore[attr-defined]
        seen.append(event)
        if isinstance(event, kind):
            break
    return seen


def said(events: list[ev.Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, ev.TextChunk))


async def test_the_conversation_is_recorded_turn_by_turn(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emu = LiveEmulator(api_key=API_KEY)
    await nursery.start(emu.serve_in_memory)
    with trio.fail_after(60):
        async with emu.open_session(nursery, in_memory=True, config=TEXT) as session:
            assert session.conversation == ()
            await session.send_client_content("Hello there")
            answer = await until(session, ev.TurnComplete)
            await session.send_realtime_input(text="and again")
            await until(session, ev.TurnComplete)
            turns = session.conversation
    assert [(t.role, t.cut) for t in turns] == [
        ("user", False), ("model", False), ("user", False), ("model", False)
    ]
    assert turns[0].text == "Hello there" and turns[2].text == "and again"
    assert turns[1].text == said(answer)
    assert all(isinstance(t, Turn) for t in turns)


async def test_the_record_is_bounded_and_can_be_off(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emu = LiveEmulator(api_key=API_KEY)
    await nursery.start(emu.serve_in_memory)
    with trio.fail_after(60):
        async with emu.open_session(
            nursery, in_memory=True, config=TEXT, conversation_turns=3
        ) as session:
            for n in range(3):
                await session.send_client_content(f"turn {n}")
                await until(session, ev.TurnComplete)
            assert [t.text for t in session.conversation if t.role == "user"] == ["turn 2"]
            assert len(session.conversation) == 3
        async with emu.open_session(
            nursery, in_memory=True, config=TEXT, conversation_turns=0
        ) as session:
            await session.send_client_content("not kept")
            await until(session, ev.TurnComplete)
            assert session.conversation == ()


async def test_a_fresh_reconnection_is_reseeded_from_the_conversation(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    # Without resumption a reconnection starts a new server session that remembers nothing
    # (pipecat #4355, #4328): the session sends the conversation so far as history.
    emu = LiveEmulator(api_key=API_KEY)
    await nursery.start(emu.serve_in_memory)
    with trio.fail_after(60):
        async with emu.open_session(
            nursery, in_memory=True, config=TEXT, reconnect=ReconnectPolicy()
        ) as session:
            await session.send_client_content("My name is Ada")
            first = await until(session, ev.TurnComplete)
            await emu.drop()
            seen = await until(session, ev.Reconnected)
            assert seen[-1] == ev.Reconnected(resumed=False, resent_turns=0)
            await session.send_client_content("What is my name?")
            second = await until(session, ev.TurnComplete)
    assert len(emu.connections) == 2
    assert emu.connections[1].session_key != emu.connections[0].session_key
    # The new server session got the first exchange as history, before the new turn ...
    history = emu.history(emu.connections[1].session_key)
    assert history[:2] == [
        {"role": "user", "text": "My name is Ada"},
        {"role": "model", "text": said(first)},
    ]
    assert history[2] == {"role": "user", "text": "What is my name?"}
    # ... and as history: the model did not answer it again, only the new question.
    assert 'I heard: "What is my name?"' in said(second)
    assert "Ada" not in said(second)
    first_message = emu.connections[1].received[1]
    assert first_message["clientContent"]["turnComplete"] is False


async def test_reseeding_can_be_turned_off(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emu = LiveEmulator(api_key=API_KEY)
    await nursery.start(emu.serve_in_memory)
    with trio.fail_after(60):
        async with emu.open_session(
            nursery, in_memory=True, config=TEXT, reconnect=ReconnectPolicy(),
            reseed_conversation=False,
        ) as session:
            await session.send_client_content("My name is Ada")
            await until(session, ev.TurnComplete)
            await emu.drop()
            await until(session, ev.Reconnected)
            await session.send_client_content("What is my name?")
            await until(session, ev.TurnComplete)
    assert emu.history(emu.connections[1].session_key)[0] == {
        "role": "user", "text": "What is my name?"
    }


async def test_aclose_can_wait_for_the_goodbye_to_be_spoken(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emu = LiveEmulator(api_key=API_KEY, text_chunk_delay=1.0)
    await nursery.start(emu.serve_in_memory)
    seen: list[ev.Event] = []

    async def read(session: object) -> None:
        async for event in session.events():  # type: ignore[attr-defined]
            seen.append(event)

    with trio.fail_after(60):
        async with trio.open_nursery() as inner, emu.open_session(
            inner, in_memory=True, config=TEXT
        ) as session:
            inner.start_soon(read, session)
            await session.send_client_content("Goodbye, and thank you for everything")
            start = trio.current_time()
            await session.aclose(finish_turn=30)
            waited = trio.current_time() - start
    kinds = [type(e) for e in seen]
    assert kinds[-1] is ev.SessionClosed
    assert ev.TurnComplete in kinds  # the whole answer arrived before the close
    assert "Goodbye" in said(seen)
    assert 1.0 < waited < 30  # it waited for the chunks, not for the bound
    assert emu.connections[0].close_code == 1000
    sent = emu.connections[0].sent_messages()
    assert any(m.get("serverContent", {}).get("turnComplete") for m in sent)


async def test_aclose_finish_turn_is_bounded(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emu = LiveEmulator(api_key=API_KEY)
    await nursery.start(emu.serve_in_memory)
    with trio.fail_after(60):
        async with emu.open_session(nursery, in_memory=True, config=TEXT) as session:
            emu.pause()  # the model never answers
            await session.send_client_content("are you there?")
            start = trio.current_time()
            await session.aclose(finish_turn=2.0)
            waited = trio.current_time() - start
            emu.resume()
    assert 2.0 <= waited < 2.0 + 3.5  # the bound, then the close handshake's own bound
    assert session.statistics().status.name == "CLOSED"
