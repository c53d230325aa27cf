"""The recording commands of the command line (issue 15): record, replay, inspect."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from trio_gemini_live.audio import write_wav
from trio_gemini_live.testing import Recording, speech_like_pcm

from .conftest import MODEL, read_line, run_main
from .recording_scenarios import AUDIO_CHUNKS, run_scenario

RECORDINGS = Path(__file__).resolve().parent / "recordings"


def record_chat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                lines: str = "Hi there\nWhat is up?\n") -> Path:
    path = tmp_path / "chat.jsonl"
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    assert run_main(["record", str(path), "chat", "--emulator"]) == 0
    return path


def test_record_a_chat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_key: None,
                       capsys: pytest.CaptureFixture[str]) -> None:
    path = record_chat(tmp_path, monkeypatch)
    captured = capsys.readouterr()
    assert 'model> I heard: "Hi there". This is turn 1 of our conversation.' in captured.out
    assert f"Recorded {len(Recording.load(path).frames())} frames to {path}" in captured.err
    recording = Recording.load(path)
    texts = [f.message["realtimeInput"]["text"]
             for f in recording.frames("client") if f.kind == "realtimeInput.text"]
    assert texts == ["Hi there", "What is up?"]  # send_text: the form the model takes
    assert recording.header.model == "gemini-3.8-live"
    assert b"demo-key" not in path.read_bytes()


def test_record_a_talk_with_audio_in_wav_files(tmp_path: Path, no_key: None) -> None:
    speech = tmp_path / "speech.wav"
    write_wav(speech, speech_like_pcm(1.0, lead_silence=0.2), 16000)
    path = tmp_path / "talk.jsonl"
    status = run_main(["record", str(path), "--audio", "wav", "talk", "--emulator", "--wav",
                       str(speech), "--out", str(tmp_path / "reply.wav"), "--fast"])
    assert status == 0
    recording = Recording.load(path)
    kinds = recording.kinds("client")
    assert "realtimeInput.audio" in kinds and kinds[-1] == "realtimeInput.audioStreamEnd"
    assert (tmp_path / "talk.c0.client.wav").exists()
    assert (tmp_path / "talk.c0.server.wav").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["record", "{tmp}/missing/x.jsonl", "chat", "--emulator"], "not a file in an existing"),
    (["record", "{tmp}/x.jsonl", "demo"], "record runs chat or talk, not 'demo'"),
    (["record", "--audio", "mp3", "{tmp}/x.jsonl", "chat"], "invalid choice: 'mp3'"),
    (["record", "{tmp}/x.jsonl", "--audio", "mp3", "chat"], "invalid choice: 'mp3'"),
    (["record", "{tmp}/x.jsonl", "--audio"], "--audio needs a value"),
    (["replay", "{tmp}/x.jsonl", "--port", "http"], "not a port number"),
])
def test_bad_arguments_are_usage_errors(tmp_path: Path, argv: list[str], message: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run_main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and message in err and "Traceback" not in err


def test_inspect_shows_the_timeline_the_turns_and_the_latencies(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["inspect", str(RECORDINGS / "conversation.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "model gemini-2.5-flash-native-audio-preview-12-2025, API v1beta (gemini)" in out
    assert "2 connections" in out and "complete, nothing lost" in out
    assert 'client  clientContent "Hello"' in out
    # Runs of audio chunks are one line each (split where the server's VAD spoke).
    runs = re.findall(r"client  realtimeInput\.audio x(\d+) \((\d\.\d\d) s\)", out)
    assert runs and sum(int(n) for n, _ in runs) == AUDIO_CHUNKS
    assert "server  toolCall get_weather(" in out
    assert "server  goAway time left 0.5s" in out
    assert "end: closed by the client (1000)" in out
    assert "resuming a handle" in out  # the second connection's setup
    assert "turns (latency" in out and "latency: min" in out
    assert "the end of speech (server VAD)" in out  # the audio turn
    assert "toolResponse" in out
    # --frames: one line per frame.
    assert run_main(["inspect", "--frames", str(RECORDINGS / "conversation.jsonl")]) == 0
    every = capsys.readouterr().out
    assert every.count("client  realtimeInput.audio") == AUDIO_CHUNKS > len(runs)


def test_inspect_a_cut_recording_and_a_broken_one(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    lines = (RECORDINGS / "faults.jsonl").read_bytes().splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(lines[:12]))
    assert run_main(["inspect", str(cut)]) == 0
    out = capsys.readouterr().out
    assert "INCOMPLETE (no trailer: truncated?)" in out and "(the recording stops here)" in out
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"".join(lines[:5]) + b"{oops\n" + b"".join(lines[5:]))
    assert run_main(["inspect", str(broken)]) == 1
    assert f"error: {broken}, line 6: not a valid recording line" in capsys.readouterr().err


def serve_replay(path: Path, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "trio_gemini_live", "replay", str(path), *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def test_replay_serves_a_recording_to_its_end() -> None:
    process = serve_replay(RECORDINGS / "faults.jsonl", "--pace", "fast")
    try:
        first = await trio.to_thread.run_sync(read_line, process.stdout)
        assert first.startswith("Replaying ") and "3 connections" in first
        url = first.split(" on ", 1)[1].split(" ", 1)[0]
        from trio_gemini_live import ApiKey

        with trio.fail_after(60):
            await run_scenario("faults", {"endpoint": url, "auth": ApiKey("anything")})
        out, err = await trio.to_thread.run_sync(lambda: process.communicate(timeout=60))
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "The recording was replayed to its end." in out


async def test_replay_reports_a_divergence_and_fails() -> None:
    process = serve_replay(RECORDINGS / "faults.jsonl", "--pace", "fast")
    try:
        first = await trio.to_thread.run_sync(read_line, process.stdout)
        url = first.split(" on ", 1)[1].split(" ", 1)[0]
        with trio.fail_after(60):
            await _diverging_client(url)
        _, err = await trio.to_thread.run_sync(lambda: process.communicate(timeout=60))
    finally:
        process.kill()
    assert process.returncode == 1
    assert "error: replay of" in err and "diverged on connection 0" in err


async def _diverging_client(url: str) -> None:
    from trio_gemini_live import ApiKey, LiveConfig, LiveError, open_live_session

    config = LiveConfig(response_modalities=["AUDIO"])  # recorded: TEXT
    async with trio.open_nursery() as nursery:
        with pytest.raises(LiveError):
            async with open_live_session(nursery, model=MODEL, auth=ApiKey("x"),
                                         endpoint=url, config=config):
                pass


def test_replay_refuses_a_bad_recording(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"format": "trio-gemini-live-recording", "version": 9}\n')
    assert run_main(["replay", str(path)]) == 1
    assert "format version 9 is newer" in capsys.readouterr().err
