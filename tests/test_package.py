"""What we ship (issue 16): the sdist and the wheel, their metadata, and the wheel installed.

* The package's metadata keeps its promises without a build: one version (``_version.py``)
  for the build, the CLI and the changelog; the Python classifiers are exactly the versions
  CI runs the suite on; the license is the unmodified Apache-2.0 text; the changelog keeps
  the Keep a Changelog shape.
* ``python -m build`` (from a copy of the checkout, so nothing is written into it) makes an
  sdist and a wheel with no warning at all: a deprecation in the build configuration fails
  here, not on the day setuptools stops accepting it.
* The sdist is the whole source tree (tests with their helpers, docs, benchmarks) plus
  LICENSE and NOTICE; the wheel is the package plus LICENSE and NOTICE, with metadata that
  says what pyproject.toml says.
* The wheel, installed into a fresh virtual environment (no checkout, no editable install),
  runs ``python -m trio_gemini_live demo`` from a directory outside the checkout, imports
  every public module from its site-packages, and its pytest plugin serves the testing
  how-to's tests.

The build and the installation need the package index (as ``pip install`` itself does). The
lines starting with ``[package]`` are printed to the terminal even under ``pytest -q``: they
are CI's record that the wheel was built, installed and demoed.
"""

from __future__ import annotations

import ast
import email.parser
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.message import Message
from pathlib import Path

import pytest

from trio_gemini_live import _cli
from trio_gemini_live._version import __version__

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]

# The public modules (docs/explanation/versioning.rst): every module of the package with no
# underscore in its dotted name. The wheel's contents are checked against this list, so a new
# public module has to be added here and to the policy page.
PUBLIC_MODULES = [
    "trio_gemini_live",
    "trio_gemini_live.audio",
    "trio_gemini_live.events",
    "trio_gemini_live.models",
    "trio_gemini_live.testing",
    "trio_gemini_live.tools",
    "trio_gemini_live.video",
    "trio_gemini_live.voice",
]

# sha256 of the Apache License 2.0 as the ASF publishes it (LICENSE-2.0.txt, also Debian's
# /usr/share/common-licenses/Apache-2.0): the text must ship whole and unmodified.
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"

CHANGELOG_SECTIONS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
REPOSITORY = "https://github.com/trio-gemini-live/trio-gemini-live"

# Copying the checkout for the build leaves out what is not source: version control, virtual
# environments, caches and build output (an sdist made from a developer's checkout must not
# depend on them).
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv*", ".nox", "build", "dist", "*.egg-info", "__pycache__", "*.py[cod]",
    "_build", "_generated", ".hypothesis", ".mypy_cache", ".ruff_cache", ".pytest_cache",
    "demo-reply.wav", "talk-reply.wav",  # what the CLI writes into the working directory
)


def _say(capsys: pytest.CaptureFixture[str], text: str) -> None:
    """Print a ``[package]`` line to the terminal, past pytest's capture (CI's log)."""
    with capsys.disabled():
        print(f"\n[package] {text}", flush=True)


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


# --- metadata that needs no build ----------------------------------------------------------


def test_the_version_has_one_source() -> None:
    assert "version" not in PROJECT and PROJECT["dynamic"] == ["version"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "trio_gemini_live._version.__version__"}
    # setuptools reads the attribute statically: it must stay a plain string literal.
    tree = ast.parse((ROOT / "trio_gemini_live" / "_version.py").read_text(encoding="utf-8"))
    literals = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
        and isinstance(node.value, ast.Constant)
    ]
    assert literals == [__version__]
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_cli_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"trio-gemini-live {__version__}\n"


def _classifier_pythons() -> list[str]:
    prefix = "Programming Language :: Python :: "
    found = [c.removeprefix(prefix) for c in PROJECT["classifiers"] if c.startswith(prefix)]
    return [v for v in found if re.fullmatch(r"3\.\d+", v)]


