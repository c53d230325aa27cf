"""Import time of ``trio_gemini_live`` against ``google.genai``, each in a fresh interpreter.

``python benchmarks/bench_import.py [--quick]``

Alternates the two imports for several rounds (fresh ``python`` each time, wall time of the
``import`` statement alone via ``time.perf_counter``) and reports medians and their ratio. It
also checks that importing ``trio_gemini_live`` does not import ``google.auth`` (loaded lazily,
only for Vertex AI). Writes ``results/import.json`` and ``.md``.
"""

from __future__ import annotations

import argparse

from _common import PYTHON, median, run_json, write

PROBE = (
    "import sys, time, json; t = time.perf_counter(); import {module}; "
    "t = time.perf_counter() - t; "
    "print(json.dumps({{'ms': t * 1e3, 'google_auth': 'google.auth' in sys.modules, "
    "'modules': len(sys.modules)}}))"
)
MODULES = ("trio_gemini_live", "google.genai")


def main() -> None:
    """Measure, write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds = 5 if args.quick else 15
    samples: dict[str, list[dict[str, float]]] = {m: [] for m in MODULES}
    for index in range(rounds):
        for module in MODULES if index % 2 == 0 else MODULES[::-1]:
            samples[module].append(run_json([PYTHON, "-c", PROBE.format(module=module)]))
    ms = {m: median([s["ms"] for s in samples[m]]) for m in MODULES}
    ratio = ms["trio_gemini_live"] / ms["google.genai"]
    auth = any(s["google_auth"] for s in samples["trio_gemini_live"])
    modules = {m: int(median([s["modules"] for s in samples[m]])) for m in MODULES}
    table = "\n".join([
        f"Import time, fresh interpreter, median of {rounds} alternating rounds.",
        "",
        "| module | import (ms) | modules loaded |",
        "|---|---:|---:|",
        f"| trio_gemini_live | {ms['trio_gemini_live']:.0f} | {modules['trio_gemini_live']} |",
        f"| google.genai | {ms['google.genai']:.0f} | {modules['google.genai']} |",
        "",
        f"Ratio trio_gemini_live / google.genai: **{ratio:.2f}**. "
        f"google.auth imported by trio_gemini_live: **{'yes' if auth else 'no'}**.",
    ])
    write("import", {"rounds": rounds, "samples": samples, "median_ms": ms, "ratio": ratio,
                     "google_auth_imported": auth, "modules": modules}, table)


if __name__ == "__main__":
    main()
