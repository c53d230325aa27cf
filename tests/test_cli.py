"""The command line: demo, chat, emulator, and bad arguments (exit status 2, no traceback)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import wave
from pathlib import Path

import pytest
import trio
import trio_websocket

from trio_gemini_live import _cli_demo, _cli_talk
from trio_gemini_live._auth import ApiKey, VertexAI
from trio_gemini_live.audio import write_wav

from .conftest import read_line, run_main

V1BETA = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


def test_demo_runs_a_whole_conversation(tmp_path: Path, no_key: None,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    wav = tmp_path / "reply.wav"
    assert run_main(["demo", "--fast", "--output", str(wav)]) == 0
    out = capsys.readouterr().out
    assert "user: Hello! Who are you?" in out
    assert "user (transcribed): What's the weather like in Paris?" in out
    # The scripted transcript is said to be scripted: real speech shows as [audio N.Ns].
    assert "demo: the emulator recognises no speech" in out and "[audio " in out
    # The canned model fills the tool's arguments from the user's words (issue 14).
    assert "the model calls get_weather({'city': 'Paris'})" in out
    assert '"city": "Paris"' in out and '"temperature_c": 21' in out
    assert "goAway" in out and "reconnected and resumed the session" in out
    assert "turn 4 of our conversation" in out  # the resumed session kept its history
    assert all(line.startswith("[") and "s] " in line for line in out.splitlines())
    with wave.open(str(wav)) as reply:
        assert (reply.getframerate(), reply.getsampwidth(), reply.getnchannels()) == (24000, 2, 1)
        assert reply.getnframes() > 24000


def test_python_m_demo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    done = subprocess.run(
        [sys.executable, "-m", "trio_gemini_live", "demo", "--fast"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "demo-reply.wav").exists()


def test_chat_with_the_emulator_ends_on_ctrl_d(monkeypatch: pytest.MonkeyPatch, no_key: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hi there\n\nsecond\n"))
    assert run_main(["chat", "--emulator"]) == 0
    out = capsys.readouterr().out
    assert 'model> I heard: "Hi there". This is turn 1 of our conversation.' in out
    assert "turn 2 of our conversation" in out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bogus"],
        ["emulator"],  # --api-key is required
        ["emulator", "--api-key", "k", "--port", "http"],
        ["emulator", "--api-key", "k", "--port", "70000"],
        ["emulator", "--api-key", "k", "--connection-lifetime", "-1"],
        ["emulator", "--api-key", "k", "--certfile", "/nonexistent.pem"],
        ["demo", "--nope"],
    ],
)
def test_bad_arguments_exit_2_with_usage(argv: list[str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run_main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err


@pytest.mark.parametrize(("argv", "instead"), [(["demo", "--live"], "drop --live"),
                                               (["chat"], "use --emulator")])
def test_google_without_a_key_exits_2(argv: list[str], instead: str, no_key: None,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(argv) == 2
    err = capsys.readouterr().err
    # Advice for a shell user, not the library's "pass auth=..." (issue 14).
    assert "GEMINI_API_KEY" in err and instead in err
    assert "auth=" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("emulator", "stand-in for Google's server"),
        ("demo", "no API key is needed"),
        ("chat", "to a local emulator with --emulator"),
        ("talk", "the emulator recognises no speech"),
    ],
)
def test_every_command_describes_itself_in_help(command: str, says: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run_main([command, "--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse re-wraps the text
    head = out.partition(f"usage: trio-gemini-live {command}")[2].partition("options:")[0]
    assert says in head  # the description, between the usage line and the options


@pytest.mark.parametrize(
    ("argv", "runner"),
    [(["demo", "--live"], (_cli_demo, "demo")), (["chat"], (_cli_demo, "chat")),
     (["talk", "--wav", "{wav}"], (_cli_talk, "_talk"))],
)
@pytest.mark.parametrize("vertex", [False, True])
def test_google_credentials_come_from_auth_from_env(
        argv: list[str], runner: tuple[object, str], vertex: bool, no_key: None, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Vertex AI variables work as well as an API key (what auth=None would use), and the
    # credentials read once up front are the ones the session gets.
    if vertex:
        monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
        monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "us-central1")
    else:
        monkeypatch.setenv("GEMINI_API_KEY", "AIzaFAKE-cli-key")
    wav = tmp_path / "in.wav"
    write_wav(wav, bytes(3200), 16000)
    seen: list[object] = []

    async def fake(args: object, *rest: object) -> int:
        seen.append(getattr(args, "auth", None))
        return 0

    monkeypatch.setattr(*runner, fake)
    assert run_main([arg.format(wav=wav) for arg in argv]) == 0
    assert len(seen) == 1
    assert isinstance(seen[0], VertexAI if vertex else ApiKey)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_emulator_command_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "trio_gemini_live", "emulator", "--api-key", "cli-key",
         "--port", "0", "--connection-lifetime", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = read_line(process.stdout)
        url = line.split(" on ", 1)[1].split()[0]
        assert url.startswith("ws://127.0.0.1:")

        async def talk() -> bytes | str:
            with trio.fail_after(10):
                async with trio_websocket.open_websocket_url(
                        url + V1BETA, extra_headers=[(b"x-goog-api-key", b"cli-key")]) as ws:
                    await ws.send_message(json.dumps({"setup": {
                        "model": "models/gemini-3.8-live"}}))
                    return await ws.get_message()

        assert json.loads(trio.run(talk)) == {"setupComplete": {}}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 130
        assert "Traceback" not in (process.stderr.read() if process.stderr else "")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
