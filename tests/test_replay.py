"""Record against the emulator, replay with ReplayServer (issue 15).

The same client code runs against both and must get the same events in the same order; a
client that does something else gets a clear divergence, never a hang.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
import trio.testing

from trio_gemini_live import ApiKey, InvalidArgumentError, LiveConfig
from trio_gemini_live import events as ev
from trio_gemini_live.testing import (
    LiveEmulator,
    Recorder,
    Recording,
    RecordingError,
    ReplayDivergence,
    ReplayServer,
)

from .conftest import API_KEY, MODEL, until
from .recording_scenarios import (
    TEXT_CONFIG,
    digest,
    emulator_kwargs,
    record_scenario,
    run_scenario,
)


async def record(tmp_path: Path, name: str, *, audio: Any = "truncate",
                 **emulator_options: Any) -> tuple[Path, list[ev.Event], LiveEmulator]:
    """Record scenario ``name`` against a fresh emulator over loopback (``record=``)."""
    path = tmp_path / f"{name}.jsonl"
    emulator = LiveEmulator(api_key=API_KEY, **emulator_options)
    async with trio.open_nursery() as nursery:
        await nursery.start(emulator.serve)
        recorder = Recorder(path, audio=audio)
        kwargs = {**emulator_kwargs(emulator), "record": recorder}
        events = await record_scenario(name, kwargs, emulator)
        recorder.close()  # the session closed it; this waits for the file to be complete
        nursery.cancel_scope.cancel()
    return path, events, emulator


async def replay(path: Path, name: str, *, in_memory: bool = True,
                 **options: Any) -> tuple[list[ev.Event], ReplayServer]:
    server = ReplayServer(path, **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        events = await run_scenario(name, server.session_kwargs(in_memory=in_memory))
        await server.wait_finished()
        nursery.cancel_scope.cancel()
    return events, server


@pytest.mark.parametrize("audio", ["truncate", "wav", "keep"])
async def test_a_recorded_conversation_replays_with_the_same_events(
        tmp_path: Path, audio: str) -> None:
    with trio.fail_after(60):
        path, recorded, emulator = await record(tmp_path, "conversation", audio=audio)
        # The recording holds what the issue asks for: text, audio, a tool call, a goAway
        # and the resumption after it.
        recording = Recording.load(path)
        kinds = recording.kinds()
        for kind in ("clientContent", "realtimeInput.audio", "toolCall", "toolResponse",
                     "goAway", "serverContent.modelTurn"):
            assert kind in kinds, kind
        assert len(recording.connections) == 2 == len(emulator.connections)
        assert recording.connections[1].frames[0].message["setup"]["sessionResumption"][
            "handle"]
        replayed, server = await replay(path, "conversation")
    assert server.divergence is None and server.finished.is_set()
    # The same events in the same order: types, texts, tool calls, handles, goAway, usage;
    # the audio by length (truncate: silence of the recorded length) or byte for byte.
    assert digest(replayed, audio=audio != "truncate") == digest(
        recorded, audio=audio != "truncate")
    assert any(isinstance(e, ev.ToolCall) for e in replayed)
    assert [type(e) for e in replayed if isinstance(e, ev.GoAway | ev.Reconnected)] == [
        ev.GoAway, ev.Reconnected]
    said = "".join(e.text for e in replayed if isinstance(e, ev.OutputTranscription))
    assert "The result of get_weather is" in said and "Are you still there?" in said


async def test_recorded_drops_and_closes_replay_as_such(tmp_path: Path) -> None:
    with trio.fail_after(60):
        path, recorded, emulator = await record(tmp_path, "faults")
        assert [c.close_code for c in emulator.connections] == [1006, 1011, 1000]
        ends = [c.end for c in Recording.load(path).connections]
        assert [(e.by, e.code) for e in ends if e] == [
            ("network", 1006), ("server", 1011), ("client", 1000)]
        replayed, server = await replay(path, "faults", in_memory=True)
    assert server.divergence is None
    assert digest(replayed) == digest(recorded)
    reasons = [e.reason for e in replayed if isinstance(e, ev.Reconnecting)]
    assert reasons == ["the connection ended without a close frame", "Internal error occurred."]


async def test_replay_over_loopback_with_the_sessions_own_transport(tmp_path: Path) -> None:
    with trio.fail_after(60):
        path, recorded, _ = await record(tmp_path, "conversation")
        replayed, server = await replay(path, "conversation", in_memory=False)
    assert server.divergence is None
    assert digest(replayed) == digest(recorded)


RECORDINGS = Path(__file__).resolve().parent / "recordings"


async def test_live_emulator_replay_serves_a_committed_recording() -> None:
    # LiveEmulator.replay (issue 15): a ReplayServer, served and used the same way. The
    # committed recording (a goAway and a resumption: two connections) replays through it
    # with the client code that made it.
    server = LiveEmulator.replay(RECORDINGS / "conversation.jsonl", wait_timeout=5.0)
    assert isinstance(server, ReplayServer)
    assert server.wait_timeout == 5.0 and server.pace == "fast"
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            events = await run_scenario("conversation", server.session_kwargs(in_memory=True))
            await server.wait_finished()
            nursery.cancel_scope.cancel()
    assert server.divergence is None and server.finished.is_set()
    assert server.connections == 2
    said = "".join(e.text for e in events if isinstance(e, ev.OutputTranscription))
    assert "The result of get_weather is" in said and "Are you still there?" in said
    assert [type(e) for e in events if isinstance(e, ev.GoAway | ev.Reconnected)] == [
        ev.GoAway, ev.Reconnected]


def test_live_emulator_replay_takes_a_recording_and_replay_server_options() -> None:
    recording = Recording.load(RECORDINGS / "faults.jsonl")
    server = LiveEmulator.replay(recording, pace="recorded", check_content=False)
    assert server.recording is recording
    assert server.pace == "recorded" and not server.check_content
    with pytest.raises(ValueError, match="pace"):
        LiveEmulator.replay(recording, pace="slow")
    with pytest.raises(TypeError, match="api_key"):
        LiveEmulator.replay(recording, api_key=API_KEY)  # the emulator's, not a replay's
    with pytest.raises(FileNotFoundError):
        LiveEmulator.replay(RECORDINGS / "missing.jsonl")


async def test_recorded_pace_keeps_the_gaps(tmp_path: Path,
                                            autojump_clock: trio.testing.MockClock) -> None:
    # A slow server (0.25 s between text chunks), recorded and replayed on Trio's clock.
    path = tmp_path / "slow.jsonl"
    emulator = LiveEmulator(api_key=API_KEY, text_chunk_delay=0.25)

    async def text_turn(kwargs: dict[str, Any]) -> list[float]:
        times = []
        async with trio.open_nursery() as nursery:
            async with emulator_session(nursery, kwargs) as session:
                await session.send_client_content("Hello there")
                async for event in session.events():
                    if isinstance(event, ev.TextChunk):
                        times.append(trio.current_time())
                    if isinstance(event, ev.TurnComplete):
                        break
            nursery.cancel_scope.cancel()
        return [b - a for a, b in itertools.pairwise(times)]

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            await nursery.start(emulator.serve_in_memory)
            # close(), not aclose(): waiting for a thread would let the mock clock jump.
            recorder = Recorder(path)
            await text_turn({"connect": emulator.connect_in_memory(), "record": recorder,
                             "endpoint": "ws://emulator.invalid", "auth": ApiKey(API_KEY)})
            recorder.close()
            recording = Recording.load(path)
            chunks = [f.t for f in recording.frames("server")
                      if f.kind == "serverContent.modelTurn"]
            recorded_gaps = [b - a for a, b in itertools.pairwise(chunks)]
            assert len(recorded_gaps) >= 2 and min(recorded_gaps) >= 0.25
            for pace, expected in (("recorded", recorded_gaps), ("fast", None)):
                server = ReplayServer(path, pace=pace)
                await nursery.start(server.serve_in_memory)
                gaps = await text_turn(server.session_kwargs(in_memory=True))
                if expected is None:
                    assert max(gaps) < 0.25  # fast: no waiting at all on the mock clock
                else:
                    assert gaps == pytest.approx(expected, abs=1e-3)
            nursery.cancel_scope.cancel()


def emulator_session(nursery: trio.Nursery, kwargs: dict[str, Any]) -> Any:
    from trio_gemini_live import open_live_session

    return open_live_session(nursery, model=MODEL, config=TEXT_CONFIG, **kwargs)


# --- divergences ----------------------------------------------------------------------------


async def recorded_hello(tmp_path: Path) -> Path:
    """A recording of one text turn ("Hello"), then the client's close."""
    path = tmp_path / "hello.jsonl"
    emulator = LiveEmulator(api_key=API_KEY)
    async with trio.open_nursery() as nursery:
        await nursery.start(emulator.serve)
        async with Recorder(path) as recorder:
            kwargs = {**emulator_kwargs(emulator), "connect": recorder.wrap_connect()}
            async with emulator_session(nursery, kwargs) as session:
                await session.send_client_content("Hello")
                await until(session, ev.TurnComplete)
        nursery.cancel_scope.cancel()
    return path


