"""Scale: N concurrent real-time sessions in one client process against one server process.

``python benchmarks/bench_scale.py [--quick] [--sessions 10 100 500 1000]``

For each N a fresh client process (``_scale_client.py``) opens N sessions over loopback
``ws://`` (TLS is measured per message by ``bench_cpu.py``; here the server must keep up with
N x 20 messages a second on the machine's other core), measures the RSS per idle session,
then streams 100 ms chunks in real time both ways and reports the client's CPU as a share of
one core, the server-send to consumer latency (p50/p99), the share of the expected replies
received, and the RSS per streaming session. Writes ``results/scale.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
from typing import Any

from _common import HERE, PYTHON, run_json, server, write


def table(rows: list[dict[str, Any]], seconds: float) -> str:
    """The Markdown table."""
    lines = [
        f"N real-time sessions in one process ({seconds:g} s measured after 1 s warm-up; "
        "each session sends 10 and receives 10 audio messages a second).",
        "",
        "| sessions | client CPU (share of one core) | server CPU | replies received | "
        "p50 latency (ms) | p99 latency (ms) | KiB / idle session | KiB / streaming session |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['sessions']} | {r['client_cpu_share']:.2f} | {r['server_cpu_share']:.2f} | "
            f"{r['received_share']:.0%} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['idle_kib_per_session']:.1f} | {r['streaming_kib_per_session']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    """Parse the arguments, measure each N, write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 100, 500, 1000])
    args = parser.parse_args()
    seconds = 3.0 if args.quick else 10.0
    rows = []
    for n in args.sessions:
        with server() as (port, pid):  # a fresh server per N: no leftovers from the last
            rows.append(run_json([PYTHON, str(HERE / "_scale_client.py"), str(n), str(seconds),
                                  str(port), str(pid)]))
    write("scale", {"seconds": seconds, "rows": rows}, table(rows, seconds))


if __name__ == "__main__":
    main()
