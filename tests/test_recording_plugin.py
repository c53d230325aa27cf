"""The pytest plugin's recorded sessions, as a user's project meets them (issue 15).

Each case runs pytest in a subprocess on a small project: a test marked ``live_recording``,
and a conftest whose ``live_record_target`` points ``--live-record`` at an emulator (the
real service is unreachable here). Without ``--live-record`` the test replays; a missing
recording fails with the command that records it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CONFTEST = '''
import pytest
from trio_gemini_live import ApiKey
from trio_gemini_live.testing import LiveEmulator

@pytest.fixture
async def live_record_target(nursery):
    emulator = LiveEmulator(api_key="project-test-key")
    await nursery.start(emulator.serve)
    return {"endpoint": emulator.url, "auth": ApiKey("project-test-key")}
'''

TEST = '''
import pytest
import trio
from trio_gemini_live import LiveConfig, open_live_session
from trio_gemini_live import events as ev

@pytest.mark.live_recording("recordings/hello.jsonl")
async def test_hello(live_endpoint, live_recording):
    answer = []
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            async with open_live_session(
                    nursery, model="gemini-2.5-flash-native-audio-preview-12-2025",
                    config=LiveConfig(response_modalities=["TEXT"]), **live_endpoint) as s:
                await s.send_client_content("QUESTION")
                async for event in s.events():
                    if isinstance(event, ev.TextChunk):
                        answer.append(event.text)
                    if isinstance(event, ev.TurnComplete):
                        break
            nursery.cancel_scope.cancel()
    print("MODE", live_recording.mode)
    assert "".join(answer) == 'I heard: "QUESTION". This is turn 1 of our conversation.'
'''


UNMARKED = """
async def test_unmarked(live_endpoint):
    pass
"""


def project(tmp_path: Path, question: str = "Hello") -> Path:
    """``app/``: a recorded test and a conftest that records against an emulator;
    ``keyless/``: the same test with the default target (no key in the environment);
    ``test_unmarked.py``: the fixture without the marker."""
    (tmp_path / "pytest.ini").write_text("[pytest]\ntrio_mode = true\n")
    for folder, conftest in (("app", CONFTEST), ("keyless", None)):
        (tmp_path / folder).mkdir(exist_ok=True)
        if conftest:
            (tmp_path / folder / "conftest.py").write_text(conftest)
        test = TEST.replace("QUESTION", question).replace("recordings/", f"recordings/{folder}-")
        (tmp_path / folder / f"test_{folder}.py").write_text(test)
    (tmp_path / "test_unmarked.py").write_text(UNMARKED)
    return tmp_path


def pytest_run(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "PYTEST_ADDOPTS")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *args],
        cwd=where, capture_output=True, text=True, timeout=120, env=env)


def test_record_then_replay_then_diverge(tmp_path: Path) -> None:
    # Each pytest run costs seconds (pytest-trio imports hypothesis): the cases share runs.
    where = project(tmp_path)
    recording = where / "recordings" / "app-hello.jsonl"
    # No recording, no --live-record (CI): the test fails and says how to record it.
    result = pytest_run(where)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "3 failed" in out
    assert "no recording" in out and "pytest --live-record app/test_app.py::test_hello" in out
    assert "need the test to be marked @pytest.mark.live_recording(PATH)" in out
    assert not recording.exists()
    # --live-record: recorded (against the conftest's emulator), the folder created; with
    # the default target and no key, a clear failure.
    result = pytest_run(where, "--live-record")
    out = result.stdout
    assert "2 failed, 1 passed" in out, out + result.stderr
    assert "MODE record" in out and recording.exists()
    assert "--live-record needs GEMINI_API_KEY" in out
    assert not (where / "recordings" / "keyless-hello.jsonl").exists()
    assert b"project-test-key" not in recording.read_bytes()
    recorded = recording.read_bytes()
    # Without the option: replayed; --live-record=missing leaves an existing recording
    # alone (and replays it).
    for options in ([], ["--live-record=missing"]):
        result = pytest_run(where / "app", *options)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "MODE replay" in result.stdout
    assert recording.read_bytes() == recorded
    # The client changed: the replay says where and how it diverged.
    project(tmp_path, question="Goodbye")
    result = pytest_run(where / "app")
    out = result.stdout
    assert result.returncode == 1
    assert "ReplayDivergence" in out
    assert "expected clientContent with clientContent.turns[0].parts[0].text = 'Hello'" in out
    assert "clientContent.turns[0].parts[0].text = 'Goodbye'" in out
