"""The recordings how-to's example (docs/examples/test_recorded_call.py) passes, and its
committed recording can be made again (issue 15).

The recording is made against the emulator by calling the example's own test function with
the emulator's endpoint and a recorder; regenerate it with::

    python -m tests.test_recording_docs
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import trio

from trio_gemini_live.testing import LiveEmulator, Recorder, Recording

from .conftest import API_KEY
from .recording_scenarios import emulator_kwargs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "test_recorded_call.py"
RECORDING = ROOT / "docs" / "examples" / "recordings" / "weather.jsonl"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_example_recorded_call", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def make_recording(path: Path) -> None:
    """Run the example's test against the emulator, recorded to ``path``."""
    emulator = LiveEmulator(api_key=API_KEY)
    async with trio.open_nursery() as nursery:
        await nursery.start(emulator.serve)
        async with Recorder(path) as recorder:
            await load_example().test_the_weather_question_calls_the_tool(
                {**emulator_kwargs(emulator), "connect": recorder.wrap_connect()})
        nursery.cancel_scope.cancel()


def test_the_recordings_howto_example_passes() -> None:
    # Replayed from its committed recording, through the plugin, as a user's test would be.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


async def test_the_example_recording_can_be_made_again(tmp_path: Path) -> None:
    path = tmp_path / "weather.jsonl"
    with trio.fail_after(60):
        await make_recording(path)
    fresh, committed = Recording.load(path), Recording.load(RECORDING)
    assert fresh.kinds("client") == committed.kinds("client") == [
        "setup", "realtimeInput.text", "toolResponse"]
    assert set(fresh.kinds("server")) == set(committed.kinds("server"))


if __name__ == "__main__":
    RECORDING.parent.mkdir(exist_ok=True)
    trio.run(make_recording, RECORDING)
    print(f"wrote {RECORDING}")
