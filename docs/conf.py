"""Sphinx configuration for the trio-gemini-live documentation.

Built with warnings as errors (``nox -s docs``). No network access: intersphinx is off.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the package, also when it is not installed

from trio_gemini_live import __version__  # noqa: E402

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
autodoc_typehints_format = "short"
autodoc_class_signature = "separated"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "alabaster"
html_title = f"trio-gemini-live {release}"
html_static_path: list[str] = []
html_theme_options = {
    "description": "A Trio-native client for the Gemini Live API",
    "fixed_sidebar": True,
}

doctest_global_setup = "import trio\nimport trio_gemini_live\n"