def test_python_classifiers_are_the_versions_ci_tests() -> None:
    # .ci/run runs the test suite on python3 (the README's command, Python 3.11) and then on
    # each of EXTRA_PYTHONS; nox's tests session covers the same list.
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    match = re.search(r'^EXTRA_PYTHONS="([^"]*)"$', ci, flags=re.M)
    assert match, ".ci/run names the extra Python versions in EXTRA_PYTHONS"
    minimum = PROJECT["requires-python"].removeprefix(">=")
    tested = [minimum, *match.group(1).split()]
    assert _classifier_pythons() == tested
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    nox_match = re.search(r"^PYTHONS = (\[.*?\])$", noxfile, flags=re.M)
    assert nox_match and ast.literal_eval(nox_match.group(1)) == tested
    assert "Programming Language :: Python :: 3 :: Only" in PROJECT["classifiers"]


def test_ci_runs_the_readme_commands_verbatim() -> None:
    # The README's first two commands (install and demo; install and test) are what a new
    # user types: CI runs both exactly as written.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```sh\n(.*?)\n```", readme, flags=re.S)[:2]
    assert commands[0].endswith(".venv/bin/pip install -q . && "
                                ".venv/bin/python -m trio_gemini_live demo")
    assert commands[1].endswith(".venv/bin/pip install -q -e '.[test]' && "
                                ".venv/bin/python -m pytest -q")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in commands:
        assert f"( {command} )" in ci or f"&& {command} )" in ci, command


def test_license_is_the_apache_2_text() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE", "NOTICE"]
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256
    notice = (ROOT / "NOTICE").read_text(encoding="utf-8")
    assert notice.startswith("trio-gemini-live\nCopyright ")
    assert "Apache License, Version 2.0" in notice


def test_project_urls_point_at_one_home() -> None:
    urls = PROJECT["urls"]
    assert set(urls) >= {"Documentation", "Source", "Issues", "Changelog"}
    assert urls["Source"] == REPOSITORY and urls["Issues"] == f"{REPOSITORY}/issues"
    assert urls["Changelog"] == f"{REPOSITORY}/blob/main/CHANGELOG.md"
    assert urls["Documentation"].startswith("https://")
    assert len(PROJECT["keywords"]) >= 5


def test_changelog_keeps_its_shape() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.*)$", text, flags=re.M)
    assert headings[0] == "[Unreleased]", "Unreleased comes first, for the next change"
    released: list[tuple[str, str]] = []
    for heading in headings[1:]:
        match = re.fullmatch(r"\[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})", heading)
        assert match, f"a release heading is '## [X.Y.Z] - YYYY-MM-DD', not {heading!r}"
        released.append((match.group(1), match.group(2)))
    assert released, "at least one release"
    versions = [_version_tuple(v) for v, _ in released]
    assert versions == sorted(versions, reverse=True) and len(set(versions)) == len(versions)
    dates = [d for _, d in released]
    assert dates == sorted(dates, reverse=True)
    # The package's version is the newest release written down (a release renames
    # Unreleased to the new version in the same commit as _version.py).
    assert released[0][0] == __version__
    sections = set(re.findall(r"^### (.*)$", text, flags=re.M))
    assert sections and sections <= CHANGELOG_SECTIONS, sections - CHANGELOG_SECTIONS
    # Every heading links to its changes.
    links = dict(re.findall(r"^\[([^\]]+)\]: (\S+)$", text, flags=re.M))
    assert links["Unreleased"] == f"{REPOSITORY}/compare/v{__version__}...HEAD"
    for version, _ in released:
        assert links[version].startswith(f"{REPOSITORY}/"), version


def test_versioning_policy_names_every_public_module() -> None:
    page = (ROOT / "docs" / "explanation" / "versioning.rst").read_text(encoding="utf-8")
    for module in PUBLIC_MODULES[1:]:
        assert f":mod:`{module}`" in page, module
    assert "``trio_gemini_live``" in page and "DeprecationWarning" in page
    index = (ROOT / "docs" / "index.rst").read_text(encoding="utf-8")
    assert "explanation/versioning" in index


# --- the sdist and the wheel ---------------------------------------------------------------


class Built:
    """What ``python -m build`` made from a copy of the checkout."""

    def __init__(self, source: Path, dist: Path, output: str) -> None:
        self.source = source
        self.output = output
        (self.sdist,) = dist.glob("*.tar.gz")
        (self.wheel,) = dist.glob("*.whl")


