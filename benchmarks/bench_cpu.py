"""Per-message client CPU over loopback TLS: ours against google-genai and the transport floor.

``python benchmarks/bench_cpu.py [--quick] [--rounds N] [--before TREE]``

One server process (``_server.py`` over ``wss://`` with trustme certificates). Each round runs
the three clients one after the other, each in a fresh process (``_cpu_client.py``), in a
rotating order so drift in the machine's load touches all three alike. With ``--before TREE``
(a checkout of an older commit, ``git worktree add /tmp/before <commit>``) a fourth client
runs our session from that tree (``PYTHONPATH=TREE``) in the same rotation, so that before and
after are measured in one run (issue 11: at most today's CPU in both directions). Each client
reports ``time.process_time()`` per 3200-byte audio chunk sent and per 4800-byte audio
message received. The figures are medians over the rounds; the *ratios* of medians from the
same run are the result (absolute times on a shared machine are noise).

Writes ``results/cpu.json`` and ``results/cpu.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from _common import HERE, PYTHON, certificates, median, run_json, server, write

KINDS = ("ours", "sdk", "floor")
LABELS = {
    "ours": "trio-gemini-live",
    "before": "trio-gemini-live, before",
    "sdk": "google-genai (asyncio)",
    "floor": "trio-websocket floor",
}


def measure(rounds: int, chunks: int, messages: int, before: Path | None = None) -> (
    dict[str, Any]
):
    """Run the rounds; returns the raw samples and the medians."""
    kinds = KINDS + (("before",) if before is not None else ())
    samples: dict[str, dict[str, list[float]]] = {
        kind: {"send_us": [], "receive_us": []} for kind in kinds}
    with certificates() as certs, server(certs) as (port, _):
        for index in range(rounds):
            order = kinds[index % len(kinds):] + kinds[:index % len(kinds)]
            for kind in order:
                # "before" is our client run against the older tree's package.
                path = str(before) if kind == "before" else None
                got = run_json([PYTHON, str(HERE / "_cpu_client.py"),
                                "ours" if kind == "before" else kind, str(port),
                                str(certs.ca), str(chunks), str(messages)], pythonpath=path)
                for key in ("send_us", "receive_us"):
                    samples[kind][key].append(got[key])
    medians = {kind: {key: median(values) for key, values in by.items()}
               for kind, by in samples.items()}
    ratios = {
        direction: {
            "ours_over_sdk": medians["ours"][direction] / medians["sdk"][direction],
            "ours_over_floor": medians["ours"][direction] / medians["floor"][direction],
            "sdk_over_floor": medians["sdk"][direction] / medians["floor"][direction],
        }
        for direction in ("send_us", "receive_us")
    }
    if before is not None:
        for direction in ("send_us", "receive_us"):
            ratios[direction]["ours_over_before"] = (
                medians["ours"][direction] / medians["before"][direction])
            ratios[direction]["before_over_sdk"] = (
                medians["before"][direction] / medians["sdk"][direction])
    return {"rounds": rounds, "chunks": chunks, "messages": messages,
            "before_tree": str(before or ""), "samples": samples,
            "medians_us": medians, "ratios": ratios}


def table(data: dict[str, Any]) -> str:
    """The Markdown table of one run."""
    m, r = data["medians_us"], data["ratios"]
    lines = [
        f"Client CPU per message over loopback TLS (median of {data['rounds']} rounds; "
        f"{data['chunks']} chunks sent and {data['messages']} messages received per round).",
        "",
        "| client | send: µs CPU / 3200 B chunk | receive: µs CPU / 4800 B audio message |",
        "|---|---:|---:|",
    ]
    for kind in m:
        lines.append(f"| {LABELS[kind]} | {m[kind]['send_us']:.1f} | "
                     f"{m[kind]['receive_us']:.1f} |")
    lines += [
        "",
        "| ratio | send | receive |",
        "|---|---:|---:|",
    ]
    for key, label in (("ours_over_sdk", "ours / SDK (target ≤ 0.35, issue 11)"),
                       ("ours_over_floor", "ours / floor (target ≤ 1.15)"),
                       ("sdk_over_floor", "SDK / floor"),
                       ("ours_over_before", "ours / before (target ≤ 1, issue 11)"),
                       ("before_over_sdk", "before / SDK")):
        if key not in r["send_us"]:
            continue
        lines.append(f"| {label} | {r['send_us'][key]:.2f} | {r['receive_us'][key]:.2f} |")
    return "\n".join(lines)


def main() -> None:
    """Parse the arguments, measure, write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and messages")
    parser.add_argument("--rounds", type=int)
    parser.add_argument(
        "--before", type=Path, metavar="TREE",
        help="also run our client against this checkout's package (PYTHONPATH=TREE)")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 7)
    count = 500 if args.quick else 3000
    data = measure(rounds, count, count, args.before)
    write("cpu", data, table(data))


if __name__ == "__main__":
    main()
