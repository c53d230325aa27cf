"""Camera and screen frames for a Live session: a pacer, and a JPEG encoder (issue 14).

The Live API takes video as JPEG frames in ``realtimeInput.video``, about one frame per
second (PROTOCOL.md 3.3). A camera gives 30: sent as they come, frames fill the session's
outbound queue (``send_*`` then blocks) and delay the audio queued behind them. A
:class:`VideoPacer` sits between the camera and the session:

* the latest frame wins: :meth:`VideoPacer.submit` never blocks and never queues; a frame
  submitted while another is pending replaces it;
* at most ``fps`` frames per second go out;
* a frame is handed to the session only while it is ready (``Status.READY``) and has no
  backlog of earlier messages, so a frame never waits in the session's queue ahead of audio
  and never goes out late after a reconnection: it is replaced by a newer one meanwhile;
* when the model's turn coverage bills all video (``TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO``,
  the 3.x default, PROTOCOL.md 9), frames go out only during the user's activity.

:func:`encode_jpeg` turns a numpy array or a Pillow image into a JPEG within 1024x1024 with
Pillow, an optional extra: ``pip install 'trio-gemini-live[video]'``.
"""

from __future__ import annotations

import importlib
import io
import logging
import math
from typing import TYPE_CHECKING, Any, Final, NoReturn

import msgspec
import trio

from ._errors import LiveError
from ._protocol import Status
from ._session_view import turn_coverage
from ._wire import Blob
from .events import VoiceActivity

if TYPE_CHECKING:
    from types import TracebackType

    from .events import Event

__all__ = ["VideoPacer", "VideoPacerStatistics", "encode_jpeg"]

log: Final = logging.getLogger("trio_gemini_live")

#: Turn coverages under which every video frame sent is part of the turn, and billed.
_BILLS_ALL_VIDEO: Final = frozenset({
    "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO", "TURN_INCLUDES_ALL_INPUT"})
#: How often a frame held behind the session's outbound backlog checks again, at most.
_BACKLOG_POLL: Final = 0.05
#: After this long with frames held for activity that never came, say so once.
_HELD_WARNING: Final = 10.0
_JPEG_MAGIC: Final = b"\xff\xd8\xff"


class VideoPacerStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """What a :class:`VideoPacer` did with the frames it was given.

    ``submitted == sent + replaced + discarded + (1 if pending else 0)``.

    Attributes:
        submitted: Frames given to :meth:`VideoPacer.submit`.
        sent: Frames handed to the session.
        replaced: Frames replaced by a newer one before they could be sent.
        discarded: Frames still pending when the pacer stopped.
        pending: Whether a frame waits to be sent.
        deferred: Times the pending frame waited for the session's outbound backlog.
    """

    submitted: int
    sent: int
    replaced: int
    discarded: int
    pending: bool
    deferred: int


