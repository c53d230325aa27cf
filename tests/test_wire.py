"""The wire codec: round trips, the error contract under fuzzing, base64 and Durations."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trio_gemini_live import _wire as w
from trio_gemini_live._errors import ProtocolError
from trio_gemini_live._messages import message_events

from .strategies import garbage, plausible_json, plausible_server_frames, structs

_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_ROUND_TRIP = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


# --- the schema itself ---------------------------------------------------------------------


def test_wire_types_cover_every_struct_of_the_module() -> None:
    module_structs = {
        obj
        for obj in vars(w).values()
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct) and obj is not w.WireStruct
    }
    assert set(w.WIRE_TYPES) == module_structs
    assert len(w.WIRE_TYPES) == len(set(w.WIRE_TYPES))
    assert w.ClientMessage in w.WIRE_TYPES
    assert w.ServerMessage in w.WIRE_TYPES


@pytest.mark.parametrize("cls", w.WIRE_TYPES, ids=lambda c: c.__name__)
def test_wire_names_are_lower_camel_case(cls: type[msgspec.Struct]) -> None:
    # PROTOCOL.md 2: emit camelCase everywhere.
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    for field in info.fields:
        assert field.encode_name == _camel(field.name)
        assert "_" not in field.encode_name


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", w.WIRE_TYPES, ids=lambda c: c.__name__)
@_ROUND_TRIP
@given(data=st.data())
def test_round_trip_every_wire_type(cls: type[msgspec.Struct], data: st.DataObject) -> None:
    message = data.draw(structs(cls))
    frame = w.encode(message)
    # A client type needs a decoder typed for it; the strict one proves the JSON is exact.
    assert msgspec.json.decode(frame, type=cls) == message


@_ROUND_TRIP
@given(structs(w.ServerMessage))
def test_server_message_round_trips_through_the_lax_decoder(message: w.ServerMessage) -> None:
    # The production decoder is lax (int64 as strings): it must not change valid values.
    assert w.decode_server_message(w.encode(message)) == message
    assert w.decode_server_message(w.encode(message).decode()) == message


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_bytes_travel_as_standard_base64(data: bytes) -> None:
    frame = w.encode(w.Blob(mime_type="audio/pcm", data=data))
    assert json.loads(frame) == {"mimeType": "audio/pcm", "data": base64.b64encode(data).decode()}
    assert msgspec.json.decode(frame, type=w.Blob).data == data


def test_unset_fields_are_omitted() -> None:
    assert w.encode(w.SessionResumptionConfig()) == b"{}"
    assert w.encode(w.ClientMessage(setup=w.Setup(model="models/m"))) == (
        b'{"setup":{"model":"models/m"}}'
    )
    frame = w.encode(
        w.ClientMessage(realtime_input=w.RealtimeInput(activity_start=w.ActivityStart()))
    )
    assert frame == b'{"realtimeInput":{"activityStart":{}}}'


def test_decoder_ignores_unknown_fields_and_types() -> None:
    message = w.decode_server_message(
        b'{"brandNewThing": {"x": 1}, "serverContent": {"turnComplete": true, "novel": [1]}}'
    )
    assert message.server_content == w.ServerContent(turn_complete=True)
    assert w.decode_server_message(b'{"somethingElse": 1}') == w.ServerMessage()


@pytest.mark.parametrize(
    "frame",
    [b"", b"not json", b"[]", b'"text"', b"1", b"null", b"{", b'{"setupComplete": 3}',
     b'{"serverContent": {"turnComplete": "maybe"}}', b"[" * 100_000, b'{"a":' * 100_000,
     b'{"toolCall":{"functionCalls":[{"args":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000
     + b"}]}}"],
    ids=lambda f: repr(f[:30]),
)
def test_malformed_frames_raise_protocol_error(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        w.decode_server_message(frame)


# --- the error contract under fuzzing ------------------------------------------------------


def _decode_and_events(frame: bytes | str) -> None:
    """Decode a frame all the way to events; only ProtocolError may escape."""
    try:
        message = w.decode_server_message(frame)
    except ProtocolError:
        return
    assert isinstance(message, w.ServerMessage)
    try:
        message_events(message, frame.encode() if isinstance(frame, str) else frame)
    except ProtocolError:
        pass


@_FUZZ
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(frame: bytes) -> None:
    _decode_and_events(frame)


@_FUZZ
@given(st.text(max_size=200))
def test_fuzz_arbitrary_text(frame: str) -> None:
    _decode_and_events(frame)


@_FUZZ
@given(plausible_server_frames)
def test_fuzz_structurally_plausible_json(frame: bytes) -> None:
    _decode_and_events(frame)


@_FUZZ
@given(plausible_json(), st.integers(min_value=0, max_value=400))
def test_fuzz_truncated_plausible_json(obj: Any, cut: int) -> None:
    frame = json.dumps(obj).encode()
    _decode_and_events(frame[:cut])


@_FUZZ
@given(garbage)
def test_fuzz_any_json_value(obj: Any) -> None:
    # json.dumps, not msgspec: integers wider than 64 bits must reach the decoder too.
    _decode_and_events(json.dumps(obj).encode())


# --- base64 on input (PROTOCOL.md 2: standard and URL-safe alphabets) ------------------------


def _audio_frame(b64: str) -> bytes:
    return json.dumps(
        {"serverContent": {"modelTurn": {"parts": [
            {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": b64}}]}}}
    ).encode()


def _audio_of(message: w.ServerMessage) -> bytes | None:
    assert message.server_content is not None
    assert message.server_content.model_turn is not None
    parts = message.server_content.model_turn.parts
    assert parts is not None
    blob = parts[0].inline_data
    assert blob is not None
    return blob.data


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=100))
def test_every_base64_variant_decodes(data: bytes) -> None:
    std = base64.b64encode(data).decode()
    url = base64.urlsafe_b64encode(data).decode()
    for variant in {std, url, std.rstrip("="), url.rstrip("=")}:
        assert _audio_of(w.decode_server_message(_audio_frame(variant))) == data


def test_url_safe_base64_is_repaired_in_every_field_that_needs_it() -> None:
    one, two, three = b"\xfb\xff\xbf", b"\xff\xfe", b"\xfa\xfb\xfc\xfd"
    frame = json.dumps(
        {"serverContent": {
            "modelTurn": {"parts": [
                {"inlineData": {"data": base64.urlsafe_b64encode(one).decode()}},
                {"text": "x", "thoughtSignature": base64.urlsafe_b64encode(two).decode()},
                {"inlineData": {"data": base64.urlsafe_b64encode(three).decode().rstrip("=")}},
            ]},
            "groundingMetadata": {"searchEntryPoint": {"sdkBlob": "-_-_"}},
        }}
    ).encode()
    message = w.decode_server_message(frame)
    assert message.server_content is not None
    assert message.server_content.model_turn is not None
    parts = message.server_content.model_turn.parts
    assert parts is not None
    assert parts[0].inline_data == w.Blob(data=one)
    assert parts[1].thought_signature == two
    assert parts[2].inline_data == w.Blob(data=three)
    grounding = message.server_content.grounding_metadata
    assert grounding is not None and grounding.search_entry_point is not None
    assert grounding.search_entry_point.sdk_blob == base64.urlsafe_b64decode("-_-_")


@pytest.mark.parametrize("bad", ["A", "AAAAA", "%%%%", "AA=A", "AA AA\n", "\u00e9AAA"])
def test_invalid_base64_raises_protocol_error(bad: str) -> None:
    with pytest.raises(ProtocolError):
        w.decode_server_message(_audio_frame(bad))


def test_repair_keeps_other_type_errors() -> None:
    # A base64 repair must not hide a genuine type error elsewhere in the frame.
    frame = json.dumps(
        {"serverContent": {"turnComplete": "perhaps",
                           "modelTurn": {"parts": [{"inlineData": {"data": "-_-_"}}]}}}
    ).encode()
    with pytest.raises(ProtocolError):
        w.decode_server_message(frame)


# --- Durations (PROTOCOL.md 4: "50s", "1.5s"; numbers accepted) -------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("50s", 50.0), ("1.5s", 1.5), ("-0.5s", -0.5), ("0s", 0.0), ("3", 3.0), (" 2s ", 2.0),
     (7, 7.0), (0.25, 0.25), ("0.000000001s", 1e-9), ("315576000000s", 315576000000.0)],
)
def test_parse_duration(value: str | float, seconds: float) -> None:
    assert w.parse_duration(value) == seconds


def test_parse_duration_none() -> None:
    assert w.parse_duration(None) is None


@pytest.mark.parametrize(
    "value", ["", "s", "abc", "1.2.3s", "nans", "infs", "-infs", "1e400s", "5m", float("nan"),
              float("inf")]
)
def test_parse_duration_rejects_garbage(value: str | float) -> None:
    with pytest.raises(ProtocolError):
        w.parse_duration(value)


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_parse_duration_round_trips_finite_seconds(seconds: float) -> None:
    assert w.parse_duration(f"{seconds!r}s") == seconds
    assert w.parse_duration(seconds) == seconds


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_parse_duration_contract(text: str) -> None:
    try:
        result = w.parse_duration(text)
    except ProtocolError:
        return
    assert result is not None
    assert result == result and abs(result) != float("inf")


# --- errors carry no frame content ----------------------------------------------------------


def test_protocol_error_does_not_echo_the_frame() -> None:
    secret = "AIzaSyDUMMYKEYDUMMYKEYDUMMYKEYDUMMYKEY0"
    with pytest.raises(ProtocolError) as info:
        w.decode_server_message(json.dumps({"setupComplete": {"sessionId": 5}, "k": secret}))
    assert secret not in str(info.value)
    assert re.search(r"sessionId", str(info.value))
