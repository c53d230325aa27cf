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


# --- the repair is linear (issue 12, finding 1) ---------------------------------------------


def _unpadded(data: bytes, *, url_safe: bool = False) -> str:
    encode = base64.urlsafe_b64encode if url_safe else base64.b64encode
    return encode(data).decode().rstrip("=")


def _compact(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def test_every_bad_base64_field_is_repaired() -> None:
    # One pass repairs them all (issue 12: each used to cost a conversion of the message).
    blobs = [bytes([i % 256, i // 256]) * 8 for i in range(1_000)]
    parts: list[dict[str, Any]] = []
    for i, blob in enumerate(blobs):
        if i % 3 == 0:
            parts.append({"inlineData": {"data": _unpadded(blob)}})
        elif i % 3 == 1:
            parts.append({"inlineData": {"data": _unpadded(blob, url_safe=True)}})
        else:
            parts.append({"text": "t", "thoughtSignature": base64.b64encode(blob).decode()})
    message = w.decode_server_message(
        _compact({"serverContent": {"modelTurn": {"parts": parts}}})
    )
    assert message.server_content is not None
    assert message.server_content.model_turn is not None
    decoded = message.server_content.model_turn.parts
    assert decoded is not None and len(decoded) == len(blobs)
    for i, (part, blob) in enumerate(zip(decoded, blobs, strict=True)):
        if i % 3 == 2:
            assert part.thought_signature == blob
        else:
            assert part.inline_data == w.Blob(data=blob)


def test_repair_leaves_strings_outside_bytes_fields_alone() -> None:
    # The walk follows the types: a tool call's arguments (Any) may hold a "data" string
    # that looks like unpadded base64; it is the model's text, not media.
    frame = _compact({
        "toolCall": {"functionCalls": [{"id": "1", "name": "f",
                                        "args": {"data": "AA", "inlineData": {"data": "-_"}}}]},
        "serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": "AA"}}]}},
    })
    message = w.decode_server_message(frame)
    assert message.tool_call is not None and message.tool_call.function_calls is not None
    assert message.tool_call.function_calls[0].args == {
        "data": "AA", "inlineData": {"data": "-_"}
    }
    assert message.server_content is not None and message.server_content.model_turn
    assert message.server_content.model_turn.parts == [w.Part(inline_data=w.Blob(data=b"\0"))]


def test_invalid_base64_error_names_the_field() -> None:
    parts = [{"inlineData": {"data": "AA"}}, {"text": "x"}, {"inlineData": {"data": "A"}}]
    with pytest.raises(ProtocolError, match=re.escape(
        "at `$.serverContent.modelTurn.parts[2].inlineData.data`"
    )):
        w.decode_server_message(_compact({"serverContent": {"modelTurn": {"parts": parts}}}))


@pytest.mark.parametrize(
    ("text", "data"),
    [("AA", b"\0"), ("AA=", b"\0"), ("AA==", b"\0"), ("-_-_", b"\xfb\xff\xbf"),
     ("+/+/", b"\xfb\xff\xbf"), ("-/+_", b"\xfb\xff\xbf"), ("", b"")],
)
def test_repair_accepts_either_alphabet_with_or_without_padding(text: str, data: bytes) -> None:
    # Next to a field that needs the repair, so that this one goes through it too.
    parts = [{"inlineData": {"data": "AA"}}, {"inlineData": {"data": text}}]
    message = w.decode_server_message(_compact({"serverContent": {"modelTurn": {"parts": parts}}}))
    assert message.server_content is not None and message.server_content.model_turn
    assert message.server_content.model_turn.parts == [
        w.Part(inline_data=w.Blob(data=b"\0")), w.Part(inline_data=w.Blob(data=data))
    ]


@pytest.mark.parametrize("text", ["A", "AAAA=", "AA===", "AA=A", "A A", "AA\n", "\u00e9A", "%%"])
def test_repair_refuses_what_is_base64_in_neither_alphabet(text: str) -> None:
    parts = [{"inlineData": {"data": "AA"}}, {"inlineData": {"data": text}}]
    with pytest.raises(ProtocolError, match="parts\\[1\\]"):
        w.decode_server_message(_compact({"serverContent": {"modelTurn": {"parts": parts}}}))