async def diverge(path: Path, client: Any, **options: Any) -> tuple[ReplayServer,
                                                                      BaseException | None]:
    """Run ``client(session)`` against a replay that does not raise; the session's error."""
    server = ReplayServer(path, raise_on_divergence=False, **options)
    error: BaseException | None = None
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        try:
            async with trio.open_nursery() as inner:
                async with emulator_session(inner, server.session_kwargs()) as session:
                    await client(session)
                inner.cancel_scope.cancel()
        except BaseException as exc:
            error = exc
            while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
                error = error.exceptions[0]
        nursery.cancel_scope.cancel()
    return server, error


async def test_a_client_that_sends_something_else_gets_a_clear_divergence(
        tmp_path: Path) -> None:
    async def client(session: Any) -> None:
        await session.send_realtime_input(text="Goodbye")
        await until(session, ev.TurnComplete)

    with trio.fail_after(30):
        path = await recorded_hello(tmp_path)
        server, error = await diverge(path, client)
    divergence = server.divergence
    assert isinstance(divergence, ReplayDivergence)
    hello = Recording.load(path).frames("client")[1]
    assert hello.kind == "clientContent"
    assert divergence.connection == 0 and divergence.line == hello.line
    assert divergence.expected == "clientContent ('Hello')"
    assert divergence.received == "realtimeInput.text ('Goodbye')"
    assert f"{path}" in str(divergence) and f"line {hello.line}:" in str(divergence)
    # The client hears about it too: its connection was closed with 1007 and the reason.
    assert isinstance(error, InvalidArgumentError) and error.code == 1007
    assert "replay diverged: expected clientContent" in error.reason
    with pytest.raises(ReplayDivergence):
        server.check()


