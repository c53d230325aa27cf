"""The Live API wire format as msgspec Structs (PROTOCOL.md sections 3 and 4).

Every JSON object of the protocol is a Struct here. Python names are snake_case; the wire
names are lowerCamelCase (``rename="camel"``), as proto3 JSON wants. Fields default to
``None`` and ``omit_defaults=True`` leaves them out of the JSON, so an unset field is never
sent (PROTOCOL.md 3.1: never send ``"handle": null``).

There is one encoder and one decoder, created once at import:

* :func:`encode` turns any client Struct into the UTF-8 JSON of a text frame. ``bytes``
  fields are base64-encoded in C with the standard alphabet.
* :func:`decode_server_message` turns a server frame (binary or text) into a
  :class:`ServerMessage`. The decoder is *lax* (``strict=False``): proto3 JSON writes int64
  values as strings, and the server is free to write them as numbers; both are accepted.
  Unknown fields and unknown message types are ignored (the server grows). Media bytes in
  the standard alphabet are decoded in C; URL-safe or unpadded base64 takes a slower, exact
  repair path (:func:`_repair_base64`).

Enumerations the client sends are ``Literal`` types, so a typo fails before anything is
sent; enumerations the server sends are plain ``str``, so a value added by Google tomorrow
never fails decoding.

The schema is the official SDK's (3.6): every server field it knows has a struct field here
(``tests/sdk_fields.py`` checks it). Four modules hold parts of it and this one re-exports
their names: ``_wire_common`` (the base struct and the client's enumerations),
``_wire_content`` (turns and their parts, which both directions carry), ``_wire_setup``
(the parts of ``setup``) and ``_wire_grounding`` (grounding metadata). This one keeps the
messages themselves and the codec.
"""

from __future__ import annotations

import binascii
import functools
import types
import typing
from typing import Any, Final

import msgspec