artifacts = pytest.mark.artifacts  # .ci/run: on python3 only (pyproject.toml's markers)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    base = tmp_path_factory.mktemp("package")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    env = dict(os.environ)
    # With PYTHONDONTWRITEBYTECODE set, setuptools prints "byte-compiling is disabled" (a
    # note about this environment, not about the package), which would hide the real check:
    # that the build prints no warning at all.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(base / "dist"), str(source)],
        cwd=base, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout
    return Built(source, base / "dist", result.stdout)


@artifacts
def test_build_prints_no_warning(built: Built, capsys: pytest.CaptureFixture[str]) -> None:
    # Warnings, and the notes setuptools prints without the word (a MANIFEST.in rule that
    # matched nothing).
    notes = re.compile(r"warn|no (previously-included )?(files|directories) found", re.I)
    warnings = [line for line in built.output.splitlines() if notes.search(line)]
    assert warnings == [], built.output
    with zipfile.ZipFile(built.wheel) as wheel:
        generator = _wheel_file(wheel, "WHEEL")["Generator"]  # "setuptools (84.2.1)"
    (done,) = [line for line in built.output.splitlines() if line.startswith("Successfully")]
    _say(capsys, f"python -m build, with {generator.replace(' (', ' ').rstrip(')')}: no "
                 f"warnings. {done}")


def _source_files(source: Path) -> set[str]:
    """The files the sdist must carry: the whole source tree (MANIFEST.in).

    Every file of these folders (the copy has no caches or build output), data included (the
    tests' recordings): a new kind of file needs its pattern in MANIFEST.in.
    """
    files = {"LICENSE", "NOTICE", "README.md", "CHANGELOG.md", "pyproject.toml", "noxfile.py",
             "MANIFEST.in"}
    for folder in ("trio_gemini_live", "tests", "docs", "benchmarks"):
        for path in (source / folder).rglob("*"):
            if path.is_file() and not path.name.startswith("."):  # not docs/.gitignore
                files.add(path.relative_to(source).as_posix())
    return files


@artifacts
def test_sdist_is_the_whole_source(built: Built) -> None:
    root = f"trio_gemini_live-{__version__}/"
    with tarfile.open(built.sdist) as sdist:
        names = {m.name.removeprefix(root) for m in sdist.getmembers() if m.isfile()}
        pkg_info = sdist.extractfile(f"{root}PKG-INFO")
        assert pkg_info is not None
        metadata = email.parser.BytesParser().parsebytes(pkg_info.read())
    missing = _source_files(built.source) - names
    assert missing == set()
    assert {"tests/conftest.py", "tests/fakeserver.py", "docs/conf.py", "LICENSE",
            "NOTICE", "CHANGELOG.md"} <= names
    assert not [n for n in names if "__pycache__" in n or "/_build/" in n or "/_generated/" in n]
    _check_metadata(metadata)


def _wheel_file(wheel: zipfile.ZipFile, name: str) -> Message:
    return email.parser.BytesParser().parsebytes(
        wheel.read(f"trio_gemini_live-{__version__}.dist-info/{name}")
    )


def _check_metadata(metadata: Message) -> None:
    """The core metadata says what pyproject.toml says (PEP 639 license fields included)."""
    assert _version_tuple(metadata["Metadata-Version"]) >= (2, 4)
    assert metadata["Name"] == PROJECT["name"]
    assert metadata["Version"] == __version__
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License") is None  # the deprecated field is gone
    assert metadata.get_all("License-File") == ["LICENSE", "NOTICE"]
    assert metadata["Requires-Python"] == PROJECT["requires-python"]
    assert metadata.get_all("Classifier") == PROJECT["classifiers"]
    assert metadata["Keywords"].split(",") == PROJECT["keywords"]
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    assert urls == PROJECT["urls"]
    requires = [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]
    assert requires == PROJECT["dependencies"]
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload().startswith("# trio-gemini-live")


