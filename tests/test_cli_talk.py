"""The ``talk`` command: a WAV file spoken into the emulator, transcripts, the reply saved."""

from __future__ import annotations

import io
import math
import os
import signal
import subprocess
import sys
import threading
import types
import wave
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trio_gemini_live import _cli_common, _cli_demo, _cli_talk
from trio_gemini_live import events as ev
from trio_gemini_live.audio import read_wav, speechlike, tone, write_wav
from trio_gemini_live.testing import speech_like_pcm

from .conftest import read_line, run_main


@pytest.fixture
def speech_wav(tmp_path: Path) -> Path:
    path = tmp_path / "speech.wav"
    write_wav(path, speech_like_pcm(1.5, lead_silence=0.2), 16000)
    return path


def _check_reply(path: Path) -> None:
    with wave.open(str(path)) as reply:
        assert (reply.getframerate(), reply.getsampwidth(), reply.getnchannels()) == (24000, 2, 1)
        assert reply.getnframes() > 0


def test_talk_speaks_a_wav_file_and_saves_the_reply(
        tmp_path: Path, speech_wav: Path, no_key: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    out_wav = tmp_path / "reply.wav"
    status = run_main(["talk", "--emulator", "--wav", str(speech_wav), "--out", str(out_wav),
                   "--fast"])
    out = capsys.readouterr().out
    assert status == 0, out
    lines = out.splitlines()
    # The emulator transcribes an utterance as its duration and echoes it in its reply.
    you = [line for line in lines if line.startswith("you: ")]
    model = [line for line in lines if line.startswith("model: ")]
    assert len(you) == 1 and you[0].startswith("you: [audio ")
    assert len(model) == 1 and model[0].startswith('model: I heard: "[audio ')
    assert model[0].endswith("This is turn 1 of our conversation.")
    assert lines.index(you[0]) < lines.index(model[0])
    # ... and says so before anyone wonders why (issue 14).
    note = [line for line in lines if line.startswith("Note: ")]
    assert len(note) == 1 and "recognises no speech" in note[0] and "[audio " in note[0]
    assert lines.index(note[0]) < lines.index(you[0])
    assert f"of the reply to {out_wav}" in lines[-1]
    _check_reply(out_wav)


def test_talk_mixes_resamples_and_answers_every_utterance(
        tmp_path: Path, no_key: None, capsys: pytest.CaptureFixture[str]) -> None:
    # Stereo at 48 kHz: mixed to mono and resampled to 16 kHz. speechlike() pauses up to
    # 700 ms between words, longer than the emulator's 500 ms end of speech, so the
    # server hears several utterances. Sent at once (--fast), a later one may interrupt
    # the reply to an earlier one; talk ends only after the reply to the last one.
    mono = speechlike(2.5, rate=48000, seed=3)
    stereo = b"".join(mono[i:i + 2] * 2 for i in range(0, len(mono), 2))
    source = tmp_path / "stereo.wav"
    with wave.open(str(source), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(48000)
        wav.writeframes(stereo)
    out_wav = tmp_path / "reply.wav"
    status = run_main(["talk", "--emulator", "--wav", str(source), "--out", str(out_wav),
                   "--fast"])
    out = capsys.readouterr().out
    assert status == 0, out
    heard = [line for line in out.splitlines() if line.startswith("you: ")]
    said = [line for line in out.splitlines() if line.startswith("model: ")]
    assert len(heard) >= 2
    assert f"This is turn {len(heard)} of our conversation." in said[-1]
    _check_reply(out_wav)


def test_talk_without_a_reply_gives_up(tmp_path: Path, no_key: None,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    silent = tmp_path / "silence.wav"
    write_wav(silent, bytes(16000), 16000)  # 0.5 s of silence: the VAD never starts
    out_wav = tmp_path / "reply.wav"
    status = run_main(["talk", "--emulator", "--wav", str(silent), "--out", str(out_wav),
                   "--fast", "--reply-timeout", "0.2"])
    captured = capsys.readouterr()
    assert status == 1
    assert "no reply within 0.2 s" in captured.err and "Traceback" not in captured.err
    assert not out_wav.exists()


class _FakeOutputStream:
    """A sound card: a thread asks for a 10 ms period of audio until the stream stops."""

    played = bytearray()

    def __init__(self, *, samplerate: int, channels: int, dtype: str, callback: Any) -> None:
        assert (samplerate, channels, dtype) == (24000, 1, "int16")
        self.callback = callback
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._device, daemon=True)

    def _device(self) -> None:
        frames = 240
        # The wait is the device's clock (a period), not a synchronisation of the test.
        while not self.stopped.wait(0.002):
            buffer = bytearray(2 * frames)
            self.callback(memoryview(buffer), frames, None, None)
            _FakeOutputStream.played += buffer.rstrip(b"\0")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(10)

    def close(self) -> None:
        pass


def test_talk_play_feeds_the_sound_device(speech_wav: Path, no_key: None,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    fake = types.SimpleNamespace(RawOutputStream=_FakeOutputStream)
    monkeypatch.setattr(_cli_talk, "_sounddevice", lambda: fake)
    _FakeOutputStream.played = bytearray()
    status = run_main(["talk", "--emulator", "--wav", str(speech_wav), "--play", "--fast"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.count("model: ") == 1 and "Saved" not in out  # --play alone saves nothing
    # The whole reply went to the device before talk ended (about 2 s at 24 kHz).
    assert len(_FakeOutputStream.played) > 24000


def test_talk_saves_to_a_default_file(speech_wav: Path, tmp_path: Path, no_key: None,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_main(["talk", "--emulator", "--wav", str(speech_wav), "--fast"]) == 0
    assert "talk-reply.wav" in capsys.readouterr().out
    pcm, rate = read_wav(tmp_path / "talk-reply.wav")
    assert rate == 24000 and pcm


def _eight_bit_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(16000)
        wav.writeframes(bytes(128 + int(100 * math.sin(n / 5)) for n in range(1600)))
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "talk needs --wav FILE or --mic"),
        (["--wav", "{missing}"], "No such file"),
        (["--wav", "{eight_bit}"], "only 16-bit PCM is supported"),
        (["--wav", "{not_wav}"], "not a 16-bit PCM WAV file"),
        (["--wav", "{empty}"], "the file holds no audio"),
        (["--wav", "{speech}", "--mic"], "not allowed with argument"),
        (["--wav", "{speech}", "--fast", "--realtime"], "not allowed with argument"),
        (["--wav", "{speech}", "--out", "{tmp}/no/such/dir/reply.wav"], "existing directory"),
        (["--wav", "{speech}", "--out", "{tmp}"], "existing directory"),
        (["--wav", "{speech}", "--voice", ""], "--voice"),
        (["--wav", "{speech}", "--reply-timeout", "0"], "must be > 0"),
    ],
)
def test_talk_bad_arguments_exit_2(extra: list[str], message: str, tmp_path: Path,
                                   speech_wav: Path, no_key: None,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    not_wav = tmp_path / "notes.wav"
    not_wav.write_text("not audio")
    empty = tmp_path / "empty.wav"
    write_wav(empty, b"", 16000)
    paths = {"missing": tmp_path / "missing.wav", "eight_bit": _eight_bit_wav(tmp_path / "8.wav"),
             "not_wav": not_wav, "empty": empty, "speech": speech_wav, "tmp": tmp_path}
    argv = ["talk", "--emulator", *(arg.format(**paths) for arg in extra)]
    with pytest.raises(SystemExit) as info:
        run_main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and message in err and "Traceback" not in err


@pytest.mark.parametrize(("flag", "extra"), [("--mic", []), ("--play", ["--wav", "{speech}"])])
def test_talk_without_sounddevice_exits_2(flag: str, extra: list[str], speech_wav: Path,
                                          no_key: None, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(_cli_talk, "_sounddevice", lambda: None)
    argv = ["talk", "--emulator", flag, *(arg.format(speech=speech_wav) for arg in extra)]
    assert run_main(argv) == 2
    err = capsys.readouterr().err
    assert f"talk {flag} needs the sounddevice package" in err and "Traceback" not in err


@pytest.mark.parametrize("error", [ImportError, OSError])
def test_sounddevice_missing_or_without_portaudio_is_none(
        error: type[Exception], monkeypatch: pytest.MonkeyPatch) -> None:
    imported: list[str] = []

    def import_module(name: str) -> Any:
        imported.append(name)
        raise error("no PortAudio library found")

    monkeypatch.setattr(_cli_talk.importlib, "import_module", import_module)
    assert _cli_talk._sounddevice() is None
    assert imported == ["sounddevice"]
    fake = types.ModuleType("sounddevice")
    monkeypatch.setattr(_cli_talk.importlib, "import_module", lambda name: fake)
    assert _cli_talk._sounddevice() is fake


def test_talk_to_google_without_a_key_exits_2(speech_wav: Path, no_key: None,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["talk", "--wav", str(speech_wav)]) == 2
    err = capsys.readouterr().err
    assert "GEMINI_API_KEY" in err and "--emulator" in err and "auth=" not in err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_talk_ctrl_c_exits_130(tmp_path: Path) -> None:
    long_wav = tmp_path / "long.wav"
    write_wav(long_wav, speech_like_pcm(20.0), 16000)  # 20 s in real time: still streaming
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    process = subprocess.Popen(
        [sys.executable, "-m", "trio_gemini_live", "talk", "--emulator", "--wav", str(long_wav),
         "--out", str(tmp_path / "reply.wav")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        assert read_line(process.stdout).startswith("Connected to the local emulator")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
        assert "Traceback" not in (process.stderr.read() if process.stderr else "")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


class _PortAudioError(Exception):
    pass


def _no_device(**kwargs: Any) -> Any:
    raise _PortAudioError("Error querying device -1")


@pytest.mark.parametrize(("flag", "extra"), [("--mic", []), ("--play", ["--wav", "{speech}"])])
def test_talk_without_a_sound_device_exits_1(flag: str, extra: list[str], speech_wav: Path,
                                             no_key: None, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    fake = types.SimpleNamespace(PortAudioError=_PortAudioError, RawInputStream=_no_device,
                                 RawOutputStream=_no_device)
    monkeypatch.setattr(_cli_talk, "_sounddevice", lambda: fake)
    argv = ["talk", "--emulator", flag, *(arg.format(speech=speech_wav) for arg in extra)]
    assert run_main(argv) == 1
    err = capsys.readouterr().err
    assert "error: sound device: Error querying device -1" in err and "Traceback" not in err


# --- bounded waits, late microphone blocks, other output rates ------------------------------


class _FakeSession:
    """Stands in for a LiveSession: ``events()`` yields the given events, then blocks."""

    def __init__(self, events: list[ev.Event]) -> None:
        self._events = list(events)

    async def events(self) -> Any:
        while self._events:
            yield self._events.pop(0)
        await trio.sleep_forever()


async def test_model_turn_gives_up_when_the_turn_never_completes(
        autojump_clock: trio.testing.MockClock) -> None:
    session = _FakeSession([ev.TextChunk(text="half a ")])
    with trio.fail_after(_cli_demo._TURN_TIMEOUT + 10), pytest.raises(_cli_common.NoReplyError):
        await _cli_demo._model_turn(session, _cli_demo._Transcript(io.StringIO()))  # type: ignore[arg-type]


async def test_replies_give_up_when_the_model_stops_mid_turn(
        autojump_clock: trio.testing.MockClock) -> None:
    replies = _cli_talk._Replies(io.StringIO(), None, reply_timeout=5.0)
    replies.input_done()
    session = _FakeSession([ev.OutputTranscription(text="I was saying")])
    with trio.fail_after(60):
        assert await replies.run(session) is False  # type: ignore[arg-type]
    assert replies.speaking and replies.turns == 0


class _StalledOutputStream:
    """A sound card that never asks for audio."""

    def __init__(self, **kwargs: Any) -> None:
        pass


async def test_player_drain_is_bounded_and_checkpoints(
        autojump_clock: trio.testing.MockClock) -> None:
    player = _cli_talk._Player(types.SimpleNamespace(RawOutputStream=_StalledOutputStream))
    with trio.fail_after(1):
        await player.drain()  # nothing queued: returns, through a checkpoint
    player.handle(ev.AudioChunk(data=bytes(48000)))  # 1 s at 24 kHz
    start = trio.current_time()
    with trio.fail_after(60):
        await player.drain()
    assert trio.current_time() - start == pytest.approx(1.0 + _cli_talk._DRAIN_SLACK)
    assert player.buffer.queued_seconds == 1.0


async def test_audio_at_another_rate_is_resampled_for_playback_and_the_file() -> None:
    player = _cli_talk._Player(types.SimpleNamespace(RawOutputStream=_StalledOutputStream))
    replies = _cli_talk._Replies(io.StringIO(), player, reply_timeout=5.0)
    pcm_16k = tone(440, 0.5, 16000)
    replies._handle(ev.AudioChunk(data=pcm_16k, sample_rate=16000,
                                  mime_type="audio/pcm;rate=16000"))
    assert len(replies.audio) == 2 * 12000  # 0.5 s at 24 kHz
    assert player.buffer.queued_seconds == 0.5
    await trio.lowlevel.checkpoint()


async def test_a_microphone_block_after_the_loop_ended_is_dropped() -> None:
    """PortAudio may deliver one more block after the receiving side closed."""

    class Stop(Exception):
        pass

    class Stream:
        def __init__(self, *, callback: Any, **kwargs: Any) -> None:
            self.callback = callback

        def __enter__(self) -> Stream:
            self.callback(bytes(3200), 1600, None, None)
            return self

        def __exit__(self, *exc: object) -> None:
            self.callback(bytes(3200), 1600, None, None)  # a late block

    class Session:
        async def send_realtime_input(self, **kwargs: Any) -> None:
            raise Stop

    with trio.fail_after(5):
        with pytest.raises(Stop):
            await _cli_talk._send_mic(Session(), types.SimpleNamespace(RawInputStream=Stream),  # type: ignore[arg-type]
                                 io.StringIO())
        # The late block is offered now: a BrokenResourceError there would crash trio.run.
        await trio.testing.wait_all_tasks_blocked()
