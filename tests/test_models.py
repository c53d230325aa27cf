"""``trio_gemini_live.models``: each model family's rules as data (PROTOCOL.md 9, issue 13)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

from trio_gemini_live import LiveConfig, models
from trio_gemini_live import _wire as w
from trio_gemini_live.models import (
    GEMINI_2_5_NATIVE_AUDIO,
    GEMINI_3_1_FLASH_LIVE,
    GEMINI_3_8_LIVE,
    NEWEST,
    PROFILES,
    ModelProfile,
    describe,
    model_id,
    profile_for,
)

M25 = "gemini-2.5-flash-native-audio-preview-12-2025"
M31 = "gemini-3.1-flash-live-preview"
M38 = "gemini-3.8-live"


@pytest.fixture(autouse=True)
def _forget_logged_names() -> Any:
    # profile_for logs once per name and process: each test starts afresh.
    models._logged.clear()
    yield
    models._logged.clear()


# --- finding a profile -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "profile"),
    [
        (M25, GEMINI_2_5_NATIVE_AUDIO),
        ("gemini-2.5-flash-native-audio-preview-09-2025", GEMINI_2_5_NATIVE_AUDIO),
        ("gemini-live-2.5-flash-native-audio", GEMINI_2_5_NATIVE_AUDIO),
        (f"models/{M25}", GEMINI_2_5_NATIVE_AUDIO),
        ("projects/p/locations/us-central1/publishers/google/models/"
         "gemini-live-2.5-flash-native-audio", GEMINI_2_5_NATIVE_AUDIO),
        (M31, GEMINI_3_1_FLASH_LIVE),
        (f"models/{M31}", GEMINI_3_1_FLASH_LIVE),
        (f"  models/{M31.upper()} ", GEMINI_3_1_FLASH_LIVE),
        (f"projects/p/locations/global/publishers/google/models/{M31}", GEMINI_3_1_FLASH_LIVE),
        (M38, GEMINI_3_8_LIVE),
        (f"models/{M38}", GEMINI_3_8_LIVE),
    ],
)
def test_profile_for_known_names(name: str, profile: ModelProfile,
                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="trio_gemini_live"):
        assert profile_for(name) is profile
    assert caplog.records == []  # a known name is not worth a log line


def test_model_id() -> None:
    assert model_id(f"models/{M31}") == M31
    assert model_id(M31) == M31
    assert model_id(f"projects/p/locations/l/publishers/google/models/{M38}") == M38


def test_a_new_version_of_a_family_gets_its_rules_and_one_log_line(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="trio_gemini_live"):
        assert profile_for("gemini-3.1-flash-live-preview-06-2026") is GEMINI_3_1_FLASH_LIVE
        assert profile_for("models/gemini-3.1-flash-live-preview-06-2026") is (
            GEMINI_3_1_FLASH_LIVE)
        assert profile_for("gemini-2.5-flash-native-audio-latest") is GEMINI_2_5_NATIVE_AUDIO
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2  # once per name
    assert "gemini-3.1-flash-live-preview-06-2026" in messages[0]
    assert "3.1 Flash Live" in messages[0]


def test_an_unknown_model_gets_the_newest_rules_and_one_log_line(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="trio_gemini_live"):
        for _ in range(3):
            assert profile_for("gemini-4-live-preview") is NEWEST
        assert profile_for("models/gemini-4-live-preview") is NEWEST
    (record,) = caplog.records
    assert record.name == "trio_gemini_live"
    assert record.levelno == logging.WARNING
    assert "gemini-4-live-preview" in record.getMessage()
    assert "3.8 Live" in record.getMessage()
    assert "profile=" in record.getMessage()
    assert NEWEST is GEMINI_3_8_LIVE
    assert PROFILES[-1] is NEWEST


def test_profile_for_needs_a_string() -> None:
    with pytest.raises(TypeError, match="str"):
        profile_for(None)  # type: ignore[arg-type]


# --- the table of PROTOCOL.md 9 ----------------------------------------------------------------


def test_the_three_families_as_protocol_md_9_says() -> None:
    p25, p31, p38 = GEMINI_2_5_NATIVE_AUDIO, GEMINI_3_1_FLASH_LIVE, GEMINI_3_8_LIVE
    # Plain text: realtimeInput.text everywhere (every model accepts it).
    assert {p.user_text for p in PROFILES} == {"realtime_input"}
    assert (p25.mid_session_client_content, p31.mid_session_client_content,
            p38.mid_session_client_content) == (True, False, False)
    # Initial history.
    assert not p25.history_needs_config and not p25.history_before_realtime_input
    assert p31.history_needs_config and p31.history_before_realtime_input
    assert p38.history_needs_config and p38.history_before_realtime_input
    # Thinking.
    assert (p25.thinking, p31.thinking, p38.thinking) == ("budget", "level", "level")
    assert p31.thinking_levels == {"MINIMAL", "LOW", "MEDIUM", "HIGH"}
    # Tools.
    assert (p25.non_blocking_tools, p31.non_blocking_tools, p38.non_blocking_tools) == (
        True, False, True)
    assert (p25.default_tool_behavior, p31.default_tool_behavior,
            p38.default_tool_behavior) == ("BLOCKING", "BLOCKING", "NON_BLOCKING")
    # Proactive audio and affective dialog.
    assert (p25.proactive_audio, p31.proactive_audio, p38.proactive_audio) == (
        "v1alpha", "unsupported", "always")
    assert (p25.affective_dialog, p31.affective_dialog) == ("v1alpha", "unsupported")
    # Turn coverage, bundling, mediaChunks, "handle": null.
    assert p25.default_turn_coverage == "TURN_INCLUDES_ONLY_ACTIVITY"
    assert p31.default_turn_coverage == p38.default_turn_coverage == (
        "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO")
    assert [p.bundled_server_content for p in PROFILES] == [False, True, True]
    assert [p.media_chunks for p in PROFILES] == [True, False, False]
    assert [p.null_resumption_handle for p in PROFILES] == [True, False, False]
    # contextUpdate: "on the newest models" (PROTOCOL.md 2), read strictly.
    assert [p.context_update for p in PROFILES] == [False, False, True]


def test_profiles_are_frozen_and_replace_checks_again() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        GEMINI_3_1_FLASH_LIVE.mid_session_client_content = True  # type: ignore[misc]
    # Google relaxed a rule before we did: the user's own profile.
    relaxed = dataclasses.replace(GEMINI_3_1_FLASH_LIVE, mid_session_client_content=True)
    assert relaxed.mid_session_client_content
    assert relaxed.family == "3.1 Flash Live"
    assert not GEMINI_3_1_FLASH_LIVE.mid_session_client_content
    with pytest.raises(ValueError, match="NON_BLOCKING"):
        dataclasses.replace(GEMINI_3_1_FLASH_LIVE, default_tool_behavior="NON_BLOCKING")


def test_a_profile_built_from_scratch() -> None:
    profile = ModelProfile(
        family="my preview", models=("models/gemini-5-live",),
        mid_session_client_content=True, history_needs_config=False,
        history_before_realtime_input=False, thinking="none", non_blocking_tools=True,
        proactive_audio="any", affective_dialog="any",
        default_turn_coverage="TURN_INCLUDES_ALL_INPUT", bundled_server_content=True,
        context_update=True, media_chunks=False, null_resumption_handle=False,
    )
    assert profile.models == ("gemini-5-live",)  # normalised
    assert profile.user_text == "realtime_input"
    assert "my preview rules" in str(profile)
    assert "gemini-5-live" in str(profile)


_BASE: dict[str, Any] = dataclasses.asdict(GEMINI_2_5_NATIVE_AUDIO)


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        # Contradictions.
        ({"user_text": "client_content", "mid_session_client_content": False}, ValueError,
         "mid_session_client_content"),
        ({"initial_history": "unsupported", "history_needs_config": True}, ValueError,
         "initial_history='unsupported'"),
        ({"initial_history": "unsupported", "history_before_realtime_input": True},
         ValueError, "initial_history='unsupported'"),
        ({"thinking": "level"}, ValueError, "thinking_levels"),
        ({"thinking_levels": frozenset({"LOW"})}, ValueError, "thinking='level'"),
        ({"non_blocking_tools": False, "default_tool_behavior": "NON_BLOCKING"}, ValueError,
         "NON_BLOCKING"),
        # Values out of range.
        ({"thinking": "level", "thinking_levels": frozenset({"ULTRA"})}, ValueError, "ULTRA"),
        ({"proactive_audio": "v1beta"}, ValueError, "proactive_audio"),
        ({"default_turn_coverage": "TURN_COVERAGE_UNSPECIFIED"}, ValueError,
         "default_turn_coverage"),
        ({"user_text": "smoke_signals"}, ValueError, "user_text"),
        # Types.
        ({"media_chunks": "yes"}, TypeError, "media_chunks must be a bool"),
        ({"family": ""}, TypeError, "family"),
        ({"models": "gemini-x"}, TypeError, "models"),
        ({"models": ("",)}, TypeError, "models"),
        ({"thinking_levels": "LOW"}, TypeError, "thinking_levels"),
    ],
)
def test_a_bad_profile_is_refused(changes: dict[str, Any], error: type[Exception],
                                  match: str) -> None:
    with pytest.raises(error, match=match):
        ModelProfile(**{**_BASE, **changes})


def test_describe_tells_what_a_model_accepts() -> None:
    text = describe(f"models/{M31}")
    assert text.splitlines()[0] == f"{M31}: 3.1 Flash Live rules"
    assert "realtimeInput.text" in text
    assert "mid-session clientContent:" in text and "refused with 1007" in text
    assert "historyConfig.initialHistoryInClientContent" in text
    assert "thinkingLevel (MINIMAL, LOW, MEDIUM, HIGH)" in text
    assert "NON_BLOCKING refused" in text
    assert "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO" in text
    text25 = describe(M25)
    assert "thinkingBudget" in text25 and "v1alpha" in text25
    assert "tolerated" in text25
    assert "always on" in describe(M38)
    assert str(GEMINI_3_8_LIVE).startswith(f"{M38}: 3.8 Live rules")


def test_user_text_message() -> None:
    assert GEMINI_3_1_FLASH_LIVE.user_text_message("hi") == w.ClientMessage(
        realtime_input=w.RealtimeInput(text="hi"))
    legacy = dataclasses.replace(GEMINI_2_5_NATIVE_AUDIO, user_text="client_content")
    assert legacy.user_text_message("hi") == w.ClientMessage(client_content=w.ClientContent(
        turns=[w.Content(role="user", parts=[w.Part(text="hi")])], turn_complete=True))
    with pytest.raises(TypeError):
        GEMINI_3_1_FLASH_LIVE.user_text_message(b"hi")  # type: ignore[arg-type]


# --- check_setup: refused before connecting ----------------------------------------------------


def setup_for(model: str, **config: Any) -> w.Setup:
    return LiveConfig(**config).to_setup(f"models/{model}")


NON_BLOCKING_TOOL = {"function_declarations": [{"name": "lookup", "behavior": "NON_BLOCKING"}]}

#: (model, config, api_version, what the error says): each refused by the model's rules.
REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    (M31, {"tools": [NON_BLOCKING_TOOL]}, "v1beta",
     "function 'lookup' is NON_BLOCKING.*declare it without behavior"),
    (M31, {"thinking_config": {"thinking_budget": 0}}, "v1beta",
     "thinking_budget: this model reads thinking_level"),
    (M31, {"thinking_config": {"thinking_level": "XHIGH"}}, "v1beta",
     "thinking_level 'XHIGH' is not one this model takes: use one of MINIMAL, LOW, MEDIUM"),
    (M31, {"proactivity": {"proactive_audio": True}}, "v1alpha",
     "proactivity .* not supported by this model: remove it"),
    (M31, {"enable_affective_dialog": True}, "v1alpha",
     "enable_affective_dialog is not supported"),
    (M38, {"thinking_config": {"thinking_budget": 1024}}, "v1beta", "thinking_level"),
    (M38, {"proactivity": {"proactive_audio": True}}, "v1alpha", "always on"),
    (M38, {"enable_affective_dialog": True}, "v1alpha", "not supported"),
    (M25, {"thinking_config": {"thinking_level": "LOW"}}, "v1beta",
     "thinking_level: this model reads thinking_budget"),
    (M25, {"proactivity": {"proactive_audio": True}}, "v1beta",
     "needs the v1alpha API.*api_version='v1alpha'"),
    (M25, {"enable_affective_dialog": True}, "v1beta", "v1alpha"),
]


@pytest.mark.parametrize(("model", "config", "api_version", "match"), REFUSED)
def test_check_setup_refuses_what_the_model_refuses(model: str, config: dict[str, Any],
                                                     api_version: str, match: str) -> None:
    setup = setup_for(model, **config)
    with pytest.raises(ValueError, match=match) as info:
        profile_for(model).check_setup(setup, api_version=api_version)
    message = str(info.value)
    assert message.startswith(f"{model} ({profile_for(model).family} rules)")
    assert "profile=" in message


@pytest.mark.parametrize(
    ("model", "config", "api_version", "vertex"),
    [
        (M25, {"tools": [NON_BLOCKING_TOOL]}, "v1beta", False),
        (M25, {"thinking_config": {"thinking_budget": 0}}, "v1beta", False),
        (M25, {"proactivity": {"proactive_audio": True}, "enable_affective_dialog": True},
         "v1alpha", False),
        (M25, {"proactivity": {"proactive_audio": True}}, "v1beta1", True),
        (M31, {"thinking_config": {"thinking_level": "MINIMAL", "include_thoughts": True}},
         "v1beta", False),
        (M31, {"tools": [{"function_declarations": [{"name": "f", "behavior": "BLOCKING"}]},
                         {"google_search": {}}]}, "v1beta", False),
        (M38, {"tools": [NON_BLOCKING_TOOL], "thinking_config": {"thinking_level": "HIGH"}},
         "v1beta", False),
        (M31, {"thinking_config": {"thinking_level": "THINKING_LEVEL_UNSPECIFIED"}},
         "v1beta", False),
    ],
)
def test_check_setup_accepts_what_the_model_takes(model: str, config: dict[str, Any],
                                                  api_version: str, vertex: bool) -> None:
    setup = LiveConfig(**config).to_setup(f"models/{model}", vertex=vertex)
    profile_for(model).check_setup(setup, api_version=api_version, vertex=vertex)


def test_check_setup_lists_every_problem_at_once() -> None:
    setup = setup_for(M31, tools=[NON_BLOCKING_TOOL], thinking_config={"thinking_budget": 0},
                      proactivity={"proactive_audio": True}, enable_affective_dialog=True)
    with pytest.raises(ValueError) as info:
        GEMINI_3_1_FLASH_LIVE.check_setup(setup, api_version="v1alpha")
    assert str(info.value).count("\n  - ") == 4


def test_check_setup_sees_the_extra_fields() -> None:
    config = LiveConfig(extra={"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}})
    setup = config.to_setup(f"models/{M31}")
    GEMINI_3_1_FLASH_LIVE.check_setup(setup)  # the typed setup alone is fine
    with pytest.raises(ValueError, match="thinking_budget"):
        GEMINI_3_1_FLASH_LIVE.check_setup(setup, extra=config.extra)


def test_check_setup_names_a_vertex_model_by_its_id() -> None:
    setup = w.Setup(model=f"projects/p/locations/l/publishers/google/models/{M31}",
                    proactivity=w.Proactivity(proactive_audio=True))
    with pytest.raises(ValueError, match=f"^{M31} "):
        GEMINI_3_1_FLASH_LIVE.check_setup(setup, vertex=True)


def test_a_user_profile_relaxes_a_rule() -> None:
    setup = setup_for(M31, tools=[NON_BLOCKING_TOOL])
    relaxed = dataclasses.replace(GEMINI_3_1_FLASH_LIVE, non_blocking_tools=True)
    relaxed.check_setup(setup)


# --- history_setup -----------------------------------------------------------------------------


def test_history_setup_sets_history_config_where_needed() -> None:
    for profile in (GEMINI_3_1_FLASH_LIVE, GEMINI_3_8_LIVE):
        setup = setup_for(M31, temperature=0.5)
        with_history = profile.history_setup(setup)
        assert with_history.history_config == w.HistoryConfig(
            initial_history_in_client_content=True)
        assert with_history.generation_config == setup.generation_config
        assert setup.history_config is None  # not modified
    setup = setup_for(M25)
    assert GEMINI_2_5_NATIVE_AUDIO.history_setup(setup) is setup


def test_history_setup_refuses_an_explicit_false() -> None:
    setup = setup_for(M31, history_config={"initial_history_in_client_content": False})
    with pytest.raises(ValueError, match="remove history_config"):
        GEMINI_3_1_FLASH_LIVE.history_setup(setup)
    # true already: kept.
    setup = setup_for(M31, history_config={"initial_history_in_client_content": True})
    assert GEMINI_3_1_FLASH_LIVE.history_setup(setup).history_config == setup.history_config


def test_history_setup_on_a_model_without_history() -> None:
    profile = dataclasses.replace(GEMINI_2_5_NATIVE_AUDIO, initial_history="unsupported")
    with pytest.raises(ValueError, match="takes no initial history"):
        profile.history_setup(setup_for(M25))
