"""Scale: N concurrent real-time sessions in one client process against one server process.

``python benchmarks/bench_scale.py [--quick] [--sessions 10 100 500 1000] [--repeat K]``

For each N a fresh client process (``_scale_client.py``) opens N sessions over loopback
``ws://`` (TLS is measured per message by ``bench_cpu.py``; here the server must keep up with
N x 20 messages a second on the machine's other core), measures the RSS per idle session,
then streams 100 ms chunks in real time both ways and reports the client's CPU as a share of
one core, the server-send to consumer latency (p50/p99), the share of the expected replies
received, the garbage collector's share of the time and its longest pause, and the RSS per
streaming session.

Every N runs with CPython's default garbage collector settings and with the tuning the docs
recommend for many sessions in one process (``gc.freeze()`` after opening,
``gc.set_threshold(10_000, 20, 20)``); at the largest N also with a timer per session
instead of the shared audio clock, with every session starting at the same instant (see
``_scale_client.py``), and over TLS (``wss://``, a trustme certificate). Runs at N >= 500
are repeated (``--repeat``, default 3; 1 with ``--quick``): the table shows the run with
the median p99 and the worst p99 of the repeats, since the default collector makes the tail
vary from run to run. Writes ``results/scale.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
from typing import Any

from _common import HERE, PYTHON, certificates, run_json, server, write

#: (pacing, staggered start, gc, TLS) of the main rows; the extra rows at the largest N.
MAIN = (("clock", True, "default", False), ("clock", True, "tuned", False))
EXTRA = (("timer", True, "tuned", False), ("clock", False, "tuned", False),
         ("clock", True, "tuned", True))


def table(rows: list[dict[str, Any]], seconds: float) -> str:
    """The Markdown table."""
    lines = [
        f"N real-time sessions in one process ({seconds:g} s measured after 1 s warm-up; "
        "each session sends 10 and receives 10 audio messages a second). Pacing: `clock` = "
        "producers woken by a shared 10 ms audio clock, `timer` = a `trio.sleep_until` per "
        "session; start: `staggered` over the 100 ms cycle or all at `once`; GC: CPython's "
        "`default` or `tuned` (`gc.freeze()` + `gc.set_threshold(10_000, 20, 20)`). Repeated "
        "runs: the one with the median p99, and the worst p99 of all. `wss` rows: TLS "
        "(trustme certificate, the server's TLS in its own process).",
        "",
        "| sessions | transport | pacing | start | GC | client CPU (share of one core) | "
        "server CPU | "
        "replies received | p50 latency (ms) | p99 latency (ms) | worst p99 (runs) | "
        "GC share of time | longest GC pause (ms) | KiB / idle session | "
        "KiB / streaming session |",
        "|---:|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['sessions']} | {'wss' if r.get('tls') else 'ws'} | {r['pacing']} | "
            f"{'staggered' if r['stagger'] else 'once'} | "
            f"{r['gc']} | {r['client_cpu_share']:.2f} | {r['server_cpu_share']:.2f} | "
            f"{r['received_share']:.0%} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['worst_p99_ms']:.1f} ({r['runs']}) | {r['gc_share']:.1%} | "
            f"{r['gc_max_ms']:.1f} | {r['idle_kib_per_session']:.1f} | "
            f"{r['streaming_kib_per_session']:.1f} |")
    return "\n".join(lines)


def measure(n: int, seconds: float, pacing: str, stagger: bool, gc: str, tls: bool,
            runs: int) -> dict[str, Any]:
    """``runs`` fresh server and client processes; the median-p99 run, plus the worst p99."""
    results = []
    for _ in range(runs):
        with certificates() as certs, server(certs if tls else None) as (port, pid):
            # A fresh server per run: no leftovers.
            command = [PYTHON, str(HERE / "_scale_client.py"), str(n), str(seconds), str(port),
                       str(pid), "--pacing", pacing, "--gc", gc]
            if not stagger:
                command.append("--no-stagger")
            if tls:
                command += ["--ca", str(certs.ca)]
            results.append(run_json(command))
    results.sort(key=lambda r: r["p99_ms"])
    chosen = dict(results[len(results) // 2])
    chosen["worst_p99_ms"] = results[-1]["p99_ms"]
    chosen["runs"] = runs
    chosen["all_runs"] = results
    return chosen


def main() -> None:
    """Parse the arguments, measure each configuration, write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs, no repeats")
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 100, 500, 1000])
    parser.add_argument("--repeat", type=int, help="runs per configuration at N >= 500")
    args = parser.parse_args()
    seconds = 3.0 if args.quick else 10.0
    repeat = args.repeat or (1 if args.quick else 3)
    rows = []
    largest = max(args.sessions)
    for n in args.sessions:
        configs = MAIN + (EXTRA if n == largest else ())
        for pacing, stagger, gc, tls in configs:
            runs = repeat if n >= 500 else 1
            rows.append(measure(n, seconds, pacing, stagger, gc, tls, runs))
            print(table(rows[-1:], seconds).splitlines()[-1], flush=True)
    write("scale", {"seconds": seconds, "rows": rows}, table(rows, seconds))


if __name__ == "__main__":
    main()
