"""The conversation record (issue 14): turns from fragments, cuts, tool calls, bounds, and the
history it re-seeds a fresh connection with. Pure: scripted events and timestamps."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import trio

from trio_gemini_live import Content, FunctionCall, FunctionResponse, LiveConfig, Part
from trio_gemini_live import events as ev
from trio_gemini_live._transcript import ConversationRecord, Turn, history_from_turns
from trio_gemini_live.testing import LiveEmulator

CALL = FunctionCall(id="fc_1", name="get_weather", args={"city": "Paris"})
RESULT = FunctionResponse(id="fc_1", name="get_weather", response={"output": {"celsius": 21}})


def feed(record: ConversationRecord, *items: tuple[float, ev.Event]) -> None:
    for now, event in items:
        record.event(event, now)


def brief(record: ConversationRecord) -> list[tuple[str, str, bool]]:
    return [(t.role, t.text, t.cut) for t in record.turns]


def test_a_spoken_exchange_joins_fragments() -> None:
    record = ConversationRecord()
    feed(record,
         (1.0, ev.InputTranscription(text="What's the ")),
         (1.1, ev.InputTranscription(text="time?", finished=True)),
         (1.5, ev.AudioChunk(data=b"\0\0")),
         (1.6, ev.OutputTranscription(text="It is ")),
         (1.7, ev.OutputTranscription(text="noon.")),
         (1.8, ev.GenerationComplete()),
         (1.9, ev.UsageUpdate(usage=ev.Usage(response_tokens=3))),
         (2.0, ev.TurnComplete()))
    assert record.turns == (
        Turn(role="user", text="What's the time?", started_at=1.0, ended_at=1.1),
        Turn(role="model", text="It is noon.", started_at=1.6, ended_at=2.0),
    )


def test_text_turns_and_thoughts() -> None:
    record = ConversationRecord()
    record.user_text("Hello", 0.0)
    feed(record,
         (0.5, ev.TextChunk(text="thinking...", thought=True)),
         (0.6, ev.TextChunk(text="Hi ")),
         (0.7, ev.TextChunk(text="there.")),
         (0.8, ev.TurnComplete()))
    assert brief(record) == [("user", "Hello", False), ("model", "Hi there.", False)]
    # Text wins over a transcript of the same turn (no duplicates).
    feed(record, (1.0, ev.TextChunk(text="A")), (1.1, ev.OutputTranscription(text="a")),
         (1.2, ev.TurnComplete()))
    assert record.turns[-1].text == "A"


def test_content_without_turn_complete_stays_one_turn() -> None:
    record = ConversationRecord()
    record.user_text("part one", 0.0, turn_complete=False)
    assert record.turns == ()  # in progress
    record.client_content([Content(role="user", parts=[Part(text="part two")])], 1.0)
    assert record.turns == (
        Turn(role="user", text="part one\npart two", started_at=0.0, ended_at=1.0),
    )


def test_client_content_records_supplied_model_turns() -> None:
    record = ConversationRecord()
    record.client_content([
        Content(role="user", parts=[Part(text="Hi")]),
        Content(role="model", parts=[Part(text="Hello!")]),
        Content(role="user", parts=[Part(inline_data=None)]),
    ], 0.0, turn_complete=False)
    assert brief(record) == [("user", "Hi", False), ("model", "Hello!", False)]


def test_barge_in_cuts_the_model_and_starts_a_user_turn_after_it() -> None:
    record = ConversationRecord()
    record.user_text("Tell me a story", 0.0)
    feed(record,
         (1.0, ev.OutputTranscription(text="Once upon ")),
         (1.5, ev.InputTranscription(text="Stop")),
         (1.6, ev.Interrupted()),
         (1.7, ev.TurnComplete()),
         (2.0, ev.InputTranscription(text=" please.")),
         (2.5, ev.OutputTranscription(text="Sure.")),
         (3.0, ev.TurnComplete()))
    assert brief(record) == [
        ("user", "Tell me a story", False),
        ("model", "Once upon ", True),
        ("user", "Stop please.", False),
        ("model", "Sure.", False),
    ]


def test_late_input_transcription_goes_before_the_answer() -> None:
    # PROTOCOL.md 4: input transcription has no guaranteed order relative to the rest.
    record = ConversationRecord()
    feed(record,
         (1.0, ev.OutputTranscription(text="Paris.")),
         (1.2, ev.InputTranscription(text="Capital of France?")),
         (1.5, ev.TurnComplete()))
    assert brief(record) == [("user", "Capital of France?", False), ("model", "Paris.", False)]
    # Even after the answer completed, a fragment that comes late starts the next turn.
    feed(record, (2.0, ev.InputTranscription(text="Thanks", finished=True)))
    assert brief(record)[-1] == ("user", "Thanks", False)


def test_tool_calls_and_results_in_order() -> None:
    record = ConversationRecord()
    record.user_text("Weather in Paris?", 0.0)
    feed(record, (1.0, ev.ToolCall(calls=(CALL,))))
    record.tool_results([RESULT], 2.0)
    feed(record, (3.0, ev.OutputTranscription(text="21 degrees.")), (3.5, ev.TurnComplete()))
    turns = record.turns
    assert [t.role for t in turns] == ["user", "model", "tool", "model"]
    assert turns[1].tool_calls == (CALL,) and turns[1].text == ""
    assert turns[2].tool_results == (RESULT,)
    assert turns[3].text == "21 degrees."


def test_connection_lost_cuts_what_was_in_progress() -> None:
    record = ConversationRecord()
    feed(record, (1.0, ev.InputTranscription(text="Hello")),
         (1.5, ev.OutputTranscription(text="Hi, how")))
    record.connection_lost(2.0)
    # The user's turn was answered (complete); the model's was cut.
    assert brief(record) == [("user", "Hello", False), ("model", "Hi, how", True)]
    feed(record, (3.0, ev.InputTranscription(text="Are you")))
    record.connection_lost(4.0)
    assert brief(record)[-1] == ("user", "Are you", True)
    assert record.turns[-1].ended_at == 4.0


def test_bounded_by_turns_and_characters() -> None:
    record = ConversationRecord(3, max_turn_chars=10)
    for i in range(5):
        record.user_text(f"question {i}", float(i))
    assert [t.text for t in record.turns] == ["question 2", "question 3", "question 4"]
    feed(record, (9.0, ev.OutputTranscription(text="a" * 8)),
         (9.1, ev.OutputTranscription(text="b" * 8)),
         (9.2, ev.OutputTranscription(text="c")), (9.3, ev.TurnComplete()))
    assert record.turns[-1].text == "a" * 8 + "b…"
    assert len(record.turns) == 3


def test_off_keeps_nothing() -> None:
    record = ConversationRecord(0)
    assert not record.enabled
    record.user_text("hi", 0.0)
    feed(record, (1.0, ev.TextChunk(text="yo")), (2.0, ev.TurnComplete()))
    record.tool_results([RESULT], 3.0)
    assert record.turns == ()
    assert record.as_history() == []


def test_snapshot_is_immutable_and_clear_forgets() -> None:
    record = ConversationRecord()
    record.user_text("hi", 0.0)
    snapshot = record.turns
    assert isinstance(snapshot, tuple)
    with pytest.raises(AttributeError):
        snapshot[0].text = "changed"  # type: ignore[misc]
    record.user_text("again", 1.0)
    assert len(snapshot) == 1 and len(record.turns) == 2
    record.clear()
    assert record.turns == ()


@pytest.mark.parametrize("kwargs", [{"max_turns": -1}, {"max_turns": True},
                                    {"max_turn_chars": 0}])
def test_bad_bounds(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ConversationRecord(**kwargs)


# --- history ---------------------------------------------------------------------------------


def texts(history: list[Content]) -> list[tuple[str | None, str | None]]:
    return [(c.role, (c.parts or [Part()])[0].text) for c in history]


def test_history_renders_tools_as_text_and_skips_empty_turns() -> None:
    record = ConversationRecord()
    record.user_text("Weather in Paris?", 0.0)
    feed(record, (1.0, ev.ToolCall(calls=(CALL,))))
    record.tool_results([RESULT], 2.0)
    feed(record, (3.0, ev.AudioChunk(data=b"\0\0")), (3.5, ev.TurnComplete()))  # no transcript
    record.user_text("Thanks", 4.0)
    history = record.as_history()
    assert texts(history) == [
        ("user", "Weather in Paris?"),
        ("model", '[tool call get_weather({"city":"Paris"}) -> {"output":{"celsius":21}}]'),
        ("user", "Thanks"),
    ]
    # Nothing the server refuses in clientContent (PROTOCOL.md 3.2): text parts only.
    for content in history:
        assert content.role in ("user", "model")
        for part in content.parts or ():
            assert part.function_call is None and part.function_response is None
            assert part.text
    assert texts(record.as_history(tools="drop")) == [("user", "Weather in Paris?\nThanks")]


def test_history_bounds_and_starts_with_the_user() -> None:
    turns = [
        Turn(role="model", text="Welcome!", started_at=0, ended_at=0),
        Turn(role="user", text="u" * 10, started_at=1, ended_at=1),
        Turn(role="model", text="m" * 10, started_at=2, ended_at=2),
        Turn(role="user", text="v" * 10, started_at=3, ended_at=3),
    ]
    assert texts(history_from_turns(turns)) == [
        ("user", "u" * 10), ("model", "m" * 10), ("user", "v" * 10)]
    # 25 characters: the last two turns fit; the model one is then first and dropped.
    assert texts(history_from_turns(turns, max_chars=25)) == [("user", "v" * 10)]
    # A single turn longer than the budget keeps its end.
    assert texts(history_from_turns(turns[3:], max_chars=4)) == [("user", "…vvv")]
    long_call = FunctionCall(id="x", name="f", args={"q": "z" * 100})
    (content,) = history_from_turns(
        [Turn(role="user", text="go", started_at=0, ended_at=0),
         Turn(role="model", tool_calls=(long_call,), started_at=1, ended_at=1)],
        max_tool_chars=30)[1:]
    text = (content.parts or [Part()])[0].text or ""
    assert len(text) == 30 and text.endswith("…]") and "no result" not in text
    with pytest.raises(ValueError):
        history_from_turns(turns, tools="json")  # type: ignore[arg-type]


def test_turns_are_msgspec_serialisable() -> None:
    # An application can save a conversation and seed a later session with it.
    record = ConversationRecord()
    record.user_text("Hi", 0.0)
    feed(record, (1.0, ev.ToolCall(calls=(CALL,))))
    record.tool_results([RESULT], 2.0)
    saved = msgspec.json.encode(record.turns)
    assert msgspec.json.decode(saved, type=tuple[Turn, ...]) == record.turns


async def test_history_is_accepted_by_the_emulator_and_remembered(
        live_emulator: LiveEmulator, nursery: trio.Nursery) -> None:
    """The rendered history travels as clientContent without a 1007, and the model's
    conversation continues from it (the emulator counts the turns it remembers)."""
    record = ConversationRecord()
    record.user_text("What is the weather?", 0.0)
    feed(record, (1.0, ev.ToolCall(calls=(CALL,))))
    record.tool_results([RESULT], 2.0)
    feed(record, (3.0, ev.TextChunk(text="It is 21 degrees.")), (3.5, ev.TurnComplete()))
    config = LiveConfig(response_modalities=["TEXT"])
    with trio.fail_after(10):
        async with live_emulator.open_session(nursery, config=config, in_memory=True) as session:
            await session.send_client_content(record.as_history(), turn_complete=False)
            await session.send_client_content("And tomorrow?")
            answer = []
            async for event in session.events():
                if isinstance(event, ev.TextChunk):
                    answer.append(event.text)
                elif isinstance(event, ev.TurnComplete):
                    break
    assert "".join(answer) == 'I heard: "And tomorrow?". This is turn 1 of our conversation.'
    history = live_emulator.history()
    assert history[:2] == [
        {"role": "user", "text": "What is the weather?"},
        {"role": "model", "text": '[tool call get_weather({"city":"Paris"}) -> '
                                  '{"output":{"celsius":21}}]\nIt is 21 degrees.'},
    ]


async def test_a_real_conversation_recorded_and_carried_to_a_fresh_session(
        live_emulator: LiveEmulator, nursery: trio.Nursery) -> None:
    """Fed the way the session will feed it (sends, then every event), from an emulator
    conversation: a text turn, a spoken turn, a tool call. Its history then seeds a fresh
    session, as re-seeding after a lost resumption handle will (issue 14)."""
    from trio_gemini_live.testing import speech_like_pcm

    config = LiveConfig(
        response_modalities=["AUDIO"], input_audio_transcription={},
        output_audio_transcription={},
        tools=[{"function_declarations": [{"name": "get_weather", "parameters": {
            "type": "OBJECT", "properties": {"city": {"type": "STRING"}}}}]}])
    record = ConversationRecord()

    async def turn(session: Any) -> None:
        async for event in session.events():
            record.event(event, trio.current_time())
            if isinstance(event, ev.ToolCall):
                responses = [FunctionResponse(id=c.id, name=c.name,
                                              response={"output": {"celsius": 21}})
                             for c in event.calls]
                await session.send_tool_response(responses)
                record.tool_results(responses, trio.current_time())
            if isinstance(event, ev.TurnComplete):
                return

    with trio.fail_after(20):
        async with live_emulator.open_session(nursery, config=config, in_memory=True) as session:
            await session.send_client_content("Hello")
            record.user_text("Hello", trio.current_time())
            await turn(session)
            pcm = speech_like_pcm(1.0, trail_silence=0.8)
            for i in range(0, len(pcm), 3200):
                await session.send_realtime_input(audio=pcm[i : i + 3200])
            await turn(session)
            await session.send_client_content("Ask get_weather")
            record.user_text("Ask get_weather", trio.current_time())
            await turn(session)
    heard = record.turns[2].text  # the emulator's transcript: "[audio 1.Ns]"
    assert heard.startswith("[audio 1.")
    assert brief(record) == [
        ("user", "Hello", False),
        ("model", 'I heard: "Hello". This is turn 1 of our conversation.', False),
        ("user", heard, False),
        ("model", f'I heard: "{heard}". This is turn 2 of our conversation.', False),
        ("user", "Ask get_weather", False),
        ("model", "", False),
        ("tool", "", False),
        ("model", 'The result of get_weather is {"output": {"celsius": 21}}.', False),
    ]
    assert record.turns[5].tool_calls[0].name == "get_weather"
    history = record.as_history()
    with trio.fail_after(20):
        async with live_emulator.open_session(
                nursery, config=LiveConfig(response_modalities=["TEXT"]),
                in_memory=True) as fresh:
            await fresh.send_client_content(history, turn_complete=False)
            await fresh.send_client_content("What did I ask?")
            await until_turn_complete(fresh)
    remembered = live_emulator.history()
    assert [h["role"] for h in remembered] == ["user", "model"] * 4
    assert remembered[4]["text"] == "Ask get_weather"
    assert remembered[5]["text"].startswith('[tool call get_weather({"city":"city"}) -> ')
    assert remembered[-2] == {"role": "user", "text": "What did I ask?"}


async def until_turn_complete(session: Any) -> None:
    async for event in session.events():
        if isinstance(event, ev.TurnComplete):
            return


def test_late_transcription_after_tool_results_is_a_new_user_turn() -> None:
    record = ConversationRecord()
    record.user_text("Weather?", 0.0)
    feed(record, (1.0, ev.ToolCall(calls=(CALL,))))
    record.tool_results([RESULT], 2.0)
    feed(record, (3.0, ev.OutputTranscription(text="21 degrees.")),
         (3.2, ev.InputTranscription(text="Thanks")),  # the user speaks over the answer
         (3.5, ev.TurnComplete()), (4.0, ev.InputTranscription(text="!", finished=True)))
    assert [t.role for t in record.turns] == ["user", "model", "tool", "model", "user"]
    assert record.turns[-1].text == "Thanks!"
