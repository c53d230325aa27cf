"""The transport's fast path for plain data frames agrees with wsproto on every byte stream.

``WebSocketConnection._fast_frames`` takes complete, unfragmented, unmasked text and binary
frames itself when wsproto holds nothing (issue 7); everything else goes to wsproto. The
differential test feeds the same server bytes, cut into the same reads, to a connection with
the fast path and to one without, and compares everything the caller can observe.
"""

from __future__ import annotations

import itertools
import struct

import pytest
import trio
import trio.testing
import trio_websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsproto.connection import Connection, ConnectionType

from trio_gemini_live._transport import WebSocketConnection


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bool = False,
          wide: int | None = None) -> bytes:
    """A server frame (unmasked unless ``mask``); ``wide`` forces a 2- or 8-byte length."""
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    size = len(payload)
    bit = 0x80 if mask else 0
    if wide == 2 or (wide is None and 126 <= size < 65536):
        head += bytes([bit | 126]) + struct.pack("!H", size)
    elif wide == 8 or (wide is None and size >= 65536):
        head += bytes([bit | 127]) + struct.pack("!Q", size)
    else:
        head += bytes([bit | size])
    if mask:
        key = b"\x01\x02\x03\x04"
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


async def observe(chunks: list[bytes], *, fast: bool, max_message_size: int = 1 << 20) -> (
    tuple[list[str | bytes], int | None]
):
    """What a client sees of these reads: its messages and the close code."""
    client, server = trio.testing.memory_stream_pair()
    ws = WebSocketConnection(client, Connection(ConnectionType.CLIENT),
                             max_message_size=max_message_size)
    assert ws._fast_parsing
    ws._fast_parsing = fast
    messages: list[str | bytes] = []
    code: int | None = None
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:

            async def feed() -> None:
                for chunk in chunks:
                    await server.send_all(chunk)
                    await trio.testing.wait_all_tasks_blocked()
                await server.aclose()

            async def drain_replies() -> None:
                # The client's pongs and close frames: read so its writes never block.
                try:
                    while await server.receive_some():
                        pass
                except trio.ClosedResourceError:
                    pass

            nursery.start_soon(feed)
            nursery.start_soon(drain_replies)
            try:
                while True:
                    messages.append(await ws.get_message())
            except trio_websocket.ConnectionClosed as exc:
                code = exc.reason.code
            nursery.cancel_scope.cancel()
    return messages, code


def cut(data: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


_text = st.text(max_size=300).map(lambda t: t.encode())
_payload = st.one_of(st.binary(max_size=300), st.binary(min_size=90, max_size=130),
                     st.binary(min_size=65530, max_size=65540))
_frames = st.one_of(
    _text.map(lambda p: frame(1, p)),
    _payload.map(lambda p: frame(2, p)),
    st.binary(max_size=200).map(lambda p: frame(2, p, wide=2)),  # non-minimal length
    st.binary(max_size=10).map(lambda p: frame(1, b"ok" + p)),  # maybe invalid UTF-8
    st.binary(max_size=20).map(lambda p: frame(2, p, mask=True)),
    st.binary(max_size=20).map(lambda p: frame(2, p, rsv=1)),
    st.binary(max_size=20).map(lambda p: frame(9, p)),  # ping
    st.binary(max_size=20).map(lambda p: frame(10, p)),  # pong
    st.tuples(_text, _text).map(lambda t: frame(1, t[0], fin=False) + frame(0, t[1])),
    st.tuples(st.binary(max_size=40), st.binary(max_size=40)).map(
        lambda t: frame(2, t[0], fin=False) + frame(9, b"p") + frame(0, t[1])),
    st.just(frame(8, struct.pack("!H", 1000) + b"bye")),
    st.just(frame(0, b"stray continuation")),
    st.just(bytes([0x83, 0])),  # reserved opcode
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.lists(_frames, max_size=8), points=st.lists(st.integers(0, 1 << 17), max_size=6),
       limit=st.sampled_from([1 << 20, 100]))
async def test_fast_path_agrees_with_wsproto(frames: list[bytes], points: list[int],
                                             limit: int) -> None:
    chunks = cut(b"".join(frames), points)
    fast = await observe(chunks, fast=True, max_message_size=limit)
    slow = await observe(chunks, fast=False, max_message_size=limit)
    assert fast == slow


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(frame(2, b"x" * 200), id="over-the-size-limit"),
        pytest.param(frame(1, b"y" * 101), id="text-over-the-size-limit"),
        pytest.param(frame(2, b"a" * 125) + frame(2, b"b" * 126), id="7-bit-and-16-bit"),
        pytest.param(frame(2, b"c" * 65535) + frame(2, b"d" * 65536), id="16-bit-and-64-bit"),
        pytest.param(frame(2, b"e" * 65535, wide=8), id="non-minimal-64-bit"),
        pytest.param(frame(2, b"f" * 10, wide=2), id="non-minimal-16-bit"),
        pytest.param(frame(1, b"ok") + frame(1, b"\xc3\x28"), id="invalid-utf8"),
        pytest.param(frame(1, b"ok") + frame(1, b"\xe2\x82"), id="truncated-utf8"),
        pytest.param(frame(2, b"g" * 5, mask=True), id="masked"),
        pytest.param(frame(2, b"h", rsv=4), id="rsv3"),
        pytest.param(frame(2, b"1", fin=False) + frame(0, b"2"), id="fragmented"),
        pytest.param(frame(2, b"i") + frame(8, struct.pack("!H", 4000)) + frame(2, b"j"),
                     id="data-after-close"),
    ],
)
@pytest.mark.parametrize("limit", [100, 1 << 20])
async def test_fast_path_agrees_with_wsproto_at_the_edges(stream: bytes, limit: int) -> None:
    for chunks in ([stream], cut(stream, [1]), cut(stream, [len(stream) - 1])):
        fast = await observe(chunks, fast=True, max_message_size=limit)
        assert fast == await observe(chunks, fast=False, max_message_size=limit)


async def test_plain_frames_never_reach_wsproto(monkeypatch: pytest.MonkeyPatch) -> None:
    client, server = trio.testing.memory_stream_pair()
    ws = WebSocketConnection(client, Connection(ConnectionType.CLIENT))
    fed: list[bytes] = []
    original = ws._ws.receive_data
    monkeypatch.setattr(ws._ws, "receive_data", lambda data: (fed.append(data), original(data)))
    big = bytes(range(256)) * 300  # 76,800 bytes: the 8-byte length
    await server.send_all(frame(2, b"audio" * 960) + frame(1, '{"é":1}'.encode()) + frame(2, big))
    with trio.fail_after(5):
        assert await ws.get_message() == b"audio" * 960
        assert await ws.get_message() == '{"é":1}'
        assert await ws.get_message() == big
    assert fed == []
    # A ping goes to wsproto (and is answered); plain frames after it still arrive.
    await server.send_all(frame(9, b"hi") + frame(1, b"after"))
    with trio.fail_after(5):
        assert await ws.get_message() == "after"
    assert len(fed) == 1
    assert b"\x8a" in await server.receive_some()  # the pong


async def test_a_frame_split_across_reads_goes_through_wsproto() -> None:
    data = frame(1, b'{"serverContent":{}}')
    messages, code = await observe([data[:3], data[3:], frame(2, b"next")], fast=True)
    assert messages == ['{"serverContent":{}}', b"next"]
    assert code == 1006  # the stream ended without a close frame
