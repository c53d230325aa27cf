"""WebSocket transport CPU per message: ``_transport.py`` (wsproto) against ``_websocket.py``.

``python benchmarks/bench_transport.py [--quick] [--rounds N] [--scheme ws|wss|both]``

Issue 11 replaces the hand-written RFC 6455 layer (``_transport.WebSocketConnection``: wsproto,
h11 and our fast path for plain frames) with an adapter over ``websockets``' sans-I/O
``ClientProtocol`` (``_websocket.WebSocket``). This measures the two alone, without the session,
over the same :class:`~trio_gemini_live._sockets.NativeSocketStream` on loopback (``ws://``,
and ``wss://`` with a trustme certificate):

* **send**: a 3,200-byte 16 kHz audio chunk as its ``realtimeInput`` JSON in a text frame
  (4,336 bytes), sent one per ``send_message`` (*one by one*), through ``try_send_message``
  (the session's direct path, issue 7), and ten per ``send_messages`` (*burst*); each phase
  ends with a ``sync`` round trip proving arrival;
* **receive**: a server audio message (4,800 bytes of 24 kHz PCM as ``serverContent`` JSON,
  6.5 KB) in a binary frame, the server writing them back to back (*burst*: many frames per
  read, frames cut across reads) or 0.5 ms apart (*one by one*: one frame per read, the
  reader waiting for each, as in a real-time session);
* **in memory**: the same frames through a stream that never waits (no kernel, no server),
  so the transport's own CPU shows without the noise of a shared machine's scheduling.

The server (``--serve``) is asyncio + ``websockets`` in its own process. Each client runs in a
fresh process (``--client``), measuring ``time.process_time()`` (its own CPU, never wall
time) around each phase after a warm-up; the two transports alternate in each round. The
figures are medians over the rounds; read the *ratios* (after / before) from one run.

``_transport.py`` goes once the session runs on ``_websocket.py``: then pass ``--before`` a
checkout of an older commit (``git worktree add /tmp/before <commit>``) to compare, or get the
"after" column alone. Writes ``results/transport.json`` and ``results/transport.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import ssl
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

from _common import HERE, PYTHON, certificates, median, write

PHASES = ("send_one", "send_direct", "send_burst", "receive_burst", "receive_one",
          "memory_send_one", "memory_receive_one", "memory_receive_burst")
LABELS = {
    "send_one": "send, one by one",
    "send_direct": "send, try_send_message",
    "send_burst": "send, bursts of 10",
    "receive_burst": "receive, burst",
    "receive_one": "receive, one by one",
    "memory_send_one": "in memory: send, one by one",
    "memory_receive_one": "in memory: receive, one frame per read",
    "memory_receive_burst": "in memory: receive, 64 KiB reads",
}
KINDS = ("before", "after")
IN_CHUNK = 3200
OUT_BYTES = 4800
PACE = 0.0005
WARMUP = 100
_PCM_IN = bytes(range(256)) * (IN_CHUNK // 256) + bytes(IN_CHUNK % 256)
CHUNK_JSON = ('{"realtimeInput":{"audio":{"mimeType":"audio/pcm;rate=16000","data":"'
              + base64.b64encode(_PCM_IN).decode() + '"}}}')
_PCM_OUT = bytes(range(256)) * (OUT_BYTES // 256) + bytes(OUT_BYTES % 256)
AUDIO_MESSAGE = ('{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":'
                 '"audio/pcm;rate=24000","data":"' + base64.b64encode(_PCM_OUT).decode()
                 + '"}}]}}}').encode()


# --- the server (its own process) ----------------------------------------------------------


async def _serve(cert: str | None, key: str | None) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def handler(ws: ServerConnection) -> None:
        try:
            while True:
                frame = await ws.recv(decode=False)
                if len(frame) > 100:
                    continue  # audio: sunk
                command, _, count = frame.decode().partition(" ")
                if command == "burst":
                    for _ in range(int(count)):
                        await ws.send(AUDIO_MESSAGE)
                elif command == "pace":
                    for _ in range(int(count)):
                        await asyncio.sleep(PACE)
                        await ws.send(AUDIO_MESSAGE)
                await ws.send(b"done")
        except Exception:  # the client went away
            pass

    context = None
    if cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    async with serve(handler, "127.0.0.1", 0, ssl=context, compression=None, max_size=None,
                     ping_interval=None) as server:
        print(next(iter(server.sockets)).getsockname()[1], flush=True)
        await asyncio.Future()


# --- a client (its own process) ------------------------------------------------------------


def _client(kind: str, url: str, cafile: str | None, count: int) -> dict[str, float]:
    import importlib

    import trio

    module: Any = importlib.import_module(
        "trio_gemini_live._transport" if kind == "before" else "trio_gemini_live._websocket")

    async def main() -> dict[str, float]:
        context = ssl.create_default_context(cafile=cafile) if cafile else None
        opener: Any = module.open_connection
        async with opener(url, ssl_context=context) as ws:
            assert type(ws._stream).__name__ == "NativeSocketStream"

            async def command(text: str) -> int:
                await ws.send_message(text)
                got = 0
                while await ws.get_message() != b"done":
                    got += 1
                return got

            async def send_one(n: int) -> None:
                for _ in range(n):
                    await ws.send_message(CHUNK_JSON)

            async def send_direct(n: int) -> None:
                # As the session's direct path: a checkpoint, then a synchronous write.
                for _ in range(n):
                    await trio.lowlevel.checkpoint()
                    written = ws.try_send_message(CHUNK_JSON)
                    if written is None:
                        await ws.send_message(CHUNK_JSON)
                    elif written is False:
                        await ws.send_messages([])

            async def send_burst(n: int) -> None:
                batch = [CHUNK_JSON] * 10
                for _ in range(n // 10):
                    await ws.send_messages(batch)

            result = {}
            for name, phase in (("send_one", send_one), ("send_direct", send_direct),
                                ("send_burst", send_burst)):
                await phase(WARMUP)
                await command("sync")
                start = time.process_time()
                await phase(count)
                await command("sync")
                result[name] = (time.process_time() - start) * 1e6 / count
            for name, verb in (("receive_burst", "burst"), ("receive_one", "pace")):
                await command(f"{verb} {WARMUP}")
                start = time.process_time()
                got = await command(f"{verb} {count}")
                result[name] = (time.process_time() - start) * 1e6 / count
                assert got == count, (got, count)
        result.update(await _in_memory(kind, count * 4))
        return result

    return trio.run(main)


async def _in_memory(kind: str, count: int) -> dict[str, float]:
    """The transport's own CPU, without the kernel: a stream that never waits, returning
    prebuilt server frames (one per read, or 64 KiB cut across frames) and dropping writes."""
    import trio

    frame = b"\x82\x7e" + struct.pack("!H", len(AUDIO_MESSAGE)) + AUDIO_MESSAGE
    burst = frame * 200
    reads = {"one": [frame], "burst": [burst[i:i + 65536] for i in range(0, len(burst), 65536)]}

    class Stream(trio.abc.Stream):
        def __init__(self, chunks: list[bytes]) -> None:
            self.chunks, self.index = chunks, 0

        async def send_all(self, data: Any) -> None:
            await trio.lowlevel.checkpoint()

        async def wait_send_all_might_not_block(self) -> None:  # pragma: no cover
            pass

        async def receive_some(self, max_bytes: int | None = None) -> bytes:
            await trio.lowlevel.checkpoint()
            self.index += 1
            return self.chunks[(self.index - 1) % len(self.chunks)]

        async def aclose(self) -> None:
            pass

    def connection(chunks: list[bytes]) -> Any:
        if kind == "before":
            from wsproto.connection import Connection, ConnectionType

            from trio_gemini_live import _transport

            return _transport.WebSocketConnection(Stream(chunks), Connection(ConnectionType.CLIENT))
        from websockets.client import ClientProtocol
        from websockets.protocol import State
        from websockets.uri import WebSocketURI

        from trio_gemini_live import _websocket

        protocol = ClientProtocol(WebSocketURI(False, "h", 80, "/", ""), state=State.OPEN,
                                  max_size=_websocket.MAX_MESSAGE_SIZE, logger=_websocket._QUIET)
        return _websocket.WebSocket(
            Stream(chunks), protocol, max_fragments=_websocket.MAX_FRAGMENTS,
            receive_size=_websocket.RECEIVE_SIZE, close_timeout=3)

    result = {}
    ws = connection(reads["one"])
    for _ in range(WARMUP):
        await ws.send_message(CHUNK_JSON)
    start = time.process_time()
    for _ in range(count):
        await ws.send_message(CHUNK_JSON)
    result["memory_send_one"] = (time.process_time() - start) * 1e6 / count
    for name in ("one", "burst"):
        ws = connection(reads[name])
        for _ in range(WARMUP):
            await ws.get_message()
        start = time.process_time()
        for _ in range(count):
            await ws.get_message()
        result[f"memory_receive_{name}"] = (time.process_time() - start) * 1e6 / count
    return result


# --- the driver ----------------------------------------------------------------------------


def measure(rounds: int, count: int, schemes: list[str], before: Path | None) -> dict[str, Any]:
    kinds = KINDS if before is not None else ("after",)
    trees = {"before": before, "after": HERE.parent}
    samples: dict[str, dict[str, dict[str, list[float]]]] = {
        scheme: {kind: {phase: [] for phase in PHASES} for kind in kinds} for scheme in schemes}
    with certificates() as certs:
        for scheme in schemes:
            command = [PYTHON, str(HERE / "bench_transport.py"), "--serve"]
            if scheme == "wss":
                command += ["--cert", str(certs.cert), "--key", str(certs.key)]
            server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            try:
                assert server.stdout is not None
                port = int(server.stdout.readline())
                url = f"{scheme}://127.0.0.1:{port}/"
                for index in range(rounds):
                    for kind in kinds[index % 2:] + kinds[:index % 2]:
                        client = [PYTHON, str(HERE / "bench_transport.py"), "--client", kind,
                                  url, str(count)]
                        if scheme == "wss":
                            client += ["--ca", str(certs.ca)]
                        done = subprocess.run(
                            client, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(trees[kind])})
                        if done.returncode:
                            raise RuntimeError(f"{kind} client failed:\n{done.stderr[-3000:]}")
                        got = json.loads(done.stdout.strip().splitlines()[-1])
                        for phase in PHASES:
                            samples[scheme][kind][phase].append(got[phase])
            finally:
                server.terminate()
                server.wait(10)
    medians = {scheme: {kind: {phase: median(values) for phase, values in by_phase.items()}
                        for kind, by_phase in by_kind.items()}
               for scheme, by_kind in samples.items()}
    ratios = {scheme: {phase: m["after"][phase] / m["before"][phase] for phase in PHASES}
              for scheme, m in medians.items() if "before" in m}
    return {"rounds": rounds, "messages": count, "before_tree": str(before or ""),
            "samples": samples, "medians_us": medians, "ratios": ratios}


def table(data: dict[str, Any]) -> str:
    lines = [
        f"Transport CPU per message on loopback over NativeSocketStream (median of "
        f"{data['rounds']} rounds, {data['messages']} messages per phase). Before: "
        "`_transport.py` (wsproto + fast path); after: `_websocket.py` (websockets' "
        "ClientProtocol).",
        "",
        "| scheme | phase | before µs | after µs | after / before |",
        "|---|---|---:|---:|---:|",
    ]
    for scheme, m in data["medians_us"].items():
        for phase in PHASES:
            before = f"{m['before'][phase]:.1f}" if "before" in m else "-"
            ratio = f"{data['ratios'][scheme][phase]:.2f}" if "before" in m else "-"
            lines.append(f"| {scheme} | {LABELS[phase]} | {before} | {m['after'][phase]:.1f} | "
                         f"{ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and messages")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--scheme", choices=("ws", "wss", "both"), default="both")
    parser.add_argument(
        "--before", type=Path, metavar="TREE",
        help="a checkout whose trio_gemini_live still has _transport.py (default: this one "
        "while it has it; without one, only _websocket.py is measured)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cert", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=3, metavar=("KIND", "URL", "COUNT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--ca", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.cert, args.key))
        return
    if args.client:
        kind, url, count = args.client
        print(json.dumps(_client(kind, url, args.ca, int(count))))
        return
    rounds = args.rounds or (3 if args.quick else 7)
    count = 1000 if args.quick else 5000
    schemes = ["ws", "wss"] if args.scheme == "both" else [args.scheme]
    before = args.before
    if before is None and (HERE.parent / "trio_gemini_live" / "_transport.py").exists():
        before = HERE.parent
    data = measure(rounds, count, schemes, before)
    write("transport", data, table(data))


if __name__ == "__main__":
    main()
