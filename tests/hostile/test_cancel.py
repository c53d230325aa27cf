"""Cancellation against a server that stops answering (issue 12, finding 8).

An outer cancellation must return within about 0.5 s: the close handshake gets only a short
bound once cancelled (a server that stopped answering will not answer the close either).
The asserted bounds are wider (1.5 s) to stay clear of scheduling noise; they still fail
on the code before issue 12 (3.2 s, 5 s).
"""

from __future__ import annotations

import trio

from trio_gemini_live import LiveConfig, SetupError
from trio_gemini_live.testing import LiveEmulator

from ..conftest import opening_error
from .conftest import API_KEY, Clock, Serve, open_session
from .server import Peer


async def mute_after_setup_request(peer: Peer) -> None:
    """Reads the setup, answers nothing, ever (not even a close frame)."""
    await peer.setup(answer=None)
    while True:
        await peer.recv_frame()  # read, never echo a close


async def mute_after_setup_complete(peer: Peer) -> None:
    """A normal opening, then silence: reads everything, answers nothing."""
    await peer.setup()
    while True:
        await peer.recv_frame()


async def test_cancel_while_waiting_for_setup_complete(serve: Serve, nursery: trio.Nursery) -> (
    None
):
    """Finding 8: ``move_on_after(0.2)`` returned after 3.2 s (the close handshake's 3 s)."""
    server = await serve(mute_after_setup_request)
    clock = Clock()
    with trio.fail_after(10), trio.move_on_after(0.2) as cancelled:
        async with open_session(nursery, server):
            raise AssertionError("the session opened")
    elapsed = clock.elapsed
    assert cancelled.cancelled_caught
    assert elapsed < 1.5, f"returned {elapsed:.2f} s after the start (cancelled at 0.2 s)"


async def test_setup_timeout_is_kept(serve: Serve, nursery: trio.Nursery) -> None:
    """Finding 8: ``setup_timeout=2`` raised after 5 s."""
    server = await serve(mute_after_setup_request)
    clock = Clock()
    with trio.fail_after(15):
        error = await opening_error(open_session(nursery, server, setup_timeout=2))
    elapsed = clock.elapsed
    assert type(error) is SetupError, repr(error)
    assert elapsed < 3.5, f"SetupError after {elapsed:.2f} s (setup_timeout=2)"


async def test_cancel_a_ready_session_whose_server_went_mute(
    serve: Serve, nursery: trio.Nursery
) -> None:
    """Finding 8: an outer cancellation of a ready session does not wait 3 s for a close
    answer that will not come."""
    server = await serve(mute_after_setup_complete)
    with trio.fail_after(10):
        with trio.CancelScope() as outer:
            async with open_session(nursery, server):
                clock = Clock()
                outer.cancel()
                await trio.sleep_forever()
    assert clock.elapsed < 1.5, f"returned {clock.elapsed:.2f} s after the cancellation"


async def test_cancel_in_memory_emulator_session_waiting_for_setup(
    nursery: trio.Nursery,
) -> None:
    """Finding 8: the same stall (5 s) hit every test built on ``connect_in_memory``."""
    emulator = LiveEmulator(api_key=API_KEY)
    await nursery.start(emulator.serve_in_memory)
    emulator.pause()  # setupComplete (and everything else) stays queued
    clock = Clock()
    with trio.fail_after(15), trio.move_on_after(0.2) as cancelled:
        async with emulator.open_session(
            nursery, in_memory=True, config=LiveConfig(response_modalities=["TEXT"])
        ):
            raise AssertionError("the session opened")
    elapsed = clock.elapsed
    assert cancelled.cancelled_caught
    assert elapsed < 1.5, f"returned {elapsed:.2f} s after the start (cancelled at 0.2 s)"
