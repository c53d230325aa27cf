"""The documentation's promises: its examples run, its diagram matches the code, it builds.

* every ``docs/examples/*.py`` program runs against the emulator and prints what the pages
  say it prints;
* ``docs/examples/test_my_app.py`` (the testing how-to) passes under pytest;
* the README's Python snippets run as they are: its example program, and its testing
  snippet as a test file of another project;
* the status diagram has exactly one arrow per transition of ``TRANSITIONS``;
* the Sphinx build passes with warnings as errors, and its pages hold none of the faults
  found by looking at them (issue 14); so do the doctests. Sphinx and Furo come with the
  ``test`` extra: never skipped (issue 16). The lines starting with ``[docs]`` are printed
  to the terminal even under ``pytest -q``, CI's record that the docs were built.
"""

from __future__ import annotations

import gc
import html as html_module
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import trio

from trio_gemini_live._protocol import TRANSITIONS, Status
from trio_gemini_live._version import __version__

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
        "model calls: [('get_weather', {'city': 'Paris'})]",
        # 3.8 runs tools asynchronously: a turn saying so, then the result's own turn.
        "model said: I started get_weather in the background.",
        'model said: The result of get_weather is {"output": {"celsius": 21.0}}.',
    ],
    "phone_agent": [
        # The keypad digits sent as text make the model call the tool with them.
        "tool call: look_up_order({'order_number': '4711'})",
        # Latency of the turn that answered the text, on the client's clock.
        "turn metrics: first audio ",
        " ms after the user's turn (text)",
        # The caller talked over the result: Interrupted, the playback flushed.
        "barge-in: the caller heard ",
        " s flushed",
        "turn metrics: no user turn before it, interrupted",
        # aclose(finish_turn=...) once the goodbye is under way; the session closes only
        # after the goodbye's TurnComplete (SessionClosed comes after it in events()).
        "the caller said goodbye: hanging up after this turn",
        "goodbye generated (TurnComplete)",
        "turn metrics: first audio ",
        "session closed, ",
        "latency over 3 turns: first audio p50 0.",
        " s, p95 0.",
        " s; stalls: 0",
        # The conversation record: who said what, tool call and result, the cut turn.
        "conversation:\n"
        "  user: The caller typed order number 4711 on the keypad: look_up_order.\n"
        "  model: calls look_up_order({'order_number': '4711'})\n"
        "  tool: look_up_order -> {'output': {'status': 'out for delivery', 'eta': '18:30'}}\n"
        "  model: I started look_up_order in the background.\n"
        "  model (cut): The result of",
        "  user: Great, thanks. Bye!\n"
        '  model: I heard: "Great, thanks. Bye!". This is turn 2 of our conversation.\n',
        # The line closes once the goodbye was played to the caller.
        "line closed: the caller heard the whole goodbye",
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


def _readme_snippets() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [str(block) for block in re.findall(r"```python\n(.*?)```", text, flags=re.S)]


def _readme_program() -> str:
    (program,) = [s for s in _readme_snippets() if "trio.run(main)" in s]
    return program


def _readme_test_file() -> str:
    (test_file,) = [s for s in _readme_snippets() if re.search(r"^async def test_", s, re.M)]
    return test_file


def test_every_readme_snippet_is_run() -> None:
    # Each Python block is a program (run below) or a test file (run by pytest below).
    snippets = _readme_snippets()
    assert len(snippets) == 2
    assert set(snippets) == {_readme_program(), _readme_test_file()}
    # Fenced blocks without a language would escape these checks (issue 14: the testing
    # snippet had no imports and no "python" tag).
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    untagged = [b for b in re.findall(r"```(\w*)\n(.*?)```", text, flags=re.S) if not b[0]]
    assert untagged == []


async def test_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    source = _readme_program()
    assert len(source.splitlines()) <= 32
    # The example ends with trio.run(main); run main() in this test's own Trio run instead.
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(source.replace("trio.run(main)", ""), "README.md", "exec"), namespace)
    with trio.fail_after(30):
        await namespace["main"]()  # type: ignore[operator]
    out = capsys.readouterr().out
    # The whole answer on one line, and the line ended (issue 14: no final newline).
    assert out == 'I heard: "Hello!". This is turn 1 of our conversation.\n'


