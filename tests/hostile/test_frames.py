"""Frame abuse (issue 12, findings 6 and 7): what the server sends, byte by byte.

The contract (PROTOCOL.md 8.7, issue 12): a frame the client itself finds invalid (RSV
bits, a mask, a bad length, invalid UTF-8, an invalid close frame, a message too big or in
too many fragments) is the server's error: :class:`~trio_gemini_live.ProtocolError`, and
with resumption configured it is retried within the budget like a drop. A well-framed
message whose JSON is malformed never ends the session: it is counted in
``statistics().protocol_errors`` and the session goes on.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
import trio

from trio_gemini_live import LiveConfig, LiveError, ProtocolError, ReconnectPolicy, Status
from trio_gemini_live import events as ev

from .conftest import Serve, open_session, traced
from .server import (
    BINARY,
    CLOSE,
    CONT,
    TEXT,
    Attack,
    HostileServer,
    Peer,
    close_payload,
    frame,
)

MiB = 1024 * 1024


def text_message(text: str) -> bytes:
    """A ``serverContent`` text chunk (JSON bytes)."""
    return json.dumps({"serverContent": {"modelTurn": {"parts": [{"text": text}]}}}).encode()


TURN_COMPLETE = b'{"serverContent": {"turnComplete": true}}'


def after_setup(*frames: bytes, then_close: bool = False) -> Attack:
    """An attack: a normal opening, then ``frames`` as they are, then read until the end."""

    async def attack(peer: Peer) -> None:
        await peer.setup()
        for data in frames:
            await peer.send(data)
        if then_close:
            await peer.close(1000)
        await peer.drain()

    return attack


def first_connection_only(attack: Attack) -> Attack:
    """``attack`` on the first connection; later ones are well-behaved and stay open."""

    async def hostile_once(peer: Peer) -> None:
        if peer.index == 0:
            await attack(peer)
        else:
            await peer.setup()
            await peer.drain()

    return hostile_once


async def session_error(nursery: trio.Nursery, server: HostileServer, **kwargs: Any) -> (
    tuple[BaseException | None, list[ev.Event]]
):
    """Open a session, read every event; return the error ``events()`` raised (or None)."""
    seen: list[ev.Event] = []
    try:
        async with open_session(nursery, server, **kwargs) as session:
            async for event in session.events():
                seen.append(event)
    except LiveError as exc:
        return exc, seen
    return None, seen


@functools.cache
def two_million_fragments() -> bytes:
    """One text message of 4 MB in 2,000,000 frames of 2 bytes (8 MB on the wire)."""
    payload = text_message("a" * (4_000_000 - len(text_message(""))))
    payload += b" " * (-len(payload) % 2)
    count = len(payload) // 2
    wire = bytearray(4 * count)
    wire[0::4] = bytes([CONT]) * count
    wire[1::4] = b"\x02" * count
    wire[2::4] = payload[0::2]
    wire[3::4] = payload[1::2]
    wire[0] = TEXT  # FIN clear: the first fragment
    wire[-4] = 0x80 | CONT  # FIN set: the last one
    return bytes(wire)


#: The frame attacks of finding 7 and their neighbours: each one frame after the setup.
BAD_FRAMES: dict[str, bytes] = {
    "rsv1": frame(TURN_COMPLETE, rsv=4),
    "rsv3": frame(TURN_COMPLETE, rsv=1),
    "masked": frame(TURN_COMPLETE, mask=b"\x01\x02\x03\x04"),
    "invalid_utf8_text": frame(b'{"serverContent": {"modelTurn": "\xff\xfe"}}', TEXT),
    "reserved_opcode": frame(b"x", opcode=0x3),
    "length_2_63": frame(b"x" * 64, length=1 << 63),
    "length_2_63_minus_1": frame(b"x" * 64, length=(1 << 63) - 1),
    "fragmented_control": frame(b"", opcode=0x9, fin=False),
    "continuation_first": frame(b"x", opcode=CONT),
}

#: Close frames no server may send (RFC 6455 7.4): the client fails the connection.
BAD_CLOSES: dict[str, bytes] = {
    "code_999": frame(close_payload(999), CLOSE),
    "code_1005": frame(close_payload(1005), CLOSE),
    "code_1006": frame(close_payload(1006), CLOSE),
    "code_1015": frame(close_payload(1015), CLOSE),
    "code_1100": frame(close_payload(1100), CLOSE),
    "code_5000": frame(close_payload(5000), CLOSE),
    "one_byte": frame(b"\x03", CLOSE),
    "invalid_utf8_reason": frame(close_payload(1000, b"\xff\xfe"), CLOSE),
}


@pytest.mark.parametrize("name", [*BAD_FRAMES, *BAD_CLOSES])
async def test_invalid_frame_is_a_protocol_error(
    serve: Serve, nursery: trio.Nursery, name: str
) -> None:
    """Findings 7: today invalid UTF-8 is InvalidArgumentError, the rest SessionClosedError."""
    bad = BAD_FRAMES.get(name) or BAD_CLOSES[name]
    server = await serve(after_setup(bad))
    with trio.fail_after(10):
        error, _ = await session_error(nursery, server)
    assert type(error) is ProtocolError, repr(error)


@pytest.mark.parametrize("name", ["rsv1", "masked", "invalid_utf8_text", "code_1005"])
async def test_invalid_frame_is_retried_with_resumption(
    serve: Serve, nursery: trio.Nursery, name: str
) -> None:
    """Finding 7: with resumption, a frame error is retried within the budget like a drop."""
    bad = BAD_FRAMES.get(name) or BAD_CLOSES[name]
    server = await serve(first_connection_only(after_setup(bad)))
    policy = ReconnectPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.05)
    config = LiveConfig(response_modalities=["TEXT"], session_resumption={})
    seen: list[ev.Event] = []
    with trio.fail_after(10):
        try:
            async with open_session(nursery, server, reconnect=policy, config=config) as s:
                async for event in s.events():
                    seen.append(event)
                    if isinstance(event, ev.Reconnected):
                        break
        except LiveError as exc:
            raise AssertionError(f"not retried: {exc!r}; events {seen}") from None
    assert server.connections == 2
    assert any(isinstance(e, ev.Reconnecting) for e in seen)


async def test_too_big_message_is_a_protocol_error(serve: Serve, nursery: trio.Nursery) -> None:
    """A 20 MB message (over the 16 MiB of PROTOCOL.md 2): the client refuses it (1009)."""
    big = frame(b"x" * (20 * MiB))
    server = await serve(after_setup(big))
    with trio.fail_after(20), traced() as memory:
        error, _ = await session_error(nursery, server)
    assert type(error) is ProtocolError, repr(error)
    assert memory.peak < 64 * MiB, f"peak {memory.peak / MiB:.1f} MiB"


async def test_too_big_fragmented_message_is_a_protocol_error(
    serve: Serve, nursery: trio.Nursery
) -> None:
    """20 MB in 20 fragments of 1 MB: refused when the sum passes the limit."""
    piece = b"x" * MiB
    frames = [frame(piece, BINARY, fin=False)]
    frames += [frame(piece, CONT, fin=False) for _ in range(18)]
    frames.append(frame(piece, CONT))
    server = await serve(after_setup(*frames))
    with trio.fail_after(20), traced() as memory:
        error, _ = await session_error(nursery, server)
    assert type(error) is ProtocolError, repr(error)
    assert memory.peak < 64 * MiB, f"peak {memory.peak / MiB:.1f} MiB"


async def test_two_million_fragments_are_refused_in_bounded_memory(
    serve: Serve, nursery: trio.Nursery
) -> None:
    """Finding 6: 2,000,000 fragments of 2 bytes (4 MB): today ~30x the payload in memory
    and half a minute of CPU; the fragment count must be limited."""
    wire = two_million_fragments()
    server = await serve(after_setup(wire, then_close=True))
    error: BaseException | None = None
    seen: list[ev.Event] = []
    with trio.fail_after(60), traced() as memory, trio.move_on_after(20):
        error, seen = await session_error(nursery, server)
    figures = f"peak {memory.peak / MiB:.1f} MiB in {memory.seconds:.1f} s"
    assert type(error) is ProtocolError, f"{error!r}, {figures}"
    assert not any(isinstance(e, ev.TextChunk) for e in seen), figures
    assert memory.peak < 16 * MiB, figures  # 4x the payload


async def test_two_million_fragments_are_retried_with_resumption(
    serve: Serve, nursery: trio.Nursery
) -> None:
    """Finding 6: with resumption the refusal is retried like a drop."""
    server = await serve(first_connection_only(after_setup(two_million_fragments())))
    policy = ReconnectPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.05)
    config = LiveConfig(response_modalities=["TEXT"], session_resumption={})
    seen: list[ev.Event] = []
    with trio.fail_after(60), trio.move_on_after(20):
        async with open_session(nursery, server, reconnect=policy, config=config) as session:
            async for event in session.events():
                seen.append(event)
                assert not isinstance(event, ev.TextChunk), "the 2,000,000 fragments were taken"
                if isinstance(event, ev.Reconnected):
                    break
    assert server.connections == 2, seen


async def test_fragmented_message_within_limits_is_delivered(
    serve: Serve, nursery: trio.Nursery
) -> None:
    """Legitimate fragmentation (64 fragments) is still a message."""
    payload = text_message("y" * 64 * 1000)
    size = -(-len(payload) // 64)
    chunks = [payload[i : i + size] for i in range(0, len(payload), size)]
    frames = [frame(chunks[0], TEXT, fin=False)]
    frames += [frame(c, CONT, fin=False) for c in chunks[1:-1]]
    frames.append(frame(chunks[-1], CONT))
    server = await serve(after_setup(*frames, frame(TURN_COMPLETE)))
    with trio.fail_after(10):
        async with open_session(nursery, server) as session:
            texts = []
            async for event in session.events():
                if isinstance(event, ev.TextChunk):
                    texts.append(event.text)
                if isinstance(event, ev.TurnComplete):
                    break
    assert texts == ["y" * 64 * 1000]


def _deep_list(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _deep_args(depth: int) -> bytes:
    return (
        b'{"toolCall": {"functionCalls": [{"id": "1", "name": "f", "args": '
        + b'{"a": ' * depth + b"1" + b"}" * depth
        + b"}]}}"
    )


#: Well-framed messages whose JSON is wrong: each a protocol error, none fatal.
MALFORMED: dict[str, bytes] = {
    "not_json": b"this is not json",
    "truncated": b'{"serverContent": {"modelTurn": ',
    "array": b"[1, 2, 3]",
    "string": b'"a string"',
    "null": b"null",
    "turn_complete_str": b'{"serverContent": {"turnComplete": "perhaps"}}',
    "setup_complete_int": b'{"setupComplete": 5}',
    "function_calls_str": b'{"toolCall": {"functionCalls": "x"}}',
    "text_int": b'{"serverContent": {"modelTurn": {"parts": [{"text": 1}]}}}',
    "tokens_str": b'{"usageMetadata": {"totalTokenCount": "many"}}',
    "handle_int": b'{"sessionResumptionUpdate": {"newHandle": 5}}',
    "time_left_garbage": b'{"goAway": {"timeLeft": "soon"}}',
    "deep_list": _deep_list(100_000),
    "deep_args": _deep_args(50_000),
    "base64_bad_chars": b'{"serverContent": {"modelTurn": {"parts": '
    b'[{"inlineData": {"data": "%%%%"}}]}}}',
    "base64_bad_length": b'{"serverContent": {"modelTurn": {"parts": '
    b'[{"inlineData": {"data": "AAAAA"}}]}}}',
    "base64_bad_padding": b'{"serverContent": {"modelTurn": {"parts": '
    b'[{"inlineData": {"data": "AA=A"}}]}}}',
    "base64_int": b'{"serverContent": {"modelTurn": {"parts": '
    b'[{"inlineData": {"data": 12}}]}}}',
}


async def test_malformed_json_never_ends_the_session(serve: Serve, nursery: trio.Nursery) -> None:
    """Each malformed message is counted; the session goes on and answers after them."""
    frames = [frame(data, TEXT if i % 2 else BINARY) for i, data in enumerate(MALFORMED.values())]
    frames += [frame(text_message("still here")), frame(TURN_COMPLETE)]
    server = await serve(after_setup(*frames))
    seen: list[ev.Event] = []
    with trio.fail_after(20):
        async with open_session(nursery, server) as session:
            async for event in session.events():
                seen.append(event)
                if isinstance(event, ev.TurnComplete):
                    break
            stats = session.statistics()
            assert session.status is Status.READY
    assert [e.text for e in seen if isinstance(e, ev.TextChunk)] == ["still here"]
    assert stats.protocol_errors == len(MALFORMED)