@pytest.mark.parametrize(
    "frame",
    [
        # The typed decode stops at the first bad base64: what follows must still be JSON.
        b'{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AA"}}',
        b'{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AA"}}]}}} x',
        b'{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AA"}}]},"x":['
        + b"[" * 100_000,
        b'{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AA"}},{"text":5}]}}}',
        b'{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"data":"AA"}},{"inlineData":5}]}}}',
    ],
)
def test_repair_path_raises_only_protocol_error(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        w.decode_server_message(frame)


class _Node(msgspec.Struct, rename="camel"):
    """A recursive type with bytes at every level (none in the protocol, yet)."""

    blob: bytes | None = None
    children: list[_Node] | None = None
    by_name: dict[str, _Node] | None = None
    other: Any = None


def test_base64_plan_follows_recursive_types() -> None:
    plan = w._base64_plan(_Node)
    assert plan["blob"] == "bytes"
    assert plan["children"][1] is plan and plan["byName"][1] is plan
    assert "other" not in plan
    obj = {"blob": "AA", "other": {"blob": "AA"},
           "children": [{"blob": "-_-_", "byName": {"k": {"blob": "AQ"}}}]}
    w._decode_base64_fields(obj, plan)
    assert obj == {"blob": b"\0", "other": {"blob": "AA"},
                   "children": [{"blob": b"\xfb\xff\xbf", "byName": {"k": {"blob": b"\1"}}}]}


_MAX = 16 * 1024 * 1024


def _parts_frame(part: bytes, size: int) -> bytes:
    """A ``serverContent`` of as many copies of the JSON ``part`` as fit in ``size`` bytes."""
    head, tail = b'{"serverContent":{"modelTurn":{"parts":[', b"]}}}"
    count = max(1, (size - len(head) - len(tail)) // (len(part) + 1))
    return head + b",".join([part] * count) + tail


def repair_path_shapes(size: int = _MAX - 1024) -> dict[str, bytes]:
    """Frames of ``size`` bytes that take the base64 repair path, in very different shapes.

    Shared with ``benchmarks/bench_hostile.py`` (which adds shapes of the fast path).
    """
    audio = _unpadded(bytes(range(256)) * (size * 3 // 4 // 256 - 1), url_safe=True)
    small = _unpadded(bytes(range(32))).encode()
    args_head = b'{"toolCall":{"functionCalls":[{"id":"1","name":"f","args":{'
    args_tail = (b'}}]},"serverContent":{"modelTurn":{"parts":'
                 b'[{"inlineData":{"data":"AA"}}]}}}')
    keys = (size - len(args_head) - len(args_tail)) // 19
    args = b",".join(b'"k%07d":"value"' % i for i in range(keys))
    return {
        "one_unpadded_url_safe_audio": _parts_frame(
            b'{"inlineData":{"data":"' + audio.encode() + b'"}}', size),
        "many_unpadded_audio": _parts_frame(b'{"inlineData":{"data":"' + small + b'"}}', size),
        "many_unpadded_signatures": _parts_frame(
            b'{"text":"","thoughtSignature":"' + small + b'"}', size),
        "huge_args_and_one_unpadded": args_head + args + args_tail,
    }


_DECODE_ALL = """
import sys, time
from trio_gemini_live._wire import decode_server_message
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    start = time.perf_counter()
    decode_server_message(data)
    print(path, time.perf_counter() - start, flush=True)
"""


def test_16_mib_frames_of_any_shape_decode_in_bounded_time(tmp_path: Any) -> None:
    # Issue 12: decoding is linear in the frame's size. In a child process, so that the
    # quadratic repair of the past (hours for these) fails the test by a timeout instead
    # of holding it. The bound is generous (about 1 s each on an idle machine).
    import subprocess
    import sys

    paths = {}
    for name, frame in repair_path_shapes().items():
        assert len(frame) <= _MAX, name
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_bytes(frame)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _DECODE_ALL, *map(str, paths.values())],
            capture_output=True, text=True, timeout=120, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        finished = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout
        raise AssertionError(f"decoding did not finish in 120 s; finished: {finished}") from None
    assert done.returncode == 0, done.stderr[-2000:]
    seconds = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
               for line in done.stdout.splitlines()}
    for name, path in paths.items():
        assert seconds[str(path)] < 20, f"{name}: {seconds[str(path)]:.1f} s"


def test_large_frame_threshold() -> None:
    assert w.is_large_frame(b"x" * w.LARGE_FRAME)
    assert not w.is_large_frame(b"x" * (w.LARGE_FRAME - 1))
    assert w.is_large_frame("x" * w.LARGE_FRAME)
    assert 64 * 1024 < w.LARGE_FRAME <= 4 * 1024 * 1024  # audio chunks stay inline


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


def test_wire_messages_are_not_tracked_by_the_garbage_collector() -> None:
    # Issue 11: a wire message is a tree (JSON has no cycles), so its structs are msgspec
    # gc=False; only the lists and dicts they hold are tracked. A received audio message
    # is then one tracked object (its parts list), a sent audio chunk none.
    import gc

    audio = base64.b64encode(b"\x01\x00" * 2400).decode()
    frame = json.dumps({"serverContent": {"modelTurn": {"parts": [
        {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": audio}}]}}})
    message = w.decode_server_message(frame)
    content = message.server_content
    assert content is not None and content.model_turn is not None
    parts = content.model_turn.parts
    assert parts is not None
    untracked = [message, content, content.model_turn, parts[0]]
    assert [gc.is_tracked(o) for o in untracked] == [False] * 4
    assert gc.is_tracked(parts)  # a list stays tracked
    sent = w.ClientMessage(realtime_input=w.RealtimeInput(
        audio=w.Blob(mime_type="audio/pcm;rate=16000", data=b"\x00\x00" * 1600)))
    assert not gc.is_tracked(sent) and not gc.is_tracked(sent.realtime_input)
    # Every wire type inherits it, the setup's included.
    for cls in (w.Setup, w.Content, w.FunctionResponse, w.ServerMessage, w.ToolCall):
        assert cls.__struct_config__.gc is False