class VideoPacer:
    """Send the latest camera or screen frame, at most ``fps`` per second (issue 14).

    Use it as an async context manager (it runs its task in a nursery of its own)::

        async with VideoPacer(session, fps=1.0) as pacer:
            async for frame in camera():            # any rate
                pacer.submit(encode_jpeg(frame))    # never blocks

    or run :meth:`run` in a nursery of yours (``await nursery.start(pacer.run)``).

    Sending a frame: the pacer waits until the previous frame was handed to the session
    and ``1 / fps`` seconds passed; then, while the session is not ``READY`` it waits for
    ``READY`` (:meth:`LiveSession.wait_status`), and while the session's outbound queue
    holds earlier messages it waits for them to go (so a frame never sits ahead of audio);
    then it sends the frame pending *at that moment*: every frame submitted meanwhile
    replaced the one before. A frame is never delivered late after a reconnection, only the
    latest one is sent once the session is ready again.

    Activity gating: when ``send_only_during_activity`` is true, frames go out only between
    :meth:`activity` ``(True)`` and ``(False)`` (or the ``VoiceActivity`` events passed to
    :meth:`handle`); the latest frame goes out as soon as activity starts, so the model sees
    the scene the user talks about.

    Args:
        session: The :class:`~trio_gemini_live.LiveSession`.
        fps: The most frames per second (default 1, what the Live API expects).
        send_only_during_activity: Gate frames on user activity. ``None`` (default) decides
            from the session: gate when its turn coverage bills all video
            (``TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO`` or ``TURN_INCLUDES_ALL_INPUT``,
            PROTOCOL.md 9), set in ``realtime_input_config`` or the model's default; when
            neither says, gate (an unknown model has the rules of the newest family, whose
            default bills all video). Not gated under ``TURN_INCLUDES_ONLY_ACTIVITY``.

    Raises:
        ValueError: ``fps`` not a positive finite number.
    """

    def __init__(self, session: Any, *, fps: float = 1.0,
                 send_only_during_activity: bool | None = None) -> None:
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not (
                fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        self._session = session
        self.fps = float(fps)
        if send_only_during_activity is None:
            coverage = turn_coverage(session)
            send_only_during_activity = coverage is None or coverage in _BILLS_ALL_VIDEO
        #: Whether frames wait for user activity (see the class docstring).
        self.send_only_during_activity = bool(send_only_during_activity)
        self._pending: bytes | Blob | None = None
        self._active = False
        self._activity_seen = False
        self._changed = trio.Event()
        self._next_send = -math.inf
        self._running = False
        self._stopped = False
        self._held_since: float | None = None
        self._warned = False
        self._submitted = self._sent = self._replaced = self._discarded = self._deferred = 0
        self._nursery_manager: Any = None

    # --- the application's side -----------------------------------------------------------

    def submit(self, frame: bytes | bytearray | memoryview | Blob) -> None:
        """Offer a frame; the latest one offered is the next sent. Never blocks.

        Args:
            frame: JPEG bytes (:func:`encode_jpeg` makes them), or a
                :class:`~trio_gemini_live.Blob` with an ``image/*`` MIME type. Bytes are
                copied: the caller may reuse its buffer.

        Raises:
            ValueError: bytes that are not a JPEG, or an empty frame or a non-image Blob.
            TypeError: neither bytes nor a Blob.
            trio.ClosedResourceError: the pacer has stopped.
        """
        if self._stopped:
            raise trio.ClosedResourceError("the video pacer has stopped")
        if isinstance(frame, Blob):
            if not (frame.mime_type or "").startswith("image/") or not frame.data:
                raise ValueError("a video Blob needs an image/* MIME type and data")
            item: bytes | Blob = frame
        elif isinstance(frame, (bytes, bytearray, memoryview)):
            data = bytes(frame)
            if not data.startswith(_JPEG_MAGIC):
                raise ValueError(
                    "the frame is not a JPEG: encode it with trio_gemini_live.video.encode_jpeg, "
                    "or pass a Blob with its image MIME type"
                )
            item = data
        else:
            raise TypeError(f"a frame must be JPEG bytes or a Blob, got {type(frame).__name__}")
        self._submitted += 1
        if self._pending is not None:
            self._replaced += 1
        self._pending = item
        if self._held_since is None and self.send_only_during_activity and not self._active:
            self._held_since = trio.current_time()
        self._wake()

    def activity(self, active: bool) -> None:
        """Tell the pacer whether the user is speaking (gating; see the class docstring)."""
        self._active = bool(active)
        self._activity_seen = True
        self._held_since = None
        self._wake()

    @property
    def active(self) -> bool:
        """Whether the user is active, as last told (:meth:`activity`, :meth:`handle`)."""
        return self._active

    def handle(self, event: Event) -> None:
        """Route a session event: ``VoiceActivity`` start/end -> :meth:`activity`.

        The server's voice activity (automatic VAD) and VAD signals; other events are
        ignored. With manual activity, call :meth:`activity` (``voice.ManualTurns`` does,
        given the pacer).
        """
        if isinstance(event, VoiceActivity):
            if event.kind in ("ACTIVITY_START", "VAD_SIGNAL_TYPE_SOS"):
                self.activity(True)
            elif event.kind in ("ACTIVITY_END", "VAD_SIGNAL_TYPE_EOS"):
                self.activity(False)

    def statistics(self) -> VideoPacerStatistics:
        """Counts of frames submitted, sent, replaced and discarded."""
        return VideoPacerStatistics(
            submitted=self._submitted,
            sent=self._sent,
            replaced=self._replaced,
            discarded=self._discarded,
            pending=self._pending is not None,
            deferred=self._deferred,
        )

    # --- the task -------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
                  ) -> None:
        """Send frames until cancelled or until the session closes (then it returns).

        Cancelling it stops the pacer: a frame still pending is discarded (counted), and
        :meth:`submit` raises from then on.

        Raises:
            RuntimeError: the pacer already runs (or ran).
        """
        if self._running or self._stopped:
            raise RuntimeError("a VideoPacer runs once")
        self._running = True
        task_status.started()
        try:
            await self._loop()
        except LiveError:
            pass  # the session closed: its own error reaches the application there
        finally:
            self._stopped = True
            if self._pending is not None:
                self._pending = None
                self._discarded += 1

    async def _loop(self) -> None:
        session = self._session
        while True:
            if not self._sendable():
                self._maybe_warn()
                await self._wait_changed()
                continue
            if trio.current_time() < self._next_send:
                await trio.sleep_until(self._next_send)
                continue  # re-check: gating may have changed meanwhile
            if session.status is not Status.READY:
                # Reconnecting: the frame waits here, not in the session's queue, and is
                # replaced by any newer one (issue 14: never delivered late).
                await session.wait_status(Status.READY)
                continue
            if session.statistics().queued_outbound:
                # Earlier messages wait for the socket: a frame queued now would hold up the
                # audio after it. Nothing tells when the queue drains, so look again soon.
                self._deferred += 1
                await trio.sleep(min(_BACKLOG_POLL, 1 / self.fps))
                continue
            frame, self._pending = self._pending, None
            assert frame is not None
            # No checkpoint between the READY test and the send: the frame is handed over
            # only while the session is ready.
            await session.send_realtime_input(video=frame)
            self._sent += 1
            self._next_send = trio.current_time() + 1 / self.fps

    def _sendable(self) -> bool:
        return self._pending is not None and (self._active or not self.send_only_during_activity)

    def _wake(self) -> None:
        self._changed.set()

    async def _wait_changed(self) -> None:
        await self._changed.wait()
        self._changed = trio.Event()

    def _maybe_warn(self) -> None:
        held = self._held_since
        if (self._warned or held is None or self._activity_seen or self._pending is None
                or trio.current_time() - held < _HELD_WARNING):
            return
        # Nothing will wake this task when the warning becomes due; checked at the next
        # submit, which is what a camera does many times a second.
        self._warned = True
        log.warning(
            "video frames are held until user activity (the turn coverage bills all video, "
            "PROTOCOL.md 9) and no activity was reported: call VideoPacer.activity() or "
            "VideoPacer.handle(event), or pass send_only_during_activity=False"
        )

    # --- as a context manager -------------------------------------------------------------

    async def __aenter__(self) -> VideoPacer:
        manager = trio.open_nursery()
        nursery = await manager.__aenter__()
        try:
            await nursery.start(self.run)
        except BaseException as exc:
            await manager.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._nursery_manager = (manager, nursery)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> bool:
        manager, nursery = self._nursery_manager
        nursery.cancel_scope.cancel()
        try:
            return bool(await manager.__aexit__(exc_type, exc, tb))
        except BaseExceptionGroup as group:
            # Strict exception groups would wrap the body's own error: give it back as
            # itself, as the session does (a user's exception comes out unchanged).
            _raise_lone(group)


