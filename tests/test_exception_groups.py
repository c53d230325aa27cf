"""Where a session's error comes out, with Trio's strict exception groups (issue 14).

What docs/explanation/cancellation.rst and errors.rst promise, pinned through the public API
against the emulator:

* out of ``async with open_live_session(...)`` a fatal error comes out as itself, whether or
  not a task reads ``events()``; so does a refused setup, and the user's own exception;
* ``events()`` and ``send_*`` raise it as itself, inside the block;
* out of the user's ``async with trio.open_nursery()`` every exception comes out wrapped in
  an ``ExceptionGroup`` (Trio's strict groups): ``except*`` catches it there, a plain
  ``except LiveError`` does not;
* an ``events()`` reader in a task of its own takes the error into the nursery: the body is
  cancelled, and the group holds the error;
* an outer ``move_on_after`` is a clean cancel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager

import pytest
import trio

from trio_gemini_live import (
    ApiKey,
    AuthRejectedError,
    InvalidArgumentError,
    LiveConfig,
    LiveError,
    LiveSession,
    Status,
    open_live_session,
)
from trio_gemini_live.testing import LiveEmulator

CONFIG = LiveConfig(response_modalities=["TEXT"])
REASON = "Request contains an invalid argument."


def _session(emulator: LiveEmulator, nursery: trio.Nursery,
             key: str | None = None) -> AbstractAsyncContextManager[LiveSession]:
    return open_live_session(nursery, model="gemini-live-2.5-flash-preview", config=CONFIG,
                             auth=ApiKey(key or emulator.api_key or "k"),
                             endpoint=emulator.url)


async def _fail_soon(emulator: LiveEmulator) -> None:
    await emulator.close(1007, REASON)


# --- out of the async with: the error itself ----------------------------------------------


async def test_without_a_reader_the_error_leaves_the_block_as_itself(
        live_emulator: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with pytest.raises(InvalidArgumentError) as info:
                async with _session(live_emulator, nursery) as session:
                    nursery.start_soon(_fail_soon, live_emulator)
                    await trio.sleep_forever()  # the session cancels the body
            assert info.value.code == 1007 and info.value.reason == REASON
            assert session.status is Status.CLOSED


async def test_a_reader_in_the_block_gets_the_error_itself(live_emulator: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            async with _session(live_emulator, nursery) as session:
                nursery.start_soon(_fail_soon, live_emulator)
                with pytest.raises(InvalidArgumentError):
                    async for _ in session.events():
                        pass
                # Caught inside the block: leaving it is then an ordinary close.
            assert session.status is Status.CLOSED


async def test_send_after_the_error_raises_it_itself(live_emulator: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with pytest.raises(InvalidArgumentError):
                async with _session(live_emulator, nursery) as session:
                    await live_emulator.close(1007, REASON)
                    await session.wait_status(Status.CLOSED)
                    with pytest.raises(InvalidArgumentError):
                        await session.send_client_content("anyone there?")
                    await trio.sleep_forever()  # nobody read events(): the body is cancelled


async def test_a_refused_setup_comes_out_of_the_async_with_itself(
        live_emulator: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with pytest.raises(AuthRejectedError):
                async with _session(live_emulator, nursery, key="wrong-key"):
                    pytest.fail("the block must not run")  # pragma: no cover


async def test_the_users_exception_comes_out_of_the_async_with_itself(
        live_emulator: LiveEmulator) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            with pytest.raises(KeyError):
                async with _session(live_emulator, nursery) as session:
                    raise KeyError("mine")
            assert session.status is Status.CLOSED


# --- out of the nursery: an ExceptionGroup ----------------------------------------------------


async def _without_reader(emulator: LiveEmulator, nursery: trio.Nursery,
                          session: LiveSession) -> None:
    nursery.start_soon(_fail_soon, emulator)
    await trio.sleep_forever()


async def _with_reader(emulator: LiveEmulator, nursery: trio.Nursery,
                       session: LiveSession) -> None:
    nursery.start_soon(_fail_soon, emulator)
    async for _ in session.events():
        pass


async def _with_reader_task(emulator: LiveEmulator, nursery: trio.Nursery,
                            session: LiveSession) -> None:
    async def reader() -> None:
        async for _ in session.events():
            pass

    nursery.start_soon(reader)
    nursery.start_soon(_fail_soon, emulator)
    await trio.sleep_forever()  # cancelled by the nursery when the reader raises


Body = Callable[[LiveEmulator, trio.Nursery, LiveSession], Awaitable[None]]


@pytest.mark.parametrize("body", [_without_reader, _with_reader, _with_reader_task],
                         ids=["no reader", "reader in the block", "reader task"])
async def test_out_of_the_nursery_the_error_is_in_an_exception_group(
        live_emulator: LiveEmulator, body: Body) -> None:
    caught: list[BaseExceptionGroup[BaseException]] = []
    with trio.fail_after(10):
        try:
            async with (trio.open_nursery() as nursery,
                        _session(live_emulator, nursery) as session):
                await body(live_emulator, nursery, session)
        except* LiveError as group:  # what the docs show
            caught.append(group)
    (group,) = caught
    assert isinstance(group, ExceptionGroup)
    # Only the session's error, however many tasks saw it (no Cancelled, nothing else).
    errors = list(_leaves(group))
    assert errors and all(isinstance(e, InvalidArgumentError) for e in errors)
    assert {id(e) for e in errors} == {id(errors[0])}


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for item in group.exceptions:
        if isinstance(item, BaseExceptionGroup):
            yield from _leaves(item)
        else:
            yield item


async def test_a_plain_except_around_the_nursery_does_not_catch_it(
        live_emulator: LiveEmulator) -> None:
    with trio.fail_after(10), pytest.raises(ExceptionGroup) as info:
        try:
            async with trio.open_nursery() as nursery, _session(live_emulator, nursery):
                nursery.start_soon(_fail_soon, live_emulator)
                await trio.sleep_forever()
        except LiveError:  # pragma: no cover - the point: this does not match
            pytest.fail("a bare LiveError left the nursery")
    assert info.group_contains(InvalidArgumentError)


async def test_a_refused_setup_is_in_a_group_out_of_the_nursery(
        live_emulator: LiveEmulator) -> None:
    with trio.fail_after(10), pytest.raises(ExceptionGroup) as info:
        async with (trio.open_nursery() as nursery,
                    _session(live_emulator, nursery, key="wrong-key")):
            pass  # pragma: no cover
    assert info.group_contains(AuthRejectedError, depth=1)


# --- cancellation from outside ------------------------------------------------------------


async def test_an_outer_move_on_after_is_a_clean_cancel(live_emulator: LiveEmulator) -> None:
    with trio.fail_after(10):
        with trio.move_on_after(0.5) as outer:
            async with (trio.open_nursery() as nursery,
                        _session(live_emulator, nursery) as session):
                async for _ in session.events():
                    pass
        assert outer.cancelled_caught
        assert session.status is Status.CLOSED