async def test_another_text_is_a_divergence_and_serve_raises_it(tmp_path: Path) -> None:
    with trio.fail_after(30):
        path = await recorded_hello(tmp_path)
        server = ReplayServer(path)
        with pytest.raises(BaseExceptionGroup) as info:
            async with trio.open_nursery() as nursery:
                await nursery.start(server.serve)
                async with emulator_session(nursery, server.session_kwargs()) as session:
                    await session.send_client_content("Bye")
                    await until(session, ev.TurnComplete)
    # serve() raised the divergence (the session may also have seen its 1007 by then).
    leaves = leaf_exceptions(info.value)
    assert server.divergence in leaves
    assert {type(e) for e in leaves} <= {ReplayDivergence, InvalidArgumentError}
    assert server.divergence is not None
    assert server.divergence.expected == (
        "clientContent with clientContent.turns[0].parts[0].text = 'Hello'")
    assert server.divergence.received == "clientContent.turns[0].parts[0].text = 'Bye'"


def leaf_exceptions(group: BaseException) -> list[BaseException]:
    if isinstance(group, BaseExceptionGroup):
        return [leaf for inner in group.exceptions for leaf in leaf_exceptions(inner)]
    return [group]


async def test_a_silent_client_is_a_divergence_not_a_hang(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    async def client(session: Any) -> None:
        await until(session, ev.TurnComplete)  # waits for an answer to what it never sent

    with trio.fail_after(120):
        path = tmp_path / "hello.jsonl"
        emulator = LiveEmulator(api_key=API_KEY)
        async with trio.open_nursery() as nursery:
            await nursery.start(emulator.serve_in_memory)
            recorder = Recorder(path)
            kwargs = {"connect": emulator.connect_in_memory(), "record": recorder,
                      "endpoint": "ws://emulator.invalid", "auth": ApiKey(API_KEY)}
            async with emulator_session(nursery, kwargs) as session:
                await session.send_client_content("Hello")
                await until(session, ev.TurnComplete)
            recorder.close()  # not aclose(): see test_recorded_pace_keeps_the_gaps
            server = ReplayServer(path, raise_on_divergence=False, wait_timeout=5)
            await nursery.start(server.serve_in_memory)
            with pytest.raises(InvalidArgumentError):
                async with emulator_session(nursery, server.session_kwargs(in_memory=True)) as s:
                    await client(s)
            nursery.cancel_scope.cancel()
    assert server.divergence is not None
    assert "nothing within 5 s" in server.divergence.received


async def test_audio_is_compared_by_length(tmp_path: Path) -> None:
    path = tmp_path / "audio.jsonl"
    emulator = LiveEmulator(api_key=API_KEY)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await nursery.start(emulator.serve)
            async with Recorder(path) as recorder:
                kwargs = {**emulator_kwargs(emulator), "connect": recorder.wrap_connect()}
                async with emulator_session(nursery, kwargs) as session:
                    await session.send_realtime_input(audio=b"\x01\x00" * 800)
            nursery.cancel_scope.cancel()

        async def other_bytes(session: Any) -> None:  # same length: not a divergence
            await session.send_realtime_input(audio=b"\x07\x00" * 800)

        async def other_length(session: Any) -> None:
            await session.send_realtime_input(audio=b"\x01\x00" * 400)
            await until(session, ev.TurnComplete)

        server, _ = await diverge(path, other_bytes)
        assert server.divergence is None
        server, _ = await diverge(path, other_length)
    assert server.divergence is not None
    assert server.divergence.expected == "realtimeInput.audio of 1600 bytes"
    assert server.divergence.received == "realtimeInput.audio of 800 bytes"


async def test_the_setup_is_compared_field_by_field(tmp_path: Path) -> None:
    async def client(session: Any) -> None:
        await until(session, ev.TurnComplete)

    with trio.fail_after(30):
        path = await recorded_hello(tmp_path)
        server = ReplayServer(path, raise_on_divergence=False)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            other = LiveConfig(response_modalities=["TEXT"], session_resumption={},
                               system_instruction="Be brief.")
            with pytest.raises(InvalidArgumentError):
                async with server.open_session(nursery, config=other) as session:
                    await client(session)
            nursery.cancel_scope.cancel()
    assert server.divergence is not None and server.divergence.line == 3
    assert server.divergence.expected == "setup with setup.systemInstruction = (absent)"
    assert server.divergence.received.startswith('setup.systemInstruction = {"parts"')
    # check_setup=False compares the kind only.
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            server = ReplayServer(path, check_setup=False)
            await nursery.start(server.serve)
            async with server.open_session(nursery, config=other) as session:
                await session.send_client_content("Hello")
                await until(session, ev.TurnComplete)
            await server.wait_finished()
            nursery.cancel_scope.cancel()


async def test_a_client_that_stops_early_is_reported_by_check(tmp_path: Path) -> None:
    with trio.fail_after(30):
        path = await recorded_hello(tmp_path)
        server = ReplayServer(path, raise_on_divergence=False)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            async with server.open_session(nursery, config=TEXT_CONFIG):
                pass  # leaves without saying Hello
            nursery.cancel_scope.cancel()
    assert server.divergence is not None
    assert server.divergence.expected == "clientContent ('Hello')"
    assert server.divergence.received == "the client's close (1000)"


async def test_an_extra_connection_is_a_divergence(tmp_path: Path) -> None:
    with trio.fail_after(30):
        path = await recorded_hello(tmp_path)
        server = ReplayServer(path, raise_on_divergence=False)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            for _ in range(2):
                try:
                    async with server.open_session(nursery, config=TEXT_CONFIG) as session:
                        await session.send_client_content("Hello")
                        await until(session, ev.TurnComplete)
                except InvalidArgumentError:
                    pass
            nursery.cancel_scope.cancel()
    assert server.finished.is_set()
    assert server.divergence is not None and server.divergence.connection == 1
    assert server.divergence.expected == "no connection 1 (the recording has 1)"


async def test_another_api_version_is_a_divergence(tmp_path: Path) -> None:
    with trio.fail_after(30):
        path = await recorded_hello(tmp_path)
        server = ReplayServer(path, raise_on_divergence=False)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            with pytest.raises(InvalidArgumentError):
                async with server.open_session(nursery, config=TEXT_CONFIG,
                                               api_version="v1alpha") as session:
                    await until(session, ev.TurnComplete)
            nursery.cancel_scope.cancel()
    assert server.divergence is not None
    assert "v1beta" in server.divergence.expected and "v1alpha" in server.divergence.received


async def test_a_recording_that_lost_frames_is_not_replayed(tmp_path: Path) -> None:
    path = await _recording_with_a_gap(tmp_path)
    with pytest.raises(RecordingError, match=r"line 3: 2 frames were lost"):
        ReplayServer(path)


async def _recording_with_a_gap(tmp_path: Path) -> Path:
    path = tmp_path / "gap.jsonl"
    lines = [
        {"format": "trio-gemini-live-recording", "version": 1, "library": "0", "model": "m",
         "api_version": "v1beta", "backend": "gemini", "created": "", "audio": "truncate"},
        {"t": 0, "c": 0, "open": {"url": "ws://x/y"}},
        {"t": 0.1, "gap": {"frames": 2}},
        {"t": 0.2, "c": 0, "end": {"by": "client", "code": 1000, "reason": ""}},
        {"t": 0.3, "trailer": {"frames": 0, "dropped": 2, "connections": 1}},
    ]
    path.write_bytes(b"".join(msgspec.json.encode(line) + b"\n" for line in lines))
    await trio.lowlevel.checkpoint()
    return path


def test_bad_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pace"):
        ReplayServer(tmp_path / "x.jsonl", pace="slow")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="wait_timeout"):
        ReplayServer(tmp_path / "x.jsonl", wait_timeout=0)


