"""The pytest plugin: the ``live_emulator`` fixture, and recorded sessions (issue 15).

Installed with the package (entry point ``pytest11``); it needs pytest-trio (the fixture is
async and serves in the test's ``nursery``). In a test::

    async def test_hello(live_emulator, nursery):
        async with live_emulator.open_session(nursery, config=LiveConfig(
                response_modalities=["TEXT"])) as session:
            await session.send_client_content("Hello")
            ...

Options for the emulator come from the ``live_emulator`` marker, passed to
:class:`LiveEmulator` as keyword arguments::

    @pytest.mark.live_emulator(connection_lifetime=5, go_away_notice=2)
    async def test_go_away(live_emulator, nursery): ...

Recorded sessions, like VCR's cassettes: a test marked ``live_recording`` runs against its
recording (:class:`~trio_gemini_live.testing.ReplayServer`) when it exists, and records it
against the real Live API with ``pytest --live-record`` (``GEMINI_API_KEY`` in the
environment)::

    @pytest.mark.live_recording("tests/recordings/weather.jsonl")
    async def test_weather(live_endpoint, nursery):
        async with open_live_session(nursery, model=MODEL, config=CONFIG,
                                     **live_endpoint) as session:
            ...

Without ``--live-record`` (in CI) it always replays, and a missing recording fails the test
with the command that records it. ``--live-record=missing`` records only the missing ones.
Where ``--live-record`` records is the ``live_record_target`` fixture: override it to record
against something else (Vertex AI, an emulator).

pytest loads this plugin in every project where the library is installed, so loading it
imports neither the emulator nor its server stack: the fixtures import them when a test
asks for them (issue 11).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import trio

    from ._emulator import LiveEmulator

    # Defined apart: trio_gemini_live.testing exports it, and this module needs pytest.
    from ._live_recording import LiveRecording

__all__ = [
    "live_emulator",
    "live_endpoint",
    "live_record_target",
    "live_recording",
    "pytest_addoption",
    "pytest_configure",
]

#: How long the teardown of a replayed test waits for the client's last close.
_FINISH_TIMEOUT = 5.0
_RECORD_HELP = (
    "record the tests marked live_recording against the real Live API (GEMINI_API_KEY in "
    "the environment): all of them (the default), or only those whose recording is missing; "
    "without this option they replay their recordings"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--live-record`` (issue 15)."""
    group = parser.getgroup("trio-gemini-live")
    group.addoption("--live-record", nargs="?", const="all", default=None,
                    choices=("all", "missing"), dest="live_record", help=_RECORD_HELP)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``live_emulator`` and ``live_recording`` markers."""
    config.addinivalue_line(
        "markers",
        "live_emulator(**options): keyword arguments for the live_emulator fixture's "
        "LiveEmulator (trio_gemini_live.testing)",
    )
    config.addinivalue_line(
        "markers",
        "live_recording(path=None, *, audio='truncate', pace='fast', check_setup=True, "
        "check_content=True, wait_timeout=10.0): run the test against this recording "
        "(relative to the rootdir; default recordings/<module>.<test>.jsonl beside the "
        "test), recorded with --live-record (trio_gemini_live.testing)",
    )


@pytest.fixture
async def live_emulator(request: pytest.FixtureRequest, nursery: trio.Nursery) -> LiveEmulator:
    """A :class:`LiveEmulator` serving on a free loopback port for the test's duration."""
    from ._emulator import LiveEmulator  # here, not at plugin load: see the module docstring

    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("live_emulator"))):
        if marker.args:
            raise TypeError("the live_emulator marker takes keyword arguments only")
        options.update(marker.kwargs)
    emulator = LiveEmulator(**options)
    await nursery.start(emulator.serve)
    return emulator


@pytest.fixture
def live_record_target(request: pytest.FixtureRequest) -> dict[str, Any] | None:
    """Where ``--live-record`` records: keyword arguments for ``open_live_session``.

    By default Google's Gemini API with the key in ``GEMINI_API_KEY`` (or
    ``GOOGLE_API_KEY``), or ``None`` when there is none (recording then fails the test with
    a message) or when not recording. Override this fixture to record against something
    else: return e.g. ``{"auth": VertexAI(...)}``, or ``{"endpoint": emulator.url,
    "auth": ApiKey(...)}``; a ``connect`` hook given here is wrapped by the recorder, and
    ``ssl_context`` is used by its default trio-websocket transport.
    """
    if request.config.getoption("live_record") is None:
        return None  # replaying: the environment is not even read
    key = os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY")
    if not key:
        return None
    from .._auth import ApiKey

    return {"auth": ApiKey(key)}


