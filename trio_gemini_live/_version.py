"""The package's version: the one source (issue 16).

setuptools reads ``__version__`` from this file without importing the package
(``[tool.setuptools.dynamic]`` in pyproject.toml); ``trio_gemini_live.__version__``, the
``User-Agent`` header, the CLI's ``--version`` and the docs (docs/conf.py) all read it here.
Keep it a plain string literal: setuptools parses it statically.
"""

__version__ = "0.1.0"