from ._errors import ProtocolError
from ._wire_common import ActivityHandling as ActivityHandling
from ._wire_common import Behavior as Behavior
from ._wire_common import Duration as Duration
from ._wire_common import EndSensitivity as EndSensitivity
from ._wire_common import HarmBlockMethod as HarmBlockMethod
from ._wire_common import HarmBlockThreshold as HarmBlockThreshold
from ._wire_common import HarmCategory as HarmCategory
from ._wire_common import MediaResolution as MediaResolution
from ._wire_common import Modality as Modality
from ._wire_common import PhishBlockThreshold as PhishBlockThreshold
from ._wire_common import Role as Role
from ._wire_common import Scheduling as Scheduling
from ._wire_common import SchemaType as SchemaType
from ._wire_common import StartSensitivity as StartSensitivity
from ._wire_common import ThinkingLevel as ThinkingLevel
from ._wire_common import TranscriptionMode as TranscriptionMode
from ._wire_common import TurnCoverage as TurnCoverage
from ._wire_common import WireStruct as WireStruct
from ._wire_content import AudioMetadata as AudioMetadata
from ._wire_content import Blob as Blob
from ._wire_content import BuiltinToolCall as BuiltinToolCall
from ._wire_content import BuiltinToolResponse as BuiltinToolResponse
from ._wire_content import CodeExecutionResult as CodeExecutionResult
from ._wire_content import Content as Content
from ._wire_content import DocumentMetadata as DocumentMetadata
from ._wire_content import ExecutableCode as ExecutableCode
from ._wire_content import FileData as FileData
from ._wire_content import FunctionCall as FunctionCall
from ._wire_content import FunctionResponse as FunctionResponse
from ._wire_content import FunctionResponsePart as FunctionResponsePart
from ._wire_content import Part as Part
from ._wire_content import PartialArg as PartialArg
from ._wire_content import PartMediaResolution as PartMediaResolution
from ._wire_content import SpeechMetadata as SpeechMetadata
from ._wire_content import SpreadsheetMetadata as SpreadsheetMetadata
from ._wire_content import Transcription as Transcription
from ._wire_content import VideoMetadata as VideoMetadata
from ._wire_content import WordInfo as WordInfo
from ._wire_grounding import AuthorAttribution as AuthorAttribution
from ._wire_grounding import GroundingChunk as GroundingChunk
from ._wire_grounding import GroundingChunkCustomMetadata as GroundingChunkCustomMetadata
from ._wire_grounding import GroundingChunkImage as GroundingChunkImage
from ._wire_grounding import GroundingChunkMaps as GroundingChunkMaps
from ._wire_grounding import GroundingChunkRetrievedContext as GroundingChunkRetrievedContext
from ._wire_grounding import GroundingChunkStringList as GroundingChunkStringList
from ._wire_grounding import GroundingChunkWeb as GroundingChunkWeb
from ._wire_grounding import GroundingMetadata as GroundingMetadata
from ._wire_grounding import GroundingSupport as GroundingSupport
from ._wire_grounding import MapsRoute as MapsRoute
from ._wire_grounding import PlaceAnswerSources as PlaceAnswerSources
from ._wire_grounding import RagChunk as RagChunk
from ._wire_grounding import RagChunkPageSpan as RagChunkPageSpan
from ._wire_grounding import RetrievalMetadata as RetrievalMetadata
from ._wire_grounding import ReviewSnippet as ReviewSnippet
from ._wire_grounding import SearchEntryPoint as SearchEntryPoint
from ._wire_grounding import Segment as Segment
from ._wire_grounding import SourceFlaggingUri as SourceFlaggingUri
from ._wire_grounding import UrlContextMetadata as UrlContextMetadata
from ._wire_grounding import UrlMetadata as UrlMetadata
from ._wire_setup import AudioTranscriptionConfig as AudioTranscriptionConfig
from ._wire_setup import AutomaticActivityDetection as AutomaticActivityDetection
from ._wire_setup import AvatarConfig as AvatarConfig
from ._wire_setup import CodeExecution as CodeExecution
from ._wire_setup import ContextWindowCompression as ContextWindowCompression
from ._wire_setup import CustomizedAvatar as CustomizedAvatar
from ._wire_setup import FileSearch as FileSearch
from ._wire_setup import FunctionDeclaration as FunctionDeclaration
from ._wire_setup import GenerationConfig as GenerationConfig
from ._wire_setup import GoogleMaps as GoogleMaps
from ._wire_setup import GoogleMapsGroundingTypes as GoogleMapsGroundingTypes
from ._wire_setup import GoogleMapsPlaces as GoogleMapsPlaces
from ._wire_setup import GoogleMapsRouting as GoogleMapsRouting
from ._wire_setup import GoogleSearch as GoogleSearch
from ._wire_setup import HistoryConfig as HistoryConfig
from ._wire_setup import ImageSearch as ImageSearch
from ._wire_setup import Interval as Interval
from ._wire_setup import LanguageAuto as LanguageAuto
from ._wire_setup import LanguageHints as LanguageHints
from ._wire_setup import MultiSpeakerVoiceConfig as MultiSpeakerVoiceConfig
from ._wire_setup import PrebuiltVoiceConfig as PrebuiltVoiceConfig
from ._wire_setup import Proactivity as Proactivity
from ._wire_setup import RealtimeInputConfig as RealtimeInputConfig
from ._wire_setup import ReplicatedVoiceConfig as ReplicatedVoiceConfig
from ._wire_setup import SafetySetting as SafetySetting
from ._wire_setup import Schema as Schema
from ._wire_setup import SearchTypes as SearchTypes
from ._wire_setup import SessionResumptionConfig as SessionResumptionConfig
from ._wire_setup import SlidingWindow as SlidingWindow
from ._wire_setup import SpeakerVoiceConfig as SpeakerVoiceConfig
from ._wire_setup import SpeechConfig as SpeechConfig
from ._wire_setup import ThinkingConfig as ThinkingConfig
from ._wire_setup import Tool as Tool
from ._wire_setup import TranslationConfig as TranslationConfig
from ._wire_setup import UrlContext as UrlContext
from ._wire_setup import VoiceConfig as VoiceConfig
from ._wire_setup import VoiceConsentSignature as VoiceConsentSignature
from ._wire_setup import WebSearch as WebSearch

