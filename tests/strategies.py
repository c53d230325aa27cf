"""Hypothesis strategies shared by the tests, derived from the wire types themselves.

The strategies are built by walking :func:`msgspec.inspect.type_info` of each wire type, so a
field added to ``_wire`` is generated (and round-tripped, refereed, fuzzed) without touching
this file. Recursive types (``Schema``) go through :func:`hypothesis.strategies.deferred`.

Three families:

* :func:`structs` / :func:`wire_values`: valid instances of a wire type (``decode(encode(m))
  == m`` must hold for them). JSON can only carry int64 integers and finite floats, so that is
  what is generated; ``Any`` fields get :func:`json_values`.
* :func:`client_messages`: valid *client* messages, one top-level field each (PROTOCOL.md 2),
  for the referee.
* :func:`plausible_json`: structurally plausible server JSON: the known keys of a type, each
  with a right or a wrong value (nulls, wrong types, huge and negative numbers, int64 and
  Duration strings, nested garbage), plus unknown keys. For fuzzing the decoder.
"""

from __future__ import annotations

import datetime
import string
from typing import Any

import msgspec
import msgspec.inspect as mi
from hypothesis import strategies as st

from trio_gemini_live import _wire as w

__all__ = [
    "CLIENT_DURATIONS",
    "CLIENT_ENUMS",
    "CLIENT_ENUM_LISTS",
    "INT64_MAX",
    "INT64_MIN",
    "audio_blobs",
    "client_messages",
    "finite_floats",
    "garbage",
    "int64s",
    "json_values",
    "plausible_json",
    "plausible_server_frames",
    "structs",
    "wire_values",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: msgspec (like proto3 JSON) carries signed 64-bit integers; anything wider cannot be sent.
int64s = st.integers(min_value=INT64_MIN, max_value=INT64_MAX)
#: JSON has no NaN or infinity.
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
_short_text = st.text(max_size=12)

#: Any JSON value: what ``Any`` / ``dict[str, Any]`` fields (function args, responses,
#: schema defaults) may hold.
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | int64s | finite_floats | _short_text,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(_short_text, children, max_size=4),
    max_leaves=12,
)


_Cache = dict[type, st.SearchStrategy[Any]]
_Overrides = dict[tuple[type, str], st.SearchStrategy[Any]]


def _strategy(
    info: mi.Type, cache: _Cache, overrides: _Overrides | None = None
) -> st.SearchStrategy[Any]:
    """A strategy for valid values of one msgspec type."""
    over = overrides or {}
    if isinstance(info, mi.NoneType):
        return st.none()
    if isinstance(info, mi.BoolType):
        return st.booleans()
    if isinstance(info, mi.IntType):
        return int64s
    if isinstance(info, mi.FloatType):
        return finite_floats
    if isinstance(info, mi.StrType):
        return st.text(max_size=20)
    if isinstance(info, mi.BytesType):
        return st.binary(max_size=64)
    if isinstance(info, mi.DateTimeType):
        # RFC 3339 timestamps (proto Timestamp): always with a time zone, UTC on the wire.
        return st.datetimes(timezones=st.just(datetime.UTC))
    if isinstance(info, mi.LiteralType):
        return st.sampled_from(sorted(info.values, key=repr))
    if isinstance(info, mi.AnyType):
        return json_values
    if isinstance(info, mi.ListType):
        return st.lists(_strategy(info.item_type, cache, over), max_size=3)
    if isinstance(info, mi.DictType):
        return st.dictionaries(
            _strategy(info.key_type, cache, over),
            _strategy(info.value_type, cache, over),
            max_size=3,
        )
    if isinstance(info, mi.UnionType):
        return st.one_of([_strategy(t, cache, over) for t in info.types])
    if isinstance(info, mi.StructType):
        return _struct_strategy(info, cache, over)
    raise TypeError(f"no strategy for {info!r}: teach tests/strategies.py this type")


def _struct_strategy(
    info: mi.StructType, cache: _Cache, overrides: _Overrides
) -> st.SearchStrategy[Any]:
    cls = info.cls
    if cls in cache:
        return cache[cls]

    def build() -> st.SearchStrategy[Any]:
        kwargs: dict[str, st.SearchStrategy[Any]] = {}
        for field in info.fields:
            if (cls, field.name) in overrides:
                value = overrides[(cls, field.name)]
            else:
                value = _strategy(field.type, cache, overrides)
            if not field.required:
                # Optional fields are absent half of the time: keeps recursive types small.
                value = st.none() | value if _nullable(field.type) else value
            kwargs[field.name] = value
        return st.builds(cls, **kwargs)

    # Deferred so that a recursive type (Schema.items: Schema) refers to itself lazily.
    strategy: st.SearchStrategy[Any] = st.deferred(build)
    cache[cls] = strategy
    return strategy


