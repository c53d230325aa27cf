"""The video pacer and the JPEG helper (issue 14).

The pacer runs against emulator sessions on the autojump clock; a thin recorder in front of
the session notes when each frame was handed over (the pacer uses only the session's public
surface: ``status``, ``wait_status``, ``statistics``, ``send_realtime_input``)."""

from __future__ import annotations

import base64
import importlib
import io
import itertools
from typing import Any

import pytest
import trio
import trio.testing

from trio_gemini_live import Blob, LiveConfig, LiveSession, Status
from trio_gemini_live import events as ev
from trio_gemini_live.testing import LiveEmulator, speech_like_pcm
from trio_gemini_live.video import VideoPacer, encode_jpeg

np = pytest.importorskip("numpy")
Image = pytest.importorskip("PIL.Image")

TEXT = LiveConfig(response_modalities=["TEXT"])


def jpeg(n: int) -> bytes:
    """A stand-in frame: the JPEG start-of-image marker and a number (the emulator does not
    decode video)."""
    return b"\xff\xd8\xff\xe0" + n.to_bytes(4, "big")


def number(frame: bytes) -> int:
    return int.from_bytes(frame[4:], "big")


class Recorder:
    """The session, with a note of the time each frame is handed to it."""

    def __init__(self, session: LiveSession) -> None:
        self.session = session
        self.sent: list[tuple[float, int]] = []
        #: The latest frame submitted when each frame was handed over.
        self.latest_then: list[int] = []

    @property
    def status(self) -> Status:
        return self.session.status

    async def wait_status(self, status: Status) -> None:
        await self.session.wait_status(status)

    def statistics(self) -> Any:
        return self.session.statistics()

    async def send_realtime_input(self, **kwargs: Any) -> None:
        self.sent.append((trio.current_time(), number(kwargs["video"])))
        self.latest_then.append(LATEST[0])
        await self.session.send_realtime_input(**kwargs)


def received_frames(emulator: LiveEmulator, conn: int | None = None) -> list[int]:
    messages = (emulator.connections[conn].received if conn is not None
                else emulator.received())
    return [number(base64.b64decode(m["realtimeInput"]["video"]["data"]))
            for m in messages if "video" in m.get("realtimeInput", {})]


LATEST = [-1]  # the number of the frame the camera submitted last


async def camera(pacer: VideoPacer, frames: int, fps: float, first: int = 0) -> int:
    """Submit ``frames`` frames at ``fps``; the number of the last one."""
    for n in range(first, first + frames):
        pacer.submit(jpeg(n))
        LATEST[0] = n
        await trio.sleep(1 / fps)
    return first + frames - 1


@pytest.mark.parametrize("fps", [1.0, 2.5])
async def test_at_most_fps_frames_and_the_latest_wins(
        live_emulator: LiveEmulator, nursery: trio.Nursery,
        autojump_clock: trio.testing.MockClock, fps: float) -> None:
    with trio.fail_after(120):
        async with live_emulator.open_session(nursery, config=TEXT, in_memory=True) as session:
            recorder = Recorder(session)
            async with VideoPacer(recorder, fps=fps, send_only_during_activity=False) as pacer:
                start = trio.current_time()
                last = await camera(pacer, 300, 30.0)  # 10 s of a 30 fps camera
                await trio.sleep(2 / fps)
                elapsed = trio.current_time() - start
                stats = pacer.statistics()
    times = [t for t, _ in recorder.sent]
    numbers = [n for _, n in recorder.sent]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1 / fps - 1e-9
    assert len(times) <= elapsed * fps + 1
    assert len(times) >= 10 * fps - 1  # and it keeps pace
    # Each frame handed over was the latest at that moment; the last one is delivered.
    assert numbers == recorder.latest_then
    assert numbers == sorted(set(numbers)) and numbers[-1] == last
    assert received_frames(live_emulator) == numbers
    assert stats.submitted == 300 and stats.sent == len(numbers)
    assert stats.replaced == 300 - len(numbers) and not stats.pending and stats.discarded == 0


async def test_frames_only_during_activity(
        live_emulator: LiveEmulator, nursery: trio.Nursery,
        autojump_clock: trio.testing.MockClock) -> None:
    """Gated (turn coverage that bills all video): frames go out between the server's
    ACTIVITY_START and ACTIVITY_END, routed by pacer.handle()."""
    config = LiveConfig(response_modalities=["TEXT"], realtime_input_config={
        "turn_coverage": "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO"})
    with trio.fail_after(120):
        async with live_emulator.open_session(nursery, config=config, in_memory=True) as session:
            recorder = Recorder(session)
            activity: list[tuple[float, str]] = []
            async with VideoPacer(recorder, fps=2.0) as pacer:
                assert pacer.send_only_during_activity
                nursery.start_soon(camera, pacer, 200, 10.0)
                await trio.sleep(3)
                assert recorder.sent == []  # no activity yet: nothing goes out
                assert pacer.statistics().pending
                done = trio.Event()

                async def read_events() -> None:
                    # The application's event loop, routing events to the pacer.
                    async for event in session.events():
                        pacer.handle(event)
                        if isinstance(event, ev.VoiceActivity):
                            activity.append((trio.current_time(), event.kind))
                        if isinstance(event, ev.TurnComplete):
                            done.set()
                            return

                nursery.start_soon(read_events)
                pcm = speech_like_pcm(2.0, lead_silence=0.0, trail_silence=1.0)
                for i in range(0, len(pcm), 1280):  # 40 ms chunks, in real time
                    await session.send_realtime_input(audio=pcm[i : i + 1280])
                    await trio.sleep(0.04)
                await done.wait()
                await trio.sleep(3)
    (start, kind_start), (end, kind_end) = activity
    assert (kind_start, kind_end) == ("ACTIVITY_START", "ACTIVITY_END")
    times = [t for t, _ in recorder.sent]
    assert times and all(start <= t <= end for t in times)
    assert times[0] == start  # the latest frame at once, so the model sees the scene
    assert len(times) <= (end - start) * 2.0 + 1


