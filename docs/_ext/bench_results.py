"""Turn the benchmark results (``benchmarks/results/*.md``) into documentation pages.

The benchmark scripts write small Markdown files: an optional ``#`` heading, paragraphs and
pipe tables. At build time this extension converts each into reStructuredText
(``_generated/bench/NAME.rst``: a section per file, tables as list tables) and draws the
measurements of the file's first table as a horizontal bar chart
(``_generated/bench/NAME.svg``), so the pages always show the latest committed results.
``_generated/bench/index.rst`` includes them all: the plots the scripts draw themselves
first, then the files in the order of ``ORDER`` (others after, by name).

Which columns are charted (issue 14: the codec chart drew its "PCM bytes" input column as a
result): the numeric columns whose header names a unit in parentheses, as measurements do
(``ours (us)``, ``p99 latency (ms)``); when no header does, every numeric column after the
first. The columns before the first charted one are the parameters of a row, and together
label its bar (``encode realtimeInput audio · 3,200``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

Table = list[list[str]]
Heading = tuple[int, str]  # (level, text): "# Title" is (1, "Title")
Block = str | Table | Heading

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_UNIT = re.compile(r"\([^)]*\)")
_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")

#: The order of the sections on the page (the bullet list of docs/benchmarks.rst).
ORDER = ("cpu", "scale", "import", "resume", "codec")
#: Section titles for results files that have no ``#`` heading of their own.
TITLES = {
    "cpu": "Client CPU per message",
    "scale": "Many sessions in one process",
    "import": "Import time",
    "resume": "Resumption after goAway",
    "codec": "Codec: one message encoded and decoded",
}
# reST underline characters by level, below the page's own "=" title.
_UNDERLINES = "-~^\"'`"


def parse_markdown(text: str) -> list[Block]:
    """Split ``text`` into headings, paragraphs (str) and pipe tables (rows, header first)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        heading = _HEADING.match(line)
        if not line:
            i += 1
        elif heading is not None:
            blocks.append((len(heading.group(1)), heading.group(2)))
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
            while i < len(lines):
                current = lines[i].strip()
                if not current or current.startswith("|") or _HEADING.match(current):
                    break
                para.append(current)
                i += 1
            blocks.append(" ".join(para))
    return blocks


def _inline(text: str) -> str:
    """Markdown inline markup to reST: ``**bold**`` and ```code```."""
    text = re.sub(r"\*\*(.+?)\*\*", r"**\1**", text)
    return re.sub(r"(?<!`)`([^`]+)`(?!`)", r"``\1``", text)


def _title(text: str, level: int) -> list[str]:
    char = _UNDERLINES[min(level, len(_UNDERLINES)) - 1]
    return [text, char * len(text), ""]


def to_rst(blocks: list[Block], image: str | None, title: str | None = None) -> str:
    """reStructuredText for the parsed blocks; ``image`` is shown after the first table.

    ``title`` heads the section when the blocks start with no heading of their own; the
    first ``#`` heading is the section's title, deeper ones become subsections.
    """
    out: list[str] = []
    if title is not None and not (blocks and isinstance(blocks[0], tuple)):
        out += _title(title, 1)
    shown = False
    for block in blocks:
        if isinstance(block, tuple):
            out += _title(block[1], block[0])
            continue
        if isinstance(block, str):
            out += [_inline(block), ""]
            continue
        out += [".. list-table::", "   :header-rows: 1", "   :widths: auto",
                "   :class: bench", ""]
        for row in block:
            out.append(f"   * - {_inline(row[0]) or ' '}")
            out += [f"     - {_inline(cell) or ' '}" for cell in row[1:]]
        out.append("")
        if image and not shown:
            out += [f".. image:: {image}", "   :alt: The table's measurements as a bar chart.",
                    ""]
            shown = True
    return "\n".join(out) + "\n"


def _numeric(rows: Table, j: int) -> bool:
    return bool(rows) and all(_NUMBER.match(r[j].replace(",", "")) for r in rows if j < len(r))


def chart_columns(table: Table) -> tuple[list[int], list[int]]:
    """``(label columns, charted columns)`` of ``table`` (see the module docstring)."""
    header, rows = table[0], table[1:]
    numeric = [j for j in range(1, len(header)) if _numeric(rows, j)]
    charted = [j for j in numeric if _UNIT.search(header[j])] or numeric
    if not charted:
        return [0], []
    return list(range(charted[0])), charted


def bar_chart(table: Table) -> str | None:
    """A horizontal grouped bar chart (SVG) of the measurements in ``table``, or None."""
    header, rows = table[0], table[1:]
    labels_at, columns = chart_columns(table)
    if not columns:
        return None
    labels = [" · ".join(r[j] for j in labels_at if j < len(r)) for r in rows]
    bar_h, gap, width = 18, 14, 820
    left = min(440, 24 + int(6.6 * max(len(label) for label in labels)))
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
        for k, (label, row, value) in enumerate(zip(labels, rows, values, strict=True)):
            w = plot_w * value / top
            out.append(f'<text x="{left - 8}" y="{y + 13}" text-anchor="end">'
                       f"{escape(label)}</text>")
            out.append(f'<rect class="bar" x="{left}" y="{y}" width="{w:.1f}" '
                       f'height="{bar_h - 4}" fill="{_COLOURS[k % len(_COLOURS)]}"/>')
            out.append(f'<text x="{left + w + 6:.1f}" y="{y + 12}">{escape(row[j])}</text>')
            y += bar_h
        y += gap
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _page_order(stem: str) -> tuple[int, str]:
    return (ORDER.index(stem) if stem in ORDER else len(ORDER), stem)


def write_pages(results: Path, directory: Path) -> list[str]:
    """Convert every ``results/*.md`` into ``directory``; returns the page names written."""
    directory.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    for md in sorted(results.glob("*.md"), key=lambda p: _page_order(p.stem)):
        blocks = parse_markdown(md.read_text(encoding="utf-8"))
        tables = [b for b in blocks if isinstance(b, list)]
        svg = bar_chart(tables[0]) if tables else None
        if svg is not None:
            _write(directory / f"{md.stem}.svg", svg)
        image = f"/_generated/bench/{md.stem}.svg" if svg else None
        title = TITLES.get(md.stem, md.stem.replace("_", " ").capitalize())
        _write(directory / f"{md.stem}.rst", to_rst(blocks, image, title))
        names.append(md.stem)
    index: list[str] = []
    # Plots the benchmark scripts draw themselves (run_all.py writes bench.svg): a summary.
    plots = sorted(results.glob("*.svg"))
    if plots:
        index.append("\n".join(_title("Summary", 1)))
    for plot in plots:
        _write(directory / f"plot-{plot.name}", plot.read_text(encoding="utf-8"))
        index.append(f".. image:: /_generated/bench/plot-{plot.name}\n"
                     f"   :alt: {plot.stem} (from benchmarks/results)\n")
    # Absolute (source-root) paths: an include inside an include resolves relative paths
    # against the top-level document, not against this directory.
    index += [f".. include:: /_generated/bench/{name}.rst\n" for name in names]
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