@pytest.fixture
async def live_recording(
    request: pytest.FixtureRequest,
    nursery: trio.Nursery,
    live_record_target: dict[str, Any] | None,
) -> AsyncIterator[LiveRecording]:
    """Replay the test's recording, or record it with ``--live-record`` (issue 15).

    Needs the ``live_recording`` marker. Replaying, a :class:`ReplayServer` serves the
    recording on a loopback port for the test; it fails the test at the first divergence
    (:class:`~trio_gemini_live.testing.ReplayDivergence`) and, at teardown, if the test
    stopped before the recording's end. Recording, the session's frames are written to the
    recording's path (replaced; its folder is created).
    """
    marker = request.node.get_closest_marker("live_recording")
    if marker is None:
        pytest.fail("the live_recording and live_endpoint fixtures need the test to be "
                    "marked @pytest.mark.live_recording(PATH)", pytrace=False)
    options = dict(marker.kwargs)
    path = _recording_path(request, marker.args[0] if marker.args else options.pop(
        "path", None))
    wanted = request.config.getoption("live_record")
    record = wanted == "all" or (wanted == "missing" and not path.exists())
    if record:
        recording = await _start_recording(path, options, live_record_target)
        try:
            yield recording
        finally:
            assert recording.recorder is not None
            import trio

            # Closed even when the test was cancelled, bounded (the writer thread finishes
            # the file by itself after that).
            with trio.move_on_after(_FINISH_TIMEOUT, shield=True):
                await recording.recorder.aclose()
        return
    if not path.exists():
        pytest.fail(f"no recording {path}: record it against the Live API with "
                    f"`pytest --live-record {request.node.nodeid}` (GEMINI_API_KEY in the "
                    "environment)", pytrace=False)
    recording = await _start_replay(path, options, nursery)
    yield recording
    server = recording.server
    assert server is not None
    import trio

    with trio.move_on_after(_FINISH_TIMEOUT):
        await server.finished.wait()
    if server.divergence is None:  # a divergence already failed the test from serve()
        server.check()


@pytest.fixture
def live_endpoint(live_recording: LiveRecording) -> dict[str, Any]:
    """``live_recording.kwargs``: ``open_live_session(nursery, model=..., **live_endpoint)``."""
    return live_recording.kwargs


def _recording_path(request: pytest.FixtureRequest, given: Any) -> Path:
    if given is not None:
        path = Path(given)
        return path if path.is_absolute() else request.config.rootpath / path
    test = Path(str(request.node.path))
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    return test.parent / "recordings" / f"{test.stem}.{name}.jsonl"


async def _start_recording(path: Path, options: dict[str, Any],
                           target: dict[str, Any] | None) -> LiveRecording:
    from ._live_recording import LiveRecording
    from ._recorder import Recorder

    if target is None:
        pytest.fail("--live-record needs GEMINI_API_KEY (or GOOGLE_API_KEY) in the "
                    "environment, or a live_record_target fixture saying where to record",
                    pytrace=False)
    kwargs = dict(target)
    ssl_context = kwargs.pop("ssl_context", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    recorder = Recorder(path, audio=options.get("audio", "truncate"))
    recorder.start()
    kwargs["connect"] = recorder.wrap_connect(kwargs.get("connect"), ssl_context=ssl_context)
    return LiveRecording("record", path, kwargs, recorder=recorder)


async def _start_replay(path: Path, options: dict[str, Any],
                        nursery: trio.Nursery) -> LiveRecording:
    from ._live_recording import LiveRecording
    from ._replay import ReplayServer

    options.pop("audio", None)  # a recording option
    server = ReplayServer(path, **options)
    await nursery.start(server.serve)
    return LiveRecording("replay", path, server.session_kwargs(), server=server)
