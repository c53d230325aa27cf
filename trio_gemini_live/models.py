"""The rules of each Gemini Live model family, as data (PROTOCOL.md 9).

The model decides more than the voice: which messages it accepts, which tool behaviours it
has, which thinking knob it reads. Sending what a model does not accept closes the session
with 1007 "Request contains an invalid argument.", a fatal error. So the rules live here, in
one frozen :class:`ModelProfile` per family, read by the session (before it connects, and for
every message it sends) and by the emulator (:class:`~trio_gemini_live.testing.LiveEmulator`,
which enforces them).

* :func:`profile_for` finds a model's profile by its name (``gemini-3.1-flash-live-preview``,
  ``models/...`` or a Vertex AI resource name). A name it does not know gets the rules of
  the newest family and one log line, never a refusal.
* :func:`describe` tells what a model accepts, in words.
* Google changes rules before libraries do: build your own profile
  (``dataclasses.replace(profile_for(model), mid_session_client_content=True)``) and pass it
  as ``open_live_session(..., profile=...)``.

Where sources disagree about a rule (PROTOCOL.md 9: 3.1's mid-session ``clientContent``),
the built-in profiles take the strictest reading, so that an app that follows them works
on Google whichever way the rule is read today.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Final, Literal, TypeAlias, get_args

import msgspec

from . import _wire as w
from ._config import setup_with_extra

__all__ = [
    "GEMINI_2_5_NATIVE_AUDIO",
    "GEMINI_3_1_FLASH_LIVE",
    "GEMINI_3_8_LIVE",
    "NEWEST",
    "PROFILES",
    "Availability",
    "ModelProfile",
    "describe",
    "model_id",
    "profile_for",
]

_log: Final = logging.getLogger("trio_gemini_live")

#: Whether a setup feature is available on a model:
#:
#: * ``"any"``: on every API version;
#: * ``"v1alpha"``: on the Gemini API only with ``api_version="v1alpha"`` (Vertex AI has
#:   no such restriction);
#: * ``"always"``: always on; the setup must not mention it;
#: * ``"unsupported"``: refused; remove it from the setup.
Availability: TypeAlias = Literal["any", "v1alpha", "always", "unsupported"]

_AVAILABILITY: Final = frozenset(get_args(Availability))
_THINKING_LEVELS: Final = frozenset(get_args(w.ThinkingLevel)) - {"THINKING_LEVEL_UNSPECIFIED"}
_TURN_COVERAGES: Final = frozenset(get_args(w.TurnCoverage)) - {"TURN_COVERAGE_UNSPECIFIED"}
_LEVEL_ORDER: Final = ("MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH")
_VERTEX_NAME: Final = re.compile(r"^projects/[^/]+/locations/[^/]+/publishers/[^/]+/models/(.+)$")


def model_id(model: str) -> str:
    """The bare model id of a model name: ``models/X``, a Vertex AI resource name
    (``projects/P/locations/L/publishers/google/models/X``) or ``X`` itself give ``X``."""
    name = model.strip()
    match = _VERTEX_NAME.match(name)
    if match is not None:
        return match.group(1)
    return name.removeprefix("models/")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class ModelProfile:
    """What one model family accepts and how it behaves (one column of PROTOCOL.md 9).

    Immutable. Build a modified copy with :func:`dataclasses.replace`; every profile is
    checked when it is built.

    Attributes:
        family: a short name of the family (``"3.1 Flash Live"``).
        models: the model ids this profile is for (without ``models/``); informative for a
            profile you build yourself.
        user_text: how user text travels (what ``session.send_text`` sends):
            ``"realtime_input"`` (``realtimeInput.text``, which every model accepts) or
            ``"client_content"`` (a ``clientContent`` turn).
        mid_session_client_content: whether a ``clientContent`` message is accepted after
            the initial history. ``False``: it closes the session with 1007.
        initial_history: ``"client_content"`` (``clientContent`` turns right after
            ``setupComplete``) or ``"unsupported"``.
        history_needs_config: the setup must carry
            ``historyConfig.initialHistoryInClientContent: true`` for the initial history
            (without it, the history closes the session with 1007).
        history_before_realtime_input: the initial history must come before any realtime
            input (otherwise 1007; pipecat #4171).
        thinking: the thinking knob the model reads: ``"budget"``
            (``thinkingConfig.thinkingBudget``), ``"level"`` (``thinkingLevel``) or
            ``"none"``. The other knob is refused.
        thinking_levels: the ``thinkingLevel`` values accepted (empty unless ``thinking``
            is ``"level"``).
        non_blocking_tools: whether ``behavior: NON_BLOCKING`` functions are accepted.
        default_tool_behavior: how a function declared without ``behavior`` runs:
            ``"BLOCKING"`` (the model waits for the answer) or ``"NON_BLOCKING"``
            (asynchronous: the model keeps talking).
        proactive_audio: where ``setup.proactivity`` is available (:data:`Availability`).
        affective_dialog: where ``generationConfig.enableAffectiveDialog`` is available.
        default_turn_coverage: the ``realtimeInputConfig.turnCoverage`` that applies when the
            setup does not say.
        bundled_server_content: the server puts several fields (audio and its transcript,
            usage, ``turnComplete``) in one message.
        context_update: whether ``contextUpdate`` (PROTOCOL.md 3.5: a new system instruction
            or tools mid-session) is accepted; PROTOCOL.md 2 has it on "the newest models"
            only.
        media_chunks: whether the deprecated ``realtimeInput.mediaChunks`` is accepted.
        null_resumption_handle: whether ``sessionResumption: {"handle": null}`` is tolerated.

    Raises:
        TypeError: a field of the wrong type.
        ValueError: a value out of its range, or a profile that contradicts itself (for
            example NON_BLOCKING as the default behaviour of a model that refuses it).
    """

    family: str
    models: tuple[str, ...] = ()
    user_text: Literal["realtime_input", "client_content"] = "realtime_input"
    mid_session_client_content: bool
    initial_history: Literal["client_content", "unsupported"] = "client_content"
    history_needs_config: bool
    history_before_realtime_input: bool
    thinking: Literal["budget", "level", "none"]
    thinking_levels: frozenset[str] = frozenset()
    non_blocking_tools: bool
    default_tool_behavior: Literal["BLOCKING", "NON_BLOCKING"] = "BLOCKING"
    proactive_audio: Availability
    affective_dialog: Availability
    default_turn_coverage: str
    bundled_server_content: bool
    context_update: bool
    media_chunks: bool
    null_resumption_handle: bool

    def __post_init__(self) -> None:
        if not isinstance(self.family, str) or not self.family:
            raise TypeError("family must be a non-empty string")
        models = self.models
        if isinstance(models, str) or not isinstance(models, Iterable):
            raise TypeError("models must be a tuple of model ids")
        models = tuple(models)
        if not all(isinstance(m, str) and m for m in models):
            raise TypeError("models must be a tuple of non-empty model ids")
        object.__setattr__(self, "models", tuple(model_id(m) for m in models))
        levels = self.thinking_levels
        if isinstance(levels, str) or not isinstance(levels, Iterable):
            raise TypeError("thinking_levels must be a set of thinking levels")
        object.__setattr__(self, "thinking_levels", frozenset(levels))
        for name in ("mid_session_client_content", "history_needs_config",
                     "history_before_realtime_input", "non_blocking_tools",
                     "bundled_server_content", "context_update", "media_chunks",
                     "null_resumption_handle"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool")
        _one_of("user_text", self.user_text, {"realtime_input", "client_content"})
        _one_of("initial_history", self.initial_history, {"client_content", "unsupported"})
        _one_of("thinking", self.thinking, {"budget", "level", "none"})
        _one_of("default_tool_behavior", self.default_tool_behavior,
                {"BLOCKING", "NON_BLOCKING"})
        _one_of("proactive_audio", self.proactive_audio, _AVAILABILITY)
        _one_of("affective_dialog", self.affective_dialog, _AVAILABILITY)
        _one_of("default_turn_coverage", self.default_turn_coverage, _TURN_COVERAGES)
        unknown = self.thinking_levels - _THINKING_LEVELS
        if unknown:
            raise ValueError(
                f"thinking_levels: unknown level(s) {sorted(unknown)} "
                f"(known: {', '.join(_LEVEL_ORDER)})")
        # Contradictions: a profile no model could have.
        if self.user_text == "client_content" and not self.mid_session_client_content:
            raise ValueError(
                "a profile that sends user text as clientContent must accept mid-session "
                "clientContent (set mid_session_client_content=True, or "
                "user_text='realtime_input')")
        if self.initial_history == "unsupported" and (
                self.history_needs_config or self.history_before_realtime_input):
            raise ValueError(
                "history_needs_config and history_before_realtime_input describe the "
                "initial history: they cannot be set on a profile with "
                "initial_history='unsupported'")
        if self.thinking == "level" and not self.thinking_levels:
            raise ValueError("thinking='level' needs the accepted thinking_levels")
        if self.thinking != "level" and self.thinking_levels:
            raise ValueError(
                f"thinking_levels are read only with thinking='level', not "
                f"thinking={self.thinking!r}: leave them empty")
        if self.default_tool_behavior == "NON_BLOCKING" and not self.non_blocking_tools:
            raise ValueError(
                "default_tool_behavior='NON_BLOCKING' on a profile that refuses NON_BLOCKING "
                "tools (non_blocking_tools=False)")

    # --- what the session asks ------------------------------------------------------------

    def user_text_message(self, text: str) -> w.ClientMessage:
        """The message that carries user ``text`` on this model (``session.send_text``).

        Raises:
            TypeError: ``text`` is not a string.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        if self.user_text == "client_content":
            return w.ClientMessage(client_content=w.ClientContent(
                turns=[w.Content(role="user", parts=[w.Part(text=text)])], turn_complete=True))
        return w.ClientMessage(realtime_input=w.RealtimeInput(text=text))

    def check_setup(self, setup: w.Setup, *, api_version: str = "v1beta",
                    vertex: bool = False, extra: Mapping[str, Any] | None = None) -> None:
        """Refuse a setup this model would answer with 1007, before anything is sent.

        Args:
            setup: the setup as it will be sent (``LiveConfig.to_setup``, with the tools of
                ``open_live_session(tools=...)``).
            api_version: the Gemini API version of the connection (``v1beta``,
                ``v1alpha``, ``v1``); ignored on Vertex AI.
            vertex: whether the session is on Vertex AI.
            extra: ``LiveConfig.extra``, merged in first: what it sets is checked too.

        Raises:
            ValueError: the model (``setup.model``) does not accept something in the setup
                (the message names the model, every problem and what to do instead), or
                ``extra`` would replace a value of the setup.
        """
        setup = setup_with_extra(setup, extra)
        problems = self._violations(setup, api_version=api_version, vertex=vertex)
        if problems:
            name = model_id(setup.model) or setup.model
            lines = "\n".join(f"  - {p.message}" for p in problems)
            raise ValueError(
                f"{name} ({self.family} rules) does not accept this setup:\n{lines}\n"
                "(trio_gemini_live.models.describe(model) lists the model's rules; pass "
                "open_live_session(profile=...) if Google changed one)")

    def history_setup(self, setup: w.Setup) -> w.Setup:
        """``setup`` as it must be sent when an initial history follows it.

        Sets ``historyConfig.initialHistoryInClientContent: true`` on models that need it
        (PROTOCOL.md 9); other models get ``setup`` unchanged.

        Raises:
            ValueError: the model takes no initial history, or the setup explicitly says
                ``initial_history_in_client_content=False``.
        """
        name = model_id(setup.model) or setup.model
        if self.initial_history == "unsupported":
            raise ValueError(
                f"{name} ({self.family} rules) takes no initial history: leave out "
                "history=, and send the context in the system instruction instead")
        if not self.history_needs_config:
            return setup
        config = setup.history_config
        if config is not None and config.initial_history_in_client_content is False:
            raise ValueError(
                f"{name} ({self.family} rules) needs "
                "historyConfig.initialHistoryInClientContent=true for an initial history, "
                "and the config sets it to false: remove history_config from the config")
        if config is not None and config.initial_history_in_client_content:
            return setup
        return msgspec.structs.replace(
            setup, history_config=w.HistoryConfig(initial_history_in_client_content=True))

    # --- in words -------------------------------------------------------------------------

    def describe(self, model: str | None = None) -> str:
        """What this profile accepts, in words, one rule a line (``str(profile)`` too).

        ``model`` names the model in the first line (default: the profile's first model).
        """
        name = model_id(model) if model else (self.models[0] if self.models else "")
        head = f"{name}: {self.family} rules" if name else f"{self.family} rules"
        text_way = ("realtimeInput.text" if self.user_text == "realtime_input"
                    else "a clientContent turn")
        if self.initial_history == "unsupported":
            history = "not supported"
        else:
            history = "clientContent turns right after setupComplete"
            if self.history_before_realtime_input:
                history += ", before any realtime input"
            if self.history_needs_config:
                history += (", with historyConfig.initialHistoryInClientContent: true in the "
                            "setup (open_live_session(history=...) sets it)")
        if self.thinking == "budget":
            thinking = "thinkingConfig.thinkingBudget (0 = off); thinkingLevel refused"
        elif self.thinking == "level":
            levels = ", ".join(lv for lv in _LEVEL_ORDER if lv in self.thinking_levels)
            thinking = f"thinkingConfig.thinkingLevel ({levels}); thinkingBudget refused"
        else:
            thinking = "none: thinkingBudget and thinkingLevel refused"
        if self.non_blocking_tools:
            tools = (f"BLOCKING and NON_BLOCKING; a function without behavior is "
                     f"{self.default_tool_behavior}")
        else:
            tools = "BLOCKING only (NON_BLOCKING refused): the model waits for every answer"
        rows = [
            ("user text", f"{text_way} (session.send_text)"),
            ("mid-session clientContent",
             "accepted" if self.mid_session_client_content
             else "refused with 1007: send user text with session.send_text"),
            ("initial history", history),
            ("thinking", thinking),
            ("tools", tools),
            ("proactive audio (setup.proactivity)", _availability_text(self.proactive_audio)),
            ("affective dialog", _availability_text(self.affective_dialog)),
            ("default turn coverage", self.default_turn_coverage),
            ("server messages",
             "several fields in one serverContent" if self.bundled_server_content
             else "one kind of content per message"),
            ("contextUpdate",
             "accepted (session.send_context_update)" if self.context_update
             else "refused with 1007"),
            ("realtimeInput.mediaChunks",
             "accepted (deprecated)" if self.media_chunks
             else "refused with 1007: send audio / video"),
            ('sessionResumption "handle": null',
             "tolerated" if self.null_resumption_handle else "refused with 1007"),
        ]
        width = max(len(label) for label, _ in rows) + 1
        return "\n".join([head, *(f"  {label + ':':<{width}} {value}" for label, value in rows)])

    def __str__(self) -> str:
        return self.describe()

    # --- the checks, as data for check_setup and the emulator ------------------------------

    def _violations(self, setup: w.Setup, *, api_version: str,
                    vertex: bool) -> list[_Violation]:
        out: list[_Violation] = []
        for tool in setup.tools or ():
            for decl in tool.function_declarations or ():
                if decl.behavior == "NON_BLOCKING" and not self.non_blocking_tools:
                    out.append(_Violation(
                        f"function {decl.name!r} is NON_BLOCKING, and this model runs tools "
                        "synchronously only: declare it without behavior (or BLOCKING)"))
        gen = setup.generation_config
        thinking = gen.thinking_config if gen is not None else None
        if thinking is not None:
            if thinking.thinking_budget is not None and self.thinking != "budget":
                out.append(_Violation(
                    "thinking_budget: " + self._thinking_alternative("thinking_budget")))
            level = thinking.thinking_level
            if level is not None:
                if self.thinking != "level":
                    out.append(_Violation(
                        "thinking_level: " + self._thinking_alternative("thinking_level")))
                elif level != "THINKING_LEVEL_UNSPECIFIED" and level not in self.thinking_levels:
                    levels = ", ".join(v for v in _LEVEL_ORDER if v in self.thinking_levels)
                    out.append(_Violation(
                        f"thinking_level {level!r} is not one this model takes: use one of "
                        f"{levels}"))
        if setup.proactivity is not None:
            problem = _feature_problem(self.proactive_audio, "proactivity (proactive audio)",
                                       api_version=api_version, vertex=vertex)
            if problem is not None:
                out.append(_Violation(problem[0], unknown_field=(
                    ("proactivity", "setup") if problem[1] else None)))
        if gen is not None and gen.enable_affective_dialog is not None:
            problem = _feature_problem(self.affective_dialog, "enable_affective_dialog",
                                       api_version=api_version, vertex=vertex)
            if problem is not None:
                out.append(_Violation(problem[0], unknown_field=(
                    ("enableAffectiveDialog", "setup.generation_config")
                    if problem[1] else None)))
        return out

    def _thinking_alternative(self, given: str) -> str:
        if self.thinking == "budget":
            return ("this model reads thinking_budget (0 = off), not thinking_level: use "
                    "thinking_config={'thinking_budget': ...}")
        if self.thinking == "level":
            levels = ", ".join(v for v in _LEVEL_ORDER if v in self.thinking_levels)
            return (f"this model reads thinking_level ({levels}), not thinking_budget: use "
                    "thinking_config={'thinking_level': ...}")
        return f"this model does not think: remove {given} from thinking_config"


@dataclasses.dataclass(frozen=True, slots=True)
class _Violation:
    """One thing a model refuses in a setup (for :meth:`ModelProfile.check_setup` and the
    emulator, which closes with the text Google would send)."""

    message: str
    #: ``(name, path)`` when the API version lacks the field altogether: Google answers
    #: ``Unknown name "<name>" at '<path>'``, not a generic invalid argument.
    unknown_field: tuple[str, str] | None = None


def _one_of(name: str, value: object, allowed: Collection[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(sorted(allowed))}")


def _availability_text(value: Availability) -> str:
    return {
        "any": "supported",
        "v1alpha": "Gemini API v1alpha only (api_version='v1alpha'); Vertex AI: supported",
        "always": "always on: leave it out of the setup",
        "unsupported": "not supported: leave it out of the setup",
    }[value]


def _feature_problem(availability: Availability, what: str, *, api_version: str,
                     vertex: bool) -> tuple[str, bool] | None:
    """``(message, whether the API version lacks the field)`` or ``None`` if fine."""
    if availability == "unsupported":
        return f"{what} is not supported by this model: remove it", False
    if availability == "always":
        return f"{what} is always on for this model: remove it from the setup", False
    if availability == "v1alpha" and not vertex and api_version != "v1alpha":
        return (f"{what} needs the v1alpha API on the Gemini API: open the session with "
                f"api_version='v1alpha' (this one is {api_version!r})", True)
    return None


# --- the built-in profiles (PROTOCOL.md 9) ---------------------------------------------------

#: Gemini 2.5 Flash native audio (``-12-2025``, ``-09-2025``; Vertex GA
#: ``gemini-live-2.5-flash-native-audio``).
GEMINI_2_5_NATIVE_AUDIO: Final = ModelProfile(
    family="2.5 native audio",
    models=(
        "gemini-2.5-flash-native-audio-preview-12-2025",
        "gemini-2.5-flash-native-audio-preview-09-2025",
        "gemini-live-2.5-flash-native-audio",
        # Retired (PROTOCOL.md 9); kept so that the rules of the time apply to it.
        "gemini-live-2.5-flash-preview",
    ),
    # 2.5 takes either form; realtimeInput.text is the one every model accepts.
    user_text="realtime_input",
    mid_session_client_content=True,
    history_needs_config=False,
    history_before_realtime_input=False,
    thinking="budget",
    non_blocking_tools=True,
    default_tool_behavior="BLOCKING",
    proactive_audio="v1alpha",
    affective_dialog="v1alpha",
    default_turn_coverage="TURN_INCLUDES_ONLY_ACTIVITY",
    bundled_server_content=False,
    # PROTOCOL.md 2: contextUpdate is for "the newest models".
    context_update=False,
    media_chunks=True,
    null_resumption_handle=True,
)

#: Gemini 3.1 Flash Live (``gemini-3.1-flash-live-preview``). Mid-session ``clientContent``
#: was refused with 1007 at launch; later docs allow it: the strictest reading applies (as
#: for ``contextUpdate``, which PROTOCOL.md 2 gives to "the newest models").
GEMINI_3_1_FLASH_LIVE: Final = ModelProfile(
    family="3.1 Flash Live",
    models=("gemini-3.1-flash-live-preview",),
    user_text="realtime_input",
    mid_session_client_content=False,
    history_needs_config=True,
    history_before_realtime_input=True,
    thinking="level",
    thinking_levels=frozenset({"MINIMAL", "LOW", "MEDIUM", "HIGH"}),
    non_blocking_tools=False,
    default_tool_behavior="BLOCKING",
    proactive_audio="unsupported",
    affective_dialog="unsupported",
    default_turn_coverage="TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
    bundled_server_content=True,
    # PROTOCOL.md 2 has contextUpdate on "the newest models"; 3.1 is now a legacy preview.
    context_update=False,
    media_chunks=False,
    null_resumption_handle=False,
)

#: Gemini 3.8 Live (``gemini-3.8-live``): tools asynchronous by default, proactive audio
#: always on, ``contextUpdate`` accepted. Where PROTOCOL.md 9 says nothing (mid-session
#: ``clientContent``, affective dialog, thinking levels beyond 3.1's), the strictest reading
#: applies.
GEMINI_3_8_LIVE: Final = ModelProfile(
    family="3.8 Live",
    models=("gemini-3.8-live",),
    user_text="realtime_input",
    mid_session_client_content=False,
    history_needs_config=True,
    history_before_realtime_input=True,
    thinking="level",
    thinking_levels=frozenset({"MINIMAL", "LOW", "MEDIUM", "HIGH"}),
    non_blocking_tools=True,
    default_tool_behavior="NON_BLOCKING",
    proactive_audio="always",
    affective_dialog="unsupported",
    default_turn_coverage="TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
    bundled_server_content=True,
    context_update=True,
    media_chunks=False,
    null_resumption_handle=False,
)

#: Every built-in profile, oldest family first.
PROFILES: Final[tuple[ModelProfile, ...]] = (
    GEMINI_2_5_NATIVE_AUDIO, GEMINI_3_1_FLASH_LIVE, GEMINI_3_8_LIVE,
)
#: The profile an unknown model name gets (the newest family's).
NEWEST: Final = GEMINI_3_8_LIVE

_BY_ID: Final[dict[str, ModelProfile]] = {m: p for p in PROFILES for m in p.models}
#: Name prefixes of each family, for versions this module does not list (the first match
#: applies).
_PREFIXES: Final[tuple[tuple[str, ModelProfile], ...]] = (
    ("gemini-3.8", GEMINI_3_8_LIVE),
    ("gemini-3.1", GEMINI_3_1_FLASH_LIVE),
    ("gemini-live-2.5", GEMINI_2_5_NATIVE_AUDIO),
    ("gemini-2.5", GEMINI_2_5_NATIVE_AUDIO),
    ("gemini-2.0", GEMINI_2_5_NATIVE_AUDIO),
)
_logged: set[str] = set()
_logged_lock: Final = threading.Lock()
_LOGGED_MAX: Final = 1024


def profile_for(model: str) -> ModelProfile:
    """The rules of ``model`` (PROTOCOL.md 9).

    ``model`` is a model id (``gemini-3.1-flash-live-preview``), ``models/<id>`` or a Vertex
    AI resource name. A version this module does not list gets its family's rules by name
    (``gemini-3.1-...``); a name of no known family gets the newest family's rules
    (:data:`NEWEST`). Either way the library logs it once per name (logger
    ``trio_gemini_live``), and never refuses the model: pass ``open_live_session(profile=...)``
    to choose the rules yourself.

    Raises:
        TypeError: ``model`` is not a string.
    """
    if not isinstance(model, str):
        raise TypeError(f"model must be a str, not {type(model).__name__}")
    key = model_id(model).lower()
    profile = _BY_ID.get(key)
    if profile is not None:
        return profile
    for prefix, family in _PREFIXES:
        if key.startswith(prefix):
            _log_once(key, logging.INFO,
                      "model %r is not in trio_gemini_live.models; applying the %s rules "
                      "(by its name)", key, family.family)
            return family
    _log_once(key, logging.WARNING,
              "model %r is unknown to trio_gemini_live.models; applying the rules of the "
              "newest family (%s). Pass open_live_session(profile=...) to choose others",
              key, NEWEST.family)
    return NEWEST


def _log_once(key: str, level: int, message: str, *args: object) -> None:
    with _logged_lock:
        if key in _logged:
            return
        if len(_logged) < _LOGGED_MAX:  # bounded: model names come from users
            _logged.add(key)
    _log.log(level, message, *args)


def describe(model: str) -> str:
    """What ``model`` accepts, in words: its profile's rules (:meth:`ModelProfile.describe`).

    Raises:
        TypeError: ``model`` is not a string.
    """
    return profile_for(model).describe(model)
