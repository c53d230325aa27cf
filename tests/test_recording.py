"""Recordings (issue 15): what the Recorder writes, what it never writes, and the reader.

The connection under the recorder is a fake here (every method of the transport contract,
with the outcomes a test needs); end-to-end recordings against the emulator are in
test_replay.py and test_recordings.py.
"""

from __future__ import annotations

import base64
import json
import sys
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from trio_websocket import CloseReason, ConnectionClosed

from trio_gemini_live import ApiKey, AuthRejectedError, EphemeralToken, LiveConfig
from trio_gemini_live import events as ev
from trio_gemini_live.testing import (
    DEFAULT_MODEL,
    LiveEmulator,
    Recorder,
    Recording,
    RecordingError,
    ReplayServer,
    message_kind,
)

from .conftest import API_KEY, MODEL, opening_error, until

URL = "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
SETUP = json.dumps({"setup": {"model": f"models/{MODEL}"}})
SETUP_COMPLETE = b'{"setupComplete":{}}'
#: A key of the real shape (AIza + 35 characters) that no recorder was told about.
UNKNOWN_KEY = "AIza" + "SyD-unknown_key_0123456789abcdefghi"
assert len(UNKNOWN_KEY) == 39


class FakeConnection:
    """A message-level connection: frames to hand out, what was sent, a scripted end."""

    def __init__(self, incoming: list[str | bytes] | None = None, *,
                 end: CloseReason | None = None, direct: list[bool | None] | None = None,
                 ) -> None:
        self.incoming = list(incoming or [])
        self.end = end
        self.direct = list(direct or [])
        self.sent: list[str | bytes] = []
        self.closed: CloseReason | None = None
        self.fail_sends: CloseReason | None = None
        self.block_sends = False

    async def get_message(self) -> str | bytes:
        if self.incoming:
            return self.incoming.pop(0)
        await trio.lowlevel.checkpoint()
        self.closed = self.end or CloseReason(1006, None)
        raise ConnectionClosed(self.closed)

    async def send_message(self, message: str | bytes) -> None:
        await self.send_messages([message])

    async def send_messages(self, messages: list[str | bytes]) -> None:
        if self.block_sends:
            await trio.sleep_forever()
        await trio.lowlevel.checkpoint()
        if self.fail_sends is not None:
            self.closed = self.fail_sends
            raise ConnectionClosed(self.fail_sends)
        self.sent.extend(messages)

    def try_send_message(self, message: str | bytes) -> bool | None:
        result = self.direct.pop(0)
        if result is not None:
            self.sent.append(message)
        return result

    async def ping(self, payload: bytes | None = None) -> None:
        await trio.lowlevel.checkpoint()

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        await trio.lowlevel.checkpoint()
        self.closed = CloseReason(code, reason)


class PlainConnection:
    """Only trio-websocket's methods: no batch, no direct write."""

    closed = None

    async def get_message(self) -> str:
        raise AssertionError("not used")

    async def send_message(self, message: str | bytes) -> None:
        await trio.lowlevel.checkpoint()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def frame(text: str) -> str:
    return json.dumps({"realtimeInput": {"text": text}})


# --- what is recorded -------------------------------------------------------------------------


