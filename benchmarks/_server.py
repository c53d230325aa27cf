"""The benchmark server: sinks client frames and sources prebuilt server frames.

Runs in its own process (so its CPU is never counted as the client's), on asyncio with the
``websockets`` library (C-accelerated masking; compression off so no client negotiates
permessage-deflate). It speaks just enough of the Live API (PROTOCOL.md 2-4):

* the first frame (``setup``) is answered with ``setupComplete`` in a *binary* frame, as
  Google does (PROTOCOL.md 2);
* afterwards every frame is sunk unparsed, except small ones carrying
  ``realtimeInput.text`` commands:

  - ``sync``: answer ``serverContent.turnComplete`` (the client knows all it sent arrived);
  - ``send N``: send ``N`` prebuilt audio messages (4800 bytes of 24 kHz PCM each), then
    ``turnComplete``;
  - ``stream``: send one audio message every 100 ms (real time) until the connection ends;
    the first 8 PCM bytes carry ``time.monotonic()`` at sending (a system-wide clock on
    Linux), so the client measures server-send to consumer latency.

Usage: ``python benchmarks/_server.py [--cert PEM --key PEM]``; prints the port on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import resource
import ssl
import struct
import sys
import time

from websockets.asyncio.server import ServerConnection, serve

OUT_BYTES = 4800  # 100 ms of 24 kHz 16-bit mono PCM (PROTOCOL.md 5: output audio)
_STAMP = 9  # 8 bytes of timestamp + 1 so the stamped prefix is a whole base64 group
_PCM = bytes(range(256)) * (OUT_BYTES // 256) + bytes(OUT_BYTES % 256)
_REST = base64.b64encode(_PCM[_STAMP:]).decode()
_HEAD = ('{"serverContent":{"modelTurn":{"parts":[{"inlineData":'
         '{"mimeType":"audio/pcm;rate=24000","data":"')
_TAIL = '"}}]}}}'
AUDIO_FRAME = (_HEAD + base64.b64encode(_PCM).decode() + _TAIL).encode()
SETUP_COMPLETE = b'{"setupComplete":{}}'
TURN_COMPLETE = b'{"serverContent":{"turnComplete":true}}'


def stamped_frame() -> bytes:
    """An audio message whose PCM starts with the current ``time.monotonic()``."""
    head = base64.b64encode(struct.pack("<d", time.monotonic()) + b"\0").decode()
    return (_HEAD + head + _REST + _TAIL).encode()


async def _stream(ws: ServerConnection) -> None:
    # Absolute deadlines, so the cadence does not drift with the loop's load.
    deadline = time.monotonic()
    while True:
        deadline += 0.1
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        await ws.send(stamped_frame())


async def handler(ws: ServerConnection) -> None:
    """Serve one connection (see the module docstring)."""
    streams: list[asyncio.Task[None]] = []
    try:
        await ws.recv(decode=False)  # setup
        await ws.send(SETUP_COMPLETE)
        while True:
            frame = await ws.recv(decode=False)
            if len(frame) > 200 or b'"text"' not in frame:
                continue  # audio: sunk
            message = json.loads(frame)
            # The SDK writes the proto field name ``realtime_input`` (both are accepted).
            command = (message.get("realtimeInput") or message["realtime_input"])["text"]
            if command == "sync":
                await ws.send(TURN_COMPLETE)
            elif command.startswith("send "):
                for _ in range(int(command[5:])):
                    await ws.send(AUDIO_FRAME)
                await ws.send(TURN_COMPLETE)
            elif command == "stream":
                streams.append(asyncio.create_task(_stream(ws)))
    except Exception:  # the client went away: nothing to report in a benchmark server
        pass
    finally:
        for task in streams:
            task.cancel()


async def main() -> None:
    """Serve on a free loopback port until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    context = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    async with serve(handler, "127.0.0.1", 0, ssl=context, compression=None, max_size=None,
                     ping_interval=None, max_queue=64, backlog=2048) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(port, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