def test_readme_test_file_passes_as_is(tmp_path: Path) -> None:
    # Saved as a file of another project (no configuration of ours: no trio_mode) and run
    # by pytest, the plugin found through the installed package's entry point.
    (tmp_path / "test_hello.py").write_text(_readme_test_file(), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_hello.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


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
    rst = bench.to_rst(blocks, "/x.svg", "Title")
    assert rst.startswith("Title\n-----\n")
    assert "Intro ``x``." in rst and ".. list-table::" in rst and ".. image:: /x.svg" in rst
    svg = bench.bar_chart(blocks[1])
    assert svg is not None and svg.count('class="bar"') == 2


def test_a_markdown_heading_becomes_the_section_title() -> None:
    # Issue 14: "# Codec benchmark" showed as a literal paragraph.
    bench = _load(DOCS / "_ext" / "bench_results.py")
    blocks = bench.parse_markdown("# Codec benchmark\n\nText.\n\n## Details\nMore.\n")
    assert blocks == [(1, "Codec benchmark"), "Text.", (2, "Details"), "More."]
    rst = bench.to_rst(blocks, None, "Ignored: the file has its own")
    assert rst.startswith("Codec benchmark\n---------------\n\nText.")
    assert "Details\n~~~~~~~\n" in rst and "# " not in rst and "Ignored" not in rst


def test_the_chart_draws_measurements_not_inputs() -> None:
    # Issue 14: the codec chart drew its "PCM bytes" input column as a result.
    bench = _load(DOCS / "_ext" / "bench_results.py")
    table = [["operation", "PCM bytes", "ours (us)", "SDK (us)", "SDK/ours"],
             ["encode", "3,200", "2.02", "35.00", "17.3x"],
             ["encode", "32,000", "17.99", "115.54", "6.4x"]]
    assert bench.chart_columns(table) == ([0, 1], [2, 3])
    svg = bench.bar_chart(table)
    assert svg is not None
    assert "PCM bytes" not in svg and "ours (us)" in svg and "SDK (us)" in svg
    assert svg.count('class="bar"') == 4
    assert "encode · 3,200" in svg and "encode · 32,000" in svg  # the rows stay apart
    # Without a unit in any header, every numeric column after the first is measured.
    assert bench.chart_columns([["client", "send", "receive"], ["a", "1", "2"]]) == (
        [0], [1, 2])


def test_the_committed_results_chart_no_input_column() -> None:
    bench = _load(DOCS / "_ext" / "bench_results.py")
    for md in sorted((ROOT / "benchmarks" / "results").glob("*.md")):
        tables = [b for b in bench.parse_markdown(md.read_text(encoding="utf-8"))
                  if isinstance(b, list)]
        if not tables:
            continue
        header = tables[0][0]
        _, charted = bench.chart_columns(tables[0])
        assert charted, md.name
        assert not {"PCM bytes", "sessions"} & {header[j] for j in charted}, md.name


def html_text(page: str) -> str:
    """The text of an HTML page, tags removed and entities decoded."""
    return html_module.unescape(re.sub(r"<[^>]+>", "", page))


def _sphinx(builder: str, out: Path) -> None:
    """``sphinx-build -W --keep-going -b BUILDER`` as ``nox -s docs`` runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder,
         str(DOCS), str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr  # -W: a warning fails


def _say(capsys: pytest.CaptureFixture[str], text: str) -> None:
    with capsys.disabled():
        print(f"\n[docs] {text}", flush=True)


@pytest.mark.artifacts  # .ci/run: on python3 only
def test_sphinx_build_has_no_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html = tmp_path / "html"
    _sphinx("html", html)
    # Every page was built (issue 16).
    sources = [
        p.relative_to(DOCS).with_suffix(".html")
        for p in DOCS.rglob("*.rst")
        if not {"_build", "_generated"} & set(p.relative_to(DOCS).parts)
    ]
    assert Path("explanation/lifecycle.html") in sources
    assert [page for page in sources if not (html / page).exists()] == []
    # What a -W build does not catch, found by looking at the pages (issue 14):
    bench = (html / "benchmarks.html").read_text(encoding="utf-8")
    assert "<p># " not in bench  # a Markdown heading left as text
    for page in sorted((html / "reference").glob("*.html")):
        text = page.read_text(encoding="utf-8")
        # A "Type:" field holds a type, never the start of a sentence napoleon split off a
        # docstring's first line ("Type: The latest resumable handle").
        for value in re.findall(r">Type<.*?<dd[^>]*>(.*?)</dd>", text, flags=re.S):
            plain = re.sub(r"<[^>]+>", "", value).strip()
            assert not re.match(r"[A-Z][a-z]+ [a-z]+ ", plain), (page.name, plain)
        # A sentinel default shown as its repr (open_live_session's reconnect).
        assert "object object" not in html_text(text), page.name
    # The docs carry the package's version from its one source (_version.py, issue 16).
    title = re.search(r"<title>(.*?)</title>", (html / "index.html").read_text(encoding="utf-8"))
    assert title and f"trio-gemini-live {__version__}" in title.group(1)
    policy = (html / "explanation" / "versioning.html").read_text(encoding="utf-8")
    assert "DeprecationWarning" in html_text(policy)
    _say(capsys, f"sphinx-build -W -b html: {len(sources)} pages built with no warnings "
                 f"(trio-gemini-live {__version__})")


@pytest.mark.artifacts  # .ci/run: on python3 only
def test_sphinx_doctests_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "doctest"
    _sphinx("doctest", out)
    report = (out / "output.txt").read_text(encoding="utf-8")
    summary = re.search(r"^\s*(\d+) tests?\n\s*(\d+) failures? in tests$", report, flags=re.M)
    assert summary, report
    tests, failures = int(summary.group(1)), int(summary.group(2))
    assert tests > 0 and failures == 0, report
    _say(capsys, f"sphinx-build -W -b doctest: {tests} doctests passed, {failures} failed")
