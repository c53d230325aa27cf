"""What the user sends, checked and turned into client messages (PROTOCOL.md 3.2-3.4).

Pure functions, no I/O: every ``LiveSession.send_*`` method calls one of these first, so
malformed input raises ``TypeError``/``ValueError`` before anything is queued.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from . import _wire as w
from ._config import to_wire
from ._mime import parse_mime

if TYPE_CHECKING:
    from .tools import ToolRegistry

__all__ = [
    "client_content",
    "context_update",
    "history",
    "realtime_input",
    "split_tools",
    "tool_response",
    "tool_responses",
]


def client_content(
    content: str | w.Content | Mapping[str, Any] | Sequence[w.Content | Mapping[str, Any]],
    turn_complete: bool,
) -> w.ClientMessage:
    """A ``clientContent`` message: a string (one user turn of text), a turn, or turns.

    Raises:
        TypeError, ValueError: malformed content; function call and response parts (the
            server closes with 1007 on them).
    """
    if isinstance(content, str):
        turns = [w.Content(role="user", parts=[w.Part(text=content)])]
    elif isinstance(content, (w.Content, Mapping)):
        turns = [to_wire(content, w.Content, "content")]
    elif isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)):
        turns = [to_wire(t, w.Content, f"content[{i}]") for i, t in enumerate(content)]
    else:
        raise TypeError(
            f"content must be a str, a Content or a list of turns, got {content!r:.80}"
        )
    for i, turn in enumerate(turns):
        for part in turn.parts or ():
            if part.function_call is not None or part.function_response is not None:
                raise ValueError(
                    f"content[{i}]: function call/response parts are not allowed in client"
                    " content (the server closes with 1007); use send_tool_response()"
                )
    if not isinstance(turn_complete, bool):
        raise TypeError("turn_complete must be a bool")
    return w.ClientMessage(
        client_content=w.ClientContent(turns=turns, turn_complete=turn_complete)
    )


def history(turns: Any) -> list[w.Content]:
    """Initial history (``open_live_session(history=...)``): turns in any form
    ``send_client_content`` takes, each with the role ``user`` or ``model``.

    Raises:
        TypeError, ValueError: malformed turns, a turn without a known role, function call or
            response parts (the server closes with 1007 on them: tool calls and results go
            in as text).
    """
    message = client_content(turns, turn_complete=False)
    assert message.client_content is not None and message.client_content.turns is not None
    out = message.client_content.turns
    for i, turn in enumerate(out):
        if turn.role not in ("user", "model"):
            raise ValueError(
                f"history[{i}] has the role {turn.role!r}: a history turn is 'user' or 'model'"
            )
    return out


def split_tools(tools: Any) -> tuple[list[w.Tool], list[Any]]:
    """Tools given as wire entries or dicts (declarations) and as Python callables.

    Raises:
        TypeError: ``tools`` is not a list.
    """
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Iterable):
        raise TypeError("tools must be a list of Python functions, Tool entries or dicts")
    declared: list[w.Tool] = []
    callables: list[Any] = []
    for i, tool in enumerate(tools):
        if isinstance(tool, (w.Tool, Mapping)):
            declared.append(to_wire(tool, w.Tool, f"tools[{i}]"))
        else:
            callables.append(tool)
    return declared, callables


def context_update(
    system_instruction: Any, tools: Any
) -> tuple[w.ContextUpdate, ToolRegistry | None, list[w.Tool]]:
    """A ``contextUpdate`` (PROTOCOL.md 3.5) from what ``send_context_update`` takes.

    Returns:
        The update, the registry of the Python functions among ``tools`` (``None``: none),
        and the tools given as wire entries or dicts.

    Raises:
        ValueError: neither argument.
        TypeError: an argument of the wrong kind.
    """
    if system_instruction is None and tools is None:
        raise ValueError("send_context_update needs a system_instruction, tools, or both")
    instruction: w.Content | None = None
    if isinstance(system_instruction, str):
        instruction = w.Content(parts=[w.Part(text=system_instruction)])
    elif system_instruction is not None:
        instruction = to_wire(system_instruction, w.Content, "system_instruction")
    update = w.ContextUpdate(system_instruction=instruction)
    registry: ToolRegistry | None = None
    declared: list[w.Tool] = []
    if tools is not None:
        declared, callables = split_tools(tools)
        if callables:
            from .tools import ToolRegistry

            registry = ToolRegistry(callables)
        wire_tools = declared + (registry.declarations() if registry else [])
        update = msgspec.structs.replace(update, tools=w.ContextUpdateTools(tools=wire_tools))
    return update, registry, declared


def realtime_input(
    input_rate: int,
    *,
    audio: Any = None,
    video: Any = None,
    text: Any = None,
    activity_start: Any = None,
    activity_end: Any = None,
    audio_stream_end: Any = None,
) -> tuple[w.ClientMessage, str, float]:
    """A ``realtimeInput`` message with exactly one field (PROTOCOL.md 3.3).

    Returns:
        The message, the name of its field, and the seconds of audio it carries.

    Raises:
        TypeError, ValueError: not exactly one input, ``str`` where bytes are expected, an
            odd number of PCM bytes, a wrong MIME type.
    """
    if (
        audio is not None
        and audio is not False
        and video is None
        and text is None
        and activity_start is None
        and activity_end is None
        and audio_stream_end is None
    ):
        # The hot path (issue 11): an audio chunk, and nothing else given.
        blob, rate = _audio_blob(audio, input_rate)
        return (
            w.ClientMessage(realtime_input=w.RealtimeInput(audio=blob)),
            "audio",
            len(blob.data or b"") / (2 * rate),
        )
    given = {
        name: value
        for name, value in (
            ("audio", audio),
            ("video", video),
            ("text", text),
            ("activity_start", activity_start),
            ("activity_end", activity_end),
            ("audio_stream_end", audio_stream_end),
        )
        if value is not None and value is not False
    }
    if len(given) != 1:
        raise TypeError(
            "send_realtime_input takes exactly one input per call, got "
            + (", ".join(given) if given else "none")
        )
    ((name, value),) = given.items()
    # Audio given alone took the fast path above; here it is never alone.
    if name == "video":
        rt = w.RealtimeInput(video=_media_blob(value, "video", "image/jpeg", "image/"))
    elif name == "text":
        if not isinstance(value, str):
            raise TypeError(f"text must be a str, got {type(value).__name__}")
        rt = w.RealtimeInput(text=value)
    elif name == "activity_start":
        _check_flag(value, w.ActivityStart, name)
        rt = w.RealtimeInput(activity_start=w.ActivityStart())
    elif name == "activity_end":
        _check_flag(value, w.ActivityEnd, name)
        rt = w.RealtimeInput(activity_end=w.ActivityEnd())
    else:
        if value is not True:
            raise TypeError("audio_stream_end must be True")
        rt = w.RealtimeInput(audio_stream_end=True)
    return w.ClientMessage(realtime_input=rt), name, 0.0


def tool_responses(responses: Any, *, vertex: bool) -> w.ClientMessage:
    """A ``toolResponse`` message from responses or dicts (PROTOCOL.md 3.4).

    Raises:
        TypeError, ValueError: no responses, or one that :func:`tool_response` refuses.
    """
    if isinstance(responses, (w.FunctionResponse, Mapping)):
        items: list[Any] = [responses]
    elif isinstance(responses, Iterable) and not isinstance(responses, (str, bytes)):
        items = list(responses)
    else:
        raise TypeError("responses must be a list of FunctionResponse or dicts")
    if not items:
        raise ValueError("send_tool_response needs at least one response")
    fixed = [tool_response(item, i, vertex=vertex) for i, item in enumerate(items)]
    return w.ClientMessage(tool_response=w.ToolResponse(function_responses=fixed))


def tool_response(item: Any, index: int, *, vertex: bool, strict: bool = True) -> (
    w.FunctionResponse
):
    """One answer: it needs the call's ``id`` and ``name``; ``response`` defaults to ``{}``.

    The one place for Vertex AI's rule (PROTOCOL.md 3.1): ``scheduling`` and
    ``will_continue`` are Gemini-API-only and break Vertex. ``strict`` (what the user sends):
    refused with ``ValueError``; otherwise (answers the library makes, e.g. from a tool
    declared NON_BLOCKING): removed.

    Raises:
        TypeError, ValueError: a missing id or name, a non-dict response, or (``strict``)
            the Gemini-API-only fields on Vertex AI.
    """
    resp = to_wire(item, w.FunctionResponse, f"responses[{index}]")
    if not resp.id:
        raise ValueError(f"responses[{index}] has no id (the id of the call it answers)")
    if not resp.name:
        raise ValueError(f"responses[{index}] has no name (the called function's name)")
    if resp.response is None:
        resp = msgspec.structs.replace(resp, response={})
    if vertex and (resp.scheduling is not None or resp.will_continue is not None):
        if strict:
            raise ValueError(
                "scheduling and will_continue are Gemini-API-only; Vertex AI rejects them"
            )
        resp = msgspec.structs.replace(resp, scheduling=None, will_continue=None)
    return resp


def _audio_blob(value: Any, input_rate: int) -> tuple[w.Blob, int]:
    if isinstance(value, w.Blob):
        mime = value.mime_type or ""
        try:
            rate = parse_mime(mime, default_rate=input_rate)[1]
        except ValueError as exc:
            raise ValueError(f"audio MIME type must be audio/pcm[;rate=N]: {exc}") from None
        data = value.data or b""
        blob = value
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        rate = input_rate
        blob = w.Blob(mime_type=f"audio/pcm;rate={rate}", data=data)
    elif isinstance(value, str):
        raise TypeError("audio must be raw PCM bytes, not str")
    else:
        raise TypeError(f"audio must be PCM bytes or a Blob, got {type(value).__name__}")
    if len(data) % 2:
        raise ValueError(f"16-bit PCM has an even number of bytes; got {len(data)}")
    return blob, rate


def _check_flag(value: Any, cls: type, name: str) -> None:
    if value is not True and not isinstance(value, cls):
        raise TypeError(f"{name} must be True or {cls.__name__}()")


def _media_blob(value: Any, name: str, default_mime: str, prefix: str) -> w.Blob:
    if isinstance(value, w.Blob):
        if not (value.mime_type or "").startswith(prefix):
            raise ValueError(
                f"{name} MIME type must start with {prefix!r}, got {value.mime_type!r}"
            )
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return w.Blob(mime_type=default_mime, data=bytes(value))
    if isinstance(value, str):
        raise TypeError(f"{name} must be bytes, not str")
    raise TypeError(f"{name} must be bytes or a Blob, got {type(value).__name__}")