async def test_a_vertex_recording_replays_with_fake_credentials(tmp_path: Path) -> None:
    from trio_gemini_live import VertexAI

    from .conftest import ValidCredentials

    path = tmp_path / "vertex.jsonl"
    emulator = LiveEmulator(api_key=API_KEY)
    auth = VertexAI(project="my-project", location="us-central1",
                    credentials=ValidCredentials("ya29.a-real-looking-token"))
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await nursery.start(emulator.serve)
            async with Recorder(path) as recorder:
                kwargs = {"endpoint": emulator.url, "auth": auth,
                          "connect": recorder.wrap_connect()}
                async with emulator_session(nursery, kwargs) as session:
                    await session.send_client_content("Hello")
                    await until(session, ev.TurnComplete)
            recording = Recording.load(path)
            assert recording.header.backend == "vertex"
            assert recording.header.api_version == "v1beta1"
            assert b"ya29." not in path.read_bytes()
            server = ReplayServer(path)
            await nursery.start(server.serve)
            async with server.open_session(nursery, config=TEXT_CONFIG) as session:
                await session.send_client_content("Hello")
                events = await until(session, ev.TurnComplete)
            await server.wait_finished()
            nursery.cancel_scope.cancel()
    assert "Hello" in "".join(e.text for e in events if isinstance(e, ev.TextChunk))


