"""The CI sessions (STYLE.md): tests, lint, typecheck, docs, build, and bench on demand."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs", "build"]
nox.options.reuse_existing_virtualenvs = True

# The Python versions the package claims (its classifiers) and .ci/run tests;
# tests/test_package.py checks that the three lists agree.
PYTHONS = ["3.11", "3.12", "3.13"]
HERE = Path(__file__).parent


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite (including the doc examples and the referee SDK interop tests)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the package, the tests, the benchmarks and the doc examples."""
    session.install("ruff")
    session.run("ruff", "check", "trio_gemini_live", "tests", "benchmarks", "docs", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict as configured in pyproject.toml, plus the doc examples."""
    session.install("-e", ".[test]", "mypy")
    session.run("mypy")
    session.run("mypy", "--strict", "docs/examples")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML docs with warnings as errors, and run the doctests."""
    session.install("-e", ".[docs]")
    for builder in ("html", "doctest"):
        session.run(
            "sphinx-build", "-W", "--keep-going", "-b", builder, "docs", f"docs/_build/{builder}"
        )


@nox.session
def build(session: nox.Session) -> None:
    """Build the sdist and the wheel into dist/, check them with twine, and try the wheel.

    The wheel is installed into a fresh venv outside the checkout, which runs
    ``python -m trio_gemini_live demo`` there and imports every public module (every module
    with no underscore in its name), as tests/test_package.py does in the test suite.
    """
    session.install("build", "twine>=6.1")
    dist = HERE / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    # PYTHONDONTWRITEBYTECODE makes setuptools print a note about byte-compiling: unset it,
    # so that any line of warning in the output is about the package.
    session.run("python", "-m", "build", "--outdir", str(dist), str(HERE),
                env={"PYTHONDONTWRITEBYTECODE": None})
    session.run("twine", "check", "--strict", *sorted(str(p) for p in dist.iterdir()))

    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        modules = sorted(
            name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
            for name in archive.namelist()
            if name.startswith("trio_gemini_live/") and name.endswith(".py")
        )
    public = [m for m in modules if not any(part.startswith("_") for part in m.split("."))]
    outside = Path(tempfile.mkdtemp(prefix="trio-gemini-live-wheel-"))
    try:
        python = str(outside / "venv" / "bin" / "python")
        session.run("python", "-m", "venv", str(outside / "venv"))
        session.run(python, "-m", "pip", "install", "-q", str(wheel), external=True)
        session.run(python, "-m", "pip", "check", external=True)
        with session.chdir(outside):
            session.run(python, "-m", "trio_gemini_live", "demo", external=True)
            imports = "; ".join(f"import {m}" for m in public)
            session.run(python, "-c", f"{imports}; print('imported', {', '.join(public)!r})",
                        external=True)
    finally:
        shutil.rmtree(outside, ignore_errors=True)


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks (``benchmarks/run_all.py``; ``nox -s bench -- --quick``).

    Results go to benchmarks/results/, which the docs' benchmark page shows.
    """
    session.install("-e", ".[test,audio]")
    session.run("python", str(HERE / "benchmarks" / "run_all.py"), *session.posargs)
