"""Shared benchmark plumbing: the server process, trustme certificates, result files."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PYTHON = sys.executable
MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
IN_CHUNK = 3200  # 100 ms of 16 kHz 16-bit mono PCM: the input chunk (PROTOCOL.md 5)


class Certificates:
    """A trustme CA and a ``127.0.0.1`` certificate, written as PEM files."""

    def __init__(self, directory: Path) -> None:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        self.ca = directory / "ca.pem"
        self.cert = directory / "cert.pem"
        self.key = directory / "key.pem"
        ca.cert_pem.write_to_path(str(self.ca))
        cert.cert_chain_pems[0].write_to_path(str(self.cert))
        for extra in cert.cert_chain_pems[1:]:
            extra.write_to_path(str(self.cert), append=True)
        cert.private_key_pem.write_to_path(str(self.key))


@contextlib.contextmanager
def certificates() -> Iterator[Certificates]:
    """Temporary trustme certificates, removed afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        yield Certificates(Path(directory))


@contextlib.contextmanager
def server(certs: Certificates | None = None) -> Iterator[tuple[int, int]]:
    """Run ``_server.py`` in another process; yields its port and process id."""
    command = [PYTHON, str(HERE / "_server.py")]
    if certs is not None:
        command += ["--cert", str(certs.cert), "--key", str(certs.key)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip():
            raise RuntimeError("the benchmark server did not start")
        yield int(line), process.pid
    finally:
        process.terminate()
        process.wait(10)


def run_json(command: list[str], timeout: float = 300, pythonpath: str | None = None) -> Any:
    """Run a client subprocess; its last stdout line is JSON.

    ``pythonpath``: the tree whose ``trio_gemini_live`` it imports (default: this one).
    """
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": pythonpath or str(HERE.parent)})
    if done.returncode != 0:
        raise RuntimeError(f"{command[1:3]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(values: list[float]) -> float:
    """The median (benchmarks report medians over rounds)."""
    return statistics.median(values)


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def command() -> str:
    """The command that is running, as the results name it (repository-relative)."""
    script = Path(sys.argv[0]).resolve()
    try:
        script_name = str(script.relative_to(HERE.parent))
    except ValueError:
        script_name = script.name
    return " ".join(["python", script_name, *sys.argv[1:]])


def write(name: str, data: dict[str, Any], table: str) -> None:
    """Write ``results/<name>.json`` and ``results/<name>.md`` (naming the command)."""
    RESULTS.mkdir(exist_ok=True)
    data = {"machine": machine(), "command": command(), **data}
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    table = table.rstrip() + f"\n\nProduced by `{command()}`.\n"
    (RESULTS / f"{name}.md").write_text(table)
    print(table)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
