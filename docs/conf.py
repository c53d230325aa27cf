"""Sphinx configuration for the trio-gemini-live documentation.

Built with warnings as errors (``nox -s docs``). No network access: intersphinx is off.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the package, also when it is not installed

# The version's one source (issue 16), also read by the build and the CLI.
from trio_gemini_live._version import __version__  # noqa: E402

project = "trio-gemini-live"
author = "trio-gemini-live developers"
copyright = "trio-gemini-live developers"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "status_diagram",  # writes _generated/status.svg and transitions.rst from TRANSITIONS
    "bench_results",  # writes _generated/bench/ from benchmarks/results/*.md
]

source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "examples", "_ext", "_generated"]
templates_path: list[str] = []

# Google-style docstrings everywhere (STYLE.md).
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Types only for the parameters a docstring describes: "on_*" is described once for nine
# handlers, which must not be listed again without descriptions.
autodoc_typehints_description_target = "documented_params"
autodoc_typehints_format = "short"
# The constructor's signature on the class line, not as a separate "__init__" entry.
autodoc_class_signature = "mixed"
# Bases only where they say something: the exceptions ask for them (reference/api.rst).
autodoc_default_options = {"members": True}

# Furo (issue 14): a wide, responsive layout. The default theme's narrow column cut off
# code blocks and tables; _static/custom.css widens Furo's column to the examples' 100
# characters where the window has room.
html_theme = "furo"
html_title = f"trio-gemini-live {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navigation_with_keys": True,
}


# Classes users never construct (or a Protocol): their signature would only list internals.
_NO_SIGNATURE = frozenset({"trio_gemini_live.LiveSession", "trio_gemini_live.Auth"})


def _process_signature(
    app: Any, what: str, name: str, obj: Any, options: Any, signature: str | None,
    return_annotation: str | None,
) -> tuple[str | None, str | None] | None:
    if name in _NO_SIGNATURE:
        return "", return_annotation
    if signature and "<object object>" in signature:
        # A keyword's "not given" sentinel (open_live_session's reconnect): say what it is.
        return signature.replace("<object object>", "<default>"), return_annotation
    return None


# Property and attribute docstrings as written: napoleon reads their first line "A text:
# more" as "type: text", which garbled "The latest resumable handle: pass it as ..." into
# "Type: The latest ..." (issue 14). Their types come from annotations here, never from
# docstrings (STYLE.md), and napoleon does nothing else with them, so its output is
# replaced by the docstring it was given. (Attributes listed in a class docstring's
# "Attributes:" section are part of the class's docstring, still napoleon's.)
_PROPERTY_LINES: dict[str, list[str]] = {}


def _keep_property_lines(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    if what in ("property", "attribute"):
        _PROPERTY_LINES[name] = list(lines)


def _restore_property_lines(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    if what in ("property", "attribute") and name in _PROPERTY_LINES:
        lines[:] = _PROPERTY_LINES.pop(name)


def setup(app: Any) -> None:
    app.connect("autodoc-process-signature", _process_signature)
    # Around napoleon's own handler (priority 500).
    app.connect("autodoc-process-docstring", _keep_property_lines, priority=100)
    app.connect("autodoc-process-docstring", _restore_property_lines, priority=900)
