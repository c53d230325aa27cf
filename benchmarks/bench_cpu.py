"""Per-message client CPU over loopback TLS: ours against google-genai and the transport floor.

``python benchmarks/bench_cpu.py [--quick]``

One server process (``_server.py`` over ``wss://`` with trustme certificates). Each round runs
the three clients one after the other, each in a fresh process (``_cpu_client.py``), in a
rotating order so drift in the machine's load touches all three alike. Each client reports
``time.process_time()`` per 3200-byte audio chunk sent and per 4800-byte audio message
received. The figures are medians over the rounds; the *ratios* of medians from the same run
are the result (absolute times on a shared machine are noise).

Writes ``results/cpu.json`` and ``results/cpu.md``.
"""

from __future__ import annotations

import argparse
from typing import Any

from _common import HERE, PYTHON, certificates, median, run_json, server, write

KINDS = ("ours", "sdk", "floor")
LABELS = {
    "ours": "trio-gemini-live",
    "sdk": "google-genai (asyncio)",
    "floor": "trio-websocket floor",
}


def measure(rounds: int, chunks: int, messages: int) -> dict[str, Any]:
    """Run the rounds; returns the raw samples and the medians."""
    samples: dict[str, dict[str, list[float]]] = {
        kind: {"send_us": [], "receive_us": []} for kind in KINDS}
    with certificates() as certs, server(certs) as (port, _):
        for index in range(rounds):
            order = KINDS[index % 3:] + KINDS[:index % 3]
            for kind in order:
                got = run_json([PYTHON, str(HERE / "_cpu_client.py"), kind, str(port),
                                str(certs.ca), str(chunks), str(messages)])
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
    return {"rounds": rounds, "chunks": chunks, "messages": messages, "samples": samples,
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
    for kind in KINDS:
        lines.append(f"| {LABELS[kind]} | {m[kind]['send_us']:.1f} | "
                     f"{m[kind]['receive_us']:.1f} |")
    lines += [
        "",
        "| ratio | send | receive |",
        "|---|---:|---:|",
    ]
    for key, label in (("ours_over_sdk", "ours / SDK (target ≤ 0.5)"),
                       ("ours_over_floor", "ours / floor (target ≤ 1.15)"),
                       ("sdk_over_floor", "SDK / floor")):
        lines.append(f"| {label} | {r['send_us'][key]:.2f} | {r['receive_us'][key]:.2f} |")
    return "\n".join(lines)


def main() -> None:
    """Parse the arguments, measure, write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and messages")
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 7)
    count = 500 if args.quick else 3000
    data = measure(rounds, count, count)
    write("cpu", data, table(data))


if __name__ == "__main__":
    main()
