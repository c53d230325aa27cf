"""The CI sessions (STYLE.md: CI runs exactly these): tests, lint, typecheck, docs, bench."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True

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
def bench(session: nox.Session) -> None:
    """Run the benchmarks (``benchmarks/run_all.py``; ``nox -s bench -- --quick``).

    Results go to benchmarks/results/, which the docs' benchmark page shows.
    """
    session.install("-e", ".[test,audio]")
    session.run("python", str(HERE / "benchmarks" / "run_all.py"), *session.posargs)
