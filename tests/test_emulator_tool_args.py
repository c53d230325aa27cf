"""The emulator's canned model fills a called function's arguments from the user's words.

Issue 14: "call get_weather for Paris" gave ``{'city': 'city'}``. The rules are those of
``testing._model.sample_args`` (documented in docs/howto/testing.rst); the unit tests here
pin each rule, and one conversation checks the whole path through a session.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from trio_gemini_live import LiveConfig
from trio_gemini_live import _wire as w
from trio_gemini_live import events as ev
from trio_gemini_live.testing import LiveEmulator
from trio_gemini_live.testing._model import sample_args, sample_args_json_schema


def _schema(**properties: w.Schema) -> w.Schema:
    return w.Schema(type="OBJECT", properties=properties)


WEATHER = _schema(city=w.Schema(type="STRING"))
FORECAST = _schema(
    city=w.Schema(type="STRING"),
    days=w.Schema(type="INTEGER", minimum=2.0),
    unit=w.Schema(type="STRING", enum=["celsius", "fahrenheit"]),
    detailed=w.Schema(type="BOOLEAN"),
)


@pytest.mark.parametrize(
    ("text", "city"),
    [
        ("Please call get_weather for Paris.", "Paris"),  # a capitalised word, not the first
        ("call get_weather for Paris", "Paris"),
        ("get_weather city: Paris", "Paris"),  # the parameter's name, then the value
        ("get_weather city=Le Mans", "Le Mans"),
        ("get_weather with city Paris", "Paris"),
        ("get_weather city: paris", "paris"),  # after ':' or '=' any word counts
        ('get_weather for "new york"', "new york"),  # quoted text, as written
        ("What's the weather in 'Rio de Janeiro'? use get_weather", "Rio de Janeiro"),
        ("In New York, what does get_weather say", "New York"),  # a run of capitalised words
        ("I want get_weather for São Paulo", "São Paulo"),  # "I" is no name
    ],
)
def test_string_arguments_come_from_the_words(text: str, city: str) -> None:
    assert sample_args(WEATHER, text) == {"city": city}


@pytest.mark.parametrize(
    "text",
    [
        "What does get_weather say?",  # the sentence's first word is not a name
        "Paris? call get_weather. Rome is nice",  # neither is a later sentence's
        "get_weather for paris",  # lower case, unquoted, unnamed: not recognised
        "",
    ],
)
def test_without_a_value_a_string_is_its_name(text: str) -> None:
    assert sample_args(WEATHER, text) == {"city": "city"}


def test_numbers_enums_and_booleans() -> None:
    assert sample_args(FORECAST, "forecast for Paris for 3 days in Fahrenheit") == {
        "city": "Paris", "days": 3, "unit": "fahrenheit", "detailed": True}
    assert sample_args(FORECAST, "forecast city Berlin days 5 detailed: no") == {
        "city": "Berlin", "days": 5, "unit": "celsius", "detailed": False}
    # 2.5 is no integer; the fallback 1 is moved inside the minimum (2).
    assert sample_args(FORECAST, "forecast 2.5 days") == {
        "city": "city", "days": 2, "unit": "celsius", "detailed": True}


def test_each_piece_of_text_is_used_once() -> None:
    schema = _schema(origin=w.Schema(type="STRING"), destination=w.Schema(type="STRING"),
                     adults=w.Schema(type="INTEGER"), children=w.Schema(type="INTEGER"))
    assert sample_args(schema, "book_flight from Oslo to Rome, 2 adults and 1 child") == {
        "origin": "Oslo", "destination": "Rome", "adults": 2, "children": 1}
    # Named values win over the order of the parameters.
    assert sample_args(schema, "book_flight destination Rome origin: Oslo children=3") == {
        "origin": "Oslo", "destination": "Rome", "adults": 1, "children": 3}


def test_arrays_take_every_remaining_value() -> None:
    schema = _schema(cities=w.Schema(type="ARRAY", items=w.Schema(type="STRING")),
                     max_results=w.Schema(type="INTEGER"))
    assert sample_args(schema, "compare Paris, Rome and Berlin, max results 3") == {
        "cities": ["Paris", "Rome", "Berlin"], "max_results": 3}
    assert sample_args(schema, "compare") == {"cities": ["cities"], "max_results": 1}


def test_nested_objects_are_filled() -> None:
    schema = _schema(place=w.Schema(type="OBJECT", properties={
        "city": w.Schema(type="STRING"), "zip": w.Schema(type="INTEGER")}))
    assert sample_args(schema, "lookup Lyon 69001") == {"place": {"city": "Lyon", "zip": 69001}}


def test_parameters_json_schema_follows_the_same_rules() -> None:
    schema: dict[str, Any] = {"type": "object", "properties": {
        "city": {"type": "string"}, "days": {"type": ["integer", "null"]},
        "unit": {"type": "string", "enum": ["C", "F"]}}}
    assert sample_args_json_schema(schema, "get_weather for Lisbon in F, 4 days") == {
        "city": "Lisbon", "days": 4, "unit": "F"}
    assert sample_args_json_schema(schema) == {"city": "city", "days": 1, "unit": "C"}
    # Free-form user data: anything unexpected gives no arguments rather than a crash.
    assert sample_args_json_schema({"properties": "junk"}, "x") == {}
    assert sample_args_json_schema(None, "x") == {}


async def test_a_session_gets_the_city_it_asked_for(live_emulator: LiveEmulator,
                                                    nursery: trio.Nursery) -> None:
    config = LiveConfig(response_modalities=["TEXT"], tools=[{"function_declarations": [{
        "name": "get_weather", "parameters": {"type": "OBJECT", "properties": {
            "city": {"type": "STRING"}}}}]}])
    calls: list[ev.ToolCall] = []
    with trio.fail_after(10):
        async with live_emulator.open_session(nursery, config=config) as session:
            await session.send_client_content("Please call get_weather for Paris.")
            async for event in session.events():
                if isinstance(event, ev.ToolCall):
                    calls.append(event)
                    await session.send_tool_response([{
                        "id": call.id, "name": call.name, "response": {"output": "sunny"}}
                        for call in event.calls])
                elif isinstance(event, ev.TurnComplete):
                    break
    assert [(c.name, c.args) for e in calls for c in e.calls] == [
        ("get_weather", {"city": "Paris"})]
