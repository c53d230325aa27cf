"""Strict, Google-like checking of client frames (PROTOCOL.md 2 and 3).

Google parses client frames as proto3 JSON: every name must be a field of the message
(camelCase *or* the proto's snake_case name, PROTOCOL.md 2), an unknown name closes the
connection with 1007 and a reason such as::

    Invalid JSON payload received. Unknown name "foo" at 'setup.generation_config':
    Cannot find field.

(on one line).

The emulator mimics that. A frame is decoded generically first, then walked against the
type information of our own ``_wire`` client Structs: unknown names are refused, snake_case
names are renamed to camelCase, base64 in either alphabet (PROTOCOL.md 2) is rewritten to the
standard one. Only then is it converted to a typed :class:`~trio_gemini_live._wire.ClientMessage`
(which checks the value types and enumerations).

Free-form maps are user data and are never checked: ``FunctionCall.args``,
``FunctionResponse.response``, the *keys* of ``Schema.properties``, ``Schema.default`` /
``example`` and ``parameters_json_schema`` (their types are ``dict[str, Any]`` or ``Any``).

A field Google added that ``_wire`` does not know yet (sent with ``LiveConfig(extra=...)``)
can be accepted by naming its path (``accept=``, :class:`LiveEmulator`'s ``accept_fields``):
its value is then kept as sent, unchecked, and ignored by the scripted model.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import types
import typing
from collections.abc import Collection
from typing import Any, Final

import msgspec

from .. import _wire as w

__all__ = ["ClientFrameError", "parse_client_frame"]

#: The reason Google gives for a generic bad request (PROTOCOL.md 7).
INVALID_ARGUMENT: Final = "Request contains an invalid argument."
#: Google's reason for a request without any credential (PROTOCOL.md 7; its REST answer
#: has the same text).
NO_CREDENTIALS: Final = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
#: Google's reason for a wrong API key (PROTOCOL.md 7, and its REST answer).
BAD_KEY: Final = "API key not valid. Please pass a valid API key."
#: The reason for a frame nested too deeply to parse (the emulator's text).
TOO_DEEP: Final = "Invalid JSON payload received. The JSON is nested too deeply."


class ClientFrameError(Exception):
    """A client frame Google would refuse: close the connection with ``code`` and ``reason``."""

    def __init__(self, reason: str, code: int = 1007) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Field(typing.NamedTuple):
    camel: str
    snake: str
    tp: Any


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


@functools.cache
def _fields(struct: type[msgspec.Struct]) -> dict[str, _Field]:
    """Both wire spellings of every field of ``struct`` -> its description."""
    hints = typing.get_type_hints(struct)
    out: dict[str, _Field] = {}
    for field in msgspec.structs.fields(struct):
        info = _Field(field.encode_name, field.name, hints[field.name])
        out[field.encode_name] = info
        out[field.name] = info
    return out


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _fix_base64(value: Any, path: str) -> Any:
    """Standard-alphabet, padded base64 for any base64 the client sent (PROTOCOL.md 2)."""
    if not isinstance(value, str):
        return value  # the typed conversion reports the wrong type
    padded = value + "=" * (-len(value) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ClientFrameError(
            f"Invalid value at '{path}' (TYPE_BYTES), Base64 decoding failed for \"{value[:40]}\""
        ) from None
    return base64.b64encode(raw).decode("ascii")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _walk(value: Any, tp: Any, path: str, key_path: str = "",
          accept: frozenset[str] = frozenset()) -> Any:
    """``value`` checked against the annotation ``tp``, with names normalised to camelCase.

    ``path`` is Google's form of the position (``setup.tools[0]``), ``key_path`` the
    camelCase one without list indices (``setup.tools``), matched against ``accept``.
    """
    if tp is Any or value is None:
        return value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arm in typing.get_args(tp):
            if arm is type(None):
                continue
            if _is_struct(arm) or typing.get_origin(arm) in (list, dict) or arm is bytes:
                return _walk(value, arm, path, key_path, accept)
        return value
    if origin is list:
        if not isinstance(value, list):
            return value
        (item,) = typing.get_args(tp)
        return [_walk(v, item, f"{path}[{i}]", key_path, accept) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            return value
        _, item = typing.get_args(tp)
        # Map keys are user data (e.g. Schema.properties names): never checked.
        return {k: _walk(v, item, f"{path}.{k}" if path else k, key_path, accept)
                for k, v in value.items()}
    if tp is bytes:
        return _fix_base64(value, path)
    if _is_struct(tp):
        if not isinstance(value, dict):
            return value
        fields = _fields(tp)
        out: dict[str, Any] = {}
        for key, item in value.items():
            field = fields.get(key)
            if field is None:
                name = _camel(key)
                if (f"{key_path}.{name}" if key_path else name) in accept:
                    out[name] = item  # a field the test told the emulator about
                    continue
                where = f" at '{path}'" if path else ""
                raise ClientFrameError(
                    f'Invalid JSON payload received. Unknown name "{key}"{where}: '
                    "Cannot find field."
                )
            if field.camel in out:
                # Both spellings of one field: proto3 JSON refuses the duplicate.
                raise ClientFrameError(
                    f'Invalid JSON payload received. Duplicate field "{key}"'
                    + (f" at '{path}'" if path else "")
                    + "."
                )
            sub = f"{path}.{field.snake}" if path else field.snake
            sub_key = f"{key_path}.{field.camel}" if key_path else field.camel
            out[field.camel] = _walk(item, field.tp, sub, sub_key, accept)
        return out
    return value


def _snake_path(msgspec_path: str) -> str:
    """``$.setup.generationConfig.seed`` -> ``setup.generation_config.seed`` (Google's form)."""
    text = msgspec_path.removeprefix("$").removeprefix(".")
    return re.sub(r"[A-Za-z_][A-Za-z0-9_]*", lambda m: _snake(m.group(0)), text)


_decoder: Final = msgspec.json.Decoder()


def parse_client_frame(frame: bytes | str, *, accept: Collection[str] = (),
                       ) -> tuple[dict[str, Any], w.ClientMessage]:
    """Check one client frame as Google does.

    Args:
        frame: the frame's payload.
        accept: fields to take although ``_wire`` does not know them, as camelCase paths
            without list indices (``"setup.generationConfig.responseMimeType"``,
            ``"setup.tools.enterpriseWebSearch"``): their values are kept unchecked.

    Returns:
        The frame as a camelCase dict (what the emulator records) and as a typed message.

    Raises:
        ClientFrameError: the frame is not a JSON object, has an unknown name, a value of the
            wrong type, or not exactly one top-level message field.
    """
    try:
        return _parse(frame, frozenset(accept))
    except RecursionError:
        # Deeply nested JSON (msgspec, or the walk below) must not crash the emulator: like
        # ``_wire.decode_server_message``, it is a malformed frame, closed with 1007.
        raise ClientFrameError(TOO_DEEP) from None


def _parse(frame: bytes | str, accept: frozenset[str]) -> tuple[dict[str, Any], w.ClientMessage]:
    try:
        raw = _decoder.decode(frame)
    except msgspec.DecodeError as exc:
        raise ClientFrameError(f"Invalid JSON payload received. {exc}.") from None
    if not isinstance(raw, dict):
        raise ClientFrameError(
            "Invalid JSON payload received. Expected an object at the top level."
        )
    normalised = _walk(raw, w.ClientMessage, "", "", accept)
    set_fields = [key for key, value in normalised.items() if value is not None]
    if len(set_fields) != 1:
        # ``message_type`` is a proto oneof: exactly one member (PROTOCOL.md 2).
        raise ClientFrameError(INVALID_ARGUMENT)
    try:
        message = msgspec.convert(normalised, w.ClientMessage, strict=False)
    except msgspec.ValidationError as exc:
        text, _, where = str(exc).rpartition(" - at `")
        path = _snake_path(where.rstrip("`")) if text else ""
        detail = text or str(exc)
        raise ClientFrameError(
            f"Invalid JSON payload received. Invalid value at '{path}': {detail}."
        ) from None
    return normalised, message