async def test_frames_both_ways_in_the_order_the_client_saw_them(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    conn = FakeConnection([SETUP_COMPLETE, b'{"goAway":{"timeLeft":"1s"}}'],
                          end=CloseReason(1011, "Deadline expired before operation could "
                                                "complete."),
                          direct=[True, False, None])
    async with Recorder(path) as recorder:
        wrapped = recorder.wrap(conn, url=URL)
        await wrapped.send_message(SETUP)
        assert await wrapped.get_message() == SETUP_COMPLETE
        assert wrapped.try_send_message(frame("written")) is True
        assert wrapped.try_send_message(frame("committed")) is False  # partial: recorded
        assert wrapped.try_send_message(frame("not written")) is None  # not recorded
        await wrapped.send_messages([frame("a"), frame("b")])
        await wrapped.get_message()
        with pytest.raises(ConnectionClosed):
            await wrapped.get_message()
        assert recorder.dropped == 0
    assert recorder.frames == 7
    recording = Recording.load(path)
    header = recording.header
    assert (header.model, header.api_version, header.backend, header.audio) == (
        MODEL, "v1beta", "gemini", "truncate")
    [connection] = recording.connections
    assert connection.url == URL
    assert [(f.sender, f.kind) for f in connection.frames] == [
        ("client", "setup"), ("server", "setupComplete"),
        ("client", "realtimeInput.text"), ("client", "realtimeInput.text"),
        ("client", "realtimeInput.text"), ("client", "realtimeInput.text"),
        ("server", "goAway")]
    texts = [f.message["realtimeInput"]["text"] for f in connection.frames
             if f.kind == "realtimeInput.text"]
    assert texts == ["written", "committed", "a", "b"]
    assert [f.binary for f in connection.frames][:2] == [False, True]
    times = [f.t for f in connection.frames]
    assert times == sorted(times) and times[0] >= connection.opened_at >= 0
    assert connection.end is not None
    assert (connection.end.by, connection.end.code) == ("server", 1011)
    assert connection.end.reason.startswith("Deadline expired")
    assert recording.complete and recording.dropped == 0
    trailer = lines(path)[-1]
    assert trailer["trailer"] == {"frames": 7, "dropped": 0, "connections": 1}


async def test_only_the_methods_the_connection_has_are_offered(tmp_path: Path) -> None:
    async with Recorder(tmp_path / "r.jsonl") as recorder:
        plain = recorder.wrap(PlainConnection())
        full = recorder.wrap(FakeConnection())
    # The session looks them up with getattr: a plain connection must not seem to have them.
    assert getattr(plain, "send_messages", None) is None
    assert getattr(plain, "try_send_message", None) is None
    assert callable(full.send_messages) and callable(full.try_send_message)


async def test_a_failed_or_cancelled_send_is_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    async with Recorder(path) as recorder:
        conn = FakeConnection([SETUP_COMPLETE])
        wrapped = recorder.wrap(conn, url=URL)
        await wrapped.send_message(SETUP)
        conn.block_sends = True
        with trio.move_on_after(0.01):
            await wrapped.send_message(frame("cancelled"))  # fate unknown: sent again later
        conn.block_sends = False
        conn.fail_sends = CloseReason(1011, "Internal error occurred.")
        with pytest.raises(ConnectionClosed):
            await wrapped.send_messages([frame("failed")])
    recording = Recording.load(path)
    assert recording.kinds() == ["setup"]
    end = recording.connections[0].end
    assert end is not None and (end.by, end.code, end.reason) == (
        "server", 1011, "Internal error occurred.")


async def test_how_connections_end(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    async with Recorder(path) as recorder:
        closed = recorder.wrap(FakeConnection(), url=URL)
        await closed.aclose(1000)
        dropped = recorder.wrap(FakeConnection(end=CloseReason(1006, None)), url=URL)
        with pytest.raises(ConnectionClosed):
            await dropped.get_message()
        abandoned = recorder.wrap(FakeConnection(), url=URL)  # ended by the next wrap
        closing = recorder.wrap(FakeConnection(end=CloseReason(1000, None)), url=URL)
        await closing.aclose(1011)
        with pytest.raises(ConnectionClosed):  # the server's answer to our close
            await closing.get_message()
        recorder.wrap(FakeConnection(), url=URL)  # still open at close(): abandoned
        # After its recorded end, a connection's frames are not recorded (the file would
        # not be a valid recording).
        await abandoned.send_message(frame("late"))
    recording = Recording.load(path)
    assert recording.kinds() == []
    ends = [(c.index, c.end.by, c.end.code) for c in recording.connections
            if c.end is not None]
    assert ends == [(0, "client", 1000), (1, "network", 1006), (2, "client", None),
                    (3, "client", 1011), (4, "client", None)]


async def test_wrap_connect_numbers_connections_and_refuses_byte_streams(
        tmp_path: Path) -> None:
    @asynccontextmanager
    async def streams(url: str, headers: list[tuple[str, str]]) -> AsyncIterator[Any]:
        left, _ = trio.testing.memory_stream_pair()
        yield left

    async with Recorder(tmp_path / "r.jsonl") as recorder:
        with pytest.raises(TypeError, match="message-level connection"):
            async with recorder.wrap_connect(streams)(URL, []):
                pass


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="audio must be one of"):
        Recorder(tmp_path / "r.jsonl", audio="mp3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1"):
        Recorder(tmp_path / "r.jsonl", max_buffered_frames=0)
    with pytest.raises(FileNotFoundError):
        Recorder(tmp_path / "missing" / "r.jsonl").start()  # at once, not in the thread
    recorder = Recorder(tmp_path / "r.jsonl").start()
    recorder.close()
    with pytest.raises(RuntimeError, match="already started"):
        recorder.start()
    recorder.close()  # again: nothing


def test_open_starts_a_recorder_with_the_given_header(tmp_path: Path) -> None:
    recorder = Recorder.open(tmp_path / "r.jsonl", model="gemini-x", api_version="v1alpha",
                             backend="gemini")
    with pytest.raises(RuntimeError):
        Recorder.open(recorder)  # already started
    recorder.close()
    header = Recording.load(tmp_path / "r.jsonl").header
    assert (header.model, header.api_version, header.backend) == ("gemini-x", "v1alpha",
                                                                  "gemini")
    assert recorder.closed and "closed" in repr(recorder)


def test_message_kinds() -> None:
    assert message_kind({"setup": {}}) == "setup"
    assert message_kind({"realtimeInput": {"audio": {}}}) == "realtimeInput.audio"
    assert message_kind({"serverContent": {"modelTurn": {}, "turnComplete": True},
                         "usageMetadata": {}}) == (
        "serverContent.modelTurn,turnComplete+usageMetadata")
    assert message_kind({"toolCall": {"functionCalls": []}}) == "toolCall"
    assert message_kind([1]) == message_kind({}) == message_kind(None) == "raw"


async def test_frames_that_are_not_json_objects_are_kept_raw(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    async with Recorder(path) as recorder:
        wrapped = recorder.wrap(FakeConnection([b"\xff\x00not utf-8", "plain text", b"[1]"]),
                                url=URL)
        for _ in range(3):
            await wrapped.get_message()
    frames = Recording.load(path).frames()
    assert [f.kind for f in frames] == ["raw", "raw", "raw"]
    assert [f.raw for f in frames] == [b"\xff\x00not utf-8", "plain text", b"[1]"]
    # A replay sends them back as they came.
    assert [Recording.load(path).wire_frame(f) for f in frames] == [
        b"\xff\x00not utf-8", "plain text", b"[1]"]


# --- audio modes ------------------------------------------------------------------------------


def audio_frame(pcm: bytes, rate: int = 16000) -> str:
    return json.dumps({"realtimeInput": {"audio": {
        "mimeType": f"audio/pcm;rate={rate}", "data": base64.b64encode(pcm).decode()}}})


def server_audio(pcm: bytes) -> bytes:
    return json.dumps({"serverContent": {"modelTurn": {"parts": [{"inlineData": {
        "mimeType": "audio/pcm;rate=24000", "data": base64.b64encode(pcm).decode()}}]}}}
    ).encode()


@pytest.mark.parametrize("audio", ["truncate", "wav", "keep"])
async def test_audio_modes(tmp_path: Path, audio: Any) -> None:
    path = tmp_path / "r.jsonl"
    pcm_in, pcm_out = bytes(range(200)) * 16, bytes(range(100, 250)) * 32
    video = json.dumps({"realtimeInput": {"video": {"mimeType": "image/jpeg",
                                                    "data": base64.b64encode(b"JPEG").decode()}}})
    async with Recorder(path, audio=audio) as recorder:
        wrapped = recorder.wrap(FakeConnection([server_audio(pcm_out)]), url=URL)
        await wrapped.send_message(audio_frame(pcm_in))
        await wrapped.send_message(audio_frame(pcm_in[:800]))
        await wrapped.send_message(video)
        await wrapped.get_message()
    recording = Recording.load(path)
    sent_in, sent_in_2, sent_video, received = recording.frames()
    blob = sent_in.message["realtimeInput"]["audio"]
    if audio == "keep":
        assert blob["data"] == base64.b64encode(pcm_in).decode()
        assert sent_video.message["realtimeInput"]["video"]["data"] == "SlBFRw=="
    elif audio == "truncate":
        assert blob["data"] == {"bytes": len(pcm_in)}
        assert sent_video.message["realtimeInput"]["video"]["data"] == {"bytes": 4}
    else:
        assert blob["data"] == {"bytes": len(pcm_in), "wav": "r.c0.client.wav", "offset": 0}
        assert sent_in_2.message["realtimeInput"]["audio"]["data"]["offset"] == len(pcm_in)
        # Media other than PCM audio is truncated.
        assert sent_video.message["realtimeInput"]["video"]["data"] == {"bytes": 4}
        with wave.open(str(tmp_path / "r.c0.client.wav")) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
            assert w.readframes(w.getnframes()) == pcm_in + pcm_in[:800]
        with wave.open(str(tmp_path / "r.c0.server.wav")) as w:
            assert w.getframerate() == 24000 and w.readframes(w.getnframes()) == pcm_out
    # What a replay sends back: the audio itself (keep, wav), or silence of its length.
    wire = msgspec.json.decode(recording.wire_frame(received))
    data = base64.b64decode(wire["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"])
    assert data == (bytes(len(pcm_out)) if audio == "truncate" else pcm_out)


async def test_kept_audio_that_happens_to_look_like_a_key_is_audio(tmp_path: Path) -> None:
    # About one base64 audio frame in a few thousand contains "AIza" and 35 more letters.
    pcm = base64.b64decode("AIza" + "B" * 36)
    path = tmp_path / "r.jsonl"
    async with Recorder(path, audio="keep") as recorder:
        await recorder.wrap(FakeConnection(), url=URL).send_message(audio_frame(pcm))
    [sent] = Recording.load(path).frames()  # not refused
    assert base64.b64decode(sent.message["realtimeInput"]["audio"]["data"]) == pcm


# --- secrets ----------------------------------------------------------------------------------


async def test_no_secret_is_written(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    key, token, bearer = "AIzaTEST-header-key-0123456789", "auth_tokens/abc-123_x", "ya29.tok-en"
    echo = json.dumps({"serverContent": {"outputTranscription": {
        "text": f"keys {key} {token} {bearer} {UNKNOWN_KEY} query-secret-1"}}}).encode()
    async with Recorder(path, secrets=["given-secret-value"]) as recorder:
        wrapped = recorder.wrap(
            FakeConnection([echo, b'{"x": "given-secret-value"}'],
                           end=CloseReason(1008, f"API key {key} not valid ({UNKNOWN_KEY})")),
            url=URL + "?key=query-secret-1&alt=json",
            headers=[("x-goog-api-key", key), ("authorization", f"Token {token}"),
                     ("user-agent", "trio-gemini-live")])
        for _ in range(2):
            await wrapped.get_message()
        with pytest.raises(ConnectionClosed):
            await wrapped.get_message()
        recorder.wrap(FakeConnection(), headers=[("Authorization", f"Bearer {bearer}")])
    data = path.read_bytes()
    for secret in (key, token, bearer, UNKNOWN_KEY, "query-secret-1", "given-secret-value",
                   "x-goog-api-key"):
        assert secret.encode() not in data, secret
    recording = Recording.load(path)  # nothing that looks like a secret is left
    assert recording.connections[0].url.endswith("?key=<redacted>&alt=json")
    assert recording.connections[0].end.reason == (  # type: ignore[union-attr]
        "API key <redacted> not valid (<redacted>)")
    assert "user-agent" not in data.decode()  # no headers at all


async def test_a_session_recording_holds_no_secret(tmp_path: Path, nursery: trio.Nursery) -> None:
    """The API key appears nowhere, even when the server echoes it in a frame and in its
    close reason; an ephemeral token neither."""
    emulator = LiveEmulator(api_key=API_KEY)
    await nursery.start(emulator.serve)
    path = tmp_path / "session.jsonl"
    config = LiveConfig(response_modalities=["TEXT"])
    with trio.fail_after(30):
        async with Recorder(path) as recorder:
            opening = emulator.open_session(nursery, config=config, auth=ApiKey(API_KEY),
                                            connect=recorder.wrap_connect())
            async with opening as session:
                await session.send_client_content("Hello")
                await until(session, ev.TurnComplete)
                await emulator.send_raw(json.dumps({"unknown": API_KEY}).encode())
                await emulator.close(1008, f"API key {API_KEY} is not valid")
                await until(session, ev.SessionClosed)
        token_path = tmp_path / "token.jsonl"
        async with Recorder(token_path) as recorder:
            token = "auth_tokens/emulator-token-42"
            opening = emulator.open_session(nursery, config=config, auth=EphemeralToken(token),
                                            connect=recorder.wrap_connect())
            async with opening as session:
                await session.send_client_content("Hello")
                await until(session, ev.TurnComplete)
                await emulator.close(1011, f"token {token} expired")
                await until(session, ev.SessionClosed)
    assert emulator.connections[0].headers["x-goog-api-key"] == API_KEY  # it was sent
    data = path.read_bytes()
    assert API_KEY.encode() not in data and b"unknown" in data
    end = Recording.load(path).connections[0].end
    assert end is not None and (end.code, end.reason) == (1008, "API key <redacted> is not valid")
    data = token_path.read_bytes()
    assert b"emulator-token-42" not in data and b"auth_tokens/" not in data
    assert Recording.load(token_path).header.api_version == "v1alpha"


async def test_record_records_the_session_s_own_transport(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    """``open_live_session(record=...)``: the frames of the library's own WebSocket, both
    ways, with no secret even when the server echoes the key; the file replays."""
    emulator = LiveEmulator(api_key=API_KEY)
    await nursery.start(emulator.serve)
    path = tmp_path / "session.jsonl"
    config = LiveConfig(response_modalities=["TEXT"])
    with trio.fail_after(30):
        async with emulator.open_session(nursery, config=config, record=path) as session:
            await session.send_client_content("Hello")
            await until(session, ev.TurnComplete)
            await emulator.close(1008, f"API key {API_KEY} is not valid")
            await until(session, ev.SessionClosed)
            assert isinstance(session.error, AuthRejectedError)
            assert str(session.error).endswith("API key <redacted> is not valid")
    data = path.read_bytes()
    assert API_KEY.encode() not in data
    recording = Recording.load(path)  # complete: the session closed its recorder
    assert recording.header.model == DEFAULT_MODEL
    kinds = [f.kind for f in recording.frames("client")]
    assert kinds == ["setup", "clientContent"]
    assert any("turnComplete" in f.kind for f in recording.frames("server"))
    end = recording.connections[0].end
    assert end is not None and (end.code, end.reason) == (1008, "API key <redacted> is not valid")
    # The same client code against the recording.
    server = ReplayServer(recording)
    await nursery.start(server.serve)
    with trio.fail_after(30):
        async with server.open_session(nursery, config=config) as session:
            await session.send_client_content("Hello")
            await until(session, ev.TurnComplete)
            await until(session, ev.SessionClosed)
            assert isinstance(session.error, AuthRejectedError)
    server.check()


@pytest.mark.parametrize("secret", [UNKNOWN_KEY, "auth_tokens/leaked", "ya29.a0AfH6SM-leaked"])
def test_the_reader_refuses_an_unredacted_secret(tmp_path: Path, secret: str) -> None:
    path = write(tmp_path, [
        {"t": 0, "c": 0, "open": {"url": "ws://x/y"}},
        {"t": 0.1, "c": 0, "from": "server", "kind": "serverContent.outputTranscription",
         "msg": {"serverContent": {"outputTranscription": {"text": f"here: {secret}"}}}},
        TRAILER])
    with pytest.raises(RecordingError, match=r"line 3: contains what looks like") as info:
        Recording.load(path)
    assert info.value.line == 3
    assert secret not in str(info.value)  # the message does not repeat it


# --- the reader -------------------------------------------------------------------------------

HEADER = {"format": "trio-gemini-live-recording", "version": 1, "library": "0.1.0",
          "model": MODEL, "api_version": "v1beta", "backend": "gemini", "created": "",
          "audio": "truncate"}
TRAILER = {"t": 1, "trailer": {"frames": 1, "dropped": 0, "connections": 1}}


def write(tmp_path: Path, entries: list[Any], header: Any = HEADER) -> Path:
    path = tmp_path / "r.jsonl"
    items = ([header] if header is not None else []) + entries
    path.write_text("".join(
        (item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items))
    return path


OPEN = {"t": 0, "c": 0, "open": {"url": "ws://x/y"}}
SETUP_LINE = {"t": 0.1, "c": 0, "from": "client", "kind": "setup",
              "msg": {"setup": {"model": "models/m"}}}


@pytest.mark.parametrize(("entries", "line", "problem"), [
    (["{not json"], 2, "not a valid recording line"),
    ([OPEN, {"t": 0.1, "c": 1, "from": "client", "msg": {"setup": {}}}], 3,
     "connection 1 was never opened"),
    ([OPEN, {"t": 0.1, "c": 0, "end": {"by": "server", "code": 1011}},
      SETUP_LINE], 4, "connection 0 already ended"),
    ([OPEN, {**SETUP_LINE, "kind": "clientContent"}], 3, "does not match the message"),
    ([OPEN, {"t": 0.1, "c": 0, "from": "client", "kind": "x"}], 3, "without 'msg'"),
    ([OPEN, {"t": -1, "c": 0, "end": {"by": "server", "code": 1000}}], 3, "time offset"),
    ([OPEN, {"t": 0.1, "c": 0, "end": {"by": "someone", "code": 1000}}], 3,
     "not a valid recording line"),
    ([OPEN, {"t": 0.2, "what": "ever"}], 3, "neither a frame"),
    ([OPEN, TRAILER, OPEN], 4, "after the trailer"),
    ([OPEN, ""], 3, "an empty line"),
    ([OPEN], 2, "without its trailer"),
])
def test_the_reader_names_the_line_at_fault(tmp_path: Path, entries: list[Any], line: int,
                                            problem: str) -> None:
    path = write(tmp_path, entries)
    with pytest.raises(RecordingError, match=problem) as info:
        Recording.load(path)
    assert info.value.line == line and f"line {line}:" in str(info.value)


def test_a_truncated_recording(tmp_path: Path) -> None:
    path = write(tmp_path, [OPEN, SETUP_LINE, TRAILER])
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b'"setup"') + 3])  # cut in the middle of line 3
    with pytest.raises(RecordingError, match="line 3: the line is incomplete: the "
                                             "recording was truncated"):
        Recording.load(path)
    # inspect reads what there is.
    path.write_bytes(data[: data.index(b'{"t": 1')])
    recording = Recording.load(path, allow_incomplete=True)
    assert not recording.complete and recording.kinds() == ["setup"]
    assert recording.connections[0].end is None


@pytest.mark.parametrize(("header", "problem"), [
    ({**HEADER, "version": 2}, "format version 2 is newer than this library reads"),
    ({**HEADER, "version": 0}, "invalid format version 0"),
    ({**HEADER, "audio": "mp3"}, "unknown audio mode"),
    ({**HEADER, "version": "one"}, "a malformed header"),
    ({"format": "something else"}, "not a trio-gemini-live recording"),
    ("[]", "not a trio-gemini-live recording"),
    ({**HEADER, "model": UNKNOWN_KEY}, "looks like a Google API key"),
])
def test_bad_headers(tmp_path: Path, header: Any, problem: str) -> None:
    path = write(tmp_path, [TRAILER], header=header)
    with pytest.raises(RecordingError, match=problem) as info:
        Recording.load(path)
    assert info.value.line == 1


def test_an_empty_file_is_not_a_recording(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("\n")
    with pytest.raises(RecordingError, match="empty"):
        Recording.load(path)


@pytest.mark.parametrize(("ref", "problem"), [
    ({"bytes": 4, "wav": "missing.wav", "offset": 0}, "the audio file missing.wav is missing"),
    ({"bytes": 4, "wav": "../outside.wav", "offset": 0}, "not a plain file name"),
    ({"bytes": 4, "wav": "r.wav", "offset": -1}, "a malformed WAV reference"),
    ({"bytes": 400, "wav": "r.wav", "offset": 0}, "shorter than this frame needs"),
    ({"bytes": 4, "wav": "bad.wav", "offset": 0}, "cannot be read"),
    ({"bytes": "4"}, "without a valid 'bytes' length"),
])
def test_bad_media_references(tmp_path: Path, ref: dict[str, Any], problem: str) -> None:
    with wave.open(str(tmp_path / "r.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(bytes(8))
    (tmp_path / "bad.wav").write_bytes(b"not a wav")
    path = write(tmp_path, [OPEN, {"t": 0.1, "c": 0, "from": "client",
                                   "msg": {"realtimeInput": {"audio": {
                                       "mimeType": "audio/pcm", "data": ref}}}}, TRAILER])
    with pytest.raises(RecordingError, match=problem) as info:
        Recording.load(path)
    assert info.value.line == 3


# --- never blocking -------------------------------------------------------------------------


async def test_a_full_buffer_drops_frames_and_counts_them(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    recorder = Recorder(path, max_buffered_frames=10).start()
    interval = sys.getswitchinterval()
    # Hold the GIL from the open line to the end of the burst so that the writer thread
    # cannot drain meanwhile (the fake's get_message returns without a checkpoint: nothing
    # here blocks or releases the GIL).
    sys.setswitchinterval(10)
    try:
        wrapped = recorder.wrap(FakeConnection([SETUP_COMPLETE] * 50), url=URL)
        for _ in range(50):
            await wrapped.get_message()
        # A connection's open and end lines are never dropped (the file stays valid).
        recorder.wrap(FakeConnection(), url=URL)
    finally:
        sys.setswitchinterval(interval)
    await recorder.aclose()
    assert recorder.dropped == 41  # the open line and 9 frames fit, 41 did not
    recording = Recording.load(path)
    assert recording.dropped == 41 and len(recording.frames()) == 9
    assert [c.end is not None for c in recording.connections] == [True, True]
    [(line, frames)] = recording.gaps
    assert frames == 41 and lines(path)[line - 1]["gap"] == {"frames": 41}
    assert lines(path)[-1]["trailer"]["dropped"] == 41
    with pytest.raises(RecordingError, match="41 frames were lost while recording"):
        ReplayServer(recording)


async def test_a_write_error_is_reported_not_raised(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    if not await trio.Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    recorder = Recorder("/dev/full").start()  # every write fails: ENOSPC
    wrapped = recorder.wrap(FakeConnection([SETUP_COMPLETE] * 3), url=URL)
    await wrapped.send_message(SETUP)
    for _ in range(3):
        await wrapped.get_message()
    await recorder.aclose()  # does not raise
    assert isinstance(recorder.error, OSError)
    assert "writing failed" in caplog.text


async def test_the_session_can_be_recorded_while_it_fails_to_open(tmp_path: Path,
                                                                  nursery: trio.Nursery) -> None:
    emulator = LiveEmulator(api_key=API_KEY)
    await nursery.start(emulator.serve)
    path = tmp_path / "refused.jsonl"
    with trio.fail_after(30):
        async with Recorder(path) as recorder:
            await opening_error(emulator.open_session(
                nursery, auth=ApiKey("AIzaWRONG-key-0123456789"), connect=recorder.wrap_connect()))
    end = Recording.load(path).connections[0].end
    assert end is not None and end.by == "server" and end.code == 1007
    assert b"AIzaWRONG" not in path.read_bytes()
