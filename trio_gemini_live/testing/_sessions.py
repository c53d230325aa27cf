"""The sessions the emulator keeps across connections (PROTOCOL.md 6).

A logical session (``_conversation.SessionState``) outlives its connections: a resumption
handle issued on one connection opens it again on another, as it was when the handle was
issued. :class:`SessionStore` keeps the sessions, the handles issued for each and the state
each handle names, and decides which session a ``setup`` opens, refusing a handle as Google
does. Split out of ``_emulator.py`` (issue 11: modules of at most about 700 lines).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

import trio

from ._conversation import SessionSnapshot, SessionState
from ._strict import INVALID_ARGUMENT, ClientFrameError

if TYPE_CHECKING:
    from .. import _wire as w
    from ._link import ConnectionRecord, Link

__all__ = ["SessionStore"]

# Google's reason text (PROTOCOL.md 6) for resuming a session while its previous
# connection is still open.
_INTERNAL: Final = "Internal error occurred."


class SessionStore:
    """The sessions of one emulator, and their resumption handles."""

    def __init__(self) -> None:
        #: Every session, by key (``ConnectionRecord.session_key``).
        self.sessions: dict[str, SessionState] = {}
        self._handles: dict[str, SessionState] = {}
        self._snapshots: dict[str, tuple[tuple[int, int], SessionSnapshot]] = {}
        self._ids = itertools.count(1)

    def open(self, record: ConnectionRecord, setup: w.Setup, *, handle_lifetime: float,
             live: Iterable[Link]) -> SessionState:
        """The session ``setup`` opens (after ``_admission.check_setup``): the one its
        resumption handle names, restored as the handle was issued, else a new one.

        Args:
            record: the connection; its ``resumed_from`` is set for a resumption.
            handle_lifetime: seconds a handle stays valid after its session's last
                connection ended.
            live: the emulator's live connections (a session may run on one at a time).

        Raises:
            ClientFrameError: an unknown or expired handle, or its session still open.
        """
        handle = setup.session_resumption.handle if setup.session_resumption else None
        if handle:
            session = self._handles.get(handle)
            if session is None or session.model != setup.model or (
                    session.ended_at is not None
                    and trio.current_time() - session.ended_at > handle_lifetime):
                # Unknown, for another model, or expired (PROTOCOL.md 6: 2 hours after the
                # session's last connection ended).
                raise ClientFrameError(INVALID_ARGUMENT)
            if any(other.record.session_key == session.key and not other.closing
                   and other.ws.closed is None for other in live):
                # PROTOCOL.md 6: resuming while the previous connection is still open is
                # answered with 1011 (clients must resume break-before-make).
                raise ClientFrameError(_INTERNAL, code=1011)
            # A handle names the session's state when it was issued (PROTOCOL.md 4, 6):
            # what the session consumed after that is not part of the resumed session.
            position, snap = self._snapshots[handle]
            session.restore(snap)
            record.resumed_from = position
            return session
        key = f"s{next(self._ids)}"
        session = SessionState(key=key, model=setup.model)
        self.sessions[key] = session
        return session

    def register_handle(self, handle: str, session: SessionState,
                        position: tuple[int, int], snap: SessionSnapshot) -> None:
        """Remember ``handle``: it resumes ``session`` as ``snap``, issued at ``position``."""
        session.handles.append(handle)
        self._handles[handle] = session
        self._snapshots[handle] = (position, snap)