async def test_a_frame_pending_during_a_reconnection_is_replaced(
        live_emulator: LiveEmulator, nursery: trio.Nursery,
        autojump_clock: trio.testing.MockClock) -> None:
    config = LiveConfig(response_modalities=["TEXT"], session_resumption={})
    with trio.fail_after(20):
        async with (live_emulator.open_session(nursery, config=config, in_memory=True) as session,
                    VideoPacer(session, fps=50.0, send_only_during_activity=False) as pacer):
            pacer.submit(jpeg(1))
            # On the autojump clock, a second passes only once everything else is blocked:
            # the frame went out, and the pacer waits for the next one.
            await trio.sleep(1)
            assert received_frames(live_emulator, 0) == [1]
            # The next connection's setupComplete is held: the session stays not ready.
            live_emulator.pause()
            await live_emulator.drop()
            await session.wait_status(Status.SETUP_PENDING)
            pacer.submit(jpeg(2))
            await trio.testing.wait_all_tasks_blocked()
            assert pacer.statistics().pending  # waiting for READY, not in the session
            pacer.submit(jpeg(3))
            live_emulator.resume()
            await session.wait_status(Status.READY)
            await trio.sleep(1)
            stats = pacer.statistics()
    assert received_frames(live_emulator, 1) == [3]
    assert stats.sent == 2 and stats.replaced == 1


class FakeSession:
    """A ready session whose outbound queue holds ``backlog`` messages."""

    status = Status.READY

    def __init__(self) -> None:
        self.backlog = 0
        self.frames: list[int] = []

    async def wait_status(self, status: Status) -> None:  # pragma: no cover - always ready
        await trio.lowlevel.checkpoint()

    def statistics(self) -> Any:
        return type("Stats", (), {"queued_outbound": self.backlog})()

    async def send_realtime_input(self, *, video: bytes) -> None:
        await trio.lowlevel.checkpoint()
        self.frames.append(number(video))