def test_recordings_to_replay_are_checked(tmp_path: Path) -> None:
    incomplete = tmp_path / "incomplete.jsonl"
    incomplete.write_text(
        '{"format": "trio-gemini-live-recording", "version": 1, "audio": "truncate"}\n'
        '{"t": 0, "c": 0, "open": {"url": "ws://x/y"}}\n')
    with pytest.raises(RecordingError, match="without its trailer"):
        ReplayServer(incomplete)
    with pytest.raises(RecordingError, match="incomplete"):
        ReplayServer(Recording.load(incomplete, allow_incomplete=True))


async def test_a_client_that_leaves_while_the_answer_streams(tmp_path: Path) -> None:
    # Recorded: the client left after the first chunk of a slow answer. Replayed at the
    # recorded pace, it leaves while server frames are still due: they are skipped, and
    # its close is what the recording expects.
    path = tmp_path / "leave.jsonl"
    emulator = LiveEmulator(api_key=API_KEY, text_chunk_delay=0.2)

    async def client(kwargs: dict[str, Any]) -> None:
        async with trio.open_nursery() as nursery:
            async with emulator_session(nursery, kwargs) as session:
                await session.send_client_content("Hello there, how are you today?")
                await until(session, ev.TextChunk)
            nursery.cancel_scope.cancel()

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await nursery.start(emulator.serve)
            async with Recorder(path) as recorder:
                await client({**emulator_kwargs(emulator), "connect": recorder.wrap_connect()})
            server = ReplayServer(path, pace="recorded")
            await nursery.start(server.serve)
            await client(server.session_kwargs())
            await server.wait_finished()
            nursery.cancel_scope.cancel()
    assert server.divergence is None
    assert Recording.load(path).connections[0].end.by == "client"  # type: ignore[union-attr]
