"""Draw the session's status machine from ``trio_gemini_live._protocol.TRANSITIONS``.

A small Sphinx extension: when the build starts it writes ``_generated/status.svg`` (the
states as boxes, one arrow per legal transition) and ``_generated/transitions.rst`` (the
same table in words), so the pictures in the docs cannot drift from the code. Graphviz is
not needed: the six states have a fixed layout, and each arrow is a quadratic curve bent to
its right, so that the two directions between a pair of states never overlap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from trio_gemini_live._protocol import TRANSITIONS, Status

# Where each state's box is centred (SVG user units). The happy path runs along the top
# row; the ways out (closing) are below it.
LAYOUT: Mapping[Status, tuple[float, float]] = {
    Status.DISCONNECTED: (110.0, 70.0),
    Status.CONNECTING: (320.0, 70.0),
    Status.SETUP_PENDING: (530.0, 70.0),
    Status.READY: (740.0, 70.0),
    Status.CLOSING: (215.0, 300.0),
    Status.CLOSED: (640.0, 300.0),
}
BOX_W, BOX_H = 150.0, 40.0
WIDTH, HEIGHT = 850.0, 390.0
BEND = 0.18  # the control point's offset, as a fraction of the arrow's length


def edges(table: Mapping[Status, frozenset[Status]] = TRANSITIONS) -> list[tuple[Status, Status]]:
    """Every transition of ``table`` as a ``(source, target)`` pair, in a stable order."""
    order = list(Status)
    return [
        (source, target)
        for source in order
        for target in sorted(table[source], key=order.index)
    ]


def _box_exit(centre: tuple[float, float], toward: tuple[float, float]) -> tuple[float, float]:
    """Where the ray from ``centre`` toward ``toward`` leaves the state's box."""
    (cx, cy), (tx, ty) = centre, toward
    dx, dy = tx - cx, ty - cy
    scale = min(
        (BOX_W / 2) / abs(dx) if dx else math.inf,
        (BOX_H / 2) / abs(dy) if dy else math.inf,
    )
    return cx + dx * scale, cy + dy * scale


def _edge_path(source: Status, target: Status) -> str:
    (x1, y1), (x2, y2) = LAYOUT[source], LAYOUT[target]
    length = math.hypot(x2 - x1, y2 - y1)
    # The normal to the right of the direction of travel (SVG's y axis points down).
    nx, ny = -(y2 - y1) / length, (x2 - x1) / length
    control = ((x1 + x2) / 2 + nx * BEND * length, (y1 + y2) / 2 + ny * BEND * length)
    sx, sy = _box_exit((x1, y1), control)
    ex, ey = _box_exit((x2, y2), control)
    return f"M {sx:.1f} {sy:.1f} Q {control[0]:.1f} {control[1]:.1f} {ex:.1f} {ey:.1f}"


def render_svg(table: Mapping[Status, frozenset[Status]] = TRANSITIONS) -> str:
    """The status machine as a standalone SVG document: one ``<path class="edge">`` per
    transition of ``table``, one ``<g class="state">`` per state."""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" '
        f'width="{WIDTH:.0f}" height="{HEIGHT:.0f}" font-family="sans-serif" font-size="14">',
        "<title>Session status machine (generated from TRANSITIONS)</title>",
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
        "markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\">"
        "<path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#444\"/></marker></defs>",
        f'<rect width="{WIDTH:.0f}" height="{HEIGHT:.0f}" fill="white"/>',
    ]
    for source, target in edges(table):
        out.append(
            f'<path class="edge" data-from="{source.name}" data-to="{target.name}" '
            f'd="{_edge_path(source, target)}" fill="none" stroke="#444" '
            'stroke-width="1.5" marker-end="url(#arrow)"/>'
        )
    for state in Status:
        cx, cy = LAYOUT[state]
        terminal = not table[state]
        fill = "#e8f4e8" if state is Status.READY else "#f7f7f7"
        out.append(f'<g class="state" data-state="{state.name}">')
        out.append(
            f'<rect x="{cx - BOX_W / 2:.1f}" y="{cy - BOX_H / 2:.1f}" width="{BOX_W:.0f}" '
            f'height="{BOX_H:.0f}" rx="8" fill="{fill}" stroke="#222" '
            f'stroke-width="{3 if terminal else 1.5}"/>'
        )
        out.append(
            f'<text x="{cx:.1f}" y="{cy + 5:.1f}" text-anchor="middle">'
            f"{escape(state.name)}</text></g>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render_rst(table: Mapping[Status, frozenset[Status]] = TRANSITIONS) -> str:
    """The transition table as a reStructuredText list table (one row per state)."""
    lines = [
        ".. list-table:: Legal transitions (generated from ``TRANSITIONS``)",
        "   :header-rows: 1",
        "",
        "   * - from",
        "     - may move to",
    ]
    order = list(Status)
    for state in order:
        targets = sorted(table[state], key=order.index)
        moves = ", ".join(f"``{t.name}``" for t in targets) or "nothing (terminal)"
        lines += [f"   * - ``{state.name}``", f"     - {moves}"]
    return "\n".join(lines) + "\n"


def write_files(directory: Path) -> None:
    """Write ``status.svg`` and ``transitions.rst`` into ``directory`` (if they changed)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in (("status.svg", render_svg()), ("transitions.rst", render_rst())):
        path = directory / name
        # Rewriting an unchanged file would make Sphinx rebuild every page including it.
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def _on_builder_inited(app: Any) -> None:
    write_files(Path(app.srcdir) / "_generated")


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point."""
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
