"""``LiveConfig``: every setup field of PROTOCOL.md 3.1 under its snake_case name.

Nested fields take the library's wire structs or plain dicts with snake_case (or camelCase)
keys, e.g. ``LiveConfig(session_resumption={}, output_audio_transcription={})``. Everything
is checked when the config is built: an unknown name raises ``TypeError``, a value of the
wrong type or out of its enumeration raises ``ValueError``, before anything is sent.

``LiveConfig(extra={...})`` is the forward-compatibility escape hatch: camelCase setup
fields deep-merged into the setup when it is encoded (:func:`encode_setup`, which the
protocol core calls once per connection).
"""

from __future__ import annotations

import copy
import functools
import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypeVar, Union, get_args, get_origin

import msgspec

from . import _wire as w

__all__ = [
    "BACKEND_ONLY",
    "LiveConfig",
    "backend_only_fields",
    "check_extra",
    "encode_setup",
    "merge_extra",
    "setup_with_extra",
    "to_wire",
]

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


#: The generation settings ``LiveConfig`` also takes at the top level.
_GENERATION_SHORTCUTS: Final = (
    "candidate_count", "max_output_tokens", "temperature", "top_p", "top_k",
    "presence_penalty", "frequency_penalty", "seed", "response_modalities", "speech_config",
    "media_resolution", "thinking_config", "enable_affective_dialog", "translation_config",
)


