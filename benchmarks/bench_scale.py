"""Scale: N concurrent real-time sessions in one client process against one server process.

``python benchmarks/bench_scale.py [--quick] [--sessions 10 100 500 1000] [--repeat K]
[--before TREE] [--gc default|tuned] [--no-extra]``

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
vary from run to run; every run's p50/p99 are listed under the table.

``--before TREE`` (a checkout of an older commit) measures each configuration with that
tree's package too, the two trees' runs alternating (issue 11: before and after in one
sitting). ``--gc`` keeps one collector setting; ``--no-extra`` leaves out the extra rows.
Writes ``results/scale.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
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
        "| tree | sessions | transport | pacing | start | GC | client CPU (share of one core) | "
        "server CPU | "
        "replies received | p50 latency (ms) | p99 latency (ms) | worst p99 (runs) | "
        "GC share of time | longest GC pause (ms) | full collections | "
        "KiB / idle session | KiB / streaming session | "
        "tracked objects / idle session | tracked objects / streaming session |",
        "|---|---:|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        "---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.get('tree', 'after')} | {r['sessions']} | "
            f"{'wss' if r.get('tls') else 'ws'} | {r['pacing']} | "
            f"{'staggered' if r['stagger'] else 'once'} | "
            f"{r['gc']} | {r['client_cpu_share']:.2f} | {r['server_cpu_share']:.2f} | "
            f"{r['received_share']:.0%} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['worst_p99_ms']:.1f} ({r['runs']}) | {r['gc_share']:.1%} | "
            f"{r['gc_max_ms']:.1f} | {r.get('gc_full_runs', 0)} | "
            f"{r['idle_kib_per_session']:.1f} | "
            f"{r['streaming_kib_per_session']:.1f} | "
            f"{_optional(r, 'tracked_per_idle_session')} | "
            f"{_optional(r, 'tracked_per_streaming_session')} |")
    lines += ["", "Every run (p50 / p99 ms, longest GC pause ms, full collections in the window):",
              ""]
    for r in rows:
        runs = "; ".join(f"{x['p50_ms']:.1f} / {x['p99_ms']:.1f}, {x['gc_max_ms']:.0f}, "
                         f"{x.get('gc_full_runs', 0)}" for x in r.get("all_runs", [r]))
        lines.append(f"* {r.get('tree', 'after')}, {r['sessions']} sessions, "
                     f"{'wss' if r.get('tls') else 'ws'}, {r['pacing']}, "
                     f"{'staggered' if r['stagger'] else 'once'}, {r['gc']}: {runs}")
    return "\n".join(lines)


def _optional(row: dict[str, Any], key: str) -> str:
    """A figure older result files (or an older tree's client) may lack."""
    return f"{row[key]:.0f}" if key in row else "-"


def measure(n: int, seconds: float, pacing: str, stagger: bool, gc: str, tls: bool,
            runs: int, trees: dict[str, Path | None]) -> list[dict[str, Any]]:
    """``runs`` fresh server and client processes per tree (the trees' runs alternating);
    per tree, the median-p99 run, plus the worst p99."""
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    names = list(trees)
    for index in range(runs):
        for name in names[index % len(names):] + names[:index % len(names)]:
            with certificates() as certs, server(certs if tls else None) as (port, pid):
                # A fresh server per run: no leftovers.
                command = [PYTHON, str(HERE / "_scale_client.py"), str(n), str(seconds),
                           str(port), str(pid), "--pacing", pacing, "--gc", gc]
                if not stagger:
                    command.append("--no-stagger")
                if tls:
                    command += ["--ca", str(certs.ca)]
                tree = trees[name]
                results[name].append(
                    run_json(command, pythonpath=str(tree) if tree is not None else None))
    chosen_rows = []
    for name, got in results.items():
        got.sort(key=lambda r: r["p99_ms"])
        chosen = dict(got[len(got) // 2])
        chosen["tree"] = name
        chosen["worst_p99_ms"] = got[-1]["p99_ms"]
        chosen["runs"] = runs
        chosen["all_runs"] = got
        chosen_rows.append(chosen)
    return chosen_rows


def main() -> None:
    """Parse the arguments, measure each configuration, write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs, no repeats")
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 100, 500, 1000])
    parser.add_argument("--repeat", type=int, help="runs per configuration at N >= 500")
    parser.add_argument("--before", type=Path, metavar="TREE",
                        help="also measure this checkout's package (PYTHONPATH=TREE)")
    parser.add_argument("--gc", choices=["default", "tuned"], help="only this GC setting")
    parser.add_argument("--no-extra", action="store_true",
                        help="leave out the extra rows at the largest N")
    args = parser.parse_args()
    seconds = 3.0 if args.quick else 10.0
    repeat = args.repeat or (1 if args.quick else 3)
    trees: dict[str, Path | None] = {"after": None}
    if args.before is not None:
        trees = {"before": args.before, "after": None}
    rows = []
    largest = max(args.sessions)
    for n in args.sessions:
        configs = MAIN + (EXTRA if n == largest and not args.no_extra else ())
        for pacing, stagger, gc, tls in configs:
            if args.gc and gc != args.gc:
                continue
            runs = repeat if n >= 500 else 1
            got = measure(n, seconds, pacing, stagger, gc, tls, runs, trees)
            rows += got
            for line in table(got, seconds).splitlines()[3:3 + len(got)]:
                print(line, flush=True)
    write("scale", {"seconds": seconds, "before_tree": str(args.before or ""), "rows": rows},
          table(rows, seconds))


if __name__ == "__main__":
    main()
