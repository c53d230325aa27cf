"""Turn the benchmark results (``benchmarks/results/*.md``) into documentation pages.

The benchmark scripts write small Markdown files: paragraphs and pipe tables. At build time
this extension converts each into reStructuredText (``_generated/bench/NAME.rst``, tables as
list tables) and draws the first table's numeric columns as a horizontal bar chart
(``_generated/bench/NAME.svg``), so the pages always show the latest committed results.
``_generated/bench/index.rst`` includes them all, in name order.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

Table = list[list[str]]
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")


def parse_markdown(text: str) -> list[str | Table]:
    """Split ``text`` into paragraphs (str) and pipe tables (rows of cells, header first)."""
    blocks: list[str | Table] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
        elif line.startswith("|"):
            rows: Table = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-+:?", c) for c in cells):  # the |---| rule
                    rows.append(cells)
                i += 1
            blocks.append(rows)
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith("|"):
                para.append(lines[i].strip())
                i += 1
            blocks.append(" ".join(para))
    return blocks


def _inline(text: str) -> str:
    """Markdown inline markup to reST: ``**bold**`` and ```code```."""
    text = re.sub(r"\*\*(.+?)\*\*", r"**\1**", text)
    return re.sub(r"(?<!`)`([^`]+)`(?!`)", r"``\1``", text)


def to_rst(blocks: list[str | Table], image: str | None) -> str:
    """reStructuredText for the parsed blocks; ``image`` is shown after the first table."""
    out: list[str] = []
    shown = False
    for block in blocks:
        if isinstance(block, str):
            out += [_inline(block), ""]
            continue
        out += [".. list-table::", "   :header-rows: 1", ""]
        for row in block:
            out.append(f"   * - {_inline(row[0]) or ' '}")
            out += [f"     - {_inline(cell) or ' '}" for cell in row[1:]]
        out.append("")
        if image and not shown:
            out += [f".. image:: {image}", "   :alt: The table above as a bar chart.", ""]
            shown = True
    return "\n".join(out) + "\n"


def bar_chart(table: Table) -> str | None:
    """A horizontal grouped bar chart (SVG) of the numeric columns of ``table``, or None."""
    header, rows = table[0], table[1:]
    columns = [
        j for j in range(1, len(header))
        if rows and all(_NUMBER.match(r[j].replace(",", "")) for r in rows if j < len(r))
    ]
    if not columns:
        return None
    bar_h, gap, left, width = 18, 14, 260, 760
    plot_w = width - left - 80
    height = 40 + len(columns) * (len(rows) * bar_h + gap + 22)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    y = 20
    for j in columns:
        values = [float(r[j].replace(",", "")) for r in rows]
        top = max(values) or 1.0
        out.append(f'<text x="10" y="{y + 12}" font-weight="bold">{escape(header[j])}</text>')
        y += 22
        for k, (row, value) in enumerate(zip(rows, values, strict=True)):
            w = plot_w * value / top
            out.append(f'<text x="{left - 8}" y="{y + 13}" text-anchor="end">'
                       f"{escape(row[0])}</text>")
            out.append(f'<rect class="bar" x="{left}" y="{y}" width="{w:.1f}" '
                       f'height="{bar_h - 4}" fill="{_COLOURS[k % len(_COLOURS)]}"/>')
            out.append(f'<text x="{left + w + 6:.1f}" y="{y + 12}">{escape(row[j])}</text>')
            y += bar_h
        y += gap
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_pages(results: Path, directory: Path) -> list[str]:
    """Convert every ``results/*.md`` into ``directory``; returns the page names written."""
    directory.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    for md in sorted(results.glob("*.md")):
        blocks = parse_markdown(md.read_text(encoding="utf-8"))
        tables = [b for b in blocks if not isinstance(b, str)]
        svg = bar_chart(tables[0]) if tables else None
        if svg is not None:
            _write(directory / f"{md.stem}.svg", svg)
        image = f"/_generated/bench/{md.stem}.svg" if svg else None
        _write(directory / f"{md.stem}.rst", to_rst(blocks, image))
        names.append(md.stem)
    # Absolute (source-root) paths: an include inside an include resolves relative paths
    # against the top-level document, not against this directory.
    index = [f".. include:: /_generated/bench/{name}.rst\n" for name in names]
    # Plots the benchmark scripts draw themselves (run_all.py writes bench.svg).
    for plot in sorted(results.glob("*.svg")):
        _write(directory / f"plot-{plot.name}", plot.read_text(encoding="utf-8"))
        index.append(f".. image:: /_generated/bench/plot-{plot.name}\n"
                     f"   :alt: {plot.stem} (from benchmarks/results)\n")
    index = index or [
        "No benchmark results are committed yet: run ``nox -s bench``.\n"
    ]
    _write(directory / "index.rst", "\n".join(index))
    return names


def _write(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _on_builder_inited(app: Any) -> None:
    src = Path(app.srcdir)
    write_pages(src.parent / "benchmarks" / "results", src / "_generated" / "bench")


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point."""
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