class LiveConfig:
    """The session's ``setup`` (PROTOCOL.md 3.1), in snake_case. Immutable.

    The generation settings can be given at the top level (``response_modalities=["TEXT"]``,
    ``temperature=0.2``, ``voice="Puck"``...) or inside ``generation_config``; giving the same
    setting in both places is an error. ``system_instruction`` is a string or a
    :class:`~trio_gemini_live.Content`. ``tools`` holds wire :class:`~trio_gemini_live.Tool`
    entries or dicts (``{"google_search": {}}``, ``{"function_declarations": [...]}``);
    Python callables declared with :mod:`trio_gemini_live.tools` go to
    ``open_live_session(tools=...)``. Nested settings take the library's wire structs or
    dicts with snake_case (or camelCase) keys.

    A config never changes once built: assigning an attribute raises ``AttributeError``;
    :meth:`replace` returns a modified copy.

    Which settings a model accepts is in its profile (:mod:`trio_gemini_live.models`):
    ``open_live_session`` refuses, before connecting, a setting the model would answer with
    a fatal 1007.

    **The escape hatch,** ``extra``: a dict of setup fields in the wire's camelCase,
    deep-merged into the setup as it is sent, for fields this library does not type yet (a
    field Google added last week, an SDK field such as ``{"generationConfig":
    {"responseMimeType": ...}}``, another tool kind in ``{"tools": [...]}``). The typed
    fields are kept: dicts merge key by key, ``extra["tools"]`` entries are added after the
    typed tools, and a value that would replace a typed one is refused (unless equal). The
    library's own fields are refused too (``model``: ``open_live_session(model=...)``;
    ``sessionResumption.handle``: ``resume_handle=``). Keys are checked where this library
    knows the schema (a snake_case or misspelt-looking key there is an error); inside a field
    it does not know, the value is sent as given.

    Raises:
        TypeError: an unknown field, or a value of an unusable kind.
        ValueError: an invalid value, or an ``extra`` that names a typed or managed field.
    """

    __slots__ = (
        "_extra",
        "avatar_config",
        "context_window_compression",
        "explicit_vad_signal",
        "generation_config",
        "history_config",
        "input_audio_transcription",
        "labels",
        "output_audio_transcription",
        "proactivity",
        "realtime_input_config",
        "safety_settings",
        "session_resumption",
        "system_instruction",
        "tools",
    )

    generation_config: w.GenerationConfig | None
    system_instruction: w.Content | None
    tools: tuple[w.Tool, ...] | None
    realtime_input_config: w.RealtimeInputConfig | None
    session_resumption: w.SessionResumptionConfig | None
    context_window_compression: w.ContextWindowCompression | None
    input_audio_transcription: w.AudioTranscriptionConfig | None
    output_audio_transcription: w.AudioTranscriptionConfig | None
    proactivity: w.Proactivity | None
    history_config: w.HistoryConfig | None
    explicit_vad_signal: bool | None
    safety_settings: tuple[w.SafetySetting, ...] | None
    avatar_config: w.AvatarConfig | None
    labels: dict[str, str] | None
    _extra: dict[str, Any] | None

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
        translation_config: w.TranslationConfig | Mapping[str, Any] | None = None,
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
        safety_settings: Iterable[w.SafetySetting | Mapping[str, Any]] | None = None,
        avatar_config: w.AvatarConfig | Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        set_ = functools.partial(object.__setattr__, self)
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
            "translation_config": translation_config,
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
            set_("generation_config", msgspec.convert(gen, w.GenerationConfig) if gen else None)
        except msgspec.ValidationError as exc:
            raise ValueError(f"generation_config: {_readable(exc)}") from None

        if isinstance(system_instruction, str):
            set_("system_instruction", w.Content(parts=[w.Part(text=system_instruction)]))
        else:
            set_("system_instruction",
                 _opt(system_instruction, w.Content, "system_instruction"))
        set_("tools", None if tools is None else tuple(_items(tools, w.Tool, "tools")))
        set_("realtime_input_config", _opt(
            realtime_input_config, w.RealtimeInputConfig, "realtime_input_config"))
        resumption = _opt(session_resumption, w.SessionResumptionConfig, "session_resumption")
        if resumption is not None and resumption.handle is not None:
            raise ValueError(
                "pass the handle as open_live_session(resume_handle=...), not in the config"
            )
        set_("session_resumption", resumption)
        set_("context_window_compression", _opt(
            context_window_compression, w.ContextWindowCompression, "context_window_compression"))
        set_("input_audio_transcription", _opt(
            input_audio_transcription, w.AudioTranscriptionConfig, "input_audio_transcription"))
        set_("output_audio_transcription", _opt(
            output_audio_transcription, w.AudioTranscriptionConfig, "output_audio_transcription"))
        set_("proactivity", _opt(proactivity, w.Proactivity, "proactivity"))
        set_("history_config", _opt(history_config, w.HistoryConfig, "history_config"))
        if explicit_vad_signal is not None and not isinstance(explicit_vad_signal, bool):
            raise TypeError("explicit_vad_signal must be a bool")
        set_("explicit_vad_signal", explicit_vad_signal)
        set_("safety_settings", None if safety_settings is None else tuple(
            _items(safety_settings, w.SafetySetting, "safety_settings")))
        set_("avatar_config", _opt(avatar_config, w.AvatarConfig, "avatar_config"))
        if labels is not None:
            if not isinstance(labels, Mapping) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
                raise TypeError("labels must be a dict of strings, e.g. {'team': 'voice'}")
            set_("labels", dict(labels))
        else:
            set_("labels", None)
        if extra is None:
            set_("_extra", None)
        else:
            checked = check_extra(extra)
            # Refused now rather than when connecting: an extra value that would replace a
            # typed one (the session adds only the model, tools and the handle later).
            merge_extra(msgspec.to_builtins(self._typed_setup("")), checked)
            set_("_extra", checked or None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(
            f"LiveConfig is immutable: use config.replace({name}=...) for a modified copy")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("LiveConfig is immutable: use config.replace(...)")

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # copy, deepcopy and pickle rebuild the slots directly (__setattr__ refuses).
        return _rebuild, (tuple(getattr(self, name) for name in self.__slots__),)

    @property
    def extra(self) -> dict[str, Any] | None:
        """The escape-hatch fields (a copy), merged into the setup as sent; or ``None``."""
        return copy.deepcopy(self._extra)

    def replace(self, **changes: Any) -> LiveConfig:
        """A copy of this config with ``changes`` (any keyword :class:`LiveConfig` takes).

        A generation shortcut (``temperature=``, ``voice=``...) replaces that one setting of
        ``generation_config``; ``generation_config=`` replaces all of them. ``None`` removes
        a setting.

        Raises:
            TypeError, ValueError: as :class:`LiveConfig`.
        """
        kwargs: dict[str, Any] = {
            name: getattr(self, name)
            for name in self.__slots__
            if name not in ("_extra", "generation_config")
        }
        kwargs["extra"] = self._extra
        if "generation_config" not in changes and self.generation_config is not None:
            gen: dict[str, Any] = msgspec.to_builtins(self.generation_config)
            fields = _fields(w.GenerationConfig)
            for name in changes:
                if name == "voice":
                    name = "speech_config"
                if name in _GENERATION_SHORTCUTS:
                    gen.pop(fields[name][0], None)
            kwargs["generation_config"] = gen or None
        kwargs.update(changes)
        return LiveConfig(**kwargs)

    def _typed_setup(self, model: str, extra_tools: Iterable[w.Tool] = ()) -> w.Setup:
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
            safety_settings=list(self.safety_settings) if self.safety_settings else None,
            avatar_config=self.avatar_config,
            labels=dict(self.labels) if self.labels is not None else None,
        )

    def to_setup(
        self, model: str, extra_tools: Iterable[w.Tool] = (), *, vertex: bool = False
    ) -> w.Setup:
        """The ``setup`` message for ``model`` (already in its full wire form), without
        :attr:`extra` (which :func:`encode_setup` merges in when the frame is encoded).

        Raises:
            ValueError: a field of the other backend: Vertex-only fields
                (``explicit_vad_signal``, transparent resumption...) for the Gemini API, or
                Gemini-API-only ones (``labels``, the file search tool...) for Vertex AI,
                which the server would refuse with 1007 (PROTOCOL.md 3.1).
        """
        setup = self._typed_setup(model, extra_tools)
        wrong = backend_only_fields(msgspec.to_builtins(setup), vertex=vertex)
        if wrong:
            other = "Gemini-API-only" if vertex else "Vertex-AI-only"
            here = "Vertex AI" if vertex else "the Gemini API"
            names = ", ".join(f"{parent}.{name}" for name, parent, _ in wrong)
            raise ValueError(f"{names}: {other}, and {here} refuses it (remove it)")
        return setup

    @property
    def response_modalities(self) -> list[str]:
        """The configured response modalities (``[]`` when the server default applies)."""
        gen = self.generation_config
        return list(gen.response_modalities or ()) if gen is not None else []

    def __repr__(self) -> str:
        names = [n for n in self.__slots__ if n != "_extra"] + ["_extra"]
        set_fields = ", ".join(
            f"{name.lstrip('_')}={getattr(self, name)!r}"
            for name in names
            if getattr(self, name) is not None
        )
        return f"LiveConfig({set_fields})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LiveConfig):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


