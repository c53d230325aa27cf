"""``LiveConfig``: every setup field of PROTOCOL.md 3.1 under its snake_case name.

Nested fields take the library's wire structs or plain dicts with snake_case (or camelCase)
keys, e.g. ``LiveConfig(session_resumption={}, output_audio_transcription={})``. Everything
is checked when the config is built: an unknown name raises ``TypeError``, a value of the
wrong type or out of its enumeration raises ``ValueError``, before anything is sent.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, Union, get_args, get_origin

import msgspec

from . import _wire as w

__all__ = ["LiveConfig", "to_wire"]

_T = TypeVar("_T")


def _fields(cls: type[msgspec.Struct]) -> dict[str, tuple[str, Any]]:
    """Accepted key -> (wire name, type) for a struct: python and wire names both work."""
    cached: dict[str, tuple[str, Any]] | None = _FIELDS_CACHE.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls)
    out: dict[str, tuple[str, Any]] = {}
    for name, wire_name in zip(cls.__struct_fields__, cls.__struct_encode_fields__, strict=True):
        out[name] = out[wire_name] = (wire_name, hints[name])
    _FIELDS_CACHE[cls] = out
    return out


_FIELDS_CACHE: dict[type, dict[str, tuple[str, Any]]] = {}


def _normalise(value: Any, tp: Any, path: str) -> Any:
    """``value`` as builtins with wire (camelCase) keys, rejecting unknown keys.

    Free-form values (``dict[str, Any]``, ``Any``: function arguments and responses, schema
    defaults) are passed through untouched; the keys of ``dict[str, Schema]`` are user data.
    """
    if tp is Any:
        return value
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        if isinstance(value, msgspec.Struct):
            if not isinstance(value, tp):
                raise TypeError(f"{path}: expected {tp.__name__}, got {type(value).__name__}")
            return msgspec.to_builtins(value)
        if not isinstance(value, Mapping):
            raise TypeError(
                f"{path}: expected a {tp.__name__} or a dict, got {type(value).__name__}"
            )
        fields = _fields(tp)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key not in fields:
                known = ", ".join(sorted(n for n in tp.__struct_fields__))
                raise TypeError(f"{path}: unknown field {key!r} (known: {known})")
            wire_name, field_tp = fields[key]
            out[wire_name] = _normalise(item, field_tp, f"{path}.{key}")
        return out
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        structs = [a for a in get_args(tp) if isinstance(a, type) and issubclass(a, msgspec.Struct)]
        if structs and (isinstance(value, (Mapping, msgspec.Struct))):
            return _normalise(value, structs[0], path)
        # ``list[Part] | None`` and ``dict[str, Schema] | None``: normalise the items too, or
        # their snake_case keys would be silently dropped by msgspec (and unknown ones kept).
        for arg in get_args(tp):
            arg_origin = get_origin(arg)
            if (arg_origin is list and isinstance(value, (list, tuple))) or (
                arg_origin is dict and isinstance(value, Mapping)
            ):
                return _normalise(value, arg, path)
        return value
    if origin is list and isinstance(value, (list, tuple)):
        (item_tp,) = get_args(tp)
        return [_normalise(item, item_tp, f"{path}[{i}]") for i, item in enumerate(value)]
    if origin is dict and isinstance(value, Mapping):
        _, item_tp = get_args(tp)
        return {key: _normalise(item, item_tp, f"{path}[{key!r}]") for key, item in value.items()}
    return value


def to_wire(value: Any, tp: type[_T], name: str) -> _T:
    """Convert a struct or a dict (snake_case or camelCase keys) into the wire type ``tp``.

    Raises:
        TypeError: an unknown field, or a value of an unusable kind.
        ValueError: a value of the wrong type or outside its enumeration.
    """
    builtins = _normalise(value, tp, name)
    try:
        return msgspec.convert(builtins, tp)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{name}: {_readable(exc)}") from None


def _readable(exc: msgspec.ValidationError) -> str:
    # msgspec says "- at `$.a.b`"; keep the message, it names the offending path.
    return str(exc).replace("`$", "`")


class LiveConfig:
    """The session's ``setup`` (PROTOCOL.md 3.1), in snake_case.

    The generation settings can be given at the top level (``response_modalities=["TEXT"]``,
    ``temperature=0.2``, ``voice="Puck"``...) or inside ``generation_config``; giving the same
    setting in both places is an error. ``system_instruction`` is a string or a
    :class:`~trio_gemini_live.Content`. ``tools`` holds wire :class:`~trio_gemini_live.Tool`
    entries or dicts (``{"google_search": {}}``, ``{"function_declarations": [...]}``);
    Python callables declared with :mod:`trio_gemini_live.tools` go to
    ``open_live_session(tools=...)``.

    Raises:
        TypeError: an unknown field, or a value of an unusable kind.
        ValueError: an invalid value.
    """

    __slots__ = (
        "context_window_compression",
        "explicit_vad_signal",
        "generation_config",
        "history_config",
        "input_audio_transcription",
        "output_audio_transcription",
        "proactivity",
        "realtime_input_config",
        "session_resumption",
        "system_instruction",
        "tools",
    )

    generation_config: w.GenerationConfig | None
    system_instruction: w.Content | None
    tools: list[w.Tool] | None
    realtime_input_config: w.RealtimeInputConfig | None
    session_resumption: w.SessionResumptionConfig | None
    context_window_compression: w.ContextWindowCompression | None
    input_audio_transcription: w.AudioTranscriptionConfig | None
    output_audio_transcription: w.AudioTranscriptionConfig | None
    proactivity: w.Proactivity | None
    history_config: w.HistoryConfig | None
    explicit_vad_signal: bool | None

    def __init__(
        self,
        *,
        generation_config: w.GenerationConfig | Mapping[str, Any] | None = None,
        response_modalities: Iterable[str] | None = None,
        speech_config: w.SpeechConfig | Mapping[str, Any] | None = None,
        voice: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        max_output_tokens: int | None = None,
        candidate_count: int | None = None,
        presence_penalty: float | None = None,
        frequency_penalty: float | None = None,
        seed: int | None = None,
        media_resolution: str | None = None,
        thinking_config: w.ThinkingConfig | Mapping[str, Any] | None = None,
        enable_affective_dialog: bool | None = None,
        system_instruction: str | w.Content | Mapping[str, Any] | None = None,
        tools: Iterable[w.Tool | Mapping[str, Any]] | None = None,
        realtime_input_config: w.RealtimeInputConfig | Mapping[str, Any] | None = None,
        session_resumption: w.SessionResumptionConfig | Mapping[str, Any] | None = None,
        context_window_compression: w.ContextWindowCompression | Mapping[str, Any] | None = None,
        input_audio_transcription: w.AudioTranscriptionConfig | Mapping[str, Any] | None = None,
        output_audio_transcription: w.AudioTranscriptionConfig | Mapping[str, Any] | None = None,
        proactivity: w.Proactivity | Mapping[str, Any] | None = None,
        history_config: w.HistoryConfig | Mapping[str, Any] | None = None,
        explicit_vad_signal: bool | None = None,
    ) -> None:
        gen: dict[str, Any] = (
            {}
            if generation_config is None
            else dict(_normalise(generation_config, w.GenerationConfig, "generation_config"))
        )
        shortcuts = {
            "candidate_count": candidate_count,
            "max_output_tokens": max_output_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "top_k": top_k,
            "presence_penalty": presence_penalty,
            "frequency_penalty": frequency_penalty,
            "seed": seed,
            "response_modalities": None if response_modalities is None else _str_list(
                response_modalities, "response_modalities"
            ),
            "speech_config": speech_config,
            "media_resolution": media_resolution,
            "thinking_config": thinking_config,
            "enable_affective_dialog": enable_affective_dialog,
        }
        if voice is not None:
            if speech_config is not None:
                raise ValueError("give either voice= or speech_config=, not both")
            if not isinstance(voice, str) or not voice:
                raise TypeError("voice must be a non-empty voice name such as 'Puck'")
            shortcuts["speech_config"] = {"voice_config": {"prebuilt_voice_config": {
                "voice_name": voice}}}
        fields = _fields(w.GenerationConfig)
        for name, value in shortcuts.items():
            if value is None:
                continue
            wire_name, field_tp = fields[name]
            if wire_name in gen:
                raise ValueError(f"{name} is given both directly and in generation_config")
            gen[wire_name] = _normalise(value, field_tp, name)
        try:
            self.generation_config = (
                msgspec.convert(gen, w.GenerationConfig) if gen else None
            )
        except msgspec.ValidationError as exc:
            raise ValueError(f"generation_config: {_readable(exc)}") from None

        if isinstance(system_instruction, str):
            self.system_instruction = w.Content(parts=[w.Part(text=system_instruction)])
        else:
            self.system_instruction = _opt(system_instruction, w.Content, "system_instruction")
        if tools is None:
            self.tools = None
        else:
            if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Iterable):
                raise TypeError("tools must be a list of Tool entries or dicts")
            self.tools = [to_wire(t, w.Tool, f"tools[{i}]") for i, t in enumerate(tools)]
        self.realtime_input_config = _opt(
            realtime_input_config, w.RealtimeInputConfig, "realtime_input_config"
        )
        self.session_resumption = _opt(
            session_resumption, w.SessionResumptionConfig, "session_resumption"
        )
        if self.session_resumption is not None and self.session_resumption.handle is not None:
            raise ValueError(
                "pass the handle as open_live_session(resume_handle=...), not in the config"
            )
        self.context_window_compression = _opt(
            context_window_compression, w.ContextWindowCompression, "context_window_compression"
        )
        self.input_audio_transcription = _opt(
            input_audio_transcription, w.AudioTranscriptionConfig, "input_audio_transcription"
        )
        self.output_audio_transcription = _opt(
            output_audio_transcription, w.AudioTranscriptionConfig, "output_audio_transcription"
        )
        self.proactivity = _opt(proactivity, w.Proactivity, "proactivity")
        self.history_config = _opt(history_config, w.HistoryConfig, "history_config")
        if explicit_vad_signal is not None and not isinstance(explicit_vad_signal, bool):
            raise TypeError("explicit_vad_signal must be a bool")
        self.explicit_vad_signal = explicit_vad_signal

    def to_setup(
        self, model: str, extra_tools: Iterable[w.Tool] = (), *, vertex: bool = False
    ) -> w.Setup:
        """The ``setup`` message for ``model`` (already in its full wire form).

        Raises:
            ValueError: a Vertex-only field (``explicit_vad_signal``, transparent
                resumption) for the Gemini API, which would refuse the setup with 1007
                (PROTOCOL.md 3.1).
        """
        if not vertex:
            if self.explicit_vad_signal is not None:
                raise ValueError("explicit_vad_signal is Vertex-AI-only: the Gemini API refuses it")
            if self.session_resumption is not None and self.session_resumption.transparent:
                raise ValueError(
                    "transparent session resumption is Vertex-AI-only: the Gemini API refuses it"
                )
        tools = list(self.tools or ()) + list(extra_tools)
        return w.Setup(
            model=model,
            generation_config=self.generation_config,
            system_instruction=self.system_instruction,
            tools=tools or None,
            realtime_input_config=self.realtime_input_config,
            session_resumption=self.session_resumption,
            context_window_compression=self.context_window_compression,
            input_audio_transcription=self.input_audio_transcription,
            output_audio_transcription=self.output_audio_transcription,
            proactivity=self.proactivity,
            history_config=self.history_config,
            explicit_vad_signal=self.explicit_vad_signal,
        )

    @property
    def response_modalities(self) -> list[str]:
        """The configured response modalities (``[]`` when the server default applies)."""
        gen = self.generation_config
        return list(gen.response_modalities or ()) if gen is not None else []

    def __repr__(self) -> str:
        set_fields = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in self.__slots__
            if getattr(self, name) is not None
        )
        return f"LiveConfig({set_fields})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LiveConfig):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


def _opt(value: Any, tp: type[_T], name: str) -> _T | None:
    return None if value is None else to_wire(value, tp, name)


def _str_list(value: Iterable[str], name: str) -> list[str]:
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a list such as ['AUDIO'], not a string")
    return list(value)

