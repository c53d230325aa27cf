"""The pytest plugin: a running :class:`LiveEmulator` as the ``live_emulator`` fixture.

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

pytest loads this plugin in every project where the library is installed, so loading it
imports neither the emulator nor its server stack: the fixture imports them when a test
asks for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import trio

    from ._emulator import LiveEmulator

__all__ = ["live_emulator", "pytest_configure"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``live_emulator`` marker."""
    config.addinivalue_line(
        "markers",
        "live_emulator(**options): keyword arguments for the live_emulator fixture's "
        "LiveEmulator (trio_gemini_live.testing)",
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