def _rebuild(values: tuple[Any, ...]) -> LiveConfig:
    config = object.__new__(LiveConfig)
    for name, value in zip(LiveConfig.__slots__, values, strict=True):
        object.__setattr__(config, name, value)
    return config


def _items(values: Any, tp: type[_T], name: str) -> list[_T]:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a list of {tp.__name__} entries or dicts")
    return [to_wire(v, tp, f"{name}[{i}]") for i, v in enumerate(values)]


# --- the escape hatch: LiveConfig(extra=...) ---------------------------------------------------

_CAMEL: Final = re.compile(r"^[a-z][a-zA-Z0-9]*$")
#: Setup fields the library sets itself (issue 13): ``extra`` must not.
_MANAGED: Final = {
    ("model",): "the model is open_live_session(model=...)",
    ("sessionResumption", "handle"): (
        "the resumption handle is open_live_session(resume_handle=...); the session fills it "
        "in on every reconnection"),
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _struct_of(tp: Any) -> type[msgspec.Struct] | None:
    """The Struct in an annotation such as ``Foo | None``."""
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return tp
    if get_origin(tp) in (Union, types.UnionType):
        for arg in get_args(tp):
            found = _struct_of(arg)
            if found is not None:
                return found
    return None


def _container_of(tp: Any) -> tuple[Any, Any] | None:
    """``(list, item type)`` or ``(dict, value type)`` for such an annotation (or ``None``)."""
    for arg in (get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)):
        origin = get_origin(arg)
        if origin is list:
            return list, get_args(arg)[0]
        if origin is dict:
            return dict, get_args(arg)[1]
    return None


