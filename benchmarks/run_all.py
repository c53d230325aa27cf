"""Run every benchmark of issue 7 and draw the plot for the docs (``nox -s bench``).

``python benchmarks/run_all.py [--quick]``

Runs ``bench_codec.py``, ``bench_cpu.py``, ``bench_scale.py``, ``bench_import.py`` and
``bench_resume.py`` in turn (each writes ``results/<name>.json`` and ``.md``), then writes
``results/bench.svg``: client CPU per message of the three clients in both directions, from
``results/cpu.json``. The SVG is written by hand, so no plotting library is needed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from html import escape

from _common import HERE, PYTHON, RESULTS

SCRIPTS = ("bench_codec.py", "bench_cpu.py", "bench_scale.py", "bench_import.py", "bench_resume.py")
COLOURS = {"ours": "#2a7ab0", "sdk": "#d08a2e", "floor": "#7a7a7a"}
LABELS = {"ours": "trio-gemini-live", "sdk": "google-genai", "floor": "trio-websocket floor"}


def plot() -> str:
    """An SVG bar chart of ``results/cpu.json`` (µs of client CPU per message)."""
    data = json.loads((RESULTS / "cpu.json").read_text())
    medians = data["medians_us"]
    directions = (("send_us", "send 3200 B chunk"), ("receive_us", "receive 4800 B audio"))
    top = max(v for kind in medians.values() for v in kind.values()) * 1.6  # legend room
    width, height, left, bottom, bar = 520, 300, 60, 250, 40
    scale = (bottom - 40) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">'
        'Client CPU per message, loopback TLS (µs, lower is better)</text>',
        f'<line x1="{left}" y1="{bottom}" x2="{width - 10}" y2="{bottom}" stroke="black"/>',
    ]
    for group, (key, title) in enumerate(directions):
        x0 = left + 20 + group * 220
        for index, kind in enumerate(("ours", "sdk", "floor")):
            value = medians[kind][key]
            x, h = x0 + index * (bar + 10), value * scale
            parts.append(f'<rect x="{x}" y="{bottom - h:.1f}" width="{bar}" height="{h:.1f}" '
                         f'fill="{COLOURS[kind]}"/>')
            parts.append(f'<text x="{x + bar / 2}" y="{bottom - h - 4:.1f}" '
                         f'text-anchor="middle">{value:.0f}</text>')
        parts.append(f'<text x="{x0 + 75}" y="{bottom + 18}" text-anchor="middle">'
                     f'{escape(title)}</text>')
    for index, kind in enumerate(("ours", "sdk", "floor")):
        y = 40 + index * 16
        parts.append(f'<rect x="{width - 170}" y="{y - 10}" width="10" height="10" '
                     f'fill="{COLOURS[kind]}"/>')
        parts.append(f'<text x="{width - 155}" y="{y}">{escape(LABELS[kind])}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> int:
    """Run the benchmarks, then the plot; non-zero if a script failed (the others still run)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs of everything")
    args = parser.parse_args()
    failed = []
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        command = [PYTHON, str(HERE / script)] + (["--quick"] if args.quick else [])
        # bench_codec.py exits 1 when a target is missed, after writing its results: the
        # other benchmarks still run and the exit status reports it at the end.
        done = subprocess.run(command, cwd=HERE.parent,
                              env={**os.environ, "PYTHONPATH": str(HERE.parent)})
        if done.returncode:
            failed.append(script)
    (RESULTS / "bench.svg").write_text(plot())
    print(f"wrote {RESULTS / 'bench.svg'}")
    if failed:
        print(f"exited non-zero: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
