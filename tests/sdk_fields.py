"""Every Live API field the official SDK knows, and where it lives in this library (issue 13).

The SDK's pydantic models (``google.genai.types``, camelCase aliases) are walked from
``LiveClientMessage`` and ``LiveServerMessage`` side by side with our ``_wire`` structs:
each SDK field is matched to our field of the same wire name. The result is a table, one row
per (SDK type, field), that ``tests/test_sdk_fields.py`` checks (no server field missing;
client fields missing only where documented, for ``LiveConfig(extra=...)``) and that
``python -m tests.sdk_fields`` prints as Markdown.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import types as pytypes
import typing
from dataclasses import dataclass
from typing import Any

import msgspec
import pydantic
from google.genai import types

from trio_gemini_live import _wire as w

#: SDK fields whose list type is not introspectable (``Annotated[list, WrapValidator]``):
#: the item type, by (SDK type, alias).
_LIST_ITEMS: dict[tuple[str, str], type[pydantic.BaseModel]] = {
    ("LiveClientSetup", "tools"): types.Tool,
    ("LiveClientContextUpdateTools", "tools"): types.Tool,
}

#: Client-side SDK fields this library does not type, by (SDK type, alias): they are sent
#: with ``LiveConfig(extra={...})`` (setup fields) and are documented as such. Everything
#: else the SDK can send is typed.
EXTRA_ONLY: dict[tuple[str, str], str] = {
    **{("GenerationConfig", name): "not supported by the Live API (PROTOCOL.md 3.1)"
       for name in ("modelSelectionConfig", "responseJsonSchema", "audioTimestamp",
                    "logprobs", "responseLogprobs", "responseMimeType", "responseSchema",
                    "routingConfig", "stopSequences", "enableEnhancedCivicAnswers",
                    "responseFormat", "audioTranscriptionConfig")},
    **{("Tool", name): "a tool kind not typed for Live (extra={'tools': [...]})"
       for name in ("retrieval", "computerUse", "enterpriseWebSearch",
                    "googleSearchRetrieval", "parallelAiSearch", "mcpServers",
                    "exaAiSearch")},
    ("GoogleMaps", "authConfig"): "Vertex AI auth for Maps (extra={'tools': [...]})",
}


@dataclass(frozen=True)
class Row:
    side: str  # "client" or "server"
    sdk_type: str
    alias: str
    ours: str | None  # "Struct.field" or None
    home: str  # where a user finds / sets it


def _models_in(tp: Any) -> list[type[pydantic.BaseModel]]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, pytypes.UnionType, list, tuple, dict):
        args = typing.get_args(tp)
        if origin is dict:
            args = args[1:]
        return [m for a in args for m in _models_in(a)]
    if origin is typing.Annotated:
        return _models_in(typing.get_args(tp)[0])
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        return [tp]
    return []


def _struct_in(tp: Any) -> type[msgspec.Struct] | None:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, pytypes.UnionType, list, dict):
        args = typing.get_args(tp)
        if origin is dict:
            args = args[1:]
        for arg in args:
            found = _struct_in(arg)
            if found is not None:
                return found
        return None
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return tp
    return None


def _is_enum(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, pytypes.UnionType, list):
        return any(_is_enum(a) for a in typing.get_args(tp))
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def walk(side: str) -> list[Row]:
    """The rows of one side: ``"client"`` or ``"server"``.

    A type reached by several paths (``Part`` in a system instruction, a history turn...)
    gets one row per field, with every place it can be set (client) or the place it is
    first met (server: a server type's fields reach the same event attributes).
    """
    root: tuple[type[pydantic.BaseModel], type[msgspec.Struct]] = (
        (types.LiveClientMessage, w.ClientMessage) if side == "client"
        else (types.LiveServerMessage, w.ServerMessage)
    )
    rows: dict[tuple[str, str], Row] = {}
    seen: set[tuple[type, type, str]] = set()
    todo: list[tuple[tuple[type[pydantic.BaseModel], type[msgspec.Struct]],
                     tuple[str, ...]]] = [(root, ())]
    while todo:
        (sdk, ours), path = todo.pop(0)
        # Walk a type again only from another entry point (client homes differ by it).
        entry = _home(side, (*path, "?"), None if not path else (ours, "?")) if (
            side == "client") else ""
        if (sdk, ours, entry) in seen or (side == "server" and any(
                (sdk, ours) == (a, b) for a, b, _ in seen)):
            continue
        seen.add((sdk, ours, entry))
        hints = typing.get_type_hints(ours)
        by_wire = {f.encode_name: f for f in msgspec.structs.fields(ours)}
        for name, field in sdk.model_fields.items():
            alias = field.alias or name
            mine = by_wire.get(alias)
            where = (*path, alias)
            key = (sdk.__name__, alias)
            home = _home(side, where, None if mine is None else (ours, mine.name))
            row = rows.get(key)
            if row is None:
                rows[key] = Row(side, sdk.__name__, alias,
                                None if mine is None else f"{ours.__name__}.{mine.name}", home)
            elif side == "client" and home not in row.home.split(" or "):
                rows[key] = dataclasses.replace(row, home=f"{row.home} or {home}")
            if mine is None:
                continue
            nested_ours = _struct_in(hints[mine.name])
            if nested_ours is None:
                continue
            candidates = _models_in(field.annotation) or [
                _LIST_ITEMS[(sdk.__name__, alias)]]
            nested_sdk = next((m for m in candidates if m.__name__ == nested_ours.__name__),
                              candidates[0])
            todo.append(((nested_sdk, nested_ours), where))
    return list(rows.values())


# --- where a field reaches the user (server) or is set (client) --------------------------------

_SERVER_EVENTS: dict[tuple[type, str], str] = {
    (w.ServerMessage, "setup_complete"): "events.SetupComplete",
    (w.SetupComplete, "session_id"): "events.SetupComplete.session_id",
    (w.SetupComplete, "voice_consent_signature"): (
        "events.SetupComplete.voice_consent_signature"),
    (w.ServerMessage, "server_content"): "(its fields below)",
    (w.ServerContent, "model_turn"): "(its parts below)",
    (w.Content, "parts"): "one or more events per part, in order",
    (w.Content, "role"): "always 'model': not an event field",
    (w.Part, "text"): "events.TextChunk.text",
    (w.Part, "thought"): "events.TextChunk.thought",
    (w.Part, "thought_signature"): "events.TextChunk.thought_signature (else ModelPart)",
    (w.Part, "inline_data"): "events.AudioChunk (16-bit PCM) / events.InlineData (other)",
    (w.Part, "executable_code"): "events.ExecutableCode",
    (w.Part, "code_execution_result"): "events.CodeExecutionResult",
    (w.ServerContent, "turn_complete"): "events.TurnComplete",
    (w.ServerContent, "turn_complete_reason"): "events.TurnComplete.reason",
    (w.ServerContent, "interrupted"): "events.Interrupted",
    (w.ServerContent, "generation_complete"): "events.GenerationComplete",
    (w.ServerContent, "waiting_for_input"): "events.WaitingForInput",
    (w.ServerContent, "interaction_status"): "events.InteractionStatus.status",
    (w.ServerContent, "grounding_metadata"): "events.Grounding.metadata",
    (w.ServerContent, "url_context_metadata"): "events.Grounding.url_context",
    (w.ServerContent, "input_transcription"): "events.InputTranscription",
    (w.ServerContent, "output_transcription"): "events.OutputTranscription",
    (w.ServerContent, "interim_input_transcription"): "events.InterimInputTranscription",
    (w.Transcription, "text"): "events.*Transcription.text",
    (w.Transcription, "finished"): "events.*Transcription.finished",
    (w.Transcription, "language_code"): "events.*Transcription.language_code",
    (w.Transcription, "speaker_label"): "events.*Transcription.speaker_label",
    (w.Transcription, "words"): "events.*Transcription.words (events.Word)",
    (w.Transcription, "start_offset"): "events.*Transcription.start_offset (seconds)",
    (w.Transcription, "end_offset"): "events.*Transcription.end_offset (seconds)",
    (w.WordInfo, "word"): "events.Word.word",
    (w.WordInfo, "start_offset"): "events.Word.start_offset (seconds)",
    (w.WordInfo, "end_offset"): "events.Word.end_offset (seconds)",
    (w.ServerMessage, "tool_call"): "events.ToolCall",
    (w.ToolCall, "function_calls"): "events.ToolCall.calls",
    (w.ServerMessage, "tool_call_cancellation"): "events.ToolCallCancellation",
    (w.ToolCallCancellation, "ids"): "events.ToolCallCancellation.ids",
    (w.ServerMessage, "usage_metadata"): "events.UsageUpdate.usage",
    (w.UsageMetadata, "prompt_token_count"): "events.Usage.prompt_tokens",
    (w.UsageMetadata, "cached_content_token_count"): "events.Usage.cached_tokens",
    (w.UsageMetadata, "response_token_count"): "events.Usage.response_tokens",
    (w.UsageMetadata, "tool_use_prompt_token_count"): "events.Usage.tool_use_prompt_tokens",
    (w.UsageMetadata, "thoughts_token_count"): "events.Usage.thoughts_tokens",
    (w.UsageMetadata, "total_token_count"): "events.Usage.total_tokens",
    (w.UsageMetadata, "prompt_tokens_details"): "events.Usage.prompt_details",
    (w.UsageMetadata, "cache_tokens_details"): "events.Usage.cache_details",
    (w.UsageMetadata, "response_tokens_details"): "events.Usage.response_details",
    (w.UsageMetadata, "tool_use_prompt_tokens_details"): (
        "events.Usage.tool_use_prompt_details"),
    (w.UsageMetadata, "traffic_type"): "events.Usage.traffic_type",
    (w.UsageMetadata, "service_tier"): "events.Usage.service_tier",
    (w.ModalityTokenCount, "modality"): "events.Usage.*_details[].modality",
    (w.ModalityTokenCount, "token_count"): "events.Usage.*_details[].token_count",
    (w.ServerMessage, "go_away"): "events.GoAway",
    (w.GoAway, "time_left"): "events.GoAway.time_left (seconds)",
    (w.ServerMessage, "session_resumption_update"): "events.SessionResumptionUpdate",
    (w.SessionResumptionUpdate, "new_handle"): "events.SessionResumptionUpdate.handle",
    (w.SessionResumptionUpdate, "resumable"): "events.SessionResumptionUpdate.resumable",
    (w.SessionResumptionUpdate, "last_consumed_client_message_index"): (
        "events.SessionResumptionUpdate.last_consumed_index"),
    (w.ServerMessage, "voice_activity"): "events.VoiceActivity",
    (w.VoiceActivity, "voice_activity_type"): "events.VoiceActivity.kind",
    (w.VoiceActivity, "audio_offset"): "events.VoiceActivity.audio_offset (seconds)",
    (w.ServerMessage, "voice_activity_detection_signal"): "events.VoiceActivity",
    (w.VoiceActivityDetectionSignal, "vad_signal_type"): "events.VoiceActivity.kind",
}
#: Structs an event carries whole: their fields are attributes of the struct.
_CARRIED: dict[type, str] = {
    w.GroundingMetadata: "events.Grounding.metadata",
    w.UrlContextMetadata: "events.Grounding.url_context",
    w.FunctionCall: "events.ToolCall.calls[]",
    w.Blob: "events.AudioChunk / events.InlineData",
    w.ExecutableCode: "events.ExecutableCode",
    w.CodeExecutionResult: "events.CodeExecutionResult",
    w.VoiceConsentSignature: "events.SetupComplete.voice_consent_signature",
}


def _home(side: str, path: tuple[str, ...], mine: tuple[type, str] | None) -> str:
    if mine is None:
        return "LiveConfig(extra=...) only" if side == "client" else "MISSING"
    struct, field = mine
    if side == "server":
        if (struct, field) in _SERVER_EVENTS:
            return _SERVER_EVENTS[(struct, field)]
        if "functionResponse" in path:  # a function response part: a ModelPart
            return "events.ModelPart.part." + ".".join(
                _snake(p) for p in path[path.index("parts") + 1:])
        if struct in _CARRIED:
            return f"{_CARRIED[struct]}.{field}"
        # Under a struct that an event carries whole (grounding chunks, partial args...).
        for ancestor, home in (("groundingMetadata", "events.Grounding.metadata"),
                               ("urlContextMetadata", "events.Grounding.url_context"),
                               ("functionCalls", "events.ToolCall.calls[]")):
            if ancestor in path:
                rest = path[path.index(ancestor) + 1:]
                return f"{home}." + ".".join(_snake(p) for p in rest)
        if "parts" in path:
            return "events.ModelPart.part." + ".".join(
                _snake(p) for p in path[path.index("parts") + 1:])
        return "wire only"
    top = path[0]
    if top == "setup":
        if len(path) >= 3 and path[1] == "generationConfig":
            return f"LiveConfig({_snake(path[2])}=...)"
        if len(path) >= 2:
            return f"LiveConfig({_snake(path[1])}=...)" if path[1] != "model" else (
                "open_live_session(model=...)")
        return "open_live_session"
    return {
        "clientContent": "session.send_client_content / history=",
        "realtimeInput": "session.send_realtime_input / send_text",
        "toolResponse": "session.send_tool_response (or tool return values)",
        "contextUpdate": "session.send_context_update",
    }.get(top, "wire")


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def markdown(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = ["| side | SDK type | field | wire (`_wire`) | where it lives |",
             "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.side} | {row.sdk_type} | `{row.alias}` | "
                     f"{row.ours or '-'} | {row.home} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - a report helper
    sides = sys.argv[1:] or ["server", "client"]
    print(markdown([row for side in sides for row in walk(side)]))