def check_extra(extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` checked (see :class:`LiveConfig`) and copied.

    Raises:
        TypeError: not a dict, a key that is not a string, a value that is not JSON, or a
            value of the wrong shape where the schema is known (a dict where the setup has
            a message, a list where it has a list).
        ValueError: a key that is not camelCase where the schema is known, or a field the
            library manages.
    """
    if not isinstance(extra, Mapping):
        raise TypeError(
            "extra must be a dict of camelCase setup fields, e.g. "
            "{'generationConfig': {'responseMimeType': 'text/plain'}}, "
            f"not {type(extra).__name__}")
    _check_level(extra, w.Setup, ())
    try:
        # A copy in plain JSON types (tuples become lists, bytes base64 strings: what is
        # sent), which nothing the caller does later can change.
        copied: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(extra))
    except (TypeError, msgspec.EncodeError) as exc:
        raise TypeError(f"extra must hold JSON values only: {exc}") from None
    return copied


def _path_text(path: tuple[str | int, ...]) -> str:
    return "extra" + "".join(f"[{p!r}]" for p in path)


def _check_level(value: Mapping[str, Any], struct: type[msgspec.Struct],
                 path: tuple[str | int, ...]) -> None:
    fields = _fields(struct)
    for key, item in value.items():
        where = (*path, key)
        if not isinstance(key, str):
            raise TypeError(f"{_path_text(path)}: keys must be strings, not {key!r}")
        named = tuple(p for p in where if isinstance(p, str))
        if named in _MANAGED:
            raise ValueError(f"{_path_text(where)}: {_MANAGED[named]}, not extra")
        if not _CAMEL.match(key):
            hint = f" (write {_camel(key)!r})" if "_" in key else ""
            raise ValueError(
                f"{_path_text(where)}: extra keys are the wire's camelCase field names"
                f"{hint}")
        known = fields.get(key)
        if known is None:
            continue  # a field this library does not know: sent as given
        wire_name, tp = known
        if wire_name != key:  # pragma: no cover - camelCase keys are wire names
            continue
        if item is None:
            raise ValueError(
                f"{_path_text(where)}: None is not a value to send (leave the key out)")
        nested = _struct_of(tp)
        if nested is not None:
            if not isinstance(item, Mapping):
                raise TypeError(
                    f"{_path_text(where)}: expected a dict (the setup's {wire_name!r} is a "
                    f"message), got {type(item).__name__}")
            _check_level(item, nested, where)
            continue
        container = _container_of(tp)
        if container is None:
            continue
        kind, item_tp = container
        if kind is list:
            if not isinstance(item, (list, tuple)):
                raise TypeError(
                    f"{_path_text(where)}: expected a list, got {type(item).__name__}")
            item_struct = _struct_of(item_tp)
            for i, entry in enumerate(item):
                if item_struct is not None:
                    if not isinstance(entry, Mapping):
                        raise TypeError(f"{_path_text((*where, i))}: expected a dict, got "
                                        f"{type(entry).__name__}")
                    _check_level(entry, item_struct, (*where, i))
        elif not isinstance(item, Mapping):
            raise TypeError(f"{_path_text(where)}: expected a dict, got {type(item).__name__}")
        else:
            value_struct = _struct_of(item_tp)
            if value_struct is not None:  # a map of messages: its keys are user data
                for map_key, entry in item.items():
                    if isinstance(entry, Mapping):
                        _check_level(entry, value_struct, (*where, map_key))


def merge_extra(setup: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """``extra`` deep-merged into ``setup`` (a camelCase setup dict), as :class:`LiveConfig`
    says: dicts merge, ``tools`` entries are appended, an equal value is no conflict.

    Neither argument is modified.

    Raises:
        ValueError: ``extra`` would replace a value of ``setup``.
    """
    if not extra:
        return setup
    return _merge(setup, extra, ())


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any],
           path: tuple[str, ...]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        where = (*path, key)
        if key not in out:
            out[key] = copy.deepcopy(value)
        elif isinstance(out[key], Mapping) and isinstance(value, Mapping):
            out[key] = _merge(out[key], value, where)
        elif where == ("tools",) and isinstance(out[key], list) and isinstance(value, list):
            out[key] = [*out[key], *copy.deepcopy(value)]
        elif out[key] != value:
            raise ValueError(
                f"{_path_text(where)} = {value!r} would replace the typed setting "
                f"{'.'.join(where)} = {out[key]!r}: set it in one place (the typed field, or "
                "extra alone)")
    return out


def encode_setup(setup: w.Setup, extra: Mapping[str, Any] | None = None) -> bytes:
    """The JSON of the ``{"setup": ...}`` frame: ``setup`` with ``extra`` merged in.

    ``extra`` is :attr:`LiveConfig.extra` (already checked by :func:`check_extra`). Without
    one, this is ``_wire.encode(ClientMessage(setup=setup))``.

    Raises:
        ValueError: ``extra`` would replace a value of ``setup`` (see :func:`merge_extra`).
    """
    if not extra:
        return w.encode(w.ClientMessage(setup=setup))
    merged = merge_extra(msgspec.to_builtins(setup), extra)
    return msgspec.json.encode({"setup": merged})


def setup_with_extra(setup: w.Setup, extra: Mapping[str, Any] | None) -> w.Setup:
    """The typed view of ``setup`` with ``extra`` merged in, for checks before connecting
    (``ModelProfile.check_setup``): fields this library does not know are dropped; if the
    merged setup does not fit the typed structs (a newer enumeration value in ``extra``),
    ``setup`` itself is returned.

    Raises:
        ValueError: ``extra`` would replace a value of ``setup``.
    """
    if not extra:
        return setup
    merged = merge_extra(msgspec.to_builtins(setup), extra)
    try:
        return msgspec.convert(merged, w.Setup)
    except msgspec.ValidationError:
        return setup


# --- fields of one backend only (PROTOCOL.md 3.1; the official SDK's converters) ---------------

#: ``(path, backend)``: the field at ``path`` (camelCase; ``*`` is every item of a list)
#: exists only on that backend; the other one refuses it with 1007 (an unknown name).
BACKEND_ONLY: Final[tuple[tuple[tuple[str, ...], str], ...]] = (
    (("explicitVadSignal",), "vertex"),
    (("sessionResumption", "transparent"), "vertex"),
    (("safetySettings", "*", "method"), "vertex"),
    (("tools", "*", "googleSearch", "excludeDomains"), "vertex"),
    (("tools", "*", "googleSearch", "blockingConfidence"), "vertex"),
    (("tools", "*", "googleMaps", "groundingTypes"), "vertex"),
    (("labels",), "gemini"),
    (("tools", "*", "fileSearch"), "gemini"),
    (("generationConfig", "translationConfig"), "gemini"),
    (("generationConfig", "speechConfig", "voiceConfig", "replicatedVoiceConfig",
      "consentAudio"), "gemini"),
    (("generationConfig", "speechConfig", "voiceConfig", "replicatedVoiceConfig",
      "voiceConsentSignature"), "gemini"),
)


def backend_only_fields(setup: Mapping[str, Any], *, vertex: bool) -> list[tuple[str, str, str]]:
    """The fields of ``setup`` (a camelCase dict) that the other backend owns.

    Returns:
        ``(name, parent, parent_snake)`` for each: the field's camelCase name, its parent's
        path in camelCase (``setup.tools[0].googleSearch``) and in Google's snake_case form
        (``setup.tools[0].google_search``, for the emulator's close reason).
    """
    backend = "vertex" if vertex else "gemini"
    found: list[tuple[str, str, str]] = []
    for path, owner in BACKEND_ONLY:
        if owner != backend:
            _find(setup, path, ("setup",), found)
    return found


def _find(value: Any, path: tuple[str, ...], where: tuple[str, ...],
          found: list[tuple[str, str, str]]) -> None:
    head, *rest = path
    if head == "*":
        if isinstance(value, list):
            for i, item in enumerate(value):
                _find(item, tuple(rest), (*where[:-1], f"{where[-1]}[{i}]"), found)
        return
    if not isinstance(value, Mapping) or head not in value:
        return
    if not rest:
        camel = ".".join(where)
        snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", camel).lower()
        found.append((head, camel, snake))
        return
    _find(value[head], tuple(rest), (*where, head), found)


def _opt(value: Any, tp: type[_T], name: str) -> _T | None:
    return None if value is None else to_wire(value, tp, name)


def _str_list(value: Iterable[str], name: str) -> list[str]:
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a list such as ['AUDIO'], not a string")
    return list(value)