# The names of _wire_common, _wire_content, _wire_setup and _wire_grounding are re-exported
# above.
__all__ = [
    "WIRE_TYPES",
    "ActivityEnd",
    "ActivityStart",
    "ClientContent",
    "ClientMessage",
    "ContextUpdate",
    "ContextUpdateTools",
    "GoAway",
    "ModalityTokenCount",
    "RealtimeInput",
    "ServerContent",
    "ServerMessage",
    "SessionResumptionUpdate",
    "Setup",
    "SetupComplete",
    "ToolCall",
    "ToolCallCancellation",
    "ToolResponse",
    "UsageMetadata",
    "VoiceActivity",
    "VoiceActivityDetectionSignal",
    "decode_server_message",
    "encode",
    "parse_duration",
]


# --- setup (its parts are in _wire_setup) ---------------------------------------------


class Setup(WireStruct):
    """The first client message (PROTOCOL.md 3.1).

    ``labels`` is Gemini-API-only; ``explicit_vad_signal`` is Vertex-only.
    """

    model: str
    generation_config: GenerationConfig | None = None
    system_instruction: Content | None = None
    tools: list[Tool] | None = None
    realtime_input_config: RealtimeInputConfig | None = None
    session_resumption: SessionResumptionConfig | None = None
    context_window_compression: ContextWindowCompression | None = None
    input_audio_transcription: AudioTranscriptionConfig | None = None
    output_audio_transcription: AudioTranscriptionConfig | None = None
    proactivity: Proactivity | None = None
    history_config: HistoryConfig | None = None
    explicit_vad_signal: bool | None = None
    safety_settings: list[SafetySetting] | None = None
    avatar_config: AvatarConfig | None = None
    labels: dict[str, str] | None = None


# --- the other client messages -------------------------------------------------------------


class ClientContent(WireStruct):
    """Turns appended to the history (PROTOCOL.md 3.2)."""

    turns: list[Content] | None = None
    turn_complete: bool | None = None


class ActivityStart(WireStruct):
    """Manual voice activity: the user started speaking."""


class ActivityEnd(WireStruct):
    """Manual voice activity: the user stopped speaking."""


class RealtimeInput(WireStruct):
    """Streamed input, exactly one field per message (PROTOCOL.md 3.3).

    ``media_chunks`` is deprecated and refused by 3.x models (PROTOCOL.md 9): the session
    never sends it.
    """

    audio: Blob | None = None
    video: Blob | None = None
    text: str | None = None
    activity_start: ActivityStart | None = None
    activity_end: ActivityEnd | None = None
    audio_stream_end: bool | None = None
    media_chunks: list[Blob] | None = None


class ToolResponse(WireStruct):
    function_responses: list[FunctionResponse] | None = None


class ContextUpdateTools(WireStruct):
    """The tools of a :class:`ContextUpdate`: ``tools=[]`` removes every tool."""

    tools: list[Tool] | None = None


class ContextUpdate(WireStruct):
    """Change the system instruction or the tools mid-session (PROTOCOL.md 3.5).

    On the wire: ``{"systemInstruction": ..., "tools": {"tools": [...]}}`` (the official
    SDK 3.6's shape). Only the fields present change.
    """

    system_instruction: Content | None = None
    tools: ContextUpdateTools | None = None


class ClientMessage(WireStruct):
    """A client frame: exactly one field is set."""

    setup: Setup | None = None
    client_content: ClientContent | None = None
    realtime_input: RealtimeInput | None = None
    tool_response: ToolResponse | None = None
    context_update: ContextUpdate | None = None


# --- server messages -----------------------------------------------------------------------


class SetupComplete(WireStruct):
    session_id: str | None = None
    voice_consent_signature: VoiceConsentSignature | None = None


class ServerContent(WireStruct):
    """``serverContent``: model output and turn signals; 3.x models bundle several fields."""

    model_turn: Content | None = None
    generation_complete: bool | None = None
    turn_complete: bool | None = None
    interrupted: bool | None = None
    grounding_metadata: GroundingMetadata | None = None
    url_context_metadata: UrlContextMetadata | None = None
    input_transcription: Transcription | None = None
    output_transcription: Transcription | None = None
    interim_input_transcription: Transcription | None = None
    turn_complete_reason: str | None = None
    waiting_for_input: bool | None = None
    interaction_status: str | None = None


