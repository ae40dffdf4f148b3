"""The peers' throwaway virtual environments.

Each peer gets its own environment, made with the interpreter the peer needs, holding
the peer (pinned) and this project's runtime dependencies (read from pyproject.toml),
so the worker runs Titan or Oracle from the repository (PYTHONPATH) beside the peer
under the same interpreter. Nothing is installed into the project's own environment.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]


class PeerEnv(NamedTuple):
    """One environment: its name, the Python it needs and what goes into it."""

    name: str
    python: str  # "3.12" for a given minor version, "" for the interpreter running us
    requirements: tuple[str, ...]


ENVS: dict[str, PeerEnv] = {
    e.name: e
    for e in (
        PeerEnv("matching-engine", "3.12", ("matching-engine==0.1.1",)),
        PeerEnv("pyorderbook", "", ("pyorderbook==0.4.9",)),
        PeerEnv("lightmatchingengine", "", ("lightmatchingengine==2019.1.4",)),
        PeerEnv("eventsourcing", "", ("eventsourcing==9.5.6",)),
    )
}


class EnvError(RuntimeError):
    """An environment could not be made; the message says which and why."""


def project_dependencies() -> list[str]:
    """The ``[project] dependencies`` of pyproject.toml."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def find_python(version: str) -> str:
    """An interpreter of ``version`` ("3.12"): pyenv's, else one on PATH that runs (a
    pyenv shim of a version not selected does not); EnvError if there is none."""
    if not version:
        return sys.executable
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"))
    on_path = shutil.which(f"python{version}")
    for candidate in [*reversed(candidates), *([on_path] if on_path else [])]:
        probe = subprocess.run(
            [candidate, "-c", "import sys, venv; print(sys.version_info[:2])"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if probe.returncode == 0 and probe.stdout.strip() == str(
            tuple(int(x) for x in version.split("."))
        ):
            return candidate
    raise EnvError(
        f"Python {version} is needed for a peer and was not found (looked in "
        f"{pyenv_root}/versions/{version}.* and for python{version} on PATH; "
        f"`pyenv install {version}` provides it)"
    )


def make_env(env: PeerEnv, parent: Path, log: Path) -> Path:
    """Create (or reuse, when complete) the environment under ``parent``; its python.

    Output of venv and pip goes to ``log``; a failure raises EnvError naming the step.
    """
    home = parent / env.name
    python = home / "bin" / "python"
    stamp = home / ".complete"
    wanted = "\n".join((*env.requirements, *project_dependencies()))
    if stamp.exists() and stamp.read_text() == wanted:
        return python
    shutil.rmtree(home, ignore_errors=True)
    steps = [
        [find_python(env.python), "-m", "venv", str(home)],
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
         *env.requirements, *project_dependencies()],
    ]  # fmt: skip
    with log.open("a") as out:
        for cmd in steps:
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
            done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
            if done.returncode != 0:
                raise EnvError(
                    f"{env.name}: `{' '.join(cmd[:4])} ...` failed (exit {done.returncode}); "
                    f"see {log}"
                )
    stamp.write_text(wanted)
    return python


def worker_env() -> dict[str, str]:
    """The environment a worker runs in: the repository importable, hashing fixed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONHASHSEED"] = "0"
    env.pop("VIRTUAL_ENV", None)
    return env