def _nullable(info: mi.Type) -> bool:
    return isinstance(info, mi.UnionType) and any(isinstance(t, mi.NoneType) for t in info.types)


_CACHE: _Cache = {}


def structs(cls: type[msgspec.Struct]) -> st.SearchStrategy[Any]:
    """Valid instances of the wire type ``cls`` (every field, nested types included)."""
    return _strategy(mi.type_info(cls), _CACHE)


def wire_values() -> st.SearchStrategy[msgspec.Struct]:
    """Any instance of any wire type of ``_wire.WIRE_TYPES``."""
    return st.one_of([structs(cls) for cls in w.WIRE_TYPES])


# --- client messages for the referee -------------------------------------------------------

_CLIENT_FIELDS = tuple(f.name for f in msgspec.structs.fields(w.ClientMessage))

#: Enumerations the client may echo back in ``clientContent`` parts but that ``_wire`` types
#: as plain ``str`` (the server sends them too, and may grow them). A client frame must use
#: the API's values; ``test_referee`` checks these lists against the SDK's enums.
CLIENT_ENUMS: dict[tuple[type, str], tuple[str, ...]] = {
    (w.ExecutableCode, "language"): ("LANGUAGE_UNSPECIFIED", "PYTHON"),
    (w.CodeExecutionResult, "outcome"): (
        "OUTCOME_UNSPECIFIED", "OUTCOME_OK", "OUTCOME_FAILED", "OUTCOME_DEADLINE_EXCEEDED"
    ),
    (w.PartMediaResolution, "level"): (
        "MEDIA_RESOLUTION_UNSPECIFIED", "MEDIA_RESOLUTION_LOW", "MEDIA_RESOLUTION_MEDIUM",
        "MEDIA_RESOLUTION_HIGH", "MEDIA_RESOLUTION_ULTRA_HIGH",
    ),
    (w.Part, "media_processing"): ("MEDIA_PROCESSING_UNSPECIFIED", "STATIC", "AGENTIC"),
    (w.FunctionResponsePart, "media_processing"): (
        "MEDIA_PROCESSING_UNSPECIFIED", "STATIC", "AGENTIC"
    ),
    (w.BuiltinToolCall, "tool_type"): (
        "TOOL_TYPE_UNSPECIFIED", "GOOGLE_SEARCH_WEB", "GOOGLE_SEARCH_IMAGE", "URL_CONTEXT",
        "GOOGLE_MAPS", "FILE_SEARCH", "MEDIA_PROCESSING",
    ),
    (w.BuiltinToolResponse, "tool_type"): (
        "TOOL_TYPE_UNSPECIFIED", "GOOGLE_SEARCH_WEB", "GOOGLE_SEARCH_IMAGE", "URL_CONTEXT",
        "GOOGLE_MAPS", "FILE_SEARCH", "MEDIA_PROCESSING",
    ),
    (w.PartialArg, "null_value"): ("NULL_VALUE",),
}
#: The same for lists of enumeration values.
CLIENT_ENUM_LISTS: dict[tuple[type, str], tuple[str, ...]] = {
    (w.VideoMetadata, "content_layers"): (
        "CONTENT_LAYER_UNSPECIFIED", "FRAMES", "AUDIO", "TRANSCRIPT"
    ),
    (w.DocumentMetadata, "content_layers"): (
        "CONTENT_LAYER_UNSPECIFIED", "PAGE_IMAGE", "PAGE_TEXT"
    ),
    (w.SpreadsheetMetadata, "content_layers"): (
        "CONTENT_LAYER_UNSPECIFIED", "DATA", "FORMULAS", "VISUAL"
    ),
}
#: Durations in types the client may send: proto3 JSON writes them as strings ("1.5s"),
#: and the SDK types them as ``str`` (``_wire`` also accepts numbers from the server).
_DURATION_STRINGS = st.sampled_from(["0s", "1.5s", "50s", "0.020s"])
CLIENT_DURATIONS: tuple[tuple[type, str], ...] = (
    (w.VideoMetadata, "start_offset"), (w.VideoMetadata, "end_offset"),
    (w.AudioMetadata, "start_offset"), (w.AudioMetadata, "end_offset"),
    (w.WordInfo, "start_offset"), (w.WordInfo, "end_offset"),
    (w.Transcription, "start_offset"), (w.Transcription, "end_offset"),
)
_CLIENT_OVERRIDES: _Overrides = {
    **{key: st.none() | st.sampled_from(values) for key, values in CLIENT_ENUMS.items()},
    **{key: st.none() | st.lists(st.sampled_from(values), max_size=3)
       for key, values in CLIENT_ENUM_LISTS.items()},
    **{key: st.none() | _DURATION_STRINGS for key in CLIENT_DURATIONS},
}
_CLIENT_CACHE: _Cache = {}