class ToolCall(WireStruct):
    function_calls: list[FunctionCall] | None = None


class ToolCallCancellation(WireStruct):
    ids: list[str] | None = None


class ModalityTokenCount(WireStruct):
    modality: str | None = None
    token_count: int | None = None


class UsageMetadata(WireStruct):
    """Token counts, under the Gemini API names and the Vertex names (PROTOCOL.md 4)."""

    prompt_token_count: int | None = None
    cached_content_token_count: int | None = None
    response_token_count: int | None = None
    candidates_token_count: int | None = None
    tool_use_prompt_token_count: int | None = None
    thoughts_token_count: int | None = None
    total_token_count: int | None = None
    prompt_tokens_details: list[ModalityTokenCount] | None = None
    cache_tokens_details: list[ModalityTokenCount] | None = None
    response_tokens_details: list[ModalityTokenCount] | None = None
    candidates_tokens_details: list[ModalityTokenCount] | None = None
    tool_use_prompt_tokens_details: list[ModalityTokenCount] | None = None
    traffic_type: str | None = None
    service_tier: str | None = None


class GoAway(WireStruct):
    time_left: Duration | None = None


class SessionResumptionUpdate(WireStruct):
    new_handle: str | None = None
    resumable: bool | None = None
    last_consumed_client_message_index: int | None = None


class VoiceActivity(WireStruct):
    """``voiceActivity``. PROTOCOL.md names the kind ``type``; the SDK ``voiceActivityType``."""

    type: str | None = None
    voice_activity_type: str | None = None
    audio_offset: Duration | None = None


class VoiceActivityDetectionSignal(WireStruct):
    vad_signal_type: str | None = None


class ServerMessage(WireStruct):
    """A server frame: any of these keys, several at once (``usageMetadata`` with content)."""

    setup_complete: SetupComplete | None = None
    server_content: ServerContent | None = None
    tool_call: ToolCall | None = None
    tool_call_cancellation: ToolCallCancellation | None = None
    usage_metadata: UsageMetadata | None = None
    go_away: GoAway | None = None
    session_resumption_update: SessionResumptionUpdate | None = None
    voice_activity: VoiceActivity | None = None
    voice_activity_detection_signal: VoiceActivityDetectionSignal | None = None


#: Every wire type, for tests and tools that walk the schema.
WIRE_TYPES: Final[tuple[type[WireStruct], ...]] = tuple(
    obj
    for obj in list(globals().values())
    if isinstance(obj, type) and issubclass(obj, WireStruct) and obj is not WireStruct
)

# --- the codec -----------------------------------------------------------------------------

_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(ServerMessage, strict=False)
_generic_decoder: Final = msgspec.json.Decoder(strict=False)

#: Encode a client Struct to the JSON of one text frame (UTF-8 bytes).
encode: Final = _encoder.encode