def _raise_lone(group: BaseExceptionGroup[BaseException]) -> NoReturn:
    """Raise the one error inside ``group`` as itself, else the group.

    ``Cancelled`` leaves (the pacer's task, cancelled by a scope outside it) do not count:
    that scope is cancelled anyway and catches the next ``Cancelled``.
    """
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        item = stack.pop()
        if isinstance(item, BaseExceptionGroup):
            stack.extend(reversed(item.exceptions))
        else:
            leaves.append(item)
    errors = [e for e in leaves if not isinstance(e, trio.Cancelled)]
    if len(errors) == 1:
        raise errors[0] from errors[0].__cause__
    if not errors and leaves:
        raise leaves[0]
    raise group


# --- JPEG ----------------------------------------------------------------------------------


def _pillow() -> Any:
    try:
        return importlib.import_module("PIL.Image")
    except ImportError:
        raise ImportError(
            "encode_jpeg needs Pillow, an optional extra: pip install 'trio-gemini-live[video]'"
        ) from None


def encode_jpeg(frame: Any, *, max_size: int = 1024, quality: int = 80) -> bytes:
    """Encode a frame as JPEG within ``max_size`` x ``max_size``, keeping its aspect ratio.

    A larger frame is scaled down (Lanczos) so that its longer side is ``max_size``; a
    smaller one is kept as it is. Needs Pillow: ``pip install 'trio-gemini-live[video]'``.

    Encoding a camera frame takes milliseconds of CPU: in a Trio program, run it in a
    thread (``await trio.to_thread.run_sync(encode_jpeg, frame)``) so that audio keeps
    flowing meanwhile.

    Args:
        frame: A numpy array, ``H x W x 3`` (RGB), ``H x W x 4`` (RGBA: the alpha is
            dropped) or ``H x W`` (grey), of ``uint8``; or a Pillow image (any mode; converted
            to RGB).
        max_size: The bound of the longer side, in pixels (the Live API's: 1024).
        quality: JPEG quality, 1-95.

    Returns:
        The JPEG bytes, for :meth:`VideoPacer.submit` or ``send_realtime_input(video=...)``.

    Raises:
        ImportError: Pillow is not installed (the message names the extra).
        ValueError: a bad array shape or type, an empty frame, or bad ``max_size`` or
            ``quality``.
        TypeError: neither an array nor a Pillow image.
    """
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise ValueError(f"max_size must be a positive integer, got {max_size!r}")
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 95:
        raise ValueError(f"quality must be an integer from 1 to 95, got {quality!r}")
    image_module = _pillow()
    if isinstance(frame, image_module.Image):
        image = frame
    elif hasattr(frame, "__array_interface__") and hasattr(frame, "shape"):
        shape = tuple(frame.shape)
        if str(getattr(frame, "dtype", "")) != "uint8":
            raise ValueError(f"a frame array must be uint8, got {frame.dtype}")
        if len(shape) == 3 and shape[2] == 4:
            frame = frame[:, :, :3]
        elif not (len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3))):
            raise ValueError(f"a frame array must be H x W, H x W x 3 or H x W x 4, got {shape}")
        if len(shape) == 3 and shape[2] == 1:
            frame = frame[:, :, 0]
        if not shape[0] or not shape[1]:
            raise ValueError(f"the frame is empty: {shape}")
        image = image_module.fromarray(frame)
    else:
        raise TypeError(
            f"a frame must be a numpy array or a Pillow image, got {type(frame).__name__}"
        )
    if not image.width or not image.height:
        raise ValueError("the frame is empty")
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    if max(image.size) > max_size:
        scale = max_size / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, image_module.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()
