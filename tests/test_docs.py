"""The documentation's promises: its examples run, its diagram matches the code, it builds.

* every ``docs/examples/*.py`` program runs against the emulator and prints what the pages
  say it prints;
* ``docs/examples/test_my_app.py`` (the testing how-to) passes under pytest;
* the README's example runs;
* the status diagram has exactly one arrow per transition of ``TRANSITIONS``;
* the Sphinx build passes with warnings as errors (skipped when Sphinx is not installed:
  ``nox -s docs`` installs it).
"""

from __future__ import annotations

import gc
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import trio

from trio_gemini_live._protocol import TRANSITIONS, Status

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# What each example must print (the pages show the same lines).
EXPECTED = {
    "first_voice_turn": [
        'model said: I heard: "Hello!". This is turn 1 of our conversation.',
        # The fragments of the transcript, joined into one line.
        "you said: [audio 1.",
        "model answered with",
    ],
    "voice_agent_tools": [
        "model calls: [('get_weather',",
        'model said: The result of get_weather is {"output": {"celsius": 21.0}}.',
    ],
    "telephony_bridge": ["μ-law bytes", "to the phone"],
    "voice_input": [
        "streamed 1.0 s, then audio_stream_end",
        'model: I heard: "[audio 1.0s]". This is turn 1 of our conversation.',
        # The 300 ms pre-roll, then 0.8 s of live audio.
        'model: I heard: "[audio 1.1s]". This is turn 1 of our conversation.',
        "frames: 15 submitted, ",
    ],
    "survive_go_away": [
        "[goAway:",
        "[reconnected, resumed=True]",
        'I heard: "Which number was it?". This is turn 2 of our conversation.',
        "connections used: 2",
    ],
    "vertex_ai": [
        'I heard: "Hello from Vertex AI". This is turn 1 of our conversation.',
        "path: /ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent",
        "model: projects/my-project/locations/us-central1/publishers/google/models/",
    ],
    "many_sessions": ["20 callers answered 3 times each, over 20 connections"],
    "ephemeral_token": [
        'I heard: "Hello with a token". This is turn 1 of our conversation.',
        "BidiGenerateContentConstrained",
    ],
}


def test_every_example_is_checked() -> None:
    programs = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("test_")}
    assert programs == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_example_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = _load(EXAMPLES / f"{name}.py")
    threshold = gc.get_threshold()
    try:
        with trio.fail_after(30):
            await module.main()
    finally:
        # many_sessions tunes the collector process-wide, as a server would: undo it here.
        gc.unfreeze()
        gc.set_threshold(*threshold)
    out = capsys.readouterr().out
    position = 0
    for expected in EXPECTED[name]:  # in this order
        found = out.find(expected, position)
        assert found >= 0, f"{expected!r} not in the output (after {position}):\n{out}"
        position = found + len(expected)


def test_testing_howto_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(EXAMPLES / "test_my_app.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "the README has exactly one Python example"
    return str(blocks[0])


async def test_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    source = _readme_example()
    assert len(source.splitlines()) <= 30
    # The example ends with trio.run(main); run main() in this test's own Trio run instead.
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(source.replace("trio.run(main)", ""), "README.md", "exec"), namespace)
    with trio.fail_after(30):
        await namespace["main"]()  # type: ignore[operator]
    assert 'I heard: "Hello!". This is turn 1 of our conversation.' in capsys.readouterr().out


def _diagram() -> ModuleType:
    return _load(DOCS / "_ext" / "status_diagram.py")


def test_status_diagram_has_one_edge_per_transition() -> None:
    diagram = _diagram()
    svg = diagram.render_svg()
    pairs = re.findall(r'class="edge" data-from="(\w+)" data-to="(\w+)"', svg)
    expected = {(a.name, b.name) for a, targets in TRANSITIONS.items() for b in targets}
    assert len(pairs) == sum(len(t) for t in TRANSITIONS.values())
    assert set(pairs) == expected
    assert len(re.findall(r'class="state"', svg)) == len(Status)


def test_status_diagram_follows_the_table() -> None:
    # A different table gives a different drawing: the picture is not a fixed asset.
    diagram = _diagram()
    smaller: dict[Status, frozenset[Status]] = {s: frozenset() for s in Status}
    smaller[Status.CLOSING] = frozenset({Status.CLOSED})
    svg = diagram.render_svg(smaller)
    assert re.findall(r'class="edge" data-from="(\w+)" data-to="(\w+)"', svg) == [
        ("CLOSING", "CLOSED")
    ]
    rst = diagram.render_rst(smaller)
    assert "``CLOSED``" in rst and "nothing (terminal)" in rst


def test_benchmark_tables_convert() -> None:
    bench = _load(DOCS / "_ext" / "bench_results.py")
    markdown = "Intro `x`.\n\n| a | n |\n|---|---:|\n| one | 1.5 |\n| two | 3 |\n"
    blocks = bench.parse_markdown(markdown)
    assert blocks == ["Intro `x`.", [["a", "n"], ["one", "1.5"], ["two", "3"]]]
    rst = bench.to_rst(blocks, "/x.svg")
    assert "Intro ``x``." in rst and ".. list-table::" in rst and ".. image:: /x.svg" in rst
    svg = bench.bar_chart(blocks[1])
    assert svg is not None and svg.count('class="bar"') == 2


@pytest.mark.skipif(importlib.util.find_spec("sphinx") is None, reason="needs sphinx (.[docs])")
def test_sphinx_build_has_no_warnings(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(DOCS), str(tmp_path / "html")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "html" / "explanation" / "lifecycle.html").exists()