@st.composite
def client_messages(draw: st.DrawFn) -> w.ClientMessage:
    """A valid client frame: exactly one top-level field set (PROTOCOL.md 2)."""
    field = draw(st.sampled_from(_CLIENT_FIELDS))
    info = mi.type_info(w.ClientMessage)
    assert isinstance(info, mi.StructType)
    (spec,) = (f for f in info.fields if f.name == field)
    assert isinstance(spec.type, mi.UnionType)
    nested = next(t for t in spec.type.types if isinstance(t, mi.StructType))
    return w.ClientMessage(**{field: draw(_strategy(nested, _CLIENT_CACHE, _CLIENT_OVERRIDES))})


#: Realistic audio: an even number of PCM bytes (PROTOCOL.md 3.3).
audio_blobs = st.builds(
    w.Blob,
    mime_type=st.sampled_from(["audio/pcm", "audio/pcm;rate=16000", "audio/pcm;rate=24000"]),
    data=st.binary(max_size=64).map(lambda b: b[: len(b) // 2 * 2]),
)

# --- structurally plausible server JSON, for fuzzing ----------------------------------------

_DURATIONS = st.sampled_from(
    ["50s", "1.5s", "-0.5s", "0s", "1e400s", "nans", "infs", "s", "", "1.2.3s", "  3s "]
)
_INT64_STRINGS = st.sampled_from(
    [str(INT64_MAX), str(INT64_MIN), str(INT64_MAX + 1), "42", "-1", "0x10", "1e3", ""]
)
_ODD_BASE64 = st.sampled_from(["", "AA", "AA==", "-_-_", "A", "====", "%%%", "AAA=", "YWJj"])

#: Values that are wrong almost everywhere: nulls, wrong types, numbers at and past the
#: int64 bounds, int64-as-string, Duration strings, odd base64, nested garbage.
garbage: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([INT64_MAX, INT64_MIN, INT64_MAX + 1, INT64_MIN - 1, 2**64, -(10**30)])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e308, -1e308, 5e-324, -0.0])
    | st.text(max_size=8)
    | _INT64_STRINGS
    | _DURATIONS
    | _ODD_BASE64,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)

_UNKNOWN_KEYS = st.text(alphabet=string.ascii_letters, min_size=1, max_size=10)


def _plausible(info: mi.Type, depth: int) -> st.SearchStrategy[Any]:
    """Mostly the right shape for ``info``, sometimes garbage, at every level."""
    if depth > 4:
        return garbage
    right: st.SearchStrategy[Any]
    if isinstance(info, mi.StructType):
        right = _plausible_object(info, depth)
    elif isinstance(info, mi.UnionType):
        right = st.one_of([_plausible(t, depth) for t in info.types])
    elif isinstance(info, mi.ListType):
        right = st.lists(_plausible(info.item_type, depth + 1), max_size=3)
    elif isinstance(info, mi.DictType):
        right = st.dictionaries(st.text(max_size=6), _plausible(info.value_type, depth + 1),
                                max_size=3)
    elif isinstance(info, mi.IntType):
        right = int64s | _INT64_STRINGS
    elif isinstance(info, mi.FloatType):
        right = finite_floats | _DURATIONS
    elif isinstance(info, mi.BytesType):
        right = st.binary(max_size=12).map(
            lambda b: msgspec.json.decode(msgspec.json.encode(b))
        ) | _ODD_BASE64
    elif isinstance(info, mi.StrType):
        right = st.text(max_size=8) | _DURATIONS
    elif isinstance(info, mi.BoolType):
        right = st.booleans() | st.sampled_from(["true", "false", 0, 1])
    elif isinstance(info, mi.NoneType):
        right = st.none()
    elif isinstance(info, mi.LiteralType):
        right = st.sampled_from(sorted(info.values, key=repr))
    else:
        right = json_values
    return st.one_of(right, right, right, garbage)


def _plausible_object(info: mi.StructType, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    known = st.fixed_dictionaries(
        {},
        optional={f.encode_name: _plausible(f.type, depth + 1) for f in info.fields},
    )
    unknown = st.dictionaries(_UNKNOWN_KEYS, garbage, max_size=2)
    return st.builds(lambda a, b: {**b, **a}, known, unknown)


def plausible_json(cls: type[msgspec.Struct] = w.ServerMessage) -> st.SearchStrategy[Any]:
    """A JSON value shaped like ``cls`` with wrong values and unknown keys mixed in."""
    return _plausible(mi.type_info(cls), 0)


#: Encoded plausible server frames (bytes), mostly JSON objects.
plausible_server_frames: st.SearchStrategy[bytes] = plausible_json().map(msgspec.json.encode)
