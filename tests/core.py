"""Driving the protocol core from tests as the session does."""

from __future__ import annotations

from trio_gemini_live import _wire as w
from trio_gemini_live import events as ev
from trio_gemini_live._protocol import LiveProtocol


def receive_frame(proto: LiveProtocol, data: str | bytes, now: float = 0.0) -> list[ev.Event]:
    """One server frame into the core, as the receive task hands it over (``_receive``):
    decoded by the codec, then ``LiveProtocol.receive_message``.

    Raises:
        ProtocolError: the frame is malformed, or not allowed in the current status.
    """
    return proto.receive_message(w.decode_server_message(data), data, now)