@artifacts
def test_wheel_is_the_package_with_its_license(built: Built) -> None:
    dist_info = f"trio_gemini_live-{__version__}.dist-info/"
    with zipfile.ZipFile(built.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = _wheel_file(wheel, "METADATA")
        assert wheel.read(f"{dist_info}licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
        assert wheel.read(f"{dist_info}licenses/NOTICE") == (ROOT / "NOTICE").read_bytes()
        entry_points = wheel.read(f"{dist_info}entry_points.txt").decode()
    package = {
        p.relative_to(built.source).as_posix()
        for p in (built.source / "trio_gemini_live").rglob("*") if p.is_file()
    }
    assert "trio_gemini_live/py.typed" in package
    assert {n for n in names if not n.startswith(dist_info)} == package
    _check_metadata(metadata)
    assert "trio-gemini-live = trio_gemini_live._cli:main" in entry_points
    assert "trio_gemini_live = trio_gemini_live.testing._plugin" in entry_points
    modules = sorted(
        n.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for n in package if n.endswith(".py")
    )
    assert [m for m in modules if not any(p.startswith("_") for p in m.split("."))] == (
        PUBLIC_MODULES
    )


# Run inside the fresh environment: import every public module, check that it comes from
# that environment's site-packages and that its __all__ resolves; report what was found.
_IMPORT_CHECK = """
import importlib, importlib.metadata, json, sys, sysconfig
from pathlib import Path
site = Path(sysconfig.get_paths()["purelib"]).resolve()
found = {}
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    where = Path(module.__file__).resolve()
    assert where.is_relative_to(site), (name, str(where), str(site))
    missing = [n for n in getattr(module, "__all__", ()) if not hasattr(module, n)]
    assert not missing, (name, missing)
    found[name] = len(module.__all__)
from trio_gemini_live._auth import USER_AGENT
import trio_gemini_live
print(json.dumps({
    "modules": found,
    "site": str(site),
    "version": trio_gemini_live.__version__,
    "distribution": importlib.metadata.version("trio-gemini-live"),
    "user_agent": USER_AGENT,
    "pytest11": [e.value for e in importlib.metadata.entry_points(group="pytest11")],
}))
"""


@artifacts
def test_wheel_installs_and_runs_outside_the_checkout(
    built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    venv = tmp_path / "venv"
    outside = tmp_path / "elsewhere"  # an empty directory: nothing of the checkout on sys.path
    outside.mkdir()
    assert not outside.resolve().is_relative_to(ROOT)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSAFEPATH")}

    def run(*args: str | Path, timeout: float = 120) -> str:
        result = subprocess.run(
            [str(a) for a in args], cwd=outside, env=env, capture_output=True, text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", built.wheel, timeout=600)
    run(python, "-m", "pip", "check")
    _say(capsys, f"installed {built.wheel.name} into a fresh venv ({venv})")

    # The README's demo, from a directory outside the checkout.
    demo = run(python, "-m", "trio_gemini_live", "demo", timeout=300)
    assert "demo: reconnected and resumed the session" in demo
    assert "turn 4 of our conversation" in demo and "demo: done" in demo
    assert (outside / "demo-reply.wav").stat().st_size > 44
    last = demo.strip().splitlines()[-1]
    _say(capsys, f"python -m trio_gemini_live demo, run in {outside} (outside the "
                 f"checkout): ok ({len(demo.splitlines())} lines, last: {last.strip()!r})")

    report = json.loads(run(python, "-c", _IMPORT_CHECK, *PUBLIC_MODULES))
    assert sorted(report["modules"]) == PUBLIC_MODULES
    assert report["version"] == report["distribution"] == __version__
    assert report["user_agent"] == f"trio-gemini-live/{__version__}"
    assert report["pytest11"] == ["trio_gemini_live.testing._plugin"]
    assert run(venv / "bin" / "trio-gemini-live", "--version") == (
        f"trio-gemini-live {__version__}\n"
    )
    _say(capsys, f"imported {', '.join(PUBLIC_MODULES)} from {report['site']}")

    # The pytest plugin as a user gets it: the testing how-to's tests, with pytest-trio.
    run(python, "-m", "pip", "install", "-q", "pytest>=8", "pytest-trio>=0.8", timeout=600)
    shutil.copy(ROOT / "docs" / "examples" / "test_my_app.py", outside)
    tests = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "trio_mode=true",
                "test_my_app.py", timeout=300)
    assert "2 passed" in tests, tests
    _say(capsys, "the installed live_emulator pytest plugin ran the testing how-to: 2 passed")