async def test_a_frame_waits_for_the_sessions_backlog(
        autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeSession()
    fake.backlog = 3
    with trio.fail_after(60):
        async with VideoPacer(fake, fps=5.0, send_only_during_activity=False) as pacer:
            await camera(pacer, 50, 25.0)  # 2 s
            assert fake.frames == []  # never queued ahead of the audio waiting to go
            assert pacer.statistics().deferred > 0
            fake.backlog = 0
            await trio.sleep(1)
    assert fake.frames == [49]


async def test_activity_gating_by_hand(autojump_clock: trio.testing.MockClock) -> None:
    fake = FakeSession()
    with trio.fail_after(60):
        async with VideoPacer(fake, fps=1.0, send_only_during_activity=True) as pacer:
            pacer.submit(jpeg(1))
            await trio.sleep(5)
            assert fake.frames == []
            pacer.activity(True)
            await trio.testing.wait_all_tasks_blocked()
            assert fake.frames == [1]
            pacer.submit(jpeg(2))
            pacer.activity(False)
            await trio.sleep(5)
            assert fake.frames == [1]
            pacer.handle(ev.VoiceActivity(kind="ACTIVITY_START"))
            await trio.sleep(0.1)
            assert fake.frames == [1, 2]
        assert pacer.statistics().discarded == 0


@pytest.mark.parametrize(("coverage", "gated"), [
    (None, True),  # no profile for the emulator's model in this build: the safe default
    ("TURN_INCLUDES_ONLY_ACTIVITY", False),
    ("TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO", True),
    ("TURN_INCLUDES_ALL_INPUT", True),
])
async def test_default_gating_follows_the_turn_coverage(
        live_emulator: LiveEmulator, nursery: trio.Nursery, coverage: str | None,
        gated: bool) -> None:
    rtc = {"turn_coverage": coverage} if coverage else None
    config = LiveConfig(response_modalities=["TEXT"], realtime_input_config=rtc)
    with trio.fail_after(10):
        async with live_emulator.open_session(nursery, config=config, in_memory=True) as session:
            assert VideoPacer(session).send_only_during_activity is gated
            assert VideoPacer(session, send_only_during_activity=not gated
                              ).send_only_during_activity is (not gated)


async def test_stopping(live_emulator: LiveEmulator, nursery: trio.Nursery,
                        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with live_emulator.open_session(nursery, config=TEXT, in_memory=True) as session:
            async with VideoPacer(session, fps=1.0, send_only_during_activity=False) as pacer:
                pacer.submit(jpeg(1))
                await trio.sleep(0.1)
                pacer.submit(jpeg(2))  # pending: 1 s until the next may go
            stats = pacer.statistics()
            assert (stats.sent, stats.discarded, stats.pending) == (1, 1, False)
            with pytest.raises(trio.ClosedResourceError):
                pacer.submit(jpeg(3))
            with pytest.raises(RuntimeError):
                await pacer.run()
            # The session closing ends a running pacer quietly.
            pacer2 = VideoPacer(session, send_only_during_activity=False)
            await nursery.start(pacer2.run)
        pacer2.submit(jpeg(4))
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.ClosedResourceError):
            pacer2.submit(jpeg(5))


async def test_a_users_error_comes_out_as_itself(autojump_clock: trio.testing.MockClock,
                                                 ) -> None:
    with pytest.raises(KeyError):
        async with VideoPacer(FakeSession(), send_only_during_activity=False):
            raise KeyError("mine")
    with trio.move_on_after(1) as scope:
        async with VideoPacer(FakeSession(), send_only_during_activity=False):
            await trio.sleep_forever()
    assert scope.cancelled_caught


def test_submit_checks_frames() -> None:
    pacer = VideoPacer(FakeSession(), send_only_during_activity=False)
    with pytest.raises(ValueError, match="not a JPEG"):
        pacer.submit(b"\x89PNG\r\n")
    with pytest.raises(ValueError, match="image"):
        pacer.submit(Blob(mime_type="audio/pcm", data=b"x"))
    with pytest.raises(TypeError):
        pacer.submit("frame")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        VideoPacer(FakeSession(), fps=0)
    assert pacer.statistics().submitted == 0


async def test_submit_copies_and_takes_blobs() -> None:
    pacer = VideoPacer(FakeSession(), send_only_during_activity=False)
    buffer = bytearray(jpeg(7))
    pacer.submit(buffer)
    buffer[4:] = b"\0\0\0\0"
    png = Blob(mime_type="image/png", data=b"\x89PNG")
    assert pacer._pending == jpeg(7)
    pacer.submit(png)
    assert pacer._pending is png
    assert pacer.statistics().replaced == 1


# --- encode_jpeg -----------------------------------------------------------------------------


def decoded(data: bytes) -> Any:
    assert data[:3] == b"\xff\xd8\xff"
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image


@pytest.mark.parametrize(("shape", "size"), [
    ((1080, 1920, 3), (1024, 576)),
    ((2000, 1000, 3), (512, 1024)),
    ((480, 640, 3), (640, 480)),  # smaller: kept as it is
    ((300, 400), (400, 300)),
    ((300, 400, 4), (400, 300)),
    ((10, 20, 1), (20, 10)),
])
def test_encode_jpeg_arrays(shape: tuple[int, ...], size: tuple[int, int]) -> None:
    frame = np.full(shape, 200, dtype=np.uint8)
    image = decoded(encode_jpeg(frame))
    assert image.size == size
    assert max(image.size) <= 1024


def test_encode_jpeg_keeps_the_picture() -> None:
    frame = np.zeros((100, 200, 3), dtype=np.uint8)
    frame[:, :100] = (255, 0, 0)  # left half red
    image = decoded(encode_jpeg(frame, max_size=50, quality=95)).convert("RGB")
    assert image.size == (50, 25)
    r, g, b = image.getpixel((5, 12))
    assert r > 200 and g < 60 and b < 60
    assert image.getpixel((45, 12))[0] < 60


def test_encode_jpeg_pillow_images() -> None:
    image = Image.new("RGBA", (3000, 1500), (0, 0, 255, 128))
    assert decoded(encode_jpeg(image)).size == (1024, 512)
    assert decoded(encode_jpeg(Image.new("P", (10, 10)))).size == (10, 10)


@pytest.mark.parametrize(("frame", "kwargs", "error"), [
    (np.zeros((4, 4, 3), dtype=np.float32), {}, ValueError),
    (np.zeros((4, 4, 2), dtype=np.uint8), {}, ValueError),
    (np.zeros((0, 4, 3), dtype=np.uint8), {}, ValueError),
    (np.zeros((4, 4, 3), dtype=np.uint8), {"max_size": 0}, ValueError),
    (np.zeros((4, 4, 3), dtype=np.uint8), {"quality": 100}, ValueError),
    ([[0, 0], [0, 0]], {}, TypeError),
])
def test_encode_jpeg_rejects(frame: Any, kwargs: dict[str, int], error: type[Exception]) -> None:
    with pytest.raises(error):
        encode_jpeg(frame, **kwargs)


def test_encode_jpeg_without_pillow_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def no_pillow(name: str, package: str | None = None) -> Any:
        if name.startswith("PIL"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_pillow)
    with pytest.raises(ImportError, match=r"pip install 'trio-gemini-live\[video\]'"):
        encode_jpeg(np.zeros((4, 4, 3), dtype=np.uint8))