def decode_server_message(data: bytes | bytearray | memoryview | str) -> ServerMessage:
    """Decode one server frame (binary or text) into a :class:`ServerMessage`.

    Linear in the frame's size whatever its shape (issue 12). A frame of
    :data:`LARGE_FRAME` bytes or more may still take long: see :func:`is_large_frame` for
    where to run it.

    Raises:
        ProtocolError: the frame is not JSON, not an object, or a field has the wrong
            type. Unknown fields never raise.
    """
    try:
        return _decoder.decode(data)
    except msgspec.ValidationError as exc:
        if "Invalid base64" not in str(exc):
            raise ProtocolError(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(str(exc)) from None
    except RecursionError:
        # msgspec refuses deeply nested JSON with RecursionError; from the server that is
        # a malformed frame like any other (the sans-IO contract: only ProtocolError).
        raise ProtocolError(_TOO_DEEP) from None
    try:
        return _repair_base64(data)
    except RecursionError:
        raise ProtocolError(_TOO_DEEP) from None


_TOO_DEEP: Final = "the frame's JSON is nested too deeply"

#: Frames of at least this many bytes (characters for ``str``) should be decoded where
#: they cannot stall other tasks (issue 12): see :func:`is_large_frame`.
LARGE_FRAME: Final = 1024 * 1024


def is_large_frame(data: bytes | bytearray | memoryview | str) -> bool:
    """Whether ``data`` is big enough to decode in a worker thread (issue 12).

    Decoding is linear in the frame's size, but a 16 MiB frame (PROTOCOL.md 2) costs from
    about 15 ms (one audio blob) to a second or more (hundreds of thousands of small
    objects, or the base64 repair of as many fields): long enough to stall every task of
    the program. The session decodes such frames with
    ``await trio.to_thread.run_sync(decode_server_message, data)``, and smaller ones, nearly
    all of them (an audio chunk is a few KiB), inline, where a thread would cost more than
    the decode. In the thread, the repair's walk (Python) lets the event loop run; msgspec's
    C decoding holds the GIL, so the most object-heavy frames still delay other tasks by
    the length of one C call (``benchmarks/bench_hostile.py`` measures both).
    """
    return len(data) >= LARGE_FRAME


def _repair_base64(data: bytes | bytearray | memoryview | str) -> ServerMessage:
    """Accept URL-safe and unpadded base64 (PROTOCOL.md 2), off the hot path, in linear time.

    msgspec decodes only the padded standard alphabet, and stops at the first field it
    refuses. Here the frame is decoded again as plain JSON; one walk over it, guided by
    the wire types (:func:`_base64_plan`), turns every string in a ``bytes`` position into
    bytes whatever its alphabet and padding; one conversion makes the message.

    Issue 12: the repair used to convert the whole message again for each bad field,
    quadratic in the number of fields (a 690 KB frame with 10,000 of them: a minute).
    """
    try:
        obj = _generic_decoder.decode(data)
    except msgspec.DecodeError as exc:  # the typed decode stopped before the bad part
        raise ProtocolError(str(exc)) from None
    plan = _base64_plan(ServerMessage)
    if plan is not None:
        _decode_base64_fields(obj, plan)
    try:
        return msgspec.convert(obj, ServerMessage, strict=False)
    except msgspec.ValidationError as exc:
        raise ProtocolError(str(exc)) from None


# A plan says where the bytes fields are in the JSON of a type: ``_BYTES`` (this value), a
# dict (a Struct: wire name -> plan of the field), or (``_ITEMS`` | ``_VALUES``, plan) (each
# item of an array, each value of an object). Parts of a type without bytes are left out,
# so the walk never enters them (tool-call arguments, schemas...).
_BYTES: Final = "bytes"
_ITEMS: Final = "items"
_VALUES: Final = "values"


@functools.cache
def _base64_plan(tp: Any) -> Any:
    """The plan of ``tp`` (``None``: no bytes in it), derived from the Structs themselves."""
    return _plan_of(tp, {})


def _plan_of(tp: Any, structs: dict[type, dict[str, Any]]) -> Any:
    if tp is bytes or tp is bytearray:
        return _BYTES
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        # ``X | None`` in practice; a union of two shapes that both hold bytes does not
        # occur in the protocol (the first one would be repaired).
        plans = [sub for arg in args if (sub := _plan_of(arg, structs)) is not None]
        return plans[0] if plans else None
    if (origin in (list, set, frozenset) and args) or (
        origin is tuple and len(args) == 2 and args[1] is Ellipsis
    ):
        # (A fixed-length tuple has no such plan: its bytes would be refused, never
        # mis-decoded. The protocol has none.)
        item = _plan_of(args[0], structs)
        return None if item is None else (_ITEMS, item)
    if origin is dict and len(args) == 2:
        value = _plan_of(args[1], structs)
        return None if value is None else (_VALUES, value)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        if tp in structs:  # a recursive type: the same (possibly unfinished) plan
            return structs[tp]
        fields: dict[str, Any] = {}
        structs[tp] = fields
        for field in msgspec.structs.fields(tp):
            sub = _plan_of(field.type, structs)
            if sub is not None:
                fields[field.encode_name] = sub
        return fields or None
    return None


def _decode_base64_fields(obj: Any, plan: Any) -> None:
    """Replace every base64 string at a ``bytes`` position of ``obj`` by its bytes.

    One pass, iterative (no recursion, whatever the nesting), each value visited once;
    the stack is a flat list and no path is built (it is searched for only on an error):
    a frame of 16 MiB holds hundreds of thousands of fields. Values of the wrong JSON type
    are left for :func:`msgspec.convert` to report.

    Raises:
        ProtocolError: a string that is not base64 in either alphabet (its path named).
    """
    root_plan = plan
    stack: list[Any] = [obj, plan]
    pop, push = stack.pop, stack.append
    try:
        while stack:
            plan = pop()
            value = pop()
            if type(plan) is dict:
                items: Any = (value,) if type(value) is dict else ()
            else:
                kind, plan = plan
                if kind is _ITEMS and type(value) is list:
                    if plan is _BYTES:
                        for i, child in enumerate(value):
                            if type(child) is str:
                                value[i] = _base64_bytes(child)
                        continue
                    items = value
                elif kind is _VALUES and type(value) is dict:
                    if plan is _BYTES:
                        for key, child in list(value.items()):
                            if type(child) is str:
                                value[key] = _base64_bytes(child)
                        continue
                    items = value.values()
                else:
                    continue
                if type(plan) is not dict:  # items that are arrays or objects themselves
                    for child in items:
                        push(child)
                        push(plan)
                    continue
            # Objects of one Struct type (an array of parts, most often): their fields.
            for item in items:
                if type(item) is not dict:
                    continue
                for name, sub in plan.items():
                    child = item.get(name)
                    if child is None:
                        continue
                    if sub is _BYTES:
                        if type(child) is str:
                            item[name] = _base64_bytes(child)
                    else:
                        push(child)
                        push(sub)
    except _BadBase64 as bad:
        path = _find(obj, root_plan, bad.text)
        raise ProtocolError(f"Invalid base64 encoded string - at `{path}`") from None


class _BadBase64(Exception):
    def __init__(self, text: str) -> None:
        self.text = text


_URL_SAFE: Final = bytes.maketrans(b"-_", b"+/")


def _base64_bytes(text: str) -> bytes:
    """Decode base64 in the standard or URL-safe alphabet, padded or not (PROTOCOL.md 2)."""
    try:
        raw = text.encode("ascii").translate(_URL_SAFE)
        stripped = raw.rstrip(b"=")
        missing = -len(stripped) % 4
        if len(raw) - len(stripped) > missing:
            raise ValueError("too much padding")
        return binascii.a2b_base64(stripped + b"=" * missing, strict_mode=True)
    except (UnicodeEncodeError, ValueError):  # binascii.Error is a ValueError
        raise _BadBase64(text) from None


def _find(obj: Any, plan: Any, target: str) -> str:
    """The JSON path of ``target`` (by identity) among the bytes fields of ``obj``.

    The slow twin of :func:`_decode_base64_fields`, run once for an error message.
    """
    stack: list[tuple[Any, Any, Any]] = [(obj, plan, None)]
    while stack:
        value, plan, path = stack.pop()
        if plan is _BYTES:
            if value is target:
                return _path_text(path)
            continue
        if type(plan) is dict:
            if type(value) is dict:
                stack.extend((value.get(name), sub, (path, name)) for name, sub in plan.items())
            continue
        kind, sub = plan
        if kind is _ITEMS and type(value) is list:
            stack.extend((child, sub, (path, i)) for i, child in enumerate(value))
        elif kind is _VALUES and type(value) is dict:
            stack.extend((child, sub, (path, key)) for key, child in value.items())
    return "$"  # pragma: no cover - the target is always in obj


def _path_text(path: Any) -> str:
    """``$.serverContent.modelTurn.parts[0]...`` from a linked path ``(parent, key)``."""
    keys: list[str] = []
    while path is not None:
        path, key = path
        keys.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    return "$" + "".join(reversed(keys))


def parse_duration(value: Duration | None) -> float | None:
    """Seconds in a protobuf Duration (``"50s"``, ``"1.5s"``, ``"-0.5s"``) or a number.

    Returns ``None`` for ``None``. Raises :class:`ProtocolError` for anything else.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = value.strip()
        if text.endswith("s"):
            text = text[:-1]
        try:
            seconds = float(text)
        except ValueError:
            raise ProtocolError(f"invalid Duration {value!r}") from None
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ProtocolError(f"invalid Duration {value!r}")
    return seconds
