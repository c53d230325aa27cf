"""The package's public surface: what it exports, how its exceptions print, what loading costs.

* ``Auth``, ``TokenRequestError`` and ``TokenAuthError`` are exported (issue 11);
* every exported exception prints, pickles and is documented under its public name,
  ``trio_gemini_live.AuthRejectedError`` rather than ``trio_gemini_live._errors....``
  (issue 14);
* pytest loading the plugin (in any project where the library is installed) does not load
  the emulator; the fixture does, when a test asks for it (issue 11).
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import pytest

import trio_gemini_live
from trio_gemini_live import (
    ApiKey,
    Auth,
    AuthError,
    AuthRejectedError,
    EphemeralToken,
    LiveError,
    SessionClosedError,
    TokenAuthError,
    TokenRequestError,
    VertexAI,
)

EXCEPTIONS = sorted(
    (value for name in trio_gemini_live.__all__
     if isinstance(value := getattr(trio_gemini_live, name), type)
     and issubclass(value, BaseException)),
    key=lambda cls: cls.__name__,
)


def test_token_errors_and_auth_are_exported() -> None:
    assert {"Auth", "TokenAuthError", "TokenRequestError"} <= set(trio_gemini_live.__all__)
    assert issubclass(TokenAuthError, TokenRequestError) and issubclass(TokenAuthError, AuthError)
    assert issubclass(TokenRequestError, LiveError)
    # Auth is the protocol every backend satisfies (runtime-checkable).
    for auth in (ApiKey("k"), EphemeralToken("auth_tokens/t"), VertexAI(project="p")):
        assert isinstance(auth, Auth)
    assert not isinstance(object(), Auth)


def test_every_exported_name_is_importable() -> None:
    for name in trio_gemini_live.__all__:
        assert getattr(trio_gemini_live, name) is not None, name


def test_the_exceptions_are_all_there() -> None:
    assert len(EXCEPTIONS) == 13  # LiveError, 10 subclasses, the two token errors


def _instance(cls: type[BaseException]) -> BaseException:
    if issubclass(cls, SessionClosedError):
        return cls(1007, "API key not valid. Please pass a valid API key.", hint="renew it")
    if issubclass(cls, TokenRequestError):
        return cls(401, "API key not valid")
    return cls("something went wrong")


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=lambda cls: cls.__name__)
def test_exceptions_print_under_their_public_name(cls: type[BaseException]) -> None:
    assert cls.__module__ == "trio_gemini_live"
    assert repr(cls) == f"<class 'trio_gemini_live.{cls.__name__}'>"
    error = _instance(cls)
    try:
        raise error
    except BaseException as caught:
        lines = traceback.format_exception(caught)
    assert lines[-1].startswith(f"trio_gemini_live.{cls.__name__}: ")
    assert "._errors" not in "".join(lines[-1:]) and "._tokens" not in lines[-1]
    assert repr(error).startswith(f"{cls.__name__}(")


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=lambda cls: cls.__name__)
def test_exceptions_pickle_by_their_public_name(cls: type[BaseException]) -> None:
    error = _instance(cls)
    data = pickle.dumps(error)
    assert b"trio_gemini_live\x94" in data and b"_errors" not in data and b"_tokens" not in data
    copy = pickle.loads(data)
    assert type(copy) is cls and str(copy) == str(error)
    assert vars(copy) == vars(error)  # code, reason, hint / status, message


def test_a_session_error_in_a_group_prints_its_public_name() -> None:
    group = ExceptionGroup("Exceptions from Trio nursery", [_instance(AuthRejectedError)])
    text = "".join(traceback.format_exception(group))
    assert "trio_gemini_live.AuthRejectedError: connection closed with code 1007" in text


# --- the pytest plugin's cost --------------------------------------------------------------

PROJECT_TEST = '''
import sys

import pytest

PLUGIN = "trio_gemini_live.testing._plugin"
EMULATOR = "trio_gemini_live.testing._emulator"


def test_1_loading_the_plugin_loads_no_emulator():
    assert PLUGIN in sys.modules  # pytest loaded it through the entry point
    assert EMULATOR not in sys.modules
    print("LOADED", sorted(m for m in sys.modules if m.startswith("trio_gemini_live")))


@pytest.mark.trio
async def test_2_the_fixture_loads_it(live_emulator):
    assert EMULATOR in sys.modules
    assert live_emulator.url.startswith("ws://127.0.0.1:")
'''


def test_the_plugin_loads_the_emulator_only_for_its_fixture(tmp_path: Path) -> None:
    # Another project: its own directory, no configuration of ours, the plugin found
    # through the installed package's entry point, as in any user's test run.
    (tmp_path / "test_other_project.py").write_text(textwrap.dedent(PROJECT_TEST))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
         "test_other_project.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    loaded = eval(result.stdout.split("LOADED ", 1)[1].splitlines()[0])
    # What the plugin adds to what importing the package itself loads: the (lazy) testing
    # package and the plugin, nothing of the emulator.
    alone = subprocess.run(
        [sys.executable, "-c", "import sys, trio_gemini_live; "
         "print(sorted(m for m in sys.modules if m.startswith('trio_gemini_live')))"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert set(loaded) - set(eval(alone.stdout)) == {
        "trio_gemini_live.testing", "trio_gemini_live.testing._plugin"}


def test_the_client_imports_no_other_websocket_library() -> None:
    # Issue 11: the client's WebSocket is websockets' sans-IO protocol under our adapter;
    # wsproto and h11 are gone from its runtime, trio-websocket serves only the emulator.
    code = (
        "import sys, trio_gemini_live\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'trio_websocket', 'wsproto', 'h11', 'websockets'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "['websockets']"
